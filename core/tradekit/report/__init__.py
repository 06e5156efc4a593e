"""What a run produced, for people: trades, statistics, terminal tables and the HTML report.

* :mod:`tradekit.report.trades`: round-trip :class:`Trade` records rebuilt from
  fills, and their CSV file.
* :mod:`tradekit.report.metrics`: :class:`BacktestStats` from an equity curve
  (vectorised numpy), the drawdown, and number formatting.
* :mod:`tradekit.report.console`: rich tables for the terminal.
* :mod:`tradekit.report.html`: the self-contained interactive HTML report
  (plotly is imported only when a report is written).
* :mod:`tradekit.report.strategy_report`: what a strategy adds to its report
  (its own tables and timelines), from :meth:`tradekit.plugin.Strategy.report`.
"""

from tradekit.report.console import render_stats, render_strategy_report, render_trades
from tradekit.report.html import write_html_report
from tradekit.report.metrics import BacktestStats, compute_stats, drawdown, periods_per_year
from tradekit.report.strategy_report import ReportTable, StrategyReport, Timeline
from tradekit.report.trades import (
    Trade,
    read_trades_csv,
    trades_from_executions,
    trades_from_fills,
    write_trades_csv,
)

__all__ = [
    "BacktestStats",
    "ReportTable",
    "StrategyReport",
    "Timeline",
    "Trade",
    "compute_stats",
    "drawdown",
    "periods_per_year",
    "read_trades_csv",
    "render_stats",
    "render_strategy_report",
    "render_trades",
    "trades_from_executions",
    "trades_from_fills",
    "write_html_report",
    "write_trades_csv",
]
