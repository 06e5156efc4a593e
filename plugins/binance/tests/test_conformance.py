"""The kernel's exchange conformance suite against the fake Binance: spot, and USD-M futures."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tradekit_binance import BinanceExchange
from tradekit_binance.fake_server import FakeBinance

from tradekit.data import simulate_bars
from tradekit.plugin import Exchange
from tradekit.testing.conformance import ExchangeConformance

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


class _OnFakeBinance(ExchangeConformance):
    plugin = BinanceExchange
    plugin_name = "binance"
    event_timeout = 2.0

    @pytest.fixture(autouse=True)
    def _venue(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.setenv("TRADEKIT_CACHE_DIR", str(tmp_path / "cache"))
        spot = simulate_bars(seed=21, bars=600, symbol="BTC/USDT", start_price=60_000.0)
        futures = simulate_bars(seed=22, bars=600, symbol="BTC/USDT:USDT", start_price=60_000.0)
        with FakeBinance(
            spot={"BTC/USDT": spot},
            futures={"BTC/USDT:USDT": futures},
            api_key=API_KEY,
            api_secret=API_SECRET,
            cash=Decimal(20_000),
        ) as server:
            self.venue = server
            yield

    def make_exchange(self) -> Exchange:
        return self.plugin(self.plugin_settings({"api_url": self.venue.url}), name=self.plugin_name)

    def move_price(self, exchange: Exchange, symbol: str, price: Decimal) -> bool:
        self.venue.set_price(symbol, price)
        return True


class TestBinanceSpotConformance(_OnFakeBinance):
    symbol = "BTC/USDT"
    settings: ClassVar[dict[str, Any]] = {
        "market": "spot",
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "refresh_interval": 0,
        "rate_limits": {"spot": 1_000_000},
    }


class TestBinanceFuturesConformance(_OnFakeBinance):
    symbol = "BTC/USDT:USDT"
    settings: ClassVar[dict[str, Any]] = {
        "market": "usdm",
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "refresh_interval": 0,
        "rate_limits": {"usdm": 1_000_000},
    }
