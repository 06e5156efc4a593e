"""The kernel's exchange conformance suite, run against the fake Hyperliquid."""

from __future__ import annotations

from typing import Any, ClassVar

from tradekit_ccxt.testing.conformance import FakeVenueConformance
from tradekit_hyperliquid import HyperliquidExchange
from tradekit_hyperliquid.fake_server import FakeHyperliquid

from tradekit.data import simulate_bars

SYMBOL = "BTC/USDC:USDC"


class TestHyperliquidConformance(FakeVenueConformance):
    plugin = HyperliquidExchange
    plugin_name = "hyperliquid"
    settings: ClassVar[dict[str, Any]] = {
        "wallet_address": "0x" + "ab" * 20,
        "private_key": "0x" + "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d",
        "refresh_interval": 0,
        "rate_limits": {"rest": 1_000_000},
    }
    symbol = SYMBOL

    def make_venue(self) -> FakeHyperliquid:
        return FakeHyperliquid({SYMBOL: simulate_bars(seed=11, bars=600, symbol=SYMBOL, start_price=60_000.0)})
