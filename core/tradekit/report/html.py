"""The interactive HTML report of a backtest: one self-contained file.

The page holds the statistics as a table, then one plotly figure with shared
time axis: the price (candlesticks up to :data:`CANDLESTICK_LIMIT` bars, a
close line beyond) with the trades' entries and exits as markers, the equity
curve (coloured by a strategy's timeline, its phase say, when one is given),
the drawdown, and one panel per optional extra series and per timeline. plotly.js is
inlined, so the file opens offline, from an e-mail or a CI artefact.

Long runs are downsampled for the charts (never for the statistics): each
series is cut into buckets and the lowest and highest point of each bucket is
kept, so every peak and trough stays visible while a 1,000,000-bar report stays
a few megabytes. The report says when it was downsampled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tradekit.domain.bars import BarSeries, FloatArray, IntArray
from tradekit.report.metrics import BacktestStats, drawdown, format_decimal, format_money, format_percent
from tradekit.report.strategy_report import Timeline
from tradekit.report.trades import Trade

#: Most points drawn per series (and per kind of trade marker).
MAX_POINTS = 20_000
#: Up to this many bars the price is drawn as candlesticks; beyond, as a close line.
CANDLESTICK_LIMIT = 5_000

_STATS_PER_ROW = 3


def downsample_indices(values: FloatArray, max_points: int = MAX_POINTS) -> IntArray:
    """Indices of at most ``max_points`` points of ``values`` that keep its shape.

    The series is cut into equal buckets and the index of the lowest and of
    the highest value of each bucket is kept (in time order), as well as the
    first and last point. All indices when the series is short enough.
    """
    n = len(values)
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4 to keep both extremes, was {max_points}")
    buckets = (max_points - 2) // 2
    size = math.ceil(n / buckets)
    full = n // size
    body = np.asarray(values[: full * size]).reshape(full, size)
    starts = np.arange(full, dtype=np.int64) * size
    parts = [starts + body.argmin(axis=1), starts + body.argmax(axis=1), np.array([0, n - 1])]
    if full * size < n:
        tail = np.asarray(values[full * size :])
        parts.append(full * size + np.array([tail.argmin(), tail.argmax()]))
    return np.unique(np.concatenate(parts)).astype(np.int64)


def _category_indices(codes: IntArray, max_points: int) -> IntArray:
    """Points of a step line of categories: every change, or min/max buckets when too many."""
    n = len(codes)
    changes = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    if len(changes) + 2 <= max_points:
        return np.unique(np.concatenate([[0], changes, [n - 1]])).astype(np.int64)
    return downsample_indices(codes.astype(np.float64), max_points)


def _equity_by_category(x: FloatArray, equity: FloatArray, keep: IntArray, timeline: Timeline) -> list[Any]:
    """The equity curve as one trace per category of ``timeline``: each drawn where that category holds.

    The points kept are the downsampled ones plus each change and the bar
    before it, so every stretch of a category is drawn from its first bar and
    joins the next stretch where the category changes.
    """
    import plotly.graph_objects as go

    n = len(equity)
    labels = timeline.categories()
    code_of = {label: code for code, label in enumerate(labels)}
    codes = np.full(n, -1, dtype=np.int64)
    indices = np.array([min(index, n - 1) for index, _ in timeline.changes], dtype=np.int64)
    if len(indices):
        last = np.searchsorted(indices, np.arange(n), side="right") - 1
        change_codes = np.array([code_of[label] for _, label in timeline.changes], dtype=np.int64)
        codes[last >= 0] = change_codes[last[last >= 0]]
    starts = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    points = np.unique(np.concatenate([keep, starts, starts - 1])).astype(np.int64)
    point_codes = codes[points]
    traces = []
    names = [(code, label or "(none)") for code, label in enumerate(labels)]
    if (codes < 0).any():
        names.append((-1, timeline.before or "(none)"))
    for code, label in names:
        # A stretch also takes the first point of the next one, so the line has no hole at a change.
        shown = (point_codes == code) | np.concatenate([[False], point_codes[:-1] == code])
        if not shown.any():
            continue
        y = np.where(shown, equity[points], np.nan)
        traces.append(
            go.Scatter(
                x=x[points],
                y=y,
                mode="lines",
                name=f"Equity: {escape(label)}",
                connectgaps=False,
                hovertemplate=f"{escape(timeline.name)} {escape(label)}<br>equity %{{y:,.2f}}<extra></extra>",
            )
        )
    return traces


def _ms(moment: datetime) -> float:
    """Milliseconds since the epoch, what a plotly date axis takes (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000.0


def _trade_markers(trades: Sequence[Trade], symbol: str) -> tuple[list[Any], list[str]]:
    """The marker traces of the trades in ``symbol``, and notes about what was left out."""
    import plotly.graph_objects as go

    notes: list[str] = []
    own = [trade for trade in trades if trade.symbol == symbol]
    if len(own) < len(trades):
        notes.append(f"{len(trades) - len(own):,} trades in other symbols are not drawn on this price chart.")
    if len(own) > MAX_POINTS:
        keep = np.unique(np.linspace(0, len(own) - 1, MAX_POINTS).astype(np.int64))
        notes.append(f"Trade markers: {len(keep):,} of {len(own):,} trades drawn, evenly spaced.")
        own = [own[int(i)] for i in keep]

    name = escape(symbol)
    groups: dict[str, tuple[list[float], list[float], list[str]]] = {
        "Long entry": ([], [], []),
        "Short entry": ([], [], []),
        "Exit": ([], [], []),
    }
    for trade in own:
        outcome = (
            f"size {format_decimal(trade.quantity)}<br>pnl {format_money(trade.pnl)}"
            f" ({format_percent(trade.return_pct)})"
        )
        entry = groups["Long entry" if trade.direction == "long" else "Short entry"]
        entry[0].append(_ms(trade.entry_time))
        entry[1].append(float(trade.entry_price))
        entry[2].append(f"{trade.direction} entry {name}<br>price {format_decimal(trade.entry_price)}<br>{outcome}")
        if trade.exit_time is not None and trade.exit_price is not None:
            exit_ = groups["Exit"]
            exit_[0].append(_ms(trade.exit_time))
            exit_[1].append(float(trade.exit_price))
            exit_[2].append(f"{trade.direction} exit {name}<br>price {format_decimal(trade.exit_price)}<br>{outcome}")

    styles = {
        "Long entry": {"symbol": "triangle-up", "color": "#2ca02c", "size": 10},
        "Short entry": {"symbol": "triangle-down", "color": "#d62728", "size": 10},
        "Exit": {"symbol": "x", "color": "#333333", "size": 8},
    }
    traces = [
        go.Scatter(
            x=np.array(xs),
            y=np.array(ys),
            text=texts,
            mode="markers",
            name=label,
            marker=styles[label],
            hovertemplate="%{text}<extra></extra>",
        )
        for label, (xs, ys, texts) in groups.items()
        if xs
    ]
    return traces, notes


def _stats_table(stats: BacktestStats) -> str:
    rows = stats.display_rows()
    lines = []
    for first in range(0, len(rows), _STATS_PER_ROW):
        cells = "".join(
            f"<th>{escape(label)}</th><td>{escape(value)}</td>" for label, value in rows[first : first + _STATS_PER_ROW]
        )
        lines.append(f"<tr>{cells}</tr>")
    return '<table class="stats">\n' + "\n".join(lines) + "\n</table>"


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
.meta, .note { color: #555; margin: 0.2em 0; }
table.stats { border-collapse: collapse; margin: 1em 0; }
table.stats th { text-align: left; font-weight: normal; color: #555; padding: 0.2em 0.6em 0.2em 1.2em; }
table.stats td { text-align: right; font-variant-numeric: tabular-nums; padding: 0.2em 0.6em; }
table.stats tr:nth-child(odd) { background: #f4f6f8; }
"""


def write_html_report(
    path: Path,
    *,
    title: str,
    bars: BarSeries,
    equity: FloatArray,
    trades: Sequence[Trade],
    stats: BacktestStats,
    extra: dict[str, FloatArray | Sequence[str]] | None = None,
    timelines: Sequence[Timeline] = (),
) -> Path:
    """Write the report of one run to ``path`` (an ``.html`` file) and return the path.

    ``equity`` has one value per bar of ``bars``; so has each series of
    ``extra``: numbers are drawn as a line, strings (a strategy's phase per
    bar, say) as a step line over their categories, one panel per name. Each
    of ``timelines`` (a strategy's categories by bar, from its
    :class:`~tradekit.report.strategy_report.StrategyReport`) gets a panel of
    its own, and the first colours the equity curve by the category in force
    at each bar. Every text put in the page or the figure is HTML-escaped.
    Raises ``ValueError`` when a series does not have one value per bar.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    n = len(bars)
    eq = np.asarray(equity, dtype=np.float64)
    if len(eq) != n:
        raise ValueError(f"equity has {len(eq)} values but there are {n} bars; give one per bar")
    panels: dict[str, FloatArray | Sequence[str] | NDArray[np.object_]] = dict(extra or {})
    for timeline in timelines:
        panels.setdefault(timeline.name, timeline.per_bar(n))
    for name, series in panels.items():
        if len(series) != n:
            raise ValueError(f"extra series {name!r} has {len(series)} values but there are {n} bars")

    # Whole milliseconds as float64: exact, and plotly stores float arrays as compact binary.
    x = (np.asarray(bars.timestamps, dtype=np.int64) // 1_000_000).astype(np.float64)
    symbol = escape(bars.symbol)
    titles = ["Price", "Equity", "Drawdown (%)", *(escape(name) for name in panels)]
    fig = make_subplots(
        rows=len(titles),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        row_heights=[0.45, 0.25, 0.15, *([0.12] * len(panels))],
        subplot_titles=titles,
    )
    notes: list[str] = []
    downsampled = False

    if n <= CANDLESTICK_LIMIT:
        fig.add_trace(
            go.Candlestick(x=x, open=bars.open, high=bars.high, low=bars.low, close=bars.close, name=symbol),
            row=1,
            col=1,
        )
    else:
        keep = downsample_indices(bars.close)
        downsampled |= len(keep) < n
        fig.add_trace(go.Scatter(x=x[keep], y=bars.close[keep], mode="lines", name=f"{symbol} close"), row=1, col=1)
        notes.append(f"Price drawn as a close line: more than {CANDLESTICK_LIMIT:,} bars.")
    markers, marker_notes = _trade_markers(trades, bars.symbol)
    for trace in markers:
        fig.add_trace(trace, row=1, col=1)
    notes.extend(marker_notes)

    if n:
        keep = downsample_indices(eq)
        downsampled |= len(keep) < n
        if timelines:
            for trace in _equity_by_category(x, eq, keep, timelines[0]):
                fig.add_trace(trace, row=2, col=1)
        else:
            fig.add_trace(go.Scatter(x=x[keep], y=eq[keep], mode="lines", name="Equity"), row=2, col=1)
        dd_percent = drawdown(eq)[0] * 100.0
        keep = downsample_indices(dd_percent)
        fig.add_trace(
            go.Scatter(
                x=x[keep],
                y=dd_percent[keep],
                mode="lines",
                fill="tozeroy",
                name="Drawdown",
                line={"color": "#d62728"},
            ),
            row=3,
            col=1,
        )

    for row, (name, series) in enumerate(panels.items(), start=4):
        label = escape(name)
        values = np.asarray(series) if isinstance(series, np.ndarray) else None
        if values is not None and (np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_):
            numbers = values.astype(np.float64)
            keep = downsample_indices(numbers)
            downsampled |= len(keep) < n
            fig.add_trace(go.Scatter(x=x[keep], y=numbers[keep], mode="lines", name=label), row=row, col=1)
            continue
        import pandas as pd

        codes, categories = pd.factorize(pd.Series(list(series), dtype=object).astype(str))
        keep = _category_indices(np.asarray(codes, dtype=np.int64), MAX_POINTS)
        names = [escape(str(category)) for category in categories]
        fig.add_trace(
            go.Scatter(
                x=x[keep],
                y=[names[int(codes[i])] for i in keep],
                mode="lines",
                line_shape="hv",
                name=label,
            ),
            row=row,
            col=1,
        )
        fig.update_yaxes(type="category", categoryorder="array", categoryarray=names, row=row, col=1)

    fig.update_xaxes(type="date", rangeslider_visible=False)
    fig.update_layout(
        template="plotly_white",
        height=780 + 160 * len(panels),
        margin={"l": 60, "r": 20, "t": 70, "b": 40},
        legend={"orientation": "h", "y": 1.04, "yanchor": "bottom"},
    )
    figure_html = fig.to_html(
        full_html=False,
        include_plotlyjs=True,
        div_id="tradekit-report-figure",
        config={"responsive": True, "displaylogo": False},
    )

    if downsampled:
        notes.insert(
            0,
            f"Charts downsampled from {n:,} bars to at most {MAX_POINTS:,} points per series; "
            "the lowest and highest value of every bucket is kept, so no peak or trough is lost. "
            "The statistics use every bar.",
        )
    meta = " · ".join(escape(part) for part in (bars.symbol, bars.timeframe, bars.source) if part)
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{escape(title)}</title>",
            f"<style>{_STYLE}</style>",
            "</head>",
            "<body>",
            f"<h1>{escape(title)}</h1>",
            f'<p class="meta">{meta} · {n:,} bars</p>',
            *(f'<p class="note">{escape(note)}</p>' for note in notes),
            _stats_table(stats),
            figure_html,
            "</body>",
            "</html>",
        ]
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
