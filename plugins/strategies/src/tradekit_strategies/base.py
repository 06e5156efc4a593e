"""What the strategies of this distribution share: indicators declared once, signals computed two ways, sizing.

A strategy here declares its indicators (:meth:`SignalStrategy.declare`) and
states its rules as element-wise numpy expressions over them
(:meth:`SignalStrategy.signals`). In a backtest, :meth:`prepare` computes the
indicators once over the whole arrays and the rules once over the results;
:meth:`wakeups` marks the bars where any rule holds, so the engine skips the
rest. Live (no ``prepare``), a :class:`~tradekit.indicators_incremental.BarFeed`
updates the same indicators bar by bar and the same rules run on one-element
arrays. The indicators give equal values both ways and the rules are the same
arithmetic on them, so a live run decides what the backtest decided, bar for bar.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from tradekit.domain.orders import OrderIntent, OrderType, Side
from tradekit.indicators_incremental import BarFeed, Indicators
from tradekit.money import to_decimal
from tradekit.plugin import PluginSettings, Strategy, StrategyContext

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tradekit.domain.bars import BarSeries
    from tradekit.indicators import FloatArray

Signals = dict[str, "NDArray[np.bool_]"]


def quantity_field() -> Any:
    """The ``quantity`` setting every strategy here has (a fresh field for each settings class)."""
    return Field(default=None, gt=0, description="Fixed quantity to buy on entry; when unset, `fraction` of cash.")


def fraction_field() -> Any:
    """The ``fraction`` setting every strategy here has."""
    return Field(
        default=Decimal("0.95"),
        gt=0,
        le=Decimal("0.99"),
        description="Share of free cash spent on entry when no quantity is set (at most 0.99: fees need room).",
    )


class SignalStrategy(Strategy):
    """Base of the strategies here: declared indicators, element-wise rules, prepared or fed bar by bar.

    Subclasses implement :meth:`declare`, :meth:`signals` and :meth:`act`;
    :meth:`columns` says which bar columns the indicators read (by default
    the first symbol's ``open``, ``high``, ``low``, ``close``, ``volume``).
    """

    def __init__(self, settings: PluginSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self._declared = self.declare()
        self._feed = BarFeed(self._declared)
        self._values: dict[str, FloatArray] | None = None
        self._signals: Signals | None = None

    # -- what a strategy states ------------------------------------------------------------------

    def declare(self) -> Indicators:
        """The indicators the rules read, built from the settings."""
        raise NotImplementedError

    def signals(self, values: Mapping[str, FloatArray]) -> Signals:
        """The rules, element-wise over ``values`` (bar columns and indicators, arrays of equal length)."""
        raise NotImplementedError

    def act(self, ctx: StrategyContext, values: Mapping[str, float], signals: Mapping[str, bool]) -> None:
        """Trade on the current bar, given its values and which rules hold on it."""
        raise NotImplementedError

    def columns(self, data: Mapping[str, BarSeries]) -> tuple[NDArray[np.int64], dict[str, FloatArray]]:
        """The bar times and the columns the indicators and rules read, from the run's series."""
        first = next(iter(data.values()))
        return first.timestamps, {
            "open": first.open,
            "high": first.high,
            "low": first.low,
            "close": first.close,
            "volume": first.volume,
        }

    # -- the engine's side -------------------------------------------------------------------------

    def indicators(self) -> Indicators:
        """The declared indicators; the default :attr:`warmup` is what they need."""
        return self._declared

    def prepare(self, data: dict[str, BarSeries]) -> None:
        """Compute every indicator and rule once over the whole series (each value from bars up to it)."""
        _, columns = self.columns(data)
        values = {**columns, **self._declared.compute(columns)}
        self._values = values
        self._signals = self.signals(values)

    def wakeups(self, data: dict[str, BarSeries]) -> NDArray[np.bool_] | None:
        """The bars where any rule holds: only there can :meth:`act` do something."""
        if self._signals is None:
            self.prepare(data)
        assert self._signals is not None
        length = len(next(iter(data.values())))
        mask = np.zeros(length, dtype=bool)
        for signal in self._signals.values():
            mask |= signal
        return mask

    def on_bar(self, ctx: StrategyContext) -> None:
        """Read the current bar's values and rules (prepared, or fed bar by bar), then :meth:`act`."""
        if self._values is not None and self._signals is not None:
            index = ctx.index
            values = {name: float(column[index]) for name, column in self._values.items()}
            signals = {name: bool(signal[index]) for name, signal in self._signals.items()}
        else:
            values, signals = self._current(ctx)
        self.act(ctx, values, signals)

    def _current(self, ctx: StrategyContext) -> tuple[dict[str, float], dict[str, bool]]:
        """Feed the bars not seen yet to the indicators; the rules on the newest bar, as one-element arrays."""
        timestamps, columns = self.columns({symbol: ctx.history(symbol) for symbol in ctx.symbols})
        latest = self._feed.update(timestamps, columns)
        values = {name: float(column[-1]) for name, column in columns.items()}
        values.update(latest)
        one_bar = {name: np.array([value]) for name, value in values.items()}
        signals = {name: bool(signal[0]) for name, signal in self.signals(one_bar).items()}
        return values, signals

    # -- trading helpers ---------------------------------------------------------------------------

    def entry_quantity(self, ctx: StrategyContext, symbol: str, fraction: Decimal | None = None) -> Decimal:
        """What to buy: the fixed ``quantity``, or ``fraction`` of free cash at the close; 0 if too small."""
        instrument = ctx.instrument(symbol)
        price = instrument.round_price(to_decimal(ctx.close(symbol)))
        fixed: Decimal | None = getattr(self.settings, "quantity", None)
        if fixed is not None:
            quantity = instrument.round_quantity(fixed)
        else:
            share = fraction if fraction is not None else Decimal(getattr(self.settings, "fraction", "0.95"))
            quantity = instrument.round_quantity(ctx.cash() * share / price) if price > 0 else Decimal(0)
        if quantity <= 0 or instrument.quantity_problem(quantity, price) is not None:
            return Decimal(0)
        return quantity

    def in_flight(self, ctx: StrategyContext, symbol: str) -> bool:
        """Whether a market order of this run for ``symbol`` is still open (sent, not yet filled)."""
        return any(order.type is OrderType.MARKET for order in ctx.open_orders(symbol))

    def buy(self, ctx: StrategyContext, symbol: str, quantity: Decimal, tag: str) -> str | None:
        """A market buy."""
        return ctx.submit(OrderIntent(symbol=symbol, side=Side.BUY, quantity=quantity, tag=tag))

    def sell(self, ctx: StrategyContext, symbol: str, quantity: Decimal, tag: str, *, reduce_only: bool) -> str | None:
        """A market sell."""
        return ctx.submit(
            OrderIntent(symbol=symbol, side=Side.SELL, quantity=quantity, reduce_only=reduce_only, tag=tag)
        )

    def long_only(self, ctx: StrategyContext, signals: Mapping[str, bool]) -> None:
        """Buy on ``entry`` while flat, sell everything on ``exit`` while long, on the first symbol."""
        symbol = ctx.symbols[0]
        if self.in_flight(ctx, symbol):
            return
        held = ctx.position(symbol)
        if held == 0 and signals["entry"]:
            quantity = self.entry_quantity(ctx, symbol)
            if quantity > 0:
                self.buy(ctx, symbol, quantity, f"{self.name} entry")
        elif held > 0 and signals["exit"]:
            self.sell(ctx, symbol, held, f"{self.name} exit", reduce_only=True)
