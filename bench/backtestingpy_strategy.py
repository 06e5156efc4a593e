"""The benchmark's strategy written for backtesting.py, with tradekit's ``sma_cross`` conventions.

backtesting.py's own ``crossover()`` tests ``a[-2] < b[-2] and a[-1] > b[-1]``;
tradekit's cross up is ``fast > slow`` now and ``fast <= slow`` one bar
before (and the mirror for a cross down), so :meth:`SmaCrossBacktestingPy.next`
spells that rule out instead of calling ``crossover()``.

tradekit compares the averages exactly. The usual pandas rolling mean of
prices does not: on the 1,000,000-bar chained series 5 bars have exactly
equal averages, and on 3 of them the float means differ by about 3e-11, which
turns an "equal" into a cross one bar early. So the strategy takes its rolling
mean over prices in whole cents (integer-valued floats, whose sums are exact)
and divides afterwards: two equal averages then give the same float, and
unequal ones keep their order. ``cents=False`` runs the plain rolling mean of
prices instead, to show the difference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from backtesting import Strategy
from chained_series import CENTS
from numpy.typing import NDArray

FAST = 10
SLOW = 30


def rolling_mean(values: NDArray[np.float64], length: int) -> NDArray[np.float64]:
    """Simple moving average the way backtesting.py users compute it: a pandas rolling mean (NaN while filling)."""
    means: NDArray[np.float64] = pd.Series(values).rolling(length).mean().to_numpy()
    return means


def rolling_mean_in_cents(values: NDArray[np.float64], length: int) -> NDArray[np.float64]:
    """Rolling mean of prices taken in whole cents, then back in price units; exact ties stay ties.

    A window's sum of integer-valued floats below 2**53 is exact, and one
    correctly rounded division of equal exact values gives equal floats.
    """
    cents = np.rint(values * 10**CENTS)
    means: NDArray[np.float64] = pd.Series(cents).rolling(length).mean().to_numpy() / 10**CENTS
    return means


class SmaCrossBacktestingPy(Strategy):  # type: ignore[misc]  # backtesting.py ships no type hints
    """Long 1 unit on a strict cross up while flat; close the whole position on a strict cross down."""

    fast = FAST
    slow = SLOW
    cents = True

    def init(self) -> None:
        """Declare the two averages as indicators (backtesting.py slices them per bar)."""
        mean = rolling_mean_in_cents if self.cents else rolling_mean
        self.sma_fast = self.I(mean, self.data.Close, self.fast, name="fast")
        self.sma_slow = self.I(mean, self.data.Close, self.slow, name="slow")

    def next(self) -> None:
        """Decide on the bar's close (the engine runs with ``trade_on_close=True``)."""
        fast_now, fast_before = self.sma_fast[-1], self.sma_fast[-2]
        slow_now, slow_before = self.sma_slow[-1], self.sma_slow[-2]
        if fast_now > slow_now and fast_before <= slow_before:
            if not self.position:
                self.buy(size=1)
        elif fast_now < slow_now and fast_before >= slow_before and self.position:
            self.position.close()
