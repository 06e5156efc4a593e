"""``tradekit run --exchange binance`` against the fake venue: dry runs and ``--live`` runs, spot and USD-M."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from tradekit_binance.fake_server import FakeBinance
from tradekit_ccxt.testing.cli import JOURNAL, ExchangeCli, journal_counts, run_command

from tradekit.domain.bars import BarSeries

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


@pytest.fixture
def live_venue(spot_bars: BarSeries, futures_bars: BarSeries) -> Iterator[FakeBinance]:
    """A fake Binance whose every candle request reveals the next bar."""
    with FakeBinance(
        spot={"BTC/USDT": spot_bars},
        futures={"BTC/USDT:USDT": futures_bars},
        api_key=API_KEY,
        api_secret=API_SECRET,
        history=100,
        reveal_on_candles=True,
    ) as server:
        yield server


@pytest.fixture
def tradekit(live_venue: FakeBinance, tmp_path: Path) -> ExchangeCli:
    """The ``tradekit`` command in-process in a fresh folder, pointed at the fake venue with the test key.

    On spot unless a call says ``market="usdm"``.
    """
    settings = {
        "api_url": live_venue.url,
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "rate_limits": '{"spot": 1000000, "usdm": 1000000}',
        "market": "spot",
    }
    return ExchangeCli(tmp_path, "binance", settings)


@pytest.mark.slow
def test_sma_cross_dry_then_live_on_spot(tradekit: ExchangeCli, live_venue: FakeBinance, tmp_path: Path) -> None:
    args = run_command("binance", "sma_cross", "--param", "fast=3", "--param", "slow=8")
    dry = tradekit(*args)
    assert dry.exit_code == 0, dry.stderr
    assert live_venue.client_ids_placed() == []
    live = tradekit(*args, "--live", "--yes")
    assert live.exit_code == 0, live.stderr
    assert "LIVE: real orders will be sent" in live.stderr
    counts = journal_counts(tmp_path)
    assert len(live_venue.client_ids_placed()) > 0
    # The dry run's orders are journaled too.
    assert counts["fills"] > 0 and counts["orders"] > len(live_venue.client_ids_placed())
    assert API_SECRET.encode() not in (tmp_path / JOURNAL).read_bytes()


@pytest.mark.slow
def test_long_wallet_live_on_usdm_futures(tradekit: ExchangeCli, live_venue: FakeBinance, tmp_path: Path) -> None:
    if importlib.util.find_spec("tradekit_long_wallet") is None:
        pytest.skip("tradekit-long-wallet is not installed")
    args = run_command("binance", "long_wallet", "--symbol", "BTC/USDT:USDT", "--live", "--yes")
    result = tradekit(*args, market="usdm")
    assert result.exit_code == 0, result.stderr
    assert "reached --max-bars 60" in result.stdout
    counts = journal_counts(tmp_path)
    assert counts["orders"] == len(live_venue.client_ids_placed()) > 0
    assert live_venue.futures is not None
    assert counts["fills"] == len(live_venue.futures.trades) > 0


def test_a_symbol_of_the_other_market_is_refused_with_the_setting_to_change(tradekit: ExchangeCli) -> None:
    result = tradekit(
        "run",
        "--strategy",
        "sma_cross",
        "--exchange",
        "binance",
        "--symbol",
        "BTC/USDT:USDT",
        "--max-bars",
        "1",
        "--poll-interval",
        "0",
    )
    assert result.exit_code == 2
    assert 'set market = "usdm"' in result.stderr


def test_testnet_is_refused_for_an_exchange_without_one(tradekit: ExchangeCli) -> None:
    result = tradekit("run", "--strategy", "sma_cross", "--exchange", "paper", "--testnet", "--max-bars", "1")
    assert result.exit_code == 2
    assert "exchange paper has no test network" in result.stderr
