"""Render a ready-to-publish plugin distribution, and write it to disk.

:func:`render_plugin` turns a :class:`~tradekit.scaffold.names.PluginName`
into the text of every file (nothing touches the disk); :func:`write_plugin`
refuses an existing folder unless forced, then writes them. Rendering first
means a refusal or a template error leaves nothing half-written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from tradekit.errors import ConfigError
from tradekit.registry import KIND_LABELS
from tradekit.scaffold.names import PluginName, same_distribution
from tradekit.scaffold.templates import common, template_for

if TYPE_CHECKING:
    from tradekit.registry import PluginEntry


def kernel_requirement() -> str:
    """``tradekit>=X.Y.Z``: the running kernel's release, without local or dev parts."""
    from tradekit import __version__

    match = re.match(r"\d+(?:\.\d+)*", __version__)
    release = match.group(0) if match else "0.1"
    if release == "0.0.0":  # a source tree that is not installed: ask for the first release
        release = "0.1"
    return f"tradekit>={release}"


def _values(name: PluginName) -> dict[str, str]:
    template = template_for(name.kind)
    dependencies = [kernel_requirement(), *template.dependencies]
    values = {
        "name": name.entry_point,
        "dist": name.distribution,
        "package": name.package,
        "module": name.module,
        "class_name": name.class_name,
        "kind": name.kind,
        "kind_label": KIND_LABELS[name.kind],
        "group": name.group,
        "entry_point_value": name.entry_point_value,
        "suite": template.suite,
        "summary": template.summary,
        "dependencies": ", ".join(f'"{requirement}"' for requirement in dependencies),
        "conformance_settings": template.conformance_settings,
        "env_kind": name.kind.upper(),
        "env_name": name.entry_point.upper(),
    }
    values["settings_rows"] = "\n".join(
        f"| `{setting}` | `{default}` | {meaning} |" for setting, default, meaning in template.settings_rows
    )
    values["usage"] = Template(template.usage).substitute(values)
    return values


def render_plugin(name: PluginName) -> dict[str, str]:
    """Every file of the distribution, by path relative to its folder (``/``-separated)."""
    template = template_for(name.kind)
    values = _values(name)
    source_folder = f"src/{name.package}"
    return {
        "pyproject.toml": common.PYPROJECT.substitute(values),
        "README.md": common.README.substitute(values),
        ".gitignore": common.GITIGNORE,
        f"{source_folder}/__init__.py": common.PACKAGE_INIT.substitute(values),
        f"{source_folder}/{name.module}.py": Template(template.source).substitute(values),
        f"{source_folder}/py.typed": "",
        "tests/test_conformance.py": common.CONFORMANCE_TEST.substitute(values),
        f"tests/test_{name.module}.py": Template(template.behaviour_test).substitute(values),
    }


def try_command(name: PluginName) -> str:
    """A command that shows the plugin at work once it is installed."""
    return Template(template_for(name.kind).try_command).substitute(_values(name))


@dataclass(frozen=True)
class GeneratedPlugin:
    """What :func:`write_plugin` wrote: the distribution's folder and its files (relative paths)."""

    name: PluginName
    folder: Path
    files: tuple[str, ...]


def target_folder(name: PluginName, parent: Path) -> Path:
    """Where the distribution of ``name`` goes inside ``parent``: ``parent/tradekit-NAME``."""
    return parent / name.distribution


def write_plugin(name: PluginName, parent: Path, *, force: bool = False) -> GeneratedPlugin:
    """Write the distribution of ``name`` into ``parent/tradekit-NAME``.

    Refuses (:class:`ConfigError`, nothing written) when that folder exists,
    unless ``force``; with ``force`` the generated files are written over and
    any other file in the folder is left alone.
    """
    files = render_plugin(name)
    folder = target_folder(name, parent)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} exists and is not a folder; remove it or choose another --dir")
    if folder.exists() and not force:
        raise ConfigError(
            f"{folder} already exists; nothing was written",
            hint="choose another --dir, or pass --force to write the generated files over the ones there",
        )
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    return GeneratedPlugin(name, folder, tuple(files))


def clashing_plugins(name: PluginName, installed: list[PluginEntry]) -> list[PluginEntry]:
    """Installed plugins of the same kind and name from another distribution.

    Users who install both would get a "claimed by two distributions" error
    naming them; the same distribution (a re-generated plugin installed in
    editable mode) is not a clash.
    """
    return [
        entry
        for entry in installed
        if entry.kind == name.kind
        and entry.name == name.entry_point
        and not same_distribution(entry.distribution, name.distribution)
    ]
