"""Fixtures of the Binance plugin's tests: a fake Binance (spot and USD-M) on localhost and exchanges on it.

The fake serves the kernel's seeded simulated market (BTC near 60,000); the
API key and secret below are made up for the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tradekit_binance import BinanceExchange, BinanceSettings
from tradekit_binance.fake_server import FakeBinance
from tradekit_ccxt.testing.exchanges import Connections, order_factory
from tradekit_ccxt.testing.market import FakeMarket

from tradekit import secrets
from tradekit.data import simulate_bars
from tradekit.domain.bars import BarSeries
from tradekit.domain.orders import Order

SPOT, FUTURES = "BTC/USDT", "BTC/USDT:USDT"
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test has its own rate-limit file and forgets the secrets it registered."""
    monkeypatch.setenv("TRADEKIT_CACHE_DIR", str(tmp_path / "cache"))
    yield
    secrets.forget_all()


@pytest.fixture(scope="session")
def spot_bars() -> BarSeries:
    return simulate_bars(seed=21, bars=2_000, symbol=SPOT, start_price=60_000.0)


@pytest.fixture(scope="session")
def futures_bars() -> BarSeries:
    return simulate_bars(seed=22, bars=2_000, symbol=FUTURES, start_price=60_000.0)


@pytest.fixture
def venue(spot_bars: BarSeries, futures_bars: BarSeries) -> Iterator[FakeBinance]:
    """A running fake Binance with both markets."""
    with FakeBinance(
        spot={SPOT: spot_bars}, futures={FUTURES: futures_bars}, api_key=API_KEY, api_secret=API_SECRET
    ) as server:
        yield server


def settings_for(server: FakeBinance, **overrides: Any) -> BinanceSettings:
    """Settings pointing at ``server``, with the test key, polling at once and a budget that never waits."""
    values: dict[str, Any] = {
        "api_url": server.url,
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "refresh_interval": 0,
        "timeout": 1.0,
        "rate_limits": {"spot": 1_000_000, "usdm": 1_000_000},
        **overrides,
    }
    return BinanceSettings.model_validate(values)


@pytest.fixture
def connect(venue: FakeBinance) -> Iterator[Connections[BinanceExchange]]:
    """Make connected exchanges on the fake venue (closed afterwards); keyword arguments override settings."""
    with Connections(BinanceExchange, "binance", lambda **overrides: settings_for(venue, **overrides)) as make:
        yield make


@pytest.fixture
def make_order() -> Callable[..., Order]:
    """Orders with fresh engine-style client order ids; keyword arguments are intent fields (symbol first)."""
    return order_factory(SPOT)


@pytest.fixture
def market_for(venue: FakeBinance) -> Callable[[str], FakeMarket]:
    """The fake venue's market of a symbol: USD-M for ``BTC/USDT:USDT``, spot otherwise."""

    def market(symbol: str) -> FakeMarket:
        chosen = venue.futures if ":" in symbol else venue.spot
        assert chosen is not None
        return chosen

    return market


@pytest.fixture
def connect_for(connect: Connections[BinanceExchange]) -> Callable[[str], Callable[[], BinanceExchange]]:
    """Makers of exchanges on the symbol's market (spot, or USD-M futures)."""
    return lambda symbol: lambda: connect(market="usdm" if ":" in symbol else "spot")
