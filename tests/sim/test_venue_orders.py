"""How the simulated venue fills, triggers and refuses each kind of order."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradekit.domain.instruments import Instrument, InstrumentKind
from tradekit.domain.orders import (
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
from tradekit.sim import BasisPointSlippage, FeeSchedule, NoSlippage, SimulatedVenue, Slippage, intrabar_path

D = Decimal
NOW = datetime(2024, 1, 1, tzinfo=UTC)
BTC = Instrument(
    symbol="BTC/USDT",
    base="BTC",
    quote="USDT",
    tick_size=D("0.01"),
    lot_size=D("0.001"),
    min_quantity=D("0.002"),
    min_notional=D("5"),
)
PERP = Instrument(
    symbol="ETH/USDT:USDT",
    base="ETH",
    quote="USDT",
    kind=InstrumentKind.PERPETUAL,
    tick_size=D("0.01"),
    lot_size=D("0.01"),
    max_leverage=D("10"),
)
FEES = FeeSchedule(maker=D("0.0002"), taker=D("0.001"))
_ids = itertools.count(1)


def make_venue(
    cash: str = "10000", slippage: Slippage | None = None, volume_limit: Decimal | None = None
) -> SimulatedVenue:
    """A venue trading spot BTC/USDT and the ETH perpetual, with only USDT."""
    return SimulatedVenue(
        {BTC.symbol: BTC, PERP.symbol: PERP},
        {"USDT": D(cash)},
        FEES,
        slippage,
        volume_limit=volume_limit,
    )


def make_order(
    side: Side,
    quantity: str,
    kind: OrderType = OrderType.MARKET,
    *,
    price: str | None = None,
    trigger: str | None = None,
    direction: TriggerDirection | None = None,
    tif: TimeInForce = TimeInForce.GTC,
    post_only: bool = False,
    reduce_only: bool = False,
    symbol: str = BTC.symbol,
    client_order_id: str | None = None,
) -> Order:
    """A NEW order as the engine would send it."""
    return Order(
        client_order_id=client_order_id or f"o{next(_ids)}",
        symbol=symbol,
        side=side,
        type=kind,
        quantity=D(quantity),
        price=None if price is None else D(price),
        trigger_price=None if trigger is None else D(trigger),
        trigger_direction=direction,
        time_in_force=tif,
        post_only=post_only,
        reduce_only=reduce_only,
    )


def fills_of(events: list[OrderUpdate | Fill]) -> list[Fill]:
    return [event for event in events if isinstance(event, Fill)]


def statuses_of(events: list[OrderUpdate | Fill], client_order_id: str) -> list[OrderStatus]:
    return [e.status for e in events if isinstance(e, OrderUpdate) and e.client_order_id == client_order_id]


def buy_btc(venue: SimulatedVenue, quantity: str, price: str = "100") -> None:
    """Hold some BTC (and drop the events of getting it)."""
    venue.submit(make_order(Side.BUY, quantity), NOW, D(price))
    venue.poll_events()


# -- market orders -----------------------------------------------------------------------------


def test_market_buy_fills_at_once_at_the_market_price_as_taker_and_books_the_ledger() -> None:
    venue = make_venue()
    order = make_order(Side.BUY, "0.5")
    venue.submit(order, NOW, D("100"))
    events = venue.poll_events()
    assert statuses_of(events, order.client_order_id) == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    [fill] = fills_of(events)
    assert (fill.price, fill.quantity, fill.liquidity) == (D("100.00"), D("0.5"), Liquidity.TAKER)
    assert fill.fee == D("0.05")  # 50 notional * 0.1 %
    assert fill.fill_id == f"{order.client_order_id}-1"
    assert venue.ledger.cash["USDT"] == D("10000") - D("50") - D("0.05")
    assert venue.positions()[BTC.symbol].quantity == D("0.5")
    assert order.status is OrderStatus.FILLED and order.average_fill_price == D("100")


def test_market_order_without_a_market_price_waits_and_fills_at_the_next_open() -> None:
    venue = make_venue()
    order = make_order(Side.BUY, "0.1")
    venue.submit(order, NOW, None)
    assert statuses_of(venue.poll_events(), order.client_order_id) == [OrderStatus.ACCEPTED]
    assert venue.has_resting(BTC.symbol)
    venue.process_bar(BTC.symbol, NOW, 101.5, 103.0, 99.0, 102.0, 10.0)
    [fill] = fills_of(venue.poll_events())
    assert fill.price == D("101.50") and fill.liquidity is Liquidity.TAKER
    assert not venue.has_resting(BTC.symbol)


# -- limit orders --------------------------------------------------------------------------------


def test_resting_limit_buy_fills_at_its_price_as_maker_when_the_low_reaches_it() -> None:
    venue = make_venue()
    order = make_order(Side.BUY, "1", OrderType.LIMIT, price="95")
    venue.submit(order, NOW, D("100"))
    venue.process_bar(BTC.symbol, NOW, 100.0, 101.0, 96.0, 100.5, 10.0)
    assert fills_of(venue.poll_events()) == []
    venue.process_bar(BTC.symbol, NOW, 100.0, 101.0, 94.0, 100.5, 10.0)
    [fill] = fills_of(venue.poll_events())
    assert (fill.price, fill.liquidity, fill.fee) == (D("95.00"), Liquidity.MAKER, D("0.019"))


def test_resting_limit_buy_fills_at_the_open_when_the_bar_opens_below_it() -> None:
    venue = make_venue()
    venue.submit(make_order(Side.BUY, "1", OrderType.LIMIT, price="95"), NOW, D("100"))
    venue.process_bar(BTC.symbol, NOW, 90.004, 92.0, 89.0, 91.0, 10.0)
    [fill] = fills_of(venue.poll_events())
    assert (fill.price, fill.liquidity) == (D("90.00"), Liquidity.MAKER)


def test_resting_limit_sell_fills_at_its_price_or_a_better_open() -> None:
    venue = make_venue()
    buy_btc(venue, "2")
    venue.submit(make_order(Side.SELL, "1", OrderType.LIMIT, price="105"), NOW, D("100"))
    venue.submit(make_order(Side.SELL, "1", OrderType.LIMIT, price="110"), NOW, D("100"))
    venue.process_bar(BTC.symbol, NOW, 100.0, 106.0, 99.0, 104.0, 10.0)
    assert [f.price for f in fills_of(venue.poll_events())] == [D("105.00")]
    venue.process_bar(BTC.symbol, NOW, 112.0, 113.0, 111.0, 112.5, 10.0)
    assert [(f.price, f.liquidity) for f in fills_of(venue.poll_events())] == [(D("112.00"), Liquidity.MAKER)]


def test_marketable_limit_fills_on_arrival_at_the_market_as_taker() -> None:
    venue = make_venue()
    order = make_order(Side.BUY, "1", OrderType.LIMIT, price="105")
    venue.submit(order, NOW, D("100"))
    [fill] = fills_of(venue.poll_events())
    assert (fill.price, fill.liquidity) == (D("100.00"), Liquidity.TAKER)
    assert order.status is OrderStatus.FILLED


def test_limit_without_a_market_price_arrives_at_the_next_open_and_takes_there_if_marketable() -> None:
    venue = make_venue()
    venue.submit(make_order(Side.BUY, "1", OrderType.LIMIT, price="105"), NOW, None)
    venue.process_bar(BTC.symbol, NOW, 103.0, 104.0, 102.0, 103.5, 10.0)
    [fill] = fills_of(venue.poll_events())
    assert (fill.price, fill.liquidity) == (D("103.00"), Liquidity.TAKER)


# -- stops ---------------------------------------------------------------------------------------


def test_sell_stop_below_the_market_fills_at_its_trigger_as_taker() -> None:
    venue = make_venue()
    buy_btc(venue, "1")
    stop = make_order(Side.SELL, "1", OrderType.STOP, trigger="95", direction=TriggerDirection.FALLING)
    venue.submit(stop, NOW, D("100"))
    venue.process_bar(BTC.symbol, NOW, 100.0, 101.0, 95.5, 100.0, 10.0)
    assert fills_of(venue.poll_events()) == []
    venue.process_bar(BTC.symbol, NOW, 100.0, 101.0, 93.0, 94.0, 10.0)
    [fill] = fills_of(venue.poll_events())
    assert (fill.price, fill.liquidity, fill.fee) == (D("95.00"), Liquidity.TAKER, D("0.095"))
    assert venue.positions() == {}


def test_sell_stop_gapped_through_fills_at_the_worse_open() -> None:
    venue = make_venue()
    buy_btc(venue, "1")
    venue.submit(
        make_order(Side.SELL, "1", OrderType.STOP, trigger="95", direction=TriggerDirection.FALLING),
        NOW,
        D("100"),
    )
    venue.process_bar(BTC.symbol, NOW, 90.0, 92.0, 88.0, 91.0, 10.0)
    [fill] = fills_of(venue.poll_events())
    assert fill.price == D("90.00")


def test_buy_stop_above_the_market_fills_at_its_trigger_or_a_gapped_open() -> None:
    venue = make_venue()
    venue.submit(
        make_order(Side.BUY, "1", OrderType.STOP, trigger="105", direction=TriggerDirection.RISING),
        NOW,
        D("100"),
    )
    venue.submit(
        make_order(Side.BUY, "1", OrderType.STOP, trigger="108", direction=TriggerDirection.RISING),
        NOW,
        D("100"),
    )
    venue.process_bar(BTC.symbol, NOW, 100.0, 106.0, 99.0, 105.5, 10.0)
    assert [f.price for f in fills_of(venue.poll_events())] == [D("105.00")]
    venue.process_bar(BTC.symbol, NOW, 111.0, 112.0, 110.0, 111.5, 10.0)
    assert [f.price for f in fills_of(venue.poll_events())] == [D("111.00")]


def test_buy_stop_that_waits_for_a_fall_and_sell_stop_that_waits_for_a_rise_both_fire() -> None:
    venue = make_venue()
    buy_btc(venue, "1")
    venue.submit(
        make_order(Side.BUY, "1", OrderType.STOP, trigger="95", direction=TriggerDirection.FALLING),
        NOW,
        D("100"),
    )
    venue.submit(
        make_order(Side.SELL, "1", OrderType.STOP, trigger="104", direction=TriggerDirection.RISING),
        NOW,
        D("100"),
    )
    venue.process_bar(BTC.symbol, NOW, 100.0, 103.0, 94.0, 96.0, 10.0)
    assert [(f.side, f.price) for f in fills_of(venue.poll_events())] == [(Side.BUY, D("95.00"))]
    venue.process_bar(BTC.symbol, NOW, 100.0, 105.0, 99.0, 104.0, 10.0)
    assert [(f.side, f.price) for f in fills_of(venue.poll_events())] == [(Side.SELL, D("104.00"))]


def test_stop_already_crossed_on_arrival_is_accepted_and_triggers_at_once() -> None:
    venue = make_venue()
    buy_btc(venue, "1")
    stop = make_order(Side.SELL, "1", OrderType.STOP, trigger="105", direction=TriggerDirection.FALLING)
    venue.submit(stop, NOW, D("100"))
    events = venue.poll_events()
    assert statuses_of(events, stop.client_order_id) == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert fills_of(events)[0].price == D("100.00")


def test_stop_limit_rests_as_a_limit_once_triggered_and_fills_later_in_the_same_bar() -> None:
    venue = make_venue()
    buy_btc(venue, "1")
    order = make_order(
        Side.SELL, "1", OrderType.STOP_LIMIT, price="97", trigger="95", direction=TriggerDirection.FALLING
    )
    venue.submit(order, NOW, D("100"))
    # Down bar: open 100 -> high 101 -> low 94 (triggers at 95; the limit 97 is not marketable there)
    # -> close 98 (the rise passes 97: fills as maker).
    venue.process_bar(BTC.symbol, NOW, 100.0, 101.0, 94.0, 98.0, 10.0)
    [fill] = fills_of(venue.poll_events())
    assert (fill.price, fill.liquidity) == (D("97.00"), Liquidity.MAKER)
    assert order.triggered


def test_stop_limit_triggered_but_not_reached_keeps_resting_as_a_limit() -> None:
    venue = make_venue()
    buy_btc(venue, "1")
    order = make_order(
        Side.SELL, "1", OrderType.STOP_LIMIT, price="97", trigger="95", direction=TriggerDirection.FALLING
    )
    venue.submit(order, NOW, D("100"))
    venue.process_bar(BTC.symbol, NOW, 100.0, 101.0, 90.0, 92.0, 10.0)
    assert fills_of(venue.poll_events()) == []
    assert order.triggered and order.status is OrderStatus.ACCEPTED
    venue.process_bar(BTC.symbol, NOW, 92.0, 97.5, 91.0, 96.0, 10.0)
    assert [f.price for f in fills_of(venue.poll_events())] == [D("97.00")]


def test_stop_limit_marketable_at_its_trigger_fills_there_as_taker() -> None:
    venue = make_venue()
    order = make_order(
        Side.BUY, "1", OrderType.STOP_LIMIT, price="106", trigger="105", direction=TriggerDirection.RISING
    )
    venue.submit(order, NOW, D("100"))
    venue.process_bar(BTC.symbol, NOW, 100.0, 107.0, 99.0, 106.5, 10.0)
    [fill] = fills_of(venue.poll_events())
    assert (fill.price, fill.liquidity) == (D("105.00"), Liquidity.TAKER)


# -- the intrabar path ---------------------------------------------------------------------------


def test_intrabar_path_visits_the_low_first_on_an_up_bar_and_the_high_first_on_a_down_bar() -> None:
    assert intrabar_path(100.0, 110.0, 90.0, 105.0) == (100.0, 90.0, 110.0, 105.0)
    assert intrabar_path(100.0, 110.0, 90.0, 100.0) == (100.0, 90.0, 110.0, 100.0)
    assert intrabar_path(100.0, 110.0, 90.0, 95.0) == (100.0, 110.0, 90.0, 95.0)


@pytest.mark.parametrize(
    ("close", "first", "second"),
    [(103.0, "limit", "stop"), (97.0, "stop", "limit")],
    ids=["up-bar-low-first", "down-bar-high-first"],
)
def test_when_a_stop_and_a_limit_both_fill_in_one_bar_the_path_decides_which_first(
    close: float, first: str, second: str
) -> None:
    venue = make_venue()
    limit = make_order(Side.BUY, "1", OrderType.LIMIT, price="95", client_order_id="limit")
    stop = make_order(
        Side.BUY,
        "1",
        OrderType.STOP,
        trigger="105",
        direction=TriggerDirection.RISING,
        client_order_id="stop",
    )
    venue.submit(stop, NOW, D("100"))
    venue.submit(limit, NOW, D("100"))
    venue.process_bar(BTC.symbol, NOW, 100.0, 106.0, 94.0, close, 10.0)
    assert [f.client_order_id for f in fills_of(venue.poll_events())] == [first, second]


def test_orders_reached_at_the_same_price_fill_in_submission_order() -> None:
    venue = make_venue()
    for name in ("first", "second", "third"):
        venue.submit(make_order(Side.BUY, "1", OrderType.LIMIT, price="95", client_order_id=name), NOW, D("100"))
    venue.process_bar(BTC.symbol, NOW, 100.0, 100.0, 94.0, 96.0, 10.0)
    assert [f.client_order_id for f in fills_of(venue.poll_events())] == ["first", "second", "third"]


def test_levels_on_one_leg_fill_in_the_order_the_price_reaches_them() -> None:
    venue = make_venue()
    venue.submit(make_order(Side.BUY, "1", OrderType.LIMIT, price="93", client_order_id="deep"), NOW, D("100"))
    venue.submit(make_order(Side.BUY, "1", OrderType.LIMIT, price="97", client_order_id="near"), NOW, D("100"))
    venue.process_bar(BTC.symbol, NOW, 100.0, 100.0, 92.0, 99.0, 10.0)
    assert [f.client_order_id for f in fills_of(venue.poll_events())] == ["near", "deep"]


# -- fees and slippage -------------------------------------------------------------------------------


def test_maker_fills_pay_the_maker_rate_and_taker_fills_the_taker_rate() -> None:
    venue = make_venue()
    venue.submit(make_order(Side.BUY, "2", OrderType.LIMIT, price="90"), NOW, D("100"))
    venue.submit(make_order(Side.BUY, "2"), NOW, D("100"))
    venue.process_bar(BTC.symbol, NOW, 100.0, 101.0, 89.0, 95.0, 10.0)
    by_liquidity = {f.liquidity: f.fee for f in fills_of(venue.poll_events())}
    assert by_liquidity == {Liquidity.TAKER: D("0.2"), Liquidity.MAKER: D("0.036")}
    assert venue.ledger.fees_paid["USDT"] == D("0.236")


def test_basis_point_slippage_moves_against_the_taker_and_rounds_against_it() -> None:
    coarse = Instrument(symbol="X/USD", base="X", quote="USD", tick_size=D("0.1"), lot_size=D("1"))
    slippage = BasisPointSlippage(D("5"))
    assert slippage.apply(Side.BUY, D("100.0"), coarse) == D("100.1")  # 100.05 rounded up
    assert slippage.apply(Side.SELL, D("100.0"), coarse) == D("99.9")  # 99.95 rounded down
    assert slippage.apply(Side.BUY, D("100.00"), BTC) == D("100.05")
    assert slippage.apply(Side.SELL, D("0.1"), coarse) == D("0.1")  # never below one tick
    assert NoSlippage().apply(Side.BUY, D("100.0"), coarse) == D("100.0")


def test_slippage_hits_market_and_stop_fills_but_not_maker_fills_nor_beyond_a_limit() -> None:
    venue = make_venue(slippage=BasisPointSlippage(D("10")))
    venue.submit(make_order(Side.BUY, "1", client_order_id="market"), NOW, D("100"))
    venue.submit(
        make_order(
            Side.SELL,
            "1",
            OrderType.STOP,
            trigger="95",
            direction=TriggerDirection.FALLING,
            client_order_id="stop",
        ),
        NOW,
        D("100"),
    )
    venue.submit(make_order(Side.BUY, "1", OrderType.LIMIT, price="90", client_order_id="maker"), NOW, D("100"))
    venue.submit(make_order(Side.BUY, "1", OrderType.LIMIT, price="100.05", client_order_id="capped"), NOW, D("100"))
    venue.process_bar(BTC.symbol, NOW, 100.0, 100.0, 89.0, 91.0, 10.0)
    prices = {f.client_order_id: f.price for f in fills_of(venue.poll_events())}
    assert prices == {
        "market": D("100.10"),  # buy pays 10 bps more
        "capped": D("100.05"),  # 100.10 with slippage, but a limit never fills beyond its price
        "stop": D("94.90"),  # sell receives 10 bps less
        "maker": D("90.00"),
    }


# -- post-only and reduce-only -------------------------------------------------------------------------


def test_post_only_that_would_take_on_arrival_is_rejected_naming_price_and_market() -> None:
    venue = make_venue()
    order = make_order(Side.BUY, "1", OrderType.LIMIT, price="101", post_only=True)
    venue.submit(order, NOW, D("100"))
    [update] = venue.poll_events()
    assert isinstance(update, OrderUpdate) and update.status is OrderStatus.REJECTED
    assert update.reason == "post-only buy at 101 would take liquidity: the market is at 100.00"
    assert order.status is OrderStatus.REJECTED and order.reason == update.reason


def test_post_only_that_rests_fills_as_maker() -> None:
    venue = make_venue()
    venue.submit(make_order(Side.BUY, "1", OrderType.LIMIT, price="99", post_only=True), NOW, D("100"))
    venue.process_bar(BTC.symbol, NOW, 100.0, 100.0, 98.0, 99.5, 10.0)
    assert [f.liquidity for f in fills_of(venue.poll_events())] == [Liquidity.MAKER]


def test_post_only_stop_limit_that_would_take_at_its_trigger_expires() -> None:
    venue = make_venue()
    order = make_order(
        Side.BUY,
        "1",
        OrderType.STOP_LIMIT,
        price="106",
        trigger="105",
        direction=TriggerDirection.RISING,
        post_only=True,
    )
    venue.submit(order, NOW, D("100"))
    venue.process_bar(BTC.symbol, NOW, 100.0, 107.0, 99.0, 106.0, 10.0)
    events = venue.poll_events()
    assert fills_of(events) == []
    assert order.status is OrderStatus.EXPIRED
    assert order.reason == "post-only buy at 106 would take liquidity: the market is at 105"


def test_reduce_only_is_rejected_when_flat_or_when_it_would_increase_the_position() -> None:
    venue = make_venue()
    flat = make_order(Side.SELL, "1", reduce_only=True)
    venue.submit(flat, NOW, D("100"))
    assert flat.reason == "reduce-only sell of 1 BTC/USDT: there is no position to reduce"
    buy_btc(venue, "1")
    more = make_order(Side.BUY, "1", OrderType.LIMIT, price="90", reduce_only=True)
    venue.submit(more, NOW, D("100"))
    assert more.status is OrderStatus.REJECTED
    assert more.reason == "reduce-only buy of 1 BTC/USDT would increase the long position of 1"


def test_reduce_only_is_capped_to_what_is_held_at_fill_time_and_never_flips_a_short() -> None:
    venue = make_venue()
    venue.submit(make_order(Side.SELL, "2", symbol=PERP.symbol), NOW, D("100"))
    cover = make_order(Side.BUY, "2", OrderType.LIMIT, price="95", reduce_only=True, symbol=PERP.symbol)
    venue.submit(cover, NOW, D("100"))
    venue.submit(make_order(Side.BUY, "1.5", symbol=PERP.symbol), NOW, D("100"))  # the short shrinks to 0.5
    venue.poll_events()
    venue.process_bar(PERP.symbol, NOW, 100.0, 100.0, 94.0, 96.0, 10.0)
    events = venue.poll_events()
    assert [f.quantity for f in fills_of(events)] == [D("0.5")]
    assert venue.positions() == {}
    assert cover.status is OrderStatus.CANCELLED
    assert cover.reason == "reduce-only: the position in ETH/USDT:USDT was -0.5, so at most 0.5 could reduce it"


def test_reduce_only_resting_order_is_cancelled_without_a_fill_once_the_position_is_gone() -> None:
    venue = make_venue()
    venue.submit(make_order(Side.BUY, "1", symbol=PERP.symbol), NOW, D("100"))
    take_profit = make_order(Side.SELL, "1", OrderType.LIMIT, price="110", reduce_only=True, symbol=PERP.symbol)
    venue.submit(take_profit, NOW, D("100"))
    venue.submit(make_order(Side.SELL, "1", symbol=PERP.symbol), NOW, D("105"))  # closed by hand
    venue.poll_events()
    venue.process_bar(PERP.symbol, NOW, 105.0, 111.0, 104.0, 110.0, 10.0)
    events = venue.poll_events()
    assert fills_of(events) == []
    assert statuses_of(events, take_profit.client_order_id) == [OrderStatus.CANCELLED]
    assert take_profit.reason == "reduce-only: the position in ETH/USDT:USDT was 0, so at most 0 could reduce it"
    assert venue.positions() == {}


# -- rejections ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (
            make_order(Side.BUY, "1", symbol="DOGE/USDT"),
            "unknown symbol 'DOGE/USDT' on paper; it trades BTC/USDT, ETH/USDT:USDT",
        ),
        (
            make_order(Side.BUY, "0.0025"),
            "quantity 0.0025 is not a multiple of the lot size 0.001 of BTC/USDT",
        ),
        (make_order(Side.BUY, "0.001"), "quantity 0.001 is below the minimum 0.002 of BTC/USDT"),
        (make_order(Side.BUY, "0.004"), "notional 0.40000 is below the minimum 5 of BTC/USDT"),
        (
            make_order(Side.BUY, "1", OrderType.LIMIT, price="99.995"),
            "price 99.995 is not a multiple of the tick size 0.01 of BTC/USDT",
        ),
        (
            make_order(Side.BUY, "1", OrderType.STOP, trigger="100.001", direction=TriggerDirection.RISING),
            "trigger price 100.001 is not a multiple of the tick size 0.01 of BTC/USDT",
        ),
        (
            make_order(Side.BUY, "1", OrderType.LIMIT),
            "a limit order needs a limit price",
        ),
        (
            make_order(Side.BUY, "1", OrderType.STOP, trigger="105"),
            "a stop order needs a trigger price and a trigger direction",
        ),
        (
            make_order(Side.BUY, "100", OrderType.LIMIT, price="99"),
            "insufficient USDT: buying 100 BTC/USDT at 99 needs 9901.98 with a 0.0002 fee, "
            "but only 9000 is free (9000 held)",
        ),
        (
            make_order(Side.SELL, "1"),
            "insufficient BTC: selling 1 BTC/USDT but only 0 is free (0 held, 0 reserved by open sells); "
            "spot cannot go short",
        ),
        (
            make_order(Side.BUY, "1000", symbol=PERP.symbol),
            "insufficient margin in USDT: buy 1000 ETH/USDT:USDT at 100.00 needs 10100 "
            "(added exposure 1000 at leverage 10, plus fee), but only 9000 is free",
        ),
    ],
    ids=[
        "unknown-symbol",
        "lot",
        "min-quantity",
        "min-notional",
        "tick",
        "trigger-tick",
        "missing-price",
        "missing-direction",
        "spot-cash",
        "spot-short",
        "margin",
    ],
)
def test_each_refusal_is_a_rejected_update_with_its_reason(order: Order, reason: str) -> None:
    venue = make_venue("9000")
    venue.submit(order.model_copy(), NOW, D("100"))
    [update] = venue.poll_events()
    assert isinstance(update, OrderUpdate)
    assert (update.status, update.reason) == (OrderStatus.REJECTED, reason)
    assert venue.open_orders() == []


def test_duplicate_client_order_id_is_rejected_and_the_first_order_is_kept() -> None:
    venue = make_venue()
    first = make_order(Side.BUY, "1", OrderType.LIMIT, price="90", client_order_id="same")
    second = make_order(Side.BUY, "1", OrderType.LIMIT, price="91", client_order_id="same")
    venue.submit(first, NOW, D("100"))
    venue.submit(second, NOW, D("100"))
    assert second.status is OrderStatus.REJECTED
    assert second.reason is not None and second.reason.startswith("duplicate client order id 'same'")
    assert venue.fetch_order("same") is first and first.status is OrderStatus.ACCEPTED


def test_perpetual_may_go_short_within_its_margin() -> None:
    venue = make_venue("1000")
    order = make_order(Side.SELL, "50", symbol=PERP.symbol)  # 5000 notional at 10x: 500 margin
    venue.submit(order, NOW, D("100"))
    assert order.status is OrderStatus.FILLED
    assert venue.positions()[PERP.symbol].quantity == D("-50")
    balance = venue.balances()["USDT"]
    assert balance.total == D("1000") - D("5")  # equity: cash + short marked at entry, less the fee
    assert balance.free == balance.total - D("500")


# -- time in force -----------------------------------------------------------------------------------------


def test_ioc_limit_fills_when_marketable_and_expires_when_not() -> None:
    venue = make_venue()
    filled = make_order(Side.BUY, "1", OrderType.LIMIT, price="101", tif=TimeInForce.IOC)
    missed = make_order(Side.BUY, "1", OrderType.LIMIT, price="99", tif=TimeInForce.IOC)
    venue.submit(filled, NOW, D("100"))
    venue.submit(missed, NOW, D("100"))
    assert filled.status is OrderStatus.FILLED
    assert missed.status is OrderStatus.EXPIRED
    assert missed.reason == "ioc limit buy at 99 could not fill: the market is at 100.00"
    assert not venue.has_resting(BTC.symbol)


def test_ioc_fills_what_it_can_and_the_rest_expires() -> None:
    venue = make_venue()
    venue.submit(make_order(Side.BUY, "1", symbol=PERP.symbol), NOW, D("100"))
    venue.poll_events()
    order = make_order(
        Side.SELL, "3", OrderType.LIMIT, price="99", tif=TimeInForce.IOC, reduce_only=True, symbol=PERP.symbol
    )
    venue.submit(order, NOW, D("100"))
    events = venue.poll_events()
    assert [f.quantity for f in fills_of(events)] == [D("1")]
    assert statuses_of(events, order.client_order_id) == [
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.EXPIRED,
    ]
    assert order.reason is not None and order.reason.startswith("immediate-or-cancel: 2 of 3 ETH/USDT:USDT expired")


def test_fok_fills_whole_or_expires_without_any_fill() -> None:
    venue = make_venue()
    venue.submit(make_order(Side.BUY, "2", symbol=PERP.symbol), NOW, D("100"))
    whole = make_order(Side.SELL, "1", tif=TimeInForce.FOK, reduce_only=True, symbol=PERP.symbol)
    venue.submit(whole, NOW, D("100"))
    assert whole.status is OrderStatus.FILLED
    venue.poll_events()
    too_big = make_order(
        Side.SELL,
        "2",
        OrderType.LIMIT,
        price="100",
        tif=TimeInForce.FOK,
        reduce_only=True,
        symbol=PERP.symbol,
    )
    venue.submit(too_big, NOW, D("100"))
    assert too_big.status is OrderStatus.EXPIRED and too_big.filled_quantity == 0
    assert fills_of(venue.poll_events()) == []
    assert too_big.reason is not None
    assert too_big.reason.startswith("fill-or-kill sell of 2 ETH/USDT:USDT expired: only 1 could fill at 100.00")


def test_fok_waiting_for_the_open_expires_when_the_volume_limit_cannot_fill_it_whole() -> None:
    venue = make_venue(volume_limit=D("0.1"))
    order = make_order(Side.BUY, "2", tif=TimeInForce.FOK)
    venue.submit(order, NOW, None)
    venue.process_bar(BTC.symbol, NOW, 100.0, 101.0, 99.0, 100.0, 10.0)  # at most 1 per bar
    assert order.status is OrderStatus.EXPIRED and order.filled_quantity == 0


def test_a_duplicate_refused_leaves_the_first_order_open_and_an_id_stays_taken_once_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tradekit.domain.order_memory.DEFAULT_KEEP_FINISHED", 0)
    venue = make_venue()
    first = make_order(Side.BUY, "1", OrderType.LIMIT, price="90", client_order_id="same")
    venue.submit(first, NOW, D("100"))
    venue.submit(make_order(Side.BUY, "1", OrderType.LIMIT, price="91", client_order_id="same"), NOW, D("100"))
    assert venue.fetch_order("same") is first and venue.open_orders() == [first]
    venue.cancel("same", NOW)
    assert venue.fetch_order("same") is None  # finished, and no finished order is kept
    third = make_order(Side.BUY, "1", OrderType.LIMIT, price="92", client_order_id="same")
    venue.submit(third, NOW, D("100"))
    assert third.status is OrderStatus.REJECTED and venue.open_orders() == []


# -- the engine's channel --------------------------------------------------------------------------


def test_the_engines_records_are_the_events_poll_events_gives() -> None:
    # Two venues taken through the same orders (fills, a rejection, a cancel, an expiry, a resting limit
    # filled by a bar): one polled as models, one as the engine's records, read back as models.
    def script(venue: SimulatedVenue, poll: str) -> list[object]:
        seen: list[object] = []
        steps = [
            lambda: venue.submit(make_order(Side.BUY, "0.5", client_order_id="a"), NOW, D("100")),
            lambda: venue.submit(make_order(Side.BUY, "0.0015", client_order_id="b"), NOW, D("100")),
            lambda: venue.submit(
                make_order(Side.SELL, "0.2", OrderType.LIMIT, price="105", client_order_id="c"), NOW, D("100")
            ),
            lambda: venue.submit(
                make_order(Side.BUY, "0.1", OrderType.LIMIT, price="90", tif=TimeInForce.IOC, client_order_id="d"),
                NOW,
                D("100"),
            ),
            lambda: venue.process_bar(BTC.symbol, NOW, 101.0, 106.0, 100.0, 104.0, 10.0),
            lambda: venue.submit(
                make_order(Side.SELL, "0.1", OrderType.LIMIT, price="120", client_order_id="e"), NOW, D("104")
            ),
            lambda: venue.cancel("e", NOW),
        ]
        for step in steps:
            step()
            seen.extend(getattr(venue, poll)())
        return seen

    models = script(make_venue(), "poll_events")
    records = script(make_venue(), "poll_records")
    assert any(type(event) is tuple for event in records)
    assert [
        event
        if isinstance(event, Fill)
        else OrderUpdate(
            client_order_id=event[0], status=event[1], timestamp=event[2], exchange_order_id=event[3], reason=event[4]
        )
        for event in records  # type: ignore[index]
    ] == models
    assert {e.status for e in models if isinstance(e, OrderUpdate)} == {
        OrderStatus.ACCEPTED,
        OrderStatus.REJECTED,
        OrderStatus.FILLED,
        OrderStatus.EXPIRED,
        OrderStatus.CANCELLED,
    }
