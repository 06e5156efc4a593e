"""The names of a new plugin: what the user types, the distribution, the import package, the class.

``tradekit plugin new foo-bar --kind strategy`` gives the entry-point name
``foo_bar`` (what users type after ``--strategy``), the distribution
``tradekit-foo-bar``, the import package ``tradekit_foo_bar`` and the class
``FooBarStrategy``. The same rules are used by the built-ins in ``plugins/``.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

from tradekit.errors import ConfigError
from tradekit.registry import GROUPS

#: Lower-case words of letters and digits, joined by single ``_`` or ``-``; starts with a letter.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*")
MAX_NAME_LENGTH = 40

#: Per kind: the module the plugin class lives in and the suffix of its class name.
KIND_MODULES: dict[str, tuple[str, str]] = {
    "exchange": ("exchange", "Exchange"),
    "strategy": ("strategy", "Strategy"),
    "risk": ("risk", "Rule"),
    "notifier": ("notifier", "Notifier"),
    "model": ("model", "Model"),
}


@dataclass(frozen=True)
class PluginName:
    """Every name derived from the one the author chose, for one plugin kind."""

    entry_point: str
    kind: str

    @classmethod
    def parse(cls, text: str, kind: str) -> PluginName:
        """Check ``text`` (``foo_bar`` or ``foo-bar``) and ``kind``; raise :class:`ConfigError` if either is bad."""
        if kind not in KIND_MODULES:
            raise ConfigError(f"unknown plugin kind {kind!r}; kinds: {', '.join(KIND_MODULES)}")
        name = text.strip()
        if name.lower().startswith("tradekit"):
            raise ConfigError(
                f"plugin name {text!r} starts with 'tradekit'; give the name users type, without the prefix "
                f"(e.g. {name.lower().removeprefix('tradekit').strip('_-') or 'my_plugin'!r}): "
                "the distribution is called tradekit-NAME for you"
            )
        if not NAME_PATTERN.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
            raise ConfigError(
                f"plugin name {text!r} is not valid; use lower-case letters and digits, words joined by "
                f"'_' or '-', starting with a letter, at most {MAX_NAME_LENGTH} characters (e.g. 'mean_revert')"
            )
        entry_point = name.replace("-", "_")
        if keyword.iskeyword(entry_point):
            raise ConfigError(f"plugin name {text!r} is a Python keyword; choose another name")
        return cls(entry_point=entry_point, kind=kind)

    @property
    def distribution(self) -> str:
        """``tradekit-foo-bar``: the name on PyPI and of the generated folder."""
        return "tradekit-" + self.entry_point.replace("_", "-")

    @property
    def package(self) -> str:
        """``tradekit_foo_bar``: the import package."""
        return "tradekit_" + self.entry_point

    @property
    def module(self) -> str:
        """The module of the plugin class inside the package (``strategy``, ``risk``...)."""
        return KIND_MODULES[self.kind][0]

    @property
    def class_name(self) -> str:
        """``FooBarStrategy``: the plugin class."""
        words = self.entry_point.split("_")
        return "".join(word[:1].upper() + word[1:] for word in words) + KIND_MODULES[self.kind][1]

    @property
    def group(self) -> str:
        """The entry-point group of the kind (``tradekit.strategies``...)."""
        return GROUPS[self.kind]

    @property
    def entry_point_value(self) -> str:
        """``tradekit_foo_bar.strategy:FooBarStrategy``."""
        return f"{self.package}.{self.module}:{self.class_name}"


def same_distribution(first: str, second: str) -> bool:
    """Whether two distribution names are the same project (PEP 503 normalisation)."""

    def normal(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    return normal(first) == normal(second)
