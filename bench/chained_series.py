"""The benchmark's data: a real 1-minute series chained end to end to a fixed length, saved for the workers.

Copy ``k`` of the source series is rescaled so that its first open equals the
last close of copy ``k - 1``, then rounded to whole cents (the venue's tick,
so tradekit's exact integer averages apply), with high and low widened where
rounding would leave them inside the open-close range. Timestamps continue in
steps of the source's bar spacing. Importing this module costs only numpy:
the workers load the saved ``.npz`` without pandas or tradekit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

CENTS = 2  # decimals of the price grid: a real venue's tick of 0.01


@dataclass(frozen=True)
class ChainedSeries:
    """Columns of the chained series, plain numpy, and where each copy of the source starts."""

    symbol: str
    timeframe: str
    timestamps: NDArray[np.int64]
    open: NDArray[np.float64]
    high: NDArray[np.float64]
    low: NDArray[np.float64]
    close: NDArray[np.float64]
    volume: NDArray[np.float64]
    copy_starts: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.timestamps)

    def bar_series(self) -> Any:
        """The series as tradekit's ``BarSeries`` (tradekit is imported here, so the workers need not)."""
        from tradekit.domain.bars import BarSeries

        return BarSeries(
            symbol=self.symbol,
            timeframe=self.timeframe,
            timestamps=self.timestamps,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
            source="bench: chained series",
        )


def build_chained_series(source_path: Path, bars: int) -> ChainedSeries:
    """``bars`` bars made of the series in ``source_path`` repeated, each copy starting at the last close."""
    from tradekit.data import load_bars

    source = load_bars(source_path)
    if len(source) < 2:
        raise ValueError(f"{source_path} holds {len(source)} bars; the benchmark needs at least 2")
    step = int(source.timestamps[1] - source.timestamps[0])
    columns: dict[str, list[NDArray[np.float64]]] = {name: [] for name in ("open", "high", "low", "close", "volume")}
    copy_starts: list[int] = []
    produced = 0
    previous_close: float | None = None
    while produced < bars:
        take = min(len(source), bars - produced)
        factor = 1.0 if previous_close is None else previous_close / float(source.open[0])
        o, h, lo, c = (
            np.round(getattr(source, name)[:take] * factor, CENTS) for name in ("open", "high", "low", "close")
        )
        # Rounding is monotone, so this only matters if the source itself were inconsistent; keep it certain.
        h = np.maximum(h, np.maximum(o, c))
        lo = np.minimum(lo, np.minimum(o, c))
        for name, values in (("open", o), ("high", h), ("low", lo), ("close", c), ("volume", source.volume[:take])):
            columns[name].append(values)
        copy_starts.append(produced)
        produced += take
        previous_close = float(c[-1])
    timestamps = int(source.timestamps[0]) + step * np.arange(bars, dtype=np.int64)
    joined = {name: np.ascontiguousarray(np.concatenate(parts)) for name, parts in columns.items()}
    return ChainedSeries(
        symbol=source.symbol,
        timeframe=source.timeframe,
        timestamps=timestamps,
        copy_starts=np.asarray(copy_starts, dtype=np.int64),
        **joined,
    )


def save_chained_series(series: ChainedSeries, path: Path) -> None:
    """Write ``series`` to an uncompressed ``.npz`` (fast to load, no pandas needed)."""
    np.savez(
        path,
        symbol=np.array(series.symbol),
        timeframe=np.array(series.timeframe),
        timestamps=series.timestamps,
        open=series.open,
        high=series.high,
        low=series.low,
        close=series.close,
        volume=series.volume,
        copy_starts=series.copy_starts,
    )


def load_chained_series(path: Path) -> ChainedSeries:
    """Read a series written by :func:`save_chained_series`."""
    with np.load(path) as stored:
        return ChainedSeries(
            symbol=str(stored["symbol"]),
            timeframe=str(stored["timeframe"]),
            timestamps=stored["timestamps"],
            open=stored["open"],
            high=stored["high"],
            low=stored["low"],
            close=stored["close"],
            volume=stored["volume"],
            copy_starts=stored["copy_starts"],
        )


@dataclass(frozen=True)
class DataChecks:
    """What the benchmark verifies about its data before trusting a comparison of float and exact engines."""

    ohlc_violations: int
    not_on_cent_grid: int
    timestamp_steps_off: int
    equal_average_bars: int
    float_sign_disagreements: int
    compared_bars: int
    first_disagreement: int | None

    @property
    def ok(self) -> bool:
        """True when the data is consistent and the float comparison orders the averages as the exact one does.

        Bars with exactly equal averages are fine as long as the float
        averages are equal there too (the float sign is then 0 as well).
        """
        return not (
            self.ohlc_violations or self.not_on_cent_grid or self.timestamp_steps_off or self.float_sign_disagreements
        )


def check_series(
    series: ChainedSeries,
    fast: int,
    slow: int,
    float_fast: NDArray[np.float64],
    float_slow: NDArray[np.float64],
) -> DataChecks:
    """Check OHLC consistency, the cent grid, the time steps, and that float averages order like exact ones.

    tradekit decides ``mean_fast > mean_slow`` exactly on integer sums of cents;
    backtesting.py compares the float rolling means ``float_fast`` and
    ``float_slow``. The two engines decide alike on every bar where the sign of
    ``float_fast - float_slow`` (-1, 0 or +1) equals the exact one, so that count
    of disagreements must be zero; bars with exactly equal averages are counted
    because that is where a float mean is most likely to go wrong.
    """
    from tradekit.indicators import moving_sums

    prices = np.concatenate([series.open, series.high, series.low, series.close])
    cents = prices * 10**CENTS
    off_grid = int(np.count_nonzero(np.abs(cents - np.rint(cents)) > 1e-6))
    violations = int(
        np.count_nonzero(
            (series.high < np.maximum(series.open, series.close)) | (series.low > np.minimum(series.open, series.close))
        )
    )
    steps = np.diff(series.timestamps)
    steps_off = int(np.count_nonzero(steps != steps[0])) if len(steps) else 0
    scale = 10**CENTS
    exact = np.sign(moving_sums(series.close, fast, scale) * slow - moving_sums(series.close, slow, scale) * fast)
    approximate = np.sign(float_fast - float_slow)
    defined = slice(slow - 1, None)
    equal = int(np.count_nonzero(exact[defined] == 0))
    differs = np.flatnonzero(exact[defined] != approximate[defined])
    return DataChecks(
        ohlc_violations=violations,
        not_on_cent_grid=off_grid,
        timestamp_steps_off=steps_off,
        equal_average_bars=equal,
        float_sign_disagreements=len(differs),
        compared_bars=len(series) - (slow - 1),
        first_disagreement=int(differs[0]) + slow - 1 if len(differs) else None,
    )
