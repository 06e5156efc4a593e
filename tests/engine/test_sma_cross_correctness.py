"""sma_cross through the whole engine gives the trade list of an independent numpy implementation.

Conventions (the engine issue's): SMA(10)/SMA(30), long only, enter 1 unit when
fast crosses strictly above slow, exit the whole position on a strict cross
below, filled at the signal bar's close, no fees, 1,000,000 cash.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from tradekit.registry import Registry
from tradekit.session import run_backtest
from tradekit.settings import load_settings
from tradekit.testing.real_data import shared_data_file

FILE = "binance_BTC_USDT-1m_20250520-20250818.feather"


def reference_trades(close: np.ndarray, fast: int, slow: int) -> list[tuple[int, float, int | None, float | None]]:
    """(entry bar, entry price, exit bar, exit price), with plain numpy and a Python loop.

    Averages are compared exactly: prices become whole cents, each window is
    summed on its own in integers, and ``fast_mean > slow_mean`` is
    ``sum_fast * slow > sum_slow * fast``. Equal windows give equal values.
    """
    cents = np.rint(close * 100).astype(np.int64)
    assert np.array_equal(cents / 100, close), "the file's prices are whole cents"
    sum_fast = np.zeros(len(close), dtype=np.int64)
    sum_slow = np.zeros(len(close), dtype=np.int64)
    sum_fast[fast - 1 :] = sliding_window_view(cents, fast).sum(axis=1)
    sum_slow[slow - 1 :] = sliding_window_view(cents, slow).sum(axis=1)
    left, right = sum_fast * slow, sum_slow * fast
    trades: list[tuple[int, float, int | None, float | None]] = []
    holding = False
    entry = 0
    for i in range(slow, len(close)):
        crossed_up = left[i] > right[i] and left[i - 1] <= right[i - 1]
        crossed_down = left[i] < right[i] and left[i - 1] >= right[i - 1]
        if not holding and crossed_up:
            holding, entry = True, i
        elif holding and crossed_down:
            trades.append((entry, float(close[entry]), i, float(close[i])))
            holding = False
    if holding:
        trades.append((entry, float(close[entry]), None, None))
    return trades


def engine_trades(path: Path, tmp_path: Path, *, skip_idle_bars: bool):  # type: ignore[no-untyped-def]
    settings = load_settings(
        None,
        {
            "strategy": "sma_cross",
            "journal": tmp_path / f"journal-{skip_idle_bars}.sqlite3",
            "backtest": {"cash": "1000000", "fee": "0", "fill_at": "close", "skip_idle_bars": skip_idle_bars},
            "plugins": {"strategy": {"sma_cross": {"fast": 10, "slow": 30, "quantity": "1"}}},
        },
    )
    return run_backtest(settings, Registry(), origin="test", data_paths=[path])


@pytest.fixture(scope="module")
def btc_1m() -> Path:
    return shared_data_file(FILE)


def test_trade_list_equals_an_independent_numpy_implementation(btc_1m: Path, tmp_path: Path) -> None:
    result = engine_trades(btc_1m, tmp_path, skip_idle_bars=True)
    series = next(iter(result.data.values()))
    assert len(series) == 130_708
    expected = reference_trades(series.close, 10, 30)
    ts = series.timestamps
    index_of = {int(t): i for i, t in enumerate(ts)}
    got = [
        (
            index_of[int(trade.entry_time.timestamp() * 1_000_000) * 1000],
            float(trade.entry_price),
            None if trade.exit_time is None else index_of[int(trade.exit_time.timestamp() * 1_000_000) * 1000],
            None if trade.exit_price is None else float(trade.exit_price),
        )
        for trade in result.trades
    ]
    assert len(expected) > 1000
    assert got == expected
    assert all(trade.quantity == Decimal(1) for trade in result.trades)
    assert result.stats.fees_paid == 0


def test_bars_where_the_averages_are_equal_are_not_crosses(tmp_path: Path) -> None:
    """Flat stretches make SMA(3) and SMA(5) exactly equal; leaving equality upward is the one cross.

    With float means, 0.1 + 0.1 + 0.1 is not 3 * 0.1, so a flat price at 0.1
    could look like a cross; the exact sums cannot.
    """
    from tradekit.indicators import exact_sma_crossings

    close = np.array([0.1] * 12 + [0.2] + [0.1] * 12 + [0.09])
    up, down = exact_sma_crossings(close, 3, 5)
    assert np.flatnonzero(up).tolist() == [12]
    # Down at 15 (the spike leaves the fast window), not on the flat bars after
    # it, and again at 25 when the price leaves equality downward.
    assert np.flatnonzero(down).tolist() == [15, 25]
    ref = reference_trades(close, 3, 5)
    assert [(entry, exit_) for entry, _, exit_, _ in ref] == [(12, 15)]
    float_fast, float_slow = (sliding_window_view(close, n).mean(axis=1)[5 - n :] for n in (3, 5))
    assert np.any(float_fast[:10] != float_slow[:10]), "float means of a flat 0.1 differ: why exact sums"


def test_jumping_over_idle_bars_gives_the_same_trades_as_visiting_every_bar(btc_1m: Path, tmp_path: Path) -> None:
    fast_run = engine_trades(btc_1m, tmp_path, skip_idle_bars=True)
    full_run = engine_trades(btc_1m, tmp_path, skip_idle_bars=False)
    assert fast_run.trades == full_run.trades
    assert np.array_equal(fast_run.outcome.equity, full_run.outcome.equity)
    assert fast_run.outcome.visited_bars < full_run.outcome.visited_bars / 5


def test_deciding_bar_by_bar_from_history_gives_the_prepared_trades(
    btc_1m: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live run never calls prepare(): on_bar then decides from ctx.history() alone, with the same result."""
    from tradekit.builtin_strategies import SmaCross

    prepared = engine_trades(btc_1m, tmp_path, skip_idle_bars=False)
    monkeypatch.setattr(SmaCross, "prepare", lambda self, data: None)
    from_history = engine_trades(btc_1m, tmp_path, skip_idle_bars=False)
    assert from_history.trades == prepared.trades
    assert len(prepared.trades) > 1000
