"""An order's life on the simulated venue: transitions, cancels, events, locks and partial fills."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tradekit.domain.instruments import Instrument, InstrumentKind
from tradekit.domain.orders import (
    ALLOWED_TRANSITIONS,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    TimeInForce,
    TriggerDirection,
)
from tradekit.errors import ConfigError, InvalidTransitionError, OrderNotFound
from tradekit.sim import BasisPointSlippage, FeeSchedule, SimulatedVenue

D = Decimal
NOW = datetime(2024, 1, 1, tzinfo=UTC)
BTC = Instrument(symbol="BTC/USDT", base="BTC", quote="USDT", tick_size=D("0.01"), lot_size=D("0.001"))
PERP = Instrument(
    symbol="ETH/USDT:USDT",
    base="ETH",
    quote="USDT",
    kind=InstrumentKind.PERPETUAL,
    tick_size=D("0.01"),
    lot_size=D("0.01"),
    max_leverage=D("5"),
)
FEES = FeeSchedule(maker=D("0.0002"), taker=D("0.001"))
_ids = itertools.count(1)


def make_venue(cash: str = "10000", volume_limit: Decimal | None = None) -> SimulatedVenue:
    return SimulatedVenue({BTC.symbol: BTC, PERP.symbol: PERP}, {"USDT": D(cash)}, FEES, volume_limit=volume_limit)


def make_order(
    side: Side,
    quantity: str,
    kind: OrderType = OrderType.MARKET,
    *,
    price: str | None = None,
    trigger: str | None = None,
    direction: TriggerDirection | None = None,
    tif: TimeInForce = TimeInForce.GTC,
    reduce_only: bool = False,
    symbol: str = BTC.symbol,
) -> Order:
    return Order(
        client_order_id=f"l{next(_ids)}",
        symbol=symbol,
        side=side,
        type=kind,
        quantity=D(quantity),
        price=None if price is None else D(price),
        trigger_price=None if trigger is None else D(trigger),
        trigger_direction=direction,
        time_in_force=tif,
        reduce_only=reduce_only,
    )


def bar(
    venue: SimulatedVenue, o: float, h: float, lo: float, c: float, v: float = 10.0, symbol: str = BTC.symbol
) -> None:
    venue.process_bar(symbol, NOW, o, h, lo, c, v)


def transitions(events: list[OrderUpdate | Fill]) -> set[tuple[OrderStatus, OrderStatus]]:
    """Every (from, to) move the venue reported, each order starting NEW."""
    last: dict[str, OrderStatus] = {}
    seen: set[tuple[OrderStatus, OrderStatus]] = set()
    for event in events:
        if isinstance(event, OrderUpdate):
            seen.add((last.get(event.client_order_id, OrderStatus.NEW), event.status))
            last[event.client_order_id] = event.status
    return seen


def reach(status: OrderStatus) -> Order:
    """An order brought to ``status`` through the venue."""
    venue = make_venue(volume_limit=D("0.1"))
    if status is OrderStatus.REJECTED:
        order = make_order(Side.SELL, "1")  # nothing to sell on spot
        venue.submit(order, NOW, D("100"))
    elif status is OrderStatus.EXPIRED:
        order = make_order(Side.BUY, "1", OrderType.LIMIT, price="90", tif=TimeInForce.IOC)
        venue.submit(order, NOW, D("100"))
    else:
        order = make_order(Side.BUY, "1" if status is OrderStatus.FILLED else "3", OrderType.LIMIT, price="95")
        venue.submit(order, NOW, D("100"))
        if status in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED):
            bar(venue, 100, 100, 94, 96, 10)  # 1 per bar
        if status is OrderStatus.CANCELLED:
            venue.cancel(order.client_order_id, NOW)
    assert order.status is status
    return order


def test_every_allowed_transition_happens_through_the_venue() -> None:
    events: list[OrderUpdate | Fill] = []
    venue = make_venue(volume_limit=D("0.1"))
    # NEW -> ACCEPTED -> FILLED; NEW -> REJECTED
    venue.submit(make_order(Side.BUY, "0.5"), NOW, D("100"))
    venue.submit(make_order(Side.BUY, "0.5", OrderType.LIMIT, price="99.999"), NOW, D("100"))
    # ACCEPTED -> CANCELLED; ACCEPTED -> EXPIRED
    resting = make_order(Side.BUY, "1", OrderType.LIMIT, price="50")
    venue.submit(resting, NOW, D("100"))
    venue.cancel(resting.client_order_id, NOW)
    venue.submit(make_order(Side.BUY, "1", OrderType.LIMIT, price="50", tif=TimeInForce.IOC), NOW, D("100"))
    # ACCEPTED -> PARTIALLY_FILLED -> PARTIALLY_FILLED -> FILLED (1 per bar)
    venue.submit(make_order(Side.BUY, "3", OrderType.LIMIT, price="95"), NOW, D("100"))
    # PARTIALLY_FILLED -> CANCELLED
    cancelled_late = make_order(Side.BUY, "3", OrderType.LIMIT, price="95")
    venue.submit(cancelled_late, NOW, D("100"))
    # PARTIALLY_FILLED -> EXPIRED: an IOC market order arriving at an open it cannot fill whole
    venue.submit(make_order(Side.BUY, "2", tif=TimeInForce.IOC), NOW, None)
    bar(venue, 100, 100, 94, 96, 10)  # each order fills at most 1 per bar
    venue.cancel(cancelled_late.client_order_id, NOW)
    bar(venue, 100, 100, 94, 96, 10)
    bar(venue, 100, 100, 94, 96, 10)
    events += venue.poll_events()
    allowed = {(a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets}
    assert transitions(events) == allowed


@pytest.mark.parametrize("status", list(OrderStatus))
def test_every_forbidden_transition_raises_and_leaves_the_order_as_it_was(status: OrderStatus) -> None:
    order = make_order(Side.BUY, "1") if status is OrderStatus.NEW else reach(status)
    for target in set(OrderStatus) - ALLOWED_TRANSITIONS[status]:
        with pytest.raises(InvalidTransitionError, match=f"cannot go from {status} to {target}"):
            order.transition(target)
        assert order.status is status


def test_submitting_an_order_that_is_not_new_raises() -> None:
    venue = make_venue()
    order = reach(OrderStatus.FILLED)
    with pytest.raises(InvalidTransitionError, match="only a NEW order can be submitted"):
        venue.submit(order, NOW, D("100"))
    assert venue.poll_events() == []


def test_cancel_of_a_resting_order_reports_cancelled_and_releases_its_cash() -> None:
    venue = make_venue()
    order = make_order(Side.BUY, "10", OrderType.LIMIT, price="90")
    venue.submit(order, NOW, D("100"))
    assert venue.balances()["USDT"].free == D("10000") - D("900") * D("1.0002")
    venue.poll_events()
    venue.cancel(order.client_order_id, NOW + timedelta(minutes=1))
    [update] = venue.poll_events()
    assert isinstance(update, OrderUpdate)
    assert (update.status, update.reason) == (OrderStatus.CANCELLED, "cancelled on request")
    assert update.timestamp == NOW + timedelta(minutes=1)
    assert venue.open_orders() == [] and not venue.has_resting(BTC.symbol)
    assert venue.balances()["USDT"].free == D("10000")


def test_cancel_of_an_unknown_or_finished_order_raises_order_not_found_and_changes_nothing() -> None:
    venue = make_venue()
    with pytest.raises(OrderNotFound, match="paper has no order with client order id 'nope'"):
        venue.cancel("nope", NOW)
    filled = make_order(Side.BUY, "1")
    venue.submit(filled, NOW, D("100"))
    venue.poll_events()
    with pytest.raises(OrderNotFound, match=f"order '{filled.client_order_id}' on paper is filled, not open"):
        venue.cancel(filled.client_order_id, NOW)
    assert venue.poll_events() == []
    assert filled.status is OrderStatus.FILLED


def test_poll_events_returns_oldest_first_then_forgets_them() -> None:
    venue = make_venue()
    order = make_order(Side.BUY, "1")
    venue.submit(order, NOW, D("100"))
    events = venue.poll_events()
    assert [type(e).__name__ for e in events] == ["OrderUpdate", "Fill", "OrderUpdate"]
    assert venue.poll_events() == []


def test_fetch_order_returns_any_order_seen_with_its_state_and_venue_id() -> None:
    venue = make_venue()
    rejected = make_order(Side.SELL, "1")
    resting = make_order(Side.BUY, "1", OrderType.LIMIT, price="90")
    venue.submit(rejected, NOW, D("100"))
    venue.submit(resting, NOW, D("100"))
    assert venue.fetch_order(rejected.client_order_id) is rejected
    assert rejected.status is OrderStatus.REJECTED and rejected.exchange_order_id is None
    fetched = venue.fetch_order(resting.client_order_id)
    assert fetched is not None and fetched.status is OrderStatus.ACCEPTED
    assert fetched.exchange_order_id == "paper-1"
    assert venue.fetch_order("never-sent") is None


def test_open_orders_lists_resting_orders_in_submission_order_per_symbol_or_all() -> None:
    venue = make_venue()
    first = make_order(Side.BUY, "1", OrderType.LIMIT, price="90")
    perp = make_order(Side.BUY, "1", OrderType.LIMIT, price="90", symbol=PERP.symbol)
    second = make_order(Side.BUY, "1", OrderType.LIMIT, price="80")
    for order in (first, perp, second):
        venue.submit(order, NOW, D("100"))
    assert venue.open_orders() == [first, perp, second]
    assert venue.open_orders(BTC.symbol) == [first, second]
    assert venue.open_orders("XRP/USDT") == []


def test_balances_hold_back_what_resting_orders_may_spend_or_sell() -> None:
    venue = make_venue()
    venue.submit(make_order(Side.BUY, "2"), NOW, D("100"))  # cash 10000 - 200.2
    venue.submit(make_order(Side.BUY, "3", OrderType.LIMIT, price="90"), NOW, D("100"))
    venue.submit(
        make_order(Side.BUY, "1", OrderType.STOP, trigger="110", direction=TriggerDirection.RISING),
        NOW,
        D("100"),
    )
    venue.submit(make_order(Side.SELL, "0.5", OrderType.LIMIT, price="120"), NOW, D("100"))
    balances = venue.balances()
    cash = D("10000") - D("200.2")
    assert balances["USDT"].total == cash
    assert balances["USDT"].free == cash - D("270") * D("1.0002") - D("110") * D("1.001")
    assert (balances["BTC"].total, balances["BTC"].free) == (D("2"), D("1.5"))
    assert balances["BTC"].locked == D("0.5")


def test_market_order_waiting_for_the_open_holds_back_cash_at_the_last_known_price() -> None:
    venue = make_venue()
    bar(venue, 100, 100, 100, 100)
    venue.submit(make_order(Side.BUY, "10"), NOW, None)
    assert venue.balances()["USDT"].free == D("10000") - D("1000") * D("1.001")


def test_an_old_close_is_not_taken_for_the_market_and_the_fill_checks_the_cash_instead() -> None:
    venue = make_venue(cash="1000")
    bar(venue, 100, 100, 100, 100)  # shown at NOW; the market then moves on unseen
    later = NOW + timedelta(hours=5)
    order = make_order(Side.BUY, "12")  # 1200 at the old close: more than the cash
    venue.submit(order, later, None)
    assert order.status is OrderStatus.ACCEPTED
    venue.process_bar(BTC.symbol, later, 80.0, 81.0, 79.0, 80.0, 10.0)
    [fill] = [e for e in venue.poll_events() if isinstance(e, Fill)]
    assert fill.quantity == D("12") and fill.price == D("80.00")
    too_big = make_order(Side.BUY, "5")
    venue.submit(too_big, later + timedelta(hours=1), None)
    venue.process_bar(BTC.symbol, later + timedelta(hours=1), 10.0, 10.0, 10.0, 10.0, 10.0)
    assert too_big.filled_quantity == D("3.9")  # (1000 - 960.96) / (10 * 1.001) = 3.9000..., to the lot
    assert too_big.status is OrderStatus.CANCELLED
    assert too_big.reason == "insufficient USDT: 3.900 BTC/USDT affordable at 10.00"
    assert venue.ledger.cash["USDT"] >= 0


def test_volume_limit_fills_a_big_order_over_several_bars_with_numbered_fills() -> None:
    venue = make_venue(volume_limit=D("0.25"))
    order = make_order(Side.BUY, "5", OrderType.LIMIT, price="95")
    venue.submit(order, NOW, D("100"))
    venue.poll_events()
    quantities = []
    for _ in range(3):
        bar(venue, 100, 100, 94, 96, 8)  # 2 per bar
        quantities += [(f.fill_id, f.quantity) for f in venue.poll_events() if isinstance(f, Fill)]
    cid = order.client_order_id
    assert quantities == [(f"{cid}-1", D("2")), (f"{cid}-2", D("2")), (f"{cid}-3", D("1"))]
    assert order.status is OrderStatus.FILLED and order.filled_quantity == D("5")


def test_volume_limit_caps_a_market_order_waiting_for_the_open_and_the_rest_fills_next_open() -> None:
    venue = make_venue(volume_limit=D("0.5"))
    order = make_order(Side.BUY, "3")
    venue.submit(order, NOW, None)
    bar(venue, 100, 101, 99, 100, 4)
    bar(venue, 102, 103, 101, 102, 4)
    fills = [(f.price, f.quantity) for f in venue.poll_events() if isinstance(f, Fill)]
    assert fills == [(D("100.00"), D("2")), (D("102.00"), D("1"))]


def test_bar_without_volume_fills_nothing_under_a_volume_limit_but_stops_still_trigger() -> None:
    venue = make_venue(volume_limit=D("0.5"))
    venue.submit(make_order(Side.BUY, "1"), NOW, D("100"))
    stop = make_order(Side.SELL, "1", OrderType.STOP, trigger="95", direction=TriggerDirection.FALLING)
    venue.submit(stop, NOW, D("100"))
    venue.poll_events()
    bar(venue, 100, 100, 90, 92, 0)
    assert venue.poll_events() == [] and stop.triggered
    bar(venue, 91, 93, 90, 92, 10)
    assert [(f.price, f.quantity) for f in venue.poll_events() if isinstance(f, Fill)] == [(D("91.00"), D("1"))]


def test_spot_buy_stop_gapping_past_its_reserved_cash_fills_what_cash_pays_and_cancels_the_rest() -> None:
    venue = make_venue(cash="1000")
    stop = make_order(Side.BUY, "9.9", OrderType.STOP, trigger="100", direction=TriggerDirection.RISING)
    venue.submit(stop, NOW, D("95"))
    bar(venue, 120, 121, 119, 120)
    events = venue.poll_events()
    [fill] = [e for e in events if isinstance(e, Fill)]
    assert fill.quantity == D("8.325")  # 1000 / (120 * 1.001), down to the lot
    assert stop.status is OrderStatus.CANCELLED
    assert stop.reason is not None and stop.reason.startswith("insufficient USDT")
    assert venue.ledger.cash["USDT"] >= 0


def test_margin_currency_balance_is_equity_and_free_margin() -> None:
    venue = make_venue(cash="1000")
    venue.submit(make_order(Side.BUY, "10", symbol=PERP.symbol), NOW, D("100"))  # 1000 notional, 200 margin
    bar(venue, 100, 111, 99, 110, symbol=PERP.symbol)
    balance = venue.balances()["USDT"]
    assert balance.total == D("1000") - D("1") + D("100")  # fee 1, 100 unrealised
    assert balance.free == balance.total - D("1100") / 5


# -- construction -------------------------------------------------------------------------------------


def test_venue_refuses_a_starting_balance_in_a_spot_base_currency() -> None:
    with pytest.raises(ConfigError, match="starting cash in BTC: BTC is the base of BTC/USDT"):
        SimulatedVenue({BTC.symbol: BTC}, {"USDT": D(1), "BTC": D(1)}, FEES)


@pytest.mark.parametrize("limit", [D(0), D("1.5"), D("-0.1")])
def test_venue_refuses_a_volume_limit_outside_zero_to_one(limit: Decimal) -> None:
    with pytest.raises(ConfigError, match=f"volume_limit is the fraction .* was {limit}"):
        make_venue(volume_limit=limit)


def test_venue_refuses_negative_cash_and_mislabelled_instruments_and_unknown_bars() -> None:
    with pytest.raises(ConfigError, match="starting cash in USDT cannot be negative, was -1"):
        SimulatedVenue({BTC.symbol: BTC}, {"USDT": D(-1)}, FEES)
    with pytest.raises(ValueError, match="instrument BTC/USDT is listed under another symbol, BTC"):
        SimulatedVenue({"BTC": BTC}, {"USDT": D(1)}, FEES)
    with pytest.raises(ValueError, match="bar for unknown symbol 'XRP/USDT'"):
        make_venue().process_bar("XRP/USDT", NOW, 1.0, 1.0, 1.0, 1.0)


def test_fee_schedule_takes_exact_fractions_and_refuses_nonsense() -> None:
    fees = FeeSchedule(maker=0.0002, taker="0.001")  # type: ignore[arg-type]
    assert (fees.maker, fees.taker) == (D("0.0002"), D("0.001"))
    assert FeeSchedule(maker=D("-0.0001"), taker=D("0.0005")).maker == D("-0.0001")  # a rebate
    with pytest.raises(ValueError, match=r"the taker fee is a fraction .* was 1\.5"):
        FeeSchedule(maker=D(0), taker=D("1.5"))
    with pytest.raises(ValueError, match=r"the taker fee cannot be negative, was -0\.001"):
        FeeSchedule(maker=D(0), taker=D("-0.001"))
    with pytest.raises(ValueError, match="slippage is a cost and cannot be negative, was -1 bps"):
        BasisPointSlippage(D(-1))
