"""``volatility_expansion``: enter when realised volatility breaks above its recent range, in the move's direction."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import Field

from tradekit.indicators_incremental import Indicators, Previous, StdDev
from tradekit.plugin import PluginSettings, StrategyContext
from tradekit_strategies.accelerated import Highest, RateOfChange
from tradekit_strategies.base import Signals, SignalStrategy, fraction_field, quantity_field

if TYPE_CHECKING:
    from tradekit.indicators import FloatArray


class VolatilityExpansionSettings(PluginSettings):
    """Parameters of ``volatility_expansion``."""

    vol_length: int = Field(
        default=24, ge=2, description="Bars of returns whose standard deviation is the realised volatility."
    )
    range_length: int = Field(
        default=120, ge=2, description="Bars of realised volatility whose highest value is the range to break."
    )
    expansion: float = Field(
        default=1.0, gt=0, description="Volatility must exceed the range's top times this (1.0: just above it)."
    )
    quantity: Decimal | None = quantity_field()
    fraction: Decimal = fraction_field()


class VolatilityExpansion(SignalStrategy):
    """Long-only volatility breakout on the first symbol: join a move that wakes the market up.

    Trades on the close. ``returns`` are bar-to-bar changes of the close,
    ``(close - previous close) / previous close``; ``volatility`` is their
    (population) standard deviation over the last ``vol_length`` bars;
    ``ceiling`` the highest ``volatility`` of the ``range_length`` bars before
    the current one; ``move`` the rate of change of the close over
    ``vol_length`` bars, the direction of the move behind the volatility.

    * Enters (a market buy) while flat when ``volatility > expansion * ceiling``
      and ``move > 0``: volatility breaks out of its range while the price rises.
      (A break while the price falls is a short signal; spot cannot sell short,
      so it is not taken.)
    * Exits the whole position (a reduce-only market sell) when ``move < 0``:
      the move that carried the breakout has reversed over the volatility window.
    """

    Settings = VolatilityExpansionSettings
    settings: VolatilityExpansionSettings

    def declare(self) -> Indicators:
        """Returns, their rolling volatility, the volatility's range before this bar, and the move."""
        return Indicators(
            returns=RateOfChange(1, "close"),
            volatility=StdDev(self.settings.vol_length, "returns"),
            highest_volatility=Highest(self.settings.range_length, "volatility"),
            ceiling=Previous("highest_volatility"),
            move=RateOfChange(self.settings.vol_length, "close"),
        )

    def signals(self, values: Mapping[str, FloatArray]) -> Signals:
        """``entry`` and ``exit``, as in the class docstring."""
        move = values["move"]
        expanding = values["volatility"] > values["ceiling"] * self.settings.expansion
        return {"entry": expanding & (move > 0), "exit": move < 0}

    def act(self, ctx: StrategyContext, values: Mapping[str, float], signals: Mapping[str, bool]) -> None:
        """Enter or exit on the first symbol."""
        self.long_only(ctx, signals)
