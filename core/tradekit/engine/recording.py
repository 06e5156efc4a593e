"""How the engine hands orders, fills and positions to the journal.

Live and dry runs write each record as it happens (:class:`DirectRecorder`):
a run that dies leaves everything it did. A backtest captures the same records
in memory, cheaply, and has them written in bulk by a second thread, a
transaction per half :data:`DEFERRED_BATCH` order states and one when it ends
or fails (:class:`DeferredRecorder`): writing tens of thousands of orders one
by one would cost more than the backtest itself, and holding them all until
the end would cost memory in proportion to the run's length.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tradekit.domain.orders import Fill, Order
    from tradekit.domain.portfolio import PositionFigures
    from tradekit.journal import Journal
    from tradekit.journal.bulk import FillRow, OrderState


#: Order states a DeferredRecorder holds at most, uncommitted: half being written, half being captured.
DEFERRED_BATCH = 5_000
#: Order states a DeferredRecorder encodes at a time: they, their orders and fills are still in the CPU's
#: caches then (encoding half a batch at once, from memory, costs a tenth more).
ENCODED_AT_ONCE = 256


class Recorder(Protocol):
    """Where the engine sends each order state, fill and position."""

    def order(self, order: Order) -> None:
        """``order`` reached a new state (or was created)."""
        ...

    def fill(self, fill: Fill, position: PositionFigures) -> None:
        """``fill`` happened; ``position`` is the position after it (copy what is kept: it may change)."""
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

    def fill(self, fill: Fill, position: PositionFigures) -> None:
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

    def fill(self, fill: Fill, position: PositionFigures) -> None:
        """Ignore the fill."""

    def send(self) -> None:
        """Nothing to hand over."""

    def flush(self) -> None:
        """Nothing to write."""


class DeferredRecorder:
    """Captures records in memory and has them written in bulk, on a second thread, while the run goes on.

    Each order state and fill costs a small tuple, encoded (its strings
    redacted) with a few hundred others, and with the snapshots of the orders
    they belong to (:func:`~tradekit.journal.bulk.encode_records`).
    Every ``batch // 2`` order states, those arrays, joined
    (:func:`~tradekit.journal.bulk.encode_batch`), are handed to a
    :class:`~tradekit.journal.writer.BackgroundWriter`, which commits it
    while the next half fills: at most ``batch`` order states are held in
    memory, or lost by a crash. :meth:`flush` waits until everything is
    committed, and raises the journal's error if a write failed.
    """

    def __init__(self, journal: Journal, run_id: str, batch: int | None = None) -> None:
        from tradekit.journal.bulk import fill_row
        from tradekit.journal.writer import BackgroundWriter

        self.journal = journal
        self.run_id = run_id
        self.batch = DEFERRED_BATCH if batch is None else batch
        self._hand_off_at = max(1, self.batch // 2)
        self._encode_at = min(ENCODED_AT_ONCE, self._hand_off_at)
        self._writer = BackgroundWriter(journal, run_id)
        self._fill_row = fill_row
        # Orders recorded since the last encoding, whose snapshot it writes, in the order they first came.
        self._orders: dict[str, Order] = {}
        self._states: list[OrderState] = []
        self._fills: list[FillRow] = []
        # What was captured and encoded since the last batch (see encode_records), and how many states.
        # An order that changed again after its snapshot was encoded is encoded again (the writer keeps
        # the last): only orders recorded since go in the next part, as DirectRecorder writes only what
        # it is handed.
        self._encoded_states: list[bytes] = []
        self._encoded_fills: list[bytes] = []
        self._encoded_orders: list[bytes] = []
        self._encoded = 0

    def order(self, order: Order) -> None:
        """Keep the order (its snapshot is taken with the batch) and this state (for its history)."""
        # On the engine's hot path: read the instance dict, build one tuple (see OrderState); its strings
        # are redacted when it is encoded, with a few hundred others.
        state = order.__dict__
        client_order_id = state["client_order_id"]
        self._orders[client_order_id] = order
        updated_at = state["updated_at"]
        moment = updated_at or state["created_at"] or datetime.now(UTC)
        if moment.tzinfo is not UTC:
            from tradekit.journal.codec import utc

            moment = utc(moment)
        self._states.append(
            (
                client_order_id,
                state["status"],
                state["filled_quantity"],
                state["reason"],
                moment,
                updated_at is not None,
            )
        )
        if len(self._states) >= self._encode_at:
            self._encode()
            if self._encoded >= self._hand_off_at:
                self._hand_off()

    def fill(self, fill: Fill, position: PositionFigures) -> None:
        """Keep what the journal writes of the fill and of the position after it."""
        self._fills.append(self._fill_row(fill, position))

    def send(self) -> None:
        """Hand what was captured to the writer and return while it is written; :meth:`flush` waits.

        The end of a backtest sends its last batch, builds its report, then
        flushes: the two overlap. Raises as :meth:`flush` does.
        """
        try:
            self._hand_off()
        except BaseException:
            with contextlib.suppress(BaseException):  # the error is the one being raised
                self._writer.close()
            raise

    def flush(self) -> None:
        """Write what was captured and wait until all of it is committed.

        Raises the journal's :class:`~tradekit.errors.UserError` when a write
        failed (this one or an earlier batch's); what was committed before stays.
        """
        try:
            self._hand_off()
        finally:
            # Also after a failed write: the writer's connection is closed, its error raised.
            self._writer.close()

    def _encode(self) -> None:
        from tradekit.journal.bulk import encode_records

        if self._states or self._fills:
            states, fills, orders = encode_records(self._states, self._fills, self._orders.values())
            self._encoded_states.append(states)
            self._encoded_fills.append(fills)
            self._encoded_orders.append(orders)
            self._encoded += len(self._states)
            self._states = []
            self._fills = []
            self._orders = {}
        # The last part of a batch may be smaller: a batch is exactly half of ``batch`` states.
        self._encode_at = max(1, min(ENCODED_AT_ONCE, self._hand_off_at - self._encoded))

    def _hand_off(self) -> None:
        from tradekit.journal.bulk import encode_batch

        self._encode()
        if not self._encoded_states:
            return
        batch = encode_batch(self._encoded_states, self._encoded_orders, self._encoded_fills)
        self._encoded_orders = []
        self._encoded_states = []
        self._encoded_fills = []
        self._encoded = 0
        self._encode_at = min(ENCODED_AT_ONCE, self._hand_off_at)
        self._writer.submit(batch)
