"""Fixtures for the plugin authors' kit: generated plugins installed with pip, fake distributions, the CLI.

Installing goes as in ``tests/test_example_distribution.py``: ``pip install
--target`` into a temporary folder put on ``PYTHONPATH``, with no network
(``--no-build-isolation --no-deps``), so the project's environment is left as it was.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tradekit.plugin import KINDS
from tradekit.scaffold import GeneratedPlugin, PluginName, write_plugin


def plugin_name_for(kind: str) -> PluginName:
    """The name the slow tests give the plugin of ``kind``: ``kit_probe_<kind>``."""
    return PluginName.parse(f"kit-probe-{kind}", kind)


def clean_env(extra_path: Path | None = None) -> dict[str, str]:
    """The environment of a subprocess: no TRADEKIT_* from the caller, ``extra_path`` first on PYTHONPATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TRADEKIT_")}
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["COLUMNS"] = "250"
    return env


def pip_install(target: Path, *sources: Path) -> subprocess.CompletedProcess[str]:
    """``pip install --target TARGET SOURCES`` without network or build isolation."""
    return subprocess.run(
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
            *map(str, sources),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@dataclass
class InstalledPlugins:
    """One generated plugin of each kind, installed into ``site``."""

    generated: dict[str, GeneratedPlugin]
    site: Path

    def env(self) -> dict[str, str]:
        """An environment in which the installed plugins are found."""
        return clean_env(self.site)


@pytest.fixture(scope="session")
def installed_plugins(tmp_path_factory: pytest.TempPathFactory) -> InstalledPlugins:
    """``tradekit plugin new kit-probe-<kind>`` for every kind, all installed with one pip call."""
    parent = tmp_path_factory.mktemp("generated")
    generated = {kind: write_plugin(plugin_name_for(kind), parent) for kind in KINDS}
    site = tmp_path_factory.mktemp("generated-site")
    installed = pip_install(site, *(plugin.folder for plugin in generated.values()))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    for plugin in generated.values():
        assert list(site.glob(f"{plugin.name.package}-*.dist-info")), f"pip wrote no metadata for {plugin.name}"
    return InstalledPlugins(generated, site)


def write_distribution(
    site: Path, name: str, version: str, entry_points: dict[str, dict[str, str]], modules: dict[str, str]
) -> None:
    """What pip leaves behind for a distribution: its modules and a ``dist-info`` with entry points."""
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    sections = [
        f"[{group}]\n" + "".join(f"{point} = {value}\n" for point, value in points.items())
        for group, points in entry_points.items()
    ]
    (dist_info / "entry_points.txt").write_text("\n".join(sections))
    for filename, source in modules.items():
        path = site / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    importlib.invalidate_caches()


def run_tradekit(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``tradekit ARGS`` in a fresh interpreter, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "tradekit.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=300,
    )


# Runs the command seeing only the kernel's distribution and those in one folder (argv[1]): plugins
# installed in the development environment must not change what a test of the command expects.
ISOLATED_MAIN = """
import importlib.metadata as metadata
import re
import sys

site = sys.argv[1]
kernel = [dist for dist in metadata.distributions() if dist.metadata["Name"] == "tradekit"]


def entry_points(**params):
    found, seen = [], set()
    for dist in [*kernel, *metadata.distributions(path=[site])]:
        key = re.sub(r"[-_.]+", "-", dist.metadata["Name"] or "").lower()
        if key not in seen:
            seen.add(key)
            found.extend(dist.entry_points)
    return metadata.EntryPoints(found).select(**params)


metadata.entry_points = entry_points
from tradekit.cli.main import main

sys.exit(main(sys.argv[2:]))
"""


@dataclass
class Kit:
    """Helpers for the kit's tests (test modules cannot import conftest under --import-mode=importlib)."""

    def env(self, site: Path | None = None) -> dict[str, str]:
        """A subprocess environment with ``site`` first on PYTHONPATH."""
        return clean_env(site)

    def tradekit(self, env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """``tradekit ARGS`` in a fresh interpreter."""
        return run_tradekit(env, cwd, *args)

    def tradekit_isolated(self, site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """``tradekit ARGS`` in a fresh interpreter that finds only the kernel's plugins and those in ``site``."""
        return subprocess.run(
            [sys.executable, "-c", ISOLATED_MAIN, str(site), *args],
            capture_output=True,
            text=True,
            env=clean_env(site),
            cwd=cwd,
            check=False,
            timeout=300,
        )

    def write_distribution(
        self, site: Path, name: str, version: str, entry_points: dict[str, dict[str, str]], modules: dict[str, str]
    ) -> None:
        """A fake installed distribution (see :func:`write_distribution`)."""
        write_distribution(site, name, version, entry_points, modules)

    def pip_install(self, target: Path, *sources: Path) -> subprocess.CompletedProcess[str]:
        """See :func:`pip_install`."""
        return pip_install(target, *sources)


@pytest.fixture(scope="session")
def kit() -> Kit:
    """Helpers shared by the kit's test modules."""
    return Kit()


@pytest.fixture
def in_tmp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working folder, with no TRADEKIT_* variable of the developer's shell."""
    for key in list(os.environ):
        if key.startswith("TRADEKIT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
