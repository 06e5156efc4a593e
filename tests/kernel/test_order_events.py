"""OrderEvents: a polled venue's views of an order become engine events, each once, in a lifecycle that holds."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

from tradekit.domain.orders import Fill, Order, OrderIntent, OrderStatus, OrderType, OrderUpdate, Side
from tradekit.order_events import OrderEvents, TrackedOrder

T0 = datetime(2025, 1, 1, tzinfo=UTC)
D = Decimal


class Events(OrderEvents[TrackedOrder]):
    def track(self, order: Order) -> TrackedOrder:
        return self._follow(TrackedOrder(order=order))


def order(quantity: str = "2") -> Order:
    intent = OrderIntent(symbol="BTC/USDT", side=Side.BUY, type=OrderType.LIMIT, quantity=D(quantity), price=D("100"))
    return Order.from_intent(intent, "ab" * 16, created_at=T0)


def fill(n: int, quantity: str = "1") -> Fill:
    return Fill(
        fill_id=f"t{n}", client_order_id="ab" * 16, symbol="BTC/USDT", side=Side.BUY,
        quantity=D(quantity), price=D("100"), timestamp=T0,
    )  # fmt: skip


def venue(status: OrderStatus, filled: str = "0") -> Order:
    view = order()
    view.__dict__.update(status=status, filled_quantity=D(filled))
    return view


def kinds(events: list[OrderUpdate | Fill]) -> list[str]:
    return [e.status.value if isinstance(e, OrderUpdate) else f"fill {e.fill_id}" for e in events]


def test_acknowledged_once_and_each_fill_reported_once() -> None:
    events = Events(logging.getLogger("test"))
    tracked = events.track(order())
    events.settle(tracked, venue(OrderStatus.ACCEPTED), T0)
    events.settle(tracked, venue(OrderStatus.ACCEPTED), T0)
    assert events.add_fill(tracked, "t1", fill(1)) and not events.add_fill(tracked, "t1", fill(1))
    assert events.add_fill(tracked, "t2", fill(2))
    assert kinds(events.drain()) == ["accepted", "fill t1", "fill t2"]
    assert tracked.done and tracked.reported is OrderStatus.FILLED and events.unfinished() == []


def test_a_fill_that_would_overfill_the_order_is_not_reported() -> None:
    events = Events(logging.getLogger("test"))
    tracked = events.track(order("1"))
    assert not events.add_fill(tracked, "t1", fill(1, "1.5"))
    assert events.drain() == [] and tracked.filled == 0


def test_a_cancel_waits_for_the_fills_the_venue_counted() -> None:
    events = Events(logging.getLogger("test"))
    tracked = events.track(order())
    events.settle(tracked, venue(OrderStatus.CANCELLED, filled="1"), T0)  # its fill has not come yet
    assert events.drain() == []
    events.add_fill(tracked, "t1", fill(1))
    events.settle(tracked, venue(OrderStatus.CANCELLED, filled="1"), T0)
    assert kinds(events.drain()) == ["fill t1", "cancelled"]


def test_a_rejection_after_acceptance_is_a_cancel_and_one_before_it_stays_a_rejection() -> None:
    events = Events(logging.getLogger("test"))
    accepted = events.track(order())
    events.acknowledge(accepted, T0)
    events.settle(accepted, venue(OrderStatus.REJECTED), T0)
    assert kinds(events.drain()) == ["accepted", "cancelled"]
    fresh = Events(logging.getLogger("test"))
    refused = fresh.track(order())
    fresh.settle(refused, venue(OrderStatus.REJECTED), T0, reason="post-only would take")
    [update] = fresh.drain()
    assert isinstance(update, OrderUpdate) and (update.status, update.reason) == (
        OrderStatus.REJECTED,
        "post-only would take",
    )


def test_an_order_the_venue_calls_filled_short_of_its_quantity_ends_as_a_cancel() -> None:
    events = Events(logging.getLogger("test"))
    tracked = events.track(order())
    events.add_fill(tracked, "t1", fill(1))
    events.settle(tracked, venue(OrderStatus.FILLED, filled="1"), T0, reason="one leg never sent")
    assert kinds(events.drain()) == ["fill t1", "cancelled"]
    assert tracked.reported is OrderStatus.CANCELLED
