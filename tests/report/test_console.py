"""The terminal tables: numbers formatted for people."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rich.console import Console

from tradekit.report import BacktestStats, Trade, render_stats, render_trades


def make_stats(**changes: object) -> BacktestStats:
    values: dict[str, object] = {
        "start": datetime(2024, 1, 1, tzinfo=UTC),
        "end": datetime(2024, 3, 1, 12, tzinfo=UTC),
        "bars": 1464,
        "start_equity": 1_000_000.0,
        "end_equity": 1_234_567.891,
        "total_return_pct": 23.4567891,
        "cagr_pct": 251.0,
        "sharpe": 1.23456,
        "sortino": math.inf,
        "calmar": 4.5,
        "max_drawdown_pct": -12.345,
        "max_drawdown_duration": timedelta(days=3, hours=4, minutes=5),
        "profit_factor": math.nan,
        "win_rate_pct": 55.5555,
        "trades": 12_345,
        "exposure_pct": 40.0,
        "fees_paid": Decimal("1234.5"),
        "buy_and_hold_return_pct": -3.0,
    }
    values.update(changes)
    return BacktestStats(**values)  # type: ignore[arg-type]


def text_of(renderable: object) -> str:
    console = Console(record=True, width=120)
    console.print(renderable)
    return console.export_text()


def test_render_stats_shows_every_statistic_formatted_for_people() -> None:
    text = text_of(render_stats(make_stats(), title="SMA cross on BTC/USDT"))
    assert "SMA cross on BTC/USDT" in text
    cells = [line.split("│") for line in text.splitlines() if "│" in line]
    lines = {cell[1].strip(): cell[2].strip() for cell in cells}
    assert lines["Start"] == "2024-01-01 00:00 UTC"
    assert lines["Duration"] == "60d 12h"
    assert lines["Bars"] == "1,464"
    assert lines["End equity"] == "1,234,567.89"
    assert lines["Total return"] == "23.46%"
    assert lines["Max drawdown"] == "-12.35%"
    assert lines["Max drawdown duration"] == "3d 4h 5m"
    assert lines["Sharpe ratio"] == "1.23"
    assert lines["Sortino ratio"] == "∞"
    assert lines["Profit factor"] == "n/a"
    assert lines["Win rate"] == "55.56%"
    assert lines["Trades"] == "12,345"
    assert lines["Fees paid"] == "1,234.50"


def test_tiny_fees_keep_their_digits() -> None:
    text = text_of(render_stats(make_stats(fees_paid=Decimal("0.00042"))))
    assert "0.00042" in text


def trade(number: int, *, open_: bool = False, symbol: str = "BTC/USDT") -> Trade:
    entry = datetime(2024, 5, 1, tzinfo=UTC) + timedelta(hours=number)
    return Trade(
        symbol=symbol,
        direction="long" if number % 2 else "short",
        entry_time=entry,
        exit_time=None if open_ else entry + timedelta(minutes=30),
        entry_price=Decimal(301) / Decimal(3),
        exit_price=None if open_ else Decimal("64250.5"),
        quantity=Decimal("0.015"),
        pnl=Decimal("-12.5") if number == 2 else Decimal("1500.25"),
        fees=Decimal("0.061"),
        return_pct=1.5,
        entry_fills=1,
        exit_fills=0 if open_ else 1,
    )


def rows_of(text: str) -> list[list[str]]:
    """The body rows of a rendered table (lines starting with a run number), split into cells."""
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells and cells[0].isdigit():
            rows.append(cells)
    return rows


def test_render_trades_shows_the_last_trades_with_their_run_numbers_and_full_numbers() -> None:
    trades = [trade(1), trade(2), trade(3, open_=True)]
    text = text_of(render_trades(trades, limit=2))
    assert "Trades in BTC/USDT" in text
    assert "last 2 of 3 trades" in text
    assert "…" not in text  # nothing truncated at 120 columns
    second, third = rows_of(text)
    assert second[:2] == ["2", "short"]
    assert second[4:] == ["100.33333333", "64,250.5", "0.015", "-12.50", "1.50%", "0.06"]
    assert third[0] == "3"
    assert third[3] == "open"  # no exit time yet
    assert third[5] == "-"  # nor exit price
    assert third[7] == "1,500.25"


def test_render_trades_of_several_symbols_has_a_symbol_column() -> None:
    text = text_of(render_trades([trade(1), trade(2, symbol="ETH/USDT")]))
    assert [row[1] for row in rows_of(text)] == ["BTC/USDT", "ETH/USDT"]


def test_render_trades_without_a_limit_shows_all() -> None:
    text = text_of(render_trades([trade(i) for i in range(1, 31)], limit=0))
    assert [row[0] for row in rows_of(text)] == [str(i) for i in range(1, 31)]
    assert "last" not in text
