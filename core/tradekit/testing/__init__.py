"""The plugin authors' test kit: fixtures, a fake exchange, bar helpers and conformance suites.

Installed with tradekit and registered as a pytest plugin (entry point
``pytest11: tradekit``), so a plugin's tests get the ``tk_`` fixtures of
:mod:`tradekit.testing.pytest_plugin` without a conftest. The conformance
suites are in :mod:`tradekit.testing.conformance`; :class:`FakeExchange`,
:func:`make_bars` and :func:`price_path` are importable from here.

Importing this package is cheap (pytest imports it in every session): what it
offers is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradekit.testing.bars import make_bars, mirror_after, price_path
    from tradekit.testing.fake_exchange import FakeExchange, FakeExchangeSettings

_EXPORTS = {
    "FakeExchange": "tradekit.testing.fake_exchange",
    "FakeExchangeSettings": "tradekit.testing.fake_exchange",
    "make_bars": "tradekit.testing.bars",
    "mirror_after": "tradekit.testing.bars",
    "price_path": "tradekit.testing.bars",
}

__all__ = ["FakeExchange", "FakeExchangeSettings", "make_bars", "mirror_after", "price_path"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tradekit.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
