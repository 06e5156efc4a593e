"""The order kinds Long Wallet sends, by what the venue offers, and the tags that name its orders.

* A **stop** (a resting sell below the market) is a stop-market sell with a
  falling trigger at its level, reduce-only where the venue has it for the
  instrument: a protective sell must leave, so it is never a stop-limit that
  could miss.
* A **buy** (a resting buy above the market) is a trigger order with a rising
  trigger at its level, because a plain limit buy above the market fills at
  once. With post-only (where the venue takes post-only stop-limits) its limit
  sits one tick below the level: once the price reaches the level it rests as
  a maker bid and fills when the price trades back to it. Without post-only and
  with a ``trigger_tolerance``, it is a stop-limit whose limit sits that far
  above the level (a taker fill at most that far past it); otherwise a
  stop-market buy.
* A window order whose level the price has already passed when it is placed
  goes out as a **market** order: that is what its trigger would have done.

Every order's tag says what it is (``long_wallet c3 stop -2``: cycle 3, a stop
at unit -2), so a restarted run can tell its orders from any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tradekit.domain.instruments import Instrument, InstrumentKind
from tradekit.domain.orders import OrderIntent, OrderType, Side, TriggerDirection
from tradekit.plugin import Capabilities

TAG_PREFIX = "long_wallet"


class Kind(StrEnum):
    """What a window order does: a stop sells on the way down, a buy buys on the way up."""

    STOP = "stop"
    BUY = "buy"

    @property
    def side(self) -> Side:
        """The order side."""
        return Side.SELL if self is Kind.STOP else Side.BUY


@dataclass(frozen=True)
class OrderStyle:
    """How this run sends its orders, decided once from the settings and the venue's capabilities."""

    post_only: bool
    tolerance: Decimal
    stop_limit: bool
    reduce_only: bool

    @classmethod
    def for_venue(
        cls, capabilities: Capabilities, instrument: Instrument, *, post_only: bool, tolerance: Decimal
    ) -> OrderStyle:
        """The style for ``instrument`` on a venue with ``capabilities``.

        Stops are reduce-only where the venue takes that flag for the
        instrument: on derivatives, and on a simulated venue's spot markets;
        real spot venues have no reduce-only orders (Binance refuses them), and
        a spot sell cannot go short anyway.
        """
        derivative = instrument.kind is not InstrumentKind.SPOT
        return cls(
            post_only=post_only,
            tolerance=tolerance,
            stop_limit=OrderType.STOP_LIMIT in capabilities.order_types,
            reduce_only=capabilities.reduce_only and (derivative or capabilities.simulated),
        )

    @property
    def limits_buys_above_level(self) -> bool:
        """Whether buys are stop-limits whose limit sits ``tolerance`` above their level (not post-only)."""
        return not self.post_only and self.stop_limit and self.tolerance > 0

    def describe(self) -> str:
        """The order kinds, in words (for the status and the report)."""
        if self.post_only:
            buys = "post-only stop-limit buys one tick below their level"
        elif self.limits_buys_above_level:
            buys = f"stop-limit buys up to {self.tolerance} above their level"
        else:
            buys = "stop-market buys"
        stops = "reduce-only stop-market sells" if self.reduce_only else "stop-market sells"
        return f"{stops}; {buys}"


def tag(cycle: int, kind: Kind | str, level: int | None = None) -> str:
    """The tag of a window order (or of the entry, with ``kind="entry"``)."""
    text = f"{TAG_PREFIX} c{cycle} {kind}"
    return text if level is None else f"{text} {level}"


def parse_tag(text: str) -> tuple[int, str, int | None] | None:
    """``(cycle, kind, level)`` from a tag this module wrote, or None for any other text."""
    parts = text.split()
    if len(parts) not in (3, 4) or parts[0] != TAG_PREFIX or not parts[1].startswith("c"):
        return None
    try:
        cycle = int(parts[1][1:])
        level = int(parts[3]) if len(parts) == 4 else None
    except ValueError:
        return None
    return cycle, parts[2], level


def resting_intent(
    symbol: str,
    kind: Kind,
    level_price: Decimal,
    quantity: Decimal,
    style: OrderStyle,
    tick: Decimal,
    order_tag: str,
) -> OrderIntent:
    """The resting order of a window slot at ``level_price`` (see the module docstring)."""
    shape: dict[str, Any]
    if kind is Kind.STOP:
        shape = {"type": OrderType.STOP, "reduce_only": style.reduce_only}
    elif style.post_only:
        shape = {"type": OrderType.STOP_LIMIT, "price": level_price - tick, "post_only": True}
    elif style.limits_buys_above_level:
        shape = {"type": OrderType.STOP_LIMIT, "price": level_price + style.tolerance}
    else:
        shape = {"type": OrderType.STOP}
    return OrderIntent(
        symbol=symbol,
        side=kind.side,
        quantity=quantity,
        trigger_price=level_price,
        trigger_direction=TriggerDirection.FALLING if kind is Kind.STOP else TriggerDirection.RISING,
        tag=order_tag,
        **shape,
    )


def market_intent(symbol: str, kind: Kind, quantity: Decimal, style: OrderStyle, order_tag: str) -> OrderIntent:
    """A window order sent at the market because the price already passed its level."""
    return OrderIntent(
        symbol=symbol,
        side=kind.side,
        quantity=quantity,
        reduce_only=kind is Kind.STOP and style.reduce_only,
        tag=order_tag,
    )


def highest_fill_price(kind: Kind, level_price: Decimal, style: OrderStyle) -> Decimal:
    """The most a buy at ``level_price`` is expected to pay per unit (what its budget is divided by)."""
    if kind is Kind.BUY and style.limits_buys_above_level:
        return level_price + style.tolerance
    return level_price
