"""``tradekit data download`` from the fake Binance: paginated, rate-limited, resumable, read by backtests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from tradekit_binance.fake_server import FakeBinance
from tradekit_ccxt.testing import Request
from tradekit_ccxt.testing.cli import ExchangeCli

from tradekit.data import load_bars, simulate_bars
from tradekit.testing.cli import CliResult

BARS = 3_000
PAGE = 500


@pytest.fixture
def venue() -> Iterator[FakeBinance]:
    """A fake Binance whose whole history of 3,000 one-minute bars is visible."""
    bars = simulate_bars(seed=5, bars=BARS, symbol="BTC/USDT", start_price=60_000.0)
    with FakeBinance(spot={"BTC/USDT": bars}, history=BARS) as server:
        yield server


@pytest.fixture
def tradekit(venue: FakeBinance, tmp_path: Path) -> ExchangeCli:
    """The ``tradekit`` command in-process in a fresh folder, downloading from the fake venue with two retries."""
    return ExchangeCli(tmp_path, "binance", {"api_url": venue.url, "retries": "2"})


def span(venue: FakeBinance) -> tuple[str, str, list[tuple]]:
    """``--from`` and ``--to`` covering every bar, and the venue's candles."""
    assert venue.spot is not None
    candles = venue.spot.candles("BTC/USDT", None, None, None)
    first = datetime.fromtimestamp(candles[0][0] / 1000, tz=UTC)
    end = datetime.fromtimestamp((candles[-1][0] + 60_000) / 1000, tz=UTC)
    return f"{first:%Y-%m-%dT%H:%M}", f"{end:%Y-%m-%dT%H:%M}", candles


def klines(request: Request) -> bool:
    return request.path == "/api/v3/klines"


def download(tradekit: ExchangeCli, start: str, end: str) -> CliResult:
    return tradekit(
        "data",
        "download",
        "--exchange",
        "binance",
        "--symbol",
        "BTC/USDT",
        "--timeframe",
        "1m",
        "--from",
        start,
        "--to",
        end,
        "--page-size",
        str(PAGE),
    )


def test_a_download_pages_through_the_range_into_one_parquet_file_backtests_read(
    tradekit: ExchangeCli, venue: FakeBinance, tmp_path: Path
) -> None:
    start, end, candles = span(venue)
    result = download(tradekit, start, end)
    assert result.exit_code == 0, result.stderr
    target = tmp_path / "data" / "binance" / "BTC_USDT-1m.parquet"
    series = load_bars(target)
    assert (series.symbol, series.timeframe, len(series)) == ("BTC/USDT", "1m", BARS)
    assert np.array_equal(series.timestamps // 1_000_000, [c[0] for c in candles])
    assert np.array_equal(series.close, [float(c[4]) for c in candles])
    assert len(venue.matching(klines)) == BARS // PAGE  # six full pages: it stops at --to without asking more
    assert not (tmp_path / "data" / "binance" / "BTC_USDT-1m.parquet.parts").exists()
    backtest = tradekit("backtest", "--strategy", "sma_cross", "--data", str(target), "--no-files")
    assert backtest.exit_code == 0, backtest.stderr


def test_an_interrupted_download_resumes_after_its_last_page_and_ends_identical(
    tradekit: ExchangeCli, venue: FakeBinance, tmp_path: Path
) -> None:
    start, end, candles = span(venue)
    served = 0

    def after_three_pages(request: Request) -> bool:
        nonlocal served
        if klines(request):
            served += 1
        return klines(request) and served > 3

    venue.inject("error", after_three_pages, times=2)  # as many as the retries: the download gives up
    broken = download(tradekit, start, end)
    assert broken.exit_code == 1
    assert "did not answer usably" in broken.stderr
    parts = sorted((tmp_path / "data" / "binance" / "BTC_USDT-1m.parquet.parts").glob("*.parquet"))
    assert len(parts) == 3
    before = len(venue.requests)
    resumed = download(tradekit, start, end)
    assert resumed.exit_code == 0, resumed.stderr
    assert "resumed 1,500 new bars" in resumed.stderr
    first_request = next(r for r in venue.requests[before:] if klines(r))
    assert int(first_request.params["startTime"]) == candles[3 * PAGE][0]  # right after the stored pages
    series = load_bars(tmp_path / "data" / "binance" / "BTC_USDT-1m.parquet")
    assert len(series) == BARS
    assert np.array_equal(series.timestamps // 1_000_000, [c[0] for c in candles])


def test_a_range_the_venue_has_no_bars_for_is_a_clear_error(tradekit: ExchangeCli, venue: FakeBinance) -> None:
    _, end, _ = span(venue)
    result = download(tradekit, end, "2100-01-01")
    assert result.exit_code == 2
    assert "returned no 1m bars of BTC/USDT" in result.stderr
