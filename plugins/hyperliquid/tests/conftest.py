"""Fixtures of the Hyperliquid plugin's tests: a fake Hyperliquid on localhost and exchanges pointed at it.

The fake serves the kernel's seeded simulated market (BTC near 60,000); the
wallet and key below are made up for the tests and hold nothing anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tradekit_ccxt.testing.exchanges import Connections, order_factory
from tradekit_hyperliquid import HyperliquidExchange, HyperliquidSettings
from tradekit_hyperliquid.fake_server import FakeHyperliquid

from tradekit import secrets
from tradekit.data import simulate_bars
from tradekit.domain.bars import BarSeries
from tradekit.domain.orders import Order

SYMBOL = "BTC/USDC:USDC"
WALLET = "0x" + "ab" * 20
PRIVATE_KEY = "0x" + "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test has its own rate-limit file and forgets the secrets it registered."""
    monkeypatch.setenv("TRADEKIT_CACHE_DIR", str(tmp_path / "cache"))
    yield
    secrets.forget_all()


@pytest.fixture(scope="session")
def bars() -> BarSeries:
    """The simulated BTC market the fake venue replays."""
    return simulate_bars(seed=11, bars=2_000, symbol=SYMBOL, start_price=60_000.0)


@pytest.fixture
def venue(bars: BarSeries) -> Iterator[FakeHyperliquid]:
    """A running fake Hyperliquid."""
    with FakeHyperliquid({SYMBOL: bars}) as server:
        yield server


def settings_for(server: FakeHyperliquid, **overrides: Any) -> HyperliquidSettings:
    """Settings pointing at ``server``, with the test wallet, polling at once and a budget that never waits."""
    values: dict[str, Any] = {
        "api_url": server.url,
        "wallet_address": WALLET,
        "private_key": PRIVATE_KEY,
        "refresh_interval": 0,
        "timeout": 1.0,
        "rate_limits": {"rest": 1_000_000},
        **overrides,
    }
    return HyperliquidSettings.model_validate(values)


@pytest.fixture
def connect(venue: FakeHyperliquid) -> Iterator[Connections[HyperliquidExchange]]:
    """Make connected exchanges on the fake venue (closed afterwards); keyword arguments override settings."""
    with Connections(HyperliquidExchange, "hyperliquid", lambda **overrides: settings_for(venue, **overrides)) as make:
        yield make


@pytest.fixture
def make_order() -> Callable[..., Order]:
    """Orders with fresh engine-style client order ids (32 hex digits); keyword arguments are intent fields."""
    return order_factory(SYMBOL)
