"""The signal rule and its one-pass backtest, held to a plain reference and to the engine's run of ``ml_signal``."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tradekit_ml.signal import classification_scores, signal_backtest, signal_positions
from tradekit_ml.strategy import MlSignal, MlSignalSettings

from tradekit.domain.bars import BarSeries
from tradekit.testing.harness import backtest, paper_instruments

probability = st.one_of(st.floats(min_value=0.0, max_value=1.0), st.just(float("nan")))


def reference_positions(probabilities: list[float], enter: float, leave: float, allowed: list[bool]) -> list[bool]:
    """The rule read literally, one bar at a time."""
    holding, held = False, []
    for p, ok in zip(probabilities, allowed, strict=True):
        if not holding and p > enter and ok:
            holding = True
        elif holding and p < leave:
            holding = False
        held.append(holding)
    return held


@settings(max_examples=300, deadline=None)
@given(
    probabilities=st.lists(probability, max_size=200),
    thresholds=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)).map(sorted),
    seed=st.integers(0, 2**16),
)
def test_positions_follow_the_entry_and_exit_rule_bar_by_bar(
    probabilities: list[float], thresholds: list[float], seed: int
) -> None:
    leave, enter = thresholds
    allowed = list(np.random.default_rng(seed).random(len(probabilities)) > 0.3)
    held = signal_positions(np.array(probabilities, dtype=np.float64), enter, leave, np.array(allowed, dtype=bool))
    assert held.tolist() == reference_positions(probabilities, enter, leave, allowed)


def test_an_exit_threshold_above_the_entry_is_refused() -> None:
    with pytest.raises(ValueError, match=r"exit_below \(0.6\) must not be above enter_above \(0.5\)"):
        signal_positions(np.array([0.5]), 0.5, 0.6)


def test_the_backtest_compounds_held_bars_and_pays_the_fee_on_each_entry_and_exit() -> None:
    close = np.array([100.0, 110.0, 121.0, 110.0, 100.0])
    held = np.array([True, True, False, False, True])
    result = signal_backtest(close, held, 0.01)
    # Held from 100 to 121 (+21%), one entry and one exit, then entered on the last bar (one more fee).
    assert result["signal_return"] == pytest.approx(1.21 * 0.99**3 - 1)
    assert result["hold_return"] == pytest.approx(0.0)
    assert result["trades"] == 2.0
    assert result["exposure"] == pytest.approx(0.5)


def test_classification_scores_count_up_calls_against_what_happened() -> None:
    probabilities = np.array([0.7, 0.6, 0.4, 0.3, np.nan, 0.8])
    labels = np.array([1.0, 0.0, 0.0, 1.0, 1.0, np.nan])
    scores = classification_scores(probabilities, labels)
    assert scores == {"bars": 4.0, "accuracy": 0.5, "precision": 0.5, "recall": 0.5, "up_share": 0.5}
    nothing_called = classification_scores(np.array([0.1, 0.2]), np.array([1.0, 0.0]))
    assert np.isnan(nothing_called["precision"]) and nothing_called["recall"] == 0.0


def test_the_one_pass_backtest_trades_on_the_bars_the_engine_trades_on_and_ends_close_to_it(
    btc_hourly: BarSeries, tmp_path: Path
) -> None:
    from tradekit_ml.classifiers import GradientBoostingDirection

    model = GradientBoostingDirection()
    model.fit(btc_hourly.slice(40_000, 44_000), 1)
    model.save(tmp_path / "gbm.tkmodel")
    data = btc_hourly.slice(44_000, 46_000)
    strategy = MlSignal(MlSignalSettings(model=tmp_path / "gbm.tkmodel", fraction=Decimal("0.99")))
    run = backtest(strategy, {data.symbol: data}, paper_instruments({data.symbol: data}, lot_size=Decimal("0.00001")))

    probabilities = model.predict(data)
    held = signal_positions(probabilities, 0.55, 0.45)
    changes = np.flatnonzero(held != np.concatenate(([False], held[:-1])))
    assert [decision.index for decision in run.decisions] == changes.tolist()
    assert len(changes) > 20
    expected = signal_backtest(np.asarray(data.close), held, 0.001)["signal_return"]
    equity = run.outcome.equity
    engine_return = float(equity[-1] / equity[0] - 1)
    # The engine spends 99% of cash in whole lots; the one-pass backtest all of it.
    assert engine_return == pytest.approx(expected, abs=0.02)
