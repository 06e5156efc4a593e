"""The template of a model plugin: ridge regression on past returns, numpy only."""

from __future__ import annotations

from tradekit.scaffold.templates import KindTemplate

SOURCE = '''\
"""``${name}``: a tradekit model.

It works as generated: a ridge regression, in numpy only, that predicts the
log return over the next ``horizon`` bars from the last ``lags`` one-bar log
returns. It trains, predicts, saves to one ``.npz`` file with its metadata
and loads it back, refusing a file it did not write. Replace the features and
the fit with your own; ``tests/test_conformance.py`` checks that it still
keeps the rules every model keeps (no lookahead, save and load give the same
predictions).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import Field
from tradekit.domain import BarSeries
from tradekit.plugin import Model, PluginSettings

#: Written into every saved file; a file with another format is refused.
FORMAT = "${package}.${module}/1"


class ${class_name}Settings(PluginSettings):
    """Settings of ``${name}``: the ``[plugins.model.${name}]`` table of tradekit.toml."""

    lags: int = Field(default=5, ge=1, le=200, description="Past one-bar log returns each prediction uses.")
    ridge: float = Field(default=1.0, ge=0, description="L2 penalty on the coefficients (0: least squares).")


class ${class_name}(Model):
    """Predicts the log return of the next ``horizon`` bars by ridge regression on the last ``lags`` returns.

    The prediction at bar ``i`` uses closes up to ``i`` only; the first
    ``lags`` bars have no prediction (NaN).
    """

    Settings = ${class_name}Settings
    settings: ${class_name}Settings
    features = ("close",)

    def __init__(self, settings: ${class_name}Settings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self.coefficients: NDArray[np.float64] | None = None
        self.intercept = 0.0
        self.metadata: dict[str, Any] = {}

    def _lagged_returns(self, close: NDArray[np.float64]) -> NDArray[np.float64]:
        """Row ``i``: the returns of bars ``i``, ``i - 1``... ``i - lags + 1``; NaN where there are none."""
        lags = self.settings.lags
        returns = np.full(len(close), np.nan)
        returns[1:] = np.diff(np.log(close))
        rows = np.full((len(close), lags), np.nan)
        for lag in range(lags):
            rows[lag:, lag] = returns[: len(close) - lag]
        return rows

    def fit(self, data: BarSeries, horizon: int) -> dict[str, Any]:
        """Train on ``data`` to predict ``horizon`` bars ahead; returns in-sample metrics."""
        if horizon < 1:
            raise ValueError(f"horizon must be at least 1 bar, was {horizon}")
        close = np.asarray(data.close, dtype=np.float64)
        if len(close) < self.settings.lags + horizon + 10 or not np.all(close > 0):
            needed = self.settings.lags + horizon + 10
            raise ValueError(
                f"{self.name} needs at least {needed} bars of positive closes to train with "
                f"lags={self.settings.lags} and horizon={horizon}; got {len(close)}"
            )
        log_close = np.log(close)
        rows = self._lagged_returns(close)
        # Bars with every lag and a known future: lags .. n - horizon - 1.
        used = slice(self.settings.lags, len(close) - horizon)
        x = rows[used]
        y = log_close[self.settings.lags + horizon :] - log_close[used]
        x_mean, y_mean = x.mean(axis=0), float(y.mean())
        centred = x - x_mean
        penalty = self.settings.ridge * np.eye(x.shape[1])
        coefficients = np.linalg.solve(centred.T @ centred + penalty, centred.T @ (y - y_mean))
        self.coefficients = coefficients
        self.intercept = y_mean - float(x_mean @ coefficients)
        fitted = x @ coefficients + self.intercept
        residual = float(np.sum((y - fitted) ** 2))
        total = float(np.sum((y - y_mean) ** 2))
        metrics = {
            "samples": len(y),
            "r2": 1.0 - residual / total if total > 0 else 0.0,
            "direction_accuracy": float(np.mean(np.sign(fitted) == np.sign(y))),
        }
        self.metadata = {
            "format": FORMAT,
            "name": self.name,
            "settings": self.settings.model_dump(mode="json"),
            "features": list(self.features),
            "horizon": horizon,
            "symbol": data.symbol,
            "timeframe": data.timeframe,
            "trained_from": data.datetime_at(0).isoformat(),
            "trained_to": data.datetime_at(len(data) - 1).isoformat(),
            "data_hash": hashlib.sha256(close.tobytes()).hexdigest(),
            "numpy": np.__version__,
            "trained_at": datetime.now(UTC).isoformat(),
            "metrics": metrics,
        }
        return metrics

    def predict(self, data: BarSeries) -> NDArray[np.float64]:
        """One prediction per bar of ``data``, each from bars up to it; NaN for the first ``lags`` bars."""
        if self.coefficients is None:
            raise RuntimeError(f"model {self.name} is not trained: call fit() or load() first")
        rows = self._lagged_returns(np.asarray(data.close, dtype=np.float64))
        # Row by row (not a matrix product), so a prediction never depends on how many bars follow it.
        predictions: NDArray[np.float64] = (rows * self.coefficients).sum(axis=1) + self.intercept
        return predictions

    def save(self, path: Path) -> None:
        """Write the coefficients and the metadata to ``path`` (one ``.npz`` file)."""
        if self.coefficients is None:
            raise RuntimeError(f"model {self.name} is not trained: there is nothing to save")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:  # a handle, so numpy does not add .npz to the name
            np.savez(
                handle,
                coefficients=self.coefficients,
                intercept=np.array(self.intercept),
                metadata=np.array(json.dumps(self.metadata, sort_keys=True)),
            )

    @classmethod
    def load(cls, path: Path) -> ${class_name}:
        """Read a model written by :meth:`save`; refuse a file of another format or a damaged one."""
        try:
            with np.load(Path(path), allow_pickle=False) as archive:
                metadata = json.loads(str(archive["metadata"]))
                coefficients = np.asarray(archive["coefficients"], dtype=np.float64)
                intercept = float(archive["intercept"])
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(
                f"{path} is not a model file written by {cls.__name__}.save(): {error}"
            ) from None
        found = metadata.get("format")
        if found != FORMAT:
            raise ValueError(f"{path} holds a model of format {found!r}; {cls.__name__} reads {FORMAT!r}")
        model = cls(${class_name}Settings.model_validate(metadata["settings"]), name=metadata.get("name"))
        if coefficients.shape != (model.settings.lags,):
            lags = model.settings.lags
            raise ValueError(
                f"{path} has coefficients of shape {coefficients.shape} for lags={lags}; it is damaged"
            )
        model.coefficients = coefficients
        model.intercept = intercept
        model.metadata = metadata
        return model
'''

BEHAVIOUR_TEST = '''\
"""What ``${name}`` learns and predicts, and that tradekit finds it by its entry point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tradekit.domain import BarSeries
from tradekit.registry import Registry

from ${package}.model import ${class_name}, ${class_name}Settings


def trending_series(bars: int = 3000, persistence: float = 0.5, seed: int = 1) -> BarSeries:
    """Closes whose one-bar returns follow each other (AR(1)): a pattern a model can learn."""
    rng = np.random.default_rng(seed)
    returns = np.zeros(bars)
    for index in range(1, bars):
        returns[index] = persistence * returns[index - 1] + rng.normal(0, 0.001)
    close = 100 * np.exp(np.cumsum(returns))
    return BarSeries(
        symbol="TEST/USD",
        timeframe="1h",
        timestamps=np.arange(bars, dtype=np.int64) * 3_600_000_000_000,
        open=close,
        high=close,
        low=close,
        close=close,
        volume=np.ones(bars),
    )


def test_learns_that_returns_follow_each_other() -> None:
    model = ${class_name}(${class_name}Settings(lags=3, ridge=0.0))
    metrics = model.fit(trending_series(), horizon=1)

    assert model.coefficients is not None
    assert model.coefficients[0] == pytest.approx(0.5, abs=0.08)  # the persistence the data was made with
    assert metrics["direction_accuracy"] > 0.6
    assert metrics["samples"] == 3000 - 3 - 1


def test_predicts_one_value_per_bar_from_past_bars_only() -> None:
    series = trending_series()
    model = ${class_name}(${class_name}Settings(lags=3))
    model.fit(series, horizon=5)

    predictions = model.predict(series)
    assert predictions.shape == (len(series),)
    assert np.isnan(predictions[:3]).all() and not np.isnan(predictions[3:]).any()
    # Cutting the series after bar 2000 changes no prediction up to it.
    np.testing.assert_array_equal(model.predict(series.slice(0, 2001)), predictions[:2001])


def test_saved_and_loaded_it_predicts_the_same(tmp_path: Path) -> None:
    series = trending_series()
    model = ${class_name}(${class_name}Settings(lags=4))
    model.fit(series, horizon=2)
    model.save(tmp_path / "model.npz")

    loaded = ${class_name}.load(tmp_path / "model.npz")
    np.testing.assert_array_equal(loaded.predict(series), model.predict(series))
    assert loaded.metadata["horizon"] == 2 and loaded.settings.lags == 4


def test_refuses_a_file_it_did_not_write(tmp_path: Path) -> None:
    other = tmp_path / "other.npz"
    with other.open("wb") as handle:
        np.savez(handle, coefficients=np.zeros(3))

    with pytest.raises(ValueError, match="not a model file"):
        ${class_name}.load(other)


def test_refuses_to_predict_before_it_is_trained() -> None:
    with pytest.raises(RuntimeError, match="not trained"):
        ${class_name}().predict(trending_series(100))


def test_the_entry_point_finds_this_class() -> None:
    # Needs the distribution installed: python -m pip install -e ".[test]"
    assert Registry().load_class("model", "${name}") is ${class_name}
'''

TEMPLATE = KindTemplate(
    kind="model",
    suite="ModelConformance",
    summary="A tradekit model: ridge regression of future returns on past returns, in numpy only.",
    source=SOURCE,
    behaviour_test=BEHAVIOUR_TEST,
    conformance_settings='{"lags": 5, "ridge": 1.0}',
    settings_rows=(
        ("lags", "5", "Past one-bar log returns each prediction uses (1 to 200)."),
        ("ridge", "1.0", "L2 penalty on the coefficients (0: least squares)."),
    ),
    dependencies=("numpy>=1.26", "pydantic>=2.7"),
    usage="""\
Train it on a data file, save it, and load it where a strategy needs it:

```python
from pathlib import Path

from tradekit.data import load_bars
from ${package} import ${class_name}

bars = load_bars(Path("BTCUSDT-1h.csv"))
model = ${class_name}(${class_name}.Settings(lags=10))
print(model.fit(bars, horizon=4))  # in-sample metrics
model.save(Path("models/${name}.npz"))

loaded = ${class_name}.load(Path("models/${name}.npz"))
predictions = loaded.predict(bars)  # one per bar, NaN for the first `lags`
```""",
    try_command='python -c "import ${package}; print(${package}.${class_name}.__doc__)"',
)
