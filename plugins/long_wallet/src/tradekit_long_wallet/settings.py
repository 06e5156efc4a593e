"""What a user sets for Long Wallet, and the checks against the venue made before any order is sent.

The settings model refuses what is wrong on its own (a size that is not
positive, both or neither of ``unit_size`` and ``unit_pct``...). What depends
on the venue (its tick, lot and minimum order, its order kinds) and on the
price is checked by :func:`venue_problems` when the run starts, before the
entry order; each message names the setting, its value and what to do.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, model_validator

from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import OrderType, TriggerDirection
from tradekit.plugin import Capabilities, PluginSettings

#: The unit when neither ``unit_size`` nor ``unit_pct`` is set: 1 % of the anchor.
DEFAULT_UNIT_PCT = Decimal(1)


class LongWalletSettings(PluginSettings):
    """Parameters of ``long_wallet`` (``--param key=value`` or ``[plugins.strategy.long_wallet]``)."""

    symbol: str | None = Field(default=None, description="Symbol to trade; default: the run's first symbol.")
    unit_size: Decimal | None = Field(
        default=None,
        gt=0,
        description="Price step between levels, in the quote currency (rounded to the tick). Set this or unit_pct.",
    )
    unit_pct: Decimal | None = Field(
        default=None,
        gt=0,
        lt=100,
        description="Price step as a percentage of the anchor, fixed anew each cycle (default 1 when neither is set).",
    )
    position_value: Decimal = Field(
        default=Decimal(1000),
        gt=0,
        description="Quote value bought at market to start the first cycle.",
    )
    window_size: int = Field(default=4, ge=1, le=64, description="Resting orders in the window.")
    post_only: bool | None = Field(
        default=None,
        description="Buys as post-only stop-limits resting one tick below their level once the price reaches it "
        "(maker fills); default: true where the venue has post-only stop-limits.",
    )
    trigger_tolerance: Decimal = Field(
        default=Decimal(0),
        ge=0,
        description="Without post-only: the limit of a stop-limit buy sits this far above its trigger "
        "(0: stop-market buys).",
    )

    @model_validator(mode="after")
    def _one_unit(self) -> LongWalletSettings:
        if self.unit_size is not None and self.unit_pct is not None:
            raise ValueError(
                f"set unit_size ({self.unit_size}) or unit_pct ({self.unit_pct}), not both: "
                "one fixed price step, or a percentage of each cycle's anchor"
            )
        if self.unit_pct is not None and self.unit_pct * self.window_size >= 100:
            raise ValueError(
                f"unit_pct {self.unit_pct} times window_size {self.window_size} must stay below 100: "
                "the lowest stop would sit at or below a price of zero"
            )
        return self

    @property
    def percentage(self) -> Decimal | None:
        """The unit as a percentage of the anchor, or None for a fixed ``unit_size``."""
        if self.unit_size is not None:
            return None
        return self.unit_pct if self.unit_pct is not None else DEFAULT_UNIT_PCT


def uses_post_only(settings: LongWalletSettings, capabilities: Capabilities) -> bool:
    """Whether buys go out as post-only stop-limits: as set, or where the venue takes them."""
    if settings.post_only is not None:
        return settings.post_only
    return capabilities.post_only and OrderType.STOP_LIMIT in capabilities.order_types


def unit_for(settings: LongWalletSettings, anchor: Decimal, instrument: Instrument) -> Decimal:
    """The unit of a cycle anchored at ``anchor``: ``unit_size``, or ``unit_pct`` of the anchor, on the tick."""
    percentage = settings.percentage
    raw = settings.unit_size if percentage is None else anchor * percentage / 100
    assert raw is not None
    return max(instrument.round_price(raw), instrument.tick_size)


def venue_problems(
    settings: LongWalletSettings,
    instrument: Instrument,
    capabilities: Capabilities,
    price: Decimal,
    free_cash: Decimal,
) -> list[str]:
    """Why these settings cannot run on this venue at ``price`` (the entry's price), or [] when they can."""
    problems: list[str] = []
    symbol = instrument.symbol
    tick = instrument.tick_size
    if OrderType.STOP not in capabilities.order_types or not {
        TriggerDirection.RISING,
        TriggerDirection.FALLING,
    } <= set(capabilities.trigger_directions):
        problems.append(
            "long_wallet rests its stops and buys as trigger (stop) orders, rising and falling, but this exchange "
            f"offers order types {sorted(t.value for t in capabilities.order_types)} and trigger directions "
            f"{sorted(d.value for d in capabilities.trigger_directions)}; use an exchange with stop orders"
        )
    post_only = uses_post_only(settings, capabilities)
    if settings.post_only and not (capabilities.post_only and OrderType.STOP_LIMIT in capabilities.order_types):
        problems.append(
            "post_only is true but this exchange does not take post-only stop-limit orders; "
            "set post_only = false (buys then take liquidity)"
        )
    if settings.unit_size is not None and settings.unit_size < tick:
        problems.append(
            f"unit_size must be at least the tick size {tick} of {symbol}, was {settings.unit_size}; raise unit_size"
        )
    percentage = settings.percentage
    if percentage is not None and price * percentage / 100 < tick:
        problems.append(
            f"unit_pct {percentage} of the price {price} of {symbol} is {price * percentage / 100}, "
            f"below the tick size {tick}; raise unit_pct"
        )
    unit = unit_for(settings, price, instrument)
    if post_only and unit < 2 * tick:
        problems.append(
            f"with post-only buys (one tick below their level) the unit must be at least two ticks "
            f"({2 * tick}) of {symbol}, was {unit}; raise unit_size or unit_pct, or set post_only = false"
        )
    if settings.unit_size is not None and unit * settings.window_size >= price:
        problems.append(
            f"unit_size {settings.unit_size} times window_size {settings.window_size} reaches the price {price} of "
            f"{symbol}: the lowest stop would sit at or below zero; lower unit_size or window_size"
        )
    if settings.trigger_tolerance and settings.trigger_tolerance < tick and not post_only:
        problems.append(
            f"trigger_tolerance must be 0 or at least the tick size {tick} of {symbol}, "
            f"was {settings.trigger_tolerance}"
        )
    if settings.position_value > free_cash:
        problems.append(
            f"position_value {settings.position_value} is more than the free cash {free_cash} {instrument.quote}; "
            "lower position_value or start with more cash"
        )
    quantity = instrument.round_quantity(settings.position_value / price)
    fragment = instrument.round_quantity(quantity / settings.window_size)
    lowest = price - unit * settings.window_size
    smallest = instrument.quantity_problem(fragment, max(lowest, tick)) if fragment > 0 else "it rounds to 0"
    if smallest is not None:
        problems.append(
            f"position_value {settings.position_value} buys {quantity} {instrument.base} at {price}, so each of the "
            f"window_size {settings.window_size} orders would trade {fragment} {instrument.base}, which the venue "
            f"refuses ({smallest}); raise position_value or lower window_size"
        )
    return problems
