"""A run's risk verdicts, summed up for ``tradekit report``: what each rule decided, and the latest blocks.

Built from :meth:`tradekit.journal.Journal.risk_verdicts` rows: every check,
its combined decision and every rule's verdict, as the engine journaled them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tradekit.domain.events import RiskAction

if TYPE_CHECKING:
    from rich.table import Table


@dataclass
class RuleTally:
    """How often one rule accepted, resized and rejected."""

    rule: str
    accepted: int = 0
    resized: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class NotableCheck:
    """One check that did not simply pass: when, the intent, the decision and the rules' reasons."""

    timestamp: datetime
    decision: str
    intent: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class RiskSummary:
    """Every check of a run, counted by decision and by rule, with the latest blocked or resized ones."""

    checks: int
    decisions: dict[str, int]
    rules: list[RuleTally] = field(default_factory=list)
    recent: list[NotableCheck] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view (for ``tradekit report --json``)."""
        return {
            "checks": self.checks,
            "decisions": dict(self.decisions),
            "rules": [vars(tally) for tally in self.rules],
            "recent": [
                {
                    "timestamp": check.timestamp.isoformat(),
                    "decision": check.decision,
                    "intent": check.intent,
                    "reasons": list(check.reasons),
                }
                for check in self.recent
            ],
        }


def summarize_risk_verdicts(rows: list[dict[str, Any]], recent: int = 10) -> RiskSummary:
    """Count ``rows`` (as the journal reads them back) by decision and by rule; keep the ``recent`` latest blocks."""
    decisions: dict[str, int] = {}
    tallies: dict[str, RuleTally] = {}
    notable: list[NotableCheck] = []
    for row in rows:
        decisions[row["decision"]] = decisions.get(row["decision"], 0) + 1
        reasons = []
        for verdict in row["verdicts"]:
            tally = tallies.setdefault(verdict.rule, RuleTally(verdict.rule))
            if verdict.action is RiskAction.REJECT:
                tally.rejected += 1
            elif verdict.action is RiskAction.RESIZE:
                tally.resized += 1
            else:
                tally.accepted += 1
            if verdict.action is not RiskAction.ACCEPT:
                reasons.append(f"{verdict.rule}: {verdict.reason}")
        if row["decision"] != RiskAction.ACCEPT.value:
            intent = row["intent"]
            notable.append(
                NotableCheck(
                    timestamp=row["timestamp"],
                    decision=row["decision"],
                    intent=f"{intent.side.value} {intent.quantity} {intent.symbol} ({intent.type.value})",
                    reasons=tuple(reasons),
                )
            )
    return RiskSummary(
        checks=len(rows),
        decisions=decisions,
        rules=list(tallies.values()),
        recent=notable[-recent:] if recent > 0 else [],
    )


def render_risk_summary(summary: RiskSummary) -> list[Table]:
    """Rich tables: verdicts per rule, then the latest checks that blocked or resized an order."""
    from rich.table import Table

    tables = []
    per_rule = Table(title="risk verdicts", title_justify="left")
    for column, justify in (("rule", "left"), ("accepted", "right"), ("resized", "right"), ("rejected", "right")):
        per_rule.add_column(column, justify=justify)  # type: ignore[arg-type]
    for tally in summary.rules:
        per_rule.add_row(tally.rule, f"{tally.accepted:,}", f"{tally.resized:,}", f"{tally.rejected:,}")
    tables.append(per_rule)
    if summary.recent:
        latest = Table(title=f"last {len(summary.recent)} orders blocked or resized by risk", title_justify="left")
        for column in ("time", "decision", "intent", "reasons"):
            latest.add_column(column)
        for check in summary.recent:
            latest.add_row(
                f"{check.timestamp:%Y-%m-%d %H:%M:%S}", check.decision, check.intent, "\n".join(check.reasons)
            )
        tables.append(latest)
    return tables
