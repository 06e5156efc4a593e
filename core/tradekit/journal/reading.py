"""The reading half of the journal: runs, orders, fills and the rest, as domain objects again."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tradekit.domain.events import NotifierEvent, RiskVerdict, Severity
from tradekit.domain.orders import Fill, Order, OrderIntent, OrderStatus
from tradekit.domain.portfolio import Position
from tradekit.domain.run import RunMode
from tradekit.errors import UserError
from tradekit.journal.codec import load_payload, model_from_json, parse_iso
from tradekit.journal.connection import JournalConnection, guarded
from tradekit.journal.records import RUN_COLUMNS, RunRecord, run_record_from_row
from tradekit.secrets import redact

_NOT_TERMINAL = tuple(status.value for status in OrderStatus if not status.is_terminal)
_FILL_COLUMNS = (
    "fill_id",
    "client_order_id",
    "symbol",
    "side",
    "quantity",
    "price",
    "fee",
    "fee_currency",
    "liquidity",
    "timestamp",
)


class JournalReader(JournalConnection):
    """What :class:`~tradekit.journal.Journal` can tell about the runs it holds."""

    @guarded("listing runs", reads=True)
    def list_runs(self, limit: int = 50) -> list[RunRecord]:
        """The ``limit`` most recently started runs, newest first."""
        rows = self._connection.execute(
            f"SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?", (limit,)
        ).fetchall()
        return [run_record_from_row(row) for row in rows]

    @guarded("looking up a run", reads=True)
    def get_run(self, run_ref: str) -> RunRecord:
        """The run whose id is ``run_ref`` or, failing that, the one run whose id starts with it.

        Raises :class:`UserError` when no run or several runs match, listing them.
        """
        row = self._connection.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_ref,)).fetchone()
        if row is not None:
            return run_record_from_row(row)
        candidates = (
            []
            if not run_ref
            else self._connection.execute(
                "SELECT run_id FROM runs WHERE substr(run_id, 1, length(?1)) = ?1 ORDER BY started_at DESC, rowid DESC",
                (run_ref,),
            ).fetchall()
        )
        if len(candidates) == 1:
            row = self._connection.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (candidates[0][0],)
            ).fetchone()
            return run_record_from_row(row)
        if not candidates:
            recent = [
                row[0]
                for row in self._connection.execute(
                    "SELECT run_id FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 5"
                )
            ]
            known = f"; the newest are {', '.join(recent)}" if recent else "; it holds no runs yet"
            raise UserError(
                f"no run {run_ref!r} in the journal {self.path}{known}",
                hint="`tradekit runs` lists the runs it holds.",
            )
        shown = ", ".join(row[0] for row in candidates[:10])
        more = f" and {len(candidates) - 10} more" if len(candidates) > 10 else ""
        raise UserError(
            f"{run_ref!r} matches {len(candidates)} runs in the journal {self.path}: {shown}{more}",
            hint="Give more characters of the run id.",
        )

    @guarded("reading orders", reads=True)
    def orders(self, run_id: str) -> list[Order]:
        """Every order of the run, as last recorded, in the order they were first recorded."""
        rows = self._connection.execute("SELECT data FROM orders WHERE run_id = ? ORDER BY rowid", (run_id,)).fetchall()
        return [model_from_json(Order, row[0]) for row in rows]

    @guarded("reading open orders", reads=True)
    def open_orders(self, run_id: str) -> list[Order]:
        """The run's orders whose last recorded status is not terminal (NEW, ACCEPTED, PARTIALLY_FILLED).

        NEW orders are included: one recorded before the venue answered may or
        may not exist there, so a restart must look each up by its client
        order id before sending anything again.
        """
        marks = ", ".join("?" * len(_NOT_TERMINAL))
        rows = self._connection.execute(
            f"SELECT data FROM orders WHERE run_id = ? AND status IN ({marks}) ORDER BY rowid",
            (run_id, *_NOT_TERMINAL),
        ).fetchall()
        return [model_from_json(Order, row[0]) for row in rows]

    @guarded("reading an order's history", reads=True)
    def order_history(self, run_id: str, client_order_id: str) -> list[tuple[datetime, OrderStatus, str | None]]:
        """Every state the order was recorded in, oldest first: (time, status, reason)."""
        rows = self._connection.execute(
            "SELECT timestamp, status, reason FROM order_updates WHERE run_id = ? AND client_order_id = ? ORDER BY id",
            (run_id, client_order_id),
        ).fetchall()
        return [(parse_iso(moment), OrderStatus(status), reason) for moment, status, reason in rows]

    @guarded("reading fills", reads=True)
    def fills(self, run_id: str) -> list[Fill]:
        """Every fill of the run, in the order they were recorded."""
        rows = self._connection.execute(
            f"SELECT {', '.join(_FILL_COLUMNS)} FROM fills WHERE run_id = ? ORDER BY rowid", (run_id,)
        ).fetchall()
        return [Fill.model_validate(dict(zip(_FILL_COLUMNS, row, strict=True))) for row in rows]

    @guarded("reading positions", reads=True)
    def positions(self, run_id: str) -> dict[str, Position]:
        """The last recorded position of each symbol of the run (flat ones included)."""
        rows = self._connection.execute(
            "SELECT symbol, quantity, average_price, realized_pnl FROM positions WHERE id IN "
            "(SELECT max(id) FROM positions WHERE run_id = ? GROUP BY symbol) ORDER BY symbol",
            (run_id,),
        ).fetchall()
        return {row[0]: _position(row) for row in rows}

    @guarded("reading the position history", reads=True)
    def position_history(self, run_id: str, symbol: str | None = None) -> list[tuple[datetime, Position]]:
        """Every recorded position of the run (of ``symbol`` only, if given), oldest first."""
        rows = self._connection.execute(
            "SELECT symbol, quantity, average_price, realized_pnl, timestamp FROM positions "
            "WHERE run_id = ?1 AND (?2 IS NULL OR symbol = ?2) ORDER BY id",
            (run_id, symbol),
        ).fetchall()
        return [(parse_iso(row[4]), _position(row)) for row in rows]

    @guarded("reading risk verdicts", reads=True)
    def risk_verdicts(self, run_id: str) -> list[dict[str, Any]]:
        """Every risk check of the run, oldest first.

        Each is a dict with ``timestamp`` (datetime), ``decision`` (str),
        ``client_order_id`` (str or None), ``intent`` (:class:`OrderIntent`) and
        ``verdicts`` (list of :class:`RiskVerdict`, in rule order).
        """
        rows = self._connection.execute(
            "SELECT timestamp, decision, client_order_id, intent, verdicts FROM risk_checks "
            "WHERE run_id = ? ORDER BY id",
            (run_id,),
        ).fetchall()
        return [
            {
                "timestamp": parse_iso(moment),
                "decision": decision,
                "client_order_id": client_order_id,
                "intent": model_from_json(OrderIntent, intent),
                "verdicts": [RiskVerdict.model_validate(item) for item in json.loads(verdicts)],
            }
            for moment, decision, client_order_id, intent, verdicts in rows
        ]

    @guarded("reading events", reads=True)
    def events(self, run_id: str) -> list[NotifierEvent]:
        """Every notifier event of the run, in the order they were recorded."""
        rows = self._connection.execute(
            "SELECT kind, severity, message, timestamp, event_run_id, data FROM events WHERE run_id = ? ORDER BY id",
            (run_id,),
        ).fetchall()
        return [
            NotifierEvent(
                kind=kind,
                message=message,
                severity=Severity(severity),
                timestamp=parse_iso(moment),
                run_id=event_run_id,
                data=load_payload(data),
            )
            for kind, severity, message, moment, event_run_id, data in rows
        ]

    @guarded("reading a strategy's state", reads=True)
    def last_strategy_state(self, run_id: str, strategy: str) -> dict[str, Any] | None:
        """The state ``strategy`` last recorded in the run, or ``None`` if it never did."""
        row = self._connection.execute(
            "SELECT state FROM strategy_states WHERE run_id = ? AND strategy = ? ORDER BY id DESC LIMIT 1",
            (run_id, strategy),
        ).fetchone()
        if row is None:
            return None
        state: dict[str, Any] = load_payload(row[0])
        return state

    @guarded("reading a run's last activity", reads=True)
    def last_activity(self, run_id: str) -> datetime | None:
        """The latest time stamped on any order state, fill or strategy state of the run, or ``None``.

        Those times are bar times (the engine's clock), so a run resumed after
        this moment replays nothing that changed anything: every change was
        journaled, and bars after the last one changed nothing.
        """
        row = self._connection.execute(
            "SELECT max(moment) FROM ("
            " SELECT max(timestamp) AS moment FROM order_updates WHERE run_id = ?"
            " UNION ALL SELECT max(timestamp) FROM fills WHERE run_id = ?"
            " UNION ALL SELECT max(timestamp) FROM strategy_states WHERE run_id = ?)",
            (run_id, run_id, run_id),
        ).fetchone()
        return None if row is None or row[0] is None else parse_iso(row[0])

    # A backtest is never resumed: its batches can wait (a live run's start does not unpack them).
    @guarded("looking for a run to resume", reads=True, unpacks=False)
    def latest_resumable_run(
        self,
        strategy: str,
        exchange: str,
        symbols: tuple[str, ...],
        *,
        mode: RunMode | None = None,
    ) -> RunRecord | None:
        """The newest run of ``strategy`` on ``exchange`` over ``symbols`` that never finished.

        That is what a restart resumes. Symbols match as a set (their order
        does not matter). With ``mode`` only runs of that mode count; without
        it any mode but backtest does (a backtest is replayed, never resumed),
        so pass it to keep a live run from picking up a dry run's orders.
        """
        mode_test = "mode != ?" if mode is None else "mode = ?"
        rows = self._connection.execute(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE ended_at IS NULL AND exchange = ? AND symbols_key = ? "
            f"AND {mode_test} ORDER BY started_at DESC, rowid DESC",
            (exchange, symbols_key(symbols), (mode or RunMode.BACKTEST).value),
        ).fetchall()
        for row in rows:
            record = run_record_from_row(row)
            if strategy in record.strategies:
                return record
        return None

    @guarded("reading a report", reads=True)
    def report(self, run_id: str) -> dict[str, Any] | None:
        """The report stored for the run, or ``None`` if none was."""
        row = self._connection.execute("SELECT report FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        report: dict[str, Any] = load_payload(row[0])
        return report


def symbols_key(symbols: tuple[str, ...]) -> str:
    """How a run's symbols are matched on restart: as a set, order and repeats ignored."""
    return json.dumps(sorted({redact(symbol) for symbol in symbols}))


def _position(row: tuple[Any, ...]) -> Position:
    return Position.model_validate(
        {"symbol": row[0], "quantity": row[1], "average_price": row[2], "realized_pnl": row[3]}
    )
