"""The journal's connection: its lock, its transactions, and SQLite errors made readable.

:class:`JournalConnection` is the base the reading and writing halves of
:class:`~tradekit.journal.Journal` share. Every public method runs through
:func:`guarded`, which holds the lock (a journal may be called from several
threads of one process) and turns an SQLite failure into a
:class:`~tradekit.errors.UserError` naming the file and what to do.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

from tradekit.journal.bulk import unpack_batches
from tradekit.journal.schema import describe_database_error, open_journal_database

log = logging.getLogger(__name__)

#: A batched journal commits once this many rows are pending...
BATCH_ROWS = 5_000
#: ...or once its open transaction is this old (checked at each write), in seconds.
BATCH_SECONDS = 1.0

P = ParamSpec("P")
R = TypeVar("R")
J = TypeVar("J", bound="JournalConnection")
Row = tuple[Any, ...]


def guarded(
    action: str, *, reads: bool = False, unpacks: bool = True
) -> Callable[[Callable[Concatenate[J, P], R]], Callable[Concatenate[J, P], R]]:
    """Run a journal method under its lock, turning SQLite failures into errors people can act on.

    ``reads=True`` first commits what a batched journal holds and, unless
    ``unpacks=False`` (a read that never looks at a backtest's orders), unpacks
    the batches backtests committed (:func:`~tradekit.journal.bulk.unpack_batches`),
    so a reader sees every record made before it.
    """

    def decorate(method: Callable[Concatenate[J, P], R]) -> Callable[Concatenate[J, P], R]:
        @functools.wraps(method)
        def wrapper(self: J, *args: P.args, **kwargs: P.kwargs) -> R:
            with self._lock:
                if self._closed:
                    raise RuntimeError(f"the run journal {self.path} is closed")
                try:
                    if reads:
                        self._flush_pending()
                        if unpacks:
                            self._unpack_or_warn()
                    return method(self, *args, **kwargs)
                except sqlite3.IntegrityError as exc:
                    self._rollback()
                    raise ValueError(f"the run journal {self.path} refused {action}: {exc}") from None
                except sqlite3.Error as exc:
                    self._rollback()
                    raise describe_database_error(self.path, exc, action) from None
                except BaseException:
                    self._rollback()
                    raise

        return wrapper  # type: ignore[return-value]  # functools.wraps hides the ParamSpec

    return decorate


class JournalConnection:
    """An open journal file, its lock and its transaction policy (see :class:`~tradekit.journal.Journal`).

    Opening raises :class:`~tradekit.errors.UserError` for a path that cannot
    be opened, a file that is not a journal, or a journal from a newer tradekit.
    """

    def __init__(self, path: Path, *, durable: bool = True, create: bool = True) -> None:
        self.path = Path(path).expanduser()
        self.durable = durable
        self._lock = threading.RLock()
        self._closed = False
        self._connection = open_journal_database(self.path, durable=durable, create=create)
        # A batched journal's rows wait here, by statement, until the next commit...
        self._pending: dict[str, list[Row]] = {}
        # ...and so do snapshots where only the latest counts (an order's), by statement and key,
        # built only at commit: an order recorded three times in a batch is serialized once.
        self._pending_latest: dict[str, dict[Hashable, Callable[[], Row]]] = {}
        self._pending_rows = 0
        self._batch_started = 0.0
        # Inside atomic(): every write waits for the end of the outermost block.
        self._atomic_depth = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @guarded("committing pending records")
    def flush(self) -> None:
        """Commit whatever a batched journal still holds."""
        self._flush_pending()

    def close(self) -> None:
        """Commit pending records and close the file; closing twice is harmless."""
        with self._lock:
            if self._closed:
                return
            try:
                self._flush_pending()
            except sqlite3.Error as exc:
                self._rollback()
                raise describe_database_error(self.path, exc, "committing its last records") from None
            finally:
                self._closed = True
                self._connection.close()

    # -- transactions ----------------------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Hold every record written inside the block and commit them together when it ends.

        A dry run journals each bar this way: a process killed mid-bar leaves
        the journal as it was after the previous bar, never half a bar (an
        order recorded as sent but not its acknowledgement), so a restart
        replays that bar whole. Blocks nest; the outermost commits, also when
        the block raises (what happened before the error stays recorded).
        """
        with self._lock:
            self._atomic_depth += 1
            try:
                yield
            finally:
                self._atomic_depth -= 1
                if not self._atomic_depth:
                    self._flush_pending()

    def _write(self, *statements: tuple[str, Row]) -> None:
        """Write ``statements`` as one unit: committed now if durable, else with the batch."""
        if self.durable and not self._atomic_depth:
            self._write_now(*statements)
            return
        if not self._pending_rows:
            self._batch_started = time.monotonic()
        for sql, row in statements:
            self._pending.setdefault(sql, []).append(row)
        self._count_pending(len(statements))

    def _write_latest(self, sql: str, key: Hashable, build: Callable[[], Row]) -> None:
        """Batch the row ``build`` makes, replacing any pending row of ``sql`` with the same ``key``."""
        if not self._pending_rows:
            self._batch_started = time.monotonic()
        self._pending_latest.setdefault(sql, {})[key] = build
        self._count_pending(1)

    def _write_now(self, *statements: tuple[str, Row]) -> list[int]:
        """Commit the pending batch, then ``statements`` in one transaction; returns their row counts."""
        self._flush_pending()
        self._connection.execute("BEGIN IMMEDIATE")
        counts = [self._connection.execute(sql, row).rowcount for sql, row in statements]
        self._connection.execute("COMMIT")
        return counts

    def _count_pending(self, rows: int) -> None:
        self._pending_rows += rows
        if self._atomic_depth:
            return
        if self._pending_rows >= BATCH_ROWS or time.monotonic() - self._batch_started >= BATCH_SECONDS:
            self._flush_pending()

    def _flush_pending(self) -> None:
        if not self._pending_rows:
            return
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        for sql, rows in self._pending.items():
            connection.executemany(sql, rows)
        for sql, builders in self._pending_latest.items():
            connection.executemany(sql, [build() for build in builders.values()])
        connection.execute("COMMIT")
        # Cleared only once committed: a batch that failed (a busy or full disk) is tried again
        # whole at the next write, and never half-kept.
        self._pending.clear()
        self._pending_latest.clear()
        self._pending_rows = 0

    def _unpack_or_warn(self) -> None:
        """Unpack the batches backtests committed; if the file cannot be written now, say so and read on.

        Only backtests' orders wait in batches, and no restart reads those: a
        read goes on without them rather than fail (``tradekit runs`` on a
        full disk shows such a run with fewer orders, and the log says why).
        """
        try:
            unpack_batches(self._connection)
        except sqlite3.Error as exc:
            error = describe_database_error(self.path, exc, "unpacking a backtest's orders")
            log.warning(
                "%s; the runs whose orders wait in it show fewer orders and fills until it can be written",
                error.message,
            )

    def _rollback(self) -> None:
        if not self._closed and self._connection.in_transaction:
            self._connection.execute("ROLLBACK")
