"""An order of a live run that died, taken up by the next process: fills made while down are booked once.

Also: fills far back in the account's trades are found, by a running process and after a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from tradekit_binance import BinanceExchange
from tradekit_binance.fake_server import FakeBinance
from tradekit_ccxt.testing.exchanges import resting_price
from tradekit_ccxt.testing.history import (
    check_a_fill_behind_more_than_a_page_of_other_trades,
    check_filled_after_a_busy_outage,
    check_filled_days_after_it_was_placed,
)
from tradekit_ccxt.testing.market import FakeMarket
from tradekit_ccxt.testing.restart import (
    check_cancelled_while_down_after_an_unseen_fill,
    check_filled_while_down,
    check_partly_booked_then_filled_while_down,
    fills_of,
    journaled,
)

from tradekit.domain.orders import Order, OrderStatus, OrderType, OrderUpdate, TriggerDirection

FUTURES = "BTC/USDT:USDT"
SYMBOLS = ("BTC/USDT", FUTURES)


Maker = Callable[[str], Callable[[], BinanceExchange]]


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_an_order_filled_while_the_run_was_down_reports_its_fill_once(
    connect_for: Maker, venue: FakeBinance, make_order: Callable[..., Order], symbol: str
) -> None:
    check_filled_while_down(connect_for(symbol), venue, make_order, symbol)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_a_fill_booked_before_the_death_is_not_reported_again(
    connect_for: Maker,
    venue: FakeBinance,
    market_for: Callable[[str], FakeMarket],
    make_order: Callable[..., Order],
    symbol: str,
) -> None:
    check_partly_booked_then_filled_while_down(connect_for(symbol), venue, market_for(symbol), make_order, symbol)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_an_order_cancelled_while_down_reports_its_unseen_fill_before_its_end(
    connect_for: Maker, market_for: Callable[[str], FakeMarket], make_order: Callable[..., Order], symbol: str
) -> None:
    check_cancelled_while_down_after_an_unseen_fill(connect_for(symbol), market_for(symbol), make_order, symbol)


# --- fills far back in the account's trades: past a page of other trades, past Binance's time window ----------

#: ``myTrades`` / ``userTrades`` return 1,000 trades a request at most.
PAGE = 1000


@pytest.mark.parametrize("symbol", SYMBOLS)
@pytest.mark.parametrize(
    "check", [check_a_fill_behind_more_than_a_page_of_other_trades, check_filled_after_a_busy_outage]
)
def test_a_fill_behind_a_page_of_other_trades_is_found_running_and_after_a_restart(
    connect_for: Maker,
    venue: FakeBinance,
    market_for: Callable[[str], FakeMarket],
    make_order: Callable[..., Order],
    symbol: str,
    check: Callable[..., None],
) -> None:
    check(connect_for(symbol), venue, market_for(symbol), make_order, symbol, PAGE)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_a_restart_books_the_fill_of_an_order_placed_days_before(
    connect_for: Maker,
    venue: FakeBinance,
    market_for: Callable[[str], FakeMarket],
    make_order: Callable[..., Order],
    symbol: str,
) -> None:
    """Trades read from its creation show one day (spot) or seven (USD-M) of them: it is looked up by order id."""
    check_filled_days_after_it_was_placed(connect_for(symbol), venue, market_for(symbol), make_order, symbol)


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
    assert venue.futures is not None and venue.futures.open_orders(FUTURES) == []


def test_each_poll_reads_the_account_trades_on_from_the_last_not_from_the_oldest_order(
    connect_for: Maker, venue: FakeBinance, make_order: Callable[..., Order]
) -> None:
    """An order taken up days after it was placed: the first poll reads from its creation, the next ones do not."""
    symbol = "BTC/USDT"
    placing = connect_for(symbol)()
    order = make_order(symbol=symbol, type=OrderType.LIMIT, price=resting_price(placing, symbol))
    placing.submit_order(order)
    record, fills = journaled(order, placing.poll_events())
    placing.close()
    created = datetime.now(UTC) - timedelta(days=2)
    restarted = connect_for(symbol)()
    assert restarted.resume_order(record.model_copy(update={"created_at": created}), fills) is not None
    asked = len(venue.requests)
    restarted.poll_events()
    restarted.poll_events()
    starts = [int(r.params["startTime"]) for r in venue.requests[asked:] if r.path.endswith("/myTrades")]
    created_ms = int(created.timestamp() * 1000)
    assert len(starts) == 2 and created_ms - 61_000 <= starts[0] <= created_ms, starts
    assert starts[1] >= int(time.time() * 1000) - 61_000, starts  # a minute before the present


def test_a_fill_the_venue_counts_before_it_lists_the_trade_is_looked_for_each_poll_then_booked_once(
    connect_for: Maker,
    venue: FakeBinance,
    market_for: Callable[[str], FakeMarket],
    make_order: Callable[..., Order],
    caplog: pytest.LogCaptureFixture,
) -> None:
    symbol = "BTC/USDT"
    market = market_for(symbol)
    exchange = connect_for(symbol)()
    price = resting_price(exchange, symbol)
    order = make_order(symbol=symbol, type=OrderType.LIMIT, price=price)
    exchange.submit_order(order)
    exchange.poll_events()
    venue.set_price(symbol, price - price / 100)
    unlisted = market.trades.pop()  # the order counts as filled; its trade is not listed yet
    asked = len(venue.requests)
    with caplog.at_level("WARNING", logger="tradekit.ccxt"):
        for _ in range(5):
            assert fills_of(order, exchange.poll_events()) == []
    by_order = [r for r in venue.requests[asked:] if r.path.endswith("/myTrades") and "orderId" in r.params]
    assert len(by_order) == 5
    (warning,) = [r.getMessage() for r in caplog.records if order.client_order_id in r.getMessage()]
    assert f"counts {order.quantity} of order" in warning and "after 5 polls" in warning
    market.trades.append(unlisted)
    (fill,) = fills_of(order, exchange.poll_events())
    assert fill.quantity == order.quantity
    assert exchange.poll_events() == []
