"""The :class:`Journal`: a run's orders, fills, positions, state, verdicts and events in SQLite.

Every write passes its strings through :func:`tradekit.secrets.redact`
first, so nothing registered as a secret ever reaches the file. Money is
stored as the text of its ``Decimal`` and read back with the same digits;
timestamps as ISO-8601 text in UTC.

One process writes a journal at a time; any number may read it meanwhile
(SQLite's write-ahead log), which is how ``tradekit runs`` looks at a run
that is still going. A read that finds a backtest's batches not yet in the
tables moves them there first (:func:`~tradekit.journal.bulk.unpack_batches`),
a short write each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tradekit.domain.events import NotifierEvent, RiskVerdict
from tradekit.domain.orders import Fill, Order, OrderIntent
from tradekit.domain.portfolio import PositionFigures
from tradekit.domain.run import RunInfo, RunSummary
from tradekit.errors import UserError
from tradekit.journal.bulk import BulkBatch, unpack_batches, write_batch
from tradekit.journal.codec import dump_payload, iso, model_json
from tradekit.journal.connection import guarded
from tradekit.journal.reading import JournalReader, symbols_key
from tradekit.secrets import redact

_UPSERT_ORDER = """
INSERT INTO orders (run_id, client_order_id, symbol, side, type, status, quantity, filled_quantity,
                    updated_at, data)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, client_order_id) DO UPDATE SET
    symbol = excluded.symbol, side = excluded.side, type = excluded.type, status = excluded.status,
    quantity = excluded.quantity, filled_quantity = excluded.filled_quantity,
    updated_at = excluded.updated_at, data = excluded.data
"""
_INSERT_ORDER_UPDATE = """
INSERT INTO order_updates (run_id, client_order_id, status, timestamp, reason, filled_quantity, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, client_order_id, status, filled_quantity) DO NOTHING
"""
_INSERT_FILL = """
INSERT INTO fills (run_id, fill_id, client_order_id, symbol, side, quantity, price, fee, fee_currency,
                   liquidity, timestamp)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, fill_id) DO NOTHING
"""
_INSERT_POSITION = (
    "INSERT INTO positions (run_id, symbol, quantity, average_price, realized_pnl, timestamp) VALUES (?, ?, ?, ?, ?, ?)"
)


class Journal(JournalReader):
    """The record of runs, written as they happen and read after they end or die.

    ``durable=True`` (live and dry runs) commits every ``record_*`` call
    before it returns, synced to disk: after a crash the journal holds
    everything that was recorded. ``durable=False`` (backtests) holds writes
    in memory and commits them in one transaction every :data:`BATCH_ROWS`
    rows or :data:`BATCH_SECONDS` of wall time (checked at each write), and at
    :meth:`flush`, :meth:`start_run`, :meth:`finish_run`, :meth:`close` and
    before any read through this journal; a crash loses at most that last
    batch. ``create=False`` refuses a missing file rather than
    creating an empty journal (for commands that only read).

    A journal is safe to call from several threads of one process; one
    process writes a journal file at a time.
    """

    def __init__(self, path: Path, *, durable: bool = True, create: bool = True) -> None:
        super().__init__(path, durable=durable, create=create)
        # Run ids seen to exist, so each record can say "call start_run first" at once
        # instead of a foreign-key failure at the next commit.
        self._known_runs: set[str] = set()

    @guarded("starting a run")
    def start_run(self, run: RunInfo, config: dict[str, Any]) -> None:
        """Record that ``run`` starts with ``config`` (JSON-able; redacted here once more).

        Committed at once in either mode, so ``tradekit runs`` shows the run
        from its start. Calling it again for a run that never finished records
        a resume: the run keeps its start time and its records, and takes the
        new config. A run that finished cannot start again.
        """
        run_id = redact(run.run_id)
        self._flush_pending()
        existing = self._connection.execute("SELECT mode, ended_at FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        now = iso(datetime.now(UTC))
        described = (
            redact(run.exchange),
            json.dumps([redact(name) for name in run.strategies]),
            json.dumps([redact(symbol) for symbol in run.symbols]),
            symbols_key(run.symbols),
            json.dumps([redact(name) for name in run.risk_rules]),
            json.dumps([redact(name) for name in run.notifiers]),
            dump_payload(config, where="config"),
        )
        if existing is None:
            started_at = now if run.started_at is None else iso(run.started_at)
            self._write_now(
                (
                    "INSERT INTO runs (run_id, mode, exchange, strategies, symbols, symbols_key, risk_rules, "
                    "notifiers, config, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, run.mode.value, *described, started_at),
                )
            )
        else:
            mode, ended_at = existing
            if ended_at is not None:
                raise UserError(
                    f"run {run_id} in the journal {self.path} already finished at {ended_at}",
                    hint="A finished run cannot start again: start a new run.",
                )
            if mode != run.mode.value:
                raise UserError(
                    f"run {run_id} in the journal {self.path} is a {mode} run, not a {run.mode.value} run",
                    hint="Resume it in the mode it started in, or start a new run.",
                )
            self._write_now(
                (
                    "UPDATE runs SET exchange = ?, strategies = ?, symbols = ?, symbols_key = ?, "
                    "risk_rules = ?, notifiers = ?, config = ?, resumed_at = ? WHERE run_id = ?",
                    (*described, now, run_id),
                )
            )
        self._known_runs.add(run_id)

    @guarded("recording an order")
    def record_order(self, run_id: str, order: Order) -> None:
        """Keep ``order``'s latest snapshot, and add its state to the order's history.

        A history entry is a distinct (status, filled quantity): recording an
        order again without a transition (the same snapshot after a restart,
        a new exchange order id) updates the snapshot and adds no entry.
        """
        run_id = self._known_run(run_id)
        client_order_id = redact(order.client_order_id)
        filled = str(order.filled_quantity)
        updated_at = None if order.updated_at is None else iso(order.updated_at)
        history = (
            run_id,
            client_order_id,
            order.status.value,
            updated_at or iso(order.created_at or datetime.now(UTC)),
            None if order.reason is None else redact(order.reason),
            filled,
            updated_at,
        )
        if self.durable:
            self._write(
                (_UPSERT_ORDER, _order_row(run_id, client_order_id, order)),
                (_INSERT_ORDER_UPDATE, history),
            )
            return
        # Orders are mutable: keep a copy of this state, and serialize only the batch's last one.
        snapshot = order.model_copy()
        self._write((_INSERT_ORDER_UPDATE, history))
        self._write_latest(
            _UPSERT_ORDER,
            (run_id, client_order_id),
            lambda: _order_row(run_id, client_order_id, snapshot),
        )

    @guarded("recording a fill")
    def record_fill(self, run_id: str, fill: Fill) -> None:
        """Keep ``fill``; a fill whose ``fill_id`` the run already holds is ignored."""
        self._write((_INSERT_FILL, _fill_row(self._known_run(run_id), fill)))

    @guarded("recording a position")
    def record_position(self, run_id: str, position: PositionFigures, timestamp: datetime) -> None:
        """Add ``position`` as it stood at ``timestamp`` to the run's position history."""
        self._write((_INSERT_POSITION, _position_row(self._known_run(run_id), position, iso(timestamp))))

    @guarded("recording a backtest's orders")
    def record_orders_in_bulk(self, run_id: str, batch: BulkBatch) -> None:
        """Commit a batch of a backtest's order states, orders, fills and positions, as it is.

        ``batch`` (see :mod:`tradekit.journal.bulk`) holds the rows
        :meth:`record_order`, :meth:`record_fill` and :meth:`record_position`
        would have written one by one, already redacted and encoded. The next
        read (any reading method, or :meth:`unpack_batches`) puts them in the
        tables as those would have, value for value. Safe to call from a
        thread other than the one that opened the journal.
        """
        run_id = self._known_run(run_id)
        self._flush_pending()
        write_batch(self._connection, run_id, batch)

    @guarded("counting a backtest's batches not yet unpacked")
    def pending_batches(self) -> int:
        """How many batches backtests committed that no read has put into the tables yet."""
        return int(self._connection.execute("SELECT count(*) FROM record_batches").fetchone()[0])

    @guarded("unpacking a backtest's orders")
    def unpack_batches(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Move the batches backtests committed into the tables (orders, order_updates, fills, positions).

        Every reading method does this first; call it before reading the
        file with SQL of your own, or to show ``progress(done, total)``
        (called after each batch). A backtest of a million bars takes about
        a second.
        """
        self._flush_pending()
        unpack_batches(self._connection, progress)

    @guarded("recording a strategy's state")
    def record_strategy_state(self, run_id: str, strategy: str, state: dict[str, Any], timestamp: datetime) -> None:
        """Keep what ``strategy`` needs to rebuild itself after a restart.

        ``state`` may hold str, int, float, bool, None, ``Decimal``, ``datetime``,
        lists, tuples (read back as lists) and dicts with string keys; anything
        else raises :class:`TypeError` naming where it sits, because it could
        not be given back as it was.
        """
        row = (
            self._known_run(run_id),
            redact(strategy),
            iso(timestamp),
            dump_payload(state, where=f"state of strategy {strategy}", strict=True),
        )
        self._write(("INSERT INTO strategy_states (run_id, strategy, timestamp, state) VALUES (?, ?, ?, ?)", row))

    @guarded("recording risk verdicts")
    def record_risk_verdicts(
        self,
        run_id: str,
        intent: OrderIntent,
        verdicts: list[RiskVerdict],
        decision: str,
        timestamp: datetime,
        client_order_id: str | None,
    ) -> None:
        """Keep every rule's verdict on ``intent`` and the engine's ``decision`` about it.

        ``client_order_id`` is the id of the order the intent became, if any.
        """
        row = (
            self._known_run(run_id),
            iso(timestamp),
            redact(decision),
            None if client_order_id is None else redact(client_order_id),
            redact(intent.symbol),
            model_json(intent),
            "[" + ",".join(model_json(verdict) for verdict in verdicts) + "]",
        )
        self._write(
            (
                "INSERT INTO risk_checks (run_id, timestamp, decision, client_order_id, symbol, intent, "
                "verdicts) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    @guarded("recording an event")
    def record_event(self, run_id: str, event: NotifierEvent) -> None:
        """Keep a notifier event, its message and data redacted."""
        row = (
            self._known_run(run_id),
            redact(event.kind),
            event.severity.value,
            redact(event.message),
            iso(event.timestamp),
            None if event.run_id is None else redact(event.run_id),
            dump_payload(event.data, where=f"data of event {event.kind}"),
        )
        self._write(
            (
                "INSERT INTO events (run_id, kind, severity, message, timestamp, event_run_id, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    @guarded("storing a report")
    def store_report(self, run_id: str, report: dict[str, Any]) -> None:
        """Keep the final statistics of a backtest (committed at once; Decimals and datetimes come back)."""
        row = (dump_payload(report, where="report"), self._known_run(run_id))
        self._write_now(("UPDATE runs SET report = ? WHERE run_id = ?", row))

    @guarded("finishing a run")
    def finish_run(self, run_id: str, summary: RunSummary) -> None:
        """Record how the run ended, committing everything pending.

        A run without this is one that died: see :meth:`latest_resumable_run`.
        """
        row = (
            iso(summary.ended_at),
            redact(summary.reason),
            str(summary.equity),
            summary.orders,
            summary.fills,
            dump_payload(summary.stats, where="summary stats"),
            self._known_run(run_id),
        )
        self._write_now(
            (
                "UPDATE runs SET ended_at = ?, end_reason = ?, equity = ?, summary_orders = ?, "
                "summary_fills = ?, stats = ? WHERE run_id = ?",
                row,
            )
        )

    def _known_run(self, run_id: str) -> str:
        """``run_id`` redacted, once it is known to have been started; ValueError otherwise."""
        clean = redact(run_id)
        if clean not in self._known_runs:
            # Asked of the database once per run id and journal: the answer cannot change to "no".
            row = self._connection.execute("SELECT 1 FROM runs WHERE run_id = ?", (clean,)).fetchone()
            if row is None:
                raise ValueError(f"run {clean} was never started in the run journal {self.path}: call start_run first")
            self._known_runs.add(clean)
        return clean


def _order_row(run_id: str, client_order_id: str, order: Order) -> tuple[Any, ...]:
    return (
        run_id,
        client_order_id,
        redact(order.symbol),
        order.side.value,
        order.type.value,
        order.status.value,
        str(order.quantity),
        str(order.filled_quantity),
        None if order.updated_at is None else iso(order.updated_at),
        model_json(order),
    )


def _fill_row(run_id: str, fill: Fill) -> tuple[Any, ...]:
    return (
        run_id,
        redact(fill.fill_id),
        redact(fill.client_order_id),
        redact(fill.symbol),
        fill.side.value,
        str(fill.quantity),
        str(fill.price),
        str(fill.fee),
        redact(fill.fee_currency),
        fill.liquidity.value,
        iso(fill.timestamp),
    )


def _position_row(run_id: str, position: PositionFigures, timestamp: str) -> tuple[Any, ...]:
    return (
        run_id,
        redact(position.symbol),
        str(position.quantity),
        str(position.average_price),
        str(position.realized_pnl),
        timestamp,
    )
