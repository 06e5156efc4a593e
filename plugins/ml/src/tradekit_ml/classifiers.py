"""The direction classifiers: will the close be higher ``horizon`` bars from now?

Both read the feature set of :mod:`tradekit_ml.features` and predict, for each
bar, the probability that ``close[t + horizon] > close[t]``:

* ``logreg`` (:class:`LogisticDirection`): logistic regression on
  standardised features, fit by scikit-learn. The artifact holds the means,
  scales, coefficients and intercept as JSON, and predictions are computed
  from them in numpy (loading it does not import scikit-learn).
* ``gbm`` (:class:`GradientBoostingDirection`): gradient-boosted trees by
  LightGBM, single-threaded and seeded so two fits agree to the bit. The
  artifact holds LightGBM's own text model.

A bar whose features are not all defined (the first :data:`~tradekit_ml.features.WARMUP`
- 1 bars, or a hole in the data) has no prediction: NaN.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from tradekit.errors import DataError
from tradekit.plugin import PluginSettings
from tradekit_ml.base import TrainedModel
from tradekit_ml.features import (
    FEATURES,
    WARMUP,
    complete_rows,
    direction_labels,
    feature_definitions,
    feature_matrix,
)
from tradekit_ml.signal import classification_scores, signal_backtest, signal_positions

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tradekit.domain.bars import BarSeries
    from tradekit.indicators import FloatArray

#: Fewer complete rows than this in a training window is too little to learn anything from.
MINIMUM_SAMPLES = 200


class DirectionSettings(PluginSettings):
    """What every direction classifier takes: how its walk-forward test windows are backtested."""

    backtest_enter_above: float = Field(
        default=0.55,
        gt=0,
        lt=1,
        description="The walk-forward backtest of each test window enters when the probability is above this "
        "(ml_signal's enter_above).",
    )
    backtest_exit_below: float = Field(
        default=0.45,
        gt=0,
        lt=1,
        description="... and exits when it is below this (ml_signal's exit_below).",
    )
    backtest_fee: float = Field(
        default=0.001, ge=0, lt=0.1, description="Fee per side in that backtest, as a fraction (0.001 is 0.1%)."
    )

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> DirectionSettings:
        if self.backtest_exit_below > self.backtest_enter_above:
            raise ValueError(
                f"backtest_exit_below ({self.backtest_exit_below}) must not be above backtest_enter_above "
                f"({self.backtest_enter_above})"
            )
        return self


class DirectionClassifier(TrainedModel):
    """The probability that the close is higher ``horizon`` bars later, from the features of each bar.

    Subclasses fit and apply the classifier itself (:meth:`fit_rows`,
    :meth:`predict_rows`); this class builds the rows and labels, drops the
    incomplete ones, and scores.
    """

    features = FEATURES
    settings: DirectionSettings

    def feature_definitions(self) -> dict[str, str]:
        """The feature set of :mod:`tradekit_ml.features`."""
        return feature_definitions()

    @property
    def warmup(self) -> int:
        """:data:`~tradekit_ml.features.WARMUP` bars."""
        return WARMUP

    def fit_rows(self, rows: FloatArray, labels: FloatArray) -> dict[str, Any]:
        """Fit on complete feature rows and their 0/1 labels; returns what to add to the metrics."""
        raise NotImplementedError

    def predict_rows(self, rows: FloatArray) -> FloatArray:
        """The probability of "up" for each complete feature row, each row on its own."""
        raise NotImplementedError

    def fit(self, data: BarSeries, horizon: int) -> dict[str, Any]:
        """Learn from every bar of ``data`` whose features and label (``horizon`` bars later, in ``data``) are known.

        Returns the in-sample metrics: ``samples``, accuracy, precision,
        recall and ``up_share`` on the training bars, and what the classifier
        adds (coefficients or feature importances).
        """
        self.check_training_input(data, horizon, MINIMUM_SAMPLES)
        matrix = feature_matrix(data)
        labels = direction_labels(np.asarray(data.close, dtype=np.float64), horizon)
        usable = complete_rows(matrix) & ~np.isnan(labels)
        samples = int(np.count_nonzero(usable))
        if samples < MINIMUM_SAMPLES:
            raise DataError(
                f"{self.name}: only {samples} bars of {data.source or 'the data'} have every feature and a known "
                f"outcome {horizon} bars later; at least {MINIMUM_SAMPLES} are needed",
                hint="choose a longer --window or check the data for holes (NaN prices)",
            )
        rows, known = matrix[usable], labels[usable]
        ups = int(known.sum())
        if ups in (0, samples):
            direction = "up" if ups else "down or flat"
            raise DataError(
                f"{self.name}: every one of the {samples} training bars went {direction} {horizon} bars later; "
                "a classifier needs both outcomes",
                hint="choose a longer --window",
            )
        extra = self.fit_rows(rows, known)
        in_sample = classification_scores(self.predict_rows(rows), known)
        metrics = {"samples": samples, **{f"train_{key}": value for key, value in in_sample.items() if key != "bars"}}
        metrics.update(extra)
        self.record_training(data, horizon, metrics)
        return metrics

    def predict(self, data: BarSeries) -> FloatArray:
        """The probability of "up" ``horizon`` bars after each bar, from bars up to it; NaN during warm-up."""
        if not self.trained:
            raise RuntimeError(f"model {self.name} is not trained: call fit() or load() first")
        matrix = feature_matrix(data)
        complete = complete_rows(matrix)
        probabilities = np.full(len(data), np.nan)
        if complete.any():
            probabilities[complete] = self.predict_rows(np.ascontiguousarray(matrix[complete]))
        return probabilities

    def score(self, data: BarSeries, predictions: NDArray[np.float64], horizon: int) -> dict[str, float]:
        """Accuracy, precision, recall and ``up_share`` of the calls, and a backtest of trading on them.

        The backtest is ``ml_signal``'s rule (enter above
        ``backtest_enter_above``, exit below ``backtest_exit_below``) over the
        bars of ``data``, filled at the close, ``backtest_fee`` per side; see
        :func:`tradekit_ml.signal.signal_backtest`.
        """
        close = np.asarray(data.close, dtype=np.float64)
        scores = classification_scores(predictions, direction_labels(close, horizon))
        held = signal_positions(predictions, self.settings.backtest_enter_above, self.settings.backtest_exit_below)
        scores.update(signal_backtest(close, held, self.settings.backtest_fee))
        return scores


# --- logistic regression ------------------------------------------------------------------------------------


class LogisticSettings(DirectionSettings):
    """Settings of ``logreg``."""

    regularization: float = Field(
        default=1.0, gt=0, description="Inverse strength of the L2 penalty (scikit-learn's C): smaller is stronger."
    )
    max_iterations: int = Field(default=1000, ge=10, description="Iterations the solver may take to converge.")


class LogisticDirection(DirectionClassifier):
    """``logreg``: logistic regression of the next ``horizon`` bars' direction on standardised features.

    Standardising uses the training bars' mean and standard deviation of each
    feature. The in-sample metrics include each feature's coefficient (on
    the standardised scale, so their sizes compare).
    """

    Settings = LogisticSettings
    settings: LogisticSettings
    kind_name: ClassVar[str] = "logreg"
    default_name: ClassVar[str] = "logreg"
    records: ClassVar[tuple[str, ...]] = (*TrainedModel.records, "scikit-learn")

    def __init__(self, settings: PluginSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self.mean: FloatArray | None = None
        self.scale: FloatArray | None = None
        self.coefficients: FloatArray | None = None
        self.intercept = 0.0

    @property
    def trained(self) -> bool:
        """Whether the coefficients are known."""
        return self.coefficients is not None

    def fit_rows(self, rows: FloatArray, labels: FloatArray) -> dict[str, Any]:
        """Standardise, then fit scikit-learn's ``LogisticRegression`` (L2, lbfgs)."""
        from sklearn.linear_model import LogisticRegression

        mean = rows.mean(axis=0)
        scale = rows.std(axis=0)
        # A feature that never moved in the window carries no information; scale 1 keeps it at zero.
        scale[scale == 0] = 1.0
        fitted = LogisticRegression(C=self.settings.regularization, max_iter=self.settings.max_iterations)
        fitted.fit((rows - mean) / scale, labels.astype(np.int64))
        self.mean, self.scale = mean, scale
        self.coefficients = np.asarray(fitted.coef_[0], dtype=np.float64)
        self.intercept = float(fitted.intercept_[0])
        return {"coefficients": dict(zip(FEATURES, self.coefficients.tolist(), strict=True))}

    def predict_rows(self, rows: FloatArray) -> FloatArray:
        """The logistic function of the linear score, summed feature by feature in a fixed order.

        Not a matrix product: BLAS may sum in another order for another number
        of rows, and a live run (one row) must get the bits a backtest got.
        """
        assert self.mean is not None and self.scale is not None and self.coefficients is not None
        standardised = (rows - self.mean) / self.scale
        score = np.full(len(rows), self.intercept)
        for column, coefficient in enumerate(self.coefficients):
            score = score + standardised[:, column] * coefficient
        probabilities: FloatArray = 1.0 / (1.0 + np.exp(-score))
        return probabilities

    def payload(self) -> dict[str, bytes]:
        """``parameters.json``: mean, scale, coefficients (by feature order) and intercept."""
        assert self.mean is not None and self.scale is not None and self.coefficients is not None
        parameters = {
            "features": list(FEATURES),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coefficients": self.coefficients.tolist(),
            "intercept": self.intercept,
        }
        return {"parameters.json": json.dumps(parameters, allow_nan=False).encode()}

    def restore(self, payload: dict[str, bytes]) -> None:
        """Read ``parameters.json`` back; every array must have one finite number per feature."""
        parameters = json.loads(payload["parameters.json"])
        if parameters.get("features") != list(FEATURES):
            raise ValueError("parameters.json lists other features than the metadata")
        arrays = {}
        for key in ("mean", "scale", "coefficients"):
            values = np.asarray(parameters[key], dtype=np.float64)
            if values.shape != (len(FEATURES),) or not np.isfinite(values).all():
                raise ValueError(f"parameters.json {key} is not {len(FEATURES)} finite numbers")
            arrays[key] = values
        intercept = float(parameters["intercept"])
        if not np.isfinite(intercept) or (arrays["scale"] == 0).any():
            raise ValueError("parameters.json has an infinite intercept or a zero scale")
        self.mean, self.scale, self.coefficients = arrays["mean"], arrays["scale"], arrays["coefficients"]
        self.intercept = intercept


# --- gradient boosting -----------------------------------------------------------------------------------------


class GradientBoostingSettings(DirectionSettings):
    """Settings of ``gbm``."""

    trees: int = Field(default=200, ge=1, le=10_000, description="Boosting rounds (trees).")
    learning_rate: float = Field(default=0.05, gt=0, le=1, description="Shrinkage of each tree's contribution.")
    leaves: int = Field(default=15, ge=2, le=1024, description="Most leaves per tree.")
    min_leaf_samples: int = Field(
        default=100, ge=1, description="Fewest training bars in a leaf: larger is smoother, less overfit."
    )
    row_sample: float = Field(default=0.8, gt=0, le=1, description="Share of the bars each tree is fit on.")
    feature_sample: float = Field(default=0.8, gt=0, le=1, description="Share of the features each tree may use.")
    seed: int = Field(default=7, ge=0, description="Seed of the row and feature sampling: same seed, same model.")


class GradientBoostingDirection(DirectionClassifier):
    """``gbm``: LightGBM gradient-boosted trees on the features, for the next ``horizon`` bars' direction.

    Fit on one thread with LightGBM's deterministic mode and a fixed seed, so
    the same bars give the same trees. The in-sample metrics include each
    feature's share of the total split gain.
    """

    Settings = GradientBoostingSettings
    settings: GradientBoostingSettings
    kind_name: ClassVar[str] = "gbm"
    default_name: ClassVar[str] = "gbm"
    predicts_with: ClassVar[tuple[str, ...]] = ("lightgbm",)

    def __init__(self, settings: PluginSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self.booster: Any = None

    @property
    def trained(self) -> bool:
        """Whether the trees are known."""
        return self.booster is not None

    def _parameters(self) -> dict[str, Any]:
        s = self.settings
        return {
            "objective": "binary",
            "learning_rate": s.learning_rate,
            "num_leaves": s.leaves,
            "min_data_in_leaf": s.min_leaf_samples,
            "bagging_fraction": s.row_sample,
            "bagging_freq": 1 if s.row_sample < 1 else 0,
            "feature_fraction": s.feature_sample,
            "seed": s.seed,
            "deterministic": True,
            "force_row_wise": True,
            # One thread: the machine's cores are shared, and the result must not depend on how many there are.
            "num_threads": 1,
            "verbose": -1,
        }

    def fit_rows(self, rows: FloatArray, labels: FloatArray) -> dict[str, Any]:
        """Boost ``trees`` rounds with LightGBM's ``train``."""
        import lightgbm

        dataset = lightgbm.Dataset(rows, label=labels, feature_name=list(FEATURES), free_raw_data=True)
        self.booster = lightgbm.train(self._parameters(), dataset, num_boost_round=self.settings.trees)
        gain = np.asarray(self.booster.feature_importance(importance_type="gain"), dtype=np.float64)
        shares = gain / gain.sum() if gain.sum() > 0 else gain
        return {"feature_gain_share": dict(zip(FEATURES, shares.tolist(), strict=True))}

    def predict_rows(self, rows: FloatArray) -> FloatArray:
        """The boosted trees' probability for each row (each row's trees summed on their own)."""
        probabilities = np.asarray(self.booster.predict(rows, num_threads=1), dtype=np.float64)
        return probabilities

    def payload(self) -> dict[str, bytes]:
        """``model.txt``: LightGBM's text model (thresholds written to full precision)."""
        return {"model.txt": self.booster.model_to_string().encode()}

    def restore(self, payload: dict[str, bytes]) -> None:
        """Parse ``model.txt`` with LightGBM; it must read the features of this feature set."""
        import lightgbm

        try:
            booster = lightgbm.Booster(model_str=payload["model.txt"].decode())
        except lightgbm.basic.LightGBMError as error:
            raise ValueError(f"LightGBM cannot read model.txt ({error})") from None
        if booster.feature_name() != list(FEATURES):
            raise ValueError(f"model.txt reads the features {booster.feature_name()}, not this feature set")
        self.booster = booster
