"""Orders of a run that died, taken up by a new process: what the venue did meanwhile is reported, once.

Each check places an order with one exchange (the process that dies), keeps
what that process polled as its journal would, lets the fake venue fill or
cancel the order while no process watches, and hands the journal's record to
a new exchange's :meth:`~tradekit_ccxt.exchange.CcxtExchange.resume_order`.
The new process must report every fill the dead one did not, none it did,
and how the order ended after its fills. A connector's tests call them with
its fake server and market.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from tradekit.domain.orders import Fill, Order, OrderStatus, OrderType, OrderUpdate
from tradekit_ccxt.exchange import CcxtExchange
from tradekit_ccxt.testing.exchanges import resting_price
from tradekit_ccxt.testing.market import FakeMarket
from tradekit_ccxt.testing.server import FakeVenueServer

Connect = Callable[[], CcxtExchange]


def journaled(order: Order, events: Sequence[OrderUpdate | Fill]) -> tuple[Order, list[Fill]]:
    """``order`` as a journal holds it after the engine applied ``events`` (the dead process's polls), its fills."""
    record = order.model_copy()
    fills: list[Fill] = []
    for event in events:
        if event.client_order_id != order.client_order_id:
            continue
        if isinstance(event, Fill):
            record.record_fill(event.quantity, event.price, event.fee, at=event.timestamp)
            fills.append(event)
        elif event.status is not record.status and event.status not in (
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
        ):
            record.transition(event.status, at=event.timestamp)
    return record, fills


def fills_of(order: Order, events: Sequence[OrderUpdate | Fill]) -> list[Fill]:
    """The fills of ``order`` among ``events``."""
    return [e for e in events if isinstance(e, Fill) and e.client_order_id == order.client_order_id]


def _kinds(events: Sequence[OrderUpdate | Fill]) -> list[str]:
    return [f"fill {e.quantity}" if isinstance(e, Fill) else e.status.value for e in events]


def _taking_half(
    connect: Connect, market: FakeMarket, make_order: Callable[..., Order], symbol: str
) -> tuple[CcxtExchange, Order]:
    """A buy limit above the market sent by a new exchange (returned): half takes at once, the rest rests."""
    placing = connect()
    latest = placing.latest_price(symbol)
    assert latest is not None
    price = placing.instruments([symbol])[symbol].round_price(latest * Decimal("1.02"))
    order = make_order(symbol=symbol, type=OrderType.LIMIT, price=price, quantity=Decimal("0.02"))
    market.partial_next = Decimal("0.5")
    placing.submit_order(order)
    return placing, order


def left_resting(connect: Connect, make_order: Callable[..., Order], symbol: str) -> tuple[Order, list[Fill]]:
    """A buy limit 10 % under the market, placed and polled by a process that then dies: its journal's record."""
    placing = connect()
    order = make_order(symbol=symbol, type=OrderType.LIMIT, price=resting_price(placing, symbol))
    placing.submit_order(order)
    record, fills = journaled(order, placing.poll_events())
    assert record.status is OrderStatus.ACCEPTED and not fills
    placing.close()  # the process dies
    return record, fills


def fill_it_and_restart(connect: Connect, server: FakeVenueServer, record: Order, fills: Sequence[Fill]) -> None:
    """The venue fills the order left resting; a new process takes it up and reports that fill once, at its limit."""
    assert record.price is not None
    server.set_price(record.symbol, record.price - record.price / 100)
    restarted = connect()
    view = restarted.resume_order(record, fills)
    assert view is not None and view.status is OrderStatus.FILLED, view
    events = restarted.poll_events()
    assert [(e.quantity, e.price) for e in fills_of(record, events)] == [(record.quantity, record.price)], events
    assert restarted.poll_events() == []


def check_filled_while_down(
    connect: Connect, server: FakeVenueServer, make_order: Callable[..., Order], symbol: str
) -> None:
    """A resting order that filled while the run was down: its fill is reported after the restart, once."""
    record, fills = left_resting(connect, make_order, symbol)
    fill_it_and_restart(connect, server, record, fills)


def check_partly_booked_then_filled_while_down(
    connect: Connect,
    server: FakeVenueServer,
    market: FakeMarket,
    make_order: Callable[..., Order],
    symbol: str,
) -> None:
    """A fill booked before the death is not reported again; the one made while down is."""
    placing, order = _taking_half(connect, market, make_order, symbol)
    record, fills = journaled(order, placing.poll_events())
    assert record.status is OrderStatus.PARTIALLY_FILLED and len(fills) == 1, (record, fills)
    placing.close()  # the process dies
    assert order.price is not None
    server.set_price(symbol, order.price - order.price / 100)  # the rest fills, as a maker, at its limit
    restarted = connect()
    view = restarted.resume_order(record, fills)
    assert view is not None and view.status is OrderStatus.FILLED, view
    events = restarted.poll_events()
    assert _kinds(events) == [f"fill {order.quantity - fills[0].quantity}"], events
    (missed,) = events
    assert isinstance(missed, Fill) and missed.fill_id != fills[0].fill_id
    assert restarted.poll_events() == []


def check_cancelled_while_down_after_an_unseen_fill(
    connect: Connect, market: FakeMarket, make_order: Callable[..., Order], symbol: str
) -> None:
    """Sent, half filled and cancelled by hand while down, none of it polled: the fill, then the cancel."""
    placing, order = _taking_half(connect, market, make_order, symbol)
    placing.close()  # dies before its first poll: the journal holds the order as sent (NEW)
    (resting,) = market.open_orders(symbol)
    assert market.cancel(resting.oid)
    restarted = connect()
    view = restarted.resume_order(order, [])
    assert view is not None and view.status is OrderStatus.CANCELLED, view
    half = order.quantity / 2
    assert view.filled_quantity == half
    events = restarted.poll_events()
    # No acknowledgement of its own: the engine accepts an order on its first fill.
    assert _kinds(events) == [f"fill {half}", "cancelled"], events
    assert restarted.poll_events() == []
