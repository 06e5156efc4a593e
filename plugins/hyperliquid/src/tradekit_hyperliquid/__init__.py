"""tradekit's Hyperliquid exchange plugin (entry point ``hyperliquid`` in ``tradekit.exchanges``).

Importing this package does not import ccxt; the client is built when the
exchange connects.
"""

from tradekit_hyperliquid.exchange import HyperliquidExchange, HyperliquidSettings

__all__ = ["HyperliquidExchange", "HyperliquidSettings"]
