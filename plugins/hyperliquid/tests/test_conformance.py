"""The kernel's exchange conformance suite, run against the fake Hyperliquid."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tradekit_hyperliquid import HyperliquidExchange
from tradekit_hyperliquid.fake_server import FakeHyperliquid

from tradekit.data import simulate_bars
from tradekit.plugin import Exchange
from tradekit.testing.conformance import ExchangeConformance

SYMBOL = "BTC/USDC:USDC"


class TestHyperliquidConformance(ExchangeConformance):
    plugin = HyperliquidExchange
    plugin_name = "hyperliquid"
    settings: ClassVar[dict[str, Any]] = {
        "wallet_address": "0x" + "ab" * 20,
        "private_key": "0x" + "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d",
        "refresh_interval": 0,
        "rate_limits": {"rest": 1_000_000},
    }
    symbol = SYMBOL
    event_timeout = 2.0

    @pytest.fixture(autouse=True)
    def _venue(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.setenv("TRADEKIT_CACHE_DIR", str(tmp_path / "cache"))
        bars = simulate_bars(seed=11, bars=600, symbol=SYMBOL, start_price=60_000.0)
        with FakeHyperliquid({SYMBOL: bars}) as server:
            self.venue = server
            yield

    def make_exchange(self) -> Exchange:
        return self.plugin(self.plugin_settings({"api_url": self.venue.url}), name=self.plugin_name)

    def move_price(self, exchange: Exchange, symbol: str, price: Decimal) -> bool:
        self.venue.set_price(symbol, price)
        return True
