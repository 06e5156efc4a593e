"""The :class:`~tradekit.plugin.StrategyContext` the engine hands to strategies."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradekit.domain.bars import BarSeries, ns_to_datetime
from tradekit.domain.orders import OrderType
from tradekit.plugin import SIMULATED_VENUE, Capabilities

if TYPE_CHECKING:
    from tradekit.domain.instruments import Instrument
    from tradekit.domain.orders import Order, OrderIntent
    from tradekit.engine.core import Engine
    from tradekit.plugin import Strategy


class EngineContext:
    """A strategy's window on the run: bars up to now, its account, and order entry.

    ``history`` grows as the run goes (live) or is the whole series (backtest);
    either way :meth:`history` returns only bars up to the current index, so a
    strategy cannot see the future.
    """

    def __init__(
        self,
        engine: Engine,
        strategy: Strategy,
        history: dict[str, BarSeries],
        *,
        market_orders_fill_at_close: bool = True,
        capabilities: Capabilities | None = None,
    ) -> None:
        self._engine = engine
        self._capabilities = capabilities or SIMULATED_VENUE
        self._strategy = strategy
        self._history = history
        self._symbols = tuple(history)
        self._first = self._symbols[0]
        self._fill_at_close = market_orders_fill_at_close
        self.index = 0
        #: Price alerts per symbol, ``(below, above)`` as floats (see :meth:`wake_when`); the backtest loop reads them.
        self.alerts: dict[str, tuple[float, float]] = {}

    def set_history(self, history: dict[str, BarSeries]) -> None:
        """Replace the series (a live run appends bars)."""
        self._history = history

    @property
    def now(self) -> datetime:
        """The open time of the current bar."""
        return ns_to_datetime(int(self._history[self._first].timestamps[self.index]))

    @property
    def symbols(self) -> tuple[str, ...]:
        """The run's symbols in config order."""
        return self._symbols

    @property
    def capabilities(self) -> Capabilities:
        """The exchange's capabilities (the simulated venue's when the loop was not given them)."""
        return self._capabilities

    def close(self, symbol: str | None = None) -> float:
        """The current bar's close."""
        return float(self._history[symbol or self._first].close[self.index])

    def history(self, symbol: str | None = None) -> BarSeries:
        """Bars up to and including the current one."""
        return self._history[symbol or self._first].slice(0, self.index + 1)

    def instrument(self, symbol: str | None = None) -> Instrument:
        """The venue's rules for ``symbol``."""
        return self._engine.instruments[symbol or self._first]

    def position(self, symbol: str | None = None) -> Decimal:
        """The signed quantity held."""
        return self._engine.ledger.quantity(symbol or self._first)

    def cash(self) -> Decimal:
        """Free quote cash (what resting buys hold back is not free)."""
        return self._engine.free_cash()

    def equity(self) -> Decimal:
        """Cash plus positions at the current close."""
        return self._engine.equity()

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """This run's resting orders."""
        return self._engine.open_orders(symbol)

    def submit(self, intent: OrderIntent) -> str | None:
        """Send an intent through every risk rule to the broker."""
        # A market order decided on this bar fills at its close, or waits for
        # the next bar's open (the backtest's `fill_at` setting).
        waits = not self._fill_at_close and intent.type is OrderType.MARKET
        market_price = None if waits else self._engine.price(intent.symbol)
        return self._engine.submit_intent(self._strategy, intent, market_price)

    def cancel(self, client_order_id: str) -> None:
        """Cancel one of this run's open orders."""
        self._engine.cancel(client_order_id)

    def save_state(self, state: dict[str, Any]) -> None:
        """Journal the strategy's state."""
        self._engine.save_state(self._strategy, state)

    def wake_when(
        self,
        symbol: str | None = None,
        *,
        above: Decimal | float | None = None,
        below: Decimal | float | None = None,
    ) -> None:
        """Set (or, with neither price, clear) the price alert of ``symbol``; see the protocol's docstring."""
        symbol = symbol or self._first
        if symbol not in self._symbols:
            raise ValueError(f"wake_when: {symbol!r} is not a symbol of this run ({', '.join(self._symbols)})")
        if above is None and below is None:
            self.alerts.pop(symbol, None)
            return
        # A bar's float compared with float(level) decides as the exact comparison does (see the venue's
        # _levels), so the alert is kept as floats for the loop's numpy scan.
        self.alerts[symbol] = (
            float("-inf") if below is None else float(below),
            float("inf") if above is None else float(above),
        )
