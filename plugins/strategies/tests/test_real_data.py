"""Every strategy on every real 1m, 5m and 1h file: full backtests, no lookahead, live equal to backtest.

* A full backtest of each single-symbol strategy on each file runs without an
  error, a refused order or an engine error, and trades.
* No lookahead: on a window of each file, the bars after a cut are altered
  (prices mirrored around the cut bar's close); every decision up to the cut
  must stay the same, quantity and price included.
* Live equals backtest: the same window fed one bar at a time through the live
  loop (no ``prepare``, indicators updated bar by bar) gives the backtest's
  decisions, bar for bar.
* ``pairs`` does all of this on the BTC and ETH 5m files of the same period.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from tradekit_strategies.breakout import Breakout
from tradekit_strategies.mean_reversion import MeanReversion
from tradekit_strategies.momentum import Momentum
from tradekit_strategies.pairs import Pairs, PairsSettings
from tradekit_strategies.volatility_expansion import VolatilityExpansion

from tradekit.domain.bars import BarSeries
from tradekit.domain.instruments import InstrumentKind
from tradekit.indicators import price_scale, spread_zscore
from tradekit.plugin import Strategy

SINGLE: dict[str, Callable[[], Strategy]] = {
    "momentum": Momentum,
    "mean_reversion": MeanReversion,
    "breakout": Breakout,
    "volatility_expansion": VolatilityExpansion,
}

# Every 1m, 5m and 1h file of ../shared/data (see its README.md).
FILES = [
    "binance_BTC_USDT-1m_20250520-20250818.feather",
    "binance_BTC_USDT-1m_20240726-20240825.feather",
    "freqtrade_UNITTEST_BTC-1m.json",
    "binance_BTC_USDT-5m_20240301-20250702.feather",
    "binance_BTC_USDT-5m_20201201-20210717.json",
    "binance_ETH_USDT-5m_20201201-20210717.json",
    "binance_BTC_USDT-1h_20170817-20240421.feather",
    "backtestingpy_EURUSD-1h_2017-2018.csv",
    "coinbase_BTCUSD-1h_20170701-20191017_cryptodatadownload.csv",
]
REFUSED_BY_THE_LOADER = {
    "coinbase_BTCUSD-1h_20170701-20191017_cryptodatadownload.csv": (
        "the kernel's loader refuses this export: five rows are out of time order, copies of other hours "
        "(2017-11-12), so no strategy can be run on it as it is"
    )
}
PAIR = ("binance_BTC_USDT-5m_20201201-20210717.json", "binance_ETH_USDT-5m_20201201-20210717.json")
WINDOW = 2_500


def load(kit, name: str) -> BarSeries:
    if name in REFUSED_BY_THE_LOADER:
        from tradekit.errors import DataError

        kit.real_file(name)  # skips where the file is absent
        with pytest.raises(DataError, match=r"out of order|not earlier"):
            kit.load_real(name)
        pytest.skip(REFUSED_BY_THE_LOADER[name])
    return kit.load_real(name)


def middle(series: BarSeries, length: int = WINDOW) -> BarSeries:
    """``length`` bars from the middle of ``series`` (all of it when shorter)."""
    start = max(0, (len(series) - length) // 2)
    return series.slice(start, start + length)


def mirrored_after(series: BarSeries, cut: int) -> BarSeries:
    """``series`` with every price after bar ``cut`` mirrored around bar ``cut``'s close (on a log scale)."""
    pivot = float(series.close[cut])
    # Kept on the data's own price grid: the paper exchange reads the tick from the prices.
    scale = price_scale(np.concatenate([series.open, series.close]))

    def mirror(values: np.ndarray, after: np.ndarray) -> np.ndarray:
        out = values.copy()
        out[cut + 1 :] = np.rint(pivot * pivot / after[cut + 1 :] * scale) / scale
        return out

    return BarSeries(
        symbol=series.symbol,
        timeframe=series.timeframe,
        timestamps=series.timestamps,
        open=mirror(series.open, series.open),
        high=mirror(series.high, series.low),  # mirrored lows are the new highs
        low=mirror(series.low, series.high),
        close=mirror(series.close, series.close),
        volume=series.volume,
        source=f"{series.source} mirrored after bar {cut}",
    )


def cuts_at_decisions(run, length: int, count: int = 4) -> list[int]:
    """Bars to cut at: bars where the strategy decided (where peeking would show), spread over the run."""
    decided = sorted({d.index for d in run.decisions if 0 < d.index < length - 2})
    if len(decided) < count:
        return sorted({*decided, *(length * (k + 1) // (count + 1) for k in range(count))})
    return [decided[len(decided) * k // count + len(decided) // (2 * count)] for k in range(count)]


def assert_no_lookahead(kit, make: Callable[[], Strategy], data: dict[str, BarSeries], instruments=None) -> None:
    base = kit.backtest(make(), data, instruments=instruments)
    length = len(next(iter(data.values())))
    assert base.decisions, "the strategy made no decision on this window; the check would prove nothing"
    later_changed = False
    for cut in cuts_at_decisions(base, length):
        altered = {symbol: mirrored_after(series, cut) for symbol, series in data.items()}
        other = kit.backtest(make(), altered, instruments=instruments)
        moment = next(iter(data.values())).datetime_at(cut)
        assert other.keys(until=moment) == base.keys(until=moment), f"decisions up to bar {cut} changed"
        later_changed |= other.keys() != base.keys()
    assert later_changed, "altering the later bars changed no later decision either: the alteration proves nothing"


def assert_live_matches_backtest(
    kit, make: Callable[[], Strategy], data: dict[str, BarSeries], instruments=None
) -> None:
    backtested = kit.backtest(make(), data, instruments=instruments)
    every_bar = kit.backtest(make(), data, instruments=instruments, every_bar=True)
    live, _ = kit.live(make(), data, instruments=instruments)
    assert backtested.decisions, "the strategy made no decision on this window; the check would prove nothing"
    assert every_bar.keys() == backtested.keys(), "wakeups() left out a bar on which the strategy acts"
    assert live.keys() == backtested.keys()


# --- single-symbol strategies ---------------------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("strategy", list(SINGLE))
def test_full_backtest_on_every_real_file_runs_and_trades(kit, strategy: str, name: str) -> None:
    series = load(kit, name)
    run = kit.backtest(SINGLE[strategy](), series)
    stats = run.engine.stats
    assert (stats.rejected, stats.risk_rejections, stats.errors) == (0, 0, 0)
    assert len(run.fills) >= 2, "the strategy never completed a trade on the whole file"
    assert run.engine.ledger.cash[run.engine.quote_currency] >= 0
    assert run.engine.ledger.quantity(series.symbol) >= 0  # long only


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("strategy", list(SINGLE))
def test_no_decision_changes_when_later_bars_are_altered(kit, strategy: str, name: str) -> None:
    series = middle(load(kit, name))
    assert_no_lookahead(kit, SINGLE[strategy], {series.symbol: series})


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("strategy", list(SINGLE))
def test_live_run_decides_as_the_backtest_on_real_bars(kit, strategy: str, name: str) -> None:
    series = middle(load(kit, name), 1_500)
    assert_live_matches_backtest(kit, SINGLE[strategy], {series.symbol: series})


@pytest.mark.parametrize("strategy", list(SINGLE))
def test_indicators_over_whole_arrays_equal_the_ones_fed_bar_by_bar(kit, strategy: str) -> None:
    """What ``prepare`` computes (TA-Lib where it fits) is what a live run computes, bit for bit."""
    series = middle(kit.load_real("binance_BTC_USDT-1m_20240726-20240825.feather"), 4_000)
    columns = {"open": series.open, "high": series.high, "low": series.low, "close": series.close}
    whole = SINGLE[strategy]().indicators().compute(columns)
    declared = SINGLE[strategy]().indicators()
    for i in range(len(series)):
        values = declared.update({name: column[i] for name, column in columns.items()})
        for name, value in values.items():
            assert np.array_equal(value, whole[name][i], equal_nan=True), (name, i)


# --- pairs -------------------------------------------------------------------------------------------


def btc_and_eth(kit) -> dict[str, BarSeries]:
    from tradekit.engine.backtest import align

    btc, eth = (kit.load_real(name) for name in PAIR)
    return align({btc.symbol: btc, eth.symbol: eth})


def pair_window(data: dict[str, BarSeries], length: int) -> dict[str, BarSeries]:
    return {symbol: middle(series, length) for symbol, series in data.items()}


def test_pairs_full_backtest_on_btc_and_eth_5m_trades_the_cheap_leg_on_spot(kit) -> None:
    data = btc_and_eth(kit)
    assert list(data) == ["BTC/USDT", "ETH/USDT"] and len(data["BTC/USDT"]) > 65_000
    run = kit.backtest(Pairs(), data)
    stats = run.engine.stats
    assert (stats.rejected, stats.errors) == (0, 0)
    bought = {fill.symbol for fill in run.fills if fill.side.value == "buy"}
    assert bought == {"BTC/USDT", "ETH/USDT"}
    assert all(run.engine.ledger.quantity(symbol) >= 0 for symbol in data)  # spot: never short


def test_pairs_full_backtest_on_btc_and_eth_5m_long_short_on_perpetuals(kit) -> None:
    data = btc_and_eth(kit)
    perpetuals = kit.instruments_for(data, kind=InstrumentKind.PERPETUAL)
    run = kit.backtest(Pairs(), data, instruments=perpetuals)
    stats = run.engine.stats
    assert (stats.rejected, stats.errors) == (0, 0)
    entries = [d for d in run.decisions if d.tag in ("pairs entry", "pairs hedge")]
    assert len(entries) >= 20 and len(entries) % 2 == 0
    beta = spread_zscore(np.log(data["BTC/USDT"].close), np.log(data["ETH/USDT"].close), 288)[0]
    # Each entry trades both legs on one bar: opposite sides for a positive hedge ratio, the same for a negative.
    for leg, hedge in zip(entries[::2], entries[1::2], strict=True):
        assert (leg.time, leg.symbol, hedge.symbol) == (hedge.time, "BTC/USDT", "ETH/USDT")
        assert (leg.side != hedge.side) == (beta[leg.index] > 0)
    assert any(leg.side == "sell" for leg in entries[::2]) and any(leg.side == "buy" for leg in entries[::2])


def test_pairs_makes_no_decision_from_later_bars(kit) -> None:
    data = pair_window(btc_and_eth(kit), 3_000)
    assert_no_lookahead(kit, lambda: Pairs(PairsSettings(lookback=144)), data)
    perpetuals = kit.instruments_for(data, kind=InstrumentKind.PERPETUAL)
    assert_no_lookahead(kit, lambda: Pairs(PairsSettings(lookback=144)), data, instruments=perpetuals)


def test_pairs_live_run_decides_as_the_backtest(kit) -> None:
    data = pair_window(btc_and_eth(kit), 2_000)
    assert_live_matches_backtest(kit, lambda: Pairs(PairsSettings(lookback=144)), data)
    perpetuals = kit.instruments_for(data, kind=InstrumentKind.PERPETUAL)
    assert_live_matches_backtest(kit, lambda: Pairs(PairsSettings(lookback=144)), data, instruments=perpetuals)
