"""``tradekit plugin new``: the distribution it writes, the names it derives, and what it refuses."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tradekit import __version__
from tradekit.errors import ConfigError
from tradekit.plugin import BASE_CLASSES, KINDS
from tradekit.registry import GROUPS
from tradekit.scaffold import PluginName, render_plugin, write_plugin

SUITES = {
    "exchange": "ExchangeConformance",
    "strategy": "StrategyConformance",
    "risk": "RiskRuleConformance",
    "notifier": "NotifierConformance",
    "model": "ModelConformance",
}


def import_plugin_module(folder: Path, name: PluginName) -> ModuleType:
    """Import the generated plugin module from its file (it imports nothing but tradekit and its deps)."""
    path = folder / "src" / name.package / f"{name.module}.py"
    spec = importlib.util.spec_from_file_location(f"_kit_{name.package}_{name.module}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the settings model's annotations through it
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


# --- names -----------------------------------------------------------------------------------------------


def test_a_name_with_dashes_or_underscores_gives_the_same_plugin() -> None:
    dashed, underscored = PluginName.parse("foo-bar", "strategy"), PluginName.parse("foo_bar", "strategy")

    assert dashed == underscored
    assert dashed.entry_point == "foo_bar"
    assert dashed.distribution == "tradekit-foo-bar"
    assert dashed.package == "tradekit_foo_bar"
    assert dashed.class_name == "FooBarStrategy"
    assert dashed.entry_point_value == "tradekit_foo_bar.strategy:FooBarStrategy"


@pytest.mark.parametrize(
    ("kind", "class_name", "group"),
    [
        ("exchange", "AcmeExchange", "tradekit.exchanges"),
        ("strategy", "AcmeStrategy", "tradekit.strategies"),
        ("risk", "AcmeRule", "tradekit.risk"),
        ("notifier", "AcmeNotifier", "tradekit.notifiers"),
        ("model", "AcmeModel", "tradekit.models"),
    ],
)
def test_each_kind_gets_its_class_name_and_entry_point_group(kind: str, class_name: str, group: str) -> None:
    name = PluginName.parse("acme", kind)

    assert name.class_name == class_name
    assert name.group == group == GROUPS[kind]


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("FooBar", "not valid"),
        ("1st", "not valid"),
        ("foo__bar", "not valid"),
        ("foo bar", "not valid"),
        ("foo-", "not valid"),
        ("x" * 41, "at most 40"),
        ("tradekit-foo", "without the prefix"),
        ("class", "Python keyword"),
    ],
)
def test_a_bad_name_is_refused_saying_why(bad: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why) as refused:
        PluginName.parse(bad, "strategy")
    assert repr(bad) in str(refused.value)


# --- what it writes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_writes_a_distribution_whose_entry_point_names_the_plugin_class(kind: str, tmp_path: Path) -> None:
    name = PluginName.parse("acme-feed", kind)
    generated = write_plugin(name, tmp_path)

    folder = tmp_path / "tradekit-acme-feed"
    assert generated.folder == folder
    assert sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()) == sorted(
        [
            ".gitignore",
            "README.md",
            "pyproject.toml",
            "src/tradekit_acme_feed/__init__.py",
            f"src/tradekit_acme_feed/{name.module}.py",
            "src/tradekit_acme_feed/py.typed",
            "tests/test_conformance.py",
            f"tests/test_{name.module}.py",
        ]
    )
    project = tomllib.loads((folder / "pyproject.toml").read_text())
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"
    assert project["project"]["name"] == "tradekit-acme-feed"
    release = re.match(r"\d+(\.\d+)*", __version__)
    assert release is not None
    assert project["project"]["dependencies"][0] == f"tradekit>={release.group(0)}"
    assert project["project"]["optional-dependencies"] == {"test": ["pytest"]}
    assert project["project"]["entry-points"] == {GROUPS[kind]: {"acme_feed": name.entry_point_value}}
    module = import_plugin_module(folder, name)
    plugin_class = getattr(module, name.class_name)
    assert issubclass(plugin_class, BASE_CLASSES[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_the_conformance_test_subclasses_the_suite_of_its_kind_as_the_contract_says(kind: str) -> None:
    name = PluginName.parse("acme", kind)
    text = render_plugin(name)["tests/test_conformance.py"]

    assert f"from tradekit.testing.conformance import {SUITES[kind]}\n" in text
    assert f"from tradekit_acme.{name.module} import {name.class_name}\n" in text
    assert f"class Test{name.class_name}Conformance({SUITES[kind]}):" in text
    assert f"    plugin = {name.class_name}\n" in text
    assert re.search(r"^    settings = \{.*\}$", text, re.MULTILINE)


@pytest.mark.parametrize("kind", KINDS)
def test_the_readme_settings_table_lists_exactly_the_plugins_settings(kind: str, tmp_path: Path) -> None:
    name = PluginName.parse("acme", kind)
    generated = write_plugin(name, tmp_path)
    settings_model = getattr(import_plugin_module(generated.folder, name), name.class_name).Settings

    readme = (generated.folder / "README.md").read_text()
    documented = re.findall(r"^\| `(\w+)` \|", readme, re.MULTILINE)
    assert sorted(documented) == sorted(settings_model.model_fields)
    conformance = render_plugin(name)["tests/test_conformance.py"]
    literal = re.search(r"^    settings = (.+)$", conformance, re.MULTILINE)
    assert literal is not None
    settings_model.model_validate(ast.literal_eval(literal.group(1)))  # the suite's settings are valid ones


def test_the_generated_code_passes_ruff_with_its_own_configuration(tmp_path: Path) -> None:
    for kind in KINDS:
        write_plugin(PluginName.parse(f"lint-{kind}", kind), tmp_path)

    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=tmp_path, capture_output=True, text=True
    )
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )

    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


# --- the command -------------------------------------------------------------------------------------------


def test_the_command_prints_the_tree_and_the_next_commands(
    run_tradekit: Callable[..., Any], in_tmp_folder: Path
) -> None:
    result = run_tradekit("plugin", "new", "mean-revert", "--kind", "strategy")

    assert result.exit_code == 0, result.stderr
    assert (in_tmp_folder / "tradekit-mean-revert" / "src" / "tradekit_mean_revert" / "strategy.py").is_file()
    for shown in ("tradekit-mean-revert", "tradekit_mean_revert/", "strategy.py", "test_conformance.py"):
        assert shown in result.stdout
    for step in ('python -m pip install -e ".[test]"', "pytest", "tradekit backtest --strategy mean_revert"):
        assert step in result.stdout
    assert "python -m build" in result.stdout


def test_dir_chooses_the_parent_folder_and_is_created(run_tradekit: Callable[..., Any], in_tmp_folder: Path) -> None:
    result = run_tradekit("plugin", "new", "ping", "--kind", "notifier", "--dir", "nested/plugins")

    assert result.exit_code == 0, result.stderr
    assert (in_tmp_folder / "nested" / "plugins" / "tradekit-ping" / "pyproject.toml").is_file()


def test_a_bad_name_exits_2_and_writes_nothing(run_tradekit: Callable[..., Any], in_tmp_folder: Path) -> None:
    result = run_tradekit("plugin", "new", "Mean Revert", "--kind", "strategy")

    assert result.exit_code == 2
    assert "plugin name 'Mean Revert' is not valid" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(in_tmp_folder.iterdir()) == []


def test_an_existing_folder_is_refused_without_force_and_left_as_it_was(
    run_tradekit: Callable[..., Any], in_tmp_folder: Path
) -> None:
    folder = in_tmp_folder / "tradekit-mean-revert"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")

    result = run_tradekit("plugin", "new", "mean_revert", "--kind", "strategy")

    assert result.exit_code == 2
    assert "tradekit-mean-revert already exists; nothing was written" in result.stderr
    assert "--force" in result.stderr
    assert [path.name for path in folder.iterdir()] == ["notes.txt"]


def test_force_writes_the_generated_files_and_keeps_the_others(
    run_tradekit: Callable[..., Any], in_tmp_folder: Path
) -> None:
    folder = in_tmp_folder / "tradekit-mean-revert"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / "README.md").write_text("old")

    result = run_tradekit("plugin", "new", "mean_revert", "--kind", "strategy", "--force")

    assert result.exit_code == 0, result.stderr
    assert (folder / "notes.txt").read_text() == "mine"
    assert (folder / "README.md").read_text().startswith("# tradekit-mean-revert")


def test_a_name_an_installed_plugin_of_that_kind_has_is_written_with_a_warning(
    run_tradekit: Callable[..., Any], in_tmp_folder: Path
) -> None:
    # sma_cross is the kernel's own strategy, installed with tradekit.
    clash = run_tradekit("plugin", "new", "sma_cross", "--kind", "strategy")
    other_kind = run_tradekit("plugin", "new", "sma_cross", "--kind", "risk", "--dir", "risk")

    assert clash.exit_code == 0, clash.stderr
    assert "warning: strategy 'sma_cross' (tradekit" in clash.stderr
    assert "installed here with the same name" in clash.stderr
    assert (in_tmp_folder / "tradekit-sma-cross" / "src" / "tradekit_sma_cross" / "strategy.py").is_file()
    assert other_kind.exit_code == 0, other_kind.stderr
    assert "warning" not in other_kind.stderr
