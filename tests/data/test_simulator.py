"""The built-in seeded market: deterministic, valid OHLC, regimes that differ, clustered volatility."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradekit.data import (
    TIMEFRAMES,
    Regime,
    SimulatedMarket,
    find_gaps,
    simulate_bars,
    simulate_market,
    validate_bars,
)
from tradekit.domain.bars import BarSeries
from tradekit.errors import ConfigError

COLUMNS = ("timestamps", "open", "high", "low", "close", "volume")


def log_returns(series: BarSeries) -> np.ndarray:
    """Close-to-close log returns, the first bar measured from its open."""
    return np.diff(np.log(series.close), prepend=np.log(series.open[0]))


def lag_correlation(values: np.ndarray, lag: int = 1) -> float:
    return float(np.corrcoef(values[lag:], values[:-lag])[0, 1])


@pytest.fixture(scope="module")
def market() -> SimulatedMarket:
    return simulate_market(seed=7, bars=300_000)


def test_same_seed_gives_identical_arrays() -> None:
    first, second = simulate_market(seed=123, bars=5_000), simulate_market(seed=123, bars=5_000)
    for name in COLUMNS:
        assert np.array_equal(getattr(first.bars, name), getattr(second.bars, name)), name
    assert np.array_equal(first.regimes, second.regimes)


def test_different_seeds_give_different_markets() -> None:
    first, second = simulate_bars(seed=1, bars=5_000), simulate_bars(seed=2, bars=5_000)
    assert not np.array_equal(first.close, second.close)
    assert np.count_nonzero(first.close != second.close) > 4_900


def test_a_longer_run_starts_with_the_bars_of_a_shorter_one() -> None:
    short, long = simulate_market(seed=5, bars=3_000), simulate_market(seed=5, bars=20_000)
    for name in COLUMNS:
        assert np.array_equal(getattr(short.bars, name), getattr(long.bars, name)[:3_000]), name
    assert np.array_equal(short.regimes, long.regimes[:3_000])


def test_series_names_its_seed_and_has_tick_prices_and_numpy_columns() -> None:
    series = simulate_bars(seed=42, bars=2_000, symbol="SIM/EUR")
    assert (series.source, series.symbol, series.timeframe, len(series)) == (
        "simulated:seed=42",
        "SIM/EUR",
        "1m",
        2_000,
    )
    for name in ("open", "high", "low", "close"):
        prices = getattr(series, name)
        assert prices.dtype == np.float64 and prices.flags.c_contiguous
        assert np.array_equal(prices, np.round(prices, 2)), name
    assert series.timestamps.dtype == np.int64
    assert series.open[0] == 30_000.0
    assert np.array_equal(series.open[1:], series.close[:-1])  # opens exactly at the previous close


def test_a_million_bars_pass_validation_without_gaps() -> None:
    series = simulate_bars(bars=1_000_000)
    report = validate_bars(series)
    assert (report.rows, report.gaps) == (1_000_000, ())
    assert report.last - report.first == 999_999 * 60 * 10**9


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**63 - 1),
    timeframe=st.sampled_from(list(TIMEFRAMES)),
    start_price=st.floats(0.05, 1e7),
    bars=st.integers(1, 400),
)
def test_every_simulated_series_has_consistent_ohlc(seed: int, timeframe: str, start_price: float, bars: int) -> None:
    series = simulate_bars(seed=seed, bars=bars, timeframe=timeframe, start_price=start_price)
    assert validate_bars(series).rows == bars
    assert find_gaps(series) == []
    assert np.all(series.low >= 0.01)


def test_start_is_the_first_bar_and_naive_times_are_utc() -> None:
    aware = simulate_bars(bars=3, timeframe="4h", start=datetime(2022, 6, 1, 2, tzinfo=timezone(timedelta(hours=2))))
    naive = simulate_bars(bars=3, timeframe="4h", start=datetime(2022, 6, 1))
    assert aware.datetime_at(0) == naive.datetime_at(0) == datetime(2022, 6, 1, tzinfo=UTC)
    assert naive.datetime_at(2) == datetime(2022, 6, 1, 8, tzinfo=UTC)
    assert simulate_bars(bars=1).datetime_at(0) == datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"timeframe": "2m"}, "unknown timeframe '2m'"),
        ({"bars": 0}, "bars must be a whole number of at least 1, was 0"),
        ({"start_price": 0.0}, "start_price must be a finite price of at least one tick (0.01), was 0.0"),
        ({"start_price": float("nan")}, "start_price must be a finite price"),
    ],
)
def test_bad_arguments_are_config_errors(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        simulate_bars(**arguments)  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_every_regime_occurs_in_persistent_spells(market: SimulatedMarket) -> None:
    shares = np.bincount(market.regimes, minlength=4) / len(market.regimes)
    assert np.all(shares > 0.01)
    spells = np.count_nonzero(np.diff(market.regimes)) + 1
    assert len(market.regimes) / spells > 100  # regimes last hundreds of bars, not one


def test_bursts_are_far_more_volatile_than_calm_regimes(market: SimulatedMarket) -> None:
    returns = log_returns(market.bars)
    volatility = {regime: returns[market.mask(regime)].std() for regime in Regime}
    assert volatility[Regime.BURST] > 2.5 * volatility[Regime.RANGE]
    assert volatility[Regime.BURST] > 2.0 * volatility[Regime.UPTREND]


def test_uptrends_drift_up_and_downtrends_drift_down(market: SimulatedMarket) -> None:
    returns = log_returns(market.bars)
    for regime, sign in ((Regime.UPTREND, 1), (Regime.DOWNTREND, -1)):
        chosen = returns[market.mask(regime)]
        t_statistic = chosen.mean() / (chosen.std() / np.sqrt(len(chosen)))
        assert sign * t_statistic > 5, regime


def test_ranges_revert_while_trends_do_not(market: SimulatedMarket) -> None:
    """Variance ratio over 60 bars: well below 1 when moves are undone, 1 or more in a trend."""
    returns = log_returns(market.bars)

    def variance_ratio(regime: Regime, horizon: int = 60) -> float:
        sums, singles = [], []
        inside = np.concatenate(([False], market.mask(regime), [False]))
        edges = np.flatnonzero(np.diff(inside.astype(np.int8)))
        for begin, end in zip(edges[::2], edges[1::2], strict=True):
            spell = returns[begin:end]
            whole = len(spell) // horizon * horizon
            sums.append(spell[:whole].reshape(-1, horizon).sum(axis=1))
            singles.append(spell)
        return float(np.concatenate(sums).var() / (horizon * np.concatenate(singles).var()))

    assert variance_ratio(Regime.RANGE) < 0.6
    assert variance_ratio(Regime.UPTREND) > 0.9


def test_volatility_clusters_unlike_a_gaussian_random_walk(market: SimulatedMarket) -> None:
    absolute = np.abs(log_returns(market.bars))
    walk = np.abs(np.random.default_rng(7).standard_normal(len(absolute)))
    assert lag_correlation(absolute) > 0.1
    assert abs(lag_correlation(walk)) < 0.01
    assert lag_correlation(absolute, lag=20) > 0.05  # it persists, not just bar to bar


def test_returns_have_fat_tails(market: SimulatedMarket) -> None:
    returns = log_returns(market.bars)
    standardised = (returns - returns.mean()) / returns.std()
    assert np.mean(standardised**4) > 6  # a Gaussian has kurtosis 3


def test_volume_grows_with_the_size_of_the_move(market: SimulatedMarket) -> None:
    series = market.bars
    assert np.all(series.volume > 0)
    assert float(np.corrcoef(series.volume, np.abs(log_returns(series)))[0, 1]) > 0.3


def test_high_and_low_reach_beyond_open_and_close(market: SimulatedMarket) -> None:
    series = market.bars
    assert np.mean(series.high > np.maximum(series.open, series.close)) > 0.9
    assert np.mean(series.low < np.minimum(series.open, series.close)) > 0.9
