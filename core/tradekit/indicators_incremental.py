"""Indicators bar by bar, for live runs, that give the values of :mod:`tradekit.indicators` to the last bit.

A backtest computes an indicator once over the whole series; a live run
learns one bar at a time. Each class here does both: :meth:`Indicator.compute`
runs the whole-array function of :mod:`tradekit.indicators`, and
:meth:`Indicator.update` takes one more bar and returns the newest value.

Every indicator is a function of a fixed window of bars, so a value does not
depend on where the series began: a live run (or a restarted one) that starts
with just :attr:`Indicators.warmup` bars of history computes what a backtest
over years computes for the same bar. The bar-by-bar side keeps each window in
arrival order in one contiguous array (:class:`Window`) and reduces it with the
same numpy operation the whole-array side applies to that window, so the two
agree exactly, not just closely; a running sum would be O(1) per bar but would
drift with the bars it has seen. Windows are short (tens to hundreds of bars),
so an update costs microseconds.

A strategy declares what it reads as an :class:`Indicators` set; the set's
``warmup`` becomes the strategy's :attr:`~tradekit.plugin.Strategy.warmup`,
which the engine honours in every mode, and a :class:`BarFeed` hands the set
the bars of a growing history that it has not seen yet.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from tradekit import indicators as whole
from tradekit.indicators import FloatArray

NAN = float("nan")


class Window:
    """The last ``length`` values in arrival order, as one contiguous array; O(1) per push.

    Each value is written twice, at ``k`` and ``k + length`` of a buffer twice
    as long, so the newest ``length`` always sit side by side and
    :meth:`values` is a view, not a copy.
    """

    def __init__(self, length: int) -> None:
        if length < 1:
            raise ValueError(f"length must be at least 1, was {length}")
        self.length = length
        self._buffer = np.full(2 * length, np.nan)
        self._count = 0

    def push(self, value: float) -> None:
        """Add the newest value (the oldest drops out once the window is full)."""
        k = self._count % self.length
        self._buffer[k] = value
        self._buffer[k + self.length] = value
        self._count += 1

    @property
    def full(self) -> bool:
        """Whether ``length`` values have been pushed."""
        return self._count >= self.length

    def values(self) -> FloatArray:
        """The window, oldest first (only meaningful once :attr:`full`)."""
        k = self._count % self.length
        return self._buffer[k : k + self.length]

    def clear(self) -> None:
        """Forget every value."""
        self._buffer[:] = np.nan
        self._count = 0


class Indicator:
    """One indicator, computed over whole arrays (:meth:`compute`) or one bar at a time (:meth:`update`).

    ``inputs`` names what it is computed from: columns of the bars (``close``,
    ``high``...) or other indicators of the same :class:`Indicators` set.
    ``lookback`` is how many earlier inputs it needs beside the current one:
    its first value comes at input row ``lookback``.
    """

    inputs: tuple[str, ...]
    lookback: int

    def compute(self, *columns: FloatArray) -> FloatArray:
        """The value at every bar, over whole arrays (one per input, in :attr:`inputs` order)."""
        raise NotImplementedError

    def update(self, *values: float) -> float:
        """Take the next bar's inputs and return the value at that bar (NaN until warmed up)."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget every bar seen, as if new."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short name with parameters, for messages and documentation."""
        return type(self).__name__


class _WindowIndicator(Indicator):
    """An indicator of one input reduced over a window of ``length`` values."""

    minimum_length: ClassVar[int] = 1

    def __init__(self, length: int, source: str = "close") -> None:
        if length < self.minimum_length:
            raise ValueError(f"{type(self).__name__} length must be at least {self.minimum_length}, was {length}")
        self.length = length
        self.inputs = (source,)
        self.lookback = length - 1
        self._window = Window(length)

    def update(self, *values: float) -> float:
        """Push the value; reduce the window once it is full."""
        self._window.push(values[0])
        return self._reduce(self._window.values()) if self._window.full else NAN

    def _reduce(self, window: FloatArray) -> float:
        raise NotImplementedError

    def reset(self) -> None:
        """Empty the window."""
        self._window.clear()

    def describe(self) -> str:
        """For example ``SMA(20, close)``."""
        return f"{type(self).__name__}({self.length}, {self.inputs[0]})"


class SMA(_WindowIndicator):
    """Simple moving average of ``length`` values (:func:`tradekit.indicators.sma`)."""

    def compute(self, *columns: FloatArray) -> FloatArray:
        """:func:`tradekit.indicators.sma` over the whole column."""
        return whole.sma(columns[0], self.length)

    def _reduce(self, window: FloatArray) -> float:
        return float(window.mean())


class StdDev(_WindowIndicator):
    """Population standard deviation of ``length`` values (:func:`tradekit.indicators.rolling_std`)."""

    def compute(self, *columns: FloatArray) -> FloatArray:
        """:func:`tradekit.indicators.rolling_std` over the whole column."""
        return whole.rolling_std(columns[0], self.length)

    def _reduce(self, window: FloatArray) -> float:
        return float(window.std())


class ZScore(_WindowIndicator):
    """Distance of the value from its window's mean, in standard deviations (:func:`tradekit.indicators.zscore`)."""

    minimum_length = 2

    def compute(self, *columns: FloatArray) -> FloatArray:
        """:func:`tradekit.indicators.zscore` over the whole column."""
        return whole.zscore(columns[0], self.length)

    def _reduce(self, window: FloatArray) -> float:
        if window.max() == window.min():
            return NAN
        return float((window[-1] - window.mean()) / window.std())


class Highest(_WindowIndicator):
    """Largest of the last ``length`` values, the current one included (:func:`tradekit.indicators.highest`)."""

    def compute(self, *columns: FloatArray) -> FloatArray:
        """:func:`tradekit.indicators.highest` over the whole column."""
        return whole.highest(columns[0], self.length)

    def _reduce(self, window: FloatArray) -> float:
        return float(window.max())


class Lowest(_WindowIndicator):
    """Smallest of the last ``length`` values, the current one included (:func:`tradekit.indicators.lowest`)."""

    def compute(self, *columns: FloatArray) -> FloatArray:
        """:func:`tradekit.indicators.lowest` over the whole column."""
        return whole.lowest(columns[0], self.length)

    def _reduce(self, window: FloatArray) -> float:
        return float(window.min())


class RateOfChange(Indicator):
    """``(v - v[length bars ago]) / v[length bars ago]`` (:func:`tradekit.indicators.rate_of_change`)."""

    def __init__(self, length: int, source: str = "close") -> None:
        if length < 1:
            raise ValueError(f"RateOfChange length must be at least 1, was {length}")
        self.length = length
        self.inputs = (source,)
        self.lookback = length
        self._window = Window(length + 1)

    def compute(self, *columns: FloatArray) -> FloatArray:
        """:func:`tradekit.indicators.rate_of_change` over the whole column."""
        return whole.rate_of_change(columns[0], self.length)

    def update(self, *values: float) -> float:
        """Push the value; compare it with the one ``length`` bars before."""
        self._window.push(values[0])
        if not self._window.full:
            return NAN
        window = self._window.values()
        with np.errstate(invalid="ignore", divide="ignore"):
            return float((window[-1] - window[0]) / window[0])

    def reset(self) -> None:
        """Empty the window."""
        self._window.clear()

    def describe(self) -> str:
        """For example ``RateOfChange(24, close)``."""
        return f"RateOfChange({self.length}, {self.inputs[0]})"


class TrueRange(Indicator):
    """The true range of each bar (:func:`tradekit.indicators.true_range`); inputs high, low, close."""

    def __init__(self, high: str = "high", low: str = "low", close: str = "close") -> None:
        self.inputs = (high, low, close)
        self.lookback = 1
        self._previous_close = NAN

    def compute(self, *columns: FloatArray) -> FloatArray:
        """:func:`tradekit.indicators.true_range` over the whole columns."""
        return whole.true_range(columns[0], columns[1], columns[2])

    def update(self, *values: float) -> float:
        """The range from the lower of low and the previous close to the higher of high and it."""
        high, low, close = values
        previous, self._previous_close = self._previous_close, close
        if previous != previous:  # NaN: no previous close yet
            return NAN
        return float(np.maximum(high, previous) - np.minimum(low, previous))

    def reset(self) -> None:
        """Forget the previous close."""
        self._previous_close = NAN


class AverageTrueRange(Indicator):
    """Simple mean of the last ``length`` true ranges (:func:`tradekit.indicators.average_true_range`)."""

    def __init__(self, length: int, high: str = "high", low: str = "low", close: str = "close") -> None:
        self.length = length
        self._range = TrueRange(high, low, close)
        self._mean = SMA(length, "true_range")
        self.inputs = self._range.inputs
        self.lookback = length

    def compute(self, *columns: FloatArray) -> FloatArray:
        """:func:`tradekit.indicators.average_true_range` over the whole columns."""
        return whole.average_true_range(columns[0], columns[1], columns[2], self.length)

    def update(self, *values: float) -> float:
        """The true range of this bar into the mean of the last ``length``."""
        return self._mean.update(self._range.update(*values))

    def reset(self) -> None:
        """Forget every bar."""
        self._range.reset()
        self._mean.reset()

    def describe(self) -> str:
        """For example ``AverageTrueRange(14)``."""
        return f"AverageTrueRange({self.length})"


class Previous(Indicator):
    """The value of an input ``bars`` bars ago (:func:`tradekit.indicators.lag`).

    The input may be a column or an indicator declared before it: with
    ``highest=Highest(20, "high")``, ``Previous("highest")`` is the highest
    high of the 20 bars *before* the current one, the upper Donchian channel
    a close breaks out of.
    """

    def __init__(self, source: str, bars: int = 1) -> None:
        if bars < 1:
            raise ValueError(f"Previous bars must be at least 1, was {bars}")
        self.bars = bars
        self.inputs = (source,)
        self.lookback = bars
        self._window = Window(bars + 1)

    def compute(self, *columns: FloatArray) -> FloatArray:
        """:func:`tradekit.indicators.lag` of the input."""
        return whole.lag(columns[0], self.bars)

    def update(self, *values: float) -> float:
        """Push the value; return the one from ``bars`` updates ago."""
        self._window.push(values[0])
        return float(self._window.values()[0]) if self._window.full else NAN

    def reset(self) -> None:
        """Forget every value."""
        self._window.clear()

    def describe(self) -> str:
        """For example ``Previous(highest, 1)``."""
        return f"Previous({self.inputs[0]}, {self.bars})"


class Log(Indicator):
    """Natural logarithm of each value (``numpy.log``, the same function both ways)."""

    def __init__(self, source: str = "close") -> None:
        self.inputs = (source,)
        self.lookback = 0

    def compute(self, *columns: FloatArray) -> FloatArray:
        """``numpy.log`` of the whole column."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log(columns[0])

    def update(self, *values: float) -> float:
        """``numpy.log`` of the value."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(np.log(np.float64(values[0])))

    def reset(self) -> None:
        """Nothing to forget."""

    def describe(self) -> str:
        """For example ``Log(close)``."""
        return f"Log({self.inputs[0]})"


class _Regression(Indicator):
    """Rolling least squares of ``y`` on ``x`` over ``length`` bars (:func:`tradekit.indicators.spread_zscore`)."""

    def __init__(self, length: int, y: str = "y", x: str = "x") -> None:
        if length < 3:
            raise ValueError(f"{type(self).__name__} length must be at least 3, was {length}")
        self.length = length
        self.inputs = (y, x)
        self.lookback = length - 1
        self._y = Window(length)
        self._x = Window(length)

    def _fit(self, y: float, x: float) -> tuple[float, float]:
        self._y.push(y)
        self._x.push(x)
        if not self._y.full:
            return NAN, NAN
        # One row through the very function the whole-array side runs on blocks of rows.
        beta, z = whole.regression_rows(self._y.values()[None, :], self._x.values()[None, :])
        return float(beta[0]), float(z[0])

    def reset(self) -> None:
        """Empty both windows."""
        self._y.clear()
        self._x.clear()

    def describe(self) -> str:
        """For example ``SpreadZScore(288, y=a, x=b)``."""
        return f"{type(self).__name__}({self.length}, y={self.inputs[0]}, x={self.inputs[1]})"


class HedgeRatio(_Regression):
    """The slope ``beta`` of ``y`` on ``x`` over the last ``length`` bars."""

    def compute(self, *columns: FloatArray) -> FloatArray:
        """The hedge ratio of :func:`tradekit.indicators.spread_zscore`."""
        return whole.spread_zscore(columns[0], columns[1], self.length)[0]

    def update(self, *values: float) -> float:
        """Refit on the window with this bar."""
        return self._fit(values[0], values[1])[0]


class SpreadZScore(_Regression):
    """The current residual of ``y`` on ``x`` in standard deviations of the window's residuals."""

    def compute(self, *columns: FloatArray) -> FloatArray:
        """The z-score of :func:`tradekit.indicators.spread_zscore`."""
        return whole.spread_zscore(columns[0], columns[1], self.length)[1]

    def update(self, *values: float) -> float:
        """Refit on the window with this bar."""
        return self._fit(values[0], values[1])[1]


class Indicators(Mapping[str, Indicator]):
    """The indicators a strategy reads, by name, and the warm-up they need together.

    An indicator's inputs are bar columns (any name the caller supplies, such
    as ``close``) or indicators declared before it, so one can feed another::

        Indicators(
            returns=RateOfChange(1, "close"),
            volatility=StdDev(24, "returns"),
        )

    :attr:`warmup` is the number of bars after which every value is defined;
    a strategy returns this set from :meth:`~tradekit.plugin.Strategy.indicators`
    and the engine then holds its first decision back until that many bars
    have been seen, in a backtest and live.
    """

    def __init__(self, **declared: Indicator) -> None:
        self._declared = dict(declared)
        self._first_value: dict[str, int] = {}
        for name, indicator in declared.items():
            later = [source for source in indicator.inputs if source in declared and source not in self._first_value]
            if later:
                raise ValueError(
                    f"indicator {name!r} reads {', '.join(map(repr, later))}, declared after it (or itself); "
                    "declare an indicator's inputs before it"
                )
            start = max((self._first_value.get(source, 0) for source in indicator.inputs), default=0)
            self._first_value[name] = start + indicator.lookback
        self._latest: dict[str, float] = dict.fromkeys(declared, NAN)

    def __getitem__(self, name: str) -> Indicator:
        return self._declared[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._declared)

    def __len__(self) -> int:
        return len(self._declared)

    @property
    def warmup(self) -> int:
        """Bars needed before every indicator has a value at the current bar (0 when none is declared)."""
        return max(self._first_value.values(), default=-1) + 1

    def columns(self) -> tuple[str, ...]:
        """The bar columns the set reads (inputs that are not indicators of the set), in first-use order."""
        seen: dict[str, None] = {}
        for indicator in self._declared.values():
            for source in indicator.inputs:
                if source not in self._declared:
                    seen[source] = None
        return tuple(seen)

    def compute(self, columns: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
        """Every indicator over whole arrays (a backtest's ``prepare``); ``columns`` holds the bar columns."""
        values: dict[str, FloatArray] = {}
        for name, indicator in self._declared.items():
            values[name] = indicator.compute(*(self._lookup(source, values, columns) for source in indicator.inputs))
        return values

    def update(self, row: Mapping[str, float]) -> dict[str, float]:
        """Take one more bar (its columns in ``row``) and return every indicator's value at it."""
        latest = self._latest
        for name, indicator in self._declared.items():
            latest[name] = indicator.update(
                *(latest[source] if source in self._declared else row[source] for source in indicator.inputs)
            )
        return dict(latest)

    def latest(self) -> dict[str, float]:
        """The values at the last bar given to :meth:`update`."""
        return dict(self._latest)

    def reset(self) -> None:
        """Forget every bar, as if new."""
        for indicator in self._declared.values():
            indicator.reset()
        self._latest = dict.fromkeys(self._declared, NAN)

    def describe(self) -> dict[str, str]:
        """Each indicator's name and definition, for documentation and messages."""
        return {name: indicator.describe() for name, indicator in self._declared.items()}

    def _lookup(self, source: str, values: Mapping[str, FloatArray], columns: Mapping[str, FloatArray]) -> FloatArray:
        if source in values:
            return values[source]
        try:
            return columns[source]
        except KeyError:
            raise KeyError(
                f"indicator input {source!r} is neither a column given ({', '.join(columns) or 'none'}) "
                f"nor an indicator declared before it ({', '.join(values) or 'none'})"
            ) from None


class BarFeed:
    """Hands an :class:`Indicators` set each bar of a growing history once, in order.

    A strategy calls :meth:`update` from ``on_bar`` with its current history
    (however many bars arrived since the last call, or with none skipped);
    the feed remembers the open time of the last bar it passed on. The first
    call, and any call after a gap longer than the warm-up, starts from the
    last :attr:`Indicators.warmup` bars only: every value is a function of that
    many bars, so older ones would change nothing.
    """

    def __init__(self, indicators: Indicators) -> None:
        self.indicators = indicators
        self._last_timestamp: int | None = None

    def update(self, timestamps: NDArray[np.int64], columns: Mapping[str, FloatArray]) -> dict[str, float]:
        """Feed the bars newer than the last one fed; the values at the newest bar (NaN while warming up)."""
        n = len(timestamps)
        if n == 0:
            return self.indicators.latest()
        needed = max(self.indicators.warmup, 1)
        if self._last_timestamp is None:
            start = max(0, n - needed)
        else:
            start = int(np.searchsorted(timestamps, self._last_timestamp, side="right"))
            if n - start > needed:
                self.indicators.reset()
                start = n - needed
        names = self.indicators.columns()
        picked = [columns[name] for name in names]
        for i in range(start, n):
            self.indicators.update({name: column[i] for name, column in zip(names, picked, strict=True)})
        self._last_timestamp = int(timestamps[n - 1])
        return self.indicators.latest()

    def reset(self) -> None:
        """Forget every bar: the next :meth:`update` starts from the history's tail again."""
        self.indicators.reset()
        self._last_timestamp = None
