"""What a user sees: the per-cycle table and phase timeline of a backtest, and the live status of a run."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from tradekit.journal import Journal

D = Decimal


def test_a_backtest_prints_one_row_per_cycle(tradekit) -> None:  # type: ignore[no-untyped-def]
    result = tradekit("backtest", "--strategy", "long_wallet", "-p", "unit_pct=0.5", "--no-files")
    assert result.exit_code == 0, result.stderr
    assert "Long Wallet cycles" in result.stdout
    for column in ("cycle", "start value", "end value", "growth %", "round trips", "fees"):
        assert column in result.stdout
    assert "cumulative growth %" in result.stdout and "phase now" in result.stdout


def test_the_json_output_and_the_journal_hold_the_cycles_and_the_phase_timeline(tradekit) -> None:  # type: ignore[no-untyped-def]
    result = tradekit("backtest", "--strategy", "long_wallet", "-p", "unit_pct=0.5", "--json", "--no-files")
    assert result.exit_code == 0, result.stderr
    output = json.loads(result.stdout)
    report = output["strategy_report"]
    (table,) = report["tables"]
    assert table["columns"][:2] == ["cycle", "start"]
    rows = table["rows"]
    assert len(rows) == int(report["summary"]["cycles completed"]) + 1  # the running cycle last
    assert [row[0] for row in rows] == list(range(1, len(rows) + 1))
    for row in rows[:-1]:
        start, end, growth = D(row[3]), D(row[4]), D(row[5])
        assert abs((end / start - 1) * 100 - growth) <= D("0.01")
    (timeline,) = report["timelines"]
    assert timeline["name"] == "phase"
    phases = {label for _, label in timeline["changes"]}
    assert phases <= {"ADVANCE", "RETRACEMENT", "DECLINE", "RECOVER"} and "ADVANCE" in phases
    with Journal(Path("tradekit-journal.sqlite3")) as journal:
        stored = journal.report(output["run_id"])
    assert stored is not None and stored["strategy"] == report


def test_the_html_report_colours_the_equity_by_phase_and_draws_the_phase(tradekit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = tradekit("backtest", "--strategy", "long_wallet", "-p", "unit_pct=0.5", "--output", "out")
    assert result.exit_code == 0, result.stderr
    (html,) = (tmp_path / "out").glob("*/report.html")
    page = html.read_text()
    assert "Equity: ADVANCE" in page
    assert '"name":"phase"' in page or '"name": "phase"' in page


def test_a_run_shows_the_phase_and_the_window(tradekit) -> None:  # type: ignore[no-untyped-def]
    result = tradekit(
        "run", "--strategy", "long_wallet", "--exchange", "paper", "--max-bars", "500", "--poll-interval", "0"
    )
    assert result.exit_code == 0, result.stderr
    # Not a terminal: a line every 500 bars, with the strategy's status.
    line = next(line for line in result.stderr.splitlines() if line.startswith("bar 500:"))
    assert "phase " in line and "window " in line and "anchor / unit" in line


def test_the_status_names_phase_cycle_anchor_and_window(backtest, ohlc) -> None:  # type: ignore[no-untyped-def]
    rows = [(100, 100, 100, 100), (100, 101.5, 100, 101.5), (101, 101, 99.9, 100.2)]
    result = backtest(ohlc(*rows), unit_size="1", position_value="1000", post_only=False)
    status = result.strategy.status()
    assert status["phase"] == "RETRACEMENT"
    assert status["cycle"].startswith("1 ")
    assert status["anchor / unit"] == "100.00 / 1.00"
    assert (
        status["window"] == "buy +1 @ 101.00 | stop -1 @ 99.00 x2.500 | stop -2 @ 98.00 x2.500 | stop -3 @ 97.00 x2.500"
    )
