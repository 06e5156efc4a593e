"""tradekit-strategies: the classic strategies, each its own entry point in ``tradekit.strategies``.

``momentum``, ``mean_reversion``, ``breakout``, ``volatility_expansion`` and
``pairs``; see README.md for each one's rules and parameters, and
:mod:`tradekit_strategies.base` for how they compute their indicators in a
backtest and live alike.
"""
