"""The strategies as a user meets them: ``tradekit plugins info NAME`` and ``tradekit backtest --param``.

Each test runs the installed ``tradekit`` command in a fresh process, in an
empty folder, as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

STRATEGIES = {
    "momentum": ["lookback", "entry_threshold", "exit_threshold", "trend_length", "quantity", "fraction"],
    "mean_reversion": ["length", "entry_z", "exit_z", "stop_z", "quantity", "fraction"],
    "breakout": ["entry_length", "exit_length", "atr_length", "atr_multiple", "quantity", "fraction"],
    "volatility_expansion": ["vol_length", "range_length", "expansion", "quantity", "fraction"],
    "pairs": ["lookback", "entry_z", "exit_z", "stop_z", "mode", "quantity", "fraction"],
}
EURUSD = "backtestingpy_EURUSD-1h_2017-2018.csv"


def tradekit(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``tradekit ARGS`` in a new process in ``tmp_path``."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TRADEKIT_")}
    environment["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "tradekit.cli.main", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_plugins_info_shows_every_parameter_with_its_default_and_the_rules(tmp_path: Path, name: str) -> None:
    done = tradekit(tmp_path, "plugins", "info", name)
    assert done.returncode == 0, done.stderr
    assert f"{name} (strategy) from tradekit-strategies" in done.stdout
    assert "Enters" in done.stdout and "Exit" in done.stdout
    for setting in STRATEGIES[name]:
        assert setting in done.stdout


def test_plugins_list_shows_the_five_strategies_from_this_distribution(tmp_path: Path) -> None:
    done = tradekit(tmp_path, "plugins", "list")
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if "tradekit-strategies" in line]
    assert sorted(name for name in STRATEGIES if any(f" {name} " in row for row in rows)) == sorted(STRATEGIES)


def test_a_misspelled_parameter_is_refused_with_the_valid_ones(tmp_path: Path) -> None:
    done = tradekit(tmp_path, "backtest", "--strategy", "momentum", "--param", "lookbak=12", "--no-files")
    assert done.returncode == 2
    assert "plugins.strategy.momentum.lookbak: unknown setting" in done.stderr
    assert "valid settings here: entry_threshold, exit_threshold, fraction, lookback, quantity, trend_length" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


def test_a_bad_parameter_value_is_refused_with_the_parameters_and_defaults(tmp_path: Path) -> None:
    done = tradekit(tmp_path, "backtest", "--strategy", "breakout", "--param", "entry_length=twenty", "--no-files")
    assert done.returncode == 2
    assert "plugins.strategy.breakout.entry_length: got 'twenty'" in done.stderr
    assert "strategy breakout takes: entry_length (default 20), exit_length (default 10)" in done.stderr
    too_small = tradekit(tmp_path, "backtest", "--strategy", "breakout", "--param", "entry_length=1", "--no-files")
    assert too_small.returncode == 2 and "entry_length" in too_small.stderr and "2" in too_small.stderr


def test_parameters_that_contradict_each_other_are_refused(tmp_path: Path) -> None:
    done = tradekit(
        tmp_path, "backtest", "--strategy", "mean_reversion", "-p", "entry_z=2", "-p", "stop_z=1.5", "--no-files"
    )
    assert done.returncode == 2
    assert "stop_z (1.5) must be above entry_z (2.0)" in done.stderr


def test_backtest_with_parameters_runs_on_a_real_file(tmp_path: Path, kit) -> None:
    data = str(kit.real_file(EURUSD))
    runs = {}
    for lookback in ("12", "48"):
        done = tradekit(
            tmp_path, "backtest", "-s", "momentum", "--data", data, "-p", f"lookback={lookback}", "--fee", "0.001",
            "--no-files", "--json",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        runs[lookback] = json.loads(done.stdout)
    assert runs["12"]["strategy"] == "momentum" and runs["12"]["bars"] == 5_000
    assert runs["12"]["orders"] > runs["48"]["orders"] > 0  # a shorter lookback turns more often


def test_pairs_backtest_on_two_files_from_the_command_line(tmp_path: Path, kit) -> None:
    btc = str(kit.real_file("binance_BTC_USDT-5m_20201201-20210717.json"))
    eth = str(kit.real_file("binance_ETH_USDT-5m_20201201-20210717.json"))
    done = tradekit(
        tmp_path, "backtest", "-s", "pairs", "--data", btc, "--data", eth, "--from", "2021-02-01",
        "--to", "2021-03-01", "--no-files", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["symbols"] == ["BTC/USDT", "ETH/USDT"] and report["orders"] > 0
    one = tradekit(tmp_path, "backtest", "-s", "pairs", "--data", btc, "--to", "2020-12-05", "--no-files")
    assert one.returncode == 2
    assert "pairs trades two symbols, but the run has 1: BTC/USDT" in one.stderr
