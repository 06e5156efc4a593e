"""What the models of this distribution share: training records, artifacts, and the checks on loading.

A subclass states its :attr:`~TrainedModel.kind_name` (written into the
artifact), the libraries its predictions depend on, its feature definitions
and warm-up, and how its fitted numbers become payload files and back
(:meth:`~TrainedModel.payload`, :meth:`~TrainedModel.restore`). This class
writes the metadata, saves, reads and refuses: an artifact of another model
kind, another feature set, another major version of a library the model
predicts with, or damaged numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import ValidationError

from tradekit.errors import DataError
from tradekit.plugin import Model, PluginSettings
from tradekit_ml.artifact import (
    RETRAIN_HINT,
    ArtifactError,
    data_hash,
    json_safe,
    library_versions,
    major,
    read_artifact,
    write_artifact,
)

if TYPE_CHECKING:
    from tradekit.domain.bars import BarSeries


class TrainedModel(Model):
    """Base of the models here: metadata, artifacts and their checks.

    Required of a subclass: :attr:`kind_name`, :attr:`default_name`,
    :meth:`feature_definitions`, :attr:`warmup`, :attr:`trained`,
    :meth:`payload`, :meth:`restore`, and the :class:`~tradekit.plugin.Model`
    methods :meth:`fit` and :meth:`predict`.
    """

    #: The model kind an artifact records; an artifact of another kind is refused by :meth:`load`.
    kind_name: ClassVar[str] = ""
    #: The name a model gets when none is given: its entry-point name.
    default_name: ClassVar[str] = ""
    #: Distributions whose major version must match the artifact's for its predictions to hold.
    predicts_with: ClassVar[tuple[str, ...]] = ()
    #: Distributions whose versions the metadata records.
    records: ClassVar[tuple[str, ...]] = ("numpy", "tradekit", "tradekit-ml")

    def __init__(self, settings: PluginSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name or self.default_name or None)
        self.horizon: int | None = None

    # -- what a subclass states ----------------------------------------------------------------------

    def feature_definitions(self) -> dict[str, str]:
        """The name and exact definition of every feature the model reads (helpers included)."""
        raise NotImplementedError

    @property
    def warmup(self) -> int:
        """Bars of history needed before a bar's prediction is defined."""
        raise NotImplementedError

    @property
    def trained(self) -> bool:
        """Whether :meth:`fit` or :meth:`load` gave the model its numbers."""
        raise NotImplementedError

    def payload(self) -> dict[str, bytes]:
        """The fitted numbers as files of the artifact (JSON or the library's own text format)."""
        raise NotImplementedError

    def restore(self, payload: dict[str, bytes]) -> None:
        """Take the numbers back from :meth:`payload`'s files; raise ValueError if they do not fit."""
        raise NotImplementedError

    # -- training records ------------------------------------------------------------------------------

    def check_training_input(self, data: BarSeries, horizon: int, minimum_samples: int) -> None:
        """Refuse a horizon below 1, or too few bars to leave ``minimum_samples`` after warm-up and horizon."""
        if horizon < 1:
            raise DataError(f"horizon must be at least 1 bar, was {horizon}")
        needed = self.warmup + horizon + minimum_samples
        if len(data) < needed:
            raise DataError(
                f"{self.name} needs at least {needed:,} bars to train with horizon {horizon} "
                f"({self.warmup} of warm-up, {horizon} of horizon, {minimum_samples} to learn from); "
                f"{data.source or 'the data'} has {len(data):,} in the chosen window",
                hint="choose a longer --window, a shorter --horizon, or more data",
            )

    def record_training(self, data: BarSeries, horizon: int, metrics: dict[str, Any], **extra: Any) -> None:
        """Fill :attr:`metadata` after a fit on ``data``."""
        self.horizon = horizon
        source = Path(data.source).name if data.source else ""
        self.metadata = json_safe(
            {
                "model": self.name,
                "kind": self.kind_name,
                "settings": self.settings.model_dump(mode="json"),
                "features": self.feature_definitions(),
                "warmup": self.warmup,
                "horizon": horizon,
                "symbol": data.symbol,
                "timeframe": data.timeframe,
                "data": {
                    "source": source,
                    "bars": len(data),
                    "first_bar": data.datetime_at(0).isoformat(),
                    "last_bar": data.datetime_at(len(data) - 1).isoformat(),
                    "sha256": data_hash(data),
                },
                "libraries": library_versions(self.records + self.predicts_with),
                "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "metrics": metrics,
                **extra,
            }
        )

    # -- artifacts ------------------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the model and :attr:`metadata` to ``path`` (one file; see :mod:`tradekit_ml.artifact`)."""
        if not self.trained:
            raise RuntimeError(f"model {self.name} is not trained: there is nothing to save")
        write_artifact(Path(path), self.metadata, self.payload())

    @classmethod
    def read_metadata(cls, path: Path) -> dict[str, Any] | None:
        """The metadata of an artifact of this model kind; None for any other file."""
        artifact = read_artifact(Path(path), payload=False)
        if artifact is None or artifact.metadata.get("kind") != cls.kind_name:
            return None
        return artifact.metadata

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a model written by :meth:`save`; refuse one of another kind, feature set or library version."""
        path = Path(path)
        artifact = read_artifact(path)
        if artifact is None:
            raise ArtifactError(
                f"{path} is not a tradekit-ml model artifact (a zip file with a metadata.json of format "
                "tradekit-ml/...)",
                hint="pass the file written by `tradekit model train` (see `tradekit model info FILE`)",
            )
        described = artifact.metadata
        if described["kind"] != cls.kind_name:
            raise ArtifactError(
                f"model artifact {path} holds a {described['kind']!r} model ({described['model']}), "
                f"not a {cls.kind_name!r} one",
                hint=f"load it with the model it names: {described['model']}",
            )
        try:
            settings = cls.Settings.model_validate(described["settings"])
        except ValidationError as error:
            raise ArtifactError(
                f"model artifact {path} has settings this version of {cls.kind_name} refuses: "
                f"{error.errors()[0]['loc']}: {error.errors()[0]['msg']}",
                hint=RETRAIN_HINT,
            ) from None
        model = cls(settings, name=described["model"])
        model.check_compatible(path, described)
        try:
            model.restore(artifact.payload)
        except (ValueError, KeyError, TypeError) as error:
            raise ArtifactError(f"model artifact {path} is damaged: {error}; {RETRAIN_HINT}") from None
        horizon = described.get("horizon")
        model.horizon = horizon if isinstance(horizon, int) else None
        model.metadata = described
        return model

    def check_compatible(self, path: Path, described: dict[str, Any]) -> None:
        """Refuse an artifact trained on other features, or with another major version of a library it needs."""
        theirs: dict[str, str] = described["features"]
        ours = self.feature_definitions()
        if theirs != ours:
            differing = sorted(name for name in set(theirs) | set(ours) if theirs.get(name) != ours.get(name))
            shown = "; ".join(
                f"{name}: artifact {theirs.get(name, '(absent)')}, here {ours.get(name, '(absent)')}"
                for name in differing[:3]
            )
            more = f" (and {len(differing) - 3} more)" if len(differing) > 3 else ""
            raise ArtifactError(
                f"model artifact {path} was trained on another feature set than this tradekit-ml computes: "
                f"{shown}{more}",
                hint=RETRAIN_HINT,
            )
        libraries = described.get("libraries")
        recorded = libraries if isinstance(libraries, dict) else {}
        installed = library_versions(self.predicts_with)
        for library in self.predicts_with:
            written = str(recorded.get(library, "unknown"))
            if major(written) != major(installed[library]):
                raise ArtifactError(
                    f"model artifact {path} was written with {library} {written}; {installed[library]} is "
                    f"installed, another major version, whose predictions may differ",
                    hint=f"install {library}=={written}, or {RETRAIN_HINT}",
                )
