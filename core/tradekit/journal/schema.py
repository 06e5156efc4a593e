"""The journal's tables, its schema version, and opening a journal file safely.

Opening never shows an SQLite traceback: a path that cannot be opened, a file
that is not an SQLite database, a damaged one, another program's database or
one written by a newer tradekit all become a :class:`~tradekit.errors.UserError`
naming the file and what to do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from tradekit.errors import UserError

#: The version of the tables below. Raise it with every change and add the
#: statements that bring a journal of the previous version up to it to
#: :data:`MIGRATIONS`.
SCHEMA_VERSION = 2

#: How long a writer or reader waits for another connection's lock, in seconds.
#: Readers never wait for writers in WAL mode, except to unpack a backtest's
#: batches (see journal/bulk.py); this covers two writers meeting.
BUSY_TIMEOUT_SECONDS = 10.0

# A backtest's orders, order states, fills and positions as its writer thread commits them: a row a
# batch, each part a JSON array (see journal/bulk.py). The first read through a Journal moves them
# into the tables (orders, order_updates, fills, positions) and deletes the row.
_RECORD_BATCHES = """
CREATE TABLE record_batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: ids follow the order batches were committed in
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    orders BLOB NOT NULL,              -- order snapshots, each order's latest last
    states BLOB NOT NULL,              -- order states, in the order they happened
    fills BLOB NOT NULL                -- fills, each with the position after it
);
"""

_TABLES = (
    """
CREATE TABLE schema_version (
    version INTEGER NOT NULL,
    applied_at TEXT NOT NULL
);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    mode TEXT NOT NULL,
    exchange TEXT NOT NULL,
    strategies TEXT NOT NULL,          -- JSON array, in config order
    symbols TEXT NOT NULL,             -- JSON array, in config order
    symbols_key TEXT NOT NULL,         -- JSON array, sorted and unique: what a restart matches on
    risk_rules TEXT NOT NULL,
    notifiers TEXT NOT NULL,
    started_at TEXT NOT NULL,
    resumed_at TEXT,                   -- the last time start_run was called again for this run
    config TEXT NOT NULL,
    ended_at TEXT,                     -- NULL while running, or when the run died
    end_reason TEXT,
    equity TEXT,
    summary_orders INTEGER,
    summary_fills INTEGER,
    stats TEXT,
    report TEXT
);
CREATE INDEX runs_by_start ON runs (started_at);
CREATE TABLE orders (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    client_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    quantity TEXT NOT NULL,
    filled_quantity TEXT NOT NULL,
    updated_at TEXT,
    data TEXT NOT NULL,                -- the whole latest snapshot, JSON
    PRIMARY KEY (run_id, client_order_id)
);
CREATE INDEX orders_by_status ON orders (run_id, status);
CREATE TABLE order_updates (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    client_order_id TEXT NOT NULL,
    status TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    reason TEXT,
    filled_quantity TEXT NOT NULL,
    updated_at TEXT                    -- the order's own updated_at, NULL if it had none
);
-- One entry per transition: no two real transitions share a status and a filled quantity.
CREATE UNIQUE INDEX order_updates_by_order
    ON order_updates (run_id, client_order_id, status, filled_quantity);
CREATE TABLE fills (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    fill_id TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity TEXT NOT NULL,
    price TEXT NOT NULL,
    fee TEXT NOT NULL,
    fee_currency TEXT NOT NULL,
    liquidity TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    PRIMARY KEY (run_id, fill_id)
);
CREATE TABLE positions (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    symbol TEXT NOT NULL,
    quantity TEXT NOT NULL,
    average_price TEXT NOT NULL,
    realized_pnl TEXT NOT NULL,
    timestamp TEXT NOT NULL
);
CREATE INDEX positions_by_run ON positions (run_id, symbol, id);
CREATE TABLE strategy_states (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    strategy TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    state TEXT NOT NULL                -- tagged JSON (see codec.py)
);
CREATE INDEX strategy_states_by_run ON strategy_states (run_id, strategy, id);
CREATE TABLE risk_checks (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    timestamp TEXT NOT NULL,
    decision TEXT NOT NULL,
    client_order_id TEXT,
    symbol TEXT NOT NULL,
    intent TEXT NOT NULL,              -- JSON of the OrderIntent as the strategy asked
    verdicts TEXT NOT NULL             -- JSON array of every rule's RiskVerdict, in rule order
);
CREATE INDEX risk_checks_by_run ON risk_checks (run_id, id);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    event_run_id TEXT,
    data TEXT NOT NULL                 -- tagged JSON
);
CREATE INDEX events_by_run ON events (run_id, id);
"""
    + _RECORD_BATCHES
)


def _statements(script: str) -> list[str]:
    # executescript() would commit our BEGIN IMMEDIATE first; run the DDL one statement at a time
    # so table creation and the version row land in one transaction.
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


#: Statements bringing a journal from version ``n - 1`` to ``n``, keyed by ``n``.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 2: a backtest's records are committed in batches and unpacked into the tables when first read.
    2: tuple(_statements(_RECORD_BATCHES)),
}

_DAMAGED_HINT = (
    "Move the file aside (tradekit cannot read the runs recorded in it) and run again: "
    "a new journal is created where none exists."
)


def open_journal_database(path: Path, *, durable: bool, create: bool) -> sqlite3.Connection:
    """Open (or create) the journal at ``path``, its schema current, in WAL mode.

    ``durable`` chooses ``synchronous=FULL`` (every commit reaches the disk
    before the call returns) over ``NORMAL`` (a power cut may lose the last
    commits, never the file). ``create=False`` refuses a missing file instead
    of creating an empty journal, for commands that only read.
    """
    if path.is_dir():
        raise UserError(
            f"the run journal path {path} is a folder",
            hint=f"Give a file path instead, for example {path / 'journal.sqlite'}.",
        )
    if not path.exists():
        if not create:
            raise UserError(
                f"there is no run journal at {path}",
                hint="Run a backtest, dry run or live run first, or give the path of an existing journal.",
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(
                f"cannot create the folder {path.parent} for the run journal {path}: {exc.strerror or exc}",
                hint="Choose a journal path in a folder you can write to.",
            ) from None
    try:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_SECONDS)
    except sqlite3.Error as exc:
        raise UserError(
            f"cannot open the run journal {path}: {exc}",
            hint="Check that the folder exists and that you may read and write it.",
        ) from None
    try:
        _configure(connection, path, durable=durable)
        _ensure_schema(connection, path)
    except sqlite3.Error as exc:
        connection.close()
        raise describe_database_error(path, exc, "opening it") from None
    except BaseException:
        connection.close()
        raise
    return connection


def describe_database_error(path: Path, error: sqlite3.Error, action: str) -> UserError:
    """A user-facing error for an SQLite failure on the journal at ``path`` while ``action``."""
    text = str(error)
    lowered = text.lower()
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return UserError(
            f"the run journal {path} is not a readable SQLite database ({text}) while {action}",
            hint=_DAMAGED_HINT,
        )
    if "locked" in lowered or "busy" in lowered:
        return UserError(
            f"the run journal {path} is locked by another process ({text}) while {action}",
            hint="Another tradekit run may be writing it: wait for it to end, or give this run its own journal file.",
        )
    if "disk is full" in lowered or "readonly" in lowered or "read-only" in lowered:
        return UserError(
            f"cannot write the run journal {path} ({text}) while {action}",
            hint="Free some disk space or check the file's permissions, then run again.",
        )
    return UserError(
        f"the run journal {path} failed ({text}) while {action}",
        hint="Check that the file and its folder are readable and writable.",
    )


def _configure(connection: sqlite3.Connection, path: Path, *, durable: bool) -> None:
    # The first statement reads the file header: this is where "file is not a database" surfaces.
    mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        # Write-ahead logging lets `tradekit runs` read while a run writes.
        mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise UserError(
                f"the run journal {path} cannot use SQLite's write-ahead log (journal mode stayed {mode})",
                hint="Put the journal on a local disk, not a network share.",
            )
    connection.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    connection.execute("PRAGMA foreign_keys=ON")


def _ensure_schema(connection: sqlite3.Connection, path: Path) -> None:
    tables = _table_names(connection)
    if "schema_version" not in tables:
        if tables:
            raise UserError(
                f"{path} is an SQLite database but not a tradekit run journal "
                f"(it holds tables {', '.join(sorted(tables)[:5])})",
                hint="Give the journal a path of its own.",
            )
        with immediate_transaction(connection):
            # Another process may have created it between our look and our lock.
            if not _table_names(connection):
                for statement in _statements(_TABLES):
                    connection.execute(statement)
                _record_version(connection, SCHEMA_VERSION)
    version = connection.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    if version is None:
        raise UserError(f"the run journal {path} has no schema version", hint=_DAMAGED_HINT)
    if version > SCHEMA_VERSION:
        raise UserError(
            f"the run journal {path} was written by a newer tradekit (schema version {version}; "
            f"this tradekit reads up to version {SCHEMA_VERSION})",
            hint="Upgrade tradekit, or give this run another journal file.",
        )
    if version < SCHEMA_VERSION:
        _migrate(connection, path, int(version))


def _migrate(connection: sqlite3.Connection, path: Path, version: int) -> None:
    with immediate_transaction(connection):
        # Another process may have upgraded it between our look and our lock.
        version = int(connection.execute("SELECT max(version) FROM schema_version").fetchone()[0])
        for target in range(version + 1, SCHEMA_VERSION + 1):
            if target not in MIGRATIONS:
                raise UserError(
                    f"the run journal {path} has schema version {version}, "
                    f"which this tradekit cannot upgrade to {SCHEMA_VERSION}",
                    hint="Give this run another journal file.",
                )
            for statement in MIGRATIONS[target]:
                connection.execute(statement)
            _record_version(connection, target)


@contextmanager
def immediate_transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back if anything raises."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _record_version(connection: sqlite3.Connection, version: int) -> None:
    connection.execute(
        "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
        (version, datetime.now(UTC).isoformat(timespec="microseconds")),
    )


def _table_names(connection: sqlite3.Connection) -> set[str]:
    rows = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return {str(row[0]) for row in rows}
