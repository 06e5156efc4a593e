"""``tradekit run --exchange binance`` against the fake venue: dry runs and ``--live`` runs, spot and USD-M."""

from __future__ import annotations

import importlib.util
import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tradekit_binance.fake_server import FakeBinance

from tradekit.domain.bars import BarSeries

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
ENV = "TRADEKIT_PLUGINS__EXCHANGE__BINANCE__"


@dataclass
class Result:
    code: int
    out: str
    err: str


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
def tradekit(
    live_venue: FakeBinance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """Run the ``tradekit`` command in-process in a fresh folder, pointed at the fake venue with the test key."""
    from tradekit.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    for name, value in {
        "API_URL": live_venue.url,
        "API_KEY": API_KEY,
        "API_SECRET": API_SECRET,
        "RATE_LIMITS": '{"spot": 1000000, "usdm": 1000000}',
    }.items():
        monkeypatch.setenv(f"{ENV}{name}", value)
    root = logging.getLogger()

    def run(*args: str, market: str = "spot") -> Result:
        monkeypatch.setenv(f"{ENV}MARKET", market)
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


def counts(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as connection:
        orders = connection.execute("SELECT count(*) FROM orders").fetchone()[0]
        fills = connection.execute("SELECT count(*) FROM fills").fetchone()[0]
    return orders, fills


@pytest.mark.slow
def test_sma_cross_dry_then_live_on_spot(
    tradekit: Callable[..., Result], live_venue: FakeBinance, tmp_path: Path
) -> None:
    args = (
        "run",
        "--strategy",
        "sma_cross",
        "--exchange",
        "binance",
        "--timeframe",
        "1m",
        "--max-bars",
        "60",
        "--poll-interval",
        "0",
        "--param",
        "fast=3",
        "--param",
        "slow=8",
    )
    dry = tradekit(*args)
    assert dry.code == 0, dry.err
    assert live_venue.client_ids_placed() == []
    live = tradekit(*args, "--live", "--yes")
    assert live.code == 0, live.err
    assert "LIVE: real orders will be sent" in live.err
    orders, fills = counts(tmp_path / "tradekit-journal.sqlite3")
    assert len(live_venue.client_ids_placed()) > 0
    assert fills > 0 and orders > len(live_venue.client_ids_placed())  # the dry run's orders are journaled too
    assert API_SECRET.encode() not in (tmp_path / "tradekit-journal.sqlite3").read_bytes()


@pytest.mark.slow
def test_long_wallet_live_on_usdm_futures(
    tradekit: Callable[..., Result], live_venue: FakeBinance, tmp_path: Path
) -> None:
    if importlib.util.find_spec("tradekit_long_wallet") is None:
        pytest.skip("tradekit-long-wallet is not installed")
    result = tradekit(
        "run",
        "--strategy",
        "long_wallet",
        "--exchange",
        "binance",
        "--symbol",
        "BTC/USDT:USDT",
        "--timeframe",
        "1m",
        "--max-bars",
        "60",
        "--poll-interval",
        "0",
        "--live",
        "--yes",
        market="usdm",
    )
    assert result.code == 0, result.err
    assert "reached --max-bars 60" in result.out
    orders, fills = counts(tmp_path / "tradekit-journal.sqlite3")
    assert orders == len(live_venue.client_ids_placed()) > 0
    assert fills == len(live_venue.futures.trades) > 0


def test_a_symbol_of_the_other_market_is_refused_with_the_setting_to_change(
    tradekit: Callable[..., Result],
) -> None:
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
    assert result.code == 2
    assert 'set market = "usdm"' in result.err


def test_testnet_is_refused_for_an_exchange_without_one(tradekit: Callable[..., Result]) -> None:
    result = tradekit("run", "--strategy", "sma_cross", "--exchange", "paper", "--testnet", "--max-bars", "1")
    assert result.code == 2
    assert "exchange paper has no test network" in result.err
