"""A plugin of each kind, generated and installed with pip, passes its own tests and its conformance suite.

Then the installed plugins are used as a user would: listed, checked by the
doctor, and run together in a backtest through the ``tradekit`` command.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tradekit.plugin import KINDS

pytestmark = pytest.mark.slow


def run_own_tests(folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``pytest`` in the plugin's folder, as its author runs it after ``pip install -e ".[test]"``."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_scaffolded_plugin_passes_its_own_tests_and_its_conformance_suite(installed_plugins: Any, kind: str) -> None:
    plugin = installed_plugins.generated[kind]

    result = run_own_tests(plugin.folder, installed_plugins.env())

    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    conformance = re.findall(r"test_conformance\.py::\w+::(test_\w+) (PASSED|SKIPPED|FAILED|ERROR)", report)
    assert conformance, f"no conformance rule ran:\n{report}"
    assert all(outcome in ("PASSED", "SKIPPED") for _, outcome in conformance), report
    passed = [rule for rule, outcome in conformance if outcome == "PASSED"]
    assert len(passed) >= 2, f"only {passed} of the {kind} rules passed; the others were skipped:\n{report}"
    assert f"test_{plugin.name.module}.py::test_the_entry_point_finds_this_class PASSED" in report


def test_the_installed_plugins_are_listed_and_the_doctor_finds_them_healthy(
    installed_plugins: Any, kit: Any, tmp_path: Path
) -> None:
    env = installed_plugins.env()

    listed = kit.tradekit(env, tmp_path, "plugins", "list", "--json", "--check")
    doctor = kit.tradekit(env, tmp_path, "plugins", "doctor", "--json")

    assert listed.returncode == 0, listed.stderr
    rows = {(row["kind"], row["name"]): row for row in json.loads(listed.stdout)}
    report = {(row["kind"], row["name"]): row for row in json.loads(doctor.stdout)["plugins"]}
    for kind, plugin in installed_plugins.generated.items():
        key = (kind, plugin.name.entry_point)
        assert rows[key]["distribution"] == plugin.name.distribution
        assert rows[key]["status"] == "ok"
        assert report[key]["loads"] and report[key]["ok"], report[key]
        assert report[key]["settings"] == "defaults"
    assert report[("risk", "kit_probe_risk")]["hooks"] == ["tradekit_risk_check"]
    assert report[("notifier", "kit_probe_notifier")]["hooks"] == ["tradekit_notify"]
    assert "limit" in report[("exchange", "kit_probe_exchange")]["capabilities"]["order_types"]


def test_a_backtest_runs_the_scaffolded_strategy_exchange_risk_rule_and_notifier_together(
    installed_plugins: Any, kit: Any, tmp_path: Path
) -> None:
    log = tmp_path / "notifications.log"
    (tmp_path / "tradekit.toml").write_text(
        'risk = ["kit_probe_risk"]\n'
        'notifiers = ["kit_probe_notifier"]\n'
        "[plugins.exchange.kit_probe_exchange]\nbars = 3000\n"
        "[plugins.strategy.kit_probe_strategy]\nlookback = 30\ndip_pct = 0.5\n"
        "[plugins.risk.kit_probe_risk]\nmax_position_value = 2000\n"
        f'[plugins.notifier.kit_probe_notifier]\npath = "{log.as_posix()}"\nevents = ["order_filled", "run_stopped"]\n'
    )

    result = kit.tradekit(
        installed_plugins.env(),
        tmp_path,
        "backtest",
        "--exchange",
        "kit_probe_exchange",
        "--strategy",
        "kit_probe_strategy",
        "--json",
        "--no-files",
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["strategy"] == "kit_probe_strategy"
    assert report["stats"]["trades"] > 0
    lines = log.read_text().splitlines()
    filled = [line for line in lines if " order_filled: " in line]
    assert len(filled) == report["orders"] - report["rejected_orders"]
    assert lines[-1].split(" ", 2)[2].startswith("run_stopped: ")
    # Every buy was cut to the rule's cap of 2000 USDT (the strategy asks for half the cash, 50000).
    bought = [re.search(r"filled buy (\S+) \S+ at (\S+)", line) for line in filled]
    values = [float(match.group(1)) * float(match.group(2)) for match in bought if match]
    assert values and max(values) <= 2000.0
