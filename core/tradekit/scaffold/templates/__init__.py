"""The text of a generated plugin distribution, one module of templates per plugin kind.

Templates are :class:`string.Template` strings (``${name}`` placeholders), so
the generator needs nothing beyond the standard library. Each kind's module
holds a :class:`KindTemplate`: the plugin module, its behaviour test, the
settings its conformance test uses, the rows of the README's settings table
and how to try the plugin. What every kind shares (``pyproject.toml``, the
README, the conformance test) is in :mod:`tradekit.scaffold.templates.common`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindTemplate:
    """Everything kind-specific about a generated plugin.

    ``settings_rows`` are ``(setting, default, meaning)`` for the README; a test
    checks they name exactly the fields of the generated settings model.
    ``conformance_settings`` is the Python literal given to the conformance
    suite; ``dependencies`` the distributions the plugin module imports besides
    tradekit; ``usage`` the README's "Use" section.
    """

    kind: str
    suite: str
    summary: str
    source: str
    behaviour_test: str
    conformance_settings: str
    settings_rows: tuple[tuple[str, str, str], ...]
    dependencies: tuple[str, ...]
    usage: str
    try_command: str


def template_for(kind: str) -> KindTemplate:
    """The template of ``kind`` (imported on demand: only one kind is generated at a time)."""
    from importlib import import_module

    module = import_module(f"tradekit.scaffold.templates.{kind}_kind")
    template = module.TEMPLATE
    assert isinstance(template, KindTemplate)
    return template
