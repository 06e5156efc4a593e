"""Conformance suites: the rules a plugin of each kind follows, as pytest test classes to subclass.

::

    from tradekit.testing.conformance import StrategyConformance

    from my_strategies import DipBuyer  # your plugin's class

    class TestDipBuyerConformance(StrategyConformance):
        plugin = DipBuyer
        settings = {"period": 20}

A rule that is broken fails with a message that starts with the rule's id in
brackets (``[strategy.no-lookahead] ...``). Each suite's docstring lists its
rules and the optional class attributes and methods it reads.
"""

from tradekit.testing.conformance.base import PluginConformance, rule, violated
from tradekit.testing.conformance.exchange import ExchangeConformance
from tradekit.testing.conformance.model import ModelConformance
from tradekit.testing.conformance.notifier import NotifierConformance
from tradekit.testing.conformance.risk import RiskRuleConformance
from tradekit.testing.conformance.strategy import StrategyConformance

__all__ = [
    "ExchangeConformance",
    "ModelConformance",
    "NotifierConformance",
    "PluginConformance",
    "RiskRuleConformance",
    "StrategyConformance",
    "rule",
    "violated",
]
