"""The breaker's defaults on the real 2024-08-05 crash, run as a user would: ``tradekit backtest`` then ``report``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tradekit.journal import Journal


def tradekit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    from tradekit.cli.main import main

    root = logging.getLogger()
    level, filters = root.level, {handler: list(handler.filters) for handler in root.handlers}
    try:
        result = main(list(args))
        code = result if isinstance(result, int) else 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    finally:
        root.setLevel(level)
        for handler in root.handlers:
            handler.filters = filters.get(handler, handler.filters)
    return code, capsys.readouterr().out


def test_sma_cross_on_the_crash_trips_on_the_crash_bars_and_the_report_shows_every_verdict(
    real_file: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = real_file("binance_BTC_USDT-1m_20240726-20240825.feather")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "250")
    (tmp_path / "tradekit.toml").write_text('risk = ["circuit_breaker"]\n')

    code, _ = tradekit(capsys, "backtest", "--strategy", "sma_cross", "--data", str(data))
    assert code == 0

    with Journal(tmp_path / "tradekit-journal.sqlite3") as journal:
        [run] = journal.list_runs()
        events = journal.events(run.run_id)
        verdicts = journal.risk_verdicts(run.run_id)
    trips = {(e.data["at"], e.data["trigger"]) for e in events if e.kind == "circuit_breaker_tripped"}
    assert {
        ("2024-08-05T01:10:00+00:00", "bar_move"),
        ("2024-08-05T11:02:00+00:00", "drawdown"),
        ("2024-08-05T14:00:00+00:00", "bar_move"),
        ("2024-08-05T17:20:00+00:00", "daily_loss"),
    } <= trips
    blocked = [v for check in verdicts for v in check["verdicts"] if v.action.value == "reject"]
    assert blocked and all("circuit breaker open since" in v.reason or "half-open" in v.reason for v in blocked)

    code, out = tradekit(capsys, "report", run.run_id[:12])
    assert code == 0
    assert "risk verdicts" in out and "circuit_breaker" in out
    assert f"{len(blocked):,}" in out
    code, out = tradekit(capsys, "report", run.run_id[:12], "--json")
    risk = json.loads(out)["risk"]
    assert risk["decisions"]["reject"] == len(blocked) and risk["rules"][0]["rule"] == "circuit_breaker"
