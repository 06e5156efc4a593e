"""tradekit: a plugin-based trading framework.

The kernel: hook specs (:mod:`tradekit.hookspecs`), plugin base classes
(:mod:`tradekit.plugin`), the registry (:mod:`tradekit.registry`), the domain
model (:mod:`tradekit.domain`), settings, the engine, the simulated exchange,
the journal, reports and the ``tradekit`` command. It knows no plugin by name.

Importing this package is cheap: submodules are imported when used.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tradekit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
