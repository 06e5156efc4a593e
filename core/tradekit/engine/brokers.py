"""Where the engine's orders go: the simulated venue, or a real exchange plugin.

The engine talks to one :class:`Broker`; backtests and dry runs use a
:class:`SimulatedBroker` (fills from the kernel's simulated venue), live runs an
:class:`ExchangeBroker` (the exchange plugin). Nothing else differs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from tradekit.errors import ExchangeError, OrderNotFound, OrderStateUnknown

if TYPE_CHECKING:
    from tradekit.domain.orders import Fill, Order, OrderUpdate
    from tradekit.plugin import Exchange
    from tradekit.sim import SimulatedVenue
    from tradekit.sim.venue import UpdateRecord


class Broker(Protocol):
    """The engine's view of an order destination."""

    name: str

    def submit(self, order: Order, now: datetime, market_price: Decimal | None) -> None:
        """Send ``order``; a refusal arrives as a REJECTED update (or an ExchangeError)."""
        ...

    def cancel(self, order: Order, now: datetime) -> None:
        """Ask for ``order`` to be cancelled."""
        ...

    def poll_events(self) -> list[OrderUpdate | Fill] | list[UpdateRecord | Fill]:
        """What happened to orders since the last call, oldest first.

        An update may come as its :data:`~tradekit.sim.venue.UpdateRecord`
        tuple (the simulated venue's), which the engine reads the same way.
        """
        ...

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """The destination's resting orders."""
        ...

    def fetch_order(self, client_order_id: str, symbol: str) -> Order | None:
        """The destination's view of one order."""
        ...

    def resume_order(self, order: Order, fills: Sequence[Fill]) -> Order | None:
        """Take up an order of a run that died (its journal's record and fills); the destination's view of it."""
        ...

    @property
    def follows_resumed_orders(self) -> bool:
        """Whether fills a resumed order made while the run was down arrive through :meth:`poll_events`."""
        ...


class SimulatedBroker:
    """Orders fill against the kernel's simulated venue."""

    def __init__(self, venue: SimulatedVenue) -> None:
        self.venue = venue
        self.name = venue.name
        # The venue's own method, not a wrapper around it: the engine drains events twice per order, and
        # takes its updates as plain records (the engine reads their five values and drops them).
        self.poll_events = venue.poll_records

    def submit(self, order: Order, now: datetime, market_price: Decimal | None) -> None:
        """Hand a copy to the venue: the engine's order changes only through events.

        A shallow copy is enough: every field of an order is an immutable value.
        """
        self.venue.submit(order.copy_for_venue(), now, market_price)

    def cancel(self, order: Order, now: datetime) -> None:
        """Cancel on the venue; an order that already finished there is not an error."""
        with contextlib.suppress(OrderNotFound):
            self.venue.cancel(order.client_order_id, now)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """The venue's resting orders."""
        return self.venue.open_orders(symbol)

    def fetch_order(self, client_order_id: str, symbol: str) -> Order | None:
        """The venue's copy of one order."""
        return self.venue.fetch_order(client_order_id)

    def resume_order(self, order: Order, fills: Sequence[Fill]) -> Order | None:
        """The venue's copy of one order (a resumed dry run gave the venue its journal back: nothing was missed)."""
        return self.venue.fetch_order(order.client_order_id)

    @property
    def follows_resumed_orders(self) -> bool:
        """True: the simulated venue made no fills while the run was down."""
        return True


class ExchangeBroker:
    """Orders go to a real exchange plugin.

    A submission whose reply was lost is never sent again blindly: the order
    is first looked up by its client order id, and sent again only if the
    venue does not know it.
    """

    def __init__(self, exchange: Exchange, *, resend_attempts: int = 2) -> None:
        self.exchange = exchange
        self.name = exchange.name
        self.resend_attempts = resend_attempts

    def submit(self, order: Order, now: datetime, market_price: Decimal | None) -> None:
        """Send, and on a retryable failure look the order up before any resend."""
        attempts = 0
        while True:
            try:
                self.exchange.submit_order(order.model_copy())
                return
            except ExchangeError as error:
                if not error.retryable:
                    raise
                # Looked up after every failure, the last one too: an order the
                # venue took must never be reported as refused.
                try:
                    known = self.exchange.fetch_order(order.client_order_id, order.symbol)
                except ExchangeError as lookup_error:
                    raise OrderStateUnknown(
                        f"order {order.client_order_id}: sending failed ({error}) and looking it up failed "
                        f"too ({lookup_error}); it is kept as sent and reconciled from the venue's reports"
                    ) from lookup_error
                if known is not None:
                    return  # the venue has it: the reply was lost, not the order
                if attempts >= self.resend_attempts:
                    raise
                attempts += 1

    def cancel(self, order: Order, now: datetime) -> None:
        """Cancel on the exchange; an order it no longer knows is not an error."""
        with contextlib.suppress(OrderNotFound):
            self.exchange.cancel_order(order)

    def poll_events(self) -> list[OrderUpdate | Fill]:
        """What the exchange reported."""
        return self.exchange.poll_events()

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """The exchange's resting orders."""
        return self.exchange.open_orders(symbol)

    def fetch_order(self, client_order_id: str, symbol: str) -> Order | None:
        """The exchange's view of one order."""
        return self.exchange.fetch_order(client_order_id, symbol)

    def resume_order(self, order: Order, fills: Sequence[Fill]) -> Order | None:
        """The exchange takes up an order of a run that died: :meth:`~tradekit.plugin.Exchange.resume_order`."""
        return self.exchange.resume_order(order.model_copy(), list(fills))

    @property
    def follows_resumed_orders(self) -> bool:
        """Whether the exchange plugin implements :meth:`~tradekit.plugin.Exchange.resume_order`."""
        from tradekit.plugin import follows_resumed_orders

        return follows_resumed_orders(self.exchange)
