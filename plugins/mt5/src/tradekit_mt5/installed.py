"""The ``mt5`` entry point: the exchange class, once the terminal's Python API is installed.

Without the MetaTrader5 package (Windows) or the mt5linux bridge (elsewhere)
the exchange could never reach a terminal, so loading the plugin fails with
what to install on this platform: ``tradekit plugins list --check`` lists it,
and ``--exchange mt5`` stops with it before anything runs. The check runs on
every load (a module ``__getattr__``), not once at import, so a package
installed since, or a test's stand-in module, is seen at once.
"""

from __future__ import annotations

from tradekit_mt5.terminal import missing_api


def __getattr__(name: str) -> object:
    if name == "MT5Exchange":
        problem = missing_api()
        if problem is not None:
            raise ImportError(f"tradekit-mt5 cannot reach a MetaTrader 5 terminal: {problem}")
        from tradekit_mt5.exchange import MT5Exchange

        return MT5Exchange
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
