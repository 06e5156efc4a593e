"""``tradekit data download --exchange mt5``: real EURUSD hours, weekends and all, through ``copy_rates_*``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tradekit_mt5.testing import FakeSymbol, FakeTerminal

from tradekit.data import load_bars
from tradekit.domain.bars import BarSeries

SYMBOL = "EURUSD"


EURUSD_1H = "backtestingpy_EURUSD-1h_2017-2018.csv"


@pytest.fixture
def real_hours(monkeypatch: pytest.MonkeyPatch, tk_data_file: Callable[[str], Path]) -> tuple[FakeTerminal, BarSeries]:
    """A fake terminal whose EURUSD history is 5,000 real hours (2017-04-19 to 2018-02-07); the last is forming."""
    bars = load_bars(tk_data_file(EURUSD_1H))
    terminal = FakeTerminal({SYMBOL: (FakeSymbol(), bars)}, history=len(bars) - 1)
    terminal.install(monkeypatch)
    return terminal, bars


def download(tradekit: Callable[..., Any], start: str, end: str, page: int) -> Any:
    return tradekit(
        "data",
        "download",
        "--exchange",
        "mt5",
        "--symbol",
        SYMBOL,
        "--timeframe",
        "1h",
        "--from",
        start,
        "--to",
        end,
        "--page-size",
        str(page),
    )


def test_a_download_pages_across_weekends_into_the_terminals_closed_bars(
    real_hours: tuple[FakeTerminal, BarSeries], tradekit: Callable[..., Any], tmp_path: Path
) -> None:
    terminal, bars = real_hours
    result = download(tradekit, "2017-04-19T09:00", "2018-03-01", page=24)  # a page is shorter than a weekend
    assert result.code == 0, result.err
    series = load_bars(tmp_path / "data" / "mt5" / "EURUSD-1h.parquet")
    closed = len(bars) - 1  # the terminal's last bar is still forming
    assert (series.symbol, series.timeframe, len(series)) == (SYMBOL, "1h", closed)
    assert np.array_equal(series.timestamps, bars.timestamps[:closed])
    assert np.allclose(series.close, bars.close[:closed], rtol=0, atol=1e-9)
    assert np.array_equal(series.volume, bars.volume[:closed])
    weekends = np.diff(series.timestamps) > 3_600 * 10**9
    assert weekends.sum() >= 40
    assert terminal.called("copy_rates_range") >= closed // 24
    backtest = tradekit("backtest", "--strategy", "sma_cross", "--data", str(series_path(tmp_path)), "--no-files")
    assert backtest.code == 0, backtest.err


def series_path(folder: Path) -> Path:
    return folder / "data" / "mt5" / "EURUSD-1h.parquet"


def test_a_range_the_terminal_has_no_bars_for_is_a_clear_error(
    real_hours: tuple[FakeTerminal, BarSeries], tradekit: Callable[..., Any]
) -> None:
    result = download(tradekit, "2019-01-01", "2019-02-01", page=500)
    assert result.code == 2
    assert "returned no 1h bars of EURUSD" in result.err


def test_a_timeframe_metatrader_lacks_is_refused_naming_the_ones_it_has(
    real_hours: tuple[FakeTerminal, BarSeries], tradekit: Callable[..., Any]
) -> None:
    result = tradekit(
        "data", "download", "--exchange", "mt5", "--symbol", SYMBOL, "--timeframe", "3d", "--from", "2017-05-01"
    )
    assert result.code == 2
    assert "MetaTrader 5 has no '3d' bars" in result.err and "1h" in result.err
