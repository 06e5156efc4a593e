"""What Long Wallet shows: its cycles, its phase over time, and a status line for ``tradekit run``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradekit_long_wallet.orders import Kind

if TYPE_CHECKING:
    from tradekit.report.strategy_report import StrategyReport
    from tradekit_long_wallet.window import Slot


@dataclass
class CycleRecord:
    """One cycle: when it ran, what the wallet was worth at its start and end, what it traded and paid."""

    number: int
    start_index: int
    start_time: datetime | None
    start_value: Decimal
    end_index: int | None = None
    end_time: datetime | None = None
    end_value: Decimal | None = None
    round_trips: int = 0
    fees: Decimal = Decimal(0)
    #: What the stops could not sell at the cycle's end: below one lot (rounded to the lot, and reported).
    dust: Decimal = Decimal(0)

    @property
    def growth(self) -> Decimal | None:
        """``end_value / start_value``, once the cycle ended."""
        if self.end_value is None or not self.start_value:
            return None
        return self.end_value / self.start_value


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.01"))


def _time(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def describe_window(slots: list[Slot], level_price: Any) -> str:
    """The window in a line, highest level first: ``buy +2 @ 101.00 | stop -1 @ 98.00 ...``."""
    parts = []
    for slot in sorted(slots, key=lambda s: -s.level):
        what = f"{slot.kind.value} {slot.level:+d} @ {level_price(slot.level)}"
        if slot.kind is Kind.STOP:
            what += f" x{slot.quantity}"
        if slot.market:
            what += " (market)"
        elif slot.client_order_id is None:
            what += f" (no order: {slot.note or 'to place'})"
        parts.append(what)
    return " | ".join(parts) or "(empty)"


def build_report(
    cycles: list[CycleRecord],
    current: CycleRecord | None,
    phase_changes: list[tuple[int, str]],
    summary: dict[str, Any],
) -> StrategyReport:
    """The backtest report's Long Wallet part: one row per cycle (the running one last), the phase timeline."""
    from tradekit.report.strategy_report import ReportTable, StrategyReport, Timeline

    rows = []
    for record in [*cycles, *([current] if current is not None else [])]:
        growth = record.growth
        rows.append(
            (
                record.number,
                _time(record.start_time),
                _time(record.end_time) if record.end_value is not None else "running",
                _money(record.start_value),
                _money(record.end_value),
                None if growth is None else ((growth - 1) * 100).quantize(Decimal("0.01")),
                record.round_trips,
                _money(record.fees),
                record.dust if record.end_value is not None else None,
            )
        )
    table = ReportTable(
        title="Long Wallet cycles",
        columns=("cycle", "start", "end", "start value", "end value", "growth %", "round trips", "fees", "dust"),
        rows=tuple(rows),
        caption="values: the wallet (position at the price plus its cash); dust: what the stops leave, below one lot",
    )
    return StrategyReport(
        tables=(table,),
        timelines=(Timeline(name="phase", changes=tuple(phase_changes)),),
        summary=summary,
    )
