"""``paper``: the built-in simulated exchange, registered by entry point like any plugin.

It needs no network and no keys. Market data is the embedded, seeded market
simulator (:func:`tradekit.data.simulate_bars`), or the bars of a data file a
backtest gives it; orders fill on the kernel's simulated venue
(:mod:`tradekit.sim`) with this plugin's fees.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from time import monotonic
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from tradekit.domain.bars import datetime_to_ns
from tradekit.domain.instruments import Instrument, InstrumentKind
from tradekit.errors import InvalidOrder
from tradekit.indicators import price_scale
from tradekit.plugin import SIMULATED_VENUE, Exchange, PluginSettings

if TYPE_CHECKING:
    from tradekit.domain.bars import BarSeries
    from tradekit.domain.orders import Fill, Order, OrderUpdate
    from tradekit.domain.portfolio import Balance, Position
    from tradekit.sim import SimulatedVenue


class PaperSettings(PluginSettings):
    """Settings of the ``paper`` exchange."""

    symbol: str = Field(default="SIM/USDT", description="Symbol of the simulated market.")
    seed: int = Field(default=7, description="Seed of the simulated market: the same seed, the same prices.")
    bars: int = Field(default=20_000, ge=100, le=50_000_000, description="Length of the simulated market.")
    start_price: float = Field(default=30_000.0, gt=0, description="First price of the simulated market.")
    tick_size: Decimal | None = Field(
        default=None,
        gt=0,
        description="Price step; unset: 0.01 for the simulator, the data's precision for files.",
    )
    lot_size: Decimal = Field(default=Decimal("0.00001"), gt=0, description="Quantity step.")
    min_notional: Decimal = Field(default=Decimal(0), ge=0, description="Smallest order value accepted.")
    maker_fee: Decimal = Field(default=Decimal("0.001"), ge=0, lt=1, description="Maker fee (0.001 = 0.1%).")
    taker_fee: Decimal = Field(default=Decimal("0.001"), ge=0, lt=1, description="Taker fee (0.001 = 0.1%).")
    cash: Decimal = Field(
        default=Decimal(100_000),
        gt=0,
        description="Quote cash behind paper's own order methods (used by tests and tools that drive the exchange "
        "directly); backtests and runs start with `backtest.cash`.",
    )
    pace: float = Field(
        default=0.0,
        ge=0,
        description="Seconds of wall time per simulated bar in `tradekit run` (0: as fast as possible).",
    )
    history: int = Field(default=500, ge=0, description="Bars already in the past when a `run` starts.")


def split_symbol(symbol: str) -> tuple[str, str]:
    """``BTC/USDT`` -> (BTC, USDT); ``ETH/USDC:USDC`` -> (ETH, USDC); ``GOOG`` -> (GOOG, USD)."""
    if "/" not in symbol:
        return symbol, "USD"
    base, rest = symbol.split("/", 1)
    return base, rest.split(":", 1)[0]


def price_step_of(series: BarSeries) -> Decimal:
    """The coarsest power-of-ten step on which every price of ``series`` lies."""
    sample = np.concatenate([series.open[:50_000], series.close[:50_000]])
    return Decimal(1) / Decimal(price_scale(sample))


class PaperExchange(Exchange):
    """A simulated venue with a built-in market: for backtests, offline runs and tests."""

    Settings = PaperSettings
    settings: PaperSettings
    capabilities = replace(SIMULATED_VENUE, timeframes=("1m", "5m", "15m", "30m", "1h", "4h", "1d"))

    def __init__(self, settings: PaperSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name or "paper")
        self._data: dict[str, BarSeries] = {}
        self._simulated: dict[tuple[str, str], BarSeries] = {}
        self._timeframe = "1m"
        self._venue: SimulatedVenue | None = None
        self._started = monotonic()
        self._polls = 0

    # -- market data -------------------------------------------------------------

    def use_data(self, data: dict[str, BarSeries]) -> None:
        """Trade on these bars (a backtest's files) instead of the simulated market."""
        self._data = dict(data)

    def market(self, symbol: str | None = None, timeframe: str | None = None) -> BarSeries:
        """The whole market of ``symbol``: the attached data, or the simulated market in ``timeframe``."""
        symbol = symbol or self.settings.symbol
        if symbol in self._data:
            return self._data[symbol]
        timeframe = timeframe or self._timeframe
        key = (symbol, timeframe)
        if key not in self._simulated:
            from tradekit.data import simulate_bars

            # Each symbol gets its own market (the same seed would give every symbol the same prices).
            seed = (
                self.settings.seed
                if symbol == self.settings.symbol
                else self.settings.seed + zlib.crc32(symbol.encode())
            )
            self._simulated[key] = simulate_bars(
                seed=seed,
                bars=self.settings.bars,
                timeframe=timeframe,
                start_price=self.settings.start_price,
                symbol=symbol,
            )
        return self._simulated[key]

    def default_symbols(self) -> tuple[str, ...]:
        """The symbols this exchange trades when the user names none."""
        return tuple(self._data) or (self.settings.symbol,)

    def fetch_bars(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int | None = None
    ) -> BarSeries:
        """Closed bars so far on the paper clock: ``history`` bars, then one more per call (or per ``pace``).

        The clock never stands before ``since``: asking for the bars since a
        time moves it to that bar at least, which is how a resumed run picks up
        the market where it left it.
        """
        self._timeframe = timeframe
        market = self.market(symbol, timeframe)
        start = 0
        if since is not None:
            start = int(np.searchsorted(market.timestamps, datetime_to_ns(since), side="left"))
            behind = start + 1 - self._revealed()
            if behind > 0:
                if self.settings.pace > 0:
                    self._started -= behind * self.settings.pace
                else:
                    self._polls += behind
        if self.settings.pace > 0:
            revealed = self._revealed()
        else:
            self._polls += 1
            revealed = self._revealed()
        end = min(revealed, len(market))
        if limit is not None:
            start = max(start, end - limit)
        return market.slice(min(start, end), end)

    def market_ended(self, symbol: str, timeframe: str) -> bool:
        """Whether the paper clock has reached the end of the simulated market (or of the attached data)."""
        return self._revealed() >= len(self.market(symbol, timeframe))

    def _revealed(self) -> int:
        """How many bars of the market the paper clock has reached."""
        if self.settings.pace > 0:
            return self.settings.history + int((monotonic() - self._started) / self.settings.pace)
        return self.settings.history + self._polls

    def fetch_history(self, symbol: str, timeframe: str, start: datetime | None, end: datetime | None) -> BarSeries:
        """The whole simulated market (or attached data) in ``[start, end)``: a backtest sees all of it."""
        self._timeframe = timeframe
        market = self.market(symbol, timeframe)
        lo = 0 if start is None else int(np.searchsorted(market.timestamps, int(start.timestamp() * 1e9)))
        hi = len(market) if end is None else int(np.searchsorted(market.timestamps, int(end.timestamp() * 1e9)))
        return market.slice(lo, hi)

    # -- instruments and fees ---------------------------------------------------------

    def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        """Spot instruments with the configured lot and a tick from settings or the data."""
        result = {}
        for symbol in symbols:
            base, quote = split_symbol(symbol)
            tick = self.settings.tick_size
            if tick is None:
                tick = price_step_of(self._data[symbol]) if symbol in self._data else Decimal("0.01")
            result[symbol] = Instrument(
                symbol=symbol,
                base=base,
                quote=quote,
                kind=InstrumentKind.SPOT,
                tick_size=tick,
                lot_size=self.settings.lot_size,
                min_notional=self.settings.min_notional,
            )
        return result

    def fees(self, symbol: str) -> tuple[Decimal, Decimal]:
        """(maker, taker) fee rates."""
        return self.settings.maker_fee, self.settings.taker_fee

    # -- orders: paper is a complete exchange, backed by a simulated venue -------------
    # Backtests and runs do not use these: they fill on the engine's own simulated venue,
    # which sees every bar. These serve code that drives the exchange directly (tests,
    # tools): market orders fill at the last revealed close; resting orders rest, since
    # this venue is not shown the bars.

    def venue(self) -> SimulatedVenue:
        """The simulated venue behind this exchange's own order methods."""
        if self._venue is None:
            from tradekit.sim import FeeSchedule, SimulatedVenue

            symbols = self.default_symbols()
            instruments = self.instruments(symbols)
            quote = next(iter(instruments.values())).quote
            self._venue = SimulatedVenue(
                instruments,
                {quote: self.settings.cash},
                FeeSchedule(maker=self.settings.maker_fee, taker=self.settings.taker_fee),
                name=self.name,
            )
        return self._venue

    def submit_order(self, order: Order) -> None:
        """Send to the simulated venue at the last revealed close; a symbol paper does not trade is refused."""
        venue = self.venue()
        if order.symbol not in venue.instruments:
            raise InvalidOrder(
                f"paper trades {', '.join(venue.instruments)}, not {order.symbol!r}",
                venue_message=f"unknown symbol {order.symbol}",
            )
        market = self.fetch_bars(order.symbol, self._timeframe, limit=1)
        self._polls -= 1 if self.settings.pace == 0 else 0  # looking is not a tick of the clock
        price = self.venue().ledger.instruments[order.symbol].round_price(Decimal(repr(float(market.close[-1]))))
        self.venue().submit(order, datetime.now(UTC), price)

    def cancel_order(self, order: Order) -> None:
        """Cancel on the simulated venue."""
        self.venue().cancel(order.client_order_id, datetime.now(UTC))

    def fetch_order(self, client_order_id: str, symbol: str) -> Order | None:
        """The simulated venue's view of one order."""
        return self.venue().fetch_order(client_order_id)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Resting orders on the simulated venue."""
        return self.venue().open_orders(symbol)

    def balances(self) -> dict[str, Balance]:
        """The paper account's cash."""
        return self.venue().balances()

    def positions(self) -> dict[str, Position]:
        """The paper account's positions."""
        return self.venue().positions()

    def poll_events(self) -> list[OrderUpdate | Fill]:
        """What the simulated venue did since the last call."""
        return self.venue().poll_events()
