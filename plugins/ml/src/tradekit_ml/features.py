"""The feature set the direction classifiers read, and the labels they learn: all from OHLCV bars.

Every feature is a kernel indicator (:mod:`tradekit.indicators_incremental`)
or one of the three defined here, declared together as one
:class:`~tradekit.indicators_incremental.Indicators` set. Each value at bar
``t`` is reduced from a fixed window of bars ending at ``t``, never from a
running sum, so:

* a feature at ``t`` uses no bar after ``t`` (tests mirror every later bar and
  compare);
* the features of the last bar of a series are the same bits whether the
  series holds years of history or just :data:`WARMUP` bars, which is how a
  live run predicts exactly what a backtest predicted for the same bar.

The features (``close`` is the bar's close, returns are simple returns):

=====================  ==========================================================
``return_1``           ``close / close[1 bar ago] - 1``
``return_4``           the same over 4 bars
``return_12``          over 12 bars
``return_24``          over 24 bars
``return_72``          over 72 bars
``volatility_24``      population standard deviation of the last 24 ``return_1``
``volatility_168``     the same over 168 bars
``volatility_ratio``   ``volatility_24 / volatility_168``
``rsi_14``             relative strength index of the last 14 close-to-close
                       changes, as plain sums (Cutler's RSI, 0 to 100; 50 when
                       the closes did not move)
``distance_sma_24``    ``close / SMA(24 closes) - 1``
``distance_sma_168``   ``close / SMA(168 closes) - 1``
``range_atr_14``       the mean true range of the last 14 bars over the close
``volume_zscore_24``   z-score of the volume in its last 24 bars (0 when the
                       24 volumes are all equal)
=====================  ==========================================================

The bar counts are fixed: on hourly bars ``*_24`` is a day and ``*_168`` a
week. A change to any definition is a new feature set: artifacts store the
definitions (:func:`feature_definitions`) and one trained on another set is
refused when loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tradekit import indicators as whole
from tradekit.indicators_incremental import (
    SMA,
    AverageTrueRange,
    Indicator,
    Indicators,
    RateOfChange,
    StdDev,
    Window,
)

if TYPE_CHECKING:
    from tradekit.domain.bars import BarSeries
    from tradekit.indicators import FloatArray

NAN = float("nan")

#: Rows of windows reduced at once: bounds the temporary arrays however long the series is.
_BLOCK = 4096


# --- indicators the kernel does not have -----------------------------------------------------------


def relative_strength(close: FloatArray, length: int) -> FloatArray:
    """Cutler's RSI of each window of ``length`` close-to-close changes; NaN for the first ``length`` bars.

    ``100 * gains / (gains + losses)`` with plain sums over the window (not
    Wilder's recursive smoothing, which depends on every bar since the series
    began), and 50 where the closes did not move at all.
    """
    if length < 1:
        raise ValueError(f"RSI length must be at least 1, was {length}")
    out = np.full(len(close), np.nan)
    if len(close) > length:
        windows = sliding_window_view(close, length + 1)
        for start in range(0, len(windows), _BLOCK):
            block = windows[start : start + _BLOCK]
            out[length + start : length + start + len(block)] = _rsi_rows(block)
    return out


def _rsi_rows(windows: FloatArray) -> FloatArray:
    """The RSI of each row of closes (one window per row): the same steps for one row or thousands."""
    changes = np.diff(windows, axis=1)
    gains = np.where(changes > 0, changes, 0.0).sum(axis=1)
    losses = np.where(changes < 0, -changes, 0.0).sum(axis=1)
    total = gains + losses
    with np.errstate(invalid="ignore", divide="ignore"):
        rsi: FloatArray = 100.0 * gains / total
    still = total == 0
    rsi[still] = 50.0
    # A NaN close anywhere in the window leaves the value undefined, not 50.
    rsi[np.isnan(windows).any(axis=1)] = np.nan
    return rsi


def flat_zscore(values: FloatArray, length: int) -> FloatArray:
    """:func:`tradekit.indicators.zscore`, but 0 (not NaN) where the ``length`` values are all equal.

    A flat window of volumes (a quiet market, a feed that repeats itself) is
    an ordinary bar to a model, not a missing one.
    """
    z = whole.zscore(values, length)
    flat = whole.highest(values, length) == whole.lowest(values, length)
    z[flat] = 0.0
    return z


class RelativeStrength(Indicator):
    """Cutler's RSI over ``length`` changes of ``source`` (:func:`relative_strength`)."""

    def __init__(self, length: int, source: str = "close") -> None:
        if length < 1:
            raise ValueError(f"RelativeStrength length must be at least 1, was {length}")
        self.length = length
        self.inputs = (source,)
        self.lookback = length
        self._window = Window(length + 1)

    def compute(self, *columns: FloatArray) -> FloatArray:
        """:func:`relative_strength` over the whole column."""
        return relative_strength(columns[0], self.length)

    def update(self, *values: float) -> float:
        """Push the value; the RSI of the window, through the very function the whole-array side uses."""
        self._window.push(values[0])
        if not self._window.full:
            return NAN
        return float(_rsi_rows(self._window.values()[None, :])[0])

    def reset(self) -> None:
        """Empty the window."""
        self._window.clear()

    def describe(self) -> str:
        """For example ``RelativeStrength(14, close)``."""
        return f"RelativeStrength({self.length}, {self.inputs[0]})"


class FlatZScore(Indicator):
    """Z-score of ``source`` in its last ``length`` values, 0 in a flat window (:func:`flat_zscore`)."""

    def __init__(self, length: int, source: str) -> None:
        if length < 2:
            raise ValueError(f"FlatZScore length must be at least 2, was {length}")
        self.length = length
        self.inputs = (source,)
        self.lookback = length - 1
        self._window = Window(length)

    def compute(self, *columns: FloatArray) -> FloatArray:
        """:func:`flat_zscore` over the whole column."""
        return flat_zscore(columns[0], self.length)

    def update(self, *values: float) -> float:
        """Push the value; the z-score of the full window (the whole-array function on that one window)."""
        self._window.push(values[0])
        if not self._window.full:
            return NAN
        return float(flat_zscore(self._window.values(), self.length)[-1])

    def reset(self) -> None:
        """Empty the window."""
        self._window.clear()

    def describe(self) -> str:
        """For example ``FlatZScore(24, volume)``."""
        return f"FlatZScore({self.length}, {self.inputs[0]})"


class Ratio(Indicator):
    """``numerator / denominator - offset`` of two inputs of the same bar."""

    def __init__(self, numerator: str, denominator: str, offset: float = 0.0) -> None:
        self.inputs = (numerator, denominator)
        self.lookback = 0
        self.offset = offset

    def compute(self, *columns: FloatArray) -> FloatArray:
        """Element by element over the whole columns."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(columns[0] / columns[1] - self.offset, dtype=np.float64)

    def update(self, *values: float) -> float:
        """The same operations on this bar's two values (as float64, like the arrays)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(np.float64(values[0]) / np.float64(values[1]) - np.float64(self.offset))

    def reset(self) -> None:
        """Nothing to forget."""

    def describe(self) -> str:
        """For example ``Ratio(close / sma_24 - 1.0)``."""
        return f"Ratio({self.inputs[0]} / {self.inputs[1]} - {self.offset!r})"


# --- the feature set ----------------------------------------------------------------------------------

#: The features, in the column order of :func:`feature_matrix`.
FEATURES: tuple[str, ...] = (
    "return_1",
    "return_4",
    "return_12",
    "return_24",
    "return_72",
    "volatility_24",
    "volatility_168",
    "volatility_ratio",
    "rsi_14",
    "distance_sma_24",
    "distance_sma_168",
    "range_atr_14",
    "volume_zscore_24",
)

#: The bar columns the features read.
COLUMNS: tuple[str, ...] = ("high", "low", "close", "volume")


def feature_indicators() -> Indicators:
    """The feature set as indicators (with the helpers it needs: two averages and the ATR), in a fresh set."""
    return Indicators(
        return_1=RateOfChange(1, "close"),
        return_4=RateOfChange(4, "close"),
        return_12=RateOfChange(12, "close"),
        return_24=RateOfChange(24, "close"),
        return_72=RateOfChange(72, "close"),
        volatility_24=StdDev(24, "return_1"),
        volatility_168=StdDev(168, "return_1"),
        volatility_ratio=Ratio("volatility_24", "volatility_168"),
        rsi_14=RelativeStrength(14, "close"),
        sma_24=SMA(24, "close"),
        sma_168=SMA(168, "close"),
        distance_sma_24=Ratio("close", "sma_24", 1.0),
        distance_sma_168=Ratio("close", "sma_168", 1.0),
        atr_14=AverageTrueRange(14),
        range_atr_14=Ratio("atr_14", "close"),
        volume_zscore_24=FlatZScore(24, "volume"),
    )


#: Bars of history needed before every feature of a bar is defined (the longest chain: ``volatility_168``).
WARMUP: int = feature_indicators().warmup


def feature_definitions() -> dict[str, str]:
    """Each feature's name and exact definition, as artifacts record them (helpers included, by reference)."""
    described = feature_indicators().describe()
    return {name: described[name] for name in FEATURES} | {
        helper: described[helper] for helper in ("sma_24", "sma_168", "atr_14")
    }


def bar_columns(data: BarSeries) -> dict[str, FloatArray]:
    """The columns of ``data`` the features read, as float64 arrays."""
    return {name: np.asarray(getattr(data, name), dtype=np.float64) for name in COLUMNS}


def feature_matrix(data: BarSeries) -> FloatArray:
    """One row of :data:`FEATURES` per bar of ``data``; NaN where a feature is not defined (or not finite).

    Row ``t`` is computed from bars up to ``t`` only; the first
    :data:`WARMUP` - 1 rows have at least one NaN.
    """
    values = feature_indicators().compute(bar_columns(data))
    matrix = np.empty((len(data), len(FEATURES)), dtype=np.float64)
    for column, name in enumerate(FEATURES):
        matrix[:, column] = values[name]
    matrix[~np.isfinite(matrix)] = np.nan
    return matrix


def complete_rows(matrix: FloatArray) -> np.ndarray[tuple[int], np.dtype[np.bool_]]:
    """Which rows have every feature defined."""
    return np.asarray(np.isfinite(matrix).all(axis=1))


def direction_labels(close: FloatArray, horizon: int) -> FloatArray:
    """What the classifiers learn: 1.0 where ``close[t + horizon] > close[t]``, else 0.0; NaN for the last ``horizon``.

    The label at ``t`` reads bars ``t`` and ``t + horizon`` and nothing else,
    so a model fit on bars ``[a, b)`` learns from labels that end inside them.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 bar, was {horizon}")
    labels = np.full(len(close), np.nan)
    if len(close) > horizon:
        labels[:-horizon] = (close[horizon:] > close[:-horizon]).astype(np.float64)
    return labels
