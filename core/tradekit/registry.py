"""Finding plugins through entry points, and loading them by name, lazily.

Listing reads package metadata only; nothing is imported until a plugin is
named (by the command line or the config) or ``--check`` asks for it. Loading
goes through stevedore's :class:`~stevedore.named.NamedExtensionManager`, one name at
a time, so choosing ``--exchange paper`` never imports ccxt.

There is no list of plugin names anywhere in the kernel: the built-in
``paper`` exchange and ``sma_cross`` strategy are found through the same
entry points as any third-party plugin.
"""

from __future__ import annotations

import difflib
import os
import traceback
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from tradekit.errors import DuplicatePluginError, PluginLoadError, UnknownPluginError
from tradekit.plugin import BASE_CLASSES, KINDS, Plugin

#: Entry-point group of each plugin kind.
GROUPS: dict[str, str] = {
    "exchange": "tradekit.exchanges",
    "strategy": "tradekit.strategies",
    "risk": "tradekit.risk",
    "notifier": "tradekit.notifiers",
    "model": "tradekit.models",
}

#: How each kind is called in messages.
KIND_LABELS: dict[str, str] = {
    "exchange": "exchange",
    "strategy": "strategy",
    "risk": "risk rule",
    "notifier": "notifier",
    "model": "model",
}

STRICT_ENV = "TRADEKIT_STRICT_PLUGINS"


def strict_from_env() -> bool:
    """Whether ``TRADEKIT_STRICT_PLUGINS`` asks for strict plugin loading."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class PluginEntry:
    """One plugin as its distribution's metadata declares it (nothing imported)."""

    kind: str
    name: str
    value: str
    distribution: str
    version: str

    @property
    def group(self) -> str:
        """The entry-point group this plugin is registered in."""
        return GROUPS[self.kind]

    @property
    def label(self) -> str:
        """``kind 'name' (distribution version)``, for messages."""
        return f"{KIND_LABELS[self.kind]} '{self.name}' ({self.distribution} {self.version})"


@dataclass(frozen=True)
class PluginHealth:
    """The result of importing one plugin: ``error`` is None when it loaded."""

    entry: PluginEntry
    error: str | None
    plugin_class: type[Plugin] | None = None

    @property
    def ok(self) -> bool:
        """True when the plugin imported and is a proper plugin class."""
        return self.error is None


def _distribution_name(ep: metadata.EntryPoint, known: dict[int, tuple[str, str]]) -> tuple[str, str]:
    """The name and version of the distribution that declares ``ep``.

    ``known`` keeps them by distribution for one scan: reading them parses the
    distribution's whole metadata file, and a distribution often declares several plugins.
    """
    dist = ep.dist
    if dist is None:
        return "unknown", "?"
    found = known.get(id(dist))
    if found is None:
        meta = dist.metadata
        # Name as ``dist.name`` reads it, version as ``dist.version`` does: one parse instead of two.
        found = known[id(dist)] = (meta["Name"] or dist.name, meta["Version"])
    return found


class Registry:
    """Every installed plugin, by kind and name, read from entry-point metadata."""

    def __init__(self, *, strict: bool | None = None) -> None:
        self.strict = strict_from_env() if strict is None else strict
        self._entries: dict[str, list[PluginEntry]] | None = None

    # -- metadata (no imports) ---------------------------------------------------

    def _scan(self) -> dict[str, list[PluginEntry]]:
        if self._entries is None:
            found: dict[str, list[PluginEntry]] = {kind: [] for kind in KINDS}
            # One walk over the installed distributions for every group: each walk reads every
            # distribution's entry points, and asking group by group walked them five times.
            installed = metadata.entry_points()
            names: dict[int, tuple[str, str]] = {}
            for kind, group in GROUPS.items():
                seen: set[tuple[str, str, str]] = set()
                for ep in installed.select(group=group):
                    dist, version = _distribution_name(ep, names)
                    # One distribution can be visible twice on sys.path (an
                    # editable install next to its source's .egg-info): count it once.
                    key = (ep.name, ep.value, dist.lower().replace("_", "-"))
                    if key in seen:
                        continue
                    seen.add(key)
                    found[kind].append(PluginEntry(kind, ep.name, ep.value, dist, version))
                found[kind].sort(key=lambda e: (e.name, e.distribution))
            self._entries = found
        return self._entries

    def entries(self, kind: str | None = None) -> list[PluginEntry]:
        """Installed plugins of ``kind`` (or of every kind), sorted by name."""
        scanned = self._scan()
        if kind is not None:
            return list(scanned[kind])
        return [entry for k in KINDS for entry in scanned[k]]

    def names(self, kind: str) -> list[str]:
        """The distinct names installed for ``kind``."""
        return sorted({entry.name for entry in self.entries(kind)})

    def distributions(self) -> dict[str, str]:
        """Every distribution that provides a plugin, with its version."""
        return {entry.distribution: entry.version for entry in self.entries()}

    def find(self, kind: str, name: str) -> PluginEntry:
        """The one plugin of ``kind`` called ``name``.

        Raises :class:`UnknownPluginError` (with the nearest match and the
        installed names) or :class:`DuplicatePluginError` (naming both
        distributions).
        """
        if kind not in GROUPS:
            raise UnknownPluginError(f"unknown plugin kind '{kind}'; kinds: {', '.join(KINDS)}")
        matches = [entry for entry in self.entries(kind) if entry.name == name]
        if not matches:
            raise UnknownPluginError(self.unknown_message(kind, name))
        if len(matches) > 1:
            claimants = " and ".join(f"{m.distribution} {m.version} ({m.value})" for m in matches)
            raise DuplicatePluginError(
                f"{KIND_LABELS[kind]} '{name}' is claimed by {claimants}; "
                f"uninstall one of them (pip uninstall {matches[-1].distribution})"
            )
        return matches[0]

    def unknown_message(self, kind: str, name: str) -> str:
        """``unknown exchange 'x'; did you mean 'y'? installed: a, b``."""
        installed = self.names(kind)
        message = f"unknown {KIND_LABELS[kind]} '{name}'"
        close = difflib.get_close_matches(name, installed, n=1, cutoff=0.6)
        if close:
            message += f"; did you mean '{close[0]}'?"
        else:
            message += ";"
        message += f" installed: {', '.join(installed) if installed else '(none)'}"
        return message

    def find_any_kind(self, name: str) -> list[PluginEntry]:
        """Every plugin called ``name``, whatever its kind."""
        return [entry for entry in self.entries() if entry.name == name]

    # -- loading (imports) -------------------------------------------------------

    def load_class(self, kind: str, name: str) -> type[Plugin]:
        """Import the plugin ``name`` of ``kind`` and return its class.

        Raises :class:`PluginLoadError` naming the plugin, its distribution and
        the error when the import fails or the object is not a plugin class.
        """
        entry = self.find(kind, name)
        health = self._load(entry)
        if health.plugin_class is None:
            raise PluginLoadError(
                f"{entry.label} failed to load: {health.error}",
                hint=f"reinstall or upgrade it (pip install -U {entry.distribution}), or remove it from your config",
            )
        return health.plugin_class

    def _load(self, entry: PluginEntry) -> PluginHealth:
        failures: list[BaseException] = []

        def record(_manager: Any, _ep: Any, error: BaseException) -> None:
            failures.append(error)

        try:
            loaded = _load_entry_point(
                metadata.EntryPoint(name=entry.name, value=entry.value, group=entry.group), record
            )
        except Exception as error:  # the import failed (recorded) or raised itself
            cause = failures[0] if failures else error
            return PluginHealth(entry, _describe(cause))
        base = BASE_CLASSES[entry.kind]
        if not (isinstance(loaded, type) and issubclass(loaded, base)):
            return PluginHealth(
                entry,
                f"{entry.value} is {loaded!r}, not a subclass of tradekit.plugin.{base.__name__}",
            )
        return PluginHealth(entry, None, loaded)

    def check(self, kind: str | None = None) -> list[PluginHealth]:
        """Import every plugin (of ``kind``) and report its health; never raises for a plugin."""
        return [self._load(entry) for entry in self.entries(kind)]


def _load_entry_point(entry_point: metadata.EntryPoint, on_failure: Any) -> Any:
    """Import the object behind ``entry_point`` with stevedore's named extension manager.

    The manager is handed the one entry point the registry found instead of
    scanning the group again: stevedore keeps its own scan in a process-wide
    class attribute and in an on-disk cache whose key rounds file times to
    about two minutes, so a plugin installed (or re-installed with new entry
    points) after that scan would be listed by the registry yet "not found" by
    stevedore. Loading exactly what was listed keeps the two in agreement.
    Raises ``LookupError`` when the import failed (``on_failure`` has the error).
    """
    from stevedore import named  # imported here: listing plugins must stay cheap

    class _OneEntryPoint(named.NamedExtensionManager):  # type: ignore[type-arg]
        def list_entry_points(self) -> list[metadata.EntryPoint]:
            return [entry_point]

    manager = _OneEntryPoint(
        namespace=entry_point.group,
        names=[entry_point.name],
        invoke_on_load=False,
        on_load_failure_callback=on_failure,
        # The caller reports a failure with the plugin's distribution; stevedore's
        # own "Could not load" warning would only repeat it on stderr.
        on_missing_entrypoints_callback=None,
    )
    if not manager.extensions:
        raise LookupError(f"{entry_point.value} did not load")
    return manager.extensions[0].plugin


def _describe(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"
