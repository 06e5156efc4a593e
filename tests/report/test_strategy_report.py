"""What a strategy adds to its report: tables, a summary and timelines, in the terminal, JSON and HTML."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from tradekit.domain import BarSeries
from tradekit.report import (
    ReportTable,
    StrategyReport,
    Timeline,
    compute_stats,
    render_strategy_report,
    write_html_report,
)

START_NS = 1_704_067_200 * 10**9
MINUTE_NS = 60 * 10**9


def bars(n: int) -> BarSeries:
    close = 100.0 + np.sin(np.arange(n) / 7.0)
    return BarSeries(
        symbol="BTC/USDT",
        timeframe="1m",
        timestamps=START_NS + np.arange(n, dtype=np.int64) * MINUTE_NS,
        open=close,
        high=close + 0.5,
        low=close - 0.5,
        close=close,
        volume=np.ones(n),
        source="test",
    )


def stats_without_trades(series: BarSeries, equity: np.ndarray) -> Any:
    """The statistics of a run that held the market all along and never traded, for the HTML report."""
    return compute_stats(
        series.timestamps,
        equity,
        trades=[],
        fees_paid=Decimal(0),
        in_market=np.ones(len(series), dtype=bool),
        close=series.close,
    )


def test_a_timeline_fills_in_the_bars_between_its_changes() -> None:
    timeline = Timeline("phase", ((2, "A"), (5, "B"), (5, "C"), (7, "A")), before="-")
    assert list(timeline.per_bar(9)) == ["-", "-", "A", "A", "A", "C", "C", "A", "A"]
    assert timeline.categories() == ["A", "B", "C"]
    assert list(Timeline("phase", ()).per_bar(3)) == ["", "", ""]


def test_a_timeline_out_of_bar_order_is_refused() -> None:
    with pytest.raises(ValueError, match="bar order"):
        Timeline("phase", ((5, "A"), (2, "B")))
    with pytest.raises(ValueError, match="negative"):
        Timeline("phase", ((-1, "A"),))


def test_a_row_with_the_wrong_number_of_cells_is_refused_naming_the_table() -> None:
    with pytest.raises(ValueError, match="table 'cycles': row 2 has 1 cells but there are 2 columns"):
        ReportTable("cycles", ("cycle", "growth"), ((1, Decimal("0.5")), (2,)))


def test_a_report_survives_json_exactly() -> None:
    report = StrategyReport(
        tables=(ReportTable("cycles", ("cycle", "growth %"), ((1, Decimal("1.25")), (2, None)), caption="c"),),
        timelines=(Timeline("phase", ((0, "ADVANCE"), (4, "DECLINE"))),),
        summary={"cycles": 2, "growth %": Decimal("-0.10")},
    )
    as_json = json.loads(json.dumps(report.as_dict()))
    assert as_json["tables"][0]["rows"] == [[1, "1.25"], [2, None]]
    back = StrategyReport.from_dict(as_json)
    assert back.timelines == report.timelines
    assert back.as_dict() == report.as_dict()


def test_the_terminal_shows_the_summary_and_each_table_with_its_last_rows() -> None:
    rows = tuple((number, Decimal(number) / 4) for number in range(1, 31))
    report = StrategyReport(tables=(ReportTable("Cycles", ("cycle", "growth"), rows),), summary={"phase": "DECLINE"})
    console = Console(width=120, record=True)
    for table in render_strategy_report(report, limit=5):
        console.print(table)
    text = console.export_text()
    assert "DECLINE" in text and "Cycles" in text
    assert "last 5 of 30 rows" in text
    assert "7.5" in text and " 25 " not in text  # row 30 shown; row 25 (growth 6.25) cut


def test_the_html_report_colours_the_equity_by_the_first_timeline_and_draws_each(tmp_path: Path) -> None:
    series = bars(300)
    equity = 1_000.0 + np.arange(300, dtype=np.float64)
    stats = stats_without_trades(series, equity)
    timeline = Timeline("phase", ((0, "ADVANCE"), (100, "DECLINE"), (200, "ADVANCE")))
    path = write_html_report(
        tmp_path / "report.html", title="t", bars=series, equity=equity, trades=[], stats=stats, timelines=(timeline,)
    )
    page = path.read_text()
    assert "Equity: ADVANCE" in page and "Equity: DECLINE" in page
    assert '"name":"phase"' in page or '"name": "phase"' in page
    assert '"name":"Equity"' not in page  # the plain curve is replaced by the coloured one


def test_the_html_report_refuses_a_timeline_longer_than_the_bars(tmp_path: Path) -> None:
    series = bars(10)
    equity = np.ones(10)
    stats = stats_without_trades(series, equity)
    extra = {"phase": ["A"] * 11}
    with pytest.raises(ValueError, match="'phase' has 11 values but there are 10 bars"):
        write_html_report(
            tmp_path / "r.html", title="t", bars=series, equity=equity, trades=[], stats=stats, extra=extra
        )
