"""Each strategy's entry and exit rules on hand-made price paths, through the engine's backtest loop.

Every path is short and its indicator values are worked out in the comments
(or, for the regression of ``pairs``, asserted from the kernel's function first),
so each test shows on which bar a rule must hold and checks that the strategy
traded there, at that bar's price, and nowhere else.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from tradekit_strategies.breakout import Breakout, BreakoutSettings
from tradekit_strategies.mean_reversion import MeanReversion, MeanReversionSettings
from tradekit_strategies.momentum import Momentum, MomentumSettings
from tradekit_strategies.pairs import Pairs, PairsSettings
from tradekit_strategies.volatility_expansion import VolatilityExpansion, VolatilityExpansionSettings

from tradekit.domain.instruments import InstrumentKind
from tradekit.domain.orders import Side
from tradekit.indicators import spread_zscore, zscore

D = Decimal


def trades(run) -> list[tuple[int, str, str, Decimal]]:
    """(bar, symbol, side, price) of every fill."""
    return [
        (record.index, record.fill.symbol, record.fill.side.value, record.fill.price) for record in run.engine.fill_log
    ]


# --- momentum -------------------------------------------------------------------------------------


def test_momentum_enters_on_positive_rate_of_change_above_trend_and_exits_when_it_turns_negative(kit) -> None:
    # lookback 3, trend SMA(5); first decision at bar 4 (warm-up 5).
    # bar 4: roc (100-100)/100 = 0, not > 0.            bar 5: roc +1%, SMA 100.2 < 101: enter at 101.
    # bars 6-9: roc > 0, close above SMA.               bar 10: roc (102-103)/103 < 0: exit at 102.
    closes = [100, 100, 100, 100, 100, 101, 102, 103, 104, 103, 102, 101, 100, 99]
    strategy = Momentum(MomentumSettings(lookback=3, trend_length=5))
    assert strategy.warmup == 5
    run = kit.backtest(strategy, kit.bars(closes))
    assert trades(run) == [(5, "BTC/USDT", "buy", D(101)), (10, "BTC/USDT", "sell", D(102))]


def test_momentum_trend_filter_holds_back_an_entry_below_the_trend_average(kit) -> None:
    # lookback 1, trend SMA(4). bar 4: roc > 0 but 75 < SMA(90, 80, 70, 75) = 78.75: no entry.
    # bar 5: 80 > SMA(80, 70, 75, 80) = 76.25: enter. Without the filter the entry comes on bar 4.
    closes = [100, 90, 80, 70, 75, 80, 85, 95]
    filtered = kit.backtest(Momentum(MomentumSettings(lookback=1, trend_length=4)), kit.bars(closes))
    unfiltered = kit.backtest(Momentum(MomentumSettings(lookback=1, trend_length=0)), kit.bars(closes))
    assert trades(filtered) == [(5, "BTC/USDT", "buy", D(80))]
    assert trades(unfiltered) == [(4, "BTC/USDT", "buy", D(75))]


def test_momentum_entry_threshold_needs_the_move_to_exceed_it(kit) -> None:
    # lookback 1: bar 1 +0.5%, bar 2 +1.99%, bar 3 +2.44% (> 2%): entry only on bar 3.
    closes = [100, 100.5, 102.5, 105, 106]
    strategy = Momentum(MomentumSettings(lookback=1, trend_length=0, entry_threshold=0.02))
    assert trades(kit.backtest(strategy, kit.bars(closes))) == [(3, "BTC/USDT", "buy", D(105))]


def test_momentum_refuses_an_exit_threshold_above_the_entry_threshold() -> None:
    with pytest.raises(ValueError, match=r"exit_threshold \(0.05\) must not be above entry_threshold \(0.01\)"):
        MomentumSettings(entry_threshold=0.01, exit_threshold=0.05)


# --- mean reversion -------------------------------------------------------------------------------

OSCILLATION = [100, 101, 99, 100, 101, 99, 100]


def test_mean_reversion_buys_below_the_band_and_sells_back_at_the_mean(kit) -> None:
    closes = [*OSCILLATION, 94, 95, 97, 100, 101]
    z = zscore(np.array(closes, dtype=float), 5)
    # bar 7: z falls through -1.5 (from 0.27 to -1.93); bar 9: the window 99,100,94,95,97 has mean 97 = close.
    assert z[6] > -1.5 >= z[7] and z[8] < 0 and z[9] == 0
    run = kit.backtest(MeanReversion(MeanReversionSettings(length=5, entry_z=1.5)), kit.bars(closes))
    assert trades(run) == [(7, "BTC/USDT", "buy", D(94)), (9, "BTC/USDT", "sell", D(97))]


def test_mean_reversion_stop_sells_when_the_z_score_keeps_falling(kit) -> None:
    closes = [100, 101, 99, 100, 101, 99, 100, 101, 99, 100, 97, 96, 90, 85, 80]
    z = zscore(np.array(closes, dtype=float), 8)
    # bar 10: z crosses -2 (-2.15); bar 11: -1.85 (held); bar 12: -2.34 <= -2.3, the stop.
    assert z[9] > -2 >= z[10] and -2.3 < z[11] < 0 and z[12] <= -2.3
    settings = MeanReversionSettings(length=8, entry_z=2.0, stop_z=2.3)
    run = kit.backtest(MeanReversion(settings), kit.bars(closes))
    assert trades(run) == [(10, "BTC/USDT", "buy", D(97)), (12, "BTC/USDT", "sell", D(90))]
    # Without the stop the position is still held at the end.
    held = kit.backtest(MeanReversion(MeanReversionSettings(length=8, entry_z=2.0)), kit.bars(closes))
    assert trades(held) == [(10, "BTC/USDT", "buy", D(97))]


def test_mean_reversion_sees_no_signal_in_a_flat_window(kit) -> None:
    # Equal closes have no z-score; a rounding residue of their mean must not become one.
    closes = [100.1] * 12 + [99.9]
    assert np.isnan(zscore(np.array(closes), 5)[:12]).all()
    run = kit.backtest(MeanReversion(MeanReversionSettings(length=5, entry_z=1.5)), kit.bars(closes))
    assert trades(run) == [(12, "BTC/USDT", "buy", D("99.9"))]


# --- breakout -------------------------------------------------------------------------------------

# (close, high, low): a range from 99 to 102, then a close at 103 above the 3-bar high of 102.
RANGE_THEN_BREAK = [(100, 101, 99), (101, 102, 100), (100, 101, 99), (101, 102, 100), (103, 103.5, 100)]


def breakout_bars(kit, rows):
    closes, highs, lows = zip(*rows, strict=True)
    return kit.bars(closes, high=highs, low=lows)


def test_breakout_enters_above_the_channel_and_its_stop_sells_within_the_bar(kit) -> None:
    # Entry on bar 4 at 103. ATR(2) = mean(TR 2, TR 3.5) = 2.75, so the stop rests at 103 - 2.75 = 100.25.
    # Bar 6 falls to 100: the stop fills at its trigger, 100.25, inside the bar (the close, 100.5, is not used).
    rows = [*RANGE_THEN_BREAK, (104, 104.5, 102.5), (100.5, 104, 100), (101, 101.5, 100.5)]
    data = breakout_bars(kit, rows)
    strategy = Breakout(BreakoutSettings(entry_length=3, exit_length=2, atr_length=2, atr_multiple=1.0))
    assert strategy.warmup == 4
    run = kit.backtest(strategy, data, instruments=kit.instruments_for({data.symbol: data}, tick="0.01"))
    assert trades(run) == [(4, "BTC/USDT", "buy", D(103)), (6, "BTC/USDT", "sell", D("100.25"))]
    stop = next(d for d in run.decisions if d.type == "stop")
    assert (stop.index, stop.side, stop.trigger_price) == (4, "sell", D("100.25"))


def test_breakout_exits_below_the_lower_channel_and_cancels_its_stop(kit) -> None:
    # Stop 3 ATRs below: 103 - 8.25 = 94.75, never reached. Bar 6 closes at 99.5, below the
    # lowest low (100) of bars 4 and 5: the stop is cancelled and the position sold at the close.
    rows = [*RANGE_THEN_BREAK, (104, 104.5, 102.5), (99.5, 104, 99), (98, 99.5, 97)]
    data = breakout_bars(kit, rows)
    strategy = Breakout(BreakoutSettings(entry_length=3, exit_length=2, atr_length=2, atr_multiple=3.0))
    run = kit.backtest(strategy, data, instruments=kit.instruments_for({data.symbol: data}, tick="0.01"))
    assert trades(run) == [(4, "BTC/USDT", "buy", D(103)), (6, "BTC/USDT", "sell", D("99.5"))]
    assert run.engine.open_orders() == []
    assert run.engine.ledger.quantity("BTC/USDT") == 0


def test_breakout_places_the_stop_after_a_fill_at_the_next_open(kit) -> None:
    # Filling at the next bar's open, the entry fills on bar 5 and the stop (fixed on bar 4) is placed then.
    rows = [*RANGE_THEN_BREAK, (104, 104.5, 102.5), (104.5, 105, 103.5)]
    data = breakout_bars(kit, rows)
    strategy = Breakout(BreakoutSettings(entry_length=3, exit_length=2, atr_length=2, atr_multiple=1.0))
    run = kit.backtest(
        strategy, data, fill_at_close=False, instruments=kit.instruments_for({data.symbol: data}, tick="0.01")
    )
    assert trades(run) == [(5, "BTC/USDT", "buy", D(103))]  # bar 5 opens at bar 4's close
    (stop,) = run.engine.open_orders()
    assert (stop.side, stop.trigger_price, stop.quantity) == (
        Side.SELL,
        D("100.25"),
        run.engine.ledger.quantity("BTC/USDT"),
    )


# --- volatility expansion ---------------------------------------------------------------------------


def test_volatility_expansion_joins_an_upward_break_of_volatility_and_leaves_when_the_move_reverses(kit) -> None:
    # Flat closes: volatility 0 and its range 0. Bar 9 (+3%) lifts the 3-bar volatility above the range
    # while the 3-bar move is up: enter. Bars 10-12 still rise over 3 bars; on bar 13 the close, 104, is
    # below the 106 of three bars before: the move has turned down, exit.
    closes = [100] * 9 + [103, 106, 109, 107, 104]
    strategy = VolatilityExpansion(VolatilityExpansionSettings(vol_length=3, range_length=4))
    assert strategy.warmup == 8
    run = kit.backtest(strategy, kit.bars(closes))
    assert trades(run) == [(9, "BTC/USDT", "buy", D(103)), (13, "BTC/USDT", "sell", D(104))]


def test_volatility_expansion_takes_no_long_on_a_downward_break(kit) -> None:
    # The same break as above, downwards: volatility expands while the 3-bar move is negative.
    closes = [100] * 9 + [97, 94, 91, 88, 85]
    run = kit.backtest(VolatilityExpansion(VolatilityExpansionSettings(vol_length=3, range_length=4)), kit.bars(closes))
    assert trades(run) == []


def test_volatility_expansion_needs_volatility_above_the_range_times_the_expansion(kit) -> None:
    # A first burst sets the range; a second, smaller one stays inside it, a third, larger one breaks it.
    closes = [100] * 6 + [104, 100, 100, 100, 102, 100, 100, 100, 100, 108, 112]
    settings = VolatilityExpansionSettings(vol_length=2, range_length=8)
    run = kit.backtest(VolatilityExpansion(settings), kit.bars(closes))
    assert [(index, side) for index, _, side, _ in trades(run)] == [(15, "buy")]


# --- pairs ------------------------------------------------------------------------------------------

B_CLOSES = [100, 101, 102, 101, 103, 104, 103, 105, 106, 105, 107, 108, 107, 109, 110, 109, 111]
NOISE = [0.3, -0.2, 0.1, -0.3, 0.2, -0.1, 0.3, -0.2, 0.1, -0.3, 0.2, -0.1, 0.3, -0.2, 0.1, -0.3, 0.2]


def pair(kit, shift: float):
    """A tracks 2 x B with noise; on bars 10 and 11 A is moved by ``shift`` and ``shift / 2``."""
    a = [2 * b + n for b, n in zip(B_CLOSES, NOISE, strict=True)]
    a[10] += shift
    a[11] += shift / 2
    return {"A/USDT": kit.bars(a, symbol="A/USDT"), "B/USDT": kit.bars(B_CLOSES, symbol="B/USDT")}


def pair_z(data) -> np.ndarray:
    return spread_zscore(np.log(data["A/USDT"].close), np.log(data["B/USDT"].close), 8)[1]


def test_pairs_on_spot_buys_the_cheap_leg_and_sells_it_back_at_the_mean(kit) -> None:
    data = pair(kit, -6.0)
    z = pair_z(data)
    assert z[9] > -2 >= z[10] and z[11] >= 0  # A cheap on bar 10, the spread back above its mean on bar 11
    run = kit.backtest(Pairs(PairsSettings(lookback=8)), data)
    assert [(i, s, side) for i, s, side, _ in trades(run)] == [(10, "A/USDT", "buy"), (11, "A/USDT", "sell")]


def test_pairs_on_spot_buys_the_other_leg_when_the_first_is_rich(kit) -> None:
    data = pair(kit, 6.0)
    z = pair_z(data)
    rich = int(np.flatnonzero(z >= 2)[0])
    back = rich + int(np.flatnonzero(z[rich:] <= 0)[0])
    assert z[rich - 1] < 2
    run = kit.backtest(Pairs(PairsSettings(lookback=8)), data)
    assert [(i, s, side) for i, s, side, _ in trades(run)] == [(rich, "B/USDT", "buy"), (back, "B/USDT", "sell")]


def test_pairs_long_short_buys_the_cheap_leg_and_sells_the_hedge_short_by_the_hedge_ratio(kit) -> None:
    data = pair(kit, -6.0)
    beta = spread_zscore(np.log(data["A/USDT"].close), np.log(data["B/USDT"].close), 8)[0][10]
    perpetuals = kit.instruments_for(data, kind=InstrumentKind.PERPETUAL, tick="0.01")
    run = kit.backtest(Pairs(PairsSettings(lookback=8)), data, instruments=perpetuals)
    fills = trades(run)
    assert [(i, s, side) for i, s, side, _ in fills] == [
        (10, "A/USDT", "buy"),
        (10, "B/USDT", "sell"),
        (11, "A/USDT", "sell"),
        (11, "B/USDT", "buy"),
    ]
    bought, hedged = run.engine.fill_log[0].fill, run.engine.fill_log[1].fill
    # The hedge leg's value is beta times the first leg's, to the lot; the two spend 95% of the cash.
    ratio = (hedged.quantity * hedged.price) / (bought.quantity * bought.price)
    assert float(ratio) == pytest.approx(beta, rel=1e-4)
    assert bought.quantity * bought.price + hedged.quantity * hedged.price == pytest.approx(95_000, rel=1e-4)
    assert run.engine.ledger.quantity("A/USDT") == 0 and run.engine.ledger.quantity("B/USDT") == 0


def test_pairs_long_short_refuses_spot_instruments(kit) -> None:
    from tradekit.errors import ConfigError

    with pytest.raises(ConfigError, match="A/USDT, B/USDT are spot on this exchange, which cannot go short"):
        kit.backtest(Pairs(PairsSettings(lookback=8, mode="long_short")), pair(kit, -6.0))


def test_pairs_refuses_a_run_with_one_symbol(kit) -> None:
    from tradekit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"pairs trades two symbols, but the run has 1: A/USDT"):
        kit.backtest(Pairs(PairsSettings(lookback=8)), pair(kit, -6.0)["A/USDT"])
