"""``regime``: labels each bar uptrend, downtrend, range or high volatility, for strategies to read.

Two measures per bar, each from a window of bars ending at it:

* **trend strength**: the return over the last ``trend_length`` bars divided
  by what the noise of those bars would give by chance,
  ``roc(trend_length) / (std(one-bar returns) * sqrt(trend_length))``; about
  N(0, 1) for a random walk, large in either direction in a trend;
* **volatility**: the standard deviation of the last ``volatility_length``
  one-bar returns.

Fitting learns two thresholds from the training bars: the
``volatility_quantile`` of the volatility, and the ``trend_quantile`` of the
absolute trend strength. A bar above the first is ``high_volatility``
(whatever its trend); otherwise above the second it is ``uptrend`` or
``downtrend`` by the sign of its strength, and ``range`` below it.

:meth:`RegimeModel.predict` returns the :class:`Regime` values as floats
(NaN during warm-up); :func:`regime_name` turns one into its name. A strategy
reads the regime of its latest bar with ``model.predict(history)[-1]``, or
over a whole backtest once; ``ml_signal`` can hold entries back to chosen
regimes (its ``regime_model`` and ``enter_regimes`` settings).
"""

from __future__ import annotations

import json
import math
from enum import IntEnum
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from tradekit.errors import DataError
from tradekit.indicators_incremental import Indicators, RateOfChange, StdDev
from tradekit.plugin import PluginSettings
from tradekit_ml.base import TrainedModel
from tradekit_ml.features import bar_columns

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tradekit.domain.bars import BarSeries
    from tradekit.indicators import FloatArray


class Regime(IntEnum):
    """The labels :class:`RegimeModel` gives, as the numbers its predictions hold."""

    RANGE = 0
    UPTREND = 1
    DOWNTREND = 2
    HIGH_VOLATILITY = 3


#: The names users write (``enter_regimes = ["uptrend", "range"]``), by label.
REGIME_NAMES: dict[Regime, str] = {regime: regime.name.lower() for regime in Regime}


def regime_name(value: float) -> str | None:
    """The name of a predicted value (``"uptrend"``...), or None for NaN (no regime yet)."""
    if math.isnan(value):
        return None
    return REGIME_NAMES[Regime(int(value))]


class RegimeSettings(PluginSettings):
    """Settings of ``regime``."""

    trend_length: int = Field(default=72, ge=4, le=5000, description="Bars over which the trend strength is measured.")
    volatility_length: int = Field(
        default=48, ge=4, le=5000, description="Bars over which the volatility of one-bar returns is measured."
    )
    trend_quantile: float = Field(
        default=0.6,
        gt=0,
        lt=1,
        description="Bars whose absolute trend strength is above this quantile of the training bars' are trends.",
    )
    volatility_quantile: float = Field(
        default=0.9,
        gt=0,
        lt=1,
        description="Bars whose volatility is above this quantile of the training bars' are high volatility.",
    )


class RegimeModel(TrainedModel):
    """``regime``: uptrend, downtrend, range or high volatility per bar, by thresholds learned in training.

    See the module docstring for the two measures and the rule. ``fit``
    reports the share of training bars in each regime, and for each the mean
    and the standard deviation of the return over the following ``horizon``
    bars: a useful labelling shows higher forward volatility in
    ``high_volatility`` and forward returns that lean with the trend.
    """

    Settings = RegimeSettings
    settings: RegimeSettings
    features = ("trend_strength", "volatility")
    kind_name: ClassVar[str] = "regime"
    default_name: ClassVar[str] = "regime"

    def __init__(self, settings: PluginSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self.trend_threshold: float | None = None
        self.volatility_threshold: float | None = None

    def _indicators(self) -> Indicators:
        s = self.settings
        return Indicators(
            return_1=RateOfChange(1, "close"),
            drift=RateOfChange(s.trend_length, "close"),
            noise=StdDev(s.trend_length, "return_1"),
            volatility=StdDev(s.volatility_length, "return_1"),
        )

    def feature_definitions(self) -> dict[str, str]:
        """The two measures and what they are computed from."""
        described = self._indicators().describe()
        return {
            **described,
            "trend_strength": f"drift / (noise * sqrt({self.settings.trend_length}))",
        }

    @property
    def warmup(self) -> int:
        """Bars until both measures are defined."""
        return self._indicators().warmup

    @property
    def trained(self) -> bool:
        """Whether the thresholds are known."""
        return self.trend_threshold is not None and self.volatility_threshold is not None

    def measures(self, data: BarSeries) -> tuple[FloatArray, FloatArray]:
        """Trend strength and volatility of each bar (NaN during warm-up, or where not finite)."""
        values = self._indicators().compute(bar_columns(data))
        with np.errstate(invalid="ignore", divide="ignore"):
            strength = values["drift"] / (values["noise"] * math.sqrt(self.settings.trend_length))
        volatility = values["volatility"].copy()
        strength[~np.isfinite(strength)] = np.nan
        volatility[~np.isfinite(volatility)] = np.nan
        return strength, volatility

    def fit(self, data: BarSeries, horizon: int) -> dict[str, Any]:
        """Learn the two thresholds from ``data``; returns regime shares and forward statistics per regime."""
        self.check_training_input(data, horizon, 100)
        strength, volatility = self.measures(data)
        known = ~np.isnan(strength) & ~np.isnan(volatility)
        if np.count_nonzero(known) < 100:
            raise DataError(
                f"{self.name}: only {np.count_nonzero(known)} bars of {data.source or 'the data'} have both "
                "measures defined; at least 100 are needed",
                hint="choose a longer --window or check the data for holes (NaN prices)",
            )
        self.trend_threshold = float(np.quantile(np.abs(strength[known]), self.settings.trend_quantile))
        self.volatility_threshold = float(np.quantile(volatility[known], self.settings.volatility_quantile))
        labels = self.predict(data)
        metrics: dict[str, Any] = {
            "samples": int(np.count_nonzero(known)),
            "trend_threshold": self.trend_threshold,
            "volatility_threshold": self.volatility_threshold,
        }
        metrics.update(self._forward_statistics(np.asarray(data.close, dtype=np.float64), labels, horizon))
        self.record_training(data, horizon, metrics)
        return metrics

    def predict(self, data: BarSeries) -> FloatArray:
        """The :class:`Regime` of each bar, as a float, from bars up to it; NaN during warm-up."""
        if self.trend_threshold is None or self.volatility_threshold is None:
            raise RuntimeError(f"model {self.name} is not trained: call fit() or load() first")
        strength, volatility = self.measures(data)
        labels = np.full(len(data), float(Regime.RANGE))
        labels[strength > self.trend_threshold] = float(Regime.UPTREND)
        labels[strength < -self.trend_threshold] = float(Regime.DOWNTREND)
        labels[volatility > self.volatility_threshold] = float(Regime.HIGH_VOLATILITY)
        labels[np.isnan(strength) | np.isnan(volatility)] = np.nan
        return labels

    def score(self, data: BarSeries, predictions: NDArray[np.float64], horizon: int) -> dict[str, float]:
        """How the labels of out-of-sample bars turned out.

        The share of bars in each regime; ``volatility_ratio``: the standard
        deviation of the ``horizon``-bar forward return in ``high_volatility``
        over that in the other regimes (above 1 when high volatility goes on);
        ``trend_hit_rate``: the share of trend bars whose forward return has
        the trend's sign (0.5 is a coin).
        """
        close = np.asarray(data.close, dtype=np.float64)
        forward = _forward_returns(close, horizon)
        known = ~np.isnan(predictions)
        scores: dict[str, float] = {"bars": float(np.count_nonzero(known))}
        for regime in Regime:
            share = np.count_nonzero(predictions[known] == regime) / max(1, int(np.count_nonzero(known)))
            scores[f"{REGIME_NAMES[regime]}_share"] = float(share)
        outcome = known & ~np.isnan(forward)
        wild = outcome & (predictions == Regime.HIGH_VOLATILITY)
        calm = outcome & (predictions != Regime.HIGH_VOLATILITY)
        if np.count_nonzero(wild) > 1 and np.count_nonzero(calm) > 1 and forward[calm].std() > 0:
            scores["volatility_ratio"] = float(forward[wild].std() / forward[calm].std())
        else:
            scores["volatility_ratio"] = float("nan")
        up = outcome & (predictions == Regime.UPTREND)
        down = outcome & (predictions == Regime.DOWNTREND)
        trend_bars = np.count_nonzero(up) + np.count_nonzero(down)
        hits = np.count_nonzero(forward[up] > 0) + np.count_nonzero(forward[down] < 0)
        scores["trend_hit_rate"] = float(hits / trend_bars) if trend_bars else float("nan")
        return scores

    def _forward_statistics(self, close: FloatArray, labels: FloatArray, horizon: int) -> dict[str, Any]:
        forward = _forward_returns(close, horizon)
        known = ~np.isnan(labels)
        statistics: dict[str, Any] = {}
        for regime in Regime:
            name = REGIME_NAMES[regime]
            chosen = known & (labels == regime) & ~np.isnan(forward)
            count = int(np.count_nonzero(chosen))
            statistics[f"{name}_share"] = count / max(1, int(np.count_nonzero(known)))
            statistics[f"{name}_forward_mean"] = float(forward[chosen].mean()) if count else None
            statistics[f"{name}_forward_std"] = float(forward[chosen].std()) if count > 1 else None
        return statistics

    def payload(self) -> dict[str, bytes]:
        """``parameters.json``: the two thresholds."""
        parameters = {"trend_threshold": self.trend_threshold, "volatility_threshold": self.volatility_threshold}
        return {"parameters.json": json.dumps(parameters, allow_nan=False).encode()}

    def restore(self, payload: dict[str, bytes]) -> None:
        """Read the thresholds back; both must be finite and not negative."""
        parameters = json.loads(payload["parameters.json"])
        trend, volatility = float(parameters["trend_threshold"]), float(parameters["volatility_threshold"])
        if not (math.isfinite(trend) and math.isfinite(volatility)) or trend < 0 or volatility < 0:
            raise ValueError("parameters.json holds a negative or infinite threshold")
        self.trend_threshold, self.volatility_threshold = trend, volatility


def _forward_returns(close: FloatArray, horizon: int) -> FloatArray:
    """``close[t + horizon] / close[t] - 1`` at each bar; NaN for the last ``horizon``."""
    forward = np.full(len(close), np.nan)
    if len(close) > horizon:
        forward[:-horizon] = close[horizon:] / close[:-horizon] - 1.0
    return forward
