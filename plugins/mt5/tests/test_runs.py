"""``tradekit run`` on ``--exchange mt5`` against the fake terminal, as a user runs it: dry by default, ``--live``.

The fake terminal closes one bar per request for the latest bars, so a run's
bars close as fast as it polls (``--poll-interval 0``). Every run goes
through the real CLI entry point.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tradekit_mt5.testing import FakeSymbol, FakeTerminal, bars_near
from tradekit_mt5.testing import constants as mt5

from tradekit.domain.orders import OrderIntent, OrderType, Side
from tradekit.journal import Journal
from tradekit.plugin import Strategy, StrategyContext

SYMBOL = "EURUSD"


SMA = ("--strategy", "sma_cross", "--param", "fast=3", "--param", "slow=8")
COMMON = ("--exchange", "mt5", "--symbol", SYMBOL, "--timeframe", "1m", "--poll-interval", "0")


@pytest.fixture
def live_terminal(monkeypatch: pytest.MonkeyPatch) -> FakeTerminal:
    """A fake terminal whose every request for the latest bars closes the next one."""
    fake = FakeTerminal({SYMBOL: (FakeSymbol(), bars_near(1.10, 1_000))}, history=100, advance_on_rates=True)
    fake.install(monkeypatch)
    return fake


def journal_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as connection:
        return {
            "orders": connection.execute("SELECT count(*) FROM orders").fetchone()[0],
            "fills": connection.execute("SELECT count(*) FROM fills").fetchone()[0],
        }


def trading_calls(terminal: FakeTerminal) -> list[str]:
    return [name for name, _, _ in terminal.calls if name in ("order_check", "order_send")]


def test_a_dry_run_trades_on_the_terminals_bars_and_sends_no_order(
    live_terminal: FakeTerminal, tradekit: Callable[..., Any], tmp_path: Path
) -> None:
    result = tradekit("run", *SMA, *COMMON, "--max-bars", "60")
    assert result.code == 0, result.err
    assert "dry run: live prices, simulated fills, no orders sent" in result.err
    assert "reached --max-bars 60" in result.out
    assert journal_counts(tmp_path / "tradekit-journal.sqlite3")["fills"] > 0
    assert trading_calls(live_terminal) == []


def test_a_live_run_sends_its_orders_to_the_terminal_and_books_the_terminals_deals(
    live_terminal: FakeTerminal, tradekit: Callable[..., Any], tmp_path: Path
) -> None:
    result = tradekit("run", *SMA, *COMMON, "--max-bars", "60", "--live", "--yes")
    assert result.code == 0, result.err
    assert "LIVE: real orders will be sent" in result.err
    deals = [r for r in live_terminal.server.sent if r.get("action") == mt5.TRADE_ACTION_DEAL]
    counts = journal_counts(tmp_path / "tradekit-journal.sqlite3")
    assert counts["orders"] == len(deals) > 1
    assert counts["fills"] == len(live_terminal.server.deals)
    assert all(r["magic"] == 0x74726B and r["comment"].startswith("tk") for r in deals)
    exits = [r for r in deals if r["type"] == mt5.ORDER_TYPE_SELL]
    assert exits and all("position" in r for r in exits)  # sma_cross exits reduce-only: closes by ticket
    with Journal(tmp_path / "tradekit-journal.sqlite3") as journal:
        (run,) = journal.list_runs()
        booked = sum(f.quantity * f.side.sign for f in journal.fills(run.run_id))
    held = sum(
        Decimal(repr(p.volume)) * 100_000 * (1 if p.type == 0 else -1) for p in live_terminal.server.position_records()
    )
    assert booked == held


def test_a_live_run_reports_an_order_placed_by_hand_and_cancels_it_when_told(
    live_terminal: FakeTerminal, tradekit: Callable[..., Any]
) -> None:
    manual = live_terminal.server.send(
        {
            "action": mt5.TRADE_ACTION_PENDING,
            "symbol": SYMBOL,
            "volume": 0.05,
            "type": mt5.ORDER_TYPE_BUY_LIMIT,
            "price": round(live_terminal.markets[SYMBOL].bid - 0.005, 5),
            "type_filling": mt5.ORDER_FILLING_RETURN,
            "comment": "placed by hand",
        }
    )
    assert manual.retcode == mt5.TRADE_RETCODE_DONE
    aborted = tradekit("run", *SMA, *COMMON, "--max-bars", "2", "--live", "--yes", "--on-mismatch", "abort")
    assert aborted.code == 1
    assert f"unknown open order venue:{manual.order}" in aborted.err + aborted.out
    cancelled = tradekit("run", *SMA, *COMMON, "--max-bars", "2", "--live", "--yes", "--on-mismatch", "cancel")
    assert cancelled.code == 0, cancelled.err
    assert live_terminal.server.order_records(symbol=SYMBOL) == ()
    assert live_terminal.server.history[manual.order]["state"] == mt5.ORDER_STATE_CANCELED


def test_a_live_run_adopts_an_order_placed_by_hand_and_books_its_fill(
    live_terminal: FakeTerminal, tradekit: Callable[..., Any], tmp_path: Path
) -> None:
    limit = round(live_terminal.markets[SYMBOL].bid - 0.0030, 5)
    manual = live_terminal.server.send(
        {
            "action": mt5.TRADE_ACTION_PENDING,
            "symbol": SYMBOL,
            "volume": 0.05,
            "type": mt5.ORDER_TYPE_BUY_LIMIT,
            "price": limit,
            "type_filling": mt5.ORDER_FILLING_RETURN,
        }
    )
    market = live_terminal.markets[SYMBOL]
    market.low[market.cursor + 2] = limit - 0.0010  # a bar of the run reaches it
    result = tradekit(
        "run", "--strategy", "sma_cross", *COMMON, "--max-bars", "4", "--live", "--yes", "--on-mismatch", "adopt"
    )
    assert result.code == 0, result.err
    with Journal(tmp_path / "tradekit-journal.sqlite3") as journal:
        (run,) = journal.list_runs()
        fills = [f for f in journal.fills(run.run_id) if f.client_order_id == f"venue:{manual.order}"]
    assert [(f.quantity, float(f.price)) for f in fills] == [(Decimal("5000"), limit)]


class RestingBuyer(Strategy):
    """Rests one buy limit 30 pips under the first close it sees, and remembers its id; nothing else."""

    def on_bar(self, ctx: StrategyContext) -> None:
        if getattr(self, "placed", None) is None:
            price = ctx.instrument().round_price(Decimal(repr(ctx.close())) - Decimal("0.0030"))
            intent = OrderIntent(
                symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal("10000"), price=price
            )
            self.placed = ctx.submit(intent)
            ctx.save_state({"placed": self.placed})

    def restore(self, state: dict[str, Any], open_orders: list[Any]) -> None:
        self.placed = state.get("placed")


@pytest.fixture
def resting_buyer(tk_register: Callable[..., Any]) -> Iterator[None]:
    tk_register(RestingBuyer, "resting_buyer")
    yield


RESTING_LIVE = ("run", "--strategy", "resting_buyer", *COMMON, "--live", "--yes", "--on-mismatch", "abort")


@pytest.fixture
def resting(
    live_terminal: FakeTerminal, tradekit: Callable[..., Any], resting_buyer: None, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """A live ``resting_buyer`` run whose process died with its order resting; the terminal's record of the order.

    Nothing the process held in memory survives, and its run is never marked
    finished in the journal (a kill leaves it so).
    """
    with monkeypatch.context() as dying:
        dying.setattr(Journal, "finish_run", lambda self, run_id, summary: None)
        first = tradekit(*RESTING_LIVE, "--max-bars", "3")
    assert first.code == 0, first.err
    (order,) = live_terminal.server.order_records(symbol=SYMBOL)
    return order


def test_a_restarted_live_run_takes_up_its_resting_order_neither_lost_nor_sent_again(
    live_terminal: FakeTerminal, tradekit: Callable[..., Any], tmp_path: Path, resting: Any
) -> None:
    # A bar the restarted run will see reaches the order's price.
    market = live_terminal.markets[SYMBOL]
    market.low[market.cursor + 2] = resting.price_open - 0.0010
    second = tradekit(*RESTING_LIVE, "--max-bars", "4")
    assert second.code == 0, second.err
    pending = [r for r in live_terminal.server.sent if r.get("action") == mt5.TRADE_ACTION_PENDING]
    assert len(pending) == 1  # taken up by its tag, not sent again
    with Journal(tmp_path / "tradekit-journal.sqlite3") as journal:
        (run,) = journal.list_runs()
        orders, fills = journal.orders(run.run_id), journal.fills(run.run_id)
    assert [o.status.value for o in orders] == ["filled"]
    assert [(f.quantity, float(f.price)) for f in fills] == [(Decimal("10000"), resting.price_open)]
    assert live_terminal.server.deals[-1]["order"] == resting.ticket


@pytest.mark.parametrize("placed_days_ago", [0, 45], ids=["recent", "before-history-days"])
def test_a_live_run_restarted_after_its_order_filled_while_it_was_down_books_the_fill_once(
    live_terminal: FakeTerminal, tradekit: Callable[..., Any], tmp_path: Path, resting: Any, placed_days_ago: int
) -> None:
    # While no process watches, the market reaches the order: the terminal fills it.
    live_terminal.set_price(SYMBOL, resting.price_open - 0.0010)
    assert live_terminal.server.order_records(symbol=SYMBOL) == ()
    # Placed longer ago than the tag search looks back (history_days, 30): found by its journaled ticket.
    live_terminal.server.history[resting.ticket]["time_setup"] -= placed_days_ago * 86_400
    (deal,) = [d for d in live_terminal.server.deals if d["order"] == resting.ticket]
    second = tradekit(*RESTING_LIVE, "--max-bars", "2")
    # The position the deal opened is the run's own (its order's fill): no mismatch stops the start.
    assert second.code == 0, second.err
    assert "does not explain" not in second.err
    with Journal(tmp_path / "tradekit-journal.sqlite3") as journal:
        (run,) = journal.list_runs()
        orders, fills = journal.orders(run.run_id), journal.fills(run.run_id)
    assert [o.status.value for o in orders] == ["filled"]
    assert [(f.fill_id, f.quantity, float(f.price)) for f in fills] == [
        (f"mt5:{deal['ticket']}", Decimal("10000"), deal["price"])
    ]
    pending = [r for r in live_terminal.server.sent if r.get("action") == mt5.TRADE_ACTION_PENDING]
    assert len(pending) == 1  # taken up by its tag, not sent again
