"""How the engine hands orders, fills and positions to the journal.

Live and dry runs write each record as it happens (:class:`DirectRecorder`):
a run that dies leaves everything it did. A backtest captures the same records
in memory, cheaply, and writes them in bulk, a transaction per
:data:`DEFERRED_BATCH` records and one when it ends or fails
(:class:`DeferredRecorder`): serializing tens of thousands of orders one by one
would cost more than the backtest itself, and holding them all until the end
would cost memory in proportion to the run's length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from datetime import datetime

    from tradekit.domain.orders import Fill, Order
    from tradekit.domain.portfolio import Position
    from tradekit.journal import Journal
    from tradekit.journal.store import OrderTransition


#: Order states captured by a DeferredRecorder before it writes what it holds.
DEFERRED_BATCH = 5_000


class Recorder(Protocol):
    """Where the engine sends each order state, fill and position."""

    def order(self, order: Order) -> None:
        """``order`` reached a new state (or was created)."""
        ...

    def fill(self, fill: Fill, position: Position) -> None:
        """``fill`` happened; ``position`` is the position after it."""
        ...

    def flush(self) -> None:
        """Make sure everything recorded so far is in the journal."""
        ...


class DirectRecorder:
    """Writes every record to the journal at once."""

    def __init__(self, journal: Journal, run_id: str) -> None:
        self.journal = journal
        self.run_id = run_id

    def order(self, order: Order) -> None:
        """Record the order's snapshot and its new state."""
        self.journal.record_order(self.run_id, order)

    def fill(self, fill: Fill, position: Position) -> None:
        """Record the fill and the position after it."""
        self.journal.record_fill(self.run_id, fill)
        self.journal.record_position(self.run_id, position, fill.timestamp)

    def flush(self) -> None:
        """Nothing is held back."""
        self.journal.flush()


class NoRecorder:
    """Records nothing: a backtest run with ``journal_orders = false``."""

    def order(self, order: Order) -> None:
        """Ignore the order state."""

    def fill(self, fill: Fill, position: Position) -> None:
        """Ignore the fill."""

    def flush(self) -> None:
        """Nothing to write."""


class DeferredRecorder:
    """Captures records in memory and writes them in bulk: every ``batch`` order states, and at :meth:`flush`."""

    def __init__(self, journal: Journal, run_id: str, batch: int | None = None) -> None:
        self.journal = journal
        self.run_id = run_id
        self.batch = DEFERRED_BATCH if batch is None else batch
        self._orders: dict[str, Order] = {}
        self._transitions: list[OrderTransition] = []
        self._fills: list[Fill] = []
        self._positions: list[tuple[Position, datetime]] = []

    def order(self, order: Order) -> None:
        """Keep the order (its last state is written) and this state (for its history)."""
        from tradekit.journal.store import OrderTransition

        self._orders[order.client_order_id] = order
        self._transitions.append(OrderTransition.of(order))
        if len(self._transitions) >= self.batch:
            self.flush()

    def fill(self, fill: Fill, position: Position) -> None:
        """Keep the fill and the position after it."""
        self._fills.append(fill)
        self._positions.append((position, fill.timestamp))

    def flush(self) -> None:
        """Write what was captured, then forget it; open orders are kept, to be written again as they change."""
        if not (self._orders or self._fills):
            return
        self.journal.record_orders_in_bulk(
            self.run_id, list(self._orders.values()), self._transitions, self._fills, self._positions
        )
        self._orders = {key: order for key, order in self._orders.items() if not order.status.is_terminal}
        self._transitions = []
        self._fills = []
        self._positions = []
