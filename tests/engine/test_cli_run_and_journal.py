"""``tradekit run``, ``tradekit runs`` and ``tradekit report`` as a user runs them, with the journal in between."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any


def dry_run(tradekit: Callable[..., Any]) -> tuple[Any, str]:
    """``tradekit run`` on paper for 300 bars; returns the result and the run id it printed."""
    result = tradekit("run", "--strategy", "sma_cross", "--exchange", "paper", "--max-bars", "300")
    assert result.exit_code == 0, result.stderr
    match = re.search(r"run ([0-9a-f]{32}): `tradekit report ([0-9a-f]{12})`", result.stdout)
    assert match, result.stdout
    assert match.group(1).startswith(match.group(2))
    return result, match.group(1)


def test_a_dry_run_on_paper_prints_its_summary(tradekit: Callable[..., Any], workdir: Path) -> None:
    result, run_id = dry_run(tradekit)
    assert f"dry_run {run_id[:12]}: reached --max-bars 300" in result.stdout
    for column in ("bars", "orders", "fills", "start equity", "end equity", "change", "position"):
        assert column in result.stdout
    assert "│  300 │" in result.stdout
    assert "dry run: live prices, simulated fills, no orders sent" in result.stderr
    assert (workdir / "tradekit-journal.sqlite3").is_file()


def test_runs_lists_the_dry_run_and_the_backtests_before_it(tradekit: Callable[..., Any]) -> None:
    backtest = tradekit("backtest", "--strategy", "sma_cross", "--no-files", "--json")
    assert backtest.exit_code == 0, backtest.stderr
    backtest_id = json.loads(backtest.stdout)["run_id"]
    _, run_id = dry_run(tradekit)

    listed = tradekit("runs", "--json")
    assert listed.exit_code == 0, listed.stderr
    records = json.loads(listed.stdout)
    assert [(r["run_id"], r["mode"]) for r in records] == [(run_id, "dry_run"), (backtest_id, "backtest")]
    assert records[0]["end_reason"] == "reached --max-bars 300"
    assert records[1]["end_reason"] == "finished" and records[1]["fills"] > 0

    table = tradekit("runs")
    assert table.exit_code == 0
    assert run_id[:12] in table.stdout and backtest_id[:12] in table.stdout
    assert "dry_run" in table.stdout and "backtest" in table.stdout


def test_report_shows_a_run_by_its_prefix(tradekit: Callable[..., Any]) -> None:
    _, run_id = dry_run(tradekit)
    shown = tradekit("report", run_id[:12])
    assert shown.exit_code == 0, shown.stderr
    text = " ".join(shown.stdout.split())  # the console wraps long lines
    assert f"run {run_id} dry_run sma_cross on paper SIM/USDT" in text
    assert "ended: reached --max-bars 300" in text
    as_json = json.loads(tradekit("report", run_id[:8], "--json").stdout)
    assert as_json["run_id"] == run_id and as_json["mode"] == "dry_run"
    assert as_json["orders"] == as_json["fills"] > 0
    count = as_json["orders"]
    assert f"orders {count} (filled {count}); fills {count}; risk verdicts 0" in text


def test_report_of_an_unknown_run_says_so(tradekit: Callable[..., Any]) -> None:
    dry_run(tradekit)
    result = tradekit("report", "nosuch")
    assert result.exit_code == 1
    assert "error: no run 'nosuch' in the journal tradekit-journal.sqlite3" in result.stderr
    assert "Traceback" not in result.stderr


def test_runs_without_a_journal_says_there_is_none(tradekit: Callable[..., Any], workdir: Path) -> None:
    result = tradekit("runs")
    assert result.exit_code == 1
    assert "no journal at tradekit-journal.sqlite3: run a backtest or `tradekit run` first" in result.stderr
    assert not (workdir / "tradekit-journal.sqlite3").exists()


def test_live_on_paper_is_refused_before_asking_anything(tradekit: Callable[..., Any], workdir: Path) -> None:
    result = tradekit("run", "--strategy", "sma_cross", "--exchange", "paper", "--live", "--max-bars", "5")
    assert result.exit_code == 2
    assert "error: exchange paper is simulated; --live needs a real exchange (installed: " in result.stderr
    assert "Send real orders?" not in result.stderr
    assert not (workdir / "tradekit-journal.sqlite3").exists()
