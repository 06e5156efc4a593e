"""The kernel's exchange conformance suite, run against the connector on the fake terminal.

The suite's symbol has no spread (its fills are checked against its limits
to the tick) and a volume limit above the suite's deliberately oversized
order, so that order meets the margin check ("no money"), which is what the
suite asks about, rather than the volume limit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

import pytest
from tradekit_mt5 import MT5Exchange
from tradekit_mt5.testing import FakeSymbol, FakeTerminal, bars_near

from tradekit.plugin import Exchange
from tradekit.testing.conformance import ExchangeConformance

SYMBOL = "EURUSD"


class TestMT5Conformance(ExchangeConformance):
    plugin = MT5Exchange
    plugin_name = "mt5"
    settings: ClassVar[dict[str, Any]] = {"refresh_interval": 0}
    symbol = SYMBOL
    unknown_symbol = "TKNOSUCH"
    # MetaTrader 5 takes a buy stop-limit's limit at or below its stop (an entry on the pullback).
    stop_limit_beyond_trigger = False

    @pytest.fixture(autouse=True)
    def _terminal(self, monkeypatch: pytest.MonkeyPatch) -> None:
        symbol = FakeSymbol(spread=0, volume_max=1_000_000.0)
        self.terminal = FakeTerminal({SYMBOL: (symbol, bars_near(1.10, 600))})
        self.terminal.install(monkeypatch)

    def make_exchange(self) -> Exchange:
        exchange = self.plugin(self.plugin_settings(), name=self.plugin_name)
        assert isinstance(exchange, MT5Exchange)
        exchange.sleep = lambda seconds: None
        return exchange

    def move_price(self, exchange: Exchange, symbol: str, price: Decimal) -> bool:
        self.terminal.set_price(symbol, float(price))
        return True
