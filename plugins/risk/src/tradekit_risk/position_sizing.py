"""``position_sizing``: decide how big an entry may be, and resize the intent to it.

Methods: a fixed quantity, a fixed notional, a fixed fraction of equity, a volatility
target (the position an ATR-sized move costs a set share of equity on), and capped Kelly
(the Kelly share of equity from the run's own closed trades, scaled and capped).

The method gives the size of the *position* an entry leads to; the entry may add only
what is missing (an addition to a position of 0.3 towards a target of 0.5 is sized 0.2).
Risk rules can only shrink an order, never grow it: a strategy that asks for less than
the target gets what it asked, so let the strategy ask generously (its cash, say) and
this rule decide. Exits are never resized.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import Field, model_validator

from tradekit.control import RunControl
from tradekit.domain.events import RiskVerdict
from tradekit.domain.orders import Fill, OrderIntent
from tradekit.domain.portfolio import Position
from tradekit.domain.run import RiskContext, RunInfo
from tradekit.hookspecs import hookimpl
from tradekit.money import to_decimal
from tradekit.plugin import PluginSettings, RiskRule
from tradekit_risk.intents import fmt, held, is_exit, reference_price
from tradekit_risk.sizing import (
    average_true_range,
    capped_kelly,
    fraction_notional,
    quantity_for_notional,
    volatility_target_quantity,
    win_rate_and_payoff,
)
from tradekit_risk.trades import TradeTracker


class SizingMethod(StrEnum):
    """How ``position_sizing`` decides a position's size."""

    FIXED_QUANTITY = "fixed_quantity"
    FIXED_NOTIONAL = "fixed_notional"
    FIXED_FRACTION = "fixed_fraction"
    VOLATILITY_TARGET = "volatility_target"
    KELLY = "kelly"


class PositionSizingSettings(PluginSettings):
    """Settings of ``position_sizing``; each method reads the settings named after it."""

    method: SizingMethod = Field(default=SizingMethod.FIXED_FRACTION, description="How positions are sized.")
    quantity: Decimal | None = Field(default=None, gt=0, description="fixed_quantity: the position's quantity.")
    notional: Decimal | None = Field(default=None, gt=0, description="fixed_notional: the position's value (quote).")
    fraction: Decimal = Field(
        default=Decimal("0.1"),
        gt=0,
        le=10,
        description="fixed_fraction: the position's value as a share of equity (0.1 = 10%); kelly's fallback.",
    )
    risk_fraction: Decimal = Field(
        default=Decimal("0.01"),
        gt=0,
        lt=1,
        description="volatility_target: share of equity lost if the price moves `atr_multiple` ATRs against it.",
    )
    atr_period: int = Field(default=14, ge=1, description="volatility_target: bars in the average true range.")
    atr_multiple: Decimal = Field(default=Decimal(2), gt=0, description="volatility_target: ATRs of adverse move.")
    kelly_scale: Decimal = Field(
        default=Decimal("0.5"), gt=0, le=1, description="kelly: share of the Kelly fraction used (0.5: half Kelly)."
    )
    kelly_cap: Decimal = Field(
        default=Decimal("0.25"), gt=0, le=1, description="kelly: the largest share of equity, whatever Kelly says."
    )
    kelly_min_trades: int = Field(
        default=20, ge=1, description="kelly: closed trades needed before the run's own win rate is trusted."
    )
    kelly_win_rate: Decimal | None = Field(
        default=None, gt=0, lt=1, description="kelly: the win rate assumed until `kelly_min_trades` trades closed."
    )
    kelly_payoff: Decimal | None = Field(
        default=None, gt=0, description="kelly: average win / average loss assumed until then."
    )
    max_equity_fraction: Decimal = Field(
        default=Decimal(1),
        gt=0,
        description="Cap for every method: a position's value at most this share of equity (1: no leverage).",
    )

    @model_validator(mode="after")
    def _method_has_its_settings(self) -> PositionSizingSettings:
        if self.method is SizingMethod.FIXED_QUANTITY and self.quantity is None:
            raise ValueError("method fixed_quantity needs `quantity` (the position's size, e.g. 0.01)")
        if self.method is SizingMethod.FIXED_NOTIONAL and self.notional is None:
            raise ValueError("method fixed_notional needs `notional` (the position's value, e.g. 1000)")
        if (self.kelly_win_rate is None) != (self.kelly_payoff is None):
            raise ValueError("give both kelly_win_rate and kelly_payoff (the prior), or neither")
        return self


class PositionSizing(RiskRule):
    """Resizes entries to the configured method's size; see the module docstring."""

    Settings = PositionSizingSettings
    settings: PositionSizingSettings

    def __init__(self, settings: PositionSizingSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name or "position_sizing")
        self.control: RunControl | None = None
        self.trades = TradeTracker()

    @hookimpl
    def tradekit_run_started(self, run: RunInfo, control: RunControl | None) -> None:
        """Keep the run's control (volatility targeting reads its bars)."""
        self.control = control

    @hookimpl
    def tradekit_fill(self, fill: Fill, position: Position) -> None:
        """Follow round trips for Kelly's win rate and payoff."""
        self.trades.on_fill(fill, position)

    def check(self, intent: OrderIntent, context: RiskContext) -> RiskVerdict | None:
        """Resize an entry to the method's size (never larger than asked); exits pass unchanged."""
        if is_exit(intent, context):
            return RiskVerdict.accept(self.name)
        instrument = context.instruments.get(intent.symbol)
        if instrument is None:
            return RiskVerdict.reject(self.name, f"no instrument rules for {intent.symbol}: cannot size the order")
        price = reference_price(intent, context)
        if price is None or price <= 0:
            return RiskVerdict.reject(self.name, f"no price known for {intent.symbol}: cannot size the order")
        target, how = self._target(intent, context, price, instrument.lot_size)
        if target is None:
            return RiskVerdict.reject(self.name, how)
        cap = quantity_for_notional(
            fraction_notional(context.equity, self.settings.max_equity_fraction), price, instrument.lot_size
        )
        if target > cap:
            target = cap
            how += f", capped at {self.settings.max_equity_fraction} of equity {fmt(context.equity)}"
        # The method sizes the position; an entry adds what is missing (or, flipping, closes first).
        current = held(context, intent.symbol)
        if current * intent.side.sign >= 0:
            allowed = target - abs(current)
        else:
            allowed = abs(current) + target
        allowed = instrument.round_quantity(max(allowed, Decimal(0)))
        if allowed >= intent.quantity:
            return RiskVerdict.accept(self.name)
        problem = instrument.quantity_problem(allowed, price) if allowed > 0 else "nothing is left to add"
        if problem is not None:
            return RiskVerdict.reject(
                self.name,
                f"{how}: {intent.side.value} {intent.quantity} {intent.symbol} sized to {allowed} "
                f"(holding {current}), which cannot be sent: {problem}",
            )
        return RiskVerdict.resize(self.name, allowed, f"{how}: {intent.quantity} resized to {allowed}")

    def _target(
        self, intent: OrderIntent, context: RiskContext, price: Decimal, lot: Decimal
    ) -> tuple[Decimal | None, str]:
        """The position's size by the method, and how it was reached (or None and why not)."""
        settings = self.settings
        method = settings.method
        if method is SizingMethod.FIXED_QUANTITY:
            assert settings.quantity is not None
            return settings.quantity, f"fixed_quantity {settings.quantity}"
        if method is SizingMethod.FIXED_NOTIONAL:
            assert settings.notional is not None
            quantity = quantity_for_notional(settings.notional, price, lot)
            return quantity, f"fixed_notional {fmt(settings.notional)} at {price} = {quantity}"
        if context.equity <= 0:
            return None, f"{method.value} sizing needs positive equity, the account has {fmt(context.equity)}"
        if method is SizingMethod.FIXED_FRACTION:
            return self._fraction(settings.fraction, "fixed_fraction", context, price, lot)
        if method is SizingMethod.VOLATILITY_TARGET:
            return self._volatility(intent, context, price, lot)
        return self._kelly(context, price, lot)

    def _fraction(
        self, fraction: Decimal, label: str, context: RiskContext, price: Decimal, lot: Decimal
    ) -> tuple[Decimal, str]:
        notional = fraction_notional(context.equity, fraction)
        quantity = quantity_for_notional(notional, price, lot)
        return quantity, f"{label} {fraction} of equity {fmt(context.equity)} = {fmt(notional)} at {price} = {quantity}"

    def _volatility(
        self, intent: OrderIntent, context: RiskContext, price: Decimal, lot: Decimal
    ) -> tuple[Decimal | None, str]:
        settings = self.settings
        history = self.control.history(intent.symbol) if self.control is not None else None
        if history is None:
            return None, "volatility_target sizing needs the run's bars, and this run offers none"
        atr = average_true_range(history.high, history.low, history.close, settings.atr_period)
        if atr is None:
            return None, (
                f"volatility_target needs {settings.atr_period + 1} bars of {intent.symbol} for its ATR, "
                f"{len(history)} seen so far"
            )
        atr_value = to_decimal(atr)
        quantity = volatility_target_quantity(
            context.equity, settings.risk_fraction, atr_value, settings.atr_multiple, lot
        )
        return quantity, (
            f"volatility_target: {settings.risk_fraction} of equity {fmt(context.equity)} over "
            f"{settings.atr_multiple} x ATR({settings.atr_period}) {fmt(atr_value)} = {quantity}"
        )

    def _kelly(self, context: RiskContext, price: Decimal, lot: Decimal) -> tuple[Decimal | None, str]:
        settings = self.settings
        closed = [trade.pnl for trade in self.trades.closed]
        if len(closed) >= settings.kelly_min_trades:
            win_rate, payoff = win_rate_and_payoff(closed)
            source = f"{len(closed)} closed trades"
        elif settings.kelly_win_rate is not None:
            win_rate, payoff = settings.kelly_win_rate, settings.kelly_payoff
            source = f"the prior (only {len(closed)} of {settings.kelly_min_trades} trades closed)"
        else:
            quantity, how = self._fraction(settings.fraction, "kelly fallback fixed_fraction", context, price, lot)
            return quantity, f"{how} (only {len(closed)} of {settings.kelly_min_trades} trades closed)"
        fraction = capped_kelly(win_rate, payoff, settings.kelly_scale, settings.kelly_cap)
        shown_payoff = "unbounded (no loss yet)" if payoff is None else f"{float(payoff):.2f}"
        if fraction <= 0:
            return None, (
                f"kelly: no edge (win rate {float(win_rate):.1%}, payoff {shown_payoff} from {source}), "
                "so no new position"
            )
        quantity, how = self._fraction(fraction.quantize(Decimal("0.0001")), "kelly", context, price, lot)
        return quantity, f"{how} (win rate {float(win_rate):.1%}, payoff {shown_payoff} from {source})"
