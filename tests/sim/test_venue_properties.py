"""Properties of the simulated venue on random bars and random orders (hypothesis).

Whatever is sent and whatever the bars do: spot balances never go negative,
the ledger moves exactly by what the fills say (recomputed here
independently), no order fills beyond its quantity or beyond its limit,
reduce-only never grows or flips a position, and every price and quantity
stays on the tick and the lot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradekit.domain.instruments import Instrument, InstrumentKind
from tradekit.domain.orders import (
    ALLOWED_TRANSITIONS,
    Fill,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    TimeInForce,
    TriggerDirection,
)
from tradekit.errors import OrderNotFound
from tradekit.money import is_multiple_of
from tradekit.sim import BasisPointSlippage, FeeSchedule, NoSlippage, SimulatedVenue, fee_amount

D = Decimal
START = datetime(2024, 1, 1, tzinfo=UTC)
CASH = D("1000")
FEES = FeeSchedule(maker=D("0.0002"), taker=D("0.00075"))
SPOT = Instrument(
    symbol="BTC/USDT", base="BTC", quote="USDT", tick_size=D("0.01"), lot_size=D("0.001"), min_notional=D("1")
)
PERP = Instrument(
    symbol="BTC/USDT:USDT",
    base="BTC",
    quote="USDT",
    kind=InstrumentKind.PERPETUAL,
    tick_size=D("0.5"),
    lot_size=D("0.01"),
    max_leverage=D("3"),
)

bps = st.integers(min_value=-400, max_value=400)


@st.composite
def bar_step(draw: st.DrawFn) -> tuple[str, int, int, int, int, float]:
    """One bar as moves in basis points: gap from the last close, close from open, upper and lower wick."""
    wick = st.integers(min_value=0, max_value=300)
    volume = draw(st.sampled_from([0.0, 3.0, 50.0, 1000.0]))
    return ("bar", draw(bps), draw(bps), draw(wick), draw(wick), volume)


@st.composite
def order_step(draw: st.DrawFn) -> tuple[str, dict[str, object], bool]:
    """One order of any kind, priced in basis points from the market, sent with or without a market price."""
    kind = draw(st.sampled_from(list(OrderType)))
    fields: dict[str, object] = {
        "side": draw(st.sampled_from([Side.BUY, Side.BUY, Side.SELL])),
        "type": kind,
        "lots": draw(st.integers(1, 3_000)),
        "time_in_force": draw(st.sampled_from([TimeInForce.GTC] * 4 + [TimeInForce.IOC, TimeInForce.FOK])),
        "reduce_only": draw(st.sampled_from([False] * 5 + [True])),
    }
    if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        fields["price_bps"] = draw(bps)
        fields["post_only"] = draw(st.booleans())
    if kind in (OrderType.STOP, OrderType.STOP_LIMIT):
        fields["trigger_bps"] = draw(bps)
        fields["trigger_direction"] = draw(st.sampled_from(list(TriggerDirection)))
    return ("order", fields, draw(st.booleans()))


steps = st.lists(
    st.one_of(bar_step(), bar_step(), order_step(), order_step(), st.tuples(st.just("cancel"), st.integers(0, 50))),
    min_size=1,
    max_size=30,
)


@dataclass
class Book:
    """What the test itself knows from the venue's events, kept apart from the venue's ledger."""

    instrument: Instrument
    orders: list[Order] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    status: dict[str, OrderStatus] = field(default_factory=dict)
    held: Decimal = Decimal(0)


def build_order(fields: dict[str, object], instrument: Instrument, number: int, mark: Decimal) -> Order:
    def near(key: str) -> Decimal | None:
        offset = fields.get(key)
        if offset is None:
            return None
        return max(instrument.round_price(mark * (1 + D(int(offset)) / 10_000)), instrument.tick_size)  # type: ignore[call-overload]

    return Order(
        client_order_id=f"p{number}",
        symbol=instrument.symbol,
        side=fields["side"],
        type=fields["type"],
        quantity=instrument.lot_size * int(fields["lots"]),  # type: ignore[call-overload]
        price=near("price_bps"),
        trigger_price=near("trigger_bps"),
        trigger_direction=fields.get("trigger_direction"),
        time_in_force=fields["time_in_force"],
        post_only=bool(fields.get("post_only", False)),
        reduce_only=bool(fields["reduce_only"]),
    )


def absorb(book: Book, events: list[OrderUpdate | Fill]) -> None:
    """Check each event against the lifecycle and the reduce-only promise, and keep the fills."""
    by_id = {order.client_order_id: order for order in book.orders}
    for event in events:
        if isinstance(event, OrderUpdate):
            previous = book.status.get(event.client_order_id, OrderStatus.NEW)
            assert event.status in ALLOWED_TRANSITIONS[previous], (previous, event.status)
            book.status[event.client_order_id] = event.status
            continue
        order = by_id[event.client_order_id]
        signed = event.quantity if event.side is Side.BUY else -event.quantity
        after = book.held + signed
        if order.reduce_only:
            assert abs(after) < abs(book.held) and after * book.held >= 0, (book.held, after)
        if order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            assert order.price is not None
            assert event.price <= order.price if event.side is Side.BUY else event.price >= order.price
        book.held = after
        book.fills.append(event)


def check_invariants(venue: SimulatedVenue, book: Book, mark: Decimal) -> None:
    instrument = book.instrument
    symbol = instrument.symbol
    signed = [(f.quantity if f.side is Side.BUY else -f.quantity, f) for f in book.fills]
    fees = sum((f.fee for f in book.fills), D(0))
    # The ledger, recomputed from the fills alone.
    assert venue.ledger.cash["USDT"] == CASH - sum((q * f.price for q, f in signed), D(0)) - fees
    assert venue.ledger.quantity(symbol) == book.held == sum((q for q, _ in signed), D(0))
    # At any common mark, equity moved only by fees and by how far each fill's price is from the mark.
    moved_by_prices = sum((q * (mark - f.price) for q, f in signed), D(0))
    assert venue.ledger.equity({symbol: mark}, "USDT") == CASH + moved_by_prices - fees
    for fill in book.fills:
        rate = FEES.maker if fill.liquidity is Liquidity.MAKER else FEES.taker
        assert fill.fee == fee_amount(fill.quantity * fill.price, rate)
        assert fill.quantity > 0 and is_multiple_of(fill.quantity, instrument.lot_size)
        assert fill.price > 0 and is_multiple_of(fill.price, instrument.tick_size)
    for order in book.orders:
        filled = sum((f.quantity for f in book.fills if f.client_order_id == order.client_order_id), D(0))
        assert order.filled_quantity == filled <= order.quantity
        assert is_multiple_of(order.remaining_quantity, instrument.lot_size)
        assert (order.status is OrderStatus.FILLED) == (filled == order.quantity)
        assert book.status.get(order.client_order_id, OrderStatus.NEW) is order.status
    assert {o.client_order_id for o in venue.open_orders()} == {
        o.client_order_id for o in book.orders if o.status.is_open
    }
    if instrument.kind is InstrumentKind.SPOT:
        assert venue.ledger.cash["USDT"] >= 0
        assert book.held >= 0
        for balance in venue.balances().values():
            assert balance.total >= 0 and balance.free >= 0, balance


def run(venue: SimulatedVenue, instrument: Instrument, script: list[tuple[object, ...]]) -> None:
    book = Book(instrument)
    now = START
    mark = D(100)
    # Start holding something, so that sells and reduce-only orders have work to do.
    opening: tuple[object, ...] = (
        "order",
        {
            "side": Side.BUY,
            "type": OrderType.MARKET,
            "lots": 300,
            "time_in_force": TimeInForce.GTC,
            "reduce_only": False,
        },
        True,
    )
    for step in [opening, *script]:
        now += timedelta(minutes=1)
        if step[0] == "bar":
            _, gap, move, up, down, volume = step
            # Prices with four decimals: bars need not lie on the tick.
            o = round(float(mark) * (1 + gap / 10_000), 4)  # type: ignore[operator]
            c = round(o * (1 + move / 10_000), 4)  # type: ignore[operator]
            h = round(max(o, c) * (1 + up / 10_000), 4)  # type: ignore[operator]
            lo = round(min(o, c) * (1 - down / 10_000), 4)  # type: ignore[operator]
            venue.process_bar(instrument.symbol, now, o, h, lo, c, volume)  # type: ignore[arg-type]
            mark = instrument.round_price(D(repr(c)))
        elif step[0] == "order":
            _, fields, with_market = step
            order = build_order(fields, instrument, len(book.orders), mark)  # type: ignore[arg-type]
            book.orders.append(order)
            venue.submit(order, now, mark if with_market else None)
        else:
            open_orders = venue.open_orders()
            if open_orders:
                venue.cancel(open_orders[int(step[1]) % len(open_orders)].client_order_id, now)  # type: ignore[call-overload]
            elif book.orders:
                try:
                    venue.cancel(book.orders[-1].client_order_id, now)
                except OrderNotFound:
                    pass  # finished orders cannot be cancelled
                else:
                    raise AssertionError("cancel of a finished order must raise OrderNotFound")
        absorb(book, venue.poll_events())
        check_invariants(venue, book, mark)


@settings(max_examples=400, deadline=None)
@given(script=steps, volume_limit=st.sampled_from([None, D("0.1"), D("1")]), slip=st.booleans())
def test_spot_account_stays_exact_and_never_negative(
    script: list[tuple[object, ...]], volume_limit: Decimal | None, slip: bool
) -> None:
    slippage = BasisPointSlippage(D("7")) if slip else NoSlippage()
    venue = SimulatedVenue({SPOT.symbol: SPOT}, {"USDT": CASH}, FEES, slippage, volume_limit=volume_limit)
    run(venue, SPOT, script)


@settings(max_examples=250, deadline=None)
@given(script=steps, volume_limit=st.sampled_from([None, D("0.5")]))
def test_perpetual_account_stays_exact_and_reduce_only_never_grows_a_position(
    script: list[tuple[object, ...]], volume_limit: Decimal | None
) -> None:
    venue = SimulatedVenue(
        {PERP.symbol: PERP}, {"USDT": CASH}, FEES, BasisPointSlippage(D("3")), volume_limit=volume_limit
    )
    run(venue, PERP, script)


@given(
    ticks=st.integers(1, 10**9),
    bps=st.integers(0, 500),
    tick=st.sampled_from([D("0.01"), D("0.5"), D("1"), D("0.00001")]),
)
def test_slippage_is_never_in_the_takers_favour_and_stays_on_the_tick(ticks: int, bps: int, tick: Decimal) -> None:
    instrument = Instrument(symbol="X/Y", base="X", quote="Y", tick_size=tick, lot_size=D(1))
    price = tick * ticks
    slippage = BasisPointSlippage(D(bps))
    buy = slippage.apply(Side.BUY, price, instrument)
    sell = slippage.apply(Side.SELL, price, instrument)
    assert is_multiple_of(buy, tick) and is_multiple_of(sell, tick)
    assert price * (1 + D(bps) / 10_000) <= buy < price * (1 + D(bps) / 10_000) + tick
    assert sell <= max(price * (1 - D(bps) / 10_000), tick) and sell > 0
    assert sell > price * (1 - D(bps) / 10_000) - tick


@given(
    quantity=st.decimals(min_value=D("0.001"), max_value=D("1000"), places=3),
    price=st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2),
    rate=st.decimals(min_value=D("-0.001"), max_value=D("0.01"), places=5),
)
def test_fee_is_the_exact_product_rounded_half_even_to_1e_12(quantity: Decimal, price: Decimal, rate: Decimal) -> None:
    fee = fee_amount(quantity * price, rate)
    assert abs(fee - quantity * price * rate) <= D("0.5e-12")
    assert fee.as_tuple().exponent == -12
