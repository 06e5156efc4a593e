"""``ModelConformance``: what every model plugin must do: one honest prediction per bar, reproducibly."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from tradekit.plugin import Model
from tradekit.testing.conformance.base import PluginConformance, rule, violated

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tradekit.domain.bars import BarSeries


class ModelConformance(PluginConformance):
    """The rules every model follows.

    Set :attr:`plugin` and :attr:`settings`; optionally ``horizon`` (bars ahead it is fit to
    predict, default 1), ``timeframe`` (default ``"1h"``), ``bar_count`` (default 1500),
    ``market`` (as in :class:`StrategyConformance`), ``fit_fraction`` (the share of the bars it
    is fit on, default 0.6), ``cut_points`` (default 3), ``bars(self) -> BarSeries`` and
    ``make_model(self)``.

    Rules: ``model.shape``, ``model.deterministic``, ``model.no-lookahead``, ``model.save-load``,
    ``model.settings-validated``.
    """

    kind = "model"
    plugin: ClassVar[type[Model]]
    horizon: ClassVar[int] = 1
    timeframe: ClassVar[str] = "1h"
    bar_count: ClassVar[int] = 1_500
    market: ClassVar[str] = "auto"
    fit_fraction: ClassVar[float] = 0.6
    cut_points: ClassVar[int] = 3

    def make_model(self) -> Model:
        """A fresh, untrained model with :attr:`settings`."""
        return self.plugin(self.plugin_settings(), name=self.plugin_name)

    def bars(self) -> BarSeries:
        """The bars the model is fit on (the first ``fit_fraction``) and predicts on (all)."""
        from tradekit.testing.bars import conformance_market

        return conformance_market(("BTC/USDT",), timeframe=self.timeframe, bars=self.bar_count, market=self.market)[
            "BTC/USDT"
        ]

    def _fitted(self, data: BarSeries) -> Model:
        model = self.make_model()
        model.fit(data.slice(0, int(len(data) * self.fit_fraction)), self.horizon)
        return model

    @staticmethod
    def _where(data: BarSeries) -> str:
        return f"{len(data)} {data.timeframe} bars from {data.source or 'unnamed data'}"

    @staticmethod
    def _first_mismatch(a: NDArray[np.float64], b: NDArray[np.float64]) -> int | None:
        same = np.isclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True)
        wrong = np.flatnonzero(~same)
        return int(wrong[0]) if len(wrong) else None

    def _predict(self, model: Model, data: BarSeries, rule_id: str) -> NDArray[np.float64]:
        predictions = model.predict(data)
        if not isinstance(predictions, np.ndarray):
            violated(rule_id, f"predict() returned a {type(predictions).__name__}; return a numpy array")
        if predictions.shape != (len(data),):
            violated(rule_id, f"predict() on {len(data)} bars returned shape {predictions.shape}; one value per bar")
        if not np.issubdtype(predictions.dtype, np.floating):
            violated(rule_id, f"predict() returned {predictions.dtype} values; predictions are floats")
        return predictions.astype(np.float64, copy=False)

    @rule("model.shape")
    def test_shape(self) -> None:
        """fit() returns its metrics as a dict; predict() gives one float per bar."""
        data = self.bars()
        model = self.make_model()
        metrics = model.fit(data.slice(0, int(len(data) * self.fit_fraction)), self.horizon)
        if not isinstance(metrics, dict):
            violated("model.shape", f"fit() returned {metrics!r}; return its metrics as a dict")
        self._predict(model, data, "model.shape")

    @rule("model.deterministic")
    def test_deterministic(self) -> None:
        """Two models fit on the same bars predict exactly alike."""
        data = self.bars()
        first = self._predict(self._fitted(data), data, "model.deterministic")
        second = self._predict(self._fitted(data), data, "model.deterministic")
        if not np.array_equal(first, second, equal_nan=True):
            at = self._first_mismatch(first, second)
            violated(
                "model.deterministic",
                f"two fits on the same {self._where(data)} predict differently"
                + (f", first at bar {at}: {float(first[at])!r} vs {float(second[at])!r}" if at is not None else "")
                + ". Seed every random source from the settings",
            )

    @rule("model.no-lookahead")
    def test_no_lookahead(self) -> None:
        """The prediction at bar t does not change when only bars after t change."""
        from tradekit.testing.bars import mirror_after

        data = self.bars()
        model = self._fitted(data)
        base = self._predict(model, data, "model.no-lookahead")
        for k in range(self.cut_points):
            cut = len(data) * (k + 1) // (self.cut_points + 1)
            altered = self._predict(model, mirror_after(data, cut), "model.no-lookahead")
            at = self._first_mismatch(base[: cut + 1], altered[: cut + 1])
            if at is not None:
                violated(
                    "model.no-lookahead",
                    f"the prediction at bar {at} changed from {float(base[at])!r} to {float(altered[at])!r} when "
                    f"only bars after bar {cut} were altered (prices mirrored around its close) on "
                    f"{self._where(data)}: a prediction may use bars up to its own only",
                )

    @rule("model.save-load")
    def test_save_load(self) -> None:
        """A model saved and loaded back predicts exactly as before."""
        data = self.bars()
        model = self._fitted(data)
        before = self._predict(model, data, "model.save-load")
        path = self.workdir / "model-artifact"
        model.save(path)
        loaded = self.plugin.load(path)
        if not isinstance(loaded, self.plugin):
            violated(
                "model.save-load", f"{self.plugin.__name__}.load() returned {loaded!r}, not a {self.plugin.__name__}"
            )
        after = self._predict(loaded, data, "model.save-load")
        if not np.array_equal(before, after, equal_nan=True):
            at = self._first_mismatch(before, after)
            violated(
                "model.save-load",
                "after save() and load() the predictions differ"
                + (f", first at bar {at}: {float(before[at])!r} vs {float(after[at])!r}" if at is not None else ""),
            )

    @rule("model.settings-validated")
    def test_settings_validated(self) -> None:
        """Unknown settings are refused, naming the key; the plugin keeps its name and settings."""
        self.check_settings("model.settings-validated")
