"""Risk rules for tradekit: ``circuit_breaker``, ``position_sizing``, ``exposure_limits``, ``kill_switch``.

Each rule is a :class:`tradekit.plugin.RiskRule` published under the ``tradekit.risk``
entry-point group; a run uses the ones its config names, in that order. The rules judge
every order intent the same way in a backtest, a dry run and live; exits (reduce-only
intents, or intents that only shrink a position) are never blocked by a pause, a limit or
a size, so a position can always be closed.
"""

__version__ = "0.1.0"
