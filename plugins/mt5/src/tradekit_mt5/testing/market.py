"""The fake terminal's market: symbols with their broker rules, and bars that close one by one.

Each symbol replays a :class:`~tradekit.domain.bars.BarSeries` at its own
timeframe. The bar at the cursor is forming (``copy_rates_from_pos``
position 0); the ones before it are closed. The bid is the forming bar's
open until a test moves it (:meth:`Market.set_bid`); the ask is the bid plus
the symbol's spread. Other timeframes are aggregated from the symbol's bars.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from tradekit.domain.bars import BarSeries
from tradekit_mt5.testing import constants as mt5
from tradekit_mt5.testing.records import RATES_DTYPE, SymbolInfo, Tick, make


@dataclass
class FakeSymbol:
    """A symbol the fake terminal lists, with the broker's rules for it (defaults: EURUSD at a typical broker).

    ``filling_mode`` holds SYMBOL_FILLING_FOK (1) and SYMBOL_FILLING_IOC (2);
    ``execution`` is a SYMBOL_TRADE_EXECUTION_* mode (instant and request
    execution requote); ``spread`` and ``stops_level`` are in points;
    ``commission_per_lot`` is charged on every deal, per lot; ``liquidity``
    caps the lots one market order finds (None: unlimited).
    """

    name: str = "EURUSD"
    base: str = "EUR"
    quote: str = "USD"
    digits: int = 5
    tick_size: float | None = None
    contract_size: float = 100_000.0
    volume_min: float = 0.01
    volume_max: float = 500.0
    volume_step: float = 0.01
    filling_mode: int = 3
    execution: int = mt5.SYMBOL_TRADE_EXECUTION_MARKET
    calc_mode: int = mt5.SYMBOL_CALC_MODE_FOREX
    chart_mode: int = mt5.SYMBOL_CHART_MODE_BID
    trade_mode: int = mt5.SYMBOL_TRADE_MODE_FULL
    spread: int = 10
    stops_level: int = 0
    commission_per_lot: float = 0.0
    liquidity: float | None = None
    session_open: bool = True
    description: str = "Euro vs US Dollar"

    @property
    def point(self) -> float:
        """The smallest price change: 10 to the minus digits."""
        return 10.0**-self.digits

    @property
    def tick(self) -> float:
        """The price step."""
        return self.tick_size if self.tick_size is not None else self.point

    def round_price(self, price: float) -> float:
        """``price`` on the tick, in the symbol's digits."""
        return round(round(price / self.tick) * self.tick, self.digits)

    def on_tick(self, price: float) -> bool:
        """Whether ``price`` is a whole number of ticks."""
        return abs(price - self.round_price(price)) < self.point / 1000


def bars_near(price: float, count: int = 2_000, *, seed: int = 11, symbol: str = "EURUSD") -> BarSeries:
    """Seeded one-minute bars of ``symbol`` moving around ``price``: the kernel's simulated market, scaled."""
    from tradekit.data import simulate_bars

    bars = simulate_bars(seed=seed, bars=count, symbol=symbol, start_price=60_000.0)
    scale = price / 60_000.0
    return replace(bars, open=bars.open * scale, high=bars.high * scale, low=bars.low * scale, close=bars.close * scale)


def timeframe_seconds(code: int) -> int | None:
    """The length of an ENUM_TIMEFRAME in seconds (weeks and months: None, aggregated by calendar)."""
    if code in (mt5.TIMEFRAME_W1, mt5.TIMEFRAME_MN1):
        return None
    if code < 16384:
        return code * 60
    if code < 32768:
        return (code - 16384) * 3600
    return None


class Market:
    """One symbol's bars, the cursor of the forming bar, and its bid and ask."""

    def __init__(self, symbol: FakeSymbol, bars: BarSeries, history: int) -> None:
        if len(bars) < 2:
            raise ValueError(f"the fake market of {symbol.name} needs at least 2 bars, got {len(bars)}")
        self.symbol = symbol
        self.times = (bars.timestamps // 1_000_000_000).astype(np.int64)
        self.step = int(self.times[1] - self.times[0]) if len(self.times) > 1 else 60
        digits = symbol.digits
        self.open = np.round(bars.open, digits)
        self.high = np.round(np.maximum(bars.high, np.maximum(bars.open, bars.close)), digits)
        self.low = np.round(np.minimum(bars.low, np.minimum(bars.open, bars.close)), digits)
        self.close = np.round(bars.close, digits)
        self.volume = np.maximum(np.round(bars.volume), 1).astype(np.uint64)
        self.cursor = min(max(history, 1), len(self.times) - 1)
        self._bid: float | None = None

    # -- prices ------------------------------------------------------------------------------------

    @property
    def bid(self) -> float:
        """The current bid: the forming bar's open, or where a test moved it."""
        return self._bid if self._bid is not None else float(self.open[self.cursor])

    @property
    def ask(self) -> float:
        """The bid plus the spread."""
        return round(self.bid + self.symbol.spread * self.symbol.point, self.symbol.digits)

    def set_bid(self, price: float) -> None:
        """Move the bid (until the next bar opens)."""
        self._bid = self.symbol.round_price(price)

    @property
    def ended(self) -> bool:
        """Whether the forming bar is the last one of the data."""
        return self.cursor >= len(self.times) - 1

    def advance(self) -> tuple[float, float, float] | None:
        """Close the forming bar and open the next; the closed bar's (open, high, low), or None at the end."""
        if self.ended:
            return None
        index = self.cursor
        closed = (float(self.open[index]), float(self.high[index]), float(self.low[index]))
        self.cursor += 1
        self._bid = None
        return closed

    def tick_info(self, now: float) -> Any:
        """``symbol_info_tick()``'s record."""
        return make(
            Tick,
            time=int(now),
            bid=self.bid,
            ask=self.ask,
            last=0.0,
            volume=0,
            time_msc=int(now * 1000),
            flags=mt5.TICK_FLAG_BID | mt5.TICK_FLAG_ASK,
            volume_real=0.0,
        )

    def info(self, selected: bool, now: float) -> Any:
        """``symbol_info()``'s record."""
        s = self.symbol
        return make(
            SymbolInfo,
            select=selected,
            visible=selected,
            time=int(now),
            digits=s.digits,
            spread=s.spread,
            spread_float=True,
            trade_calc_mode=s.calc_mode,
            trade_mode=s.trade_mode,
            trade_stops_level=s.stops_level,
            trade_exemode=s.execution,
            filling_mode=s.filling_mode,
            expiration_mode=15,
            order_mode=127,
            chart_mode=s.chart_mode,
            bid=self.bid,
            ask=self.ask,
            point=s.point,
            trade_tick_value=s.tick * s.contract_size,
            trade_tick_size=s.tick,
            trade_contract_size=s.contract_size,
            volume_min=s.volume_min,
            volume_max=s.volume_max,
            volume_step=s.volume_step,
            currency_base=s.base,
            currency_profit=s.quote,
            currency_margin=s.base,
            description=s.description,
            name=s.name,
            path=f"Fake\\{s.name}",
        )

    # -- bars --------------------------------------------------------------------------------------

    def rates(self, timeframe: int) -> Any:
        """Every bar up to the forming one at ``timeframe`` (rates array, oldest first, the forming one last)."""
        end = self.cursor + 1
        bid = self.bid
        open_, high, low = self.open[:end].copy(), self.high[:end].copy(), self.low[:end].copy()
        close = self.close[:end].copy()
        # The forming bar has only opened: its close is the bid, its range what the bid has seen.
        high[-1], low[-1], close[-1] = max(open_[-1], bid), min(open_[-1], bid), bid
        times, volume = self.times[:end], self.volume[:end].copy()
        volume[-1] = 1
        seconds = timeframe_seconds(timeframe)
        if seconds == self.step:
            keys = times
        elif seconds is not None and seconds > self.step and seconds % self.step == 0:
            keys = times - times % seconds
        elif timeframe == mt5.TIMEFRAME_W1:
            sunday = 3 * 86_400  # 1970-01-01 was a Thursday; MetaTrader's weeks start on Sunday
            keys = (times - sunday) // 604_800 * 604_800 + sunday
        elif timeframe == mt5.TIMEFRAME_MN1:
            keys = np.array([_month_start(int(t)) for t in times], dtype=np.int64)
        else:
            return np.zeros(0, dtype=RATES_DTYPE)
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        out = np.zeros(len(starts), dtype=RATES_DTYPE)
        out["time"] = keys[starts]
        out["open"] = open_[starts]
        out["high"] = np.maximum.reduceat(high, starts)
        out["low"] = np.minimum.reduceat(low, starts)
        out["close"] = close[np.r_[starts[1:] - 1, len(times) - 1]]
        out["tick_volume"] = np.add.reduceat(volume, starts)
        out["spread"] = self.symbol.spread
        return out


def _month_start(seconds: int) -> int:
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp())
