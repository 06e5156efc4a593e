"""TA-Lib checked against the kernel's numpy indicators on every real data file.

Where TA-Lib gives the kernel's values bit for bit (``MAX``, ``MIN``, ``ROCP``,
``TRANGE``), the strategies use it for a backtest's whole-array pass
(:mod:`tradekit_strategies.accelerated`). Where it does not (``SMA``,
``STDDEV``: running sums from the array's first bar), the values are close but
depend on where the array starts, which a live run cannot reproduce; the tests
below measure both facts, so a TA-Lib release that changes either shows here.
"""

from __future__ import annotations

import numpy as np
import pytest
import talib
from tradekit_strategies import accelerated

from tradekit import indicators as reference
from tradekit import indicators_incremental as kernel

# Every file the kernel's loader reads (the Coinbase export has rows out of time order and is refused).
FILES = [
    "binance_BTC_USDT-1m_20250520-20250818.feather",
    "binance_BTC_USDT-1m_20240726-20240825.feather",
    "binance_BTC_USDT-5m_20240301-20250702.feather",
    "binance_BTC_USDT-5m_20201201-20210717.json",
    "binance_ETH_USDT-5m_20201201-20210717.json",
    "binance_BTC_USDT-1h_20170817-20240421.feather",
    "freqtrade_UNITTEST_BTC-1m.json",
    "yahoo_ORCL-1d_1995-2014.csv",
    "backtestingpy_GOOG-1d_2004-2013.csv",
    "backtestingpy_EURUSD-1h_2017-2018.csv",
    "backtestingpy_BTCUSD-1M_2012-2024.csv",
]


@pytest.mark.parametrize("name", FILES)
def test_talib_max_min_rocp_and_trange_equal_the_kernel_bit_for_bit(kit, name: str) -> None:
    bars = kit.load_real(name)
    high, low, close = bars.high, bars.low, bars.close
    for length in (2, 20, 120):
        assert np.array_equal(talib.MAX(high, length), reference.highest(high, length), equal_nan=True)
        assert np.array_equal(talib.MIN(low, length), reference.lowest(low, length), equal_nan=True)
        assert np.array_equal(talib.ROCP(close, length), reference.rate_of_change(close, length), equal_nan=True)
    assert np.array_equal(talib.TRANGE(high, low, close), reference.true_range(high, low, close), equal_nan=True)


@pytest.mark.parametrize("name", FILES)
def test_the_accelerated_indicators_compute_the_kernel_values(kit, name: str) -> None:
    bars = kit.load_real(name)
    returns = reference.rate_of_change(bars.close, 1)
    volatility = reference.rolling_std(returns, 24)  # NaN at the start, as a chained input is
    pairs = [
        (accelerated.Highest(20, "high"), kernel.Highest(20, "high"), (bars.high,)),
        (accelerated.Highest(120, "volatility"), kernel.Highest(120, "volatility"), (volatility,)),
        (accelerated.Lowest(10, "low"), kernel.Lowest(10, "low"), (bars.low,)),
        (accelerated.RateOfChange(24), kernel.RateOfChange(24), (bars.close,)),
        (accelerated.RateOfChange(1), kernel.RateOfChange(1), (bars.close,)),
        (accelerated.AverageTrueRange(14), kernel.AverageTrueRange(14), (bars.high, bars.low, bars.close)),
    ]
    for fast, plain, columns in pairs:
        assert np.array_equal(fast.compute(*columns), plain.compute(*columns), equal_nan=True), fast.describe()


@pytest.mark.parametrize("name", FILES)
def test_talib_sma_and_stddev_are_close_to_the_kernel_windows(kit, name: str) -> None:
    close = kit.load_real(name).close
    for length in (20, 200):
        if len(close) <= length:
            continue
        np.testing.assert_allclose(talib.SMA(close, length), reference.sma(close, length), rtol=1e-12)
        # STDDEV is sqrt(E[x^2] - E[x]^2) on running sums: it loses digits on large prices.
        np.testing.assert_allclose(
            talib.STDDEV(close, length, 1), reference.rolling_std(close, length), rtol=1e-8, atol=1e-12
        )


def test_talib_running_sums_depend_on_where_the_array_starts_and_the_kernel_windows_do_not(kit) -> None:
    """Why SMA and STDDEV stay the kernel's: a live run's short history would not give TA-Lib's bits."""
    close = kit.load_real("binance_BTC_USDT-1m_20250520-20250818.feather").close
    start, length = 100_000, 20
    kernel_full, kernel_tail = reference.sma(close, length), reference.sma(close[start:], length)
    assert np.array_equal(kernel_tail[length - 1 :], kernel_full[start + length - 1 :])
    talib_full, talib_tail = talib.SMA(close, length), talib.SMA(close[start:], length)
    differ = talib_tail[length - 1 :] != talib_full[start + length - 1 :]
    assert differ.sum() > 100
    std_full, std_tail = talib.STDDEV(close, length, 1), talib.STDDEV(close[start:], length, 1)
    assert (std_tail[length - 1 :] != std_full[start + length - 1 :]).sum() > 100
