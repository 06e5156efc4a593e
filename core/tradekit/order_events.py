"""Turning what a polled venue shows of an order into the engine's events, each exactly once.

An exchange plugin that learns of its orders by polling (open orders, trades
or deals, the final state of an order that left the book) sees the same
things again and again, and in no reliable order. :class:`OrderEvents` keeps,
per order sent or adopted by this process, what the engine has been told,
and emits events in a lifecycle the engine accepts: an acknowledgement before
anything else (never after a fill), each fill once (by the venue's own key
for it: a trade id, a deal ticket), and a cancel, expiry or rejection only
once every fill the venue counted for the order has been reported, so the
books never miss a fill that raced a cancel.

Connectors subclass :class:`TrackedOrder` with what their venue identifies an
order by, and :class:`OrderEvents` to index it; the lifecycle lives here once.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

from tradekit.domain.orders import Fill, Order, OrderStatus, OrderUpdate

_OPEN = (OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)


@dataclass(kw_only=True)
class TrackedOrder:
    """One order sent (or adopted) by this process and what the engine has heard of it."""

    order: Order
    reported: OrderStatus = OrderStatus.NEW
    filled: Decimal = Decimal(0)
    #: The venue's keys of the fills already reported (trade ids, deal tickets).
    fill_keys: set[Hashable] = field(default_factory=set)
    cancel_requested: bool = False

    @property
    def done(self) -> bool:
        """Nothing more will be reported: a terminal state was told, or every unit has filled."""
        return self.reported.is_terminal or self.filled >= self.order.quantity

    @property
    def symbol(self) -> str:
        """The order's symbol."""
        return self.order.symbol

    @property
    def venue_order_id(self) -> str | None:
        """The venue's own id of the order, for the events (None until known)."""
        return None


T = TypeVar("T", bound=TrackedOrder)


class OrderEvents(Generic[T]):
    """The tracked orders of this process by client order id, and the events not yet handed to the engine."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self._orders: dict[str, T] = {}
        self._events: list[OrderUpdate | Fill] = []

    def _follow(self, tracked: T) -> T:
        """Start following ``tracked``; an order already followed is kept as it is."""
        client_order_id = tracked.order.client_order_id
        existing = self._orders.get(client_order_id)
        if existing is not None:
            return existing
        if tracked.filled > 0:
            tracked.reported = OrderStatus.PARTIALLY_FILLED  # adopted with fills booked before
        self._orders[client_order_id] = tracked
        return tracked

    def _take_up(self, tracked: T, fills: Sequence[Fill], keys: Iterable[Hashable], reported: OrderStatus) -> T:
        """Follow an order of a run that died, from its journal: its ``fills`` (the venue's ``keys`` for them), status.

        Any earlier following of the order (a lookup that adopted it) is
        replaced, so a fill the venue made while the run was down is reported
        once, and one the journal has never again.
        """
        tracked.filled = sum((fill.quantity for fill in fills), Decimal(0))
        tracked.fill_keys.update(keys)
        tracked.reported = reported if reported in _OPEN else OrderStatus.ACCEPTED
        self._orders[tracked.order.client_order_id] = tracked
        return tracked

    def forget(self, client_order_id: str) -> None:
        """Stop following an order (one taken up that the venue turned out not to know)."""
        self._orders.pop(client_order_id, None)

    def get(self, client_order_id: str) -> T | None:
        """The tracked order, or None."""
        return self._orders.get(client_order_id)

    def unfinished(self) -> list[T]:
        """Orders that may still change."""
        return [t for t in self._orders.values() if not t.done]

    def acknowledge(self, tracked: T, at: datetime) -> None:
        """The venue holds the order: ACCEPTED, once, and never after a fill was reported."""
        if tracked.reported is OrderStatus.NEW:
            tracked.reported = OrderStatus.ACCEPTED
            self._events.append(
                OrderUpdate(
                    client_order_id=tracked.order.client_order_id,
                    status=OrderStatus.ACCEPTED,
                    timestamp=at,
                    exchange_order_id=tracked.venue_order_id,
                )
            )

    def add_fill(self, tracked: T, key: Hashable, fill: Fill) -> bool:
        """Report ``fill`` (the venue's ``key`` for it) unless it was before; False when it was, or would overfill."""
        if key in tracked.fill_keys:
            return False
        tracked.fill_keys.add(key)
        if tracked.filled + fill.quantity > tracked.order.quantity:
            self.log.error(
                "fill %s of %s for order %s would exceed its quantity %s (%s filled); not reported",
                key,
                fill.quantity,
                tracked.order.client_order_id,
                tracked.order.quantity,
                tracked.filled,
            )
            return False
        tracked.filled += fill.quantity
        if tracked.reported is OrderStatus.NEW:
            tracked.reported = OrderStatus.ACCEPTED  # the engine accepts an order on its first fill
        if not tracked.reported.is_terminal:
            tracked.reported = (
                OrderStatus.FILLED if tracked.filled >= tracked.order.quantity else OrderStatus.PARTIALLY_FILLED
            )
        self._events.append(fill)
        return True

    def settle(self, tracked: T, venue: Order, at: datetime, *, reason: str | None = None) -> None:
        """Take the venue's view of the order: acknowledge it while it is held, end it once its fills are in.

        A filled order needs no update of its own (its fills move it). A cancel,
        expiry or rejection is reported only once the fills the venue counted
        have all been reported (they may come a poll later); so is an order the
        venue calls filled short of its quantity (parts never sent), which ends
        as a cancel. A rejection after acceptance (a post-only refused when its
        trigger fired) is a cancel too. ``reason`` overrides the venue's.
        """
        status = venue.status
        if status in _OPEN or status is OrderStatus.FILLED:
            if status is not OrderStatus.NEW:
                self.acknowledge(tracked, at)
            if status is not OrderStatus.FILLED:
                return
        if tracked.done or venue.filled_quantity > tracked.filled:
            return  # finished already, or fills still to come
        if status is OrderStatus.FILLED or (status is OrderStatus.REJECTED and tracked.reported is not OrderStatus.NEW):
            status = OrderStatus.CANCELLED
        if status is not OrderStatus.REJECTED:
            self.acknowledge(tracked, at)
        self.finish(tracked, status, at, reason or venue.reason)

    def finish(self, tracked: T, status: OrderStatus, at: datetime, reason: str | None = None) -> None:
        """Report a terminal ``status`` (CANCELLED, EXPIRED or REJECTED) once."""
        if tracked.reported.is_terminal:
            return
        tracked.reported = status
        self._events.append(
            OrderUpdate(
                client_order_id=tracked.order.client_order_id,
                status=status,
                timestamp=at,
                exchange_order_id=tracked.venue_order_id,
                reason=reason,
            )
        )

    def drain(self) -> list[OrderUpdate | Fill]:
        """The events not yet handed out, oldest first."""
        events, self._events = self._events, []
        return events
