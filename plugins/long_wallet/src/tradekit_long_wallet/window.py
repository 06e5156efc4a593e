"""The ladder's arithmetic and its window, without orders or an engine: units, phases, targets.

Everything here is a pure function of Decimals and small records, so the
rules of the specification read as they are written and are tested on their
own; :mod:`tradekit_long_wallet.strategy` turns their answers into orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum

from tradekit.money import round_to_step
from tradekit_long_wallet.orders import Kind


class Phase(StrEnum):
    """Where a cycle is; it follows from what the window holds and where it came from, never from time."""

    ADVANCE = "ADVANCE"
    RETRACEMENT = "RETRACEMENT"
    DECLINE = "DECLINE"
    RECOVER = "RECOVER"

    @property
    def mixed(self) -> bool:
        """RETRACEMENT and RECOVER hold stops and buys; only replacements move their orders."""
        return self in (Phase.RETRACEMENT, Phase.RECOVER)


def unit_of(price: Decimal, anchor: Decimal, unit: Decimal) -> int:
    """The unit ``price`` is in: ``floor((price - anchor) / unit)`` (floor, never truncation)."""
    return int(((price - anchor) / unit).to_integral_value(rounding=ROUND_FLOOR))


def level_price(level: int, anchor: Decimal, unit: Decimal) -> Decimal:
    """``level(u) = anchor + u * unit``."""
    return anchor + level * unit


@dataclass
class Slot:
    """One order of the window: what it is, where, and what it trades.

    A stop sells ``quantity``; a buy spends up to ``budget`` (its quantity is
    worked out when it is placed, from the price it may pay). ``client_order_id``
    is None while the slot has no working order (refused, or not placed yet).
    ``market`` marks a slot sent at the market because the price had passed
    its level.
    """

    kind: Kind
    level: int
    quantity: Decimal
    budget: Decimal = Decimal(0)
    client_order_id: str | None = None
    market: bool = False
    #: Why the slot has no order, when it has none (shown in the status).
    note: str = ""
    #: Whether a slot without an order is placed again at the next bar (False: it could not be placed at all).
    retry: bool = True


def phase_after(previous: Phase, kinds: set[Kind]) -> tuple[Phase, bool]:
    """The phase once the window holds ``kinds``, coming from ``previous``; and whether that is a RESET.

    All stops after a phase other than ADVANCE ends the cycle (RESET); all
    buys is DECLINE; a mixed window is RETRACEMENT coming from ADVANCE,
    RECOVER coming from DECLINE, and stays what it was otherwise.
    """
    if kinds == {Kind.STOP}:
        return Phase.ADVANCE, previous is not Phase.ADVANCE
    if kinds == {Kind.BUY}:
        return Phase.DECLINE, False
    if previous is Phase.ADVANCE:
        return Phase.RETRACEMENT, False
    if previous is Phase.DECLINE:
        return Phase.RECOVER, False
    return previous, False


def trail(current: list[int], target: range) -> tuple[list[int], list[int]]:
    """Levels to cancel and to add so the window's levels become ``target``: ``(cancel, add)``.

    Only levels outside ``target`` are cancelled and only missing ones added,
    both in ascending order; as many are added as cancelled when the window is
    full. A trail up cancels the lowest levels, a trail down the highest.
    """
    wanted = set(target)
    cancel = sorted(level for level in current if level not in wanted)
    add = sorted(wanted - set(current))
    return cancel, add


def stop_quantities(held: Decimal, window_size: int, lot: Decimal) -> list[Decimal]:
    """What each of the stops at -1 .. -window_size sells at the start of a cycle, highest level first.

    ``asset_fragment = held / window_size`` rounded down to the lot; the
    lowest stop takes the rest, rounded down to the lot, so the stops together
    sell all that is held but what is below one lot (the dust, reported).
    """
    fragment = round_to_step(held / window_size, lot, "down")
    rest = round_to_step(held - fragment * (window_size - 1), lot, "down")
    return [fragment] * (window_size - 1) + [rest]
