"""The kernel's exchange conformance suite against the fake Binance: spot, and USD-M futures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from tradekit_binance import BinanceExchange
from tradekit_binance.fake_server import FakeBinance
from tradekit_ccxt.testing.conformance import FakeVenueConformance

from tradekit.data import simulate_bars

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def settings_of(market: str) -> dict[str, Any]:
    """The suite's settings for one market: the test key, polling at once, a budget that never waits."""
    return {
        "market": market,
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "refresh_interval": 0,
        "rate_limits": {market: 1_000_000},
    }


class _OnFakeBinance(FakeVenueConformance):
    plugin = BinanceExchange
    plugin_name = "binance"

    def make_venue(self) -> FakeBinance:
        spot = simulate_bars(seed=21, bars=600, symbol="BTC/USDT", start_price=60_000.0)
        futures = simulate_bars(seed=22, bars=600, symbol="BTC/USDT:USDT", start_price=60_000.0)
        return FakeBinance(
            spot={"BTC/USDT": spot},
            futures={"BTC/USDT:USDT": futures},
            api_key=API_KEY,
            api_secret=API_SECRET,
            cash=Decimal(20_000),
        )


class TestBinanceSpotConformance(_OnFakeBinance):
    symbol = "BTC/USDT"
    settings: ClassVar[dict[str, Any]] = settings_of("spot")


class TestBinanceFuturesConformance(_OnFakeBinance):
    symbol = "BTC/USDT:USDT"
    settings: ClassVar[dict[str, Any]] = settings_of("usdm")
