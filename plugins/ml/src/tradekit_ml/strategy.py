"""``ml_signal``: trade a model's predicted probability, long only, with an entry and an exit threshold.

``tradekit backtest --strategy ml_signal --param model=models/gbm.tkmodel`` runs
it on the model ``tradekit model train`` saved. The artifact is loaded when
the strategy is created, before anything runs, so a missing, damaged or
mismatched file stops the command with its message.

A backtest predicts once over the whole series (:meth:`MlSignal.prepare`);
a live run predicts each new bar from the last :attr:`MlSignal.warmup` bars
of its history. The features are window indicators, so both give the same
probability for the same bar, bit for bit, and the live run trades as the
backtest did.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field, field_validator, model_validator

from tradekit.domain.orders import OrderIntent, OrderType, Side
from tradekit.hookspecs import hookimpl
from tradekit.money import to_decimal
from tradekit.plugin import Model, PluginSettings, Strategy, StrategyContext
from tradekit_ml.artifact import ArtifactError, read_artifact
from tradekit_ml.regime import REGIME_NAMES, Regime

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tradekit.control import RunControl
    from tradekit.domain.bars import BarSeries
    from tradekit.domain.run import RunInfo
    from tradekit.indicators import FloatArray


class MlSignalSettings(PluginSettings):
    """Parameters of ``ml_signal``."""

    model: Path = Field(description="The model artifact to trade on, as written by `tradekit model train`.")
    model_plugin: str | None = Field(
        default=None,
        description="The model plugin that reads the artifact; by default the one a tradekit-ml artifact names. "
        "Needed for another plugin's artifacts.",
    )
    enter_above: float = Field(
        default=0.55, description="Enter (a market buy) while flat when the predicted probability is above this."
    )
    exit_below: float = Field(
        default=0.45, description="Exit the whole position when the predicted probability is below this."
    )
    regime_model: Path | None = Field(
        default=None, description="A `regime` model artifact; when set, entries are taken only in enter_regimes."
    )
    enter_regimes: tuple[str, ...] = Field(
        default=("uptrend", "range"),
        description=f"Regimes in which entries are allowed (of {', '.join(REGIME_NAMES.values())}); exits "
        "are always taken.",
    )
    quantity: Decimal | None = Field(
        default=None, gt=0, description="Fixed quantity to buy on entry; when unset, `fraction` of cash."
    )
    fraction: Decimal = Field(
        default=Decimal("0.95"),
        gt=0,
        le=Decimal("0.99"),
        description="Share of free cash spent on entry when no quantity is set (at most 0.99: fees need room).",
    )

    @field_validator("enter_regimes")
    @classmethod
    def _known_regimes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = set(REGIME_NAMES.values())
        unknown = [name for name in value if name not in known]
        if unknown:
            raise ValueError(f"unknown regime {', '.join(unknown)}; regimes: {', '.join(REGIME_NAMES.values())}")
        return value

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> MlSignalSettings:
        if not (math.isfinite(self.enter_above) and math.isfinite(self.exit_below)):
            raise ValueError("enter_above and exit_below must be finite numbers")
        if self.exit_below > self.enter_above:
            raise ValueError(
                f"exit_below ({self.exit_below}) must not be above enter_above ({self.enter_above}): a position "
                "would be entered and left on the same bar"
            )
        return self


def load_model(path: Path, plugin: str | None = None) -> Model:
    """Load the artifact at ``path`` with the model plugin that reads it (found through the registry).

    ``plugin`` names it; by default it is the model a tradekit-ml artifact
    records. Raises a user error for a file that is missing, damaged, of an
    unknown model or mismatched (:class:`~tradekit_ml.artifact.ArtifactError`).
    """
    from tradekit.registry import Registry

    registry = Registry()
    if plugin is None:
        artifact = read_artifact(Path(path), payload=False)
        if artifact is None:
            raise ArtifactError(
                f"{path} is not a tradekit-ml model artifact",
                hint="pass the file `tradekit model train` wrote, or name the plugin that reads it: "
                "--param model_plugin=NAME",
            )
        installed = registry.names("model")
        named = [str(artifact.metadata[key]) for key in ("model", "kind")]
        plugin = next((name for name in named if name in installed), named[0])
    model_class = registry.load_class("model", plugin)
    # The registry hands out only subclasses of the kind's base class.
    assert issubclass(model_class, Model)
    return model_class.load(Path(path))


class MlSignal(Strategy):
    """Long-only on the first symbol, on a model's probability that the price will rise.

    Trades on the close. ``p`` is the model's prediction for the current bar
    (for the direction classifiers: the probability that the close is higher
    ``horizon`` bars later).

    * Enters (a market buy) while flat when ``p > enter_above`` and, if a
      ``regime_model`` is set, the bar's regime is one of ``enter_regimes``.
    * Exits the whole position (a reduce-only market sell) when
      ``p < exit_below``.

    No decision is taken before the model's warm-up (while ``p`` is undefined).
    """

    Settings = MlSignalSettings
    settings: MlSignalSettings

    def __init__(self, settings: PluginSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self.model = load_model(self.settings.model, self.settings.model_plugin)
        self.regime: Model | None = None
        if self.settings.regime_model is not None:
            self.regime = load_model(self.settings.regime_model)
            if self.regime.metadata.get("kind") != "regime":
                raise ArtifactError(
                    f"regime_model {self.settings.regime_model} holds a {self.regime.metadata.get('kind')!r} model, "
                    "not a regime model",
                    hint="train one with: tradekit model train --model regime --data FILE",
                )
        self._allowed_regimes = np.array(
            [float(regime) for regime in Regime if REGIME_NAMES[regime] in self.settings.enter_regimes]
        )
        self._predictions: FloatArray | None = None
        self._allowed: NDArray[np.bool_] | None = None
        self._latest = float("nan")

    # -- what the engine asks ----------------------------------------------------------------------------

    @property
    def warmup(self) -> int:
        """The bars the models need before their first prediction (from their artifacts)."""
        needed = [_model_warmup(self.model)]
        if self.regime is not None:
            needed.append(_model_warmup(self.regime))
        return max(1, *needed)

    def prepare(self, data: dict[str, BarSeries]) -> None:
        """Predict every bar of the first symbol once (each prediction from bars up to it)."""
        series = next(iter(data.values()))
        self._warn_if_in_sample(series)
        self._predictions = np.asarray(self.model.predict(series), dtype=np.float64)
        self._allowed = self._regime_allows(self.regime.predict(series)) if self.regime is not None else None

    def wakeups(self, data: dict[str, BarSeries]) -> NDArray[np.bool_] | None:
        """The bars where an entry or an exit rule holds; on no other bar can :meth:`on_bar` act."""
        if self._predictions is None:
            self.prepare(data)
        assert self._predictions is not None
        enter, leave = self._rules(self._predictions, self._allowed)
        mask: NDArray[np.bool_] = enter | leave
        return mask

    def on_bar(self, ctx: StrategyContext) -> None:
        """Read (or compute) the current bar's prediction, then enter or exit."""
        symbol = ctx.symbols[0]
        if self._predictions is not None:
            probability = self._predictions[ctx.index : ctx.index + 1]
            allowed = self._allowed[ctx.index : ctx.index + 1] if self._allowed is not None else None
        else:
            probability, allowed = self._predict_latest(ctx.history(symbol))
        self._latest = float(probability[0])
        enter, leave = self._rules(probability, allowed)
        if any(order.type is OrderType.MARKET for order in ctx.open_orders(symbol)):
            return
        held = ctx.position(symbol)
        if held == 0 and enter[0]:
            quantity = self._entry_quantity(ctx, symbol)
            if quantity > 0:
                ctx.submit(OrderIntent(symbol=symbol, side=Side.BUY, quantity=quantity, tag=f"{self.name} entry"))
        elif held > 0 and leave[0]:
            ctx.submit(
                OrderIntent(symbol=symbol, side=Side.SELL, quantity=held, reduce_only=True, tag=f"{self.name} exit")
            )

    def status(self) -> dict[str, str] | None:
        """The latest predicted probability, for the live display."""
        return None if math.isnan(self._latest) else {"prediction": f"{self._latest:.3f}"}

    @hookimpl
    def tradekit_run_started(self, run: RunInfo, control: RunControl | None) -> None:
        """Record in the run which model artifacts it trades on: an event, journaled and sent to notifiers."""
        if control is None:
            return
        loaded = [("model", self.settings.model, self.model)]
        if self.regime is not None and self.settings.regime_model is not None:
            loaded.append(("regime_model", self.settings.regime_model, self.regime))
        for role, path, model in loaded:
            summary = _summary(model, path)
            control.model_loaded(model.name, {"role": role, "path": str(path), **model.metadata})
            control.emit(
                "model_loaded",
                f"{self.name} trades on {role} {model.name} from {path} "
                f"(trained {summary.get('first_bar', '?')} to {summary.get('last_bar', '?')})",
                data={"role": role, **summary},
            )

    def _warn_if_in_sample(self, series: BarSeries) -> None:
        """Say so when the backtest's bars overlap the bars the model was trained on: there it knows the answers."""
        trained = self.model.metadata.get("data")
        if not (isinstance(trained, dict) and len(series)):
            return
        try:
            first, last = datetime.fromisoformat(trained["first_bar"]), datetime.fromisoformat(trained["last_bar"])
        except (KeyError, TypeError, ValueError):
            return
        start, end = series.datetime_at(0), series.datetime_at(len(series) - 1)
        if start <= last and first <= end:
            self.log.warning(
                "%s: the backtest's bars (%s to %s) overlap the bars model %s was trained on (%s to %s); results "
                "on those bars are in sample and overstate what it would do: backtest with --from after %s",
                self.name,
                start.isoformat(),
                end.isoformat(),
                self.settings.model,
                first.isoformat(),
                last.isoformat(),
                last.date().isoformat(),
            )

    # -- the rules -----------------------------------------------------------------------------------------------

    def _rules(
        self, probabilities: FloatArray, allowed: NDArray[np.bool_] | None
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """Where the entry and the exit rule hold (as :func:`tradekit_ml.signal.signal_positions` reads them)."""
        enter = probabilities > self.settings.enter_above
        if allowed is not None:
            enter &= allowed
        return enter, probabilities < self.settings.exit_below

    def _regime_allows(self, regimes: FloatArray) -> NDArray[np.bool_]:
        return np.isin(regimes, self._allowed_regimes)

    def _predict_latest(self, history: BarSeries) -> tuple[FloatArray, NDArray[np.bool_] | None]:
        """The prediction (and regime filter) of the newest bar, from the bars its models need only."""
        probability = _latest_prediction(self.model, history)
        allowed = None
        if self.regime is not None:
            allowed = self._regime_allows(_latest_prediction(self.regime, history))
        return probability, allowed

    def _entry_quantity(self, ctx: StrategyContext, symbol: str) -> Decimal:
        """The fixed ``quantity``, or ``fraction`` of free cash at the close; 0 if the venue would refuse it."""
        instrument = ctx.instrument(symbol)
        price = instrument.round_price(to_decimal(ctx.close(symbol)))
        if self.settings.quantity is not None:
            quantity = instrument.round_quantity(self.settings.quantity)
        else:
            quantity = (
                instrument.round_quantity(ctx.cash() * self.settings.fraction / price) if price > 0 else Decimal(0)
            )
        if quantity <= 0 or instrument.quantity_problem(quantity, price) is not None:
            return Decimal(0)
        return quantity


def _model_warmup(model: Model) -> int:
    """The warm-up an artifact records, or 1 when it records none (the model then sees the whole history)."""
    warmup = model.metadata.get("warmup")
    return warmup if isinstance(warmup, int) and warmup > 0 else 1


def _latest_prediction(model: Model, history: BarSeries) -> FloatArray:
    """The model's prediction for the last bar of ``history``, as a one-element array."""
    warmup = model.metadata.get("warmup")
    length = len(history)
    # A model that records its warm-up needs only that many bars; one that does not is given them all.
    tail = history.slice(length - warmup, length) if isinstance(warmup, int) and 0 < warmup <= length else history
    return np.asarray(model.predict(tail)[-1:], dtype=np.float64)


def _summary(model: Model, path: Path) -> dict[str, Any]:
    """What the run records about a loaded artifact (no metrics tables: those stay in the file)."""
    described = model.metadata
    trained = described.get("data")
    data = trained if isinstance(trained, dict) else {}
    return {
        "model": model.name,
        "kind": described.get("kind"),
        "path": str(path),
        "horizon": described.get("horizon"),
        "window": described.get("window"),
        "symbol": described.get("symbol"),
        "timeframe": described.get("timeframe"),
        "first_bar": data.get("first_bar"),
        "last_bar": data.get("last_bar"),
        "data_sha256": data.get("sha256"),
        "libraries": described.get("libraries"),
    }
