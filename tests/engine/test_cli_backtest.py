"""``tradekit backtest`` as a user runs it: offline by default, its report, its files and its error messages."""

from __future__ import annotations

import base64
import csv
import json
import re
import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REAL_1M = "binance_BTC_USDT-1m_20240726-20240825.feather"
STATS = (
    "total_return_pct",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown_pct",
    "max_drawdown_duration",
    "profit_factor",
    "win_rate_pct",
    "trades",
    "exposure_pct",
    "fees_paid",
)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"the command tried to use the network: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def backtest_json(tradekit: Callable[..., Any], *args: str) -> dict[str, Any]:
    result = tradekit("backtest", "--strategy", "sma_cross", "--json", *args)
    assert result.exit_code == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def write_minutes(path: Path, minutes: list[int]) -> Path:
    """A CSV of 1m bars at the given minutes past 2024-03-01 00:00 UTC."""
    rows = ["date,open,high,low,close,volume"]
    for k, minute in enumerate(minutes):
        price = 100 + (k % 7) - (k % 5) * 0.5
        rows.append(f"2024-03-01T{minute // 60:02d}:{minute % 60:02d}:00Z,{price},{price + 1},{price - 1},{price},5")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_default_backtest_runs_offline_on_the_simulated_market_and_prints_the_stats(
    tradekit: Callable[..., Any], offline: None, workdir: Path
) -> None:
    result = tradekit("backtest", "--strategy", "sma_cross", "--no-files")
    assert result.exit_code == 0, result.stderr
    assert "sma_cross on SIM/USDT 1m, 20,000 bars from simulated:seed=7" in result.stdout
    for label in (
        "Total return",
        "Sharpe ratio",
        "Sortino ratio",
        "Calmar ratio",
        "Max drawdown",
        "Max drawdown duration",
        "Profit factor",
        "Win rate",
        "Trades",
        "Exposure",
        "Fees paid",
    ):
        assert label in result.stdout
    assert (workdir / "tradekit-journal.sqlite3").is_file()
    assert not (workdir / "tradekit-output").exists()


def test_json_holds_the_statistics_and_the_files_hold_the_trades_and_the_equity(
    tradekit: Callable[..., Any], workdir: Path
) -> None:
    report = backtest_json(tradekit, "--output", "out")
    stats = report["stats"]
    assert set(STATS) <= set(stats)
    for key in STATS:
        assert stats[key] is not None, key
    assert stats["trades"] > 0 and float(stats["fees_paid"]) > 0
    assert stats["max_drawdown_pct"] <= 0 and 0 <= stats["win_rate_pct"] <= 100
    assert report["bars"] == 20_000 and report["symbols"] == ["SIM/USDT"]

    files = {name: Path(path) for name, path in report["files"].items()}
    assert files["trades_csv"].parent.parent == Path("out")
    with files["trades_csv"].open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == stats["trades"]
    assert json.loads(files["stats_json"].read_text())["stats"] == stats

    page = files["html_report"].read_text(encoding="utf-8")
    start = re.search(r'Plotly\.newPlot\(\s*"tradekit-report-figure",\s*', page)
    assert start, "the report holds a plotly figure"
    traces, _ = json.JSONDecoder().raw_decode(page, start.end())
    [equity] = [trace for trace in traces if trace.get("name") == "Equity"]
    y = equity["y"]
    values = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]) if isinstance(y, dict) else np.array(y)
    assert len(values) == 20_000
    assert values[0] == stats["start_equity"] and values[-1] == pytest.approx(stats["end_equity"], abs=1e-6)


def test_a_real_data_file_narrowed_by_from_and_to(tradekit: Callable[..., Any], tk_data_file: Any) -> None:
    path = tk_data_file(REAL_1M)
    report = backtest_json(tradekit, "--no-files", "--data", str(path), "--from", "2024-08-01", "--to", "2024-08-03")
    assert report["symbols"] == ["BTC/USDT"] and report["timeframe"] == "1m"
    assert report["bars"] == 2 * 24 * 60
    assert report["stats"]["start"] == "2024-08-01T00:00:00+00:00"
    assert report["stats"]["end"] == "2024-08-02T23:59:00+00:00"
    assert report["data"] == {"BTC/USDT": str(path)}


@pytest.mark.parametrize(
    ("param", "problem"),
    [
        ("fast=abc", "plugins.strategy.sma_cross.fast: got 'abc'; expected a valid integer"),
        ("nosuch=1", "plugins.strategy.sma_cross.nosuch: unknown setting; valid settings here: fast, fraction"),
    ],
)
def test_a_bad_strategy_parameter_exits_2_listing_the_valid_ones(
    tradekit: Callable[..., Any], param: str, problem: str
) -> None:
    result = tradekit("backtest", "--strategy", "sma_cross", "--no-files", "--param", param)
    assert result.exit_code == 2
    assert problem in result.stderr
    assert "strategy sma_cross takes: fast (default 10), slow (default 30), quantity" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_an_unsorted_data_file_exits_naming_the_file_and_the_row(tradekit: Callable[..., Any], workdir: Path) -> None:
    path = write_minutes(workdir / "ETH_USDT-1m.csv", [0, 1, 2, 4, 3, 5])
    result = tradekit("backtest", "--strategy", "sma_cross", "--no-files", "--data", str(path))
    assert result.exit_code == 2
    assert f"data file {path}, row 5" in result.stderr
    assert "earlier than the bar before it" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_fee_option_sets_the_fees_paid(tradekit: Callable[..., Any]) -> None:
    free = backtest_json(tradekit, "--no-files", "--fee", "0")
    paid = backtest_json(tradekit, "--no-files", "--fee", "0.001")
    assert free["fees"] == {"maker": "0", "taker": "0"}
    assert paid["fees"] == {"maker": "0.001", "taker": "0.001"}
    assert float(free["stats"]["fees_paid"]) == 0
    assert float(paid["stats"]["fees_paid"]) > 0
    assert free["stats"]["end_equity"] > paid["stats"]["end_equity"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeframe", "7q"], "unknown timeframe '7q'"),
        (
            ["--data", "ETH_USDT-1m.csv", "--timeframe", "5m"],
            "ETH_USDT-1m.csv has 1m bars of ETH/USDT, but the timeframe 5m",
        ),
        (
            ["--data", "ETH_USDT-1m.csv", "--symbol", "ETH/USDT", "--symbol", "BTC/USDT"],
            "1 data file(s) but 2 symbol(s): give one --symbol per --data file",
        ),
    ],
)
def test_timeframe_and_symbol_mismatches_are_clear_errors(
    tradekit: Callable[..., Any], workdir: Path, args: list[str], message: str
) -> None:
    write_minutes(workdir / "ETH_USDT-1m.csv", list(range(40)))
    result = tradekit("backtest", "--strategy", "sma_cross", "--no-files", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_paper_simulates_the_timeframe_asked_for(tradekit: Callable[..., Any]) -> None:
    report = backtest_json(tradekit, "--no-files", "--timeframe", "1h")
    assert report["timeframe"] == "1h"
    hours = (
        datetime.fromisoformat(report["stats"]["end"]) - datetime.fromisoformat(report["stats"]["start"])
    ).total_seconds() / 3600
    assert hours == report["bars"] - 1


def test_a_timeframe_that_matches_the_data_is_accepted(tradekit: Callable[..., Any], workdir: Path) -> None:
    path = write_minutes(workdir / "ETH_USDT-1m.csv", list(range(40)))
    report = backtest_json(tradekit, "--no-files", "--data", str(path), "--timeframe", "1m", "--symbol", "ETH/USDT")
    assert (report["symbols"], report["timeframe"], report["bars"]) == (["ETH/USDT"], "1m", 40)


def test_a_settings_table_for_a_plugin_that_is_not_installed_is_warned_about(
    tradekit: Callable[..., Any], workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (workdir / "tradekit.toml").write_text("[plugins.strategy.sma_crsos]\nfast = 5\n")
    result = tradekit("backtest", "--strategy", "sma_cross", "--no-files", "--json")
    assert result.exit_code == 0
    assert "[plugins.strategy.sma_crsos] is ignored: unknown strategy 'sma_crsos'; did you mean 'sma_cross'?" in (
        caplog.text
    )
