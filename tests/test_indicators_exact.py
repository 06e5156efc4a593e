"""The exact SMA crossings and the price grid they are summed on, held to plain whole-array references.

:func:`price_scale` tests the values block by block and :func:`exact_sma_crossings`
sums once for both averages (both for speed); the references below are the
plain one-pass versions, and the results must be the same to the bit.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from tradekit import indicators
from tradekit.indicators import exact_sma_crossings, moving_sums, price_scale


def reference_price_scale(values: NDArray[np.float64], max_decimals: int = 8) -> int:
    sample = values[np.isfinite(values)]
    for decimals in range(max_decimals + 1):
        scaled = sample * 10**decimals
        if np.all(np.abs(scaled - np.rint(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return int(10**decimals)
    return int(10**max_decimals)


def reference_crossings(close: NDArray[np.float64], fast: int, slow: int) -> tuple[NDArray[np.bool_], ...]:
    n = len(close)
    up, down = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    if n < slow + 1:
        return up, down
    scale = reference_price_scale(close)
    units = np.rint(close * scale).astype(np.int64)
    cumulative = np.concatenate(([0], np.cumsum(units)))
    sums = {}
    for length in (fast, slow):
        sums[length] = np.zeros(n, dtype=np.int64)
        if n >= length:
            sums[length][length - 1 :] = cumulative[length:] - cumulative[:-length]
    left, right = sums[fast] * slow, sums[slow] * fast
    above, below = left > right, left < right
    defined = np.arange(n) >= slow - 1
    up[1:] = defined[:-1] & above[1:] & ~above[:-1]
    down[1:] = defined[:-1] & below[1:] & ~below[:-1]
    return up, down


# Prices on a grid of 1 to 10**-4, with a few coarser or finer values mixed in, and NaN gaps.
_ticks = st.lists(st.integers(min_value=1, max_value=2_000_000), min_size=0, max_size=300)


@st.composite
def _prices(draw: st.DrawFn) -> NDArray[np.float64]:
    ticks = np.array(draw(_ticks), dtype=np.float64)
    decimals = draw(st.integers(min_value=0, max_value=4))
    values = ticks / 10**decimals
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        if len(values):
            where = draw(st.integers(min_value=0, max_value=len(values) - 1))
            values[where] = draw(st.sampled_from([np.nan, np.inf, 0.123456789, 1e-12, 7.5]))
    return values


@settings(max_examples=300, deadline=None)
@given(_prices())
@example(np.array([]))
@example(np.array([np.nan, np.inf]))
def test_price_scale_is_the_whole_array_test(values: NDArray[np.float64]) -> None:
    assert price_scale(values) == reference_price_scale(values)
    assert price_scale(values, max_decimals=2) == reference_price_scale(values, max_decimals=2)


def test_price_scale_finds_one_odd_value_past_the_first_block() -> None:
    # One value with three decimals far into the series: every scale before it passes the first
    # blocks, so the answer depends on testing every block.
    values = np.round(np.linspace(100.0, 200.0, 3 * indicators._SCALE_BLOCK + 7), 2)
    values[-2] = 150.125
    assert price_scale(values) == reference_price_scale(values) == 1000


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=60), min_size=0, max_size=200),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=2, max_value=15),
    st.sampled_from([1.0, 0.1, 0.01, 0.5]),
)
def test_exact_crossings_equal_the_one_pass_reference_and_exact_fractions(
    ticks: list[int], fast: int, slow: int, tick: float
) -> None:
    close = np.array(ticks, dtype=np.float64) * tick  # few levels: equal averages are common
    up, down = exact_sma_crossings(close, fast, slow)
    expected_up, expected_down = reference_crossings(close, fast, slow)
    assert np.array_equal(up, expected_up) and np.array_equal(down, expected_down)
    if fast >= slow:
        return  # the reference alone says what a fast average longer than the slow one gives
    # And what they decide: means compared as exact fractions of the whole ticks.
    mean = {
        length: [
            Fraction(sum(ticks[i - length + 1 : i + 1]), length) if i >= length - 1 else None for i in range(len(ticks))
        ]
        for length in (fast, slow)
    }
    for i in range(1, len(ticks)):
        if i < slow:  # the slow average is not defined on the bar before
            assert not up[i] and not down[i]
            continue
        before = mean[fast][i - 1] - mean[slow][i - 1]  # type: ignore[operator]
        now = mean[fast][i] - mean[slow][i]  # type: ignore[operator]
        assert up[i] == (now > 0 >= before)
        assert down[i] == (now < 0 <= before)


@given(st.lists(st.integers(min_value=0, max_value=10**6), max_size=100), st.integers(min_value=1, max_value=20))
def test_moving_sums_are_the_integer_sums_of_each_window(units: list[int], length: int) -> None:
    sums = moving_sums(np.array(units, dtype=np.float64) / 100, length, 100)
    expected = [sum(units[i - length + 1 : i + 1]) if i >= length - 1 else 0 for i in range(len(units))]
    assert sums.dtype == np.int64
    assert sums.tolist() == expected
