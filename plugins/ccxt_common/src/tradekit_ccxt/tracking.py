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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tradekit.domain.orders import Fill, Order
from tradekit.order_events import OrderEvents, TrackedOrder

log = logging.getLogger("tradekit.ccxt")


@dataclass(kw_only=True)
class Tracked(TrackedOrder):
    """One order sent (or adopted) by this process: the kernel's record, plus the venue's ids for it."""

    venue_client_id: str
    since_ms: int
    exchange_order_id: str | None = None
    #: Polls in a row that found fewer of its trades than the venue counts filled.
    short_polls: int = 0

    @property
    def venue_order_id(self) -> str | None:
        """The venue's own id of the order."""
        return self.exchange_order_id


class OrderTracker(OrderEvents[Tracked]):
    """The orders of this process by client order id and by the venue's id (the lifecycle is the kernel's)."""

    def __init__(self) -> None:
        super().__init__(log)
        self._by_exchange_id: dict[str, str] = {}

    def track(self, order: Order, venue_client_id: str, since_ms: int, *, filled: Decimal = Decimal(0)) -> Tracked:
        """Start following ``order`` (``filled`` is what was already booked before, for an adopted order)."""
        return self._follow(
            Tracked(order=order.model_copy(), venue_client_id=venue_client_id, since_ms=since_ms, filled=filled)
        )

    def take_up(self, order: Order, venue_client_id: str, since_ms: int, fills: Sequence[Fill]) -> Tracked:
        """Follow an order of a run that died: the journal's ``fills`` count as reported (by trade id)."""
        tracked = Tracked(order=order.model_copy(), venue_client_id=venue_client_id, since_ms=since_ms)
        return self._take_up(tracked, fills, (fill.fill_id for fill in fills), order.status)

    def by_exchange_id(self, exchange_order_id: str | None) -> Tracked | None:
        """The tracked order the venue calls ``exchange_order_id``, or None."""
        if exchange_order_id is None:
            return None
        client_order_id = self._by_exchange_id.get(str(exchange_order_id))
        return self._orders.get(client_order_id) if client_order_id is not None else None

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
        """The venue holds the order (and may say its id now): ACCEPTED, once, never after a fill."""
        self.learn_exchange_id(tracked, exchange_order_id)
        super().acknowledge(tracked, at)

    def add_fill(self, tracked: Tracked, fill: Fill) -> bool:  # type: ignore[override]
        """Report ``fill`` unless it was reported before (by its trade id); False when it was, or would overfill."""
        return super().add_fill(tracked, fill.fill_id, fill)

    def settle(self, tracked: Tracked, venue: Order, at: datetime, *, reason: str | None = None) -> None:
        """Take the venue's view of an order (learning its id): see :meth:`OrderEvents.settle`."""
        self.learn_exchange_id(tracked, venue.exchange_order_id)
        super().settle(tracked, venue, at, reason=reason)
