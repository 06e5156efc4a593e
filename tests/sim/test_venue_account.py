"""The venue's account keeps what orders hold back current, and its fast paths change no result.

The locks of open orders are summed again only when the book of their
currency changes, so balances after any sequence of submits, cancels and bars
must equal a recomputation from scratch (done here from the open orders, the
ledger and the bars the test showed). An order that fills as it arrives must
not pay for the orders resting on the book, and a market price already on the
tick must give the very fill price that rounding gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradekit.domain.instruments import Instrument, InstrumentKind
from tradekit.domain.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce, TriggerDirection
from tradekit.errors import OrderNotFound
from tradekit.sim import FeeSchedule, SimulatedVenue
from tradekit.sim.account import Account, Resting

D = Decimal
START = datetime(2024, 1, 1, tzinfo=UTC)
FEES = FeeSchedule(maker=D("-0.0001"), taker=D("0.00075"))
CASH = {"USDT": D("1000"), "EUR": D("500.5")}
# Leverages of 4 and 5 keep every margin term exact, so sums agree whatever order they are taken in.
INSTRUMENTS = {
    i.symbol: i
    for i in (
        Instrument(symbol="BTC/USDT", base="BTC", quote="USDT", tick_size=D("0.01"), lot_size=D("0.001")),
        Instrument(symbol="ETH/USDT", base="ETH", quote="USDT", tick_size=D("0.05"), lot_size=D("0.01")),
        Instrument(
            symbol="BTC/USDT:USDT",
            base="BTC",
            quote="USDT",
            kind=InstrumentKind.PERPETUAL,
            tick_size=D("0.5"),
            lot_size=D("0.01"),
            max_leverage=D("5"),
        ),
        Instrument(
            symbol="SOL/EUR:EUR",
            base="SOL",
            quote="EUR",
            kind=InstrumentKind.PERPETUAL,
            tick_size=D("0.01"),
            lot_size=D("0.1"),
            max_leverage=D("4"),
        ),
        Instrument(symbol="ADA/EUR", base="ADA", quote="EUR", tick_size=D("0.0001"), lot_size=D("1")),
    )
}
SYMBOLS = list(INSTRUMENTS)
FIRST_CLOSE = {"BTC/USDT": 100.0, "ETH/USDT": 20.0, "BTC/USDT:USDT": 100.0, "SOL/EUR:EUR": 30.0, "ADA/EUR": 0.5}

bps = st.integers(-150, 150)
symbol_index = st.integers(0, len(SYMBOLS) - 1)
order_step = st.tuples(
    st.just("order"),
    symbol_index,
    st.sampled_from(list(OrderType)),
    st.sampled_from([Side.BUY, Side.BUY, Side.SELL]),
    st.sampled_from([1, 5, 20, 100, 400]),
    bps,
    bps,
    st.sampled_from(list(TriggerDirection)),
    st.sampled_from([TimeInForce.GTC] * 4 + [TimeInForce.IOC, TimeInForce.FOK]),
    st.sampled_from([False] * 5 + [True]),
    # With the market price, without it, or without it at the time of the last bar shown.
    st.sampled_from(["market", "deferred", "deferred at the last bar"]),
)
bar_step = st.tuples(
    st.just("bar"),
    symbol_index,
    bps,
    bps,
    st.integers(0, 200),
    st.integers(0, 200),
    st.sampled_from([0.0, 0.7, 3.0, 1000.0]),
)
cancel_step = st.tuples(st.just("cancel"), st.integers(0, 50))
scripts = st.lists(st.one_of(order_step, order_step, bar_step, bar_step, cancel_step), min_size=10, max_size=50)


@dataclass
class Shown:
    """What the test told the venue: the last close and its time per symbol, and waiting market orders' prices."""

    close: dict[str, float] = field(default_factory=dict)
    time: dict[str, datetime] = field(default_factory=dict)
    references: dict[str, Decimal | None] = field(default_factory=dict)

    def price(self, symbol: str) -> Decimal | None:
        close = self.close.get(symbol)
        return None if close is None else INSTRUMENTS[symbol].round_price(D(repr(close)))


def expected_balances(venue: SimulatedVenue, shown: Shown) -> dict[str, tuple[Decimal, Decimal]]:
    """(total, free) per currency, summed from scratch as the balances docstring states them."""
    ledger = venue.ledger
    open_orders = venue.open_orders()

    def mark(symbol: str) -> Decimal:
        last = shown.price(symbol)
        return last if last is not None else ledger.position(symbol).average_price

    def lock(order: Order) -> Decimal:
        instrument = INSTRUMENTS[order.symbol]
        if order.type is OrderType.MARKET:
            level = shown.references[order.client_order_id]
        elif order.type is OrderType.STOP:
            level = order.trigger_price
        else:
            level = order.price
        if level is None:
            return D(0)
        rate = FEES.taker if order.type in (OrderType.MARKET, OrderType.STOP) else FEES.maker
        remaining = order.remaining_quantity
        if instrument.kind is InstrumentKind.SPOT:
            return remaining * level * (1 + rate) if order.side is Side.BUY else D(0)
        if order.reduce_only:
            return D(0)
        held = ledger.quantity(order.symbol)
        added = max(abs(held + order.side.sign * remaining) - abs(held), D(0))
        return added * level / instrument.max_leverage + remaining * level * rate

    def reserved(symbol: str) -> Decimal:
        return sum((o.remaining_quantity for o in open_orders if o.symbol == symbol and o.side is Side.SELL), D(0))

    spot = [i for i in INSTRUMENTS.values() if i.kind is InstrumentKind.SPOT]
    currencies = set(ledger.cash) | {i.base for i in spot if ledger.quantity(i.symbol) != 0 or reserved(i.symbol) != 0}
    result: dict[str, tuple[Decimal, Decimal]] = {}
    for currency in currencies:
        locked = sum((lock(o) for o in open_orders if INSTRUMENTS[o.symbol].quote == currency), D(0))
        margin = [i for i in INSTRUMENTS.values() if i.quote == currency and i.kind is not InstrumentKind.SPOT]
        total = free = D(0)
        if margin:
            positions = [(i, ledger.quantity(i.symbol)) for i in margin]
            total = ledger.cash.get(currency, D(0)) + sum((q * mark(i.symbol) for i, q in positions), D(0))
            used = sum((abs(q) * mark(i.symbol) / i.max_leverage for i, q in positions), D(0))
            free = total - used - locked
        elif currency in ledger.cash:
            total = ledger.cash[currency]
            free = total - locked
        for instrument in spot:
            if instrument.base == currency:
                held = ledger.quantity(instrument.symbol)
                total += held
                free += held - reserved(instrument.symbol)
        result[currency] = (total, free)
    return result


def make_order(step: tuple[object, ...], symbol: str, number: int, shown: Shown) -> Order:
    _, _index, kind, side, lots, price_bps, trigger_bps, direction, time_in_force, reduce_only, _how = step
    instrument = INSTRUMENTS[symbol]
    mark = shown.price(instrument.symbol) or instrument.round_price(D(repr(FIRST_CLOSE[instrument.symbol])))

    def near(offset: object) -> Decimal:
        return max(instrument.round_price(mark * (1 + D(int(offset)) / 10_000)), instrument.tick_size)  # type: ignore[call-overload]

    return Order(
        client_order_id=f"a{number}",
        symbol=instrument.symbol,
        side=side,  # type: ignore[arg-type]
        type=kind,  # type: ignore[arg-type]
        quantity=instrument.lot_size * int(lots),  # type: ignore[call-overload]
        price=near(price_bps) if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
        trigger_price=near(trigger_bps) if kind in (OrderType.STOP, OrderType.STOP_LIMIT) else None,
        trigger_direction=direction if kind in (OrderType.STOP, OrderType.STOP_LIMIT) else None,  # type: ignore[arg-type]
        time_in_force=time_in_force,  # type: ignore[arg-type]
        reduce_only=bool(reduce_only),
    )


def play(venue: SimulatedVenue, symbols: list[str], script: list[tuple[object, ...]]) -> None:
    """Run ``script`` on ``symbols``; compare the balances with a recomputation from scratch after every step."""
    shown = Shown()
    now = START
    # An opening buy on every symbol, so that sells and reduce-only orders have something to work on.
    opening = [
        ("order", k, OrderType.MARKET, Side.BUY, 100, 0, 0, None, TimeInForce.GTC, False, "market")
        for k in range(len(symbols))
    ]
    for number, step in enumerate([*opening, *script]):
        if step[-1] != "deferred at the last bar":
            now += timedelta(minutes=1)
        if step[0] == "bar":
            _, index, gap, move, up, down, volume = step
            symbol = symbols[int(index) % len(symbols)]  # type: ignore[call-overload]
            last = shown.close.get(symbol, FIRST_CLOSE[symbol])
            o = round(last * (1 + gap / 10_000), 4)  # type: ignore[operator]
            c = round(o * (1 + move / 10_000), 4)  # type: ignore[operator]
            h = round(max(o, c) * (1 + up / 10_000), 4)  # type: ignore[operator]
            lo = round(min(o, c) * (1 - down / 10_000), 4)  # type: ignore[operator]
            venue.process_bar(symbol, now, o, h, lo, c, volume)  # type: ignore[arg-type]
            shown.close[symbol], shown.time[symbol] = c, now
        elif step[0] == "order":
            order = make_order(step, symbols[int(step[1]) % len(symbols)], number, shown)  # type: ignore[call-overload]
            market = shown.price(order.symbol) or order.price or order.trigger_price or D(1)
            if step[-1] == "market":
                venue.submit(order, now, market)
            else:
                at_bar = shown.time.get(order.symbol) == now
                shown.references[order.client_order_id] = shown.price(order.symbol) if at_bar else None
                venue.submit(order, now, None)
        else:
            open_orders = venue.open_orders()
            if open_orders:
                venue.cancel(open_orders[int(step[1]) % len(open_orders)].client_order_id, now)  # type: ignore[call-overload]
        venue.poll_events()
        expected = expected_balances(venue, shown)
        balances = venue.balances()
        assert {c: (b.total, b.free) for c, b in balances.items()} == expected, step


@settings(max_examples=200, deadline=None)
@given(
    # A few symbols per run, so that orders meet each other's positions and bars often.
    symbols=st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=3, unique=True),
    script=scripts,
    volume_limit=st.sampled_from([None, D("0.1"), D("0.5")]),
)
def test_balances_equal_a_recomputation_from_scratch_after_any_sequence(
    symbols: list[str], script: list[tuple[object, ...]], volume_limit: Decimal | None
) -> None:
    venue = SimulatedVenue(INSTRUMENTS, CASH, FEES, volume_limit=volume_limit)
    play(venue, symbols, script)


def test_orders_that_fill_as_they_arrive_do_not_sum_the_locks_of_resting_orders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    venue = SimulatedVenue(INSTRUMENTS, CASH, FEES)
    symbol = "BTC/USDT"
    for level in range(5):
        limit = Order(
            client_order_id=f"rest{level}",
            symbol=symbol,
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=D("0.5"),
            price=D(50 - level),
        )
        venue.submit(limit, START, D("100.00"))
    free_before = venue.balances()["USDT"].free
    summed: list[Resting] = []
    original_lock = Account.lock

    def counting_lock(account: Account, resting: Resting) -> Decimal:
        summed.append(resting)
        return original_lock(account, resting)

    monkeypatch.setattr(Account, "lock", counting_lock)
    fills: list[Fill] = []
    for number in range(40):
        side = Side.BUY if number % 2 == 0 else Side.SELL
        market = Order(client_order_id=f"m{number}", symbol=symbol, side=side, type=OrderType.MARKET, quantity=D("0.1"))
        venue.submit(market, START + timedelta(minutes=number), D("100.00"))
        fills += [event for event in venue.poll_events() if isinstance(event, Fill)]
        assert market.status is OrderStatus.FILLED
    assert len(fills) == 40
    assert summed == []
    fees = sum((fill.fee for fill in fills), D(0))
    assert venue.balances()["USDT"].free == free_before - fees
    assert [order.client_order_id for order in venue.open_orders()] == [f"rest{level}" for level in range(5)]


def test_a_partial_fill_of_a_resting_order_holds_back_only_what_remains() -> None:
    spot = INSTRUMENTS["BTC/USDT"]
    venue = SimulatedVenue({spot.symbol: spot}, {"USDT": D("1000")}, FEES, volume_limit=D("0.1"))
    venue.submit(
        Order(client_order_id="own", symbol=spot.symbol, side=Side.BUY, type=OrderType.MARKET, quantity=D("2")),
        START,
        D("100.00"),
    )
    buy = Order(
        client_order_id="buy", symbol=spot.symbol, side=Side.BUY, type=OrderType.LIMIT, quantity=D("1"), price=D("90")
    )
    sell = Order(
        client_order_id="sell",
        symbol=spot.symbol,
        side=Side.SELL,
        type=OrderType.LIMIT,
        quantity=D("1"),
        price=D("110"),
    )
    venue.submit(buy, START, D("100.00"))
    venue.submit(sell, START, D("100.00"))
    before = venue.balances()
    assert before["USDT"].locked == D("90") * (1 + FEES.maker)
    assert before["BTC"].free == D("1")
    # Volume 3 at a 10 % limit: each order fills 0.3 and keeps resting.
    venue.process_bar(spot.symbol, START + timedelta(minutes=1), 100.0, 111.0, 89.0, 100.0, 3.0)
    assert buy.status is sell.status is OrderStatus.PARTIALLY_FILLED
    after = venue.balances()
    assert after["USDT"].locked == D("0.7") * D("90") * (1 + FEES.maker)
    assert after["USDT"].free == venue.ledger.cash["USDT"] - after["USDT"].locked
    assert after["BTC"].total == D("2") and after["BTC"].free == D("1.3")


def test_a_finished_order_leaves_the_book_and_stays_fetchable() -> None:
    venue = SimulatedVenue(INSTRUMENTS, CASH, FEES)
    order = Order(client_order_id="once", symbol="BTC/USDT", side=Side.BUY, type=OrderType.MARKET, quantity=D("1"))
    venue.submit(order, START, D("100.00"))
    assert venue.fetch_order("once") is order and order.status is OrderStatus.FILLED
    assert not venue.has_resting("BTC/USDT") and venue.open_orders() == []
    with pytest.raises(OrderNotFound, match="is filled, not open"):
        venue.cancel("once", START)


@given(
    tick=st.sampled_from([D("0.01"), D("0.05"), D("0.50"), D("1"), D("1E+1"), D("0.00001")]),
    units=st.integers(1, 10**9),
    exponent=st.integers(-7, 2),
)
def test_a_market_price_meets_the_tick_exactly_as_rounding_would_put_it(
    tick: Decimal, units: int, exponent: int
) -> None:
    instrument = Instrument(symbol="X/USDT", base="X", quote="USDT", tick_size=tick, lot_size=D("0.001"))
    market = D(units).scaleb(exponent)
    venue = SimulatedVenue({instrument.symbol: instrument}, {"USDT": D("1E+20")}, FeeSchedule(D(0), D(0)))
    order = Order(client_order_id="m", symbol="X/USDT", side=Side.BUY, type=OrderType.MARKET, quantity=D("0.001"))
    venue.submit(order, START, market)
    fills = [event for event in venue.poll_events() if isinstance(event, Fill)]
    rounded = max(instrument.round_price(market), tick)
    # The same number written the same way: the exponent shows in every report and journal line.
    assert [str(fill.price) for fill in fills] == [str(rounded)]
