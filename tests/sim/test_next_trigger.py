"""``next_trigger_index``: the first bar on which a resting order could act, found fast and never late."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import Fill, Order, OrderStatus, OrderType, OrderUpdate, Side, TriggerDirection
from tradekit.money import to_decimal
from tradekit.sim import FeeSchedule, SimulatedVenue, first_reach_index

D = Decimal
NOW = datetime(2024, 1, 1, tzinfo=UTC)
SYMBOL = "BTC/USDT"
FEES = FeeSchedule(maker=D("0.0002"), taker=D("0.001"))
FloatArray = NDArray[np.float64]
_ids = itertools.count(1)


def make_venue(tick: str = "0.01") -> SimulatedVenue:
    instrument = Instrument(symbol=SYMBOL, base="BTC", quote="USDT", tick_size=D(tick), lot_size=D("0.001"))
    return SimulatedVenue({SYMBOL: instrument}, {"USDT": D("10000000")}, FEES)


def order(
    side: Side,
    kind: OrderType,
    *,
    price: Decimal | None = None,
    trigger: Decimal | None = None,
    direction: TriggerDirection | None = None,
    client_order_id: str | None = None,
    quantity: Decimal = Decimal("0.01"),
) -> Order:
    return Order(
        client_order_id=client_order_id or f"t{next(_ids)}",
        symbol=SYMBOL,
        side=side,
        type=kind,
        quantity=quantity,
        price=price,
        trigger_price=trigger,
        trigger_direction=direction,
    )


def reference_next_trigger(venue: SimulatedVenue, high: FloatArray, low: FloatArray, start: int) -> int | None:
    """The plain loop, bar by bar, comparing exact Decimals as process_bar does."""
    orders = venue.open_orders(SYMBOL)
    if not orders:
        return None
    for o in orders:
        if o.type is OrderType.MARKET or (o.type is OrderType.STOP and o.triggered):
            return start if start < len(high) else None
    for i in range(start, len(high)):
        bar_low, bar_high = to_decimal(float(low[i])), to_decimal(float(high[i]))
        for o in orders:
            if o.type is OrderType.LIMIT or (o.type is OrderType.STOP_LIMIT and o.triggered):
                assert o.price is not None
                reached = bar_low <= o.price if o.side is Side.BUY else bar_high >= o.price
            else:
                assert o.trigger_price is not None
                falling = o.trigger_direction is TriggerDirection.FALLING
                reached = bar_low <= o.trigger_price if falling else bar_high >= o.trigger_price
            if reached:
                return i
    return None


def random_walk(seed: int, n: int, decimals: int) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Bars as a data file may hold them: rounded to ``decimals`` (more than the tick, sometimes)."""
    rng = np.random.default_rng(seed)
    close = np.round(100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, n))), decimals)
    open_ = np.round(np.concatenate([[100.0], close[:-1]]), decimals)
    high = np.round(np.maximum(open_, close) * (1 + rng.exponential(0.001, n)), decimals)
    low = np.round(np.minimum(open_, close) * (1 - rng.exponential(0.001, n)), decimals)
    return open_, high, low, close


def place_random_orders(venue: SimulatedVenue, rng: np.random.Generator, market: Decimal, count: int) -> None:
    """Resting orders of every kind and direction around ``market``, sent at ``market``."""
    venue.submit(order(Side.BUY, OrderType.MARKET, quantity=D(100)), NOW, market)  # something to sell
    for _ in range(count):
        offset = D(str(round(float(rng.uniform(-0.06, 0.06)), 4)))
        level = max((market * (1 + offset)).quantize(D("0.01")), D("0.01"))
        choice = int(rng.integers(0, 6))
        if choice == 0:
            side = Side.BUY if level < market else Side.SELL
            venue.submit(order(side, OrderType.LIMIT, price=level), NOW, market)
        elif choice in (1, 2):
            direction = TriggerDirection.FALLING if level < market else TriggerDirection.RISING
            side = Side.SELL if choice == 1 else Side.BUY
            venue.submit(order(side, OrderType.STOP, trigger=level, direction=direction), NOW, market)
        elif choice == 3:
            direction = TriggerDirection.FALLING if level < market else TriggerDirection.RISING
            venue.submit(
                order(Side.SELL, OrderType.STOP_LIMIT, price=level, trigger=level, direction=direction),
                NOW,
                market,
            )
        else:
            # Triggered on arrival (the trigger is already crossed) with a limit that does not take:
            # it rests as a limit and is judged by its price.
            side = Side.BUY if choice == 4 else Side.SELL
            limit = market * D("0.97") if side is Side.BUY else market * D("1.03")
            direction = TriggerDirection.FALLING if side is Side.BUY else TriggerDirection.RISING
            stop_limit = order(
                side,
                OrderType.STOP_LIMIT,
                price=limit.quantize(D("0.01")),
                trigger=market,
                direction=direction,
            )
            venue.submit(stop_limit, NOW, market)
            assert stop_limit.triggered
    refused = [e for e in venue.poll_events() if isinstance(e, OrderUpdate) and e.status is OrderStatus.REJECTED]
    assert refused == []


@pytest.mark.parametrize("seed", range(12))
def test_next_trigger_index_matches_the_plain_loop_on_random_bars(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    _, high, low, _ = random_walk(seed, 3_000, decimals=int(rng.choice([2, 4, 6])))
    venue = make_venue()
    place_random_orders(venue, rng, D("100.00"), count=int(rng.integers(1, 8)))
    for start in [0, 1, 255, 256, 257, 1_000, 2_999, 3_000, 5_000, *rng.integers(0, 3_000, 20).tolist()]:
        expected = reference_next_trigger(venue, high, low, int(start))
        assert venue.next_trigger_index(SYMBOL, high, low, int(start)) == expected, (seed, start)


def test_next_trigger_index_agrees_with_process_bar_to_the_last_digit() -> None:
    # A low of 99.995 reaches a buy limit at 99.99 only if judged on the rounded price; the venue
    # judges on the bar's own value, so neither the index nor the fill happens.
    venue = make_venue()
    venue.submit(order(Side.BUY, OrderType.LIMIT, price=D("99.99")), NOW, D("100"))
    venue.poll_events()
    high = np.array([100.5, 100.5, 100.5])
    low = np.array([99.995, 99.99000000000001, 99.99])
    assert venue.next_trigger_index(SYMBOL, high, low, 0) == 2
    venue.process_bar(SYMBOL, NOW, 100.0, high[0], low[0], 100.0)
    venue.process_bar(SYMBOL, NOW, 100.0, high[1], low[1], 100.0)
    assert venue.poll_events() == []
    venue.process_bar(SYMBOL, NOW, 100.0, high[2], low[2], 100.0)
    assert len(venue.poll_events()) == 2  # fill and FILLED


def test_orders_waiting_for_an_open_make_the_next_bar_due() -> None:
    high = np.full(10, 101.0)
    low = np.full(10, 99.0)
    venue = make_venue()
    venue.submit(order(Side.BUY, OrderType.MARKET), NOW, None)
    assert venue.next_trigger_index(SYMBOL, high, low, 4) == 4
    arriving = make_venue()
    arriving.submit(order(Side.BUY, OrderType.LIMIT, price=D("50")), NOW, None)  # arrives at the next open
    assert arriving.next_trigger_index(SYMBOL, high, low, 3) == 3
    assert make_venue().next_trigger_index(SYMBOL, high, low, 0) is None  # nothing resting


def test_first_reach_index_finds_hits_on_chunk_boundaries_and_far_away() -> None:
    n = 300_000
    for hit in [0, 255, 256, 257, 511, 512, 767, 768, 100_000, n - 1]:
        low = np.full(n, 100.0)
        high = np.full(n, 101.0)
        low[hit] = 90.0
        assert first_reach_index(high, low, 95.0, float("inf"), 0) == hit
        high[hit] = 120.0
        assert first_reach_index(high, low, float("-inf"), 110.0, 0) == hit
        assert first_reach_index(high, low, float("-inf"), 110.0, hit + 1) is None
    assert first_reach_index(np.full(5, np.nan), np.full(5, np.nan), 1e9, -1e9, 0) is None
    assert first_reach_index(np.ones(5), np.ones(5), float("-inf"), float("inf"), 0) is None


def run_both_ways(
    o: FloatArray,
    h: FloatArray,
    lo: FloatArray,
    c: FloatArray,
    v: FloatArray,
    setup: Callable[[SimulatedVenue], None],
) -> tuple[list[OrderUpdate | Fill], list[OrderUpdate | Fill], int]:
    """Events of a venue shown every bar and of one shown only the bars next_trigger_index names."""
    start = NOW
    every, skipping = make_venue(), make_venue()
    setup(every)
    setup(skipping)
    every.poll_events()
    skipping.poll_events()
    for i in range(len(c)):
        every.process_bar(SYMBOL, start + timedelta(minutes=i), o[i], h[i], lo[i], c[i], v[i])
    visited = 0
    i = 0
    while i < len(c):
        nxt = skipping.next_trigger_index(SYMBOL, h, lo, i)
        if nxt is None:
            break
        visited += 1
        skipping.process_bar(SYMBOL, start + timedelta(minutes=nxt), o[nxt], h[nxt], lo[nxt], c[nxt], v[nxt])
        i = nxt + 1
    return every.poll_events(), skipping.poll_events(), visited


def test_skipping_to_the_next_trigger_gives_the_same_fills_as_visiting_every_bar() -> None:
    o, h, lo, c = random_walk(21, 20_000, decimals=3)  # ranges from about 83 to 129
    v = np.full(len(c), 5.0)

    def ladder(venue: SimulatedVenue) -> None:
        for k in range(1, 6):
            buy_level = D(100 - 3 * k)
            venue.submit(order(Side.BUY, OrderType.LIMIT, price=buy_level, client_order_id=f"l{k}"), NOW, D(100))
            stop_level = D(100 + 3 * k)
            stop = order(
                Side.BUY,
                OrderType.STOP,
                trigger=stop_level,
                direction=TriggerDirection.RISING,
                client_order_id=f"s{k}",
            )
            venue.submit(stop, NOW, D(100))

    every, skipping, visited = run_both_ways(o, h, lo, c, v, ladder)
    assert every == skipping
    assert len([e for e in every if isinstance(e, Fill)]) == 10
    assert visited < len(c) // 20  # most bars were jumped over


def test_next_trigger_index_is_much_faster_than_a_python_loop() -> None:
    n = 400_000
    _, high, low, _ = random_walk(3, n, decimals=2)
    venue = make_venue()
    venue.submit(order(Side.BUY, OrderType.LIMIT, price=D("1.00")), NOW, D("100"))  # never reached
    venue.submit(
        order(Side.SELL, OrderType.STOP, trigger=D("100000"), direction=TriggerDirection.RISING),
        NOW,
        D("100"),
    )
    began = time.perf_counter()
    assert venue.next_trigger_index(SYMBOL, high, low, 0) is None
    fast = time.perf_counter() - began
    below, above = 1.0, 100000.0
    began = time.perf_counter()
    found = None
    for i in range(n):  # the cheapest possible per-bar loop: floats, no Decimal
        if low[i] <= below or high[i] >= above:
            found = i
            break
    slow = time.perf_counter() - began
    assert found is None
    assert fast * 10 < slow, f"numpy scan {fast * 1e3:.1f} ms vs Python loop {slow * 1e3:.1f} ms"


def test_next_trigger_index_on_real_btc_minutes_matches_the_loop_and_the_every_bar_run(
    tk_data_file: Callable[[str], Path],
) -> None:
    import pandas as pd

    frame = pd.read_feather(tk_data_file("binance_BTC_USDT-1m_20250520-20250818.feather")).iloc[:40_000]
    o, h, lo, c, v = (frame[name].to_numpy(dtype=np.float64) for name in ("open", "high", "low", "close", "volume"))
    first = to_decimal(float(c[0]))

    def brackets(venue: SimulatedVenue) -> None:
        for pct in ("0.97", "0.95", "1.02", "1.04"):
            level = (first * D(pct)).quantize(D("0.01"))
            if level < first:
                venue.submit(order(Side.BUY, OrderType.LIMIT, price=level, client_order_id=pct), NOW, first)
            else:
                rising = TriggerDirection.RISING
                stop = order(Side.BUY, OrderType.STOP, trigger=level, direction=rising, client_order_id=pct)
                venue.submit(stop, NOW, first)

    venue = make_venue()
    brackets(venue)
    for start in (0, 1_000, 10_000, 39_999):
        assert venue.next_trigger_index(SYMBOL, h, lo, start) == reference_next_trigger(venue, h, lo, start)
    every, skipping, _ = run_both_ways(o, h, lo, c, v, brackets)
    assert every == skipping and every
