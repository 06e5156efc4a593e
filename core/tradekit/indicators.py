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
