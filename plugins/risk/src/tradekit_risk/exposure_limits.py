"""``exposure_limits``: caps on how much the account may hold and how many orders may rest.

Per symbol and in total, the value of the positions an entry would lead to is capped
(counting the run's resting orders on the same side as if they had filled, since they
may); so is leverage (the total over equity); resting orders are counted; and an order
below a minimum size is refused. An entry that would go over a cap is shrunk to fit
when ``resize`` is on and what fits is still a valid order, otherwise rejected, naming
the limit and the numbers. Exits are never limited: reducing exposure is always allowed.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from tradekit.domain.events import RiskVerdict
from tradekit.domain.orders import OrderIntent, OrderType
from tradekit.domain.run import RiskContext
from tradekit.plugin import PluginSettings, RiskRule
from tradekit_risk.intents import ZERO, fmt, held, is_exit, reference_price


class ExposureLimitsSettings(PluginSettings):
    """Settings of ``exposure_limits``; a limit left unset (null) is not checked."""

    max_position_notional: Decimal | None = Field(
        default=None, gt=0, description="Largest position value per symbol (quote currency)."
    )
    max_position_notional_by_symbol: dict[str, Decimal] = Field(
        default_factory=dict, description="Per-symbol overrides of max_position_notional, e.g. {'BTC/USDT': 5000}."
    )
    max_total_notional: Decimal | None = Field(
        default=None, gt=0, description="Largest value of all positions together (quote currency)."
    )
    max_leverage: Decimal | None = Field(
        default=None, gt=0, description="Largest total position value over equity (1: no leverage)."
    )
    max_open_orders: int | None = Field(
        default=None, ge=1, description="Most resting orders at once (reduce-only orders are not counted)."
    )
    min_order_quantity: Decimal | None = Field(default=None, gt=0, description="Smallest entry quantity.")
    min_order_notional: Decimal | None = Field(default=None, gt=0, description="Smallest entry value (quote).")
    resize: bool = Field(default=True, description="Shrink an entry to fit a cap instead of rejecting it.")


class ExposureLimits(RiskRule):
    """Caps position values, leverage and resting orders; refuses tiny orders. See the module docstring."""

    Settings = ExposureLimitsSettings
    settings: ExposureLimitsSettings

    def __init__(self, settings: ExposureLimitsSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name or "exposure_limits")

    def check(self, intent: OrderIntent, context: RiskContext) -> RiskVerdict | None:
        """Accept, shrink or reject an entry against every limit; exits always pass."""
        if is_exit(intent, context):
            return RiskVerdict.accept(self.name)
        settings = self.settings
        price = reference_price(intent, context)
        if price is None or price <= 0:
            return RiskVerdict.reject(self.name, f"no price known for {intent.symbol}: cannot value the order")
        rests = intent.type is not OrderType.MARKET
        if rests and settings.max_open_orders is not None:
            resting = [o for o in context.open_orders if not o.reduce_only]
            if len(resting) >= settings.max_open_orders:
                return RiskVerdict.reject(
                    self.name,
                    f"{len(resting)} orders already rest (limit max_open_orders {settings.max_open_orders})",
                )
        problem = self._too_small(intent.quantity, price)
        if problem is not None:
            return RiskVerdict.reject(self.name, problem)
        limit, why = self._largest_position(intent, context, price)
        if limit is None:
            return RiskVerdict.accept(self.name)
        # The position after this order, counting same-side resting orders as filled.
        sign = intent.side.sign
        pending = sum(
            (o.remaining_quantity for o in context.open_orders if o.symbol == intent.symbol and o.side is intent.side),
            ZERO,
        )
        projected = held(context, intent.symbol) + sign * pending
        room = limit - sign * projected  # the largest quantity keeping |position| <= limit
        if room >= intent.quantity:
            return RiskVerdict.accept(self.name)
        instrument = context.instruments.get(intent.symbol)
        fitted = instrument.round_quantity(max(room, ZERO)) if instrument is not None else max(room, ZERO)
        over = f"{intent.side.value} {intent.quantity} {intent.symbol} at {price} would go over {why}"
        if not settings.resize or fitted <= 0:
            return RiskVerdict.reject(self.name, over)
        problem = self._too_small(fitted, price) or (
            instrument.quantity_problem(fitted, price) if instrument is not None else None
        )
        if problem is not None:
            return RiskVerdict.reject(self.name, f"{over}; what fits ({fitted}) cannot be sent: {problem}")
        return RiskVerdict.resize(self.name, fitted, f"{over}; resized to {fitted}")

    def _too_small(self, quantity: Decimal, price: Decimal) -> str | None:
        settings = self.settings
        if settings.min_order_quantity is not None and quantity < settings.min_order_quantity:
            return f"quantity {quantity} is below min_order_quantity {settings.min_order_quantity}"
        if settings.min_order_notional is not None and quantity * price < settings.min_order_notional:
            return f"order value {fmt(quantity * price)} is below min_order_notional {fmt(settings.min_order_notional)}"
        return None

    def _largest_position(
        self, intent: OrderIntent, context: RiskContext, price: Decimal
    ) -> tuple[Decimal | None, str]:
        """The largest |position| in the intent's symbol every cap allows, in base units, and which cap binds."""
        settings = self.settings
        caps: list[tuple[Decimal, str]] = []
        per_symbol = settings.max_position_notional_by_symbol.get(intent.symbol, settings.max_position_notional)
        if per_symbol is not None:
            caps.append((per_symbol / price, f"the position limit {fmt(per_symbol)} of {intent.symbol}"))
        others = sum(
            (
                abs(position.quantity) * context.prices.get(symbol, position.average_price)
                for symbol, position in context.positions.items()
                if symbol != intent.symbol
            ),
            ZERO,
        )
        if settings.max_total_notional is not None:
            room = (settings.max_total_notional - others) / price
            caps.append(
                (room, f"max_total_notional {fmt(settings.max_total_notional)} (other positions {fmt(others)})")
            )
        if settings.max_leverage is not None:
            allowed = settings.max_leverage * context.equity
            caps.append(
                (
                    (allowed - others) / price,
                    f"max_leverage {settings.max_leverage} x equity {fmt(context.equity)} = {fmt(allowed)} "
                    f"(other positions {fmt(others)})",
                )
            )
        if not caps:
            return None, ""
        quantity, why = min(caps, key=lambda cap: cap[0])
        return max(quantity, ZERO), why
