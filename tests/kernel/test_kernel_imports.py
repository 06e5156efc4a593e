"""The kernel knows no plugin: no module in core/tradekit imports a plugin, in its source or at run time."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import tradekit

KERNEL = Path(tradekit.__file__).resolve().parent
KERNEL_FILES = sorted(KERNEL.rglob("*.py"))


def module_name(path: Path) -> str:
    """``core/tradekit/cli/main.py`` -> ``tradekit.cli.main``."""
    parts = path.relative_to(KERNEL.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_plugin_module(name: str) -> bool:
    """A plugin distribution's import package (``tradekit_binance``) or anything under ``plugins/``."""
    top = name.split(".")[0]
    return top.startswith("tradekit_") or top == "plugins"


def imported_names(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an ``import``, ``from ... import`` or ``importlib.import_module("...")`` names."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = node.func
            called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def test_the_scan_sees_the_whole_kernel() -> None:
    names = {module_name(path) for path in KERNEL_FILES}
    assert {"tradekit.hooks", "tradekit.registry", "tradekit.cli.main", "tradekit.settings"} <= names


def test_the_scan_recognises_plugin_imports() -> None:
    source = "import tradekit_binance\nfrom plugins.x import y\nimportlib.import_module('tradekit_ml.model')\n"
    assert [name for _, name in imported_names(ast.parse(source))] == [
        "tradekit_binance",
        "plugins.x",
        "tradekit_ml.model",
    ]
    assert all(is_plugin_module(name) for _, name in imported_names(ast.parse(source)))
    assert not is_plugin_module("tradekit.plugin")


@pytest.mark.parametrize("path", KERNEL_FILES, ids=lambda path: module_name(path))
def test_no_kernel_module_imports_a_plugin_package(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    offenders = [f"line {line}: {name}" for line, name in imported_names(tree) if is_plugin_module(name)]
    assert not offenders, f"{path} imports plugin code: {offenders}"


IMPORT_EVERYTHING = """
import importlib
import json
import pkgutil
import sys

import tradekit

names = set(json.loads(sys.argv[1]))
# walk_packages skips folders without __init__.py; the file list above does not.
names |= {info.name for info in pkgutil.walk_packages(tradekit.__path__, "tradekit.")}
failed = {}
for name in sorted(names):
    try:
        importlib.import_module(name)
    except Exception as error:
        failed[name] = f"{type(error).__name__}: {error}"
print(json.dumps({"modules": sorted(sys.modules), "imported": sorted(names), "failed": failed}))
"""


def test_importing_every_kernel_module_loads_no_plugin_module(tmp_path: Path) -> None:
    names = sorted({module_name(path) for path in KERNEL_FILES})
    ran = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING, json.dumps(names)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )

    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout.splitlines()[-1])
    assert report["failed"] == {}, "every kernel module must import"
    assert set(names) <= set(report["imported"])
    plugin_modules = [name for name in report["modules"] if name.startswith("tradekit_")]
    assert plugin_modules == []
