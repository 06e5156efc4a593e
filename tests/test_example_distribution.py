"""A third-party plugin distribution, installed for real, is discovered, listed and used.

The example under examples/tradekit-plugin-example is built and installed
(pip, into a folder of its own put on PYTHONPATH, so the project's environment is
left as it was), then driven through the `tradekit` command like a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "tradekit-plugin-example"


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Install the example distribution with pip; returns the environment that sees it."""
    target = tmp_path_factory.mktemp("example-site")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(EXAMPLE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    assert list(target.glob("tradekit_plugin_example-*.dist-info")), "pip wrote no distribution metadata"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("TRADEKIT_CONFIG", None)
    return env


def tradekit(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the tradekit command in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "tradekit.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=300,
    )


def test_plugins_list_shows_the_installed_example(installed_example: dict[str, str], tmp_path: Path) -> None:
    listed = tradekit(installed_example, tmp_path, "plugins", "list", "--json", "--check")
    assert listed.returncode == 0, listed.stderr
    rows = {(row["kind"], row["name"]): row for row in json.loads(listed.stdout)}
    for key in (("strategy", "channel_breakout"), ("notifier", "jsonl")):
        assert rows[key]["distribution"] == "tradekit-plugin-example"
        assert rows[key]["version"] == "0.1.0"
        assert rows[key]["status"] == "ok"
    table = tradekit(installed_example, tmp_path, "plugins", "list")
    assert "channel_breakout" in table.stdout and "tradekit-plugin-example" in table.stdout


def test_a_backtest_uses_the_example_strategy_and_notifier(installed_example: dict[str, str], tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    (tmp_path / "tradekit.toml").write_text(
        'notifiers = ["jsonl"]\n'
        "[plugins.exchange.paper]\nbars = 5000\n"
        f'[plugins.notifier.jsonl]\npath = "{events.as_posix()}"\n'
        'events = ["order_filled", "run_stopped"]\n'
    )
    result = tradekit(
        installed_example,
        tmp_path,
        "backtest",
        "--strategy",
        "channel_breakout",
        "--param",
        "entry_bars=30",
        "--json",
        "--no-files",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["strategy"] == "channel_breakout"
    assert report["stats"]["trades"] > 0
    kinds = [json.loads(line)["kind"] for line in events.read_text().splitlines()]
    assert kinds.count("order_filled") == report["orders"] - report["rejected_orders"]
    assert kinds[-1] == "run_stopped"


def test_the_example_passes_its_own_tests(installed_example: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        capture_output=True,
        text=True,
        env=installed_example,
        cwd=EXAMPLE,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
