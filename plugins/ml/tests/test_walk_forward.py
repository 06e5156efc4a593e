"""Walk-forward validation of ``tradekit model train``: folds never let a model see its test bars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tradekit.cli.model_cmd import Fold, _run_fold, format_span, parse_span, walk_forward_folds
from tradekit.domain.bars import BarSeries
from tradekit.errors import ConfigError
from tradekit.plugin import Model

HOUR = 3_600_000_000_000
DAY = 24 * HOUR


def hourly(bars: int, gaps: tuple[int, ...] = ()) -> np.ndarray:
    """Open times of ``bars`` hourly bars, with the hours in ``gaps`` left out."""
    stamps = np.arange(bars + len(gaps), dtype=np.int64) * HOUR
    return np.delete(stamps, list(gaps)) if gaps else stamps


@settings(max_examples=200, deadline=None)
# A test window that opens in a gap of the data (hour 1 missing): its first bar is later than its start.
@example(bars=5, step=HOUR, gaps=[1], train_bars=1, test_bars=2, folds=None)
@given(
    bars=st.integers(min_value=2, max_value=3_000),
    step=st.sampled_from([HOUR, 4 * HOUR, DAY]),
    gaps=st.lists(st.integers(min_value=0, max_value=2_999), max_size=20, unique=True),
    train_bars=st.one_of(st.none(), st.integers(min_value=1, max_value=1_500)),
    test_bars=st.integers(min_value=1, max_value=500),
    folds=st.one_of(st.none(), st.integers(min_value=1, max_value=12)),
)
def test_folds_train_only_on_bars_before_their_test_window_and_never_overlap(
    bars: int,
    step: int,
    gaps: list[int],
    train_bars: int | None,
    test_bars: int,
    folds: int | None,
) -> None:
    stamps = np.delete(np.arange(bars, dtype=np.int64) * step, [g for g in gaps if g < bars - 1])
    train_ns = train_bars * step if train_bars is not None else None
    test_ns = test_bars * step
    found = walk_forward_folds(stamps, train_ns=train_ns, test_ns=test_ns, folds=folds)
    if folds is not None:
        assert len(found) <= folds
    previous_stop = -1
    for number, fold in enumerate(found, start=1):
        assert fold.number == number
        assert 0 <= fold.train_start < fold.train_stop == fold.test_start < fold.test_stop <= len(stamps)
        # Every training bar opens before every test bar: nothing of the test window is trained on.
        assert stamps[fold.train_stop - 1] < stamps[fold.test_start]
        # Test windows follow each other without sharing a bar, and last no longer than asked.
        assert fold.test_start >= previous_stop
        previous_stop = fold.test_stop
        assert stamps[fold.test_stop - 1] - stamps[fold.test_start] < test_ns
        if train_ns is None:
            assert fold.train_start == 0
        else:
            # The training bars lie in one window of train_ns (measured in time: a test window that opens
            # in a gap of the data starts at its window's start, not at its first bar).
            assert stamps[fold.train_stop - 1] - stamps[fold.train_start] < train_ns
    if found:
        # The newest test window ends with the last bar.
        assert found[-1].test_stop == len(stamps)


def test_a_year_of_training_and_quarters_of_testing_roll_back_from_the_last_bar() -> None:
    stamps = hourly(3 * 365 * 24)
    found = walk_forward_folds(stamps, train_ns=365 * DAY, test_ns=91 * DAY, folds=None)
    assert len(found) == 8  # (3 years - 1 year of training) / 91 days
    assert [fold.test_stop - fold.test_start for fold in found] == [91 * 24] * 8
    assert all(fold.train_stop - fold.train_start == 365 * 24 for fold in found)
    assert [f.number for f in walk_forward_folds(stamps, train_ns=365 * DAY, test_ns=91 * DAY, folds=3)] == [1, 2, 3]
    newest = walk_forward_folds(stamps, train_ns=365 * DAY, test_ns=91 * DAY, folds=3)
    assert [(f.test_start, f.test_stop) for f in newest] == [(f.test_start, f.test_stop) for f in found[-3:]]


def test_with_all_history_each_fold_trains_on_everything_before_its_test_window() -> None:
    found = walk_forward_folds(hourly(1_000), train_ns=None, test_ns=100 * HOUR, folds=None)
    assert [(f.train_start, f.train_stop) for f in found] == [(0, stop) for stop in range(100, 1_000, 100)]


def test_too_little_data_gives_no_fold() -> None:
    assert walk_forward_folds(hourly(100), train_ns=90 * DAY, test_ns=DAY, folds=None) == []
    assert walk_forward_folds(np.array([], dtype=np.int64), train_ns=None, test_ns=DAY, folds=None) == []


class Spy(Model):
    """Records the bars it is fit on and predicts on, and predicts each bar's own close (reads nothing later)."""

    def __init__(self) -> None:
        super().__init__(name="spy")
        self.fitted_on: BarSeries | None = None
        self.scored: tuple[BarSeries, np.ndarray] | None = None

    def fit(self, data: BarSeries, horizon: int) -> dict[str, Any]:
        self.fitted_on = data
        return {}

    def predict(self, data: BarSeries) -> np.ndarray:
        return np.asarray(data.close, dtype=np.float64).copy()

    def score(self, data: BarSeries, predictions: np.ndarray, horizon: int) -> dict[str, float]:
        self.scored = (data, predictions)
        return {"last": float(predictions[-1])}

    def save(self, path: Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, path: Path) -> Model:
        raise NotImplementedError


def test_a_fold_fits_on_its_training_bars_only_and_scores_the_predictions_of_its_test_bars(
    persistent: BarSeries,
) -> None:
    fold = Fold(number=2, train_start=500, train_stop=1_500, test_start=1_500, test_stop=1_800)
    spy = Spy()
    row = _run_fold(spy, persistent, fold, horizon=1)
    assert spy.fitted_on is not None and spy.scored is not None
    np.testing.assert_array_equal(spy.fitted_on.timestamps, persistent.timestamps[500:1_500])
    scored_bars, predictions = spy.scored
    np.testing.assert_array_equal(scored_bars.timestamps, persistent.timestamps[1_500:1_800])
    np.testing.assert_array_equal(predictions, persistent.close[1_500:1_800])
    assert row["fold"] == 2 and row["train_bars"] == 1_000 and row["test_bars"] == 300
    assert row["last"] == float(persistent.close[1_799])
    assert row["test_from"] == persistent.datetime_at(1_500).isoformat()


def test_spans_parse_in_hours_days_weeks_and_years_and_all_only_where_allowed() -> None:
    assert parse_span("90d", "--window") == 90 * DAY
    assert parse_span("1y", "--window") == 365 * DAY
    assert parse_span("12h", "--window") == 12 * HOUR
    assert parse_span("6w", "--window") == 42 * DAY
    assert parse_span("ALL", "--window", allow_all=True) is None
    with pytest.raises(ConfigError, match="--test-window 'all' is not a length of history"):
        parse_span("all", "--test-window")
    with pytest.raises(ConfigError, match="--window '3 months' is not"):
        parse_span("3 months", "--window", allow_all=True)
    assert format_span(365 * DAY) == "1y" and format_span(91 * DAY) == "91d" and format_span(36 * HOUR) == "36h"
