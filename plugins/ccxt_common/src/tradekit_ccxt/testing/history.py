"""Fills found however far back in the account's trades they lie: past a page of other trades, past a time window.

A venue serves an account's trades a page at a time (Binance 1,000, Hyperliquid
2,000) and Binance only a day (spot) or a week (USD-M) after a start time. Each
check makes the fake venue's account busy, or its order old, and asserts that
the fill of the connector's order is reported, once. A connector's tests call
them with its fake server, its market and its page size, on exchanges that
poll at every call (``refresh_interval = 0``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tradekit.domain.orders import Order, OrderType
from tradekit_ccxt.exchange import CcxtExchange
from tradekit_ccxt.testing.exchanges import resting_price
from tradekit_ccxt.testing.market import FakeMarket
from tradekit_ccxt.testing.restart import fill_it_and_restart, fills_of, left_resting
from tradekit_ccxt.testing.server import FakeVenueServer

Connect = Callable[[], CcxtExchange]
DAY_MS = 86_400_000


def check_a_fill_behind_more_than_a_page_of_other_trades(
    connect: Connect,
    server: FakeVenueServer,
    market: FakeMarket,
    make_order: Callable[..., Order],
    symbol: str,
    page: int,
) -> None:
    """A running process: more than a page of the account's other trades come before its resting order fills."""
    exchange = connect()
    price = resting_price(exchange, symbol)
    order = make_order(symbol=symbol, type=OrderType.LIMIT, price=price)
    exchange.submit_order(order)
    assert fills_of(order, exchange.poll_events()) == []
    market.trade_elsewhere(symbol, page + 50, order.quantity)  # another client on the same account
    server.set_price(symbol, price - price / 100)
    (fill,) = fills_of(order, exchange.poll_events())
    assert fill.quantity == order.quantity and fill.price == price
    assert exchange.poll_events() == []


def check_filled_after_a_busy_outage(
    connect: Connect,
    server: FakeVenueServer,
    market: FakeMarket,
    make_order: Callable[..., Order],
    symbol: str,
    page: int,
) -> None:
    """While the run was down the account traded more than a page before its order filled: the fill is booked."""
    record, fills = left_resting(connect, make_order, symbol)
    market.trade_elsewhere(symbol, page + 50, record.quantity)
    fill_it_and_restart(connect, server, record, fills)


def check_filled_days_after_it_was_placed(
    connect: Connect, server: FakeVenueServer, market: FakeMarket, make_order: Callable[..., Order], symbol: str
) -> None:
    """An order placed eight days before the restart (past a week's window) fills while down: the fill is booked."""
    record, fills = left_resting(connect, make_order, symbol)
    market.backdate(8 * DAY_MS)  # the process died eight days after it placed the order
    placed = datetime.now(UTC) - timedelta(days=8)
    fill_it_and_restart(connect, server, record.model_copy(update={"created_at": placed}), fills)
