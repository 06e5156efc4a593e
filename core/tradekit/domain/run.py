"""What plugins are told about a run and about the account when asked to judge."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import Order
from tradekit.domain.portfolio import Position


class RunMode(StrEnum):
    """The three ways the one engine runs: they differ in clock, data and where orders go."""

    BACKTEST = "backtest"
    DRY_RUN = "dry_run"
    LIVE = "live"


@dataclass(frozen=True)
class RunInfo:
    """Who is running what: handed to the start and stop hooks."""

    run_id: str
    mode: RunMode
    exchange: str
    strategies: tuple[str, ...]
    symbols: tuple[str, ...]
    risk_rules: tuple[str, ...] = ()
    notifiers: tuple[str, ...] = ()
    started_at: datetime | None = None


@dataclass(frozen=True)
class RunSummary:
    """How a run ended: handed to the stop hook."""

    run_id: str
    reason: str
    ended_at: datetime
    equity: Decimal
    orders: int
    fills: int
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RiskContext:
    """The account as a risk rule sees it when judging one intent.

    Built only when an intent is judged (rarely), never per bar.
    """

    timestamp: datetime
    equity: Decimal
    quote_currency: str
    cash: dict[str, Decimal]
    positions: dict[str, Position]
    open_orders: tuple[Order, ...]
    prices: dict[str, Decimal]
    instruments: dict[str, Instrument]
    mode: RunMode = RunMode.BACKTEST
