"""What the journal hands back about a run: :class:`RunRecord`, and the row readers behind it."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradekit.domain.run import RunMode
from tradekit.journal.codec import load_payload, parse_iso

#: The columns :func:`run_record_from_row` expects, in order; ``orders`` and
#: ``fills`` are counted from the journal's own tables, so a run that died
#: still shows what it did.
RUN_COLUMNS = """
    runs.run_id, runs.mode, runs.exchange, runs.strategies, runs.symbols, runs.started_at,
    runs.ended_at, runs.end_reason,
    (SELECT count(*) FROM orders WHERE orders.run_id = runs.run_id),
    (SELECT count(*) FROM fills WHERE fills.run_id = runs.run_id),
    runs.equity, runs.config, runs.risk_rules, runs.notifiers, runs.stats
"""


@dataclass(frozen=True)
class RunRecord:
    """One run as the journal knows it.

    ``ended_at`` and ``end_reason`` are ``None`` for a run that is still going
    or that died without :meth:`~tradekit.journal.Journal.finish_run`;
    ``equity`` is the final equity its summary gave (``None`` likewise).
    ``orders`` and ``fills`` count what the journal holds for the run.
    ``config`` is the run's configuration as journaled, secrets redacted;
    ``stats`` the statistics of its summary.
    """

    run_id: str
    mode: RunMode
    exchange: str
    strategies: tuple[str, ...]
    symbols: tuple[str, ...]
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    orders: int
    fills: int
    equity: Decimal | None
    config: dict[str, Any]
    risk_rules: tuple[str, ...] = ()
    notifiers: tuple[str, ...] = ()
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """True once the run was closed with a summary."""
        return self.ended_at is not None


def run_record_from_row(row: sqlite3.Row | tuple[Any, ...]) -> RunRecord:
    """Build a :class:`RunRecord` from a row selected with :data:`RUN_COLUMNS`."""
    (
        run_id,
        mode,
        exchange,
        strategies,
        symbols,
        started_at,
        ended_at,
        end_reason,
        orders,
        fills,
        equity,
        config,
        risk_rules,
        notifiers,
        stats,
    ) = row
    return RunRecord(
        run_id=run_id,
        mode=RunMode(mode),
        exchange=exchange,
        strategies=tuple(json.loads(strategies)),
        symbols=tuple(json.loads(symbols)),
        started_at=parse_iso(started_at),
        ended_at=None if ended_at is None else parse_iso(ended_at),
        end_reason=end_reason,
        orders=int(orders),
        fills=int(fills),
        equity=None if equity is None else Decimal(equity),
        config=load_payload(config),
        risk_rules=tuple(json.loads(risk_rules)),
        notifiers=tuple(json.loads(notifiers)),
        stats={} if stats is None else load_payload(stats),
    )
