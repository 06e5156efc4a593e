"""The artifact a trained model is saved as: one zip file holding its metadata as JSON and its numbers.

Layout (format ``tradekit-ml/1``)::

    metadata.json     what the model is and how it was trained: format, model, kind,
                      settings, features and their definitions, horizon, warm-up,
                      training window, data hash, library versions, metrics
    <payload files>   the model itself, as text: ``parameters.json`` (logistic
                      regression, regime) or ``model.txt`` (LightGBM's own text format)

Nothing in it is executed or unpickled when it is read: JSON and LightGBM's
text format only, so an artifact from someone else cannot run code. The
metadata holds the SHA-256 of every payload file, so damage is found and named
before any number is used.

:func:`read_artifact` returns None for a file that is not an artifact of this
format at all (another plugin's file), and raises :class:`ArtifactError` for
one that is but cannot be used (damaged, or of another format version).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import metadata as distributions
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tradekit.errors import ConfigError

if TYPE_CHECKING:
    from tradekit.domain.bars import BarSeries

#: The format this version writes and reads.
FORMAT = "tradekit-ml/1"
FORMAT_FAMILY = "tradekit-ml/"
METADATA_MEMBER = "metadata.json"
#: The largest member read from an artifact: a model here is kilobytes to a few megabytes.
MAX_MEMBER_BYTES = 256 * 1024 * 1024
_ZIP_MAGIC = b"PK\x03\x04"
RETRAIN_HINT = "retrain it with this installation: tradekit model train --model NAME --data FILE ..."


class ArtifactError(ConfigError):
    """A model artifact that cannot be used: the message names the file, what is wrong, and what to do."""


@dataclass(frozen=True)
class Artifact:
    """What :func:`read_artifact` found: the metadata and the payload files (empty when not asked for)."""

    path: Path
    metadata: dict[str, Any]
    payload: dict[str, bytes] = field(default_factory=dict)


def json_safe(value: Any) -> Any:
    """``value`` with numpy numbers made plain and NaN or infinity made None, so JSON can hold it exactly."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_artifact(path: Path, metadata: dict[str, Any], payload: dict[str, bytes]) -> None:
    """Write ``metadata`` and ``payload`` to ``path`` in one step (a reader never sees half a file)."""
    path = Path(path)
    if METADATA_MEMBER in payload:
        raise ValueError(f"a payload file may not be called {METADATA_MEMBER}")
    described = {
        **metadata,
        "format": FORMAT,
        "payload_sha256": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(payload.items())},
    }
    text = json.dumps(json_safe(described), indent=2, allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as raw, zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(METADATA_MEMBER, text)
            for name, data in sorted(payload.items()):
                archive.writestr(name, data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_artifact(path: Path, *, payload: bool = True) -> Artifact | None:
    """Read the artifact at ``path``; None if it is not one of this format, :class:`ArtifactError` if unusable."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"model artifact {path} does not exist (or is not a file)")
    with path.open("rb") as handle:
        if handle.read(len(_ZIP_MAGIC)) != _ZIP_MAGIC:
            return None
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if METADATA_MEMBER not in names:
                return None
            described = _metadata(path, _member(archive, METADATA_MEMBER, path))
            if described is None:
                return None
            files: dict[str, bytes] = {}
            if payload:
                for name, digest in described["payload_sha256"].items():
                    if name not in names:
                        raise ArtifactError(
                            f"model artifact {path} is damaged: its file {name} is missing; {RETRAIN_HINT}"
                        )
                    data = _member(archive, name, path)
                    if hashlib.sha256(data).hexdigest() != digest:
                        raise ArtifactError(
                            f"model artifact {path} is damaged: {name} does not match the checksum the metadata "
                            f"records; {RETRAIN_HINT}"
                        )
                    files[name] = data
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as error:
        raise ArtifactError(
            f"model artifact {path} is damaged (not a readable zip archive: {error}); {RETRAIN_HINT}"
        ) from None
    return Artifact(path, described, files)


def _member(archive: zipfile.ZipFile, name: str, path: Path) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > MAX_MEMBER_BYTES:
        raise ArtifactError(
            f"model artifact {path}: {name} would unpack to {info.file_size:,} bytes, more than the "
            f"{MAX_MEMBER_BYTES:,} a model may have; it is not a tradekit-ml artifact"
        )
    return archive.read(name)


def _metadata(path: Path, raw: bytes) -> dict[str, Any] | None:
    """The metadata, or None when it belongs to another kind of file; raises when it is ours but unusable."""
    try:
        described = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactError(f"model artifact {path} is damaged: {METADATA_MEMBER} is not JSON ({error})") from None
    if not isinstance(described, dict):
        return None
    found = described.get("format")
    if not isinstance(found, str) or not found.startswith(FORMAT_FAMILY):
        return None
    if found != FORMAT:
        raise ArtifactError(
            f"model artifact {path} is of format {found!r}; this tradekit-ml reads {FORMAT!r}",
            hint=f"install the tradekit-ml that wrote it, or {RETRAIN_HINT}",
        )
    required = {"model": str, "kind": str, "settings": dict, "features": dict, "payload_sha256": dict}
    missing = [key for key, kind in required.items() if not isinstance(described.get(key), kind)]
    if missing:
        raise ArtifactError(
            f"model artifact {path} is damaged: its metadata lacks {', '.join(missing)}; {RETRAIN_HINT}"
        )
    return described


# --- what the metadata records --------------------------------------------------------------------------


def library_versions(names: tuple[str, ...]) -> dict[str, str]:
    """The installed version of each distribution in ``names`` (``"not installed"`` if absent), and Python's."""
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = distributions.version(name)
        except distributions.PackageNotFoundError:
            found[name] = "not installed"
    return found


def major(version: str) -> str:
    """The major part of a version string: ``"4"`` of ``"4.6.0"``."""
    return version.split(".", 1)[0]


def data_hash(data: BarSeries) -> str:
    """SHA-256 of the bars' times and OHLCV values: two trainings on the same bars record the same hash."""
    digest = hashlib.sha256()
    for column in (data.timestamps, data.open, data.high, data.low, data.close, data.volume):
        digest.update(np.ascontiguousarray(column).tobytes())
    return digest.hexdigest()
