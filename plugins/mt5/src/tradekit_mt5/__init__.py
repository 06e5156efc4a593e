"""tradekit's MetaTrader 5 exchange plugin (entry point ``mt5`` in ``tradekit.exchanges``).

Importing this package imports neither the MetaTrader5 package nor the
mt5linux bridge; the terminal is reached when the exchange connects
(:mod:`tradekit_mt5.terminal`). :mod:`tradekit_mt5.testing` holds a fake
``MetaTrader5`` module for tests.
"""

from tradekit_mt5.exchange import MT5Exchange
from tradekit_mt5.settings import MT5Settings

__all__ = ["MT5Exchange", "MT5Settings"]
