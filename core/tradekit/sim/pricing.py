"""What simulated fills cost and where a price goes inside a bar.

Fees
    A :class:`FeeSchedule` holds the maker and taker rates as fractions
    (``Decimal("0.001")`` is 0.1 %). The fee of a fill is ``notional * rate`` in
    the quote currency, computed exactly in ``Decimal`` and then rounded half-even
    to :data:`FEE_QUANTUM` (``1e-12``): finer than any venue bills, coarse enough
    that fees do not grow dozens of digits.

Slippage
    A :class:`Slippage` moves the price of a **taker** fill (market, stop, and a
    limit that is marketable when it arrives) against the trader; maker fills
    get their price. :class:`BasisPointSlippage` rounds the moved price to the
    tick *against* the taker (up for a buy, down for a sell), so slippage never
    accidentally improves a fill.

The intrabar path
    A bar only tells four prices, so the venue assumes the path between them:
    **open -> low -> high -> close when close >= open, open -> high -> low ->
    close otherwise** (a bar that closes up is taken to have dipped first; one
    that closes down, to have risen first). :func:`intrabar_path` returns it;
    the venue walks it segment by segment and fills orders in the order the path
    reaches their prices. Bars are assumed well formed (``low <= open, close <=
    high``).

Skipping quiet bars
    :func:`first_reach_index` finds, with numpy, the first bar whose low reaches
    a level from above or whose high reaches one from below: the engine uses it
    to jump over bars on which no resting order can fill or trigger.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Protocol, TypeVar

import numpy as np

from tradekit.domain.bars import FloatArray
from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import Liquidity, Side
from tradekit.money import to_decimal

#: Fees are rounded half-even to this many quote units.
FEE_QUANTUM = Decimal("1e-12")

_BASIS_POINT = Decimal("0.0001")


def fee_amount(notional: Decimal, rate: Decimal) -> Decimal:
    """The fee on ``notional`` at ``rate``: exact, then rounded half-even to :data:`FEE_QUANTUM`."""
    # By position: by keyword, Python 3.11's decimal module parses the arguments at twice the quantize's cost.
    return (notional * rate).quantize(FEE_QUANTUM, ROUND_HALF_EVEN)


@dataclass(frozen=True)
class FeeSchedule:
    """Maker and taker fee rates as fractions: ``Decimal("0.001")`` is 0.1 %.

    A negative maker rate is a rebate, as some venues pay. Floats and strings are
    turned into exact Decimals (``0.001`` becomes ``Decimal("0.001")``).
    """

    maker: Decimal
    taker: Decimal

    def __post_init__(self) -> None:
        for name in ("maker", "taker"):
            value = to_decimal(getattr(self, name))
            if not Decimal(-1) < value < Decimal(1):
                raise ValueError(
                    f"the {name} fee is a fraction of the notional (0.001 = 0.1 %) and must lie "
                    f"between -1 and 1, was {value}"
                )
            object.__setattr__(self, name, value)
        if self.taker < 0:
            raise ValueError(f"the taker fee cannot be negative, was {self.taker}")

    def rate(self, liquidity: Liquidity) -> Decimal:
        """The rate charged for a fill that made (maker) or took (taker) liquidity."""
        return self.maker if liquidity is Liquidity.MAKER else self.taker

    def fee(self, notional: Decimal, liquidity: Liquidity) -> Decimal:
        """The fee in quote currency on a fill of ``notional``; see :func:`fee_amount`."""
        return fee_amount(notional, self.rate(liquidity))


class Slippage(Protocol):
    """How far a taker fill's price moves against the trader.

    ``apply`` receives a price already on the tick and must return a positive
    price on the tick, no better for the taker than the one it was given.
    """

    def apply(self, side: Side, price: Decimal, instrument: Instrument) -> Decimal:
        """The price a taker of ``side`` gets when the market is at ``price``."""
        ...


class NoSlippage:
    """Taker fills at the market price itself."""

    def apply(self, side: Side, price: Decimal, instrument: Instrument) -> Decimal:
        """Return ``price`` unchanged."""
        return price

    def __repr__(self) -> str:
        return "NoSlippage()"


class BasisPointSlippage:
    """A fixed number of basis points against the taker, rounded to the tick against the taker.

    A buy at 100.00 with 5 bps pays 100.05; with a tick of 0.1 it pays 100.1
    (rounded up). A sell mirrors that and never goes below one tick.
    """

    def __init__(self, bps: Decimal) -> None:
        value = to_decimal(bps)
        if value < 0:
            raise ValueError(f"slippage is a cost and cannot be negative, was {value} bps")
        self.bps = value
        self._fraction = value * _BASIS_POINT

    def apply(self, side: Side, price: Decimal, instrument: Instrument) -> Decimal:
        """Move ``price`` by ``bps`` against ``side`` and round to the tick against it."""
        if side is Side.BUY:
            return instrument.round_price(price * (1 + self._fraction), "up")
        moved = instrument.round_price(price * (1 - self._fraction), "down")
        return max(moved, instrument.tick_size)

    def __repr__(self) -> str:
        return f"BasisPointSlippage({self.bps})"


PriceT = TypeVar("PriceT", float, Decimal)


def intrabar_path(open: PriceT, high: PriceT, low: PriceT, close: PriceT) -> tuple[PriceT, PriceT, PriceT, PriceT]:
    """Assumed path inside a bar: open-low-high-close if it closes up or flat, else open-high-low-close."""
    if close >= open:
        return (open, low, high, close)
    return (open, high, low, close)


def first_reach_index(
    high: FloatArray,
    low: FloatArray,
    below: float,
    above: float,
    start: int,
    chunk: int = 256,
    stop: int | None = None,
) -> int | None:
    """The first ``i`` in ``[start, stop)`` with ``low[i] <= below`` or ``high[i] >= above``, or None.

    Pass ``-inf`` for ``below`` or ``+inf`` for ``above`` to leave that side out.
    ``stop`` (exclusive, default: the end of the data) bounds the scan: a caller
    that only needs to know whether a bar wakes before some later index passes
    it, so a level never reached costs the bars up to ``stop``, not the rest of
    the data. The arrays are scanned in chunks that double in size (``chunk``,
    then twice that...), so a level reached soon costs little and one never
    reached costs about two passes of numpy over the scanned range.
    """
    n = min(len(high), len(low))
    if stop is not None:
        n = min(n, stop)
    check_low = below != float("-inf")
    check_high = above != float("inf")
    if start >= n or not (check_low or check_high):
        return None
    i = max(start, 0)
    while i < n:
        j = min(n, i + chunk)
        if check_low and check_high:
            hits = np.logical_or(low[i:j] <= below, high[i:j] >= above)
        elif check_low:
            hits = low[i:j] <= below
        else:
            hits = high[i:j] >= above
        k = int(np.argmax(hits))
        if hits[k]:
            return i + k
        i = j
        chunk *= 2
    return None
