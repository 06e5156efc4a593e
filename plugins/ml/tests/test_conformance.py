"""The kernel's conformance suites, run against each model and against ``ml_signal``.

``ModelConformance`` checks one prediction per bar, determinism, no lookahead
(bars after a cut mirrored), save and load, and validated settings.
``StrategyConformance`` runs ``ml_signal`` through the engine: determinism,
no lookahead, valid intents, restarts, ``wakeups``, a live run deciding as the
backtest, validated settings. Both use real hourly BTC/USDT bars when
``../shared/data`` is present, the kernel's simulated market otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tradekit_ml.classifiers import GradientBoostingDirection, LogisticDirection
from tradekit_ml.regime import RegimeModel
from tradekit_ml.strategy import MlSignal

from tradekit.testing.conformance import ModelConformance, StrategyConformance


class TestLogisticDirectionConformance(ModelConformance):
    plugin = LogisticDirection
    plugin_name = "logreg"
    horizon = 4


class TestGradientBoostingDirectionConformance(ModelConformance):
    plugin = GradientBoostingDirection
    plugin_name = "gbm"
    settings: ClassVar[dict[str, Any]] = {"trees": 60}


class TestRegimeModelConformance(ModelConformance):
    plugin = RegimeModel
    plugin_name = "regime"
    horizon = 24


def _trained(folder: Path, model: Any) -> Path:
    """``model`` fit on simulated hourly bars (not the bars the suite runs on), saved in ``folder``."""
    from tradekit.data import simulate_bars

    model.fit(simulate_bars(seed=21, bars=3_000, timeframe="1h"), 2)
    path = folder / f"{model.name}.tkmodel"
    model.save(path)
    return path


def gbm_with_regimes(folder: Path) -> dict[str, Any]:
    """``ml_signal`` on a gradient-boosting model, entries held to uptrends and ranges by a regime model."""
    return {
        "model": str(_trained(folder, GradientBoostingDirection(GradientBoostingDirection.Settings(trees=60)))),
        "regime_model": str(_trained(folder, RegimeModel())),
        "enter_above": 0.51,
        "exit_below": 0.49,
    }


def logreg_fixed_quantity(folder: Path) -> dict[str, Any]:
    """``ml_signal`` on a logistic regression, one threshold, a fixed quantity."""
    return {
        "model": str(_trained(folder, LogisticDirection())),
        "enter_above": 0.5,
        "exit_below": 0.5,
        "quantity": "0.05",
    }


class ModelBackedSuite(StrategyConformance):
    """The strategy suite with ``settings`` naming artifacts trained once per class by :attr:`settings_for`."""

    plugin = MlSignal
    plugin_name = "ml_signal"
    settings: ClassVar[dict[str, Any]] = {}
    settings_for: ClassVar[Any]

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _artifacts(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
        cls.settings = cls.settings_for(tmp_path_factory.mktemp(cls.__name__))
        yield
        cls.settings = {}


class TestMlSignalConformance(ModelBackedSuite):
    settings_for = staticmethod(gbm_with_regimes)


class TestMlSignalOnLogisticConformance(ModelBackedSuite):
    settings_for = staticmethod(logreg_fixed_quantity)


@pytest.mark.parametrize("suite", [TestMlSignalConformance, TestMlSignalOnLogisticConformance])
def test_the_conformance_runs_of_ml_signal_do_trade(
    suite: type[ModelBackedSuite], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A suite over a strategy that never trades would prove little: these settings enter and exit many times."""
    from tradekit.testing.harness import backtest

    monkeypatch.setattr(suite, "settings", suite.settings_for(tmp_path))
    instance = suite()
    data, instruments, _ = instance._data()
    run = backtest(instance.make_strategy(), data, instruments)
    assert len(run.decisions) >= 10
