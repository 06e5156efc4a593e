"""tradekit's Binance exchange plugin (entry point ``binance`` in ``tradekit.exchanges``): spot and USD-M futures.

Importing this package does not import ccxt; the client is built when the
exchange connects.
"""

from tradekit_binance.exchange import BinanceExchange, BinanceSettings

__all__ = ["BinanceExchange", "BinanceSettings"]
