"""The kernel's indicators bar by bar equal the same indicators over whole arrays, to the last bit.

These test :mod:`tradekit.indicators` and :mod:`tradekit.indicators_incremental`
(kernel modules this distribution's strategies are built on): on real bars, on
the flat stretches of real bars, and on what a strategy's feed sees live
(skipped calls, long gaps, a first call with a long history).
"""

from __future__ import annotations

import numpy as np
import pytest

from tradekit import indicators as whole
from tradekit.indicators_incremental import (
    SMA,
    AverageTrueRange,
    BarFeed,
    HedgeRatio,
    Highest,
    Indicators,
    Log,
    Lowest,
    Previous,
    RateOfChange,
    SpreadZScore,
    StdDev,
    TrueRange,
    Window,
    ZScore,
)

BTC_1M = "binance_BTC_USDT-1m_20240726-20240825.feather"
UNITTEST_1M = "freqtrade_UNITTEST_BTC-1m.json"  # an altcoin in BTC: few distinct prices, many flat windows


def every_kind() -> Indicators:
    """One of each indicator, some fed by others, as strategies chain them."""
    return Indicators(
        sma=SMA(50, "close"),
        std=StdDev(20, "close"),
        z=ZScore(20, "close"),
        previous_z=Previous("z"),
        highest=Highest(20, "high"),
        upper=Previous("highest"),
        lowest=Lowest(10, "low"),
        roc=RateOfChange(24, "close"),
        range=TrueRange(),
        atr=AverageTrueRange(14),
        returns=RateOfChange(1, "close"),
        volatility=StdDev(24, "returns"),
        ceiling=Previous("volatility", 3),
        log_close=Log("close"),
        log_open=Log("open"),
        beta=HedgeRatio(60, y="log_close", x="log_open"),
        spread_z=SpreadZScore(60, y="log_close", x="log_open"),
    )


def columns_of(series):
    return {"open": series.open, "high": series.high, "low": series.low, "close": series.close}


def fed_bar_by_bar(declared: Indicators, columns, n: int) -> dict[str, np.ndarray]:
    out = {name: np.empty(n) for name in declared}
    for i in range(n):
        values = declared.update({name: column[i] for name, column in columns.items()})
        for name in declared:
            out[name][i] = values[name]
    return out


@pytest.mark.parametrize("name", [BTC_1M, UNITTEST_1M])
def test_each_indicator_bar_by_bar_equals_the_whole_array_values_bit_for_bit_on_real_bars(kit, name: str) -> None:
    series = kit.load_real(name)
    n = min(len(series), 12_000)
    columns = {key: column[:n] for key, column in columns_of(series).items()}
    declared = every_kind()
    expected = declared.compute(columns)
    actual = fed_bar_by_bar(declared, columns, n)
    for indicator in declared:
        assert np.array_equal(actual[indicator], expected[indicator], equal_nan=True), indicator
        assert np.isfinite(expected[indicator][declared.warmup :]).any(), indicator


def test_flat_windows_of_real_bars_have_no_z_score_either_way(kit) -> None:
    close = kit.load_real(UNITTEST_1M).close
    flat = whole.highest(close, 5) == whole.lowest(close, 5)
    assert flat.sum() > 100  # the file has many minutes without a price change
    z = whole.zscore(close, 5)
    assert np.isnan(z[flat]).all() and np.isfinite(z[~flat][4:]).all()
    streamed = ZScore(5)
    values = np.array([streamed.update(value) for value in close])
    assert np.array_equal(values, z, equal_nan=True)


def test_values_do_not_depend_on_where_the_series_starts(kit) -> None:
    """A live run starts with a short history: every value from its warm-up on is the backtest's."""
    series = kit.load_real(BTC_1M)
    columns = {key: column[:8_000] for key, column in columns_of(series).items()}
    declared = every_kind()
    full = declared.compute(columns)
    start = 5_321
    tail = declared.compute({key: column[start:] for key, column in columns.items()})
    for name in declared:
        assert np.array_equal(tail[name][declared.warmup :], full[name][start + declared.warmup :]), name


def test_window_keeps_the_newest_values_in_arrival_order() -> None:
    window = Window(3)
    for value in (1.0, 2.0, 3.0, 4.0, 5.0):
        window.push(value)
    assert window.full and window.values().tolist() == [3.0, 4.0, 5.0]
    assert window.values().flags.c_contiguous


def test_warmup_counts_the_bars_chained_indicators_need_together() -> None:
    declared = Indicators(returns=RateOfChange(1), volatility=StdDev(24, "returns"), top=Highest(120, "volatility"))
    # returns from bar 1, volatility from bar 24 (24 returns), top from bar 24 + 119.
    assert declared.warmup == 144
    assert declared.columns() == ("close",)
    assert Indicators().warmup == 0
    assert Indicators(sma=SMA(10), ceiling=Previous("sma")).warmup == 11


def test_a_declaration_must_name_an_indicator_before_reading_it() -> None:
    with pytest.raises(ValueError, match=r"indicator 'top' reads 'volatility', declared after it"):
        Indicators(top=Highest(10, "volatility"), volatility=StdDev(5, "close"))


def test_an_unknown_input_is_named_with_what_was_given() -> None:
    with pytest.raises(KeyError, match=r"'clsoe' is neither a column given \(close\)"):
        Indicators(sma=SMA(3, "clsoe")).compute({"close": np.arange(5.0)})


def test_feed_gives_the_same_values_however_the_history_arrives(kit) -> None:
    series = kit.load_real(BTC_1M).slice(0, 3_000)
    columns = columns_of(series)
    expected = every_kind().compute(columns)
    feed = BarFeed(every_kind())
    rng = np.random.default_rng(5)
    # Calls at irregular bars: one bar at a time, a few at once, and a gap longer than the warm-up.
    stops = sorted({500, 501, 502, 510, 900, 1_400, *rng.integers(1_400, 3_000, 40).tolist(), 3_000})
    for stop in stops:
        latest = feed.update(series.timestamps[:stop], {key: column[:stop] for key, column in columns.items()})
        for name, value in latest.items():
            assert np.array_equal(value, expected[name][stop - 1], equal_nan=True), (name, stop)


def test_feed_starts_from_the_last_warmup_bars_of_a_long_history() -> None:
    declared = Indicators(sma=SMA(3))
    feed = BarFeed(declared)
    calls: list[float] = []
    original = declared.update

    def counting(row):
        calls.append(row["close"])
        return original(row)

    declared.update = counting  # type: ignore[method-assign]
    close = np.arange(1.0, 101.0)
    latest = feed.update(np.arange(100, dtype=np.int64), {"close": close})
    assert calls == [98.0, 99.0, 100.0] and latest["sma"] == 99.0


def test_lengths_below_the_minimum_are_refused_naming_the_value() -> None:
    for build, message in (
        (lambda: SMA(0), "SMA length must be at least 1, was 0"),
        (lambda: ZScore(1), "ZScore length must be at least 2, was 1"),
        (lambda: RateOfChange(0), "RateOfChange length must be at least 1, was 0"),
        (lambda: Previous("close", 0), "Previous bars must be at least 1, was 0"),
        (lambda: SpreadZScore(2), "SpreadZScore length must be at least 3, was 2"),
    ):
        with pytest.raises(ValueError, match=message):
            build()
