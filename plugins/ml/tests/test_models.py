"""The three models: what they learn, what they predict, and that saving and loading changes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tradekit_ml.classifiers import GradientBoostingDirection, LogisticDirection
from tradekit_ml.features import FEATURES, WARMUP
from tradekit_ml.regime import Regime, RegimeModel, regime_name

from tradekit.data import simulate_market
from tradekit.domain.bars import BarSeries
from tradekit.errors import DataError

CLASSIFIERS = [LogisticDirection, GradientBoostingDirection]
MODELS = [LogisticDirection, GradientBoostingDirection, RegimeModel]


@pytest.mark.parametrize("model_class", CLASSIFIERS)
def test_a_classifier_learns_that_returns_persist_and_calls_unseen_bars_better_than_chance(
    model_class: type[LogisticDirection | GradientBoostingDirection], persistent: BarSeries
) -> None:
    model = model_class()
    metrics = model.fit(persistent.slice(0, 2_000), 1)
    assert metrics["samples"] == 2_000 - (WARMUP - 1) - 1
    probabilities = model.predict(persistent)
    scores = model.score(persistent.slice(2_000, 3_000), probabilities[2_000:], 1)
    # Returns follow each other with persistence 0.4: the next bar's direction is about 63% predictable.
    assert scores["accuracy"] > 0.58
    assert scores["accuracy"] > max(scores["up_share"], 1 - scores["up_share"]) + 0.05
    assert scores["bars"] == 999


@pytest.mark.parametrize("model_class", MODELS)
def test_saved_and_loaded_a_model_predicts_exactly_as_before(
    model_class: type[LogisticDirection | GradientBoostingDirection | RegimeModel],
    btc_hourly: BarSeries,
    tmp_path: Path,
) -> None:
    model = model_class()
    model.fit(btc_hourly.slice(30_000, 35_000), 4)
    before = model.predict(btc_hourly.slice(30_000, 40_000))
    model.save(tmp_path / "model.tkmodel")
    loaded = model_class.load(tmp_path / "model.tkmodel")
    after = loaded.predict(btc_hourly.slice(30_000, 40_000))
    np.testing.assert_array_equal(after, before)
    assert loaded.metadata == model.metadata | {
        "format": "tradekit-ml/1",
        "payload_sha256": loaded.metadata["payload_sha256"],
    }
    assert loaded.horizon == 4 and loaded.settings == model.settings and loaded.name == model.name


@pytest.mark.parametrize("model_class", MODELS)
def test_a_prediction_from_the_warmup_alone_equals_the_one_from_the_whole_history(
    model_class: type[LogisticDirection | GradientBoostingDirection | RegimeModel], btc_hourly: BarSeries
) -> None:
    model = model_class()
    model.fit(btc_hourly.slice(10_000, 14_000), 2)
    data = btc_hourly.slice(10_000, 20_000)
    whole = model.predict(data)
    for end in range(model.warmup, len(data), 997):
        latest = model.predict(data.slice(end - model.warmup, end))[-1]
        assert latest == whole[end - 1] or (np.isnan(latest) and np.isnan(whole[end - 1])), f"bar {end - 1}"


@pytest.mark.parametrize("model_class", MODELS)
def test_the_metadata_records_features_window_horizon_data_hash_libraries_and_metrics(
    model_class: type[LogisticDirection | GradientBoostingDirection | RegimeModel], btc_hourly: BarSeries
) -> None:
    model = model_class()
    data = btc_hourly.slice(50_000, 53_000)
    metrics = model.fit(data, 3)
    described = model.metadata
    assert described["model"] == model.name == model_class.default_name
    assert described["kind"] == model_class.kind_name
    assert set(model.features) <= set(described["features"])
    assert described["horizon"] == 3 and described["warmup"] == model.warmup
    assert described["data"]["bars"] == 3_000
    assert described["data"]["first_bar"] == data.datetime_at(0).isoformat()
    assert described["data"]["source"] == "binance_BTC_USDT-1h_20170817-20240421.feather"
    assert len(described["data"]["sha256"]) == 64
    assert {"python", "numpy", "tradekit", "tradekit-ml"} <= set(described["libraries"])
    assert described["metrics"]["samples"] == metrics["samples"]
    # Two fits on the same bars record the same hash; other bars another.
    again = model_class()
    again.fit(btc_hourly.slice(50_000, 53_000), 3)
    assert again.metadata["data"]["sha256"] == described["data"]["sha256"]
    other = model_class()
    other.fit(btc_hourly.slice(50_001, 53_001), 3)
    assert other.metadata["data"]["sha256"] != described["data"]["sha256"]


def test_the_libraries_a_model_predicts_with_are_recorded(btc_hourly: BarSeries) -> None:
    gbm = GradientBoostingDirection()
    gbm.fit(btc_hourly.slice(0, 3_000), 1)
    logreg = LogisticDirection()
    logreg.fit(btc_hourly.slice(0, 3_000), 1)
    assert gbm.metadata["libraries"]["lightgbm"].split(".")[0] == "4"
    assert "scikit-learn" in logreg.metadata["libraries"]
    assert set(gbm.metadata["metrics"]["feature_gain_share"]) == set(FEATURES)
    assert sum(gbm.metadata["metrics"]["feature_gain_share"].values()) == pytest.approx(1.0)
    assert set(logreg.metadata["metrics"]["coefficients"]) == set(FEATURES)


@pytest.mark.parametrize("model_class", MODELS)
def test_too_few_bars_to_train_are_refused_with_the_numbers(
    model_class: type[LogisticDirection | GradientBoostingDirection | RegimeModel], btc_hourly: BarSeries
) -> None:
    with pytest.raises(DataError, match=r"needs at least [\d,]+ bars to train with horizon 4 .* has 150"):
        model_class().fit(btc_hourly.slice(0, 150), 4)
    with pytest.raises(DataError, match="horizon must be at least 1 bar, was 0"):
        model_class().fit(btc_hourly.slice(0, 2_000), 0)


@pytest.mark.parametrize("model_class", MODELS)
def test_predicting_or_saving_before_training_is_refused(
    model_class: type[LogisticDirection | GradientBoostingDirection | RegimeModel],
    persistent: BarSeries,
    tmp_path: Path,
) -> None:
    with pytest.raises(RuntimeError, match="is not trained"):
        model_class().predict(persistent)
    with pytest.raises(RuntimeError, match="nothing to save"):
        model_class().save(tmp_path / "x.tkmodel")


def test_a_window_where_the_price_only_rose_is_refused_for_a_classifier() -> None:
    from tradekit.testing.bars import make_bars

    rising = make_bars(100.0 * 1.001 ** np.arange(800), timeframe="1h")
    with pytest.raises(DataError, match="went up 1 bars later; a classifier needs both outcomes"):
        LogisticDirection().fit(rising, 1)


def test_the_regime_model_finds_the_simulators_bursts_and_trends() -> None:
    market = simulate_market(seed=11, bars=30_000, timeframe="1h")
    model = RegimeModel()
    model.fit(market.bars.slice(0, 15_000), 24)
    labels = model.predict(market.bars)[15_000:]
    truth = market.regimes[15_000:]
    known = ~np.isnan(labels)
    labels, truth = labels[known], truth[known]

    def share(label: Regime, where: np.ndarray) -> float:
        return float(np.mean(labels[where] == label))

    # High volatility is called far more often inside the simulator's bursts than outside them.
    assert share(Regime.HIGH_VOLATILITY, truth == 3) > 3 * share(Regime.HIGH_VOLATILITY, truth != 3)
    # Uptrends are called in uptrends more than in downtrends, and the other way round.
    assert share(Regime.UPTREND, truth == 0) > 2 * share(Regime.UPTREND, truth == 1)
    assert share(Regime.DOWNTREND, truth == 1) > 2 * share(Regime.DOWNTREND, truth == 0)
    assert regime_name(float(Regime.UPTREND)) == "uptrend" and regime_name(float("nan")) is None


def test_the_regime_model_scores_shares_volatility_ratio_and_trend_hits(btc_hourly: BarSeries) -> None:
    model = RegimeModel()
    model.fit(btc_hourly.slice(20_000, 28_760), 24)
    test = btc_hourly.slice(28_760, 31_000)
    predictions = model.predict(btc_hourly.slice(20_000, 31_000))[-len(test) :]
    scores = model.score(test, predictions, 24)
    shares = [scores[f"{name}_share"] for name in ("range", "uptrend", "downtrend", "high_volatility")]
    assert sum(shares) == pytest.approx(1.0)
    # Out of sample, the high-volatility label still finds bars whose next day moves more.
    assert scores["volatility_ratio"] > 1.0
    assert 0.0 <= scores["trend_hit_rate"] <= 1.0
