"""Each order kind reaches Binance's order endpoints with the parameters Binance expects."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from tradekit_binance import BinanceExchange
from tradekit_binance.fake_server import FakeBinance
from tradekit_ccxt.testing import Request
from tradekit_ccxt.testing.exchanges import resting_price

from tradekit.domain.orders import Fill, Order, OrderStatus, OrderType, OrderUpdate, Side, TimeInForce, TriggerDirection
from tradekit.errors import InvalidOrder

SPOT, FUTURES = "BTC/USDT", "BTC/USDT:USDT"


def placing(request: Request) -> bool:
    return request.method == "POST" and request.path in ("/api/v3/order", "/fapi/v1/order", "/fapi/v1/algoOrder")


def sent(exchange: BinanceExchange, venue: FakeBinance, order: Order) -> Request:
    """Submit ``order`` and return the one request that placed it."""
    before = len(venue.matching(placing))
    exchange.submit_order(order)
    placed = venue.matching(placing)[before:]
    assert len(placed) == 1
    return placed[0]


def away(exchange: BinanceExchange, symbol: str, factor: str) -> Decimal:
    return resting_price(exchange, symbol, Decimal(factor))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"type": OrderType.MARKET}, {"type": "MARKET", "quantity": "0.01"}),
        ({"type": OrderType.LIMIT, "time_in_force": TimeInForce.GTC}, {"type": "LIMIT", "timeInForce": "GTC"}),
        ({"type": OrderType.LIMIT, "post_only": True}, {"type": "LIMIT_MAKER"}),
        ({"type": OrderType.STOP, "trigger_direction": TriggerDirection.RISING}, {"type": "STOP_LOSS"}),
        ({"type": OrderType.STOP, "trigger_direction": TriggerDirection.FALLING}, {"type": "TAKE_PROFIT"}),
        (
            {"type": OrderType.STOP_LIMIT, "trigger_direction": TriggerDirection.RISING},
            {"type": "STOP_LOSS_LIMIT", "timeInForce": "GTC"},
        ),
    ],
)
def test_spot_orders_use_binances_spot_types(
    connect: Callable[..., BinanceExchange],
    venue: FakeBinance,
    make_order: Callable[..., Order],
    fields: dict,
    expected: dict,
) -> None:
    exchange = connect(market="spot")
    kind = fields["type"]
    if kind is OrderType.LIMIT:
        fields = {**fields, "price": away(exchange, SPOT, "0.9")}
    if kind in (OrderType.STOP, OrderType.STOP_LIMIT):
        rising = fields["trigger_direction"] is TriggerDirection.RISING
        trigger = away(exchange, SPOT, "1.05" if rising else "0.95")
        fields = {**fields, "trigger_price": trigger}
        if kind is OrderType.STOP_LIMIT:
            fields["price"] = trigger + 10
    order = make_order(symbol=SPOT, **fields)
    request = sent(exchange, venue, order)
    assert request.path == "/api/v3/order"
    assert {k: request.params.get(k) for k in expected} == expected
    assert request.params["newClientOrderId"] == order.client_order_id  # never ccxt's broker-prefixed id
    assert request.params["side"] == "BUY" and request.params["symbol"] == "BTCUSDT"
    if kind is OrderType.MARKET:
        assert "price" not in request.params and "quoteOrderQty" not in request.params
    if kind in (OrderType.STOP, OrderType.STOP_LIMIT):
        assert Decimal(request.params["stopPrice"]) == fields["trigger_price"]
    if fields.get("post_only"):
        assert "timeInForce" not in request.params


def test_spot_has_no_reduce_only_and_says_so_before_sending(
    connect: Callable[..., BinanceExchange], venue: FakeBinance, make_order: Callable[..., Order]
) -> None:
    exchange = connect(market="spot")
    with pytest.raises(InvalidOrder, match="spot has no reduce-only"):
        exchange.submit_order(make_order(symbol=SPOT, side=Side.SELL, reduce_only=True))
    assert venue.matching(placing) == []


@pytest.mark.parametrize(
    ("fields", "path", "expected"),
    [
        ({"type": OrderType.MARKET}, "/fapi/v1/order", {"type": "MARKET"}),
        ({"type": OrderType.LIMIT, "post_only": True}, "/fapi/v1/order", {"type": "LIMIT", "timeInForce": "GTX"}),
        (
            {"type": OrderType.MARKET, "reduce_only": True, "side": Side.SELL},
            "/fapi/v1/order",
            {"type": "MARKET", "reduceOnly": "true"},
        ),
        (
            {"type": OrderType.STOP, "trigger_direction": TriggerDirection.RISING},
            "/fapi/v1/algoOrder",
            {"type": "STOP_MARKET", "algoType": "CONDITIONAL"},
        ),
        (
            {"type": OrderType.STOP, "trigger_direction": TriggerDirection.FALLING},
            "/fapi/v1/algoOrder",
            {"type": "TAKE_PROFIT_MARKET", "algoType": "CONDITIONAL"},
        ),
        (
            {"type": OrderType.STOP_LIMIT, "trigger_direction": TriggerDirection.RISING},
            "/fapi/v1/algoOrder",
            {"type": "STOP", "algoType": "CONDITIONAL", "timeInForce": "GTC"},
        ),
    ],
)
def test_futures_orders_and_stops_on_the_algo_endpoint(
    connect: Callable[..., BinanceExchange],
    venue: FakeBinance,
    make_order: Callable[..., Order],
    fields: dict,
    path: str,
    expected: dict,
) -> None:
    exchange = connect(market="usdm")
    if fields.get("reduce_only"):
        venue.futures.positions[FUTURES] = Decimal("0.01")
    kind = fields["type"]
    if kind is OrderType.LIMIT:
        fields = {**fields, "price": away(exchange, FUTURES, "0.9")}
    if kind in (OrderType.STOP, OrderType.STOP_LIMIT):
        rising = fields["trigger_direction"] is TriggerDirection.RISING
        fields = {**fields, "trigger_price": away(exchange, FUTURES, "1.05" if rising else "0.95")}
        if kind is OrderType.STOP_LIMIT:
            fields["price"] = fields["trigger_price"] + 10
    order = make_order(symbol=FUTURES, **fields)
    request = sent(exchange, venue, order)
    assert request.path == path
    assert {k: request.params.get(k) for k in expected} == expected
    id_key = "clientAlgoId" if path.endswith("algoOrder") else "newClientOrderId"
    assert request.params[id_key] == order.client_order_id
    if path.endswith("algoOrder"):
        assert Decimal(request.params["triggerPrice"]) == fields["trigger_price"]


def test_a_futures_stop_that_triggers_reports_the_fills_of_the_order_it_placed(
    connect: Callable[..., BinanceExchange], venue: FakeBinance, make_order: Callable[..., Order]
) -> None:
    exchange = connect(market="usdm")
    trigger = away(exchange, FUTURES, "1.02")
    order = make_order(
        symbol=FUTURES, type=OrderType.STOP, trigger_price=trigger, trigger_direction=TriggerDirection.RISING
    )
    exchange.submit_order(order)
    assert [e.status for e in exchange.poll_events() if isinstance(e, OrderUpdate)] == [OrderStatus.ACCEPTED]
    venue.set_price(FUTURES, trigger + 5)
    fills = [e for e in exchange.poll_events() if isinstance(e, Fill)]
    assert [(f.client_order_id, f.quantity) for f in fills] == [(order.client_order_id, Decimal("0.01"))]
    view = exchange.fetch_order(order.client_order_id, FUTURES)
    assert view is not None and view.status is OrderStatus.FILLED
    lookups = [r for r in venue.requests if r.method == "GET" and r.path == "/fapi/v1/algoOrder"]
    assert lookups and lookups[0].params["clientAlgoId"] == order.client_order_id


def test_cancelling_an_untriggered_futures_stop_goes_to_the_algo_endpoint(
    connect: Callable[..., BinanceExchange], venue: FakeBinance, make_order: Callable[..., Order]
) -> None:
    exchange = connect(market="usdm")
    order = make_order(
        symbol=FUTURES,
        type=OrderType.STOP,
        trigger_price=away(exchange, FUTURES, "1.05"),
        trigger_direction=TriggerDirection.RISING,
    )
    exchange.submit_order(order)
    exchange.cancel_order(order)
    cancels = [r for r in venue.requests if r.method == "DELETE"]
    assert [(r.path, r.params.get("clientAlgoId")) for r in cancels] == [("/fapi/v1/algoOrder", order.client_order_id)]
    assert [e.status for e in exchange.poll_events() if isinstance(e, OrderUpdate)][-1] is OrderStatus.CANCELLED
    assert order.client_order_id not in {o.client_order_id for o in exchange.open_orders(FUTURES)}


def test_a_strategys_own_long_id_goes_out_as_a_fixed_36_character_id_and_comes_back(
    connect: Callable[..., BinanceExchange], venue: FakeBinance, make_order: Callable[..., Order]
) -> None:
    exchange = connect(market="spot")
    order = make_order(symbol=SPOT, type=OrderType.LIMIT, price=away(exchange, SPOT, "0.9"))
    named = order.model_copy(update={"client_order_id": "long_wallet cycle 12 / level 3 / buy stop, second try"})
    request = sent(exchange, venue, named)
    venue_id = request.params["newClientOrderId"]
    assert len(venue_id) <= 36 and venue_id.startswith("tk")
    assert [o.client_order_id for o in exchange.open_orders(SPOT)] == [named.client_order_id]


def test_testnet_sends_spot_and_futures_to_binances_test_networks() -> None:
    from tradekit_binance import BinanceSettings

    spot = BinanceExchange(BinanceSettings(testnet=True), name="binance").client.urls["api"]
    futures = BinanceExchange(BinanceSettings(market="usdm", testnet=True), name="binance").client.urls["api"]
    assert spot["public"].startswith("https://testnet.binance.vision/")
    assert futures["fapiPublic"].startswith("https://testnet.binancefuture.com/")
