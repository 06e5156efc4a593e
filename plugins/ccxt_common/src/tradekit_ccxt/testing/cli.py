"""The ``tradekit`` command in-process against a fake venue, with the exchange's settings in the environment.

Builds on the kernel's :class:`tradekit.testing.cli.TradekitCli` (click's runner,
logging and secrets undone after each call) and adds what a connector's tests
repeat: the ``TRADEKIT_PLUGINS__EXCHANGE__<NAME>__<SETTING>`` variables, as a user
sets them, and the counts of the run's journal.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

from tradekit.testing.cli import CliResult, TradekitCli

#: The journal a run writes in its working folder.
JOURNAL = "tradekit-journal.sqlite3"


class ExchangeCli:
    """Runs ``tradekit ARGS`` in ``workdir`` with one exchange's settings set as environment variables.

    ``settings`` are setting names (``api_url``, ``rate_limits``...) and their values as
    text; a call's keyword arguments add to them, ``None`` unsets one. The rate-limit
    folder of the calling test (``TRADEKIT_CACHE_DIR``) is kept: the kernel's runner
    clears every other ``TRADEKIT_*`` variable.
    """

    def __init__(self, workdir: Path, exchange: str, settings: Mapping[str, str | None]) -> None:
        self.cli = TradekitCli(workdir)
        self.prefix = f"TRADEKIT_PLUGINS__EXCHANGE__{exchange.upper()}__"
        self.settings = dict(settings)

    @property
    def workdir(self) -> Path:
        """The folder the command runs in (its journal and data land there)."""
        return self.cli.workdir

    def __call__(self, *args: str, **settings: str | None) -> CliResult:
        """Run ``tradekit ARGS`` with the exchange's settings, updated with ``settings`` for this call."""
        environment: dict[str, str | None] = {"TRADEKIT_CACHE_DIR": os.environ.get("TRADEKIT_CACHE_DIR")}
        for name, value in {**self.settings, **settings}.items():
            environment[f"{self.prefix}{name.upper()}"] = value
        return self.cli(*args, env=environment)


def run_command(exchange: str, strategy: str, *more: str, max_bars: int = 60, timeframe: str = "1m") -> list[str]:
    """``run --strategy STRATEGY --exchange EXCHANGE``, bars as fast as the fake venue reveals them, then ``more``."""
    return [
        "run",
        "--strategy",
        strategy,
        "--exchange",
        exchange,
        "--timeframe",
        timeframe,
        "--max-bars",
        str(max_bars),
        "--poll-interval",
        "0",
        *more,
    ]


def journal_rows(workdir: Path, sql: str) -> list[tuple[Any, ...]]:
    """The rows ``sql`` selects from the journal a run left in ``workdir``."""
    with closing(sqlite3.connect(workdir / JOURNAL)) as connection:
        return connection.execute(sql).fetchall()


def journal_counts(workdir: Path) -> dict[str, int]:
    """How many orders and fills the journal in ``workdir`` holds: ``{"orders": n, "fills": m}``."""
    return {table: journal_rows(workdir, f"SELECT count(*) FROM {table}")[0][0] for table in ("orders", "fills")}
