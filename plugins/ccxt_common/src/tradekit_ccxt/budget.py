"""A request-weight budget shared by every tradekit process on the machine: a sliding window in SQLite.

Venues count request weight per minute (Binance spot 6,000, USD-M futures
2,400; Hyperliquid 1,200 per IP) and ban clients that go over. ccxt's own
throttle lives in one process and knows nothing of the next one; two
``tradekit run`` processes on one key would each spend the full budget. So
tradekit keeps the account itself, in one small SQLite file under the user's
cache folder, keyed by venue, API family and a hash of the key (never the key):

* every request first *acquires* its weight: it waits until the weight spent
  in the last ``period`` seconds, plus its own, fits under ``limit``, then
  records its spend, in one ``BEGIN IMMEDIATE`` transaction, so two processes
  cannot both take the last slot;
* a venue that answers 429 or 418 with ``Retry-After`` *pauses* the bucket:
  every process waits until then.

In any window of ``period`` seconds the requests sent on one bucket weigh at
most ``limit``, whatever the number of processes (the tests prove it with two).
A spend counts for 5 % longer than the window (at most a second more), so
that the moments between recording a spend and the request reaching the venue
do not push the venue's own count over.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tradekit.errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spends (bucket TEXT NOT NULL, at REAL NOT NULL, weight REAL NOT NULL);
CREATE INDEX IF NOT EXISTS spends_by_bucket ON spends (bucket, at);
CREATE TABLE IF NOT EXISTS pauses (bucket TEXT PRIMARY KEY, until REAL NOT NULL);
"""

#: The longest single sleep while waiting, so a process notices a shorter wait made possible meanwhile.
_MAX_NAP = 0.5


def cache_dir() -> Path:
    """Where tradekit keeps machine-wide state: ``$TRADEKIT_CACHE_DIR``, else the platform's user cache folder."""
    configured = os.environ.get("TRADEKIT_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "tradekit" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "tradekit"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tradekit"


def default_budget_file() -> Path:
    """The shared budget file: ``<cache dir>/rate-limits.sqlite3``."""
    return cache_dir() / "rate-limits.sqlite3"


def key_fingerprint(key: str | None) -> str:
    """A short, one-way name for an API key or wallet (``anonymous`` without one): never the key itself."""
    if not key:
        return "anonymous"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class WeightBudget:
    """``limit`` weight per ``period`` seconds on bucket ``name``, shared through the SQLite file ``path``.

    ``clock`` and ``sleep`` are the wall clock and the wait (replaceable in
    tests); the clock must be the same for every process sharing the file,
    which ``time.time`` is on one machine.
    """

    def __init__(
        self,
        name: str,
        limit: float,
        period: float = 60.0,
        path: Path | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit <= 0 or period <= 0:
            raise ConfigError(f"a rate limit needs a positive weight and period, got {limit} per {period} s")
        self.name = name
        self.limit = float(limit)
        self.period = float(period)
        self.path = path or default_budget_file()
        self.clock = clock
        self.sleep = sleep
        # A spend is recorded a moment before its request leaves and reaches the venue a moment after;
        # keeping it a little longer than the window keeps the venue's count under the limit too.
        self.margin = min(self.period * 0.05, 1.0)
        self.waited = 0.0
        self.last_spent_at: float | None = None
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
                _use_wal(connection)
                connection.executescript(_SCHEMA)
            except (OSError, sqlite3.Error) as error:
                raise ConfigError(
                    f"cannot open the shared rate-limit file {self.path}: {error}",
                    hint="set TRADEKIT_CACHE_DIR, or the exchange's rate_limit_file setting, to a writable place",
                ) from None
            self._connection = connection
        return self._connection

    def acquire(self, weight: float) -> float:
        """Wait until ``weight`` fits in the window, then spend it; returns the seconds waited."""
        if weight <= 0:
            return 0.0
        if weight > self.limit:
            raise ConfigError(
                f"a request of weight {weight:g} can never fit the rate limit of {self.limit:g} per "
                f"{self.period:g} s on {self.name}; raise the limit setting"
            )
        waited = 0.0
        with self._lock:
            connection = self._connect()
            while True:
                wait = self._try_spend(connection, weight)
                if wait <= 0:
                    self.waited += waited
                    return waited
                nap = min(wait, _MAX_NAP)
                self.sleep(nap)
                waited += nap

    def _try_spend(self, connection: sqlite3.Connection, weight: float) -> float:
        """Spend ``weight`` if it fits now (returns 0), else the seconds until it may."""
        connection.execute("BEGIN IMMEDIATE")
        try:
            now = self.clock()
            row = connection.execute("SELECT until FROM pauses WHERE bucket = ?", (self.name,)).fetchone()
            if row is not None and row[0] > now:
                connection.execute("COMMIT")
                return float(row[0]) - now
            horizon = now - self.period - self.margin
            connection.execute("DELETE FROM spends WHERE bucket = ? AND at <= ?", (self.name, horizon))
            rows = connection.execute(
                "SELECT at, weight FROM spends WHERE bucket = ? ORDER BY at", (self.name,)
            ).fetchall()
            spent = sum(w for _, w in rows)
            if spent + weight <= self.limit:
                connection.execute("INSERT INTO spends (bucket, at, weight) VALUES (?, ?, ?)", (self.name, now, weight))
                connection.execute("COMMIT")
                self.last_spent_at = now
                return 0.0
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        # The oldest spends leave the window first: wait until enough of them have.
        excess = spent + weight - self.limit
        freed = 0.0
        for at, w in rows:
            freed += w
            if freed >= excess:
                return float(max(at + self.period + self.margin - now, 1e-3))
        return self.period  # unreachable: weight <= limit means the whole window frees enough

    def pause(self, seconds: float) -> None:
        """The venue asked every client of this bucket to wait ``seconds`` (429/418 ``Retry-After``)."""
        if seconds <= 0:
            return
        with self._lock:
            connection = self._connect()
            until = self.clock() + seconds
            connection.execute(
                "INSERT INTO pauses (bucket, until) VALUES (?, ?) "
                "ON CONFLICT(bucket) DO UPDATE SET until = max(until, excluded.until)",
                (self.name, until),
            )

    def spent(self) -> float:
        """Weight spent on this bucket in the last ``period`` seconds (by every process)."""
        with self._lock:
            connection = self._connect()
            (total,) = connection.execute(
                "SELECT coalesce(sum(weight), 0) FROM spends WHERE bucket = ? AND at > ?",
                (self.name, self.clock() - self.period - self.margin),
            ).fetchone()
        return float(total)

    def close(self) -> None:
        """Close this process's connection to the file."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def _use_wal(connection: sqlite3.Connection, patience: float = 30.0) -> None:
    """Put the budget file in write-ahead-log mode, however many processes open it at once.

    Switching the journal mode takes the file exclusively and, unlike other
    writes, does not wait out a busy file: two processes starting together
    would see "database is locked". Once one of them has switched, the mode
    stays, so the others only need to read it.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            if str(connection.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
