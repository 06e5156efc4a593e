"""Bars for tests: built by hand, shaped on purpose, altered after a point, or real when available.

:func:`make_bars` turns closes (or OHLC rows) into a :class:`~tradekit.domain.bars.BarSeries`;
:func:`price_path` draws a seeded path of a named shape (a trend, a range, a spike...);
:func:`mirror_after` alters every bar after an index and nothing before it, which is how the
conformance suites look for lookahead; :func:`conformance_market` picks the bars the suites
run on: real Binance data from the project's ``shared/data`` folder when it can be found, the
seeded simulator otherwise, and says which in the series' ``source``.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tradekit.domain.bars import BarSeries
from tradekit.testing.real_data import DATA_ENV, data_folders

T0 = datetime(2024, 1, 1, tzinfo=UTC)

#: Real files the suites know, by timeframe, as named in the project's ``shared/data`` folder.
REAL_FILES: dict[str, str] = {
    "1m": "binance_BTC_USDT-1m_20240726-20240825.feather",
    "5m": "binance_BTC_USDT-5m_20240301-20250702.feather",
    "1h": "binance_BTC_USDT-1h_20170817-20240421.feather",
}

PATH_KINDS: tuple[str, ...] = ("trend", "downtrend", "range", "spike", "crash", "flat", "market")


def _timeframe_ns(timeframe: str) -> int:
    from tradekit.data.timeframes import timeframe_to_ns

    return timeframe_to_ns(timeframe)


def make_bars(
    rows: Any,
    *,
    symbol: str = "BTC/USDT",
    timeframe: str = "1m",
    start: datetime = T0,
    volume: float = 1_000.0,
    source: str = "tradekit.testing",
) -> BarSeries:
    """A series from closes or from OHLC rows, one bar per ``timeframe`` from ``start``.

    ``rows`` is either a flat sequence of closes (each bar then opens at the
    previous close, the first at its own close, and its high and low are the
    ends of its body) or rows of ``(open, high, low, close)`` or
    ``(open, high, low, close, volume)``. Raises ValueError naming the first
    row whose high or low does not contain its open and close.
    """
    values = np.asarray(rows, dtype=np.float64)
    if values.ndim == 1:
        close = values
        open_ = np.concatenate([close[:1], close[:-1]])
        high = np.maximum(open_, close)
        low = np.minimum(open_, close)
        volumes = np.full(len(close), float(volume))
    elif values.ndim == 2 and values.shape[1] in (4, 5):
        open_, high, low, close = (np.ascontiguousarray(values[:, k]) for k in range(4))
        volumes = np.ascontiguousarray(values[:, 4]) if values.shape[1] == 5 else np.full(len(close), float(volume))
    else:
        raise ValueError(
            f"rows must be closes or (open, high, low, close[, volume]) rows; got an array of shape {values.shape}"
        )
    bad = np.flatnonzero((high < np.maximum(open_, close)) | (low > np.minimum(open_, close)))
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"row {i} is not a valid bar: open {open_[i]}, high {high[i]}, low {low[i]}, close {close[i]}; "
            "the high must be at least the open and the close, the low at most both"
        )
    first = int(start.timestamp() * 1_000_000) * 1_000
    step = _timeframe_ns(timeframe)
    return BarSeries(
        symbol=symbol,
        timeframe=timeframe,
        timestamps=first + step * np.arange(len(close), dtype=np.int64),
        open=np.ascontiguousarray(open_),
        high=np.ascontiguousarray(high),
        low=np.ascontiguousarray(low),
        close=np.ascontiguousarray(close),
        volume=volumes,
        source=source,
    )


def price_path(
    kind: str = "trend",
    n: int = 500,
    seed: int = 7,
    *,
    start_price: float = 100.0,
    symbol: str = "BTC/USDT",
    timeframe: str = "1m",
    tick: float = 0.01,
    start: datetime = T0,
) -> BarSeries:
    """``n`` seeded bars of a named shape, on a ``tick`` grid; the same arguments give the same bars.

    Kinds: ``trend`` (rising about 0.1 % a bar, with noise), ``downtrend``,
    ``range`` (oscillating about 3 % around the start, period 50 bars),
    ``spike`` (quiet, then one bar at ``n // 2`` whose high is 10 % up, then
    quiet again), ``crash`` (quiet, then 20 % lower from ``n // 2`` on),
    ``flat`` (every price the start price) and ``market`` (the kernel's
    regime-switching simulator, :func:`tradekit.data.simulate_bars`).
    """
    if kind not in PATH_KINDS:
        raise ValueError(f"unknown price path kind {kind!r}; kinds: {', '.join(PATH_KINDS)}")
    if n < 1:
        raise ValueError(f"n must be at least 1, was {n}")
    if kind == "market":
        from tradekit.data import simulate_bars

        return simulate_bars(
            seed=seed, bars=n, timeframe=timeframe, start_price=start_price, symbol=symbol, start=start
        )
    rng = np.random.default_rng(seed)
    steps = np.arange(n, dtype=np.float64)
    noise = rng.normal(0.0, 0.002, n)
    if kind == "trend":
        log_close = np.cumsum(0.001 + noise)
    elif kind == "downtrend":
        log_close = np.cumsum(-0.001 + noise)
    elif kind == "range":
        log_close = np.log1p(0.03 * np.sin(2 * math.pi * steps / 50.0)) + 0.25 * noise
    elif kind == "crash":
        log_close = 0.25 * noise + np.where(steps >= n // 2, math.log(0.8), 0.0)
    elif kind == "flat":
        log_close = np.zeros(n)
    else:  # spike: quiet; the spike is a wick, added below
        log_close = 0.25 * noise
    close = start_price * np.exp(log_close)
    open_ = np.concatenate([[start_price], close[:-1]])
    wick = np.abs(rng.normal(0.0, 0.001, (2, n))) if kind != "flat" else np.zeros((2, n))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    if kind == "spike":
        high[n // 2] = max(open_[n // 2], close[n // 2]) * 1.10
    rows = np.column_stack([_on_grid(a, tick) for a in (open_, high, low, close)])
    # Rounding is monotone, so each bar still contains its open and close.
    return make_bars(rows, symbol=symbol, timeframe=timeframe, start=start, source=f"price_path:{kind}:seed={seed}")


def _on_grid(values: NDArray[np.float64], tick: float) -> NDArray[np.float64]:
    decimals = max(0, -math.floor(math.log10(tick))) if tick < 1 else 0
    return np.maximum(np.round(np.round(values / tick) * tick, decimals), tick)


def mirror_after(series: BarSeries, index: int, *, tick: float | None = None) -> BarSeries:
    """``series`` with every bar after ``index`` mirrored around the close of bar ``index``.

    A price ``p`` after ``index`` becomes ``close[index]**2 / p`` (a rise becomes
    a fall of the same log size; highs and lows swap), rounded to ``tick``
    (default: the finest power of ten the prices already lie on), and volumes
    are doubled. Bars up to and including ``index`` are untouched, so anything
    computed only from them cannot change.
    """
    from tradekit.indicators import price_scale

    if not 0 <= index < len(series):
        raise ValueError(f"index {index} is outside the series of {len(series)} bars")
    if tick is None:
        tick = 1.0 / price_scale(np.concatenate([series.open, series.close]))
    pivot = float(series.close[index]) ** 2
    after = slice(index + 1, None)

    def mirrored(column: NDArray[np.float64]) -> NDArray[np.float64]:
        return _on_grid(pivot / column[after], tick)

    open_, high, low, close, volume = (
        series.open.copy(),
        series.high.copy(),
        series.low.copy(),
        series.close.copy(),
        series.volume.copy(),
    )
    open_[after], close[after] = mirrored(series.open), mirrored(series.close)
    high[after], low[after] = mirrored(series.low), mirrored(series.high)
    volume[after] = series.volume[after] * 2
    return replace(series, open=open_, high=high, low=low, close=close, volume=volume)


# --- the bars conformance suites run on -------------------------------------------------------------


def real_data_file(timeframe: str) -> Path | None:
    """A real bar file for ``timeframe``, or None.

    ``$TRADEKIT_TEST_DATA`` when it names a file; otherwise the file named in
    :data:`REAL_FILES` in the first of :func:`~tradekit.testing.real_data.data_folders`
    that holds it (``$TRADEKIT_TEST_DATA`` as a folder, then a ``shared/data``
    folder beside the current folder or above it, then beside the tradekit
    source tree).
    """
    configured = os.environ.get(DATA_ENV)
    if configured and Path(configured).is_file():
        return Path(configured)
    candidates = data_folders()
    name = REAL_FILES.get(timeframe)
    if name is None:
        return None
    for folder in candidates:
        if (folder / name).is_file():
            return folder / name
    return None


@functools.lru_cache(maxsize=4)
def _load_real(path: str) -> BarSeries:
    from tradekit.data import load_bars

    return load_bars(path)


def conformance_market(
    symbols: Sequence[str], *, timeframe: str = "1h", bars: int = 1_500, market: str = "auto", seed: int = 7
) -> dict[str, BarSeries]:
    """The bars a conformance suite runs on, one aligned series per symbol.

    ``market`` is ``"auto"`` (real data from :func:`real_data_file` for the
    first symbol when it is found, else the simulator), ``"simulated"``, or
    the path of a bar file for the first symbol. Other symbols always get
    simulated bars (their own seed) on the first symbol's bar times. Each
    series' ``source`` says where its bars came from.
    """
    if not symbols:
        raise ValueError("a conformance market needs at least one symbol")
    first: BarSeries | None = None
    if market == "auto":
        path = real_data_file(timeframe)
        if path is not None:
            first = _window(_load_real(str(path)), bars)
    elif market != "simulated":
        loaded = _load_real(str(Path(market)))
        first = _window(loaded, bars)
    if first is None:
        from tradekit.data import simulate_bars

        first = simulate_bars(seed=seed, bars=bars, timeframe=timeframe, symbol=symbols[0])
    first = replace(first, symbol=symbols[0])
    data = {symbols[0]: first}
    for number, symbol in enumerate(symbols[1:], start=1):
        from tradekit.data import simulate_bars

        other = simulate_bars(
            seed=seed + number,
            bars=len(first),
            timeframe=first.timeframe,
            start_price=float(first.close[0]),
            symbol=symbol,
            start=first.datetime_at(0),
        )
        # Real data may have gaps: the others share the first symbol's bar times exactly.
        data[symbol] = replace(other, timestamps=first.timestamps.copy())
    return data


def _window(series: BarSeries, bars: int) -> BarSeries:
    """``bars`` bars from a fixed place a third of the way into ``series`` (or all of a short one)."""
    if len(series) <= bars:
        return series
    start = min(len(series) // 3, len(series) - bars)
    return series.slice(start, start + bars)
