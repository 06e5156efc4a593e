"""Long Wallet's state as it is journaled at every change, and read back after a restart.

Only plain values go in: numbers as exact decimal text (Decimals written with
``str``, read back with ``Decimal``), whole numbers, lists and dicts. The
window is one list per order, keyed by its client order id (``None`` for a
slot without an order), so a restarted run can match it with the orders the
venue still has. The state is kept compact because a backtest journals it at
every change: it is written thousands of times.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradekit_long_wallet.orders import Kind
from tradekit_long_wallet.reporting import CycleRecord
from tradekit_long_wallet.window import Phase, Slot

if TYPE_CHECKING:
    from tradekit.plugin import StrategyContext
    from tradekit_long_wallet.strategy import LongWallet

VERSION = 1
#: The key of a window slot without an order, followed by its level.
UNPLACED = "unplaced:"


def _slot_text(slot: Slot) -> str:
    """One window slot as text: ``kind level quantity budget flags`` and `` | note`` when it has one.

    Flags: ``m`` sent at the market, ``r`` placed again at the next bar if it has no order (``-`` for neither).
    One string per order keeps the journaled state small: a backtest writes it at every change.
    """
    flags = ("m" if slot.market else "") + ("r" if slot.retry else "") or "-"
    text = f"{slot.kind.value} {slot.level} {slot.quantity} {slot.budget} {flags}"
    return f"{text} | {slot.note}" if slot.note else text


def _slot_from_text(text: str) -> Slot:
    """Read back :func:`_slot_text` (the client order id is the window's key)."""
    fields, _, note = text.partition(" | ")
    kind, level, quantity, budget, flags = fields.split()
    return Slot(
        kind=Kind(kind),
        level=int(level),
        quantity=Decimal(quantity),
        budget=Decimal(budget),
        market="m" in flags,
        retry="r" in flags,
        note=note,
    )


def state_of(strategy: LongWallet, ctx: StrategyContext) -> dict[str, Any]:
    """Everything needed to go on from here: phase, anchor, unit, window, wallet, fragments, cycle."""
    current = strategy.current
    return {
        "version": VERSION,
        "bar": ctx.index,
        "symbol": strategy.symbol,
        "started": strategy.started,
        "entry_id": strategy.entry_id,
        "refused": strategy.refused,
        "phase": strategy.phase.value if strategy.phase is not None else None,
        "cycle": strategy.cycle,
        "anchor": str(strategy.anchor),
        "unit": str(strategy.unit),
        "highest": strategy.highest,
        "lowest": strategy.lowest,
        "growth": str(strategy.growth),
        "held": str(strategy.held),
        "cash": str(strategy.cash),
        "cash_fragment": str(strategy.cash_fragment),
        "fee_rate": str(strategy.fee_rate),
        "account_position": str(strategy.expected_position),
        "window": {
            slot.client_order_id or f"{UNPLACED}{slot.level}": _slot_text(slot)
            for slot in sorted(strategy.window.values(), key=lambda s: -s.level)
        },
        "cancelling": sorted(strategy.cancelling_ids()),
        "cycle_record": None
        if current is None
        else [
            current.number,
            current.start_index,
            current.start_time.isoformat() if current.start_time else None,
            str(current.start_value),
            current.round_trips,
            str(current.fees),
        ],
        "cycles_completed": len(strategy.cycles),
    }


def load_state(strategy: LongWallet, state: dict[str, Any]) -> None:
    """Put a saved state back into ``strategy`` (its window as saved: the restart settles it with the venue)."""
    if state.get("version", VERSION) != VERSION:
        raise ValueError(f"long_wallet cannot read a state of version {state.get('version')}; it writes {VERSION}")

    def number(key: str, default: str = "0") -> Decimal:
        return Decimal(str(state.get(key, default)))

    strategy.symbol = str(state.get("symbol") or "")
    strategy.started = bool(state.get("started", False))
    strategy.entry_id = state.get("entry_id")
    strategy.refused = state.get("refused")
    strategy.phase = Phase(state["phase"]) if state.get("phase") else None
    strategy.cycle = int(state.get("cycle", 1))
    strategy.anchor, strategy.unit = number("anchor"), number("unit")
    strategy.highest, strategy.lowest = int(state.get("highest", 0)), int(state.get("lowest", 0))
    strategy.growth = number("growth", "1")
    strategy.held, strategy.cash = number("held"), number("cash")
    strategy.cash_fragment, strategy.fee_rate = number("cash_fragment"), number("fee_rate")
    strategy.expected_position = number("account_position")
    strategy.window = {}
    for key, text in dict(state.get("window", {})).items():
        slot = _slot_from_text(str(text))
        slot.client_order_id = None if key.startswith(UNPLACED) else key
        strategy.window[slot.level] = slot
    record = state.get("cycle_record")
    strategy.current = None
    if record:
        number_, start_index, start_time, start_value, round_trips, fees = record
        strategy.current = CycleRecord(
            number=int(number_),
            start_index=int(start_index),
            start_time=datetime.fromisoformat(start_time) if start_time else None,
            start_value=Decimal(str(start_value)),
            round_trips=int(round_trips),
            fees=Decimal(str(fees)),
        )
