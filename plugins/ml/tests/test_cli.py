"""The models as a user meets them: ``tradekit model train``, ``tradekit model info``, ``ml_signal`` backtests.

The end-to-end runs start the installed ``tradekit`` command in a fresh
process, in an empty folder, on the real hourly BTC/USDT file; the refusals
run in-process (``tk_cli``), with the command's own error handling.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tradekit.testing.cli import TradekitCli


def tradekit(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``tradekit ARGS`` in a new process in ``folder``."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TRADEKIT_")}
    environment["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "tradekit.cli.main", *args],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("model", ["logreg", pytest.param("gbm", marks=pytest.mark.slow)])
def test_a_classifier_trains_walk_forward_on_real_bars_and_ml_signal_backtests_it_after_them(
    model: str, btc_path: Path, tmp_path: Path
) -> None:
    trained = tradekit(
        tmp_path,
        *("model", "train", "--model", model, "--data", str(btc_path), "--to", "2023-01-01"),
        *("--window", "180d", "--horizon", "4", "--folds", "3"),
    )
    assert trained.returncode == 0, trained.stderr
    out = trained.stdout
    assert f"{model} on BTC/USDT 1h" in out and "window 180d, horizon 4 bars, 3 walk-forward folds of 45d" in out
    assert "each fold fit on the 180d before it, tested on the next 45d" in out
    for header in ("accuracy", "precision", "recall", "up", "signal", "hold", "trades"):
        assert header in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1] in "123" and "2022-" in line]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    assert rows[-1][2] == "2022-12-31"  # the last test window ends with the last bar before --to
    assert "mean" in out
    artifact = tmp_path / "models" / f"{model}-BTC_USDT-1h-180d-h4.tkmodel"
    assert f"artifact: models/{model}-BTC_USDT-1h-180d-h4.tkmodel" in out and artifact.is_file()

    described = tradekit(tmp_path, "model", "info", str(artifact), "--json")
    assert described.returncode == 0, described.stderr
    info = json.loads(described.stdout)
    assert info["read_by"] == model and info["loads"] is True
    metadata = info["metadata"]
    assert metadata["window"] == "180d" and metadata["horizon"] == 4 and metadata["symbol"] == "BTC/USDT"
    assert metadata["data"]["last_bar"] == "2022-12-31T23:00:00+00:00"
    assert len(metadata["walk_forward"]["folds"]) == 3 and metadata["walk_forward"]["test_window"] == "45d"

    tested = tradekit(
        tmp_path,
        *("backtest", "--strategy", "ml_signal", "--param", f"model={artifact}", "--data", str(btc_path)),
        *("--from", "2023-01-01", "--to", "2023-04-01", "--no-files", "--json"),
    )
    assert tested.returncode == 0, tested.stderr
    assert "in sample" not in tested.stderr  # the bars tested come after the bars trained on
    report = json.loads(tested.stdout)
    assert report["strategy"] == "ml_signal" and report["orders"] > 0


def test_the_regime_model_trains_on_all_history_and_describes_itself(btc_path: Path, tmp_path: Path) -> None:
    trained = tradekit(
        tmp_path,
        *("model", "train", "-m", "regime", "--data", str(btc_path), "--window", "all", "--horizon", "24"),
        *("--folds", "4", "-o", "regime.tkmodel", "--json"),
    )
    assert trained.returncode == 0, trained.stderr
    result = json.loads(trained.stdout)
    assert [fold["fold"] for fold in result["folds"]] == [1, 2, 3, 4]
    assert all(fold["train_from"] == "2017-08-17T04:00:00+00:00" for fold in result["folds"])
    assert {"range_share", "high_volatility_share", "volatility_ratio", "trend_hit_rate"} <= set(result["mean"])
    described = tradekit(tmp_path, "model", "info", "regime.tkmodel")
    assert described.returncode == 0, described.stderr
    assert "regime.tkmodel: a model artifact of regime" in described.stdout
    assert "walk-forward: window all" in described.stdout
    assert "loads with this installation: yes" in described.stdout


def test_a_damaged_artifact_is_refused_by_info_and_by_a_backtest_without_a_traceback(
    tk_cli: TradekitCli, tmp_path: Path, artifacts: dict[str, Path]
) -> None:
    damaged = tmp_path / "damaged.tkmodel"
    data = artifacts["gbm"].read_bytes()
    damaged.write_bytes(data[: len(data) // 3])
    info = tk_cli("model", "info", str(damaged))
    assert info.exit_code == 2
    assert "damaged.tkmodel is damaged (not a readable zip archive" in info.stderr
    tested = tk_cli("backtest", "--strategy", "ml_signal", "--param", f"model={damaged}", "--no-files")
    assert tested.exit_code == 2
    assert "error: model artifact" in tested.stderr and "is damaged" in tested.stderr
    assert "Traceback" not in info.output + tested.output and info.exception is None and tested.exception is None


def test_a_mismatched_artifact_is_described_and_then_refused_with_the_reason(
    tk_cli: TradekitCli, tmp_path: Path, artifacts: dict[str, Path]
) -> None:
    with zipfile.ZipFile(artifacts["gbm"]) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    metadata = json.loads(members["metadata.json"])
    metadata["libraries"]["lightgbm"] = "3.3.5"
    members["metadata.json"] = json.dumps(metadata).encode()
    old = tmp_path / "old.tkmodel"
    with zipfile.ZipFile(old, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    info = tk_cli("model", "info", str(old))
    assert info.exit_code == 2
    assert "a model artifact of gbm" in info.stdout and "loads with this installation: no" in info.stdout
    assert "was written with lightgbm 3.3.5" in info.stderr and "install lightgbm==3.3.5" in info.stderr
    tested = tk_cli("backtest", "--strategy", "ml_signal", "--param", f"model={old}", "--no-files")
    assert tested.exit_code == 2 and "was written with lightgbm 3.3.5" in tested.stderr


def test_a_file_that_is_no_models_artifact_is_named_so(tk_cli: TradekitCli, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("a shopping list")
    done = tk_cli("model", "info", str(notes))
    assert done.exit_code == 2
    assert "is not a model artifact any installed model plugin reads (asked: " in done.stderr
    assert "gbm" in done.stderr and "logreg" in done.stderr and "regime" in done.stderr


def test_training_choices_that_cannot_work_are_refused_with_what_to_do(tk_cli: TradekitCli, btc_path: Path) -> None:
    unknown = tk_cli("model", "train", "--model", "xgboost", "--data", str(btc_path))
    assert unknown.exit_code == 2 and "unknown model 'xgboost'" in unknown.stderr and "gbm" in unknown.stderr
    long = tk_cli("model", "train", "--model", "gbm", "--data", str(btc_path), "--window", "10y")
    assert long.exit_code == 2
    assert "a training window of 10y and a test window of 912d need at least" in long.stderr
    assert "choose a shorter --window" in long.stderr
    odd = tk_cli("model", "train", "--model", "gbm", "--data", str(btc_path), "--window", "3 months")
    assert odd.exit_code == 2 and "--window '3 months' is not a length of history: 30d, 90d" in odd.stderr
    setting = tk_cli("model", "train", "--model", "gbm", "--data", str(btc_path), "--param", "treez=10")
    assert setting.exit_code == 2 and "plugins.model.gbm.treez" in setting.stderr
    folds = tk_cli("model", "train", "--model", "gbm", "--data", str(btc_path), "--folds", "none")
    assert folds.exit_code == 2 and "--folds 'none' must be a whole number" in folds.stderr
    for result in (unknown, long, odd, setting, folds):
        assert result.exception is None and "Traceback" not in result.output


def test_a_model_setting_given_on_the_command_line_reaches_the_saved_model(tk_cli: TradekitCli, btc_path: Path) -> None:
    done = tk_cli(
        *("model", "train", "-m", "gbm", "--data", str(btc_path), "--from", "2022-01-01", "--to", "2022-07-01"),
        *("--window", "90d", "--folds", "1", "-p", "trees=25", "-p", "leaves=7", "-o", "small.tkmodel", "--json"),
    )
    assert done.exit_code == 0, done.output
    info = tk_cli("model", "info", "small.tkmodel", "--json")
    settings = json.loads(info.stdout)["metadata"]["settings"]
    assert settings["trees"] == 25 and settings["leaves"] == 7


def test_the_model_command_imports_no_model_library_until_it_runs() -> None:
    code = (
        "import sys, tradekit.cli.main, tradekit.cli.model_cmd; "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tradekit_ml', 'sklearn', 'lightgbm')); "
        "print(loaded)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
