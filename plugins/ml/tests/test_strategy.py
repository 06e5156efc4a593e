"""``ml_signal``: loads its model when created, trades on its probability, reads a regime model, tells the run."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from tradekit_ml.artifact import ArtifactError
from tradekit_ml.classifiers import LogisticDirection
from tradekit_ml.features import WARMUP
from tradekit_ml.regime import Regime, RegimeModel
from tradekit_ml.strategy import MlSignal, MlSignalSettings, load_model

from tradekit.domain.bars import BarSeries
from tradekit.testing.harness import backtest, paper_instruments, replay_live


def run_backtest(strategy: MlSignal, data: BarSeries) -> Any:
    return backtest(strategy, {data.symbol: data}, paper_instruments({data.symbol: data}))


def test_a_missing_or_foreign_artifact_stops_the_strategy_at_creation_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"model artifact .*absent.tkmodel does not exist"):
        MlSignal(MlSignalSettings(model=tmp_path / "absent.tkmodel"))
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a model")
    with pytest.raises(ArtifactError, match="is not a tradekit-ml model artifact") as caught:
        MlSignal(MlSignalSettings(model=foreign))
    assert "--param model_plugin=NAME" in str(caught.value)


def test_thresholds_and_regimes_are_validated(artifacts: dict[str, Path]) -> None:
    with pytest.raises(ValidationError, match=r"exit_below \(0.6\) must not be above enter_above \(0.5\)"):
        MlSignalSettings(model=artifacts["logreg"], enter_above=0.5, exit_below=0.6)
    with pytest.raises(ValidationError, match="unknown regime sideways; regimes: range, uptrend, downtrend"):
        MlSignalSettings(model=artifacts["logreg"], enter_regimes=("sideways",))


def test_a_regime_model_must_be_a_regime_model(artifacts: dict[str, Path]) -> None:
    with pytest.raises(ArtifactError, match="holds a 'gbm' model, not a regime model"):
        MlSignal(MlSignalSettings(model=artifacts["logreg"], regime_model=artifacts["gbm"]))


def test_the_model_is_found_by_the_name_its_artifact_records(artifacts: dict[str, Path]) -> None:
    loaded = load_model(artifacts["gbm"])
    assert type(loaded).__name__ == "GradientBoostingDirection" and loaded.name == "gbm"
    assert type(load_model(artifacts["regime"], "regime")).__name__ == "RegimeModel"


def test_it_waits_for_the_models_warmup_then_enters_and_exits_on_the_thresholds(
    artifacts: dict[str, Path], persistent: BarSeries
) -> None:
    strategy = MlSignal(MlSignalSettings(model=artifacts["logreg"], enter_above=0.6, exit_below=0.4))
    assert strategy.warmup == WARMUP
    data = persistent.slice(2_000, 3_000)
    run = run_backtest(strategy, data)
    probabilities = LogisticDirection.load(artifacts["logreg"]).predict(data)
    sides = [(index, intent.side.value) for index, intent in run.intents]
    assert sides, "the strategy should trade on a learnable series"
    for index, side in sides:
        assert index >= WARMUP - 1
        assert probabilities[index] > 0.6 if side == "buy" else probabilities[index] < 0.4
    assert [side for _, side in sides[:2]] == ["buy", "sell"]


def test_entries_are_held_back_outside_the_chosen_regimes(artifacts: dict[str, Path], persistent: BarSeries) -> None:
    data = persistent.slice(2_000, 3_000)
    regimes = RegimeModel.load(artifacts["regime"]).predict(data)
    everywhere = run_backtest(MlSignal(MlSignalSettings(model=artifacts["logreg"])), data)
    ranging_only = run_backtest(
        MlSignal(
            MlSignalSettings(model=artifacts["logreg"], regime_model=artifacts["regime"], enter_regimes=("range",))
        ),
        data,
    )
    entries = [index for index, intent in ranging_only.intents if intent.side.value == "buy"]
    assert entries and all(regimes[index] == Regime.RANGE for index in entries)
    assert len(entries) < len([1 for _, intent in everywhere.intents if intent.side.value == "buy"])


def test_a_dry_run_decides_on_the_bars_the_backtest_decided_on(
    artifacts: dict[str, Path], btc_hourly: BarSeries
) -> None:
    data = {"BTC/USDT": btc_hourly.slice(25_000, 25_800)}
    instruments = paper_instruments(data)

    def make() -> MlSignal:
        return MlSignal(MlSignalSettings(model=artifacts["gbm"], regime_model=artifacts["regime"], enter_above=0.52))

    tested = backtest(make(), data, instruments)
    dry = replay_live(make, data, instruments)
    assert len(tested.decisions) > 4
    assert [d.key for d in dry.decisions] == [d.key for d in tested.decisions]


class Control:
    """Notes the events a plugin emits, as :class:`tradekit.control.RunControl` would send them."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self.loaded: list[tuple[str, dict[str, Any]]] = []

    def model_loaded(self, model: str, metadata: dict[str, Any]) -> None:
        self.loaded.append((model, metadata))

    def emit(self, kind: str, message: str, severity: Any = None, data: dict[str, Any] | None = None) -> None:
        self.events.append((kind, message, data or {}))


def test_the_run_is_told_which_artifacts_the_strategy_trades_on(artifacts: dict[str, Path]) -> None:
    strategy = MlSignal(MlSignalSettings(model=artifacts["gbm"], regime_model=artifacts["regime"]))
    control = Control()
    strategy.tradekit_run_started(run=None, control=control)  # type: ignore[arg-type]
    assert [(kind, data["role"], data["model"]) for kind, _, data in control.events] == [
        ("model_loaded", "model", "gbm"),
        ("model_loaded", "regime_model", "regime"),
    ]
    _, message, data = control.events[0]
    assert str(artifacts["gbm"]) in message and data["horizon"] == 1 and len(data["data_sha256"]) == 64
    # ...and every plugin hears it through the tradekit_model_loaded hook, with the artifact's metadata.
    assert [(name, metadata["role"], metadata["path"]) for name, metadata in control.loaded] == [
        ("gbm", "model", str(artifacts["gbm"])),
        ("regime", "regime_model", str(artifacts["regime"])),
    ]
    strategy.tradekit_run_started(run=None, control=None)  # type: ignore[arg-type]


def test_a_backtest_over_the_training_bars_is_flagged_as_in_sample(
    artifacts: dict[str, Path], persistent: BarSeries, caplog: pytest.LogCaptureFixture
) -> None:
    strategy = MlSignal(MlSignalSettings(model=artifacts["logreg"]))
    with caplog.at_level(logging.WARNING):
        strategy.prepare({persistent.symbol: persistent.slice(1_500, 2_500)})
    assert "overlap the bars model" in caplog.text and "in sample" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        strategy.prepare({persistent.symbol: persistent.slice(2_000, 3_000)})
    assert caplog.text == ""


def test_the_live_display_shows_the_latest_probability(artifacts: dict[str, Path], persistent: BarSeries) -> None:
    strategy = MlSignal(MlSignalSettings(model=artifacts["logreg"], quantity=Decimal("0.01")))
    assert strategy.status() is None
    run_backtest(strategy, persistent.slice(2_000, 2_400))
    shown = strategy.status()
    assert shown is not None and 0.0 <= float(shown["prediction"]) <= 1.0
    assert not np.isnan(float(shown["prediction"]))
