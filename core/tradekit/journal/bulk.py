"""Writing a backtest's orders, fills and positions in bulk: a batch a row, unpacked when read.

A backtest records an order state, a fill and a position every few
microseconds. Binding each row to SQLite from Python would cost about as much
as the backtest itself, so a batch travels as JSON instead: the engine's thread
captures each record as a small tuple (:data:`OrderState`, :data:`FillRow`),
msgspec encodes a few hundred of each kind into a JSON array in one call
(:func:`encode_records`, :func:`~tradekit.journal.codec.plain_json`), and a
:class:`~tradekit.journal.writer.BackgroundWriter` commits the batch's arrays
as one row of ``record_batches`` (:func:`write_batch`) on a second thread
while the backtest goes on.

Inserting those rows into the tables (orders, order_updates, fills,
positions), with their indexes, costs SQLite about as much CPU time as the
backtest: on a machine whose other core is busy it would nearly double the
backtest's time. So the first read through a
:class:`~tradekit.journal.Journal` does it instead (:func:`unpack_batches`):
a single ``INSERT`` a batch, whose trigger reads the arrays with ``json_each``.
A batch is as durable either way: a run that dies keeps every batch it
committed.

The rows are the ones :meth:`~tradekit.journal.Journal.record_order`,
``record_fill`` and ``record_position`` write, value for value: strings are
captured as they are and redacted a batch at a time
(:func:`~tradekit.journal.snapshots.holds_no_secret` vouches for a batch, else
each string is redacted), an order's snapshot is
:func:`~tradekit.journal.codec.model_json`'s text
(:func:`~tradekit.journal.snapshots.encode_orders`), and times travel in
pydantic's UTC form, which SQL turns into :func:`~tradekit.journal.codec.iso`'s.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from tradekit.domain.orders import Fill
from tradekit.domain.portfolio import PositionFigures
from tradekit.journal.codec import iso, plain_json, utc
from tradekit.journal.schema import immediate_transaction
from tradekit.journal.snapshots import encode_orders, holds_no_secret
from tradekit.secrets import redact

#: One order state, as captured for its history row: client order id, status, filled quantity, reason,
#: the state's time (in UTC) and whether the order had an ``updated_at`` then (the history row's
#: ``updated_at``, else NULL; its ``timestamp`` falls back on ``created_at``). Strings not yet redacted.
OrderState = tuple[str, str, Decimal, str | None, datetime, bool]
#: A fill as captured for its row (fill id, client order id, symbol, side, quantity, price, fee, fee
#: currency, liquidity, time in UTC), then the position after it (symbol, quantity, average price,
#: realized profit). Strings not yet redacted.
FillRow = tuple[str, str, str, str, Decimal, Decimal, Decimal, str, str, datetime, str, Decimal, Decimal, Decimal]


def fill_row(fill: Fill, position: PositionFigures) -> FillRow:
    """What the journal keeps of ``fill`` and of ``position``, the position after it (copied now)."""
    # The fill read from its instance dict: the model is frozen and was validated when made.
    f = fill.__dict__
    moment = f["timestamp"]
    return (
        f["fill_id"],
        f["client_order_id"],
        f["symbol"],
        f["side"],
        f["quantity"],
        f["price"],
        f["fee"],
        f["fee_currency"],
        f["liquidity"],
        moment if moment.tzinfo is UTC else utc(moment),
        position.symbol,
        position.quantity,
        position.average_price,
        position.realized_pnl,
    )


#: Where a state and a fill row hold strings.
_STATE_TEXTS = (0, 3)
_FILL_TEXTS = (0, 1, 2, 7, 10)


@dataclass(frozen=True, slots=True)
class BulkBatch:
    """What a backtest recorded since its last batch, encoded by :func:`encode_batch`."""

    #: JSON array of :data:`OrderState` rows, in the order the states happened.
    states: bytes
    #: JSON array of the snapshots of the orders the batch touched, in the order they first came. An
    #: order that changed again after its snapshot was encoded comes again, later: the last one is its latest.
    orders: bytes
    #: JSON array of :data:`FillRow` rows, in the order the fills happened.
    fills: bytes


def encode_records(
    states: list[OrderState], fills: list[FillRow], orders: Iterable[BaseModel]
) -> tuple[bytes, bytes, bytes]:
    """``states``, ``fills`` and the snapshot of each of ``orders`` as JSON arrays, in order, strings redacted.

    Called every few hundred states, while what they name is still in the CPU's caches: the snapshots
    cost a third less then than encoded from memory, every order of a batch at once.
    """
    return _redacted_json(states, _STATE_TEXTS), _redacted_json(fills, _FILL_TEXTS), encode_orders(orders)


def encode_batch(states: Sequence[bytes], orders: Sequence[bytes], fills: Sequence[bytes]) -> BulkBatch:
    """A batch of the arrays :func:`encode_records` made, each kind joined into one, in order."""
    return BulkBatch(states=_joined(states), orders=_joined(orders), fills=_joined(fills))


def _joined(arrays: Sequence[bytes]) -> bytes:
    """One JSON array of the items of ``arrays``, in order."""
    if len(arrays) == 1:
        return arrays[0]
    return b"[" + b",".join(array[1:-1] for array in arrays if array != b"[]") + b"]"


def _redacted_json(rows: list[Any], texts: tuple[int, ...]) -> bytes:
    """``rows`` as a JSON array, the strings at positions ``texts`` of each row redacted."""
    encoded = plain_json(rows)
    if holds_no_secret(encoded):
        return encoded
    redacted = []
    for row in rows:
        values = list(row)
        for position in texts:
            if values[position] is not None:
                values[position] = redact(values[position])
        redacted.append(tuple(values))
    return plain_json(redacted)


def write_batch(connection: sqlite3.Connection, run_id: str, batch: BulkBatch) -> None:
    """Commit ``batch`` for ``run_id`` as it is, one row of ``record_batches`` (``connection`` in autocommit mode).

    Its rows reach the tables when the journal is next read (:func:`unpack_batches`): inserting them
    costs SQLite about as much CPU time as the backtest itself, which a second thread hides only on
    an idle second core. Committed as it is, a batch costs a tenth of that, and it is as durable.
    """
    connection.execute(
        "INSERT INTO record_batches (run_id, orders, states, fills) VALUES (?, ?, ?, ?)",
        (run_id, batch.orders, batch.states, batch.fills),
    )


def unpack_batches(connection: sqlite3.Connection, progress: Callable[[int, int], None] | None = None) -> int:
    """Move the batches of ``record_batches`` into the tables, oldest first; returns how many it moved.

    Each batch moves in a transaction of its own (its rows inserted, its row deleted), so a reader
    unpacking a long backtest holds the write lock a batch at a time. The oldest batch left is
    chosen inside that transaction, so two readers unpacking at once move each batch once, in order.
    Batches committed after the call began are left to the next read. ``progress(done, total)`` is
    called after each batch. ``connection`` is in autocommit mode.
    """
    last, total = connection.execute("SELECT max(id), count(*) FROM record_batches").fetchone()
    moved = 0
    while total:
        with immediate_transaction(connection):
            row = connection.execute(
                "SELECT id, run_id, orders, states, fills FROM record_batches WHERE id <= ? ORDER BY id LIMIT 1",
                (last,),
            ).fetchone()
            if row is not None:
                batch_id, run_id, orders, states, fills = row
                _insert_batch(connection, run_id, BulkBatch(states=states, orders=orders, fills=fills))
                connection.execute("DELETE FROM record_batches WHERE id = ?", (batch_id,))
        if row is None:  # the rest were moved by another reader
            break
        moved += 1
        if progress is not None:
            progress(moved, total)
    return moved


def _insert_batch(connection: sqlite3.Connection, run_id: str, batch: BulkBatch) -> None:
    """Insert ``batch``'s rows for ``run_id`` into the tables (inside the caller's transaction)."""
    if any(_escapes_nul(part) for part in (batch.orders, batch.states, batch.fills)):
        _write_rows(connection, run_id, batch)
        return
    # One statement: its trigger reads each array once, with json_each, and inserts every table's rows.
    values = (run_id, batch.orders, batch.states, batch.fills)
    try:
        connection.execute(_INSERT_BATCH, values)
    except sqlite3.OperationalError as error:
        if "tradekit_batch" not in str(error):
            raise
        # This connection's first batch.
        connection.execute(_BATCH_VIEW)
        connection.execute(_BATCH_TRIGGER)
        connection.execute(_INSERT_BATCH, values)


def _iso(text: str) -> str:
    """SQL writing ``text``, a UTC time in pydantic's form (``...T03:04:05Z``, ``...T03:04:05.12Z``), as iso() does."""
    # pydantic writes no fraction for a whole second, else six digits.
    return f"substr(replace({text}, 'Z', '') || '.000000', 1, 26) || '+00:00'"


def _rows(array: str, columns: str) -> str:
    """A subquery of ``columns`` read from each row ``v`` of the JSON ``array``."""
    # "LIMIT -1 OFFSET 0" keeps SQLite from folding a subquery into the query around it, where each
    # use of a column would render and parse the row's JSON again.
    return (
        f"(SELECT {columns} FROM (SELECT value AS v FROM json_each(CAST({array} AS TEXT)) LIMIT -1 OFFSET 0) "
        "LIMIT -1 OFFSET 0)"
    )


# A batch is unpacked by one statement: inserting a row into this view runs the trigger's inserts.
# Both live in the connection's TEMP schema: the journal file's schema is untouched.
# json_each walks an array in order, so ids and rowids come out in the order things happened. "WHERE
# true" tells SQLite that ON CONFLICT starts an upsert. An order's row repeats fields of its
# snapshot: they are read from it.
_ORDER_FIELDS = ("client_order_id", "symbol", "side", "type", "status", "quantity", "filled_quantity", "updated_at")


def _at(row: str, *positions: int) -> str:
    """SQL reading items ``positions`` of the JSON array ``row``, comma separated.

    json_extract, not the ``->>`` operator, which needs SQLite 3.38: Python 3.11 on an older system
    library (Ubuntu 22.04 has 3.37) still writes journals. The two give the same values here.
    """
    return ", ".join(f"json_extract({row}, '$[{position}]')" for position in positions)


_STATE_COLUMNS = (
    f"{_at('v', 0)} AS c, {_at('v', 1)} AS s, {_at('v', 2)} AS q, {_at('v', 3)} AS r, "
    f"{_iso(_at('v', 4))} AS t, {_at('v', 5)} AS u"
)
_SNAPSHOT_FIELDS = "json_extract(v, " + ", ".join(f"'$.{name}'" for name in _ORDER_FIELDS) + ") AS f"
_BATCH_VIEW = "CREATE TEMP VIEW IF NOT EXISTS tradekit_batch (run_id, orders, states, fills) AS SELECT 1, 1, 1, 1"
_BATCH_TRIGGER = f"""
CREATE TEMP TRIGGER IF NOT EXISTS tradekit_batch_insert INSTEAD OF INSERT ON tradekit_batch
BEGIN
    INSERT INTO orders (run_id, client_order_id, symbol, side, type, status, quantity, filled_quantity,
                        updated_at, data)
    SELECT NEW.run_id, {_at("f", *range(7))}, {_iso(_at("f", 7))}, v
    FROM {_rows("NEW.orders", "v, " + _SNAPSHOT_FIELDS)}
    WHERE true
    ON CONFLICT (run_id, client_order_id) DO UPDATE SET
        symbol = excluded.symbol, side = excluded.side, type = excluded.type, status = excluded.status,
        quantity = excluded.quantity, filled_quantity = excluded.filled_quantity,
        updated_at = excluded.updated_at, data = excluded.data;
    INSERT INTO order_updates (run_id, client_order_id, status, timestamp, reason, filled_quantity, updated_at)
    SELECT NEW.run_id, c, s, t, r, q, CASE WHEN u THEN t END
    FROM {_rows("NEW.states", _STATE_COLUMNS)}
    WHERE true
    ON CONFLICT (run_id, client_order_id, status, filled_quantity) DO NOTHING;
    INSERT INTO fills (run_id, fill_id, client_order_id, symbol, side, quantity, price, fee, fee_currency,
                       liquidity, timestamp)
    SELECT NEW.run_id, {_at("v", *range(9))}, {_iso(_at("v", 9))}
    FROM {_rows("NEW.fills", "v")}
    WHERE true
    ON CONFLICT (run_id, fill_id) DO NOTHING;
    INSERT INTO positions (run_id, symbol, quantity, average_price, realized_pnl, timestamp)
    SELECT NEW.run_id, {_at("v", 10, 11, 12, 13)}, {_iso(_at("v", 9))}
    FROM {_rows("NEW.fills", "v")};
END
"""
_INSERT_BATCH = "INSERT INTO tradekit_batch (run_id, orders, states, fills) VALUES (?, ?, ?, ?)"


# SQLite's JSON functions end a string at an escaped NUL: a batch holding one is written row by row.
def _escapes_nul(text: bytes) -> bool:
    # memchr finds a backslash (rare in this JSON) at memory speed; the six-byte search is 50 times slower.
    return b"\\" in text and b"\\u0000" in text


def _write_rows(connection: sqlite3.Connection, run_id: str, batch: BulkBatch) -> None:
    """``batch``'s rows bound one by one (in the caller's transaction), with Journal.record_*'s statements.

    Slower than the trigger, and exact for NULs.
    """
    from tradekit.journal.store import _INSERT_FILL, _INSERT_ORDER_UPDATE, _INSERT_POSITION, _UPSERT_ORDER

    orders = []
    # Each snapshot's text as the array holds it (SQLite gives back an object's text as it read it).
    for (snapshot,) in connection.execute("SELECT value FROM json_each(CAST(? AS TEXT))", (batch.orders,)):
        order = json.loads(snapshot)
        row = [order[name] for name in _ORDER_FIELDS]
        orders.append((run_id, *row[:-1], _iso_of(row[-1]), snapshot))
    connection.executemany(_UPSERT_ORDER, orders)
    states = [
        (run_id, s[0], s[1], _iso_of(s[4]), s[3], s[2], _iso_of(s[4]) if s[5] else None)
        for s in json.loads(batch.states)
    ]
    connection.executemany(_INSERT_ORDER_UPDATE, states)
    fills = json.loads(batch.fills)
    connection.executemany(_INSERT_FILL, [(run_id, *row[:9], _iso_of(row[9])) for row in fills])
    connection.executemany(_INSERT_POSITION, [(run_id, *row[10:], _iso_of(row[9])) for row in fills])


def _iso_of(text: str | None) -> str | None:
    """A time written in pydantic's form, written as iso() does."""
    return None if text is None else iso(datetime.fromisoformat(text))
