"""Backtest results as rich tables for the terminal.

The numbers are formatted for people (see :meth:`BacktestStats.display_rows`):
percentages with two decimals, money with thousands separators, "n/a" for a
ratio that cannot be computed and "∞" for an infinite one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from rich.table import Table
from rich.text import Text

from tradekit.report.metrics import BacktestStats, format_decimal, format_money, format_percent
from tradekit.report.strategy_report import StrategyReport
from tradekit.report.trades import Trade


def render_stats(stats: BacktestStats, *, title: str = "Backtest") -> Table:
    """A two-column table (statistic, value) of ``stats``; print it with a rich console."""
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("Statistic", style="cyan", no_wrap=True)
    table.add_column("Value", justify="right", no_wrap=True)
    for label, value in stats.display_rows():
        table.add_row(label, value)
    return table


def _decimal(value: Decimal | None) -> str:
    return "-" if value is None else format_decimal(value)


def _time(value: datetime | None) -> str:
    return "open" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _signed(value: Decimal, text: str) -> Text:
    style = "green" if value > 0 else "red" if value < 0 else ""
    return Text(text, style=style)


def render_trades(trades: Sequence[Trade], limit: int = 20) -> Table:
    """A table of the last ``limit`` trades (all of them when ``limit`` is 0 or less).

    Trades keep their number in the whole run; the caption says how many are shown.
    """
    shown = list(enumerate(trades, start=1))
    if 0 < limit < len(shown):
        shown = shown[-limit:]
    symbols = {trade.symbol for trade in trades}
    one_symbol = len(symbols) == 1
    # One symbol goes in the title: a column repeating it would squeeze the numbers.
    title = f"Trades in {next(iter(symbols))}" if one_symbol else "Trades"
    table = Table(title=title, header_style="bold")
    if len(shown) < len(trades):
        table.caption = f"last {len(shown):,} of {len(trades):,} trades"
    table.add_column("#", justify="right", no_wrap=True)
    if not one_symbol:
        table.add_column("Symbol", no_wrap=True)
    table.add_column("Side", no_wrap=True)
    for name in ("Entry time", "Exit time"):
        # Times may wrap between date and time of day; numbers never do.
        table.add_column(name, min_width=10)
    for name in ("Entry", "Exit", "Size", "PnL", "Return", "Fees"):
        table.add_column(name, justify="right", no_wrap=True)
    for number, trade in shown:
        cells: list[str | Text] = [str(number)]
        if not one_symbol:
            cells.append(trade.symbol)
        cells += [
            trade.direction,
            _time(trade.entry_time),
            _time(trade.exit_time),
            _decimal(trade.entry_price),
            _decimal(trade.exit_price),
            _decimal(trade.quantity),
            _signed(trade.pnl, format_money(trade.pnl)),
            _signed(trade.pnl, format_percent(trade.return_pct)),
            format_money(trade.fees),
        ]
        table.add_row(*cells)
    return table


def render_strategy_report(report: StrategyReport, *, limit: int = 0) -> list[Table]:
    """The tables a strategy added to its report, and its summary as a two-column table, for the terminal.

    With ``limit`` above 0 a table shows its last ``limit`` rows; the caption says so.
    """
    tables: list[Table] = []
    if report.summary:
        summary = Table(title="Strategy", show_header=True, header_style="bold")
        summary.add_column("Item", style="cyan", no_wrap=True)
        summary.add_column("Value", justify="right")
        for key, value in report.summary.items():
            summary.add_row(key, _cell(value))
        tables.append(summary)
    for section in report.tables:
        rows = list(section.rows)
        table = Table(title=section.title, header_style="bold")
        captions = [section.caption] if section.caption else []
        if 0 < limit < len(rows):
            captions.append(f"last {limit:,} of {len(rows):,} rows")
            rows = rows[-limit:]
        if captions:
            table.caption = "; ".join(captions)
        for name in section.columns:
            table.add_column(name, justify="right" if _numeric_column(section.rows, name, section.columns) else "left")
        for row in rows:
            table.add_row(*(_cell(cell) for cell in row))
        tables.append(table)
    return tables


def _numeric_column(rows: Sequence[Sequence[object]], name: str, columns: Sequence[str]) -> bool:
    position = list(columns).index(name)
    return any(isinstance(row[position], int | float | Decimal) for row in rows)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
