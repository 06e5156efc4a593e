"""``tradekit run`` on ``--exchange hyperliquid`` against the fake venue, as a user runs it: dry by default, ``--live``.

The fake venue reveals one bar per candle request, so a run's bars "close" as
fast as it polls (``--poll-interval 0``). Every run goes through the real CLI
entry point, settings from ``TRADEKIT_*`` environment variables.
"""

from __future__ import annotations

import importlib.util
import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tradekit_hyperliquid.fake_server import FakeHyperliquid

from tradekit.domain.bars import BarSeries

WALLET = "0x" + "ab" * 20
PRIVATE_KEY = "0x" + "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"
ENV = "TRADEKIT_PLUGINS__EXCHANGE__HYPERLIQUID__"
STRATEGIES = {
    "sma_cross": ["--param", "fast=3", "--param", "slow=8"],
    "long_wallet": [],
}


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def live_venue(bars: BarSeries) -> Iterator[FakeHyperliquid]:
    """A fake Hyperliquid whose every candle request reveals the next bar."""
    with FakeHyperliquid({"BTC/USDC:USDC": bars}, history=100, reveal_on_candles=True) as server:
        yield server


@pytest.fixture
def tradekit(
    live_venue: FakeHyperliquid, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """Run the ``tradekit`` command in-process in a fresh folder, pointed at the fake venue."""
    from tradekit.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv(f"{ENV}API_URL", live_venue.url)
    monkeypatch.setenv(f"{ENV}RATE_LIMITS", '{"rest": 1000000}')
    root = logging.getLogger()

    def run(*args: str, keys: bool = True) -> Result:
        if keys:
            monkeypatch.setenv(f"{ENV}WALLET_ADDRESS", WALLET)
            monkeypatch.setenv(f"{ENV}PRIVATE_KEY", PRIVATE_KEY)
        else:
            monkeypatch.delenv(f"{ENV}WALLET_ADDRESS", raising=False)
            monkeypatch.delenv(f"{ENV}PRIVATE_KEY", raising=False)
        handlers, level = list(root.handlers), root.level
        capsys.readouterr()
        try:
            code = main(list(args))
            code = code if isinstance(code, int) else 0
        except SystemExit as done:
            code = int(done.code or 0)
        finally:
            for handler in root.handlers[:]:
                if handler not in handlers:
                    root.removeHandler(handler)
            root.setLevel(level)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def journal_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as connection:
        return {
            "orders": connection.execute("SELECT count(*) FROM orders").fetchone()[0],
            "fills": connection.execute("SELECT count(*) FROM fills").fetchone()[0],
        }


def needs(strategy: str) -> None:
    if strategy == "long_wallet" and importlib.util.find_spec("tradekit_long_wallet") is None:
        pytest.skip("tradekit-long-wallet is not installed")


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_dry_run_trades_on_the_venues_prices_and_sends_no_order(
    strategy: str, tradekit: Callable[..., Result], live_venue: FakeHyperliquid, tmp_path: Path
) -> None:
    needs(strategy)
    result = tradekit(
        "run",
        "--strategy",
        strategy,
        "--exchange",
        "hyperliquid",
        "--timeframe",
        "1m",
        "--max-bars",
        "60",
        "--poll-interval",
        "0",
        *STRATEGIES[strategy],
        keys=False,
    )
    assert result.code == 0, result.err
    assert "dry run: live prices, simulated fills, no orders sent" in result.err
    assert "reached --max-bars 60" in result.out
    assert journal_counts(tmp_path / "tradekit-journal.sqlite3")["fills"] > 0
    assert live_venue.actions == []  # nothing reached /exchange


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_live_run_sends_its_orders_to_the_venue_and_books_the_venues_fills(
    strategy: str, tradekit: Callable[..., Result], live_venue: FakeHyperliquid, tmp_path: Path
) -> None:
    needs(strategy)
    result = tradekit(
        "run",
        "--strategy",
        strategy,
        "--exchange",
        "hyperliquid",
        "--timeframe",
        "1m",
        "--max-bars",
        "60",
        "--poll-interval",
        "0",
        "--live",
        "--yes",
        *STRATEGIES[strategy],
    )
    assert result.code == 0, result.err
    assert "LIVE: real orders will be sent" in result.err
    assert "reached --max-bars 60" in result.out
    journal = tmp_path / "tradekit-journal.sqlite3"
    counts = journal_counts(journal)
    assert counts["orders"] == len(live_venue.order_actions()) > 0
    assert counts["fills"] == len(live_venue.market.trades) > 0
    assert PRIVATE_KEY[2:].encode() not in journal.read_bytes()
    assert PRIVATE_KEY[2:] not in result.out + result.err
    assert set(live_venue.action_types()) <= {"order", "cancel", "cancelByCloid"}


def test_live_without_keys_stops_with_what_to_set(tradekit: Callable[..., Result]) -> None:
    result = tradekit(
        "run",
        "--strategy",
        "sma_cross",
        "--exchange",
        "hyperliquid",
        "--timeframe",
        "1m",
        "--max-bars",
        "1",
        "--poll-interval",
        "0",
        "--live",
        "--yes",
        keys=False,
    )
    assert result.code == 2
    assert "needs wallet_address and private_key" in result.err
    assert "TRADEKIT_PLUGINS__EXCHANGE__HYPERLIQUID__<SETTING>" in result.err
