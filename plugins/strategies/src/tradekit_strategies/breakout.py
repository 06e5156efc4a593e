"""``breakout``: a Donchian channel breakout with an ATR stop; long only."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from tradekit.domain.orders import Order, OrderIntent, OrderType, Side, TriggerDirection
from tradekit.indicators_incremental import Indicators, Previous
from tradekit.money import to_decimal
from tradekit.plugin import PluginSettings, StrategyContext
from tradekit_strategies.accelerated import AverageTrueRange, Highest, Lowest
from tradekit_strategies.base import Signals, SignalStrategy, fraction_field, quantity_field

if TYPE_CHECKING:
    from tradekit.indicators import FloatArray

STOP_TAG = "breakout stop"


class BreakoutSettings(PluginSettings):
    """Parameters of ``breakout``."""

    entry_length: int = Field(
        default=20, ge=2, description="Bars of the channel whose highest high a close must break."
    )
    exit_length: int = Field(
        default=10, ge=2, description="Bars of the channel whose lowest low a close must break to exit."
    )
    atr_length: int = Field(default=14, ge=1, description="Bars of the average true range that sizes the stop.")
    atr_multiple: float = Field(
        default=2.0, gt=0, description="The stop rests this many average true ranges below the entry bar's close."
    )
    quantity: Decimal | None = quantity_field()
    fraction: Decimal = fraction_field()


class Breakout(SignalStrategy):
    """Long-only Donchian channel breakout on the first symbol, with a protective stop.

    ``upper`` is the highest high of the ``entry_length`` bars before the
    current one, ``lower`` the lowest low of the ``exit_length`` bars before
    it, ``atr`` the simple mean of the last ``atr_length`` true ranges.

    * Enters (a market buy) while flat when the close breaks above ``upper``.
      On the entry bar it fixes a stop price, ``close - atr_multiple * atr``
      (rounded to the tick), and once the position is held it rests a
      reduce-only stop-market sell there: the venue fills it within the bar
      where the price falls to it.
    * Exits the whole position (a reduce-only market sell, after cancelling
      the stop) when the close breaks below ``lower``.

    The stop price is saved with ``ctx.save_state`` and the resting stop is
    found again among the open orders, so a restarted run keeps protecting
    the position.
    """

    Settings = BreakoutSettings
    settings: BreakoutSettings

    def __init__(self, settings: BreakoutSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self._stop_price: Decimal | None = None
        self._exiting = False

    def declare(self) -> Indicators:
        """The two channels (of the bars before the current one) and the average true range."""
        return Indicators(
            highest=Highest(self.settings.entry_length, "high"),
            upper=Previous("highest"),
            lowest=Lowest(self.settings.exit_length, "low"),
            lower=Previous("lowest"),
            atr=AverageTrueRange(self.settings.atr_length),
        )

    def signals(self, values: Mapping[str, FloatArray]) -> Signals:
        """``entry``: the close above the upper channel (with an ATR to place the stop); ``exit``: below the lower."""
        close = values["close"]
        entry = (close > values["upper"]) & ~np.isnan(values["atr"])
        return {"entry": entry, "exit": close < values["lower"]}

    def act(self, ctx: StrategyContext, values: Mapping[str, float], signals: Mapping[str, bool]) -> None:
        """Enter, place the stop once the position is held, or exit."""
        symbol = ctx.symbols[0]
        if self.in_flight(ctx, symbol):
            return
        held = ctx.position(symbol)
        stop = self._resting_stop(ctx, symbol)
        if held == 0:
            self._exiting = False
            if stop is not None:
                ctx.cancel(stop.client_order_id)  # the position is gone (sold elsewhere): the stop has nothing to guard
            if signals["entry"]:
                self._enter(ctx, symbol, values)
                held = ctx.position(symbol)  # a market order may fill at once (a backtest filling at the close)
                stop = None
        if held > 0 and (signals["exit"] or self._exiting):
            if stop is not None:
                ctx.cancel(stop.client_order_id)
            # A venue may confirm the cancel later; the stop holds the coins until then, so the sell waits.
            self._exiting = self._resting_stop(ctx, symbol) is not None
            if not self._exiting:
                self.sell(ctx, symbol, held, "breakout exit", reduce_only=True)
            return
        if held > 0 and stop is None and self._stop_price is not None and not self.in_flight(ctx, symbol):
            self._place_stop(ctx, symbol, held)

    def _enter(self, ctx: StrategyContext, symbol: str, values: Mapping[str, float]) -> None:
        quantity = self.entry_quantity(ctx, symbol)
        if quantity <= 0:
            return
        instrument = ctx.instrument(symbol)
        level = values["close"] - self.settings.atr_multiple * values["atr"]
        stop_price = instrument.round_price(to_decimal(level), "down") if level > 0 else None
        self._stop_price = stop_price if stop_price is not None and stop_price > 0 else None
        ctx.save_state({"stop_price": str(self._stop_price) if self._stop_price is not None else None})
        self.buy(ctx, symbol, quantity, "breakout entry")

    def _place_stop(self, ctx: StrategyContext, symbol: str, held: Decimal) -> None:
        assert self._stop_price is not None
        ctx.submit(
            OrderIntent(
                symbol=symbol,
                side=Side.SELL,
                quantity=held,
                type=OrderType.STOP,
                trigger_price=self._stop_price,
                trigger_direction=TriggerDirection.FALLING,
                reduce_only=True,
                tag=STOP_TAG,
            )
        )

    @staticmethod
    def _resting_stop(ctx: StrategyContext, symbol: str) -> Order | None:
        return next((order for order in ctx.open_orders(symbol) if order.tag == STOP_TAG), None)

    def restore(self, state: dict[str, Any], open_orders: list[Order]) -> None:
        """Take back the stop price of the position held (the resting stop itself is among the open orders)."""
        saved = state.get("stop_price")
        self._stop_price = Decimal(saved) if saved is not None else None
