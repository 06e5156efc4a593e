"""The kernel's reference strategy, ``sma_cross``, registered by entry point like any plugin."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, model_validator

from tradekit.domain.orders import OrderIntent, Side
from tradekit.indicators import exact_sma_crossings
from tradekit.plugin import PluginSettings, Strategy, StrategyContext

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tradekit.domain.bars import BarSeries


class SmaCrossSettings(PluginSettings):
    """Parameters of ``sma_cross``."""

    fast: int = Field(default=10, ge=1, description="Bars in the fast simple moving average.")
    slow: int = Field(default=30, ge=2, description="Bars in the slow simple moving average.")
    quantity: Decimal | None = Field(
        default=None, gt=0, description="Fixed quantity to buy on entry; when unset, `fraction` of cash."
    )
    fraction: Decimal = Field(
        default=Decimal("0.95"),
        gt=0,
        le=Decimal("0.99"),
        description="Share of free cash spent on entry when no quantity is set (at most 0.99: fees need room).",
    )

    @model_validator(mode="after")
    def _fast_below_slow(self) -> SmaCrossSettings:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        return self


class SmaCross(Strategy):
    """Long-only moving-average crossover on the first symbol of the run.

    Trades on the close. Enters (a market buy) when the fast SMA crosses
    strictly above the slow SMA while flat; exits the whole position (a
    reduce-only market sell) when the fast SMA crosses strictly below the slow
    one. A bar where the two are equal is not a cross; the cross happens on
    the bar that leaves equality in the other direction. The averages are
    compared exactly, on integer sums of prices in units of their tick.
    """

    Settings = SmaCrossSettings
    settings: SmaCrossSettings

    @property
    def warmup(self) -> int:
        """The slow average needs ``slow`` bars, and a cross one more."""
        return self.settings.slow + 1

    def _signals(self, close: NDArray[np.float64]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        # Exact integer averages: a bar where the two are equal is never a cross.
        return exact_sma_crossings(close, self.settings.fast, self.settings.slow)

    def __init__(self, settings: SmaCrossSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self._prepared: tuple[NDArray[np.bool_], NDArray[np.bool_]] | None = None
        # The bars of the prepared crossings, up and down: a set lookup costs a third of a numpy item read.
        self._crossing_bars: tuple[frozenset[int], frozenset[int]] = (frozenset(), frozenset())

    def prepare(self, data: dict[str, BarSeries]) -> None:
        """Compute the crossings over the whole series once (each uses only bars up to it)."""
        self._prepared = up, down = self._signals(next(iter(data.values())).close)
        self._crossing_bars = (frozenset(np.flatnonzero(up).tolist()), frozenset(np.flatnonzero(down).tolist()))

    def wakeups(self, data: dict[str, BarSeries]) -> NDArray[np.bool_] | None:
        """Only the bars where the averages cross can change anything."""
        up, down = self._prepared or self._signals(next(iter(data.values())).close)
        return up | down

    def on_bar(self, ctx: StrategyContext) -> None:
        """Decide on the current bar: from the prepared crossings, or from the last ``slow + 1`` closes."""
        if self._prepared is not None:
            up_bars, down_bars = self._crossing_bars
            up_now = ctx.index in up_bars
            down_now = ctx.index in down_bars
        else:
            history = ctx.history()
            needed = self.settings.slow + 1
            if len(history) < needed:
                return
            up, down = self._signals(history.close[-needed:])
            up_now, down_now = bool(up[-1]), bool(down[-1])
        if not (up_now or down_now):
            return
        held = ctx.position()
        symbol = ctx.symbols[0]
        if up_now and held == 0:
            quantity = self._entry_quantity(ctx)
            if quantity > 0:
                ctx.submit(OrderIntent.market(symbol, Side.BUY, quantity, tag="sma_cross entry"))
        elif down_now and held > 0:
            ctx.submit(OrderIntent.market(symbol, Side.SELL, held, reduce_only=True, tag="sma_cross exit"))

    def _entry_quantity(self, ctx: StrategyContext) -> Decimal:
        instrument = ctx.instrument()
        if self.settings.quantity is not None:
            return instrument.round_quantity(self.settings.quantity)
        price = Decimal(repr(ctx.close()))
        budget = ctx.cash() * self.settings.fraction
        return instrument.round_quantity(budget / price)
