"""``tradekit run`` on ``--exchange hyperliquid`` against the fake venue, as a user runs it: dry by default, ``--live``.

The fake venue reveals one bar per candle request, so a run's bars "close" as
fast as it polls (``--poll-interval 0``). Every run goes through the real CLI
entry point, settings from ``TRADEKIT_*`` environment variables.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from tradekit_ccxt.testing.cli import JOURNAL, ExchangeCli, journal_counts, run_command
from tradekit_hyperliquid.fake_server import FakeHyperliquid

from tradekit.domain.bars import BarSeries

WALLET = "0x" + "ab" * 20
PRIVATE_KEY = "0x" + "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"
STRATEGIES = {
    "sma_cross": ["--param", "fast=3", "--param", "slow=8"],
    "long_wallet": [],
}
#: A call's keyword arguments that run it without the wallet's keys.
NO_KEYS: dict[str, str | None] = {"wallet_address": None, "private_key": None}


@pytest.fixture
def live_venue(bars: BarSeries) -> Iterator[FakeHyperliquid]:
    """A fake Hyperliquid whose every candle request reveals the next bar."""
    with FakeHyperliquid({"BTC/USDC:USDC": bars}, history=100, reveal_on_candles=True) as server:
        yield server


@pytest.fixture
def tradekit(live_venue: FakeHyperliquid, tmp_path: Path) -> ExchangeCli:
    """The ``tradekit`` command in-process in a fresh folder, pointed at the fake venue with the test wallet."""
    settings = {
        "api_url": live_venue.url,
        "rate_limits": '{"rest": 1000000}',
        "wallet_address": WALLET,
        "private_key": PRIVATE_KEY,
    }
    return ExchangeCli(tmp_path, "hyperliquid", settings)


def needs(strategy: str) -> None:
    if strategy == "long_wallet" and importlib.util.find_spec("tradekit_long_wallet") is None:
        pytest.skip("tradekit-long-wallet is not installed")


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_dry_run_trades_on_the_venues_prices_and_sends_no_order(
    strategy: str, tradekit: ExchangeCli, live_venue: FakeHyperliquid, tmp_path: Path
) -> None:
    needs(strategy)
    result = tradekit(*run_command("hyperliquid", strategy, *STRATEGIES[strategy]), **NO_KEYS)
    assert result.exit_code == 0, result.stderr
    assert "dry run: live prices, simulated fills, no orders sent" in result.stderr
    assert "reached --max-bars 60" in result.stdout
    assert journal_counts(tmp_path)["fills"] > 0
    assert live_venue.actions == []  # nothing reached /exchange


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_live_run_sends_its_orders_to_the_venue_and_books_the_venues_fills(
    strategy: str, tradekit: ExchangeCli, live_venue: FakeHyperliquid, tmp_path: Path
) -> None:
    needs(strategy)
    result = tradekit(*run_command("hyperliquid", strategy, "--live", "--yes", *STRATEGIES[strategy]))
    assert result.exit_code == 0, result.stderr
    assert "LIVE: real orders will be sent" in result.stderr
    assert "reached --max-bars 60" in result.stdout
    counts = journal_counts(tmp_path)
    assert counts["orders"] == len(live_venue.order_actions()) > 0
    assert counts["fills"] == len(live_venue.market.trades) > 0
    assert PRIVATE_KEY[2:].encode() not in (tmp_path / JOURNAL).read_bytes()
    assert PRIVATE_KEY[2:] not in result.stdout + result.stderr
    assert set(live_venue.action_types()) <= {"order", "cancel", "cancelByCloid"}


def test_live_without_keys_stops_with_what_to_set(tradekit: ExchangeCli) -> None:
    result = tradekit(*run_command("hyperliquid", "sma_cross", "--live", "--yes", max_bars=1), **NO_KEYS)
    assert result.exit_code == 2
    assert "needs wallet_address and private_key" in result.stderr
    assert "TRADEKIT_PLUGINS__EXCHANGE__HYPERLIQUID__<SETTING>" in result.stderr
