"""Backtest statistics checked against values computed by hand, edge cases and scale."""

from __future__ import annotations

import itertools
import json
import math
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradekit.report import Trade, compute_stats, drawdown, periods_per_year

DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9
START_NS = 1_704_067_200 * 10**9  # 2024-01-01 00:00 UTC

EQUITY_10 = [100.0, 102.0, 101.0, 105.0, 103.0, 99.0, 104.0, 108.0, 107.0, 110.0]


def closed_trade(pnl: str, *, open_: bool = False) -> Trade:
    entry = datetime(2024, 1, 1, tzinfo=UTC)
    return Trade(
        symbol="BTC/USDT",
        direction="long",
        entry_time=entry,
        exit_time=None if open_ else entry + timedelta(days=1),
        entry_price=Decimal(100),
        exit_price=None if open_ else Decimal(100) + Decimal(pnl),
        quantity=Decimal(1),
        pnl=Decimal(pnl),
        fees=Decimal(0),
        return_pct=float(pnl),
        entry_fills=1,
        exit_fills=0 if open_ else 1,
    )


def daily(n: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    return START_NS + np.arange(n, dtype=np.int64) * DAY_NS


def stats_for(equity: list[float], **overrides: Any) -> Any:
    n = len(equity)
    arguments: dict[str, Any] = {
        "trades": [],
        "fees_paid": Decimal(0),
        "in_market": np.zeros(n, dtype=bool),
        "close": np.full(n, 50.0),
    }
    arguments.update(overrides)
    timestamps = arguments.pop("timestamps", daily(n))
    return compute_stats(timestamps, np.array(equity), **arguments)


def test_periods_per_year_counts_365_day_years_of_bars() -> None:
    assert periods_per_year(daily(30)) == 365.0
    assert periods_per_year(START_NS + np.arange(30, dtype=np.int64) * HOUR_NS) == 8760.0
    assert periods_per_year(START_NS + np.arange(30, dtype=np.int64) * 60 * 10**9) == 525_600.0


def test_periods_per_year_ignores_a_gap_in_the_data() -> None:
    hours = START_NS + np.arange(100, dtype=np.int64) * HOUR_NS
    hours[50:] += 34 * HOUR_NS  # an exchange outage
    assert periods_per_year(hours) == 8760.0


def test_periods_per_year_needs_two_increasing_timestamps() -> None:
    with pytest.raises(ValueError, match="from 1 timestamp"):
        periods_per_year(daily(1))
    with pytest.raises(ValueError, match="must increase"):
        periods_per_year(np.full(5, START_NS, dtype=np.int64))


def test_stats_of_a_ten_day_curve_match_a_hand_calculation() -> None:
    in_market = np.array([0, 1, 1, 1, 1, 1, 1, 0, 0, 0], dtype=bool)
    close = np.array([20.0, 21, 22, 23, 24, 25, 24, 23, 22, 25])
    trades = [closed_trade("30"), closed_trade("-10"), closed_trade("5"), closed_trade("7", open_=True)]
    stats = stats_for(EQUITY_10, trades=trades, fees_paid=Decimal("1.25"), in_market=in_market, close=close)

    returns = [b / a - 1 for a, b in itertools.pairwise(EQUITY_10)]
    mean = statistics.fmean(returns)
    sharpe = mean / statistics.stdev(returns) * math.sqrt(365)
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    years = 9 / 365.25
    cagr = ((110 / 100) ** (1 / years) - 1) * 100
    max_dd = (99 / 105 - 1) * 100  # peak 105 on day 3, trough 99 on day 5

    assert stats.bars == 10
    assert stats.start == datetime(2024, 1, 1, tzinfo=UTC)
    assert stats.end == datetime(2024, 1, 10, tzinfo=UTC)
    assert (stats.start_equity, stats.end_equity) == (100.0, 110.0)
    assert stats.total_return_pct == pytest.approx(10.0)
    assert stats.sharpe == pytest.approx(sharpe, rel=1e-12)
    assert stats.sortino == pytest.approx(mean / downside * math.sqrt(365), rel=1e-12)
    assert stats.cagr_pct == pytest.approx(cagr, rel=1e-9)
    assert stats.max_drawdown_pct == pytest.approx(max_dd, rel=1e-12)
    assert stats.calmar == pytest.approx(cagr / abs(max_dd), rel=1e-9)
    # 105 on day 3 is regained on day 7 (108): four days; the earlier dip lasted two.
    assert stats.max_drawdown_duration == timedelta(days=4)
    assert stats.profit_factor == pytest.approx(35 / 10)
    assert stats.win_rate_pct == pytest.approx(200 / 3)
    assert stats.trades == 4  # the open one counts as a trade, not in win rate or profit factor
    assert stats.exposure_pct == pytest.approx(60.0)
    assert stats.fees_paid == Decimal("1.25")
    assert stats.buy_and_hold_return_pct == pytest.approx(25.0)


def test_drawdown_series_is_the_fall_from_the_running_peak() -> None:
    series, max_dd, duration = drawdown(np.array(EQUITY_10))
    peaks = [max(EQUITY_10[: i + 1]) for i in range(10)]
    assert series == pytest.approx([e / p - 1 for e, p in zip(EQUITY_10, peaks, strict=True)])
    assert max_dd == pytest.approx(99 / 105 - 1)
    assert duration == 4


def test_a_drawdown_never_recovered_lasts_until_the_last_bar() -> None:
    _, max_dd, duration = drawdown(np.array([100.0, 110.0, 90.0, 95.0, 100.0]))
    assert max_dd == pytest.approx(90 / 110 - 1)
    assert duration == 3
    stats = stats_for([100.0, 110.0, 90.0, 95.0, 100.0])
    assert stats.max_drawdown_duration == timedelta(days=3)


def test_drawdown_duration_in_time_follows_timestamps_across_a_gap_in_the_data() -> None:
    equity = [100.0, 99.0, 98.0, 100.0, 101.0, 100.0, 101.5]
    hours = np.array([0, 1, 2, 3, 4, 100, 101], dtype=np.int64) * HOUR_NS + START_NS
    # In bars the first dip (3 bars) is longest; in time the second (4h -> 101h) is.
    assert drawdown(np.array(equity))[2] == 3
    stats = stats_for(equity, timestamps=hours)
    assert stats.max_drawdown_duration == timedelta(hours=97)


def _reference_drawdown(equity: list[float]) -> tuple[float, int]:
    """Max drawdown and longest peak-to-recovery span in bars, by a plain loop."""
    peak, peak_index, worst, longest, underwater = equity[0], 0, 0.0, 0, False
    for i, value in enumerate(equity):
        if value >= peak:
            if underwater:
                longest = max(longest, i - peak_index)
            peak, peak_index, underwater = value, i, False
        else:
            underwater = True
        worst = min(worst, value / peak - 1)
    if underwater:
        longest = max(longest, len(equity) - 1 - peak_index)
    return worst, longest


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=1.0, max_value=1e6, allow_nan=False), min_size=1, max_size=200))
def test_vectorised_drawdown_matches_a_plain_loop(equity: list[float]) -> None:
    _, max_dd, duration = drawdown(np.array(equity))
    worst, longest = _reference_drawdown(equity)
    assert max_dd == pytest.approx(worst, abs=1e-15)
    assert duration == longest


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=80),  # few levels: many ties
    st.lists(st.integers(min_value=-5, max_value=5), max_size=30),
)
def test_drawdown_time_and_trade_ratios_of_the_stats_match_plain_loops(levels: list[int], pnls: list[int]) -> None:
    equity = [float(level) for level in levels]
    times = START_NS + np.cumsum(np.arange(len(equity)) % 3) * HOUR_NS  # uneven spacing
    stats = stats_for(equity, timestamps=times, trades=[closed_trade(str(p)) for p in pnls])

    peak, peak_index, longest, underwater = equity[0], 0, 0, False
    for i, value in enumerate(equity):
        if value >= peak:
            if underwater:
                longest = max(longest, int(times[i] - times[peak_index]))
            peak, peak_index, underwater = value, i, False
        else:
            underwater = True
    if underwater:
        longest = max(longest, int(times[-1] - times[peak_index]))
    assert stats.max_drawdown_duration == timedelta(microseconds=longest // 1000)

    profit = sum(p for p in pnls if p > 0)
    loss = -sum(p for p in pnls if p < 0)
    if not pnls:
        assert math.isnan(stats.profit_factor) and math.isnan(stats.win_rate_pct)
        return
    if loss:
        assert stats.profit_factor == profit / loss
    elif profit:
        assert stats.profit_factor == math.inf
    else:
        assert math.isnan(stats.profit_factor)  # every closed trade broke even
    assert stats.win_rate_pct == sum(1 for p in pnls if p > 0) / len(pnls) * 100.0


def test_zero_trades_leave_trade_ratios_undefined_not_crashing() -> None:
    stats = stats_for(EQUITY_10)
    assert stats.trades == 0
    assert math.isnan(stats.profit_factor)
    assert math.isnan(stats.win_rate_pct)
    assert stats.exposure_pct == 0.0


def test_a_flat_equity_curve_has_no_sharpe_and_no_drawdown() -> None:
    stats = stats_for([1000.0] * 10)
    assert math.isnan(stats.sharpe)
    assert math.isnan(stats.sortino)
    assert math.isnan(stats.calmar)
    assert stats.max_drawdown_pct == 0.0
    assert stats.max_drawdown_duration == timedelta(0)
    assert stats.total_return_pct == 0.0
    assert stats.cagr_pct == 0.0


def test_a_curve_that_only_rises_has_infinite_sortino_and_profit_factor() -> None:
    stats = stats_for([100.0, 101.0, 103.0, 104.0], trades=[closed_trade("4")])
    assert math.isinf(stats.sortino) and stats.sortino > 0
    assert math.isinf(stats.profit_factor)
    assert stats.win_rate_pct == 100.0
    assert math.isnan(stats.calmar)  # no drawdown to divide by


def test_a_constant_growth_rate_is_no_variability_so_sharpe_is_undefined() -> None:
    stats = stats_for([100.0 * 1.01**i for i in range(50)])
    assert math.isnan(stats.sharpe)


def test_a_one_bar_run_gives_stats_without_annualised_ratios() -> None:
    stats = stats_for([500.0])
    assert stats.bars == 1
    assert stats.start == stats.end
    assert stats.total_return_pct == 0.0
    assert math.isnan(stats.sharpe) and math.isnan(stats.sortino) and math.isnan(stats.cagr_pct)
    assert stats.max_drawdown_duration == timedelta(0)


def test_a_wiped_out_account_reports_minus_100_percent_without_warnings() -> None:
    stats = stats_for([100.0, 50.0, 0.0, 0.0])
    assert stats.total_return_pct == -100.0
    assert stats.cagr_pct == -100.0
    assert stats.max_drawdown_pct == -100.0
    assert math.isnan(stats.sharpe)  # the return after zero equity is undefined


def test_an_explicit_periods_per_year_scales_the_sharpe_ratio() -> None:
    base = stats_for(EQUITY_10)
    stocks = stats_for(EQUITY_10, periods_per_year=252)
    assert stocks.sharpe == pytest.approx(base.sharpe * math.sqrt(252 / 365))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"in_market": np.zeros(3, dtype=bool)}, "in_market has 3 values but the equity curve has 10"),
        ({"close": np.ones(11)}, "close has 11 values"),
        ({"timestamps": daily(10)[::-1].copy()}, "must not go backwards"),
        ({"periods_per_year": 0}, "periods_per_year must be positive"),
    ],
)
def test_inconsistent_inputs_are_refused_with_the_values(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stats_for(EQUITY_10, **change)


def test_an_equity_curve_that_is_empty_not_finite_or_not_positive_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        drawdown(np.array([]))
    with pytest.raises(ValueError, match="bar 2 is nan"):
        drawdown(np.array([1.0, 2.0, math.nan]))
    with pytest.raises(ValueError, match=r"starts at 0\.0"):
        drawdown(np.array([0.0, 1.0]))


def test_as_dict_is_strict_json_with_iso_times_and_exact_fees() -> None:
    stats = stats_for([100.0, 101.0, 103.0], trades=[closed_trade("4")], fees_paid=Decimal("0.00012345"))
    data = stats.as_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    assert data["start"] == "2024-01-01T00:00:00+00:00"
    assert data["fees_paid"] == "0.00012345"
    assert data["profit_factor"] == "inf"
    assert data["calmar"] is None
    assert data["max_drawdown_duration"] == 0.0
    assert set(data) == set(stats.__dataclass_fields__)


def test_a_million_bar_curve_is_summarised_in_well_under_a_second() -> None:
    n = 1_000_000
    rng = np.random.default_rng(7)
    equity = 10_000.0 * np.cumprod(1.0 + rng.normal(0.0, 0.001, n))
    timestamps = START_NS + np.arange(n, dtype=np.int64) * 60 * 10**9
    in_market = rng.random(n) < 0.4
    started = time.perf_counter()
    stats = compute_stats(timestamps, equity, trades=[], fees_paid=Decimal(0), in_market=in_market, close=equity)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"compute_stats took {elapsed:.2f}s for 1,000,000 bars"
    returns = np.diff(equity) / equity[:-1]
    assert stats.sharpe == pytest.approx(returns.mean() / returns.std(ddof=1) * math.sqrt(525_600))
    assert stats.total_return_pct == pytest.approx(stats.buy_and_hold_return_pct)


def test_buy_and_hold_on_real_hourly_bitcoin_matches_pandas(tk_data_file: Any) -> None:
    import pandas as pd

    path: Path = tk_data_file("binance_BTC_USDT-1h_20170817-20240421.feather")
    frame = pd.read_feather(path)
    timestamps = frame["date"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    close = frame["close"].to_numpy(dtype=np.float64)
    equity = close / close[0] * 10_000.0
    stats = compute_stats(
        timestamps,
        equity,
        trades=[],
        fees_paid=Decimal(0),
        in_market=np.ones(len(close), dtype=bool),
        close=close,
    )
    returns = pd.Series(equity).pct_change().dropna()
    # 28 outages in the file do not change the median spacing: one hour.
    assert periods_per_year(timestamps) == 8760.0
    assert stats.sharpe == pytest.approx(returns.mean() / returns.std() * math.sqrt(8760), rel=1e-9)
    assert stats.total_return_pct == pytest.approx(stats.buy_and_hold_return_pct, rel=1e-12)
    running_peak = pd.Series(equity).cummax()
    assert stats.max_drawdown_pct == pytest.approx(((equity / running_peak) - 1).min() * 100, rel=1e-12)
    assert stats.exposure_pct == 100.0
    assert stats.start == datetime(2017, 8, 17, 4, tzinfo=UTC)
