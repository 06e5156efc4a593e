"""Fixtures for the tests of tradekit.testing: the kit's own fixtures, and pytest run on generated files.

The ``tk_`` fixtures reach every pytest session through tradekit's ``pytest11``
entry point, as they reach a plugin author's tests: nothing imports them here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_SOURCE = REPO_ROOT / "examples" / "tradekit-plugin-example" / "src" / "tradekit_plugin_example"


@pytest.fixture(autouse=True)
def _clean_environment(tk_clean_environment: None) -> None:
    """The kit's ``tk_clean_environment`` for every test here: no shell ``TRADEKIT_*`` variable, no secret left."""


@dataclass(frozen=True)
class Outcome:
    """One test's result in a pytest run: ``passed``, ``failed``, ``skipped`` or ``error``, and its message."""

    outcome: str
    message: str


@dataclass(frozen=True)
class PytestRun:
    """A finished pytest run over generated files: every test's outcome by ``Class::test`` id, and the output."""

    outcomes: dict[str, Outcome]
    output: str
    returncode: int

    def of(self, test_id: str) -> Outcome:
        """The outcome of ``Class::test`` (or ``test``), failing with the run's output if it did not run."""
        if test_id not in self.outcomes:
            pytest.fail(f"{test_id} did not run; ran {sorted(self.outcomes)}\n{self.output}")
        return self.outcomes[test_id]


def run_pytest(folder: Path, files: dict[str, str], *args: str) -> PytestRun:
    """Write ``files`` into ``folder`` and run pytest on them in a fresh interpreter, as a plugin author would.

    Plugin autoloading is off and tradekit's plugin is named with ``-p``, so the
    run is the same whether or not the ``pytest11`` entry point is installed.
    Warnings are errors, as in this project. Outcomes are read from a JUnit XML report.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\naddopts = --import-mode=importlib\n")
    for name, source in files.items():
        (folder / name).write_text(textwrap.dedent(source))
    report = folder / "report.xml"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TRADEKIT_", "PYTEST_"))}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tradekit.testing.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--junitxml={report}",
            *args,
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = completed.stdout + completed.stderr
    if not report.exists():
        pytest.fail(f"pytest wrote no report (exit {completed.returncode}):\n{output}")
    outcomes: dict[str, Outcome] = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        classname = case.get("classname", "").rsplit(".", 1)[-1]
        name = case.get("name", "")
        test_id = f"{classname}::{name}" if classname and classname[:1].isupper() else name
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                message = child.get("message", "") or (child.text or "")
                break
        outcomes[test_id] = Outcome(outcome, message)
    return PytestRun(outcomes, output, completed.returncode)


@pytest.fixture(scope="session")
def subprocess_pytest() -> Callable[..., PytestRun]:
    """:func:`run_pytest`: ``subprocess_pytest(folder, {"test_x.py": source}, *args)``."""
    return run_pytest
