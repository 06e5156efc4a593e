"""Instruments: what can be traded, with the venue's tick and lot sizes."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tradekit.money import Rounding, is_multiple_of, round_to_step, to_decimal


class InstrumentKind(StrEnum):
    """What kind of market an instrument trades on."""

    SPOT = "spot"
    PERPETUAL = "perpetual"
    FUTURE = "future"
    CFD = "cfd"
    FX = "fx"


class Instrument(BaseModel):
    """A tradable symbol and the venue's rules for its prices and sizes.

    ``tick_size`` is the price step, ``lot_size`` the quantity step,
    ``min_quantity`` and ``min_notional`` the smallest order the venue takes.
    """

    model_config = ConfigDict(frozen=True)

    symbol: str = Field(description="The venue-neutral symbol, e.g. 'BTC/USDT' or 'ETH/USDC:USDC'.")
    base: str
    quote: str
    kind: InstrumentKind = InstrumentKind.SPOT
    tick_size: Decimal = Field(gt=0)
    lot_size: Decimal = Field(gt=0)
    min_quantity: Decimal = Field(default=Decimal(0), ge=0)
    min_notional: Decimal = Field(default=Decimal(0), ge=0)
    max_leverage: Decimal = Field(default=Decimal(1), gt=0)

    @field_validator("tick_size", "lot_size", "min_quantity", "min_notional", mode="before")
    @classmethod
    def _exact(cls, value: object) -> object:
        return to_decimal(value) if isinstance(value, float) else value

    def round_price(self, price: Decimal, mode: Rounding = "nearest") -> Decimal:
        """Round a price to this instrument's tick."""
        return round_to_step(price, self.tick_size, mode)

    def round_quantity(self, quantity: Decimal, mode: Rounding = "down") -> Decimal:
        """Round a quantity to this instrument's lot; down by default, never above what was asked."""
        return round_to_step(quantity, self.lot_size, mode)

    def price_problem(self, price: Decimal) -> str | None:
        """Why ``price`` cannot be sent to the venue, or None when it can."""
        if price <= 0:
            return f"price must be positive, was {price}"
        if not is_multiple_of(price, self.tick_size):
            return f"price {price} is not a multiple of the tick size {self.tick_size} of {self.symbol}"
        return None

    def quantity_problem(self, quantity: Decimal, price: Decimal | None) -> str | None:
        """Why ``quantity`` (at ``price``, for the notional check) cannot be sent, or None."""
        if quantity <= 0:
            return f"quantity must be positive, was {quantity}"
        if not is_multiple_of(quantity, self.lot_size):
            return f"quantity {quantity} is not a multiple of the lot size {self.lot_size} of {self.symbol}"
        if quantity < self.min_quantity:
            return f"quantity {quantity} is below the minimum {self.min_quantity} of {self.symbol}"
        if price is not None and quantity * price < self.min_notional:
            return f"notional {quantity * price} is below the minimum {self.min_notional} of {self.symbol}"
        return None
