"""``mean_reversion``: buy a close far below its moving mean (a z-score), sell when it is back; long only."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from tradekit.indicators_incremental import Indicators, Previous, ZScore
from tradekit.plugin import PluginSettings, StrategyContext
from tradekit_strategies.base import Signals, SignalStrategy, fraction_field, quantity_field

if TYPE_CHECKING:
    from tradekit.indicators import FloatArray


class MeanReversionSettings(PluginSettings):
    """Parameters of ``mean_reversion``."""

    length: int = Field(default=20, ge=2, description="Bars of the mean and standard deviation (the Bollinger window).")
    entry_z: float = Field(
        default=2.0,
        gt=0,
        description="Enter when the close falls through this many standard deviations below the mean.",
    )
    exit_z: float = Field(
        default=0.0, description="Exit when the z-score is back at or above this (0: at the mean); above -entry_z."
    )
    stop_z: float | None = Field(
        default=None, gt=0, description="Exit at a loss when the z-score falls to -stop_z or below; unset: no stop."
    )
    quantity: Decimal | None = quantity_field()
    fraction: Decimal = fraction_field()

    @model_validator(mode="after")
    def _levels_ordered(self) -> MeanReversionSettings:
        if self.exit_z <= -self.entry_z:
            raise ValueError(
                f"exit_z ({self.exit_z}) must be above -entry_z ({-self.entry_z}): the exit would hold on the entry bar"
            )
        if self.stop_z is not None and self.stop_z <= self.entry_z:
            raise ValueError(
                f"stop_z ({self.stop_z}) must be above entry_z ({self.entry_z}): the stop would hold on the entry bar"
            )
        return self


class MeanReversion(SignalStrategy):
    """Long-only mean reversion on the first symbol: Bollinger bands as a z-score.

    Trades on the close. ``z`` is the close's distance from the mean of the
    last ``length`` closes in their (population) standard deviations, the
    current close included: ``z = -2`` is the lower Bollinger band of width 2.
    A window of equal closes has no z-score (no signal).

    * Enters (a market buy) while flat on the bar where ``z`` falls through
      ``-entry_z`` (``z <= -entry_z`` now and not on the bar before, where a
      flat window counts as being at the mean).
      Entering on the crossing, not on every bar below the band, means a
      position stopped out is not bought again until the price has come back
      above the band and fallen through it anew.
    * Exits the whole position (a reduce-only market sell) when ``z >= exit_z``
      (by default 0: the close is back at the mean), or when ``z <= -stop_z``
      if a stop is set.
    """

    Settings = MeanReversionSettings
    settings: MeanReversionSettings

    def declare(self) -> Indicators:
        """The z-score and its value on the bar before."""
        return Indicators(z=ZScore(self.settings.length, "close"), previous_z=Previous("z"))

    def signals(self, values: Mapping[str, FloatArray]) -> Signals:
        """``entry`` and ``exit``, as in the class docstring (NaN compares false: no signal)."""
        z, previous = values["z"], values["previous_z"]
        entry = (z <= -self.settings.entry_z) & ~(previous <= -self.settings.entry_z)
        leave = z >= self.settings.exit_z
        if self.settings.stop_z is not None:
            leave |= z <= -self.settings.stop_z
        return {"entry": entry, "exit": leave}

    def act(self, ctx: StrategyContext, values: Mapping[str, float], signals: Mapping[str, bool]) -> None:
        """Enter or exit on the first symbol."""
        self.long_only(ctx, signals)
