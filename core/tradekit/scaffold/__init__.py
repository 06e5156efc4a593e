"""The plugin author's kit: ``tradekit plugin new`` and the generated plugin-author docs.

:mod:`tradekit.scaffold.names` derives every name of a new plugin from the one
the author chose; :mod:`tradekit.scaffold.generator` renders and writes a
ready-to-publish distribution from the templates in
:mod:`tradekit.scaffold.templates`; :mod:`tradekit.scaffold.hookdocs` renders
the hook reference (``docs/plugins/hooks.md``) from :mod:`tradekit.hookspecs`.
Nothing here is imported when the ``tradekit`` command starts.
"""

from tradekit.scaffold.generator import (
    GeneratedPlugin,
    clashing_plugins,
    kernel_requirement,
    render_plugin,
    target_folder,
    try_command,
    write_plugin,
)
from tradekit.scaffold.names import PluginName

__all__ = [
    "GeneratedPlugin",
    "PluginName",
    "clashing_plugins",
    "kernel_requirement",
    "render_plugin",
    "target_folder",
    "try_command",
    "write_plugin",
]
