"""``momentum``: rate of change over a lookback, with a moving-average trend filter; long only."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from tradekit.indicators_incremental import SMA, Indicators
from tradekit.plugin import PluginSettings, StrategyContext
from tradekit_strategies.accelerated import RateOfChange
from tradekit_strategies.base import Signals, SignalStrategy, fraction_field, quantity_field

if TYPE_CHECKING:
    from tradekit.indicators import FloatArray


class MomentumSettings(PluginSettings):
    """Parameters of ``momentum``."""

    lookback: int = Field(default=24, ge=1, description="Bars over which the rate of change is measured.")
    entry_threshold: float = Field(
        default=0.0, ge=-1, description="Enter when the rate of change is above this (0.02 is +2%)."
    )
    exit_threshold: float = Field(
        default=0.0, ge=-1, description="Exit when the rate of change is below this; at most entry_threshold."
    )
    trend_length: int = Field(
        default=200,
        ge=0,
        description="Bars of the simple moving average the close must be above to enter, and below which it "
        "exits; 0 turns the trend filter off.",
    )
    quantity: Decimal | None = quantity_field()
    fraction: Decimal = fraction_field()

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> MomentumSettings:
        if self.exit_threshold > self.entry_threshold:
            raise ValueError(
                f"exit_threshold ({self.exit_threshold}) must not be above entry_threshold ({self.entry_threshold}): "
                "a position would be entered and left on the same bar"
            )
        if self.trend_length == 1:
            raise ValueError("trend_length must be 0 (no trend filter) or at least 2, was 1")
        return self


class Momentum(SignalStrategy):
    """Long-only momentum on the first symbol: ride a rising price while it stays above its trend.

    Trades on the close. ``roc`` is the rate of change of the close over
    ``lookback`` bars, ``(close - close[lookback ago]) / close[lookback ago]``;
    ``trend`` the simple moving average of ``trend_length`` closes.

    * Enters (a market buy) while flat when ``roc > entry_threshold`` and
      ``close > trend``.
    * Exits the whole position (a reduce-only market sell) when
      ``roc < exit_threshold`` or ``close < trend``.

    With ``trend_length = 0`` only the rate of change decides.
    """

    Settings = MomentumSettings
    settings: MomentumSettings

    def declare(self) -> Indicators:
        """The rate of change and, unless switched off, the trend average."""
        declared = {"roc": RateOfChange(self.settings.lookback, "close")}
        if self.settings.trend_length:
            declared["trend"] = SMA(self.settings.trend_length, "close")
        return Indicators(**declared)

    def signals(self, values: Mapping[str, FloatArray]) -> Signals:
        """``entry`` and ``exit``, as in the class docstring."""
        roc, close = values["roc"], values["close"]
        entry = roc > self.settings.entry_threshold
        leave = roc < self.settings.exit_threshold
        if "trend" in values:
            trend = values["trend"]
            entry &= close > trend
            leave |= close < trend
        return {"entry": entry, "exit": leave}

    def act(self, ctx: StrategyContext, values: Mapping[str, float], signals: Mapping[str, bool]) -> None:
        """Enter or exit on the first symbol."""
        self.long_only(ctx, signals)
