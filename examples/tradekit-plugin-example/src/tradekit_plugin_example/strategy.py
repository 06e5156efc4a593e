"""``channel_breakout``: a long-only Donchian-style breakout, written as a third party would."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from pydantic import Field

from tradekit.domain import OrderIntent, Side
from tradekit.plugin import PluginSettings, Strategy, StrategyContext


class ChannelBreakoutSettings(PluginSettings):
    """Parameters of ``channel_breakout``."""

    entry_bars: int = Field(default=20, ge=2, description="Bars of the channel whose high an entry must break.")
    exit_bars: int = Field(default=10, ge=2, description="Bars of the channel whose low an exit must break.")
    fraction: float = Field(default=0.5, gt=0, le=1, description="Share of free cash spent on an entry.")


class ChannelBreakout(Strategy):
    """Long-only channel breakout on the first symbol.

    Enters with a market buy when the close rises above the highest high of the
    ``entry_bars`` bars before the current one; exits the whole position when
    the close falls below the lowest low of the ``exit_bars`` bars before it.
    """

    Settings = ChannelBreakoutSettings
    settings: ChannelBreakoutSettings

    @property
    def warmup(self) -> int:
        """The longer channel plus the current bar."""
        return max(self.settings.entry_bars, self.settings.exit_bars) + 1

    def on_bar(self, ctx: StrategyContext) -> None:
        """Compare the close with the channels of the bars before it."""
        bars = ctx.history()
        close = bars.close[-1]
        held = ctx.position()
        if held == 0:
            channel_high = float(np.max(bars.high[-self.settings.entry_bars - 1 : -1]))
            if close > channel_high:
                instrument = ctx.instrument()
                budget = ctx.cash() * Decimal(repr(self.settings.fraction))
                quantity = instrument.round_quantity(budget / Decimal(repr(float(close))))
                if quantity > 0:
                    ctx.submit(OrderIntent(symbol=ctx.symbols[0], side=Side.BUY, quantity=quantity, tag="breakout"))
        else:
            channel_low = float(np.min(bars.low[-self.settings.exit_bars - 1 : -1]))
            if close < channel_low:
                ctx.submit(
                    OrderIntent(symbol=ctx.symbols[0], side=Side.SELL, quantity=held, reduce_only=True, tag="exit")
                )
