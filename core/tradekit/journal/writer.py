"""A second thread that writes a backtest's batches into its journal while the backtest goes on."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradekit.journal.bulk import BulkBatch
    from tradekit.journal.store import Journal


class BackgroundWriter:
    """Writes batches (see :mod:`tradekit.journal.bulk`) into a run's journal, one at a time, in order.

    Each batch is written on a thread of its own, which ends with it: SQLite
    releases the GIL while it writes, so the engine runs on meanwhile. The
    writer opens its own connection to the journal's file with the first
    batch, so the run's other records (events, risk verdicts, strategy
    states) keep going through the run's :class:`~tradekit.journal.Journal`;
    SQLite lets one of the two write at a time.

    :meth:`submit` first waits for the batch before (one is in flight at a
    time) and :meth:`wait` for the last one; both raise, in the caller's
    thread, the error a batch failed with (the journal's ``UserError`` for
    an SQLite failure). After a failure nothing more is written: the journal
    keeps every batch committed before it and no later one, so it has no gaps.
    """

    def __init__(self, journal: Journal, run_id: str) -> None:
        self.journal = journal
        self.run_id = run_id
        self._own: Journal | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, batch: BulkBatch) -> None:
        """Start writing ``batch`` once the batch before it is written."""
        self.wait()
        # Not a daemon: a process that ends while a batch is in flight still commits it.
        self._thread = threading.Thread(target=self._write, args=(batch,), name="tradekit-journal-writer")
        self._thread.start()

    def wait(self) -> None:
        """Return once every submitted batch is written; raise the error one failed with."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Wait for the last batch, then close the writer's connection (a later batch opens it again)."""
        try:
            self.wait()
        finally:
            if self._own is not None:
                own, self._own = self._own, None
                own.close()

    def _write(self, batch: BulkBatch) -> None:
        try:
            if self._own is None:
                from tradekit.journal.store import Journal

                self._own = Journal(self.journal.path, durable=self.journal.durable, create=False)
            self._own.record_orders_in_bulk(self.run_id, batch)
        except BaseException as error:  # raised in the engine's thread by wait()
            self._error = error
