"""Each order kind reaches the wire as Hyperliquid's ``/exchange`` ``order`` action expects it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from tradekit_ccxt.testing.exchanges import resting_price
from tradekit_hyperliquid import HyperliquidExchange
from tradekit_hyperliquid.fake_server import FakeHyperliquid

from tradekit.domain.orders import Order, OrderStatus, OrderType, Side, TimeInForce, TriggerDirection
from tradekit.errors import InvalidOrder

SYMBOL = "BTC/USDC:USDC"


def sent(exchange: HyperliquidExchange, venue: FakeHyperliquid, order: Order) -> dict:
    """Submit ``order`` and return the one order dict that went out for it."""
    before = len(venue.order_actions())
    exchange.submit_order(order)
    placed = venue.order_actions()[before:]
    assert len(placed) == 1
    return placed[0]


def test_a_market_order_goes_out_as_an_ioc_limit_at_the_mid_moved_by_the_slippage(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    exchange = connect(slippage="0.05")
    mid = exchange.latest_price(SYMBOL)
    assert mid is not None
    order = make_order(type=OrderType.MARKET, side=Side.BUY, quantity=Decimal("0.01"))
    wire = sent(exchange, venue, order)
    assert wire["t"] == {"limit": {"tif": "Ioc"}}
    assert wire["b"] is True and wire["r"] is False and wire["a"] == 0
    assert Decimal(wire["p"]) == (mid * Decimal("1.05")).quantize(Decimal(1))  # BTC's tick near 60,000 is 1
    assert wire["s"] == "0.01"
    assert wire["c"] == f"0x{order.client_order_id}"


@pytest.mark.parametrize(
    ("fields", "expected_type", "away"),
    [
        ({"time_in_force": TimeInForce.GTC}, {"limit": {"tif": "Gtc"}}, Decimal("0.9")),
        ({"time_in_force": TimeInForce.IOC}, {"limit": {"tif": "Ioc"}}, Decimal("1.01")),  # crosses: it fills
        ({"post_only": True}, {"limit": {"tif": "Alo"}}, Decimal("0.9")),
    ],
)
def test_limit_orders_carry_their_time_in_force_and_post_only_becomes_alo(
    connect: Callable[..., HyperliquidExchange],
    venue: FakeHyperliquid,
    make_order: Callable[..., Order],
    fields: dict,
    expected_type: dict,
    away: Decimal,
) -> None:
    exchange = connect()
    price = resting_price(exchange, SYMBOL, away)
    wire = sent(exchange, venue, make_order(type=OrderType.LIMIT, price=price, **fields))
    assert wire["t"] == expected_type
    assert Decimal(wire["p"]) == price


@pytest.mark.parametrize(
    ("side", "direction", "tpsl"),
    [
        (Side.BUY, TriggerDirection.RISING, "sl"),  # a stop entry above the market
        (Side.SELL, TriggerDirection.FALLING, "sl"),  # a stop loss below the market
        (Side.BUY, TriggerDirection.FALLING, "tp"),
        (Side.SELL, TriggerDirection.RISING, "tp"),
    ],
)
def test_stop_orders_become_market_triggers_named_by_the_position_they_protect(
    connect: Callable[..., HyperliquidExchange],
    venue: FakeHyperliquid,
    make_order: Callable[..., Order],
    side: Side,
    direction: TriggerDirection,
    tpsl: str,
) -> None:
    exchange = connect()
    venue.market.positions[SYMBOL] = Decimal("0.01") if side is Side.SELL else Decimal(0)
    mid = exchange.latest_price(SYMBOL)
    away = Decimal("1.05") if direction is TriggerDirection.RISING else Decimal("0.95")
    trigger = exchange.instruments([SYMBOL])[SYMBOL].round_price(mid * away)
    order = make_order(type=OrderType.STOP, side=side, trigger_price=trigger, trigger_direction=direction)
    wire = sent(exchange, venue, order)
    assert wire["t"]["trigger"]["isMarket"] is True
    assert wire["t"]["trigger"]["tpsl"] == tpsl
    assert Decimal(wire["t"]["trigger"]["triggerPx"]) == trigger
    assert exchange.poll_events()[0].status is OrderStatus.ACCEPTED


def test_a_stop_limit_is_a_limit_trigger_with_its_own_limit_price(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    tick = exchange.instruments([SYMBOL])[SYMBOL]
    mid = exchange.latest_price(SYMBOL)
    trigger = tick.round_price(mid * Decimal("1.05"))
    limit = trigger + 50
    wire = sent(
        exchange,
        venue,
        make_order(
            type=OrderType.STOP_LIMIT, price=limit, trigger_price=trigger, trigger_direction=TriggerDirection.RISING
        ),
    )
    assert wire["t"]["trigger"]["isMarket"] is False and wire["t"]["trigger"]["tpsl"] == "sl"
    assert Decimal(wire["t"]["trigger"]["triggerPx"]) == trigger
    assert Decimal(wire["p"]) == limit


def test_reduce_only_is_the_r_flag(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    venue.market.positions[SYMBOL] = Decimal("0.01")
    wire = sent(exchange, venue, make_order(type=OrderType.MARKET, side=Side.SELL, reduce_only=True))
    assert wire["r"] is True and wire["b"] is False


def test_cancel_and_lookup_go_by_cloid(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    price = resting_price(exchange, SYMBOL)
    order = make_order(type=OrderType.LIMIT, price=price)
    exchange.submit_order(order)
    exchange.fetch_order(order.client_order_id, SYMBOL)
    exchange.cancel_order(order)
    lookups = [r.params for r in venue.requests if r.params.get("type") == "orderStatus"]
    assert lookups[0]["oid"] == f"0x{order.client_order_id}"
    cancels = [a for a in venue.actions if a["type"] == "cancelByCloid"]
    assert cancels == [{"type": "cancelByCloid", "cancels": [{"asset": 0, "cloid": f"0x{order.client_order_id}"}]}]
    assert [e.status for e in exchange.poll_events()][-1] is OrderStatus.CANCELLED


def test_a_post_only_stop_limit_on_the_passive_side_goes_out_as_a_plain_trigger_limit(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    mid = exchange.latest_price(SYMBOL)
    trigger = exchange.instruments([SYMBOL])[SYMBOL].round_price(mid * Decimal("1.05"))
    passive = make_order(
        type=OrderType.STOP_LIMIT,
        price=trigger - 1,
        trigger_price=trigger,
        trigger_direction=TriggerDirection.RISING,
        post_only=True,
    )
    assert sent(exchange, venue, passive)["t"]["trigger"]["isMarket"] is False
    active = make_order(
        type=OrderType.STOP_LIMIT,
        price=trigger + 1,
        trigger_price=trigger,
        trigger_direction=TriggerDirection.RISING,
        post_only=True,
    )
    with pytest.raises(InvalidOrder, match="no post-only flag"):
        exchange.submit_order(active)


def test_fill_or_kill_is_refused_before_anything_is_sent(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    price = resting_price(exchange, SYMBOL, Decimal(1))
    with pytest.raises(InvalidOrder, match="fill-or-kill"):
        exchange.submit_order(make_order(type=OrderType.LIMIT, price=price, time_in_force=TimeInForce.FOK))
    assert venue.order_actions() == []


def test_testnet_sends_everything_to_hyperliquids_test_network() -> None:
    from tradekit_hyperliquid import HyperliquidSettings

    exchange = HyperliquidExchange(HyperliquidSettings(testnet=True), name="hyperliquid")
    assert set(exchange.client.urls["api"].values()) == {"https://api.hyperliquid-testnet.xyz"}
