"""An order of a live run that died, taken up by the next process: fills made while down are booked once."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from tradekit_binance import BinanceExchange
from tradekit_binance.fake_server import FakeBinance
from tradekit_ccxt.testing.market import FakeMarket
from tradekit_ccxt.testing.restart import (
    check_cancelled_while_down_after_an_unseen_fill,
    check_filled_while_down,
    check_partly_booked_then_filled_while_down,
    journaled,
)

from tradekit.domain.orders import Order, OrderStatus, OrderType, OrderUpdate, TriggerDirection

FUTURES = "BTC/USDT:USDT"
SYMBOLS = ("BTC/USDT", FUTURES)


def market_of(venue: FakeBinance, symbol: str) -> FakeMarket:
    market = venue.futures if ":" in symbol else venue.spot
    assert market is not None
    return market


def on(connect: Callable[..., BinanceExchange], symbol: str) -> Callable[[], BinanceExchange]:
    """Exchanges of the symbol's market (spot, or USD-M futures)."""
    return lambda: connect(market="usdm" if ":" in symbol else "spot")


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_an_order_filled_while_the_run_was_down_reports_its_fill_once(
    connect: Callable[..., BinanceExchange], venue: FakeBinance, make_order: Callable[..., Order], symbol: str
) -> None:
    check_filled_while_down(on(connect, symbol), venue, make_order, symbol)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_a_fill_booked_before_the_death_is_not_reported_again(
    connect: Callable[..., BinanceExchange], venue: FakeBinance, make_order: Callable[..., Order], symbol: str
) -> None:
    check_partly_booked_then_filled_while_down(on(connect, symbol), venue, market_of(venue, symbol), make_order, symbol)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_an_order_cancelled_while_down_reports_its_unseen_fill_before_its_end(
    connect: Callable[..., BinanceExchange], venue: FakeBinance, make_order: Callable[..., Order], symbol: str
) -> None:
    check_cancelled_while_down_after_an_unseen_fill(on(connect, symbol), market_of(venue, symbol), make_order, symbol)


def test_a_futures_stop_limit_that_triggered_while_down_is_followed_and_cancelled_as_the_order_it_placed(
    connect: Callable[..., BinanceExchange], venue: FakeBinance, make_order: Callable[..., Order]
) -> None:
    placing = connect(market="usdm")
    latest = placing.latest_price(FUTURES)
    assert latest is not None
    trigger = placing.instruments([FUTURES])[FUTURES].round_price(latest * Decimal("1.02"))
    # Once triggered, its limit sits under the market: the order it places rests.
    order = make_order(
        symbol=FUTURES,
        type=OrderType.STOP_LIMIT,
        trigger_price=trigger,
        price=trigger - 20,
        trigger_direction=TriggerDirection.RISING,
    )
    placing.submit_order(order)
    record, fills = journaled(order, placing.poll_events())
    assert record.status is OrderStatus.ACCEPTED
    placing.close()  # the process dies
    venue.set_price(FUTURES, trigger + 5)  # the stop triggers while no process watches
    restarted = connect(market="usdm")
    view = restarted.resume_order(record, fills)
    assert view is not None and view.status is OrderStatus.ACCEPTED, view
    restarted.cancel_order(record)  # the placed order's id, not the stop's: the venue finds it
    events = restarted.poll_events()
    assert [e.status for e in events if isinstance(e, OrderUpdate)] == [OrderStatus.CANCELLED], events
    assert market_of(venue, FUTURES).open_orders(FUTURES) == []
