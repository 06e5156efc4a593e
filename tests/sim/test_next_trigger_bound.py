"""``next_trigger_index(..., stop=)``: a bounded scan answers exactly what the unbounded one does before ``stop``."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest
from numpy.typing import NDArray

from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import Order, OrderType, Side, TriggerDirection
from tradekit.sim import FeeSchedule, SimulatedVenue, first_reach_index

D = Decimal
NOW = datetime(2024, 1, 1, tzinfo=UTC)
SYMBOL = "BTC/USDT"
_ids = itertools.count(1)


def make_venue() -> SimulatedVenue:
    instrument = Instrument(symbol=SYMBOL, base="BTC", quote="USDT", tick_size=D("0.01"), lot_size=D("0.001"))
    fees = FeeSchedule(maker=D("0.0002"), taker=D("0.001"))
    return SimulatedVenue({SYMBOL: instrument}, {"USDT": D("10000000")}, fees)


def random_bars(seed: int, n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    rng = np.random.default_rng(seed)
    close = np.round(100.0 * np.exp(np.cumsum(rng.normal(0, 0.003, n))), 2)
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.round(np.maximum(open_, close) * (1 + rng.exponential(0.001, n)), 2)
    low = np.round(np.minimum(open_, close) * (1 - rng.exponential(0.001, n)), 2)
    return high, low


def submit(venue: SimulatedVenue, side: Side, kind: OrderType, level: Decimal) -> None:
    falling = level < D(100)
    venue.submit(
        Order(
            client_order_id=f"b{next(_ids)}",
            symbol=SYMBOL,
            side=side,
            type=kind,
            quantity=D("0.01"),
            price=level if kind is OrderType.LIMIT else None,
            trigger_price=level if kind is OrderType.STOP else None,
            trigger_direction=None
            if kind is OrderType.LIMIT
            else (TriggerDirection.FALLING if falling else TriggerDirection.RISING),
        ),
        NOW,
        D(100),
    )


def expected_bounded(unbounded: int | None, stop: int) -> int | None:
    return unbounded if unbounded is not None and unbounded < stop else None


@pytest.mark.parametrize("seed", range(8))
def test_a_bounded_next_trigger_index_equals_the_unbounded_one_cut_at_stop(seed: int) -> None:
    n = 3_000
    high, low = random_bars(seed, n)
    rng = np.random.default_rng(1000 + seed)
    venue = make_venue()
    submit(venue, Side.BUY, OrderType.LIMIT, D(str(round(float(rng.uniform(90, 99.5)), 2))))
    submit(venue, Side.BUY, OrderType.STOP, D(str(round(float(rng.uniform(100.5, 110)), 2))))
    compared = 0
    for start, stop in rng.integers(0, n + 50, size=(300, 2)):
        start, stop = int(start), int(stop)
        unbounded = venue.next_trigger_index(SYMBOL, high, low, start)
        bounded = venue.next_trigger_index(SYMBOL, high, low, start, stop=stop)
        assert bounded == expected_bounded(unbounded, stop), (seed, start, stop)
        compared += unbounded is not None and start < unbounded < stop
    assert compared > 0  # some bounded scans found a hit that was not at their first bar


def test_a_bounded_first_reach_index_stops_before_stop_even_on_chunk_boundaries() -> None:
    n = 5_000
    low = np.full(n, 100.0)
    high = np.full(n, 101.0)
    for hit in (0, 255, 256, 767, 768, 4_999):
        low_hit = low.copy()
        low_hit[hit] = 90.0
        assert first_reach_index(high, low_hit, 95.0, float("inf"), 0, stop=hit + 1) == hit
        assert first_reach_index(high, low_hit, 95.0, float("inf"), 0, stop=hit) is None
        assert first_reach_index(high, low_hit, 95.0, float("inf"), 0, stop=None) == hit
    assert first_reach_index(high, low, 100.0, float("inf"), 3, stop=3) is None  # empty range
    assert first_reach_index(high, low, 100.0, float("inf"), 3, stop=10**9) == 3  # stop past the end


def test_an_order_due_at_the_next_open_wakes_at_start_only_when_start_is_before_stop() -> None:
    high, low = random_bars(0, 100)
    venue = make_venue()
    venue.submit(
        Order(client_order_id="m1", symbol=SYMBOL, side=Side.BUY, type=OrderType.MARKET, quantity=D("0.01")),
        NOW,
        None,
    )
    assert venue.next_trigger_index(SYMBOL, high, low, 5, stop=6) == 5
    assert venue.next_trigger_index(SYMBOL, high, low, 5, stop=5) is None
