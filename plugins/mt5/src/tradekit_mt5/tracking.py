"""What this process has told the engine about each order it sent, and the events still to tell.

The terminal is polled: its open orders, the history of orders that left
them, and the deals of each order. :class:`OrderTracker` turns those views
into the engine's events, each exactly once and in a lifecycle the engine
accepts: an acknowledgement before anything else, each deal once (by its
ticket), and a cancel or expiry only after every deal the terminal counted
for the order has been reported, so the books never miss a fill that raced a
cancel. One tradekit order may be several MetaTrader 5 orders (a reduce-only
order closing several positions of a hedging account): its tickets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tradekit.domain.orders import Fill, Order, OrderStatus, OrderUpdate

log = logging.getLogger("tradekit.mt5")


@dataclass
class Tracked:
    """One order sent (or taken up) by this process and what the engine has heard of it."""

    order: Order
    tag: str
    since: datetime
    tickets: list[int] = field(default_factory=list)
    reported: OrderStatus = OrderStatus.NEW
    filled: Decimal = Decimal(0)
    deals: set[int] = field(default_factory=set)
    cancel_requested: bool = False
    #: Why legs after the first could not be sent (the order then ends after the deals of those that were).
    unsent: str | None = None

    @property
    def done(self) -> bool:
        """Nothing more will be reported: a terminal state was told, or every unit has filled."""
        return self.reported.is_terminal or self.filled >= self.order.quantity

    @property
    def symbol(self) -> str:
        """The order's symbol."""
        return self.order.symbol


class OrderTracker:
    """The orders of this process by client order id and by ticket, and the events not yet polled."""

    def __init__(self) -> None:
        self._orders: dict[str, Tracked] = {}
        self._by_ticket: dict[int, str] = {}
        self._events: list[OrderUpdate | Fill] = []

    def track(self, order: Order, tag: str, since: datetime, *, filled: Decimal = Decimal(0)) -> Tracked:
        """Start following ``order`` (``filled``: what was booked before, for an order taken up after a restart)."""
        tracked = self._orders.get(order.client_order_id)
        if tracked is None:
            tracked = Tracked(order=order.model_copy(), tag=tag, since=since, filled=filled)
            if filled > 0:
                tracked.reported = OrderStatus.PARTIALLY_FILLED
            self._orders[order.client_order_id] = tracked
        return tracked

    def get(self, client_order_id: str) -> Tracked | None:
        """The tracked order, or None."""
        return self._orders.get(client_order_id)

    def by_ticket(self, ticket: int) -> Tracked | None:
        """The tracked order one of whose MetaTrader 5 orders is ``ticket``, or None."""
        client_order_id = self._by_ticket.get(int(ticket))
        return self._orders.get(client_order_id) if client_order_id is not None else None

    def unfinished(self) -> list[Tracked]:
        """Orders that may still change."""
        return [t for t in self._orders.values() if not t.done]

    def add_ticket(self, tracked: Tracked, ticket: int) -> None:
        """Remember that the terminal's order ``ticket`` is (part of) ``tracked``."""
        if int(ticket) and int(ticket) not in tracked.tickets:
            tracked.tickets.append(int(ticket))
            self._by_ticket[int(ticket)] = tracked.order.client_order_id

    def acknowledge(self, tracked: Tracked, at: datetime) -> None:
        """The terminal holds the order: ACCEPTED, once, and never after a fill was reported."""
        if tracked.reported is OrderStatus.NEW:
            tracked.reported = OrderStatus.ACCEPTED
            self._events.append(
                OrderUpdate(
                    client_order_id=tracked.order.client_order_id,
                    status=OrderStatus.ACCEPTED,
                    timestamp=at,
                    exchange_order_id=str(tracked.tickets[0]) if tracked.tickets else None,
                )
            )

    def add_fill(self, tracked: Tracked, deal: int, fill: Fill) -> bool:
        """Report ``fill`` (deal ``deal``) unless it was reported before; False when it was, or would overfill."""
        if deal in tracked.deals:
            return False
        tracked.deals.add(deal)
        if tracked.filled + fill.quantity > tracked.order.quantity:
            log.error(
                "deal %s of %s for order %s would exceed its quantity %s (%s filled); not reported",
                deal,
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

    def settle(self, tracked: Tracked, venue: Order, at: datetime) -> None:
        """Take the terminal's view of the order: acknowledge it, or end it once its deals are all reported."""
        if venue.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.NEW):
            self.acknowledge(tracked, at)
            return
        if tracked.done or venue.filled_quantity > tracked.filled:
            return  # finished already, or deals still to come
        status = venue.status
        if status is OrderStatus.FILLED:
            if tracked.filled >= tracked.order.quantity:
                return
            status = OrderStatus.CANCELLED  # some legs were never sent: what filled is all there is
        if status is OrderStatus.REJECTED and tracked.reported is not OrderStatus.NEW:
            status = OrderStatus.CANCELLED  # refused after acceptance (a stop-limit at trigger time): a cancel
        if status is not OrderStatus.REJECTED:
            self.acknowledge(tracked, at)
        self.finish(tracked, status, at, tracked.unsent or venue.reason)

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
                exchange_order_id=str(tracked.tickets[0]) if tracked.tickets else None,
                reason=reason,
            )
        )

    def drain(self) -> list[OrderUpdate | Fill]:
        """The events not yet handed out, oldest first."""
        events, self._events = self._events, []
        return events
