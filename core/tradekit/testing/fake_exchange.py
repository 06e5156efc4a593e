"""A deterministic in-memory exchange for tests, backed by the kernel's simulated venue.

:class:`FakeExchange` implements every method of :class:`~tradekit.plugin.Exchange`.
Its market moves only when a test moves it (:meth:`FakeExchange.set_price`, or
:meth:`FakeExchange.feed` with bars), and its clock advances one bar per move, so
the same test always sees the same fills at the same times. It behaves like a
REST venue: a refusal it can tell at once (unknown symbol, off-tick price, not
enough funds) is raised as the kernel's :class:`~tradekit.errors.OrderRejected`
family; what happens later (fills, triggers, cancels) arrives through
:meth:`FakeExchange.poll_events`.

Faults are injected by hand: :meth:`FakeExchange.fail_next` (a network error,
or any error, on the next call), :meth:`FakeExchange.reject_next` (the venue
refuses the next order), :meth:`FakeExchange.lose_reply_next` (the next order
reaches the venue but its reply is lost) and :meth:`FakeExchange.disconnect`
(every call fails until :meth:`~tradekit.plugin.Exchange.connect`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from tradekit.domain.bars import BarSeries
from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import Fill, Order, OrderStatus, OrderUpdate
from tradekit.errors import (
    ExchangeError,
    ExchangeUnavailable,
    InsufficientFunds,
    InvalidOrder,
    OrderRejected,
)
from tradekit.money import to_decimal
from tradekit.plugin import SIMULATED_VENUE, Exchange, PluginSettings

if TYPE_CHECKING:
    from tradekit.domain.portfolio import Balance, Position
    from tradekit.sim import SimulatedVenue


class FakeExchangeSettings(PluginSettings):
    """Settings of :class:`FakeExchange`: its symbols, their rules, the account and the clock."""

    symbols: tuple[str, ...] = Field(default=("BTC/USDT",), min_length=1, description="Symbols it lists.")
    price: Decimal = Field(default=Decimal(100), gt=0, description="Starting price of every symbol.")
    tick_size: Decimal = Field(default=Decimal("0.01"), gt=0, description="Price step of every symbol.")
    lot_size: Decimal = Field(default=Decimal("0.001"), gt=0, description="Quantity step of every symbol.")
    min_notional: Decimal = Field(default=Decimal(0), ge=0, description="Smallest order value accepted.")
    cash: Decimal = Field(default=Decimal(10_000), gt=0, description="Starting cash in the quote currency.")
    maker_fee: Decimal = Field(default=Decimal("0.001"), ge=0, lt=1, description="Maker fee rate.")
    taker_fee: Decimal = Field(default=Decimal("0.002"), ge=0, lt=1, description="Taker fee rate.")
    timeframe: str = Field(default="1m", description="Bar size: the clock advances one bar per price move.")
    start: datetime = Field(default=datetime(2024, 1, 1, tzinfo=UTC), description="Open time of the first bar.")


@dataclass
class _Fault:
    """An injected failure waiting for its call."""

    operation: str | None
    error: ExchangeError


class FakeExchange(Exchange):
    """A complete in-memory exchange whose market moves only when a test moves it; see the module docstring."""

    Settings = FakeExchangeSettings
    settings: FakeExchangeSettings
    capabilities = replace(SIMULATED_VENUE, timeframes=("1m", "5m", "15m", "1h", "4h", "1d"))

    def __init__(self, settings: FakeExchangeSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name or "fake")
        self.connected = True
        #: Every call made to it, in order (``"submit_order"``, ``"fetch_bars"``...), for assertions.
        self.calls: list[str] = []
        self._faults: list[_Fault] = []
        self._lose_reply = False
        self._step = timedelta(microseconds=self._timeframe_ns() // 1000)
        self.now = self.settings.start
        self._prices = {symbol: self.settings.price for symbol in self.settings.symbols}
        self._rows: dict[str, list[tuple[int, float, float, float, float, float]]] = {
            symbol: [self._row(self.now, self.settings.price, self.settings.price, self.settings.price)]
            for symbol in self.settings.symbols
        }
        self._data: dict[str, BarSeries] = {}
        self._venue: SimulatedVenue | None = None
        # Events drained from the venue while looking for an immediate refusal, not yet polled.
        self._pending: list[OrderUpdate | Fill] = []

    def _timeframe_ns(self) -> int:
        from tradekit.data.timeframes import timeframe_to_ns

        return timeframe_to_ns(self.settings.timeframe)

    @staticmethod
    def _row(
        at: datetime, open_: Decimal, high: Decimal, low: Decimal, close: Decimal | None = None, volume: float = 1.0
    ) -> tuple[int, float, float, float, float, float]:
        ns = int(at.timestamp() * 1_000_000) * 1_000
        last = close if close is not None else open_
        return (ns, float(open_), float(high), float(low), float(last), volume)

    # -- what a test does to it -------------------------------------------------------------

    @property
    def venue(self) -> SimulatedVenue:
        """The simulated venue that holds the account and the order book."""
        if self._venue is None:
            from tradekit.sim import FeeSchedule, SimulatedVenue

            instruments = self._instruments()
            quote = next(iter(instruments.values())).quote
            self._venue = SimulatedVenue(
                instruments,
                {quote: self.settings.cash},
                FeeSchedule(maker=self.settings.maker_fee, taker=self.settings.taker_fee),
                name=self.name,
            )
        return self._venue

    def price(self, symbol: str | None = None) -> Decimal:
        """The current price of ``symbol`` (the first symbol by default)."""
        return self._prices[symbol or self.settings.symbols[0]]

    def set_price(
        self,
        symbol: str,
        price: Decimal | float | str,
        *,
        high: Decimal | float | str | None = None,
        low: Decimal | float | str | None = None,
        volume: float = 1.0,
    ) -> None:
        """Close one bar of ``symbol`` that moves from the current price to ``price``.

        The bar opens at the current price; its high and low default to the
        ends of that move. Resting orders the move reaches fill or trigger
        (their events wait in :meth:`poll_events`), and the clock advances one bar.
        """
        self._known(symbol)
        target = to_decimal(price) if not isinstance(price, Decimal) else price
        open_ = self._prices[symbol]
        top = max(open_, target) if high is None else to_decimal(high) if not isinstance(high, Decimal) else high
        bottom = min(open_, target) if low is None else to_decimal(low) if not isinstance(low, Decimal) else low
        if top < max(open_, target) or bottom > min(open_, target) or bottom <= 0:
            raise ValueError(
                f"a bar of {symbol} from {open_} to {target} cannot have high {top} and low {bottom}: "
                "the high must reach both ends and the low must be positive and below both"
            )
        self.now += self._step
        self._close_bar(symbol, self._row(self.now, open_, top, bottom, target, volume))

    def feed(self, bars: BarSeries) -> None:
        """Close each bar of ``bars`` in turn (their symbol must be listed); the clock follows their times."""
        self._known(bars.symbol)
        for i in range(len(bars)):
            self.now = bars.datetime_at(i)
            row = (
                int(bars.timestamps[i]),
                float(bars.open[i]),
                float(bars.high[i]),
                float(bars.low[i]),
                float(bars.close[i]),
                float(bars.volume[i]),
            )
            self._close_bar(bars.symbol, row)

    def _close_bar(self, symbol: str, row: tuple[int, float, float, float, float, float]) -> None:
        _, open_, high, low, close, volume = row
        self._rows[symbol].append(row)
        self.venue.process_bar(symbol, self.now, open_, high, low, close, volume)
        self._prices[symbol] = self.venue.instruments[symbol].round_price(to_decimal(close))

    def fail_next(self, operation: str | None = None, error: ExchangeError | None = None) -> None:
        """Make the next call (of ``operation``, e.g. ``"submit_order"``, or of any) raise ``error``.

        The default error is a retryable :class:`~tradekit.errors.ExchangeUnavailable`,
        as a dropped connection or a timeout would raise. Calls queue up: two
        calls of this fail the next two matching calls.
        """
        failure = error or ExchangeUnavailable(
            f"{self.name}: the connection dropped during {operation or 'the call'} (injected by the test)"
        )
        self._faults.append(_Fault(operation, failure))

    def reject_next(self, reason: str = "rejected by the venue (injected by the test)") -> None:
        """Make the venue refuse the next order: ``submit_order`` raises :class:`OrderRejected` with ``reason``."""
        self.fail_next("submit_order", OrderRejected(f"{self.name} refused the order: {reason}", venue_message=reason))

    def lose_reply_next(self) -> None:
        """The next order reaches the venue, but its reply is lost: ``submit_order`` raises ExchangeUnavailable."""
        self._lose_reply = True

    def disconnect(self) -> None:
        """Drop the connection: every call raises ExchangeUnavailable until ``connect()``."""
        self.connected = False

    def _call(self, operation: str) -> None:
        self.calls.append(operation)
        if not self.connected:
            raise ExchangeUnavailable(f"{self.name} is disconnected ({operation}); call connect() first")
        for number, fault in enumerate(self._faults):
            if fault.operation is None or fault.operation == operation:
                del self._faults[number]
                raise fault.error

    def _known(self, symbol: str) -> None:
        if symbol not in self._prices:
            raise ValueError(f"{self.name} does not list {symbol!r}; it lists {', '.join(self.settings.symbols)}")

    # -- the Exchange contract ----------------------------------------------------------------

    def connect(self) -> None:
        """(Re)connect; the account and the book are kept, as on a real venue."""
        self.calls.append("connect")
        self.connected = True

    def close(self) -> None:
        """Disconnect; ``connect()`` again to go on."""
        self.calls.append("close")
        self.connected = False

    def _instruments(self) -> dict[str, Instrument]:
        from tradekit.paper import split_symbol

        result = {}
        for symbol in self.settings.symbols:
            base, quote = split_symbol(symbol)
            result[symbol] = Instrument(
                symbol=symbol,
                base=base,
                quote=quote,
                tick_size=self.settings.tick_size,
                lot_size=self.settings.lot_size,
                min_notional=self.settings.min_notional,
            )
        return result

    def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        """The rules of ``symbols``; an unlisted symbol raises ExchangeError naming the listed ones."""
        self._call("instruments")
        listed = self.venue.instruments
        unknown = [symbol for symbol in symbols if symbol not in listed]
        if unknown:
            raise ExchangeError(f"{self.name} does not list {', '.join(unknown)}; it lists {', '.join(listed)}")
        return {symbol: listed[symbol] for symbol in symbols}

    def submit_order(self, order: Order) -> None:
        """Send ``order`` to the venue at the current price; an immediate refusal is raised, mapped."""
        self._call("submit_order")
        if order.symbol not in self._prices:
            raise InvalidOrder(
                f"{self.name} does not list {order.symbol!r}; it lists {', '.join(self.settings.symbols)}",
                venue_message=f"unknown symbol {order.symbol}",
            )
        venue = self.venue
        client_order_id = order.client_order_id
        if venue.fetch_order(client_order_id) is not None:
            raise InvalidOrder(
                f"{self.name} already has an order with client order id {client_order_id!r}",
                venue_message="duplicate client order id",
            )
        venue.submit(order.model_copy(), self.now, self._prices[order.symbol])
        known = venue.fetch_order(client_order_id)
        if known is not None and known.status is OrderStatus.REJECTED:
            # A REST venue refuses in its reply: raise, and keep the REJECTED event out of poll_events.
            self._pending.extend(event for event in venue.poll_events() if event.client_order_id != client_order_id)
            reason = known.reason or "refused"
            error_type = InsufficientFunds if reason.startswith("insufficient") else InvalidOrder
            raise error_type(f"{self.name} refused order {client_order_id}: {reason}", venue_message=reason)
        if self._lose_reply:
            self._lose_reply = False
            raise ExchangeUnavailable(f"{self.name}: the reply to order {order.client_order_id} was lost (injected)")

    def cancel_order(self, order: Order) -> None:
        """Cancel on the venue; an order it does not hold open raises OrderNotFound."""
        self._call("cancel_order")
        self.venue.cancel(order.client_order_id, self.now)

    def fetch_order(self, client_order_id: str, symbol: str) -> Order | None:
        """A copy of the venue's view of one order, or None if it never saw it."""
        self._call("fetch_order")
        order = self.venue.fetch_order(client_order_id)
        return order.model_copy() if order is not None else None

    def resume_order(self, order: Order, fills: Sequence[Fill]) -> Order | None:
        """The venue's view: its events not polled yet wait for :meth:`poll_events`, fills made meanwhile too."""
        return self.fetch_order(order.client_order_id, order.symbol)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Copies of the resting orders (of ``symbol``, or all)."""
        self._call("open_orders")
        return [order.model_copy() for order in self.venue.open_orders(symbol)]

    def balances(self) -> dict[str, Balance]:
        """Cash per currency."""
        self._call("balances")
        return self.venue.balances()

    def positions(self) -> dict[str, Position]:
        """Positions that are not flat."""
        self._call("positions")
        return self.venue.positions()

    def poll_events(self) -> list[OrderUpdate | Fill]:
        """Order updates and fills since the last call, oldest first."""
        self._call("poll_events")
        events, self._pending = [*self._pending, *self.venue.poll_events()], []
        return events

    def fetch_bars(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int | None = None
    ) -> BarSeries:
        """The bars closed so far (the first is the starting price), from ``since``, the last ``limit``."""
        self._call("fetch_bars")
        self._known(symbol)
        rows = self._rows[symbol]
        if since is not None:
            cut = int(since.timestamp() * 1_000_000) * 1_000
            rows = [row for row in rows if row[0] >= cut]
        if limit is not None:
            rows = rows[-limit:] if limit > 0 else []
        columns = np.array(rows, dtype=np.float64).reshape(-1, 6)
        return BarSeries(
            symbol=symbol,
            timeframe=self.settings.timeframe,
            timestamps=np.array([row[0] for row in rows], dtype=np.int64),
            open=np.ascontiguousarray(columns[:, 1]),
            high=np.ascontiguousarray(columns[:, 2]),
            low=np.ascontiguousarray(columns[:, 3]),
            close=np.ascontiguousarray(columns[:, 4]),
            volume=np.ascontiguousarray(columns[:, 5]),
            source=f"{self.name} (fake exchange)",
        )

    def use_data(self, data: dict[str, BarSeries]) -> None:
        """A backtest's bars: :meth:`fetch_history` returns them."""
        self._data = dict(data)

    def fetch_history(self, symbol: str, timeframe: str, start: datetime | None, end: datetime | None) -> BarSeries:
        """The backtest's bars of ``symbol`` if given, else the bars closed so far."""
        if symbol in self._data:
            return self._data[symbol]
        return self.fetch_bars(symbol, timeframe, since=start)

    def latest_price(self, symbol: str) -> Decimal | None:
        """The current price."""
        self._call("latest_price")
        return self._prices.get(symbol)

    def fees(self, symbol: str) -> tuple[Decimal, Decimal]:
        """(maker, taker) fee rates."""
        return self.settings.maker_fee, self.settings.taker_fee

    def default_symbols(self) -> tuple[str, ...]:
        """The listed symbols."""
        return self.settings.symbols

    def market_ended(self, symbol: str, timeframe: str) -> bool:
        """Always: the market moves only when the test moves it, so a run stops once it has seen every bar."""
        return True
