"""The feature set and the labels: what they compute, and that nothing at bar t reads a bar after it."""

from __future__ import annotations

import numpy as np
import pytest
from tradekit_ml.features import (
    FEATURES,
    WARMUP,
    RelativeStrength,
    direction_labels,
    feature_definitions,
    feature_indicators,
    feature_matrix,
    flat_zscore,
    relative_strength,
)

from tradekit.domain.bars import BarSeries
from tradekit.indicators_incremental import BarFeed
from tradekit.testing.bars import make_bars, mirror_after


def test_no_feature_at_bar_t_changes_when_only_later_bars_change(btc_hourly: BarSeries) -> None:
    data = btc_hourly.slice(20_000, 23_000)
    base = feature_matrix(data)
    for cut in (WARMUP + 5, 1_000, 2_000, 2_998):
        altered = feature_matrix(mirror_after(data, cut))
        np.testing.assert_array_equal(altered[: cut + 1], base[: cut + 1], err_msg=f"cut at {cut}")
        # The alteration is real: some later feature does change.
        assert not np.array_equal(altered[cut + 1 :], base[cut + 1 :], equal_nan=True)


def test_a_label_at_bar_t_reads_bar_t_plus_horizon_and_nothing_later(btc_hourly: BarSeries) -> None:
    data = btc_hourly.slice(30_000, 31_000)
    horizon = 4
    base = direction_labels(data.close, horizon)
    for cut in (100, 500, 900):
        altered = direction_labels(mirror_after(data, cut).close, horizon)
        # Labels up to cut - horizon read bars up to cut only.
        np.testing.assert_array_equal(altered[: cut - horizon + 1], base[: cut - horizon + 1])


def test_labels_are_one_where_the_close_rose_over_the_horizon_and_nan_where_it_is_unknown() -> None:
    close = np.array([10.0, 11.0, 11.0, 9.0, 12.0, 12.5])
    np.testing.assert_array_equal(direction_labels(close, 1), [1.0, 0.0, 0.0, 1.0, 1.0, np.nan])
    np.testing.assert_array_equal(direction_labels(close, 2), [1.0, 0.0, 1.0, 1.0, np.nan, np.nan])
    with pytest.raises(ValueError, match="horizon must be at least 1 bar, was 0"):
        direction_labels(close, 0)


def test_every_feature_is_defined_from_the_warmup_bar_on(btc_hourly: BarSeries) -> None:
    matrix = feature_matrix(btc_hourly.slice(0, 2_000))
    assert matrix.shape == (2_000, len(FEATURES))
    assert np.isnan(matrix[: WARMUP - 1]).any(axis=1).all()
    assert np.isfinite(matrix[WARMUP - 1 :]).all()
    assert WARMUP == 169  # volatility_168: 168 one-bar returns, the first of which needs a bar before it


def test_the_last_bar_gets_the_same_features_from_its_warmup_alone_as_from_years_of_history(
    btc_hourly: BarSeries,
) -> None:
    whole = feature_matrix(btc_hourly)
    for end in (WARMUP, 10_000, 33_333, len(btc_hourly)):
        tail = feature_matrix(btc_hourly.slice(end - WARMUP, end))
        np.testing.assert_array_equal(tail[-1], whole[end - 1], err_msg=f"bar {end - 1}")


def test_fed_bar_by_bar_the_features_equal_the_whole_array_values_exactly(btc_hourly: BarSeries) -> None:
    data = btc_hourly.slice(40_000, 40_600)
    declared = feature_indicators()
    whole = declared.compute({name: getattr(data, name) for name in ("high", "low", "close", "volume")})
    streamed = feature_indicators()
    feed = BarFeed(streamed)
    for end in range(WARMUP, len(data)):
        history = data.slice(0, end + 1)
        latest = feed.update(history.timestamps, {name: getattr(history, name) for name in streamed.columns()})
        for name in FEATURES:
            assert latest[name] == whole[name][end], f"{name} at bar {end}"


def test_rsi_sums_gains_and_losses_over_its_window() -> None:
    close = np.array([10.0, 11.0, 10.5, 10.5, 12.0, 11.0])
    # Over the last 3 changes of bar 4 (-0.5, 0, +1.5): gains 1.5, losses 0.5 -> 75.
    rsi = relative_strength(close, 3)
    assert np.isnan(rsi[:3]).all()
    assert rsi[3] == pytest.approx(100 * 1.0 / 1.5)  # +1, -0.5, 0
    assert rsi[4] == pytest.approx(75.0)
    assert rsi[5] == pytest.approx(100 * 1.5 / 2.5)  # 0, +1.5, -1
    assert relative_strength(np.arange(1.0, 20.0), 14)[-1] == 100.0
    assert relative_strength(np.arange(20.0, 1.0, -1.0), 14)[-1] == 0.0
    assert relative_strength(np.full(20, 7.0), 14)[-1] == 50.0


def test_rsi_bar_by_bar_equals_the_whole_array() -> None:
    close = np.random.default_rng(5).normal(0, 1, 400).cumsum() + 100
    whole = relative_strength(close, 14)
    indicator = RelativeStrength(14)
    streamed = [indicator.update(value) for value in close]
    np.testing.assert_array_equal(np.array(streamed), whole)


def test_a_flat_volume_window_scores_zero_not_missing() -> None:
    volume = np.concatenate([np.full(30, 5.0), [5.0, 9.0]])
    z = flat_zscore(volume, 24)
    assert np.isnan(z[:23]).all()
    assert (z[23:31] == 0.0).all()
    assert z[31] > 0


def test_flat_prices_and_volumes_leave_no_feature_undefined_after_warmup() -> None:
    quiet = make_bars(np.full(400, 100.0), timeframe="1h")
    matrix = feature_matrix(quiet)
    # volatility_ratio is 0/0 on a price that never moves: undefined, and the bar gets no prediction.
    ratio = FEATURES.index("volatility_ratio")
    others = [column for column in range(len(FEATURES)) if column != ratio]
    assert np.isfinite(matrix[WARMUP - 1 :, others]).all()
    assert np.isnan(matrix[:, ratio]).all()


def test_the_feature_definitions_name_every_feature_and_its_parameters() -> None:
    definitions = feature_definitions()
    assert set(FEATURES) <= set(definitions)
    assert definitions["rsi_14"] == "RelativeStrength(14, close)"
    assert definitions["volatility_168"] == "StdDev(168, return_1)"
    assert definitions["distance_sma_24"] == "Ratio(close / sma_24 - 1.0)"
