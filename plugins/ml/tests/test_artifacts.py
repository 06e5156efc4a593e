"""Artifacts: one zip of JSON and text, read without running anything, and refused with a reason when unusable."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from tradekit_ml.artifact import FORMAT, ArtifactError, read_artifact, write_artifact
from tradekit_ml.classifiers import GradientBoostingDirection, LogisticDirection
from tradekit_ml.regime import RegimeModel


def rewrite(source: Path, target: Path, change: dict[str, object] | None = None, drop: str | None = None) -> Path:
    """A copy of the artifact ``source`` with metadata keys replaced (and a member left out)."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist() if name != drop}
    metadata = json.loads(members["metadata.json"])
    metadata.update(change or {})
    members["metadata.json"] = json.dumps(metadata).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def test_an_artifact_holds_json_metadata_and_a_text_payload_only(artifacts: dict[str, Path]) -> None:
    expected = {"logreg": "parameters.json", "gbm": "model.txt", "regime": "parameters.json"}
    for name, path in artifacts.items():
        with zipfile.ZipFile(path) as archive:
            assert sorted(archive.namelist()) == sorted(["metadata.json", expected[name]])
            metadata = json.loads(archive.read("metadata.json"))
            payload = archive.read(expected[name]).decode()
        assert metadata["format"] == FORMAT and metadata["kind"] == name
        assert not payload.startswith("\x80")  # not a pickle
        if expected[name].endswith(".json"):
            json.loads(payload)
        else:
            assert payload.startswith("tree\n")  # LightGBM's text model


def test_a_truncated_artifact_is_refused_as_damaged(artifacts: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "truncated.tkmodel"
    data = artifacts["gbm"].read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match=r"truncated.tkmodel is damaged \(not a readable zip archive") as caught:
        GradientBoostingDirection.load(broken)
    assert "retrain it with this installation: tradekit model train" in str(caught.value)
    assert caught.value.exit_code == 2


def test_a_payload_changed_after_saving_is_refused_by_its_checksum(artifacts: dict[str, Path], tmp_path: Path) -> None:
    with zipfile.ZipFile(artifacts["logreg"]) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    parameters = json.loads(members["parameters.json"])
    parameters["intercept"] += 1.0
    members["parameters.json"] = json.dumps(parameters).encode()
    tampered = tmp_path / "tampered.tkmodel"
    with zipfile.ZipFile(tampered, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ArtifactError, match=r"parameters\.json does not match the checksum the metadata records"):
        LogisticDirection.load(tampered)


def test_an_artifact_missing_its_payload_or_with_unreadable_metadata_is_refused(
    artifacts: dict[str, Path], tmp_path: Path
) -> None:
    missing = rewrite(artifacts["gbm"], tmp_path / "missing.tkmodel", drop="model.txt")
    with pytest.raises(ArtifactError, match=r"is damaged: its file model\.txt is missing"):
        GradientBoostingDirection.load(missing)
    garbled = tmp_path / "garbled.tkmodel"
    with zipfile.ZipFile(garbled, "w") as archive:
        archive.writestr("metadata.json", "{not json")
    with pytest.raises(ArtifactError, match=r"metadata\.json is not JSON"):
        RegimeModel.load(garbled)


def test_a_file_of_another_kind_is_not_taken_for_an_artifact(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    npz = tmp_path / "ridge.npz"
    with npz.open("wb") as handle:
        np.savez(handle, coefficients=np.zeros(3), metadata=np.array(json.dumps({"format": "ridge/1"})))
    for path in (text, npz):
        assert read_artifact(path) is None
        assert LogisticDirection.read_metadata(path) is None
        with pytest.raises(ArtifactError, match="is not a tradekit-ml model artifact"):
            LogisticDirection.load(path)
    with pytest.raises(ArtifactError, match="does not exist"):
        LogisticDirection.load(tmp_path / "absent.tkmodel")


def test_an_artifact_of_another_model_kind_is_refused_naming_the_model_it_holds(artifacts: dict[str, Path]) -> None:
    assert GradientBoostingDirection.read_metadata(artifacts["logreg"]) is None
    assert LogisticDirection.read_metadata(artifacts["logreg"]) is not None
    with pytest.raises(ArtifactError, match="holds a 'logreg' model \\(logreg\\), not a 'gbm' one") as caught:
        GradientBoostingDirection.load(artifacts["logreg"])
    assert "load it with the model it names: logreg" in str(caught.value)


def test_an_artifact_trained_on_another_feature_set_is_refused_naming_the_difference(
    artifacts: dict[str, Path], tmp_path: Path
) -> None:
    features = json.loads(zipfile.ZipFile(artifacts["logreg"]).read("metadata.json"))["features"]
    features["rsi_14"] = "RelativeStrength(21, close)"
    changed = rewrite(artifacts["logreg"], tmp_path / "other-features.tkmodel", {"features": features})
    with pytest.raises(ArtifactError, match="trained on another feature set") as caught:
        LogisticDirection.load(changed)
    assert "rsi_14: artifact RelativeStrength(21, close), here RelativeStrength(14, close)" in str(caught.value)


def test_an_artifact_written_with_another_major_version_of_lightgbm_is_refused(
    artifacts: dict[str, Path], tmp_path: Path
) -> None:
    libraries = json.loads(zipfile.ZipFile(artifacts["gbm"]).read("metadata.json"))["libraries"]
    older = rewrite(artifacts["gbm"], tmp_path / "old.tkmodel", {"libraries": {**libraries, "lightgbm": "3.3.5"}})
    with pytest.raises(ArtifactError, match=r"written with lightgbm 3\.3\.5; 4\.[\d.]+ is installed") as caught:
        GradientBoostingDirection.load(older)
    assert "install lightgbm==3.3.5" in str(caught.value)
    # Another minor version of the same major loads.
    newer_minor = rewrite(
        artifacts["gbm"], tmp_path / "minor.tkmodel", {"libraries": {**libraries, "lightgbm": "4.0.0"}}
    )
    assert GradientBoostingDirection.load(newer_minor).trained


def test_an_artifact_of_a_newer_format_or_with_refused_settings_is_refused(
    artifacts: dict[str, Path], tmp_path: Path
) -> None:
    newer = rewrite(artifacts["regime"], tmp_path / "newer.tkmodel", {"format": "tradekit-ml/2"})
    with pytest.raises(ArtifactError, match="is of format 'tradekit-ml/2'; this tradekit-ml reads 'tradekit-ml/1'"):
        RegimeModel.load(newer)
    odd = rewrite(artifacts["regime"], tmp_path / "odd.tkmodel", {"settings": {"trend_length": 1}})
    with pytest.raises(ArtifactError, match="has settings this version of regime refuses"):
        RegimeModel.load(odd)


def test_saving_replaces_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "models" / "m.tkmodel"
    write_artifact(target, {"model": "x", "kind": "x", "settings": {}, "features": {}}, {"a.txt": b"1"})
    write_artifact(target, {"model": "y", "kind": "y", "settings": {}, "features": {}}, {"b.txt": b"2"})
    found = read_artifact(target)
    assert found is not None and found.metadata["model"] == "y" and found.payload == {"b.txt": b"2"}
    assert [path.name for path in target.parent.iterdir()] == ["m.tkmodel"]  # no temporary file left behind
