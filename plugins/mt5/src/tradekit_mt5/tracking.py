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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from tradekit.domain.orders import Fill, Order
from tradekit.order_events import OrderEvents, TrackedOrder

log = logging.getLogger("tradekit.mt5")


@dataclass(kw_only=True)
class Tracked(TrackedOrder):
    """One order sent (or taken up) by this process: the kernel's record, plus its tag and tickets."""

    tag: str
    since: datetime
    tickets: list[int] = field(default_factory=list)
    #: Why legs after the first could not be sent (the order then ends after the deals of those that were).
    unsent: str | None = None

    @property
    def venue_order_id(self) -> str | None:
        """The first MetaTrader 5 order's ticket."""
        return str(self.tickets[0]) if self.tickets else None


class OrderTracker(OrderEvents[Tracked]):
    """The orders of this process by client order id and by ticket (the lifecycle is the kernel's)."""

    def __init__(self) -> None:
        super().__init__(log)
        self._by_ticket: dict[int, str] = {}

    def track(self, order: Order, tag: str, since: datetime, *, filled: Decimal = Decimal(0)) -> Tracked:
        """Start following ``order`` (``filled``: what was booked before, for an order taken up after a restart)."""
        return self._follow(Tracked(order=order.model_copy(), tag=tag, since=since, filled=filled))

    def take_up(self, order: Order, tag: str, fills: Sequence[Fill], exchange_name: str) -> Tracked:
        """Follow an order of a run that died: the journal's ``fills`` count as reported (by deal ticket).

        The fills' ids are ``<exchange_name>:<deal ticket>``, as this plugin makes them.
        """
        since = order.created_at or min((fill.timestamp for fill in fills), default=None) or datetime.now(UTC)
        tracked = Tracked(order=order.model_copy(), tag=tag, since=since)
        deals = [fill.fill_id.removeprefix(f"{exchange_name}:") for fill in fills]
        return self._take_up(tracked, fills, (int(deal) for deal in deals if deal.isdigit()), order.status)

    def by_ticket(self, ticket: int) -> Tracked | None:
        """The tracked order one of whose MetaTrader 5 orders is ``ticket``, or None."""
        client_order_id = self._by_ticket.get(int(ticket))
        return self._orders.get(client_order_id) if client_order_id is not None else None

    def add_ticket(self, tracked: Tracked, ticket: int) -> None:
        """Remember that the terminal's order ``ticket`` is (part of) ``tracked``."""
        if int(ticket) and int(ticket) not in tracked.tickets:
            tracked.tickets.append(int(ticket))
            self._by_ticket[int(ticket)] = tracked.order.client_order_id

    def add_fill(self, tracked: Tracked, deal: int, fill: Fill) -> bool:  # type: ignore[override]
        """Report ``fill`` (deal ticket ``deal``) unless reported before; False when it was, or would overfill."""
        return super().add_fill(tracked, deal, fill)

    def settle(self, tracked: Tracked, venue: Order, at: datetime, *, reason: str | None = None) -> None:
        """Take the terminal's view of the order; legs never sent are the reason it ends short."""
        super().settle(tracked, venue, at, reason=reason or tracked.unsent)
