"""The HTML report: self-contained, escaped, carrying the data, and small for long runs."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tradekit.domain import BarSeries, Fill, Side
from tradekit.report import compute_stats, trades_from_fills, write_html_report
from tradekit.report.html import MAX_POINTS, downsample_indices

START_NS = 1_704_067_200 * 10**9  # 2024-01-01 00:00 UTC
MINUTE_NS = 60 * 10**9


def make_bars(n: int, symbol: str = "BTC/USDT", seed: int = 3) -> BarSeries:
    rng = np.random.default_rng(seed)
    close = 40_000.0 * np.cumprod(1.0 + rng.normal(0.0, 0.001, n))
    opens = np.concatenate([[close[0]], close[:-1]])
    return BarSeries(
        symbol=symbol,
        timeframe="1m",
        timestamps=START_NS + np.arange(n, dtype=np.int64) * MINUTE_NS,
        open=opens,
        high=np.maximum(opens, close) * 1.0005,
        low=np.minimum(opens, close) * 0.9995,
        close=close,
        volume=np.ones(n),
        source="test",
    )


def minute(i: int) -> datetime:
    return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=i)


def make_fills(bars: BarSeries, pairs: list[tuple[int, int]]) -> list[Fill]:
    fills = []
    for number, (entry, exit_) in enumerate(pairs):
        for index, side in ((entry, Side.BUY), (exit_, Side.SELL)):
            fills.append(
                Fill(
                    fill_id=f"{number}-{side}",
                    client_order_id=f"{number}-{side}",
                    symbol=bars.symbol,
                    side=side,
                    quantity=Decimal("0.25"),
                    price=Decimal(repr(round(float(bars.close[index]), 2))),
                    fee=Decimal("0.5"),
                    timestamp=minute(index),
                )
            )
    return fills


def write_report(tmp_path: Path, bars: BarSeries, *, title: str = "SMA cross", **kwargs: Any) -> str:
    n = len(bars)
    equity = 10_000.0 * bars.close / bars.close[0]
    trades = kwargs.pop("trades", [])
    stats = compute_stats(
        bars.timestamps,
        equity,
        trades=trades,
        fees_paid=Decimal("12.5"),
        in_market=np.ones(n, dtype=bool),
        close=bars.close,
    )
    path = write_html_report(
        tmp_path / "out" / "report.html",
        title=title,
        bars=bars,
        equity=equity,
        trades=trades,
        stats=stats,
        **kwargs,
    )
    assert path == tmp_path / "out" / "report.html"
    return path.read_text(encoding="utf-8")


def plotted_traces(page: str) -> list[dict[str, Any]]:
    """The trace list handed to Plotly.newPlot, as JSON."""
    match = re.search(r'Plotly\.newPlot\(\s*"tradekit-report-figure",\s*', page)
    assert match, "no plotly figure in the page"
    traces, _ = json.JSONDecoder().raw_decode(page, match.end())
    assert isinstance(traces, list)
    return traces


def values(array: Any) -> np.ndarray[Any, Any]:
    """A plotly array: a JSON list, or the typed-array form {"dtype": "f8", "bdata": base64}."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray(array)


def by_name(traces: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [trace] = [trace for trace in traces if trace.get("name") == name]
    return trace


def test_a_small_report_holds_candles_trades_equity_drawdown_extras_and_the_stats(tmp_path: Path) -> None:
    bars = make_bars(300)
    trades = trades_from_fills(make_fills(bars, [(10, 40), (100, 180)]))
    phase = ["flat"] * 100 + ["long"] * 80 + ["flat"] * 120
    page = write_report(tmp_path, bars, trades=trades, extra={"phase": phase, "signal": np.linspace(-1.0, 1.0, 300)})
    traces = plotted_traces(page)

    candles = by_name(traces, "BTC/USDT")
    assert candles["type"] == "candlestick"
    assert np.array_equal(values(candles["close"]), bars.close)
    assert np.array_equal(values(candles["x"]), bars.timestamps // 1_000_000)

    equity = by_name(traces, "Equity")
    assert np.allclose(values(equity["y"]), 10_000.0 * bars.close / bars.close[0])
    drawdown = values(by_name(traces, "Drawdown")["y"])
    assert len(drawdown) == 300 and drawdown.max() == 0.0 and drawdown.min() < 0.0

    entries = by_name(traces, "Long entry")
    assert list(values(entries["y"])) == [float(t.entry_price) for t in trades]
    assert "size 0.25" in entries["text"][0] and "pnl " in entries["text"][0]
    exits = by_name(traces, "Exit")
    assert list(values(exits["x"])) == [t.exit_time.timestamp() * 1000 for t in trades if t.exit_time]

    # The phase is a step line through its changes, on a category axis.
    steps = by_name(traces, "phase")
    assert steps["line"]["shape"] == "hv"
    assert steps["y"] == ["flat", "long", "flat", "flat"]
    assert np.array_equal(values(by_name(traces, "signal")["y"]), np.linspace(-1.0, 1.0, 300))

    stats_table = page[page.index('<table class="stats">') : page.index("</table>")]
    for label, value in compute_stats(
        bars.timestamps,
        10_000.0 * bars.close / bars.close[0],
        trades=trades,
        fees_paid=Decimal("12.5"),
        in_market=np.ones(300, dtype=bool),
        close=bars.close,
    ).display_rows():
        assert f"<th>{label.replace('&', '&amp;')}</th><td>{value}</td>" in stats_table
    assert "downsampled" not in page


def test_the_report_is_self_contained_with_plotly_inline(tmp_path: Path) -> None:
    page = write_report(tmp_path, make_bars(50))
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]*\bsrc=", page), "a script is loaded from elsewhere"
    assert "<link" not in page
    assert "Plotly.newPlot" in page
    assert len(page) > 3_000_000  # plotly.js itself is in the page


def test_titles_symbols_and_series_names_are_escaped(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script>"
    bars = make_bars(40, symbol="<b>EVIL</b>/USDT")
    trades = trades_from_fills(make_fills(bars, [(5, 10)]))
    page = write_report(tmp_path, bars, title=f"Run {hostile} & more", trades=trades, extra={hostile: ["x"] * 40})
    assert hostile not in page
    assert "<b>EVIL</b>" not in page
    assert "<title>Run &lt;script&gt;alert(1)&lt;/script&gt; &amp; more</title>" in page
    assert "<h1>Run &lt;script&gt;alert(1)&lt;/script&gt; &amp; more</h1>" in page
    traces = plotted_traces(page)
    assert by_name(traces, "&lt;b&gt;EVIL&lt;/b&gt;/USDT")["type"] == "candlestick"
    assert "&lt;b&gt;EVIL&lt;/b&gt;/USDT" in by_name(traces, "Long entry")["text"][0]


@pytest.mark.parametrize("kind", ["numbers", "strings"])
def test_an_extra_series_of_the_wrong_length_is_refused(tmp_path: Path, kind: str) -> None:
    series: Any = np.zeros(9) if kind == "numbers" else ["a"] * 9
    with pytest.raises(ValueError, match="extra series 'oops' has 9 values but there are 10 bars"):
        write_report(tmp_path, make_bars(10), extra={"oops": series})


def test_a_200000_bar_run_is_downsampled_to_a_small_file_that_says_so(tmp_path: Path) -> None:
    n = 200_000
    bars = make_bars(n)
    trades = trades_from_fills(make_fills(bars, [(i, i + 500) for i in range(0, n - 500, 1000)]))
    phase = np.where(np.arange(n) % 2_000 < 1_000, "long", "flat").tolist()
    page = write_report(tmp_path, bars, trades=trades, extra={"phase": phase})

    assert len(page.encode("utf-8")) < 7_500_000  # plotly.js is ~4.8 MB of that
    assert "downsampled from 200,000 bars" in page
    assert "close line" in page
    traces = plotted_traces(page)
    price = by_name(traces, "BTC/USDT close")
    price_y = values(price["y"])
    assert len(price_y) <= MAX_POINTS
    # The extremes survive downsampling.
    assert price_y.max() == bars.close.max() and price_y.min() == bars.close.min()
    equity = values(by_name(traces, "Equity")["y"])
    assert len(equity) <= MAX_POINTS
    assert len(values(by_name(traces, "Drawdown")["y"])) <= MAX_POINTS
    # 200 phase changes: drawn exactly, one point per change.
    assert len(by_name(traces, "phase")["y"]) == 201
    assert len(values(by_name(traces, "Long entry")["x"])) == len(trades)


@settings(max_examples=100, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 3_000), elements=st.floats(-1e6, 1e6, allow_nan=False)),
    st.integers(4, 500),
)
def test_downsampling_keeps_the_extremes_of_every_bucket_within_the_budget(
    series: np.ndarray[Any, Any], budget: int
) -> None:
    keep = downsample_indices(series, budget)
    assert len(keep) <= budget
    assert np.all(np.diff(keep) > 0)
    assert keep[0] == 0 and keep[-1] == len(series) - 1
    assert series[keep].max() == series.max() and series[keep].min() == series.min()
