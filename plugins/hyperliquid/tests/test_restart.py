"""An order of a live run that died, taken up by the next process: fills made while down are booked once."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tradekit_ccxt.testing.cli import ExchangeCli, journal_rows, run_command
from tradekit_ccxt.testing.history import (
    check_a_fill_behind_more_than_a_page_of_other_trades,
    check_filled_after_a_busy_outage,
    check_filled_days_after_it_was_placed,
)
from tradekit_ccxt.testing.restart import (
    check_cancelled_while_down_after_an_unseen_fill,
    check_filled_while_down,
    check_partly_booked_then_filled_while_down,
)
from tradekit_hyperliquid import HyperliquidExchange
from tradekit_hyperliquid.fake_server import FakeHyperliquid

from tradekit.domain.bars import BarSeries
from tradekit.domain.orders import Order, OrderIntent, OrderType, Side
from tradekit.journal import Journal
from tradekit.plugin import Strategy, StrategyContext
from tradekit.testing.cli import CliResult

SYMBOL = "BTC/USDC:USDC"
WALLET = "0x" + "ab" * 20
PRIVATE_KEY = "0x" + "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"


def test_an_order_filled_while_the_run_was_down_reports_its_fill_once(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    check_filled_while_down(connect, venue, make_order, SYMBOL)


def test_a_fill_booked_before_the_death_is_not_reported_again(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    check_partly_booked_then_filled_while_down(connect, venue, venue.market, make_order, SYMBOL)


def test_an_order_cancelled_while_down_reports_its_unseen_fill_before_its_end(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    check_cancelled_while_down_after_an_unseen_fill(connect, venue.market, make_order, SYMBOL)


# --- fills far back in the account's trades: past a page of fills ------------------------------------------

#: ``userFillsByTime`` returns 2,000 fills a request at most (of every coin).
PAGE = 2000


@pytest.mark.parametrize(
    "check", [check_a_fill_behind_more_than_a_page_of_other_trades, check_filled_after_a_busy_outage]
)
def test_a_fill_behind_a_page_of_other_trades_is_found_running_and_after_a_restart(
    connect: Callable[..., HyperliquidExchange],
    venue: FakeHyperliquid,
    make_order: Callable[..., Order],
    check: Callable[..., None],
) -> None:
    check(connect, venue, venue.market, make_order, SYMBOL, PAGE)


def test_a_restart_books_the_fill_of_an_order_placed_days_before(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    check_filled_days_after_it_was_placed(connect, venue, venue.market, make_order, SYMBOL)


# --- a live run, as a user runs it -------------------------------------------------------------------


class RestingBuyer(Strategy):
    """Rests one buy limit 3 % under the first close it sees, and remembers its id; nothing else."""

    def on_bar(self, ctx: StrategyContext) -> None:
        if getattr(self, "placed", None) is None:
            price = ctx.instrument().round_price(Decimal(repr(ctx.close())) * Decimal("0.97"))
            intent = OrderIntent(
                symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal("0.01"), price=price
            )
            self.placed = ctx.submit(intent)
            ctx.save_state({"placed": self.placed})

    def restore(self, state: dict[str, Any], open_orders: list[Any]) -> None:
        self.placed = state.get("placed")


def test_a_live_run_restarted_after_its_order_filled_while_it_was_down_books_the_fill_once(
    bars: BarSeries, tmp_path: Path, tk_register: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    tk_register(RestingBuyer, "resting_buyer")
    with FakeHyperliquid({SYMBOL: bars}, history=100, reveal_on_candles=True) as venue:
        cli = ExchangeCli(
            tmp_path,
            "hyperliquid",
            {
                "api_url": venue.url,
                "wallet_address": WALLET,
                "private_key": PRIVATE_KEY,
                "rate_limits": '{"rest": 1000000}',
            },
        )

        def run(bars_to_run: int) -> CliResult:
            command = run_command(
                "hyperliquid", "resting_buyer", "--live", "--yes", "--on-mismatch", "abort", max_bars=bars_to_run
            )
            return cli(*command)

        # The first process dies with its order resting: its run is never marked finished (a kill leaves it so).
        with monkeypatch.context() as dying:
            dying.setattr(Journal, "finish_run", lambda self, run_id, summary: None)
            first = run(3)
        assert first.exit_code == 0, first.stderr
        (resting,) = venue.market.open_orders(SYMBOL)
        assert resting.price is not None
        # While no process watches, the market reaches the order: the venue fills it.
        venue.set_price(SYMBOL, resting.price - 100)
        (trade,) = [t for t in venue.market.trades if t.oid == resting.oid]
        second = run(2)
        # The position the fill opened is the run's own (its order's fill): no mismatch stops the start.
        assert second.exit_code == 0, second.stderr
        assert "does not explain" not in second.stderr
        placed = [a for a in venue.action_types() if a == "order"]
    assert placed == ["order"]  # taken up by its client order id, never sent again
    assert journal_rows(tmp_path, "SELECT status FROM orders") == [("filled",)]
    fills = journal_rows(tmp_path, "SELECT fill_id, quantity, price FROM fills")
    assert [(fill_id, Decimal(quantity), Decimal(price)) for fill_id, quantity, price in fills] == [
        (str(trade.tid), Decimal("0.01"), resting.price)
    ]
