"""What this process has told the engine about each order it sent, and the events still to tell.

A REST venue is polled: its open orders, its trades and, for an order that
left the book, its final state. :class:`OrderTracker` turns those views into
the engine's events, each exactly once and in a lifecycle the engine accepts:
an acknowledgement before anything else (never after a fill), each fill once
(by the venue's trade id), and a cancel or expiry only after every fill the
venue counted for the order has been reported, so the books never miss a fill
that raced a cancel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tradekit.domain.orders import Fill, Order, OrderStatus, OrderUpdate

log = logging.getLogger("tradekit.ccxt")


@dataclass
class Tracked:
    """One order sent (or adopted) by this process and what the engine has heard of it."""

    order: Order
    venue_client_id: str
    since_ms: int
    exchange_order_id: str | None = None
    reported: OrderStatus = OrderStatus.NEW
    filled: Decimal = Decimal(0)
    fill_ids: set[str] = field(default_factory=set)
    cancel_requested: bool = False

    @property
    def done(self) -> bool:
        """Nothing more will be reported: a terminal state was told, or every unit has filled."""
        return self.reported.is_terminal or self.filled >= self.order.quantity

    @property
    def symbol(self) -> str:
        """The order's symbol."""
        return self.order.symbol


class OrderTracker:
    """The orders of this process by client order id and by the venue's id, and the events not yet polled."""

    def __init__(self) -> None:
        self._orders: dict[str, Tracked] = {}
        self._by_exchange_id: dict[str, str] = {}
        self._events: list[OrderUpdate | Fill] = []

    def track(self, order: Order, venue_client_id: str, since_ms: int, *, filled: Decimal = Decimal(0)) -> Tracked:
        """Start following ``order`` (``filled`` is what was already booked before, for an adopted order)."""
        tracked = self._orders.get(order.client_order_id)
        if tracked is None:
            tracked = Tracked(order=order.model_copy(), venue_client_id=venue_client_id, since_ms=since_ms)
            tracked.filled = filled
            if filled > 0:
                tracked.reported = OrderStatus.PARTIALLY_FILLED
            self._orders[order.client_order_id] = tracked
        return tracked

    def get(self, client_order_id: str) -> Tracked | None:
        """The tracked order, or None."""
        return self._orders.get(client_order_id)

    def by_exchange_id(self, exchange_order_id: str | None) -> Tracked | None:
        """The tracked order the venue calls ``exchange_order_id``, or None."""
        if exchange_order_id is None:
            return None
        client_order_id = self._by_exchange_id.get(str(exchange_order_id))
        return self._orders.get(client_order_id) if client_order_id is not None else None

    def unfinished(self) -> list[Tracked]:
        """Orders that may still change."""
        return [t for t in self._orders.values() if not t.done]

    def learn_exchange_id(self, tracked: Tracked, exchange_order_id: str | None) -> None:
        """Remember the venue's own id of ``tracked``."""
        if exchange_order_id is not None and tracked.exchange_order_id is None:
            tracked.exchange_order_id = str(exchange_order_id)
            self._by_exchange_id[str(exchange_order_id)] = tracked.order.client_order_id

    def repoint(self, tracked: Tracked, exchange_order_id: str) -> None:
        """The venue now calls the order ``exchange_order_id`` (a triggered stop placed as a new order)."""
        tracked.exchange_order_id = str(exchange_order_id)
        self._by_exchange_id[str(exchange_order_id)] = tracked.order.client_order_id

    def acknowledge(self, tracked: Tracked, at: datetime, exchange_order_id: str | None = None) -> None:
        """The venue holds the order: ACCEPTED, once, and never after a fill was reported."""
        self.learn_exchange_id(tracked, exchange_order_id)
        if tracked.reported is OrderStatus.NEW:
            tracked.reported = OrderStatus.ACCEPTED
            self._events.append(
                OrderUpdate(
                    client_order_id=tracked.order.client_order_id,
                    status=OrderStatus.ACCEPTED,
                    timestamp=at,
                    exchange_order_id=tracked.exchange_order_id,
                )
            )

    def add_fill(self, tracked: Tracked, fill: Fill) -> bool:
        """Report ``fill`` unless it was reported before; False when it was (or would overfill the order)."""
        if fill.fill_id in tracked.fill_ids:
            return False
        tracked.fill_ids.add(fill.fill_id)
        if tracked.filled + fill.quantity > tracked.order.quantity:
            log.error(
                "fill %s of %s for order %s would exceed its quantity %s (%s filled); not reported",
                fill.fill_id,
                fill.quantity,
                tracked.order.client_order_id,
                tracked.order.quantity,
                tracked.filled,
            )
            return False
        tracked.filled += fill.quantity
        if tracked.reported is OrderStatus.NEW:
            tracked.reported = OrderStatus.ACCEPTED  # the engine accepts the order on its first fill
        if not tracked.reported.is_terminal:
            tracked.reported = (
                OrderStatus.FILLED if tracked.filled >= tracked.order.quantity else OrderStatus.PARTIALLY_FILLED
            )
        self._events.append(fill)
        return True

    def settle(self, tracked: Tracked, venue: Order, at: datetime) -> None:
        """Take the venue's view of an order that left the book (or was refused).

        A cancel or expiry is reported only once the fills the venue counted
        have all been reported (they may come a poll later); a filled order
        needs no update of its own (fills move it).
        """
        self.learn_exchange_id(tracked, venue.exchange_order_id)
        status = venue.status
        if status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.NEW):
            if tracked.reported is OrderStatus.NEW and status is not OrderStatus.NEW:
                self.acknowledge(tracked, at)
            return
        if tracked.done:
            return
        if venue.filled_quantity > tracked.filled:
            return  # fills still to come
        if status is OrderStatus.REJECTED and tracked.reported is not OrderStatus.NEW:
            status = OrderStatus.CANCELLED  # refused after acceptance (post-only at trigger time...): a cancel
        if status is not OrderStatus.REJECTED and tracked.reported is OrderStatus.NEW:
            self.acknowledge(tracked, at)
        self.finish(tracked, status, at, venue.reason)

    def finish(self, tracked: Tracked, status: OrderStatus, at: datetime, reason: str | None = None) -> None:
        """Report a terminal ``status`` (CANCELLED, EXPIRED or REJECTED) once."""
        if tracked.reported.is_terminal:
            return
        tracked.reported = status
        self._events.append(
            OrderUpdate(
                client_order_id=tracked.order.client_order_id,
                status=status,
                timestamp=at,
                exchange_order_id=tracked.exchange_order_id,
                reason=reason,
            )
        )

    def drain(self) -> list[OrderUpdate | Fill]:
        """The events not yet handed out, oldest first."""
        events, self._events = self._events, []
        return events
