"""Each rule and phase transition of the specification, on hand-made price paths.

Anchor 100, a unit of 1, 1000 of position value on a tick of 0.01 and a lot of
0.001, no fees unless a test says: the entry buys 10 at 100 and the stops sit
at 99, 98, 97 and 96, selling 2.5 each. A bar is (open, high, low, close); a
bar that closes below its open is walked open, high, low, close, one that
closes at or above it open, low, high, close.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from tradekit_long_wallet.invariants import placement_problems
from tradekit_long_wallet.window import Phase

from tradekit.domain.orders import OrderStatus, OrderType, TriggerDirection

D = Decimal
START = (100, 100, 100, 100)
PLAIN = {"unit_size": "1", "position_value": "1000", "post_only": False, "maker": "0", "taker": "0"}


@pytest.fixture
def run(backtest, ohlc):  # type: ignore[no-untyped-def]
    """Long Wallet on OHLC rows with :data:`PLAIN` settings (overridable); its invariants must hold throughout."""

    def go(*rows: tuple[float, float, float, float], **options: object):  # type: ignore[no-untyped-def]
        result = backtest(ohlc(*rows), **{**PLAIN, **options})
        assert result.problems == []
        assert placement_problems(result.strategy.placements) == []
        return result

    return go


def window(result) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    return [(level, kind) for level, kind in result.strategy.levels()]


def test_start_buys_position_value_at_market_and_rests_four_stops_below(run) -> None:
    result = run(START, START)
    entry = result.orders()[0]
    assert (entry.type, entry.status, entry.filled_quantity, entry.average_fill_price) == (
        OrderType.MARKET,
        OrderStatus.FILLED,
        D(10),
        D(100),
    )
    assert result.strategy.anchor == D(100)
    assert window(result) == [(-1, "stop"), (-2, "stop"), (-3, "stop"), (-4, "stop")]
    stops = [o for o in result.orders() if o.status is OrderStatus.ACCEPTED]
    assert sorted(o.trigger_price for o in stops) == [D(96), D(97), D(98), D(99)]
    assert all(
        o.type is OrderType.STOP and o.trigger_direction is TriggerDirection.FALLING and o.reduce_only for o in stops
    )
    assert sum(o.quantity for o in stops) == D(10)
    assert result.strategy.phase is Phase.ADVANCE


def test_trailing_up_moves_the_stops_to_the_four_units_below_a_new_high_unit(run) -> None:
    result = run(START, (100, 101.5, 100, 101.5))
    assert window(result) == [(0, "stop"), (-1, "stop"), (-2, "stop"), (-3, "stop")]
    assert "long_wallet c1 stop -4" in result.tags("cancelled")
    assert result.strategy.highest == 1


def test_stops_never_move_down_when_the_price_falls_back_within_a_unit(run) -> None:
    result = run(START, (100, 101.5, 100, 101.5), (101.5, 101.5, 100.1, 100.3), (100.3, 100.9, 100.2, 100.6))
    # The closes are back in unit 0, below the high unit 1: no stop moves, none has fired (stop 0 is at 100).
    assert window(result) == [(0, "stop"), (-1, "stop"), (-2, "stop"), (-3, "stop")]


def test_a_jump_of_several_units_trails_all_the_way(run) -> None:
    result = run(START, (100, 104.5, 100, 104.2))
    assert window(result) == [(3, "stop"), (2, "stop"), (1, "stop"), (0, "stop")]
    assert sorted(result.tags("cancelled")) == sorted(f"long_wallet c1 stop {k}" for k in (-1, -2, -3, -4))
    stops = [o for o in result.orders() if o.status is OrderStatus.ACCEPTED]
    assert sum(o.quantity for o in stops) == D(10)  # the quantities moved with the stops


def test_a_stop_that_fires_in_advance_is_replaced_by_a_buy_one_level_up_retracement(run) -> None:
    result = run(START, (100, 101.5, 100, 101.5), (101, 101, 99.9, 100.2))
    assert result.strategy.phase is Phase.RETRACEMENT
    assert window(result) == [(1, "buy"), (-1, "stop"), (-2, "stop"), (-3, "stop")]
    buy = next(o for o in result.orders() if o.tag == "long_wallet c1 buy 1")
    assert (buy.type, buy.trigger_price, buy.trigger_direction) == (OrderType.STOP, D(101), TriggerDirection.RISING)
    # It spends what the stop brought in (2.5 at 100 = 250), at most cash_fragment (1000 / 4 = 250).
    assert buy.quantity == D("2.475")


def test_no_sliding_in_a_mixed_phase_new_units_move_nothing(run) -> None:
    rows = [START, (100, 101.5, 100, 101.5), (101, 101, 99.9, 100.2)]
    before = run(*rows)
    # Units the price had not been in (-1 here) are no reason to move anything; only fills move orders there.
    after = run(*rows, (100.2, 100.2, 99.1, 99.2), (99.2, 100.9, 99.2, 100.8))
    assert after.strategy.phase is Phase.RETRACEMENT
    assert window(after) == window(before) == [(1, "buy"), (-1, "stop"), (-2, "stop"), (-3, "stop")]


def test_the_last_stop_firing_is_decline_with_all_buys_above(run) -> None:
    # One bar gaps below every stop: all four fill at its open, each replaced by a buy one level up.
    result = run(START, (95.5, 95.6, 95, 95.2))
    assert result.strategy.phase is Phase.DECLINE
    assert window(result) == [(0, "buy"), (-1, "buy"), (-2, "buy"), (-3, "buy")]
    sells = [o for o in result.orders() if o.side.value == "sell" and o.status is OrderStatus.FILLED]
    assert [o.average_fill_price for o in sells] == [D("95.5")] * 4  # a gap fills at the open
    assert result.strategy.held == 0
    assert result.strategy.lowest == -5  # 95.2 is in unit -5


def test_trailing_down_moves_the_buys_to_the_four_units_above_a_new_low_unit(run) -> None:
    result = run(START, (95.5, 95.6, 95, 95.2), (95.2, 95.2, 94.3, 94.5))
    assert result.strategy.lowest == -6
    assert window(result) == [(-2, "buy"), (-3, "buy"), (-4, "buy"), (-5, "buy")]
    assert sorted(result.tags("cancelled")) == ["long_wallet c1 buy -1", "long_wallet c1 buy 0"]


def test_buys_never_move_up_in_decline(run) -> None:
    result = run(START, (95.5, 95.6, 95, 95.2), (95.2, 95.2, 94.3, 94.5), (94.5, 94.9, 94.5, 94.9))
    assert window(result) == [(-2, "buy"), (-3, "buy"), (-4, "buy"), (-5, "buy")]


def test_a_buy_that_fires_in_decline_is_replaced_by_a_stop_one_level_down_recover(run) -> None:
    result = run(START, (95.5, 95.6, 95, 95.2), (95.2, 95.2, 94.3, 94.5), (94.5, 95.2, 94.5, 95.1))
    assert result.strategy.phase is Phase.RECOVER
    assert window(result) == [(-2, "buy"), (-3, "buy"), (-4, "buy"), (-6, "stop")]
    bought = next(o for o in result.orders() if o.tag == "long_wallet c1 buy -5")
    stop = next(o for o in result.orders() if o.tag == "long_wallet c1 stop -6")
    assert stop.quantity == bought.filled_quantity  # it sells what the buy bought
    assert stop.trigger_price == D(94)


def test_all_stops_again_after_a_mixed_phase_resets_and_compounds(run) -> None:
    rows = [START, (100, 101.5, 100, 101.5), (101, 101, 99.9, 100.2), (100.2, 101.2, 100.2, 101.1)]
    result = run(*rows)
    strategy = result.strategy
    assert strategy.cycle == 2
    assert strategy.phase is Phase.ADVANCE
    cycle = strategy.cycles[0]
    # Sold 2.5 at 100 (250), bought 2.475 at 101 (249.975): 9.975 held and 0.025 cash, worth 9.975 * 101.1 + 0.025.
    value = D("9.975") * D("101.1") + D("0.025")
    assert (cycle.start_value, cycle.end_value, cycle.round_trips) == (D(1000), value, 1)
    assert strategy.growth == value / D(1000)
    assert strategy.anchor == D("101.1")
    assert window(result) == [(-1, "stop"), (-2, "stop"), (-3, "stop"), (-4, "stop")]
    fresh = [o for o in result.orders() if o.status is OrderStatus.ACCEPTED]
    assert sorted(o.trigger_price for o in fresh) == [D("97.1"), D("98.1"), D("99.1"), D("100.1")]
    assert sorted(o.quantity for o in fresh) == [D("2.493"), D("2.493"), D("2.493"), D("2.496")]
    assert [o.tag for o in fresh] == [f"long_wallet c2 stop {k}" for k in (-1, -2, -3, -4)]
    assert cycle.dust == 0


def test_a_replacement_the_close_has_passed_goes_out_at_the_market(run) -> None:
    # Down through the stop at 99, then up to close at 101.2 in one bar: the buy at 100 is already passed.
    result = run(START, (100, 101.5, 98.9, 101.2))
    buy = next(o for o in result.orders() if o.tag == "long_wallet c1 buy 0")
    assert (buy.type, buy.average_fill_price) == (OrderType.MARKET, D("101.2"))
    # Its own replacement is a stop at 99 again, and the close (unit 1) trails the stops up.
    assert window(result) == [(0, "stop"), (-1, "stop"), (-2, "stop"), (-3, "stop")]


def test_a_bar_crossing_levels_both_ways_keeps_stops_below_buys(run) -> None:
    # RETRACEMENT with a buy at 101: one bar dips through the stop at 99 and rises through 101, closing at 100.5.
    rows = [START, (100, 101.5, 100, 101.5), (101, 101, 99.9, 100.2), (100.2, 101.3, 98.8, 100.5)]
    result = run(*rows)
    levels = window(result)
    stops = [level for level, kind in levels if kind == "stop"]
    buys = [level for level, kind in levels if kind == "buy"]
    assert len(levels) == 4
    assert not buys or max(stops) < min(buys)


def test_post_only_buys_rest_one_tick_below_their_level_and_fill_as_makers(run) -> None:
    rows = [START, (100, 101.5, 100, 101.5), (101, 101, 99.9, 100.2), (100.2, 101.5, 100.2, 101.4)]
    result = run(*rows, post_only=True, maker="0.0002", taker="0.001")
    buy = next(o for o in result.orders() if o.tag == "long_wallet c1 buy 1")
    assert (buy.type, buy.trigger_price, buy.price, buy.post_only) == (OrderType.STOP_LIMIT, D(101), D("100.99"), True)
    # Reached, so triggered on the venue: it rests there as a bid below the market.
    assert buy.status is OrderStatus.ACCEPTED and result.venue.fetch_order(buy.client_order_id).triggered
    # The next bar trades back to 100.99: it fills there, as a maker.
    filled = run(*rows, (101.4, 101.4, 100.9, 101.1), post_only=True, maker="0.0002", taker="0.001")
    buy = next(o for o in filled.orders() if o.tag == "long_wallet c1 buy 1")
    assert (buy.status, buy.average_fill_price) == (OrderStatus.FILLED, D("100.99"))
    assert buy.fees_paid == (buy.filled_notional * D("0.0002")).quantize(D("1e-12"))


def test_a_post_only_buy_the_price_ran_a_unit_past_is_bought_at_the_market(run) -> None:
    rows = [START, (100, 101.5, 100, 101.5), (101, 101, 99.9, 100.2), (100.2, 101.5, 100.2, 101.4)]
    result = run(*rows, (101.4, 102.3, 101.4, 102.2), post_only=True)
    resting = next(o for o in result.orders() if o.tag == "long_wallet c1 buy 1" and o.type is OrderType.STOP_LIMIT)
    chased = next(o for o in result.orders() if o.tag == "long_wallet c1 buy 1" and o.type is OrderType.MARKET)
    assert resting.status is OrderStatus.CANCELLED
    assert chased.average_fill_price == D("102.2")


def test_with_a_trigger_tolerance_buys_are_stop_limits_that_far_above_their_level(run) -> None:
    result = run(START, (100, 101.5, 100, 101.5), (101, 101, 99.9, 100.2), trigger_tolerance="0.05")
    buy = next(o for o in result.orders() if o.tag == "long_wallet c1 buy 1")
    assert (buy.type, buy.trigger_price, buy.price, buy.post_only) == (OrderType.STOP_LIMIT, D(101), D("101.05"), False)


def test_a_market_order_waiting_for_the_next_open_keeps_the_invariants(backtest, closes) -> None:
    result = backtest(closes(100, 100, 101.5, 99.2, 97.6, 99.9, 102.3, 101, 95, 96, 103), fill_at_close=False, **PLAIN)
    assert result.problems == []
    assert result.strategy.started


@pytest.mark.parametrize("skip_idle_bars", [False, True])
def test_fees_are_counted_per_cycle_and_in_the_wallet(backtest, ohlc, skip_idle_bars: bool) -> None:
    rows = [START, (100, 101.5, 100, 101.5), (101, 101, 99.9, 100.2), (100.2, 101.2, 100.2, 101.1)]
    result = backtest(ohlc(*rows), skip_idle_bars=skip_idle_bars, **{**PLAIN, "maker": "0.001", "taker": "0.002"})
    assert result.problems == []
    strategy = result.strategy
    fees = sum((o.fees_paid for o in result.orders()), D(0))
    assert strategy.cycles[0].fees + strategy.current.fees == fees
    # The entry's cost (its fee included) is the first cycle's start value; what followed is the wallet's cash.
    assert result.engine.ledger.cash["USDT"] == D(100000) - strategy.cycles[0].start_value + strategy.cash
