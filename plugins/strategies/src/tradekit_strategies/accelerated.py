"""Indicators whose whole-array side runs on TA-Lib, where TA-Lib gives the kernel's values exactly.

The kernel's indicators (:mod:`tradekit.indicators_incremental`) compute each
value from its own window with numpy, the same way over whole arrays and bar
by bar. TA-Lib's ``MAX``, ``MIN``, ``TRANGE`` and ``ROCP`` do the same
arithmetic (a comparison, or one subtraction and one division per value), and
on every real data file of the project their results equal the kernel's bit
for bit (``tests/test_talib_reference.py``), so the classes here use them for
a backtest's whole-array pass and keep the kernel's bar-by-bar side.

TA-Lib's ``SMA``, ``STDDEV`` and ``ATR`` are *not* used: they carry running
sums (and ``ATR`` Wilder's recursive smoothing) from the first bar of the
array, so a value depends on where the array began; on the Binance BTC/USDT
1m file ``SMA`` differs from the window mean by up to 6e-14 and ``STDDEV``
(computed as E[x^2] - E[x]^2) by up to 1.6e-10, relative. A live run that
starts with a few hundred bars of history could then decide differently from
the backtest on a bar where a comparison is that close. The kernel's numpy
windows cost a few milliseconds per 100,000 bars, which TA-Lib would not save
in any way that matters next to the backtest itself.

TA-Lib skips NaNs inside a series, where the kernel's window turns NaN; inputs
with an inner NaN therefore go to the kernel's function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tradekit import indicators_incremental as kernel
from tradekit.indicators import sma

if TYPE_CHECKING:
    from tradekit.indicators import FloatArray


def _talib() -> Any:
    # TA-Lib imports pandas (about 0.3 s): only a backtest's prepare() pays for it.
    import talib

    return talib


def _has_inner_nan(values: FloatArray) -> bool:
    """A NaN after the first number: TA-Lib would step over it where the kernel's window does not."""
    finite = np.flatnonzero(~np.isnan(values))
    return bool(len(finite)) and bool(np.isnan(values[finite[0] :]).any())


def _contiguous(values: FloatArray) -> FloatArray:
    return np.ascontiguousarray(values, dtype=np.float64)


class Highest(kernel.Highest):
    """:class:`tradekit.indicators_incremental.Highest` with TA-Lib's ``MAX`` over whole arrays."""

    def compute(self, *columns: FloatArray) -> FloatArray:
        """TA-Lib ``MAX`` (windows of at least 2; the kernel's function otherwise)."""
        values = columns[0]
        if self.length < 2 or _has_inner_nan(values):
            return super().compute(*columns)
        result: FloatArray = _talib().MAX(_contiguous(values), timeperiod=self.length)
        return result


class Lowest(kernel.Lowest):
    """:class:`tradekit.indicators_incremental.Lowest` with TA-Lib's ``MIN`` over whole arrays."""

    def compute(self, *columns: FloatArray) -> FloatArray:
        """TA-Lib ``MIN`` (windows of at least 2; the kernel's function otherwise)."""
        values = columns[0]
        if self.length < 2 or _has_inner_nan(values):
            return super().compute(*columns)
        result: FloatArray = _talib().MIN(_contiguous(values), timeperiod=self.length)
        return result


class RateOfChange(kernel.RateOfChange):
    """:class:`tradekit.indicators_incremental.RateOfChange` with TA-Lib's ``ROCP`` over whole arrays."""

    def compute(self, *columns: FloatArray) -> FloatArray:
        """TA-Lib ``ROCP``: ``(v - v[n ago]) / v[n ago]``."""
        values = columns[0]
        if _has_inner_nan(values) or not np.all(values[~np.isnan(values)] != 0):
            # TA-Lib writes 0 where the old value is 0; the kernel's division gives inf or NaN.
            return super().compute(*columns)
        result: FloatArray = _talib().ROCP(_contiguous(values), timeperiod=self.length)
        return result


class AverageTrueRange(kernel.AverageTrueRange):
    """:class:`tradekit.indicators_incremental.AverageTrueRange` with TA-Lib's ``TRANGE`` over whole arrays.

    The mean of the ranges stays the kernel's window mean (see the module docstring).
    """

    def compute(self, *columns: FloatArray) -> FloatArray:
        """The kernel's window mean of TA-Lib ``TRANGE``."""
        high, low, close = (_contiguous(column) for column in columns)
        if any(_has_inner_nan(column) for column in (high, low, close)):
            return super().compute(*columns)
        return sma(_talib().TRANGE(high, low, close), self.length)
