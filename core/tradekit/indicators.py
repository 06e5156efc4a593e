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
    for decimals in range(max_decimals + 1):
        scaled = sample * 10**decimals
        if np.all(np.abs(scaled - np.rint(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return int(10**decimals)
    return int(10**max_decimals)


def moving_sums(values: FloatArray, length: int, scale: int) -> NDArray[np.int64]:
    """Exact rolling sums of ``length`` values, in integer units of ``1/scale``; 0 before the window fills.

    Integer sums are exact, so two windows holding the same prices have the
    same sum to the last unit, and comparing averages never depends on the
    order of float additions.
    """
    units = np.rint(values * scale).astype(np.int64)
    cumulative = np.concatenate(([0], np.cumsum(units)))
    out = np.zeros(len(values), dtype=np.int64)
    if len(values) >= length:
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
    left = moving_sums(close, fast, scale) * slow
    right = moving_sums(close, slow, scale) * fast
    above = left > right
    below = left < right
    defined = np.arange(n) >= slow - 1
    up[1:] = defined[:-1] & above[1:] & ~above[:-1]
    down[1:] = defined[:-1] & below[1:] & ~below[:-1]
    return up, down
