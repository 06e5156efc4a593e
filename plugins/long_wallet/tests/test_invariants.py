"""The specification's invariants on random price paths (hypothesis), gaps through several levels included.

Each path is drawn on a cent grid around 100 with a unit of 0.5 to 3: bars
that gap by up to eight units at the open, bodies and wicks of up to three
units. After every bar (every bar is shown) the window holds exactly
``window_size`` working orders at distinct levels, stops below buys, the
phase matches the window, the stops never sell more than is held and leave
less than a lot, the account holds what the strategy counts; every resting
order was placed on the right side of the market. Visiting only the bars the
engine must visit decides exactly the same.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tradekit_long_wallet.invariants import placement_problems

from tradekit.testing import make_bars

D = Decimal


@st.composite
def price_paths(draw: st.DrawFn) -> list[list[float]]:
    """OHLC rows on a cent grid: occasional gaps of several units, bodies and wicks of up to 3."""
    bars = draw(st.integers(min_value=10, max_value=90))
    price = 10_000  # cents
    rows = []
    for _ in range(bars):
        gap = draw(st.one_of(st.just(0), st.integers(-800, 800)))
        body = draw(st.integers(-300, 300))
        up, down = draw(st.integers(0, 150)), draw(st.integers(0, 150))
        open_ = max(2_000, price + gap)
        close = max(2_000, open_ + body)
        high, low = max(open_, close) + up, max(1_000, min(open_, close) - down)
        rows.append([open_ / 100, high / 100, low / 100, close / 100])
        price = close
    return rows


ladders = st.fixed_dictionaries(
    {
        "unit_size": st.sampled_from(["0.5", "1", "1.37", "3"]),
        "window_size": st.integers(1, 6),
        "post_only": st.booleans(),
        "position_value": st.sampled_from(["500", "1000", "2345.67"]),
        "maker": st.sampled_from(["0", "0.0002", "0.001"]),
        "taker": st.sampled_from(["0", "0.001", "0.002"]),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=price_paths(), ladder=ladders, fill_at_close=st.booleans())
def test_the_invariants_hold_after_every_bar_of_any_path(backtest, rows, ladder, fill_at_close) -> None:  # type: ignore[no-untyped-def]
    result = backtest(make_bars(rows), fill_at_close=fill_at_close, **ladder)
    assert result.problems == []
    assert placement_problems(result.strategy.placements) == []
    lot = D("0.001")
    for cycle in result.strategy.cycles:
        assert D(0) <= cycle.dust < lot  # rounded to the lot, and reported
    orders = result.orders()
    assert len({o.client_order_id for o in orders}) == len(orders)
    assert result.engine.stats.rejected == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=price_paths(), ladder=ladders)
def test_skipping_idle_bars_decides_exactly_as_visiting_every_bar(backtest, rows, ladder) -> None:  # type: ignore[no-untyped-def]
    every = backtest(make_bars(rows), skip_idle_bars=False, **ladder)
    skipping = backtest(make_bars(rows), skip_idle_bars=True, **ladder)

    def fills(run):  # type: ignore[no-untyped-def]
        return [(f.timestamp, f.side, f.quantity, f.price, f.fee) for f in run.outcome.fills]

    assert fills(skipping) == fills(every)
    assert np.array_equal(skipping.outcome.equity, every.outcome.equity)
    assert skipping.strategy.report().as_dict() == every.strategy.report().as_dict()
