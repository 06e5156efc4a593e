"""Indicators computed the same way over a whole array and over the last few bars.

A backtest computes an indicator once over the whole series; a live run
computes it bar by bar over the tail of the history. Both call the same
function on a window of values, and every window is reduced on its own
(:func:`numpy.lib.stride_tricks.sliding_window_view`), never by a running sum,
so the value at a bar depends only on that bar's window: two equal windows give
bit-for-bit equal averages, and the whole-array and bar-by-bar results agree
exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def sma(values: FloatArray, length: int) -> FloatArray:
    """Simple moving average; NaN for the first ``length - 1`` bars.

    ``result[i]`` is the mean of ``values[i - length + 1 : i + 1]`` and uses no
    value after ``i``.
    """
    if length < 1:
        raise ValueError(f"length must be at least 1, was {length}")
    out = np.full(len(values), np.nan)
    if len(values) >= length:
        out[length - 1 :] = sliding_window_view(values, length).mean(axis=1)
    return out


def crossings(fast: FloatArray, slow: FloatArray) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Where ``fast`` crosses strictly above and strictly below ``slow``.

    Up at ``i``: ``fast[i] > slow[i]`` and ``fast[i-1] <= slow[i-1]``; down at
    ``i``: ``fast[i] < slow[i]`` and ``fast[i-1] >= slow[i-1]``. Bars where
    either is NaN never cross.
    """
    up = np.zeros(len(fast), dtype=bool)
    down = np.zeros(len(fast), dtype=bool)
    if len(fast) > 1:
        with np.errstate(invalid="ignore"):
            now_above = fast[1:] > slow[1:]
            now_below = fast[1:] < slow[1:]
            before_not_above = fast[:-1] <= slow[:-1]
            before_not_below = fast[:-1] >= slow[:-1]
        up[1:] = now_above & before_not_above
        down[1:] = now_below & before_not_below
    return up, down


def price_scale(values: FloatArray, max_decimals: int = 8) -> int:
    """The smallest ``10**d`` (``d <= max_decimals``) that turns every value into a whole number.

    Prices from a venue are whole numbers of a tick; this finds that grid from
    the data itself, so sums over it can be done exactly in integers.
    """
    sample = values[np.isfinite(values)]
    witness: FloatArray | None = None
    for decimals in range(max_decimals + 1):
        factor = 10**decimals
        # A value that was not whole at the last scale is seldom whole at this one: trying it
        # first refuses most scales without a pass over the whole series.
        if witness is not None and _first_not_whole(witness, factor) is not None:
            continue
        failed = _first_not_whole(sample, factor)
        if failed is None:
            return int(factor)
        witness = sample[failed : failed + 1]
    return int(10**max_decimals)


#: Values tested at a time by :func:`_first_not_whole`: its temporaries stay in the CPU cache, and
#: a scale that fails is usually refused in the first block.
_SCALE_BLOCK = 16_384


def _first_not_whole(values: FloatArray, factor: int) -> int | None:
    """The index of the first value that ``factor`` does not turn into a whole number, or None.

    Each value is tested on its own (to within ``1e-9`` relative), so testing
    block by block decides exactly what testing the whole array at once would.
    """
    for start in range(0, len(values), _SCALE_BLOCK):
        scaled = values[start : start + _SCALE_BLOCK] * factor
        whole = np.abs(scaled - np.rint(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))
        if not whole.all():
            return start + int(np.argmin(whole))
    return None


def moving_sums(values: FloatArray, length: int, scale: int) -> NDArray[np.int64]:
    """Exact rolling sums of ``length`` values, in integer units of ``1/scale``; 0 before the window fills.

    Integer sums are exact, so two windows holding the same prices have the
    same sum to the last unit, and comparing averages never depends on the
    order of float additions.
    """
    return _window_sums(_cumulative_units(values, scale), length)


def _cumulative_units(values: FloatArray, scale: int) -> NDArray[np.int64]:
    """``[0, u0, u0 + u1, ...]``: running sums of the values in integer units of ``1/scale``."""
    cumulative = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(np.rint(values * scale).astype(np.int64), out=cumulative[1:])
    return cumulative


def _window_sums(cumulative: NDArray[np.int64], length: int) -> NDArray[np.int64]:
    """The sums of ``length`` units ending at each value, from :func:`_cumulative_units`; 0 before."""
    n = len(cumulative) - 1
    out = np.zeros(n, dtype=np.int64)
    if n >= length:
        out[length - 1 :] = cumulative[length:] - cumulative[:-length]
    return out


def exact_sma_crossings(
    close: FloatArray, fast: int, slow: int, scale: int | None = None
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Where SMA(``fast``) crosses strictly above / below SMA(``slow``), decided exactly.

    ``mean_f > mean_s`` is tested as ``sum_f * slow > sum_s * fast`` on integer
    sums (see :func:`moving_sums`), so a bar where the two averages are equal
    is recognised as equal, never as a float rounding's accident. A cross up
    at ``i`` needs ``mean_f > mean_s`` at ``i`` and ``mean_f <= mean_s`` at
    ``i - 1``, both averages defined at ``i - 1``; a cross down mirrors it.
    """
    n = len(close)
    up = np.zeros(n, dtype=bool)
    down = np.zeros(n, dtype=bool)
    if n < slow + 1:
        return up, down
    scale = scale if scale is not None else price_scale(close)
    # Both sums come from one pass of running sums; only bars from ``slow - 1`` on (where the slow
    # average is defined) can take part in a cross, so only those are compared.
    cumulative = _cumulative_units(close, scale)
    left = _window_sums(cumulative, fast)[slow - 1 :] * slow
    right = _window_sums(cumulative, slow)[slow - 1 :] * fast
    above = left > right
    below = left < right
    up[slow:] = above[1:] & ~above[:-1]
    down[slow:] = below[1:] & ~below[:-1]
    return up, down


# --- window indicators --------------------------------------------------------------------------------
# Each value below is reduced from its own window (``sliding_window_view``), never carried over by
# a running sum: the value at bar ``i`` depends on the bars of its window alone, so a live run that
# starts with just enough history computes the same bits as a backtest over the whole series
# (:mod:`tradekit.indicators_incremental` holds the bar-by-bar twins, and tests hold them equal).

#: Rows of windows reduced at once by the functions that need a temporary per window (std, regression):
#: bounds their memory to ``_BLOCK * length`` floats however long the series is.
_BLOCK = 4096


def _check_length(length: int, minimum: int = 1) -> None:
    if length < minimum:
        raise ValueError(f"length must be at least {minimum}, was {length}")


def rolling_std(values: FloatArray, length: int) -> FloatArray:
    """Population standard deviation (``ddof=0``) of each ``length``-bar window; NaN before the first."""
    _check_length(length)
    out = np.full(len(values), np.nan)
    if len(values) >= length:
        windows = sliding_window_view(values, length)
        for start in range(0, len(windows), _BLOCK):
            block = windows[start : start + _BLOCK]
            out[length - 1 + start : length - 1 + start + len(block)] = block.std(axis=1)
    return out


def zscore(values: FloatArray, length: int) -> FloatArray:
    """How many standard deviations each value lies from the mean of its ``length``-bar window.

    ``(v[i] - mean) / std`` over ``values[i - length + 1 : i + 1]`` (population
    std). NaN before the first full window and where the window is flat (every
    value equal): there the ratio is 0/0, and float rounding of the mean would
    otherwise turn it into an arbitrary number.
    """
    _check_length(length, 2)
    out = np.full(len(values), np.nan)
    if len(values) >= length:
        windows = sliding_window_view(values, length)
        for start in range(0, len(windows), _BLOCK):
            block = windows[start : start + _BLOCK]
            mean = block.mean(axis=1)
            std = block.std(axis=1)
            flat = block.max(axis=1) == block.min(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                z = (block[:, -1] - mean) / std
            z[flat] = np.nan
            out[length - 1 + start : length - 1 + start + len(block)] = z
    return out


def highest(values: FloatArray, length: int) -> FloatArray:
    """The largest value of each ``length``-bar window, the current bar included; NaN before the first."""
    _check_length(length)
    out = np.full(len(values), np.nan)
    if len(values) >= length:
        out[length - 1 :] = sliding_window_view(values, length).max(axis=1)
    return out


def lowest(values: FloatArray, length: int) -> FloatArray:
    """The smallest value of each ``length``-bar window, the current bar included; NaN before the first."""
    _check_length(length)
    out = np.full(len(values), np.nan)
    if len(values) >= length:
        out[length - 1 :] = sliding_window_view(values, length).min(axis=1)
    return out


def lag(values: FloatArray, bars: int = 1) -> FloatArray:
    """``values`` moved ``bars`` later: ``result[i] = values[i - bars]``; NaN for the first ``bars``.

    A Donchian channel of the bars *before* the current one is ``lag(highest(high, n))``.
    """
    if bars < 0:
        raise ValueError(f"bars must be at least 0, was {bars}")
    out = np.full(len(values), np.nan)
    if bars == 0:
        out[:] = values
    elif len(values) > bars:
        out[bars:] = values[:-bars]
    return out


def rate_of_change(values: FloatArray, length: int) -> FloatArray:
    """``(v[i] - v[i - length]) / v[i - length]``, as a fraction (0.05 is +5%); NaN for the first ``length``.

    The same formula, operation for operation, as TA-Lib's ``ROCP``.
    """
    _check_length(length)
    out = np.full(len(values), np.nan)
    if len(values) > length:
        before = values[:-length]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[length:] = (values[length:] - before) / before
    return out


def true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """The true range: from the lower of low and the previous close to the higher of high and it.

    NaN on the first bar, which has no previous close (as TA-Lib's ``TRANGE``).
    """
    out = np.full(len(close), np.nan)
    if len(close) > 1:
        previous = close[:-1]
        out[1:] = np.maximum(high[1:], previous) - np.minimum(low[1:], previous)
    return out


def average_true_range(high: FloatArray, low: FloatArray, close: FloatArray, length: int) -> FloatArray:
    """The simple mean of the last ``length`` true ranges; NaN for the first ``length`` bars.

    A plain average (not Wilder's smoothing): Wilder's recursive average
    depends on every bar since the series began, so a live run that starts
    with a few hundred bars of history would never agree with a backtest over
    years; this one depends on ``length + 1`` bars only.
    """
    return sma(true_range(high, low, close), length)


def spread_zscore(y: FloatArray, x: FloatArray, length: int) -> tuple[FloatArray, FloatArray]:
    """Rolling least squares of ``y`` on ``x``: the hedge ratio and the z-score of the spread, per bar.

    Over each window of ``length`` bars, ``beta = cov(x, y) / var(x)`` and the
    residuals ``e = (y - mean y) - beta * (x - mean x)``; the z-score is the
    current bar's residual divided by the residuals' standard deviation. Both
    are NaN before the first full window and where ``x`` or the residuals are
    flat in the window.
    """
    _check_length(length, 3)
    n = len(y)
    if len(x) != n:
        raise ValueError(f"y has {n} values and x {len(x)}; give two series of the same bars")
    beta_out = np.full(n, np.nan)
    z_out = np.full(n, np.nan)
    if n < length:
        return beta_out, z_out
    y_windows = sliding_window_view(y, length)
    x_windows = sliding_window_view(x, length)
    for start in range(0, len(y_windows), _BLOCK):
        ys = y_windows[start : start + _BLOCK]
        xs = x_windows[start : start + _BLOCK]
        beta, z = regression_rows(ys, xs)
        rows = slice(length - 1 + start, length - 1 + start + len(ys))
        beta_out[rows] = beta
        z_out[rows] = z
    return beta_out, z_out


def regression_rows(ys: NDArray[np.float64], xs: NDArray[np.float64]) -> tuple[FloatArray, FloatArray]:
    """Hedge ratio and residual z-score of each row of 2-D windows (one window per row); see :func:`spread_zscore`.

    Written for 2-D blocks, and called with one row by the bar-by-bar twin, so
    both take the same steps on the same numbers.
    """
    dy = ys - ys.mean(axis=1)[:, None]
    dx = xs - xs.mean(axis=1)[:, None]
    sxx = (dx * dx).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = (dx * dy).sum(axis=1) / sxx
        residuals = dy - beta[:, None] * dx
        spread = np.sqrt((residuals * residuals).mean(axis=1))
        z = residuals[:, -1] / spread
    undefined = (sxx == 0) | (spread == 0)
    beta[sxx == 0] = np.nan
    z[undefined] = np.nan
    return beta, z
