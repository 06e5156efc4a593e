"""Publishing plugin classes for one test, so the registry (and the CLI) finds them by name.

A fake installed distribution is written into a temporary folder on
``sys.path``: a ``tk_test_plugins-0.dist-info`` folder with ``METADATA`` and
``entry_points.txt``, as pip would leave it, whose entry points name attributes
of an in-memory module holding the test's classes. The registry lists them from
that metadata and stevedore imports them, as it would any installed plugin.
"""

from __future__ import annotations

import importlib
import sys
import types
import uuid
from pathlib import Path

from tradekit.plugin import Plugin
from tradekit.registry import GROUPS

DISTRIBUTION = "tk-test-plugins"


class PluginPublisher:
    """Publishes plugin classes under their kinds' entry-point groups, in a fake distribution in ``site``."""

    def __init__(self, site: Path) -> None:
        self.site = site
        self.module_name = f"_tk_test_plugins_{uuid.uuid4().hex[:12]}"
        self.module = types.ModuleType(self.module_name)
        self.entry_points: dict[str, dict[str, str]] = {}
        sys.modules[self.module_name] = self.module

    def publish(self, plugin_class: type[Plugin], name: str) -> None:
        """List ``plugin_class`` as the plugin ``name`` of its kind."""
        if plugin_class.kind not in GROUPS:
            raise ValueError(f"{plugin_class.__name__} has no plugin kind (kind = {plugin_class.kind!r})")
        attribute = f"{plugin_class.kind}_{name}".replace("-", "_").replace(".", "_")
        setattr(self.module, attribute, plugin_class)
        self.entry_points.setdefault(GROUPS[plugin_class.kind], {})[name] = f"{self.module_name}:{attribute}"
        self._write()

    def _write(self) -> None:
        dist_info = self.site / f"{DISTRIBUTION.replace('-', '_')}-0.dist-info"
        dist_info.mkdir(parents=True, exist_ok=True)
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: 0\n")
        sections = [
            f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items())
            for group, points in self.entry_points.items()
        ]
        (dist_info / "entry_points.txt").write_text("\n".join(sections))
        # importlib.metadata caches directory listings.
        importlib.invalidate_caches()

    def close(self) -> None:
        """Forget the in-memory module (the folder goes with the test's temporary files)."""
        sys.modules.pop(self.module_name, None)
        importlib.invalidate_caches()
