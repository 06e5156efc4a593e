"""Risk verdicts and notifier events."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RiskAction(StrEnum):
    """What a risk rule decided about an order intent."""

    ACCEPT = "accept"
    RESIZE = "resize"
    REJECT = "reject"


class RiskVerdict(BaseModel):
    """One risk rule's answer about one order intent.

    ``quantity`` is the new size for a RESIZE (never larger than asked: the
    engine takes the smallest of all resizes). ``reason`` is shown to the user
    and journaled, so it should name the limit and the numbers.
    """

    model_config = ConfigDict(frozen=True)

    rule: str
    action: RiskAction
    reason: str = ""
    quantity: Decimal | None = None

    @classmethod
    def accept(cls, rule: str) -> RiskVerdict:
        """The rule lets the intent through unchanged."""
        return cls(rule=rule, action=RiskAction.ACCEPT)

    @classmethod
    def reject(cls, rule: str, reason: str) -> RiskVerdict:
        """The rule blocks the intent, saying why."""
        return cls(rule=rule, action=RiskAction.REJECT, reason=reason)

    @classmethod
    def resize(cls, rule: str, quantity: Decimal, reason: str) -> RiskVerdict:
        """The rule lets a smaller intent through."""
        return cls(rule=rule, action=RiskAction.RESIZE, quantity=quantity, reason=reason)


class EventKind(StrEnum):
    """The events the engine tells notifiers about.

    Plugins may send their own kinds too (``NotifierEvent.kind`` is a plain
    string); these are the ones the kernel emits.
    """

    RUN_STARTED = "run_started"
    RUN_STOPPED = "run_stopped"
    ORDER_PLACED = "order_placed"
    ORDER_FILLED = "order_filled"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_REJECTED = "order_rejected"
    RISK_REJECTED = "risk_rejected"
    ERROR = "error"
    DAILY_SUMMARY = "daily_summary"
    #: A symbol's market data changed state (see ``tradekit_market_data_status``).
    MARKET_DATA = "market_data"


class Severity(StrEnum):
    """How much attention an event deserves."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class NotifierEvent(BaseModel):
    """Something a person may want to hear about.

    ``message`` is plain text for humans; ``data`` holds the numbers for
    notifiers that format their own messages. Neither ever holds a secret:
    the engine passes events through :func:`tradekit.secrets.redact` first.
    """

    model_config = ConfigDict(frozen=True)

    kind: str
    message: str
    severity: Severity = Severity.INFO
    data: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime = Field(default_factory=lambda: datetime.now(UTC))
    run_id: str | None = None
