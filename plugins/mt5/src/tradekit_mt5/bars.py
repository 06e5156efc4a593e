"""Closed bars from the terminal (``copy_rates_from_pos``, ``copy_rates_range``) as tradekit's BarSeries.

The terminal's newest bar (position 0) is still forming: a request for the
latest bars starts at position 1, and a request by date drops any bar at or
after the forming one's open. ``copy_rates_range`` returns the bars opened
within a date range; weekends and holidays leave ranges empty, so the range
after ``since`` is widened until it holds bars or reaches the present.

Times: the terminal stamps bars in seconds since 1970 in the trade server's
clock, which MetaQuotes documents as UTC; brokers whose servers run on
another zone stamp their bars in it (see the README).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from tradekit.domain.bars import BarSeries
from tradekit.errors import ConfigError

if TYPE_CHECKING:
    from tradekit_mt5.terminal import Terminal

#: tradekit's timeframes with their ENUM_TIMEFRAME value (MN1 is a calendar month, tradekit's ``1M``).
TIMEFRAMES: dict[str, int] = {
    "1m": 1,
    "3m": 3,
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1h": 16385,
    "2h": 16386,
    "4h": 16388,
    "6h": 16390,
    "8h": 16392,
    "12h": 16396,
    "1d": 16408,
    "1w": 32769,
    "1M": 49153,
}
#: Bars asked for when neither ``since`` nor ``limit`` says how many.
DEFAULT_BARS = 1000
_WIDEST = timedelta(days=3650)


def timeframe_code(timeframe: str) -> int:
    """The terminal's ENUM_TIMEFRAME for ``timeframe``; ConfigError naming the ones it has."""
    try:
        return TIMEFRAMES[timeframe]
    except KeyError:
        raise ConfigError(
            f"MetaTrader 5 has no {timeframe!r} bars; its timeframes in tradekit's notation: {', '.join(TIMEFRAMES)}"
        ) from None


def latest(terminal: Terminal, symbol: str, timeframe: str, limit: int | None) -> Any:
    """The newest ``limit`` closed bars (rates array, oldest first)."""
    count = limit if limit is not None else DEFAULT_BARS
    code = timeframe_code(timeframe)
    rates = terminal.read("fetch_bars", "copy_rates_from_pos", symbol, code, 1, count, missing_ok=True)
    return rates if rates is not None else _empty()


def after(terminal: Terminal, symbol: str, timeframe: str, since: datetime, limit: int | None, step: int) -> Any:
    """Closed bars opened at or after ``since``, at most ``limit`` (rates array, oldest first).

    ``step`` is the bar length in seconds; the date range starts at
    ``limit`` bars and grows fourfold while it holds too few bars and has not
    reached the forming bar.
    """
    code = timeframe_code(timeframe)
    forming = terminal.read("fetch_bars", "copy_rates_from_pos", symbol, code, 0, 1, missing_ok=True)
    forming_at = int(forming["time"][-1]) if forming is not None and len(forming) else None
    start = since.astimezone(UTC)
    first = int(start.timestamp())
    wanted = limit if limit is not None else DEFAULT_BARS
    window = timedelta(seconds=wanted * step)
    while True:
        end = start + window
        rates = terminal.read("fetch_bars", "copy_rates_range", symbol, code, start, end, missing_ok=True)
        rates = rates if rates is not None else _empty()
        times = rates["time"].astype(np.int64)
        keep = times >= first
        if forming_at is not None:
            keep &= times < forming_at
        kept = rates[keep]
        reached = forming_at is None or int(end.timestamp()) >= forming_at or window >= _WIDEST
        if len(kept) >= wanted or reached:
            return kept[:limit] if limit is not None else kept
        window *= 4


def series(rates: Any, symbol: str, timeframe: str, source: str) -> BarSeries:
    """A rates array (``time, open, high, low, close, tick_volume, spread, real_volume``) as a BarSeries.

    The volume is the exchange volume where the broker reports one
    (``real_volume``), else the tick count.
    """
    real = np.asarray(rates["real_volume"], dtype=np.float64)
    volume = real if len(real) and real.any() else np.asarray(rates["tick_volume"], dtype=np.float64)
    return BarSeries(
        symbol=symbol,
        timeframe=timeframe,
        timestamps=np.asarray(rates["time"], dtype=np.int64) * 1_000_000_000,
        open=np.ascontiguousarray(rates["open"], dtype=np.float64),
        high=np.ascontiguousarray(rates["high"], dtype=np.float64),
        low=np.ascontiguousarray(rates["low"], dtype=np.float64),
        close=np.ascontiguousarray(rates["close"], dtype=np.float64),
        volume=np.ascontiguousarray(volume),
        source=source,
    )


#: The layout of the terminal's rates arrays (MetaQuotes' MqlRates, as the MetaTrader5 package returns them).
RATES_DTYPE = np.dtype(
    [
        ("time", "<i8"),
        ("open", "<f8"),
        ("high", "<f8"),
        ("low", "<f8"),
        ("close", "<f8"),
        ("tick_volume", "<u8"),
        ("spread", "<i4"),
        ("real_volume", "<u8"),
    ]
)


def _empty() -> Any:
    return np.zeros(0, dtype=RATES_DTYPE)
