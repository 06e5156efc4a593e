"""Each order kind on the fake terminal: what is sent, how it rests, triggers and fills, and what is refused."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from tradekit_mt5 import MT5Exchange
from tradekit_mt5.testing import FakeAccount, FakeSymbol, FakeTerminal
from tradekit_mt5.testing import constants as mt5

from tradekit.domain.orders import Fill, Order, OrderStatus, OrderType, OrderUpdate, Side, TriggerDirection
from tradekit.errors import InvalidOrder, OrderNotFound

SYMBOL = "EURUSD"


PIP = Decimal("0.0001")


def events_of(exchange: MT5Exchange, client_order_id: str) -> list[Fill | OrderUpdate]:
    """What ``exchange`` reports now of one order."""
    return [e for e in exchange.poll_events() if e.client_order_id == client_order_id]


def statuses(events: list[Fill | OrderUpdate]) -> list[str]:
    return [f"fill {e.quantity}@{e.price}" if isinstance(e, Fill) else e.status.value for e in events]


def price_now(terminal: FakeTerminal) -> Decimal:
    return Decimal(repr(terminal.markets[SYMBOL].bid))


def test_a_market_buy_is_a_deal_at_the_ask_and_a_market_sell_one_at_the_bid(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    bid, ask = Decimal(repr(terminal.markets[SYMBOL].bid)), Decimal(repr(terminal.markets[SYMBOL].ask))
    buy = make_order(quantity=Decimal("20000"))
    exchange.submit_order(buy)
    sent = terminal.server.sent[-1]
    assert sent["action"] == mt5.TRADE_ACTION_DEAL and sent["type"] == mt5.ORDER_TYPE_BUY
    assert sent["volume"] == 0.2 and sent["price"] == float(ask) and sent["deviation"] == 20
    assert sent["magic"] == exchange.settings.magic and len(sent["comment"]) <= 31
    assert statuses(events_of(exchange, buy.client_order_id)) == ["accepted", f"fill 20000@{ask}"]
    sell = make_order(side=Side.SELL, quantity=Decimal("5000"))
    exchange.submit_order(sell)
    assert terminal.server.sent[-1]["type"] == mt5.ORDER_TYPE_SELL
    assert statuses(events_of(exchange, sell.client_order_id)) == ["accepted", f"fill 5000@{bid}"]
    assert exchange.positions()[SYMBOL].quantity == Decimal("15000")


@pytest.mark.parametrize(
    ("side", "kind", "offset", "mt5_type", "through"),
    [
        (Side.BUY, OrderType.LIMIT, -50, mt5.ORDER_TYPE_BUY_LIMIT, -60),
        (Side.SELL, OrderType.LIMIT, 50, mt5.ORDER_TYPE_SELL_LIMIT, 60),
        (Side.BUY, OrderType.STOP, 50, mt5.ORDER_TYPE_BUY_STOP, 60),
        (Side.SELL, OrderType.STOP, -50, mt5.ORDER_TYPE_SELL_STOP, -60),
    ],
)
def test_a_pending_order_rests_at_its_price_and_fills_when_the_market_reaches_it(
    side: Side,
    kind: OrderType,
    offset: int,
    mt5_type: int,
    through: int,
    terminal: FakeTerminal,
    connect: Callable[..., MT5Exchange],
    make_order: Callable[..., Order],
) -> None:
    exchange = connect()
    level = price_now(terminal) + offset * PIP
    fields = (
        {"price": level}
        if kind is OrderType.LIMIT
        else {
            "trigger_price": level,
            "trigger_direction": TriggerDirection.RISING if offset > 0 else TriggerDirection.FALLING,
        }
    )
    order = make_order(side=side, type=kind, **fields)
    exchange.submit_order(order)
    sent = terminal.server.sent[-1]
    assert (sent["action"], sent["type"], sent["price"]) == (mt5.TRADE_ACTION_PENDING, mt5_type, float(level))
    assert statuses(events_of(exchange, order.client_order_id)) == ["accepted"]
    assert [o.client_order_id for o in exchange.open_orders(SYMBOL)] == [order.client_order_id]
    terminal.set_price(SYMBOL, float(price_now(terminal) + through * PIP))
    events = events_of(exchange, order.client_order_id)
    assert len(events) == 1 and isinstance(events[0], Fill) and events[0].quantity == order.quantity
    if kind is OrderType.LIMIT:  # a limit fills at its price or better (here the market jumped past it)
        assert events[0].price <= level if side is Side.BUY else events[0].price >= level
    assert exchange.fetch_order(order.client_order_id, SYMBOL).status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert exchange.open_orders(SYMBOL) == []


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_a_stop_limit_places_its_limit_when_the_stop_is_reached_and_fills_no_worse(
    side: Side, terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    sign = 1 if side is Side.BUY else -1
    stop = price_now(terminal) + sign * 50 * PIP
    limit = stop - sign * 10 * PIP  # MetaTrader 5's stop-limit: a buy limit under its stop, a sell limit over it
    order = make_order(
        side=side,
        type=OrderType.STOP_LIMIT,
        price=limit,
        trigger_price=stop,
        trigger_direction=TriggerDirection.RISING if side is Side.BUY else TriggerDirection.FALLING,
    )
    exchange.submit_order(order)
    sent = terminal.server.sent[-1]
    expected = mt5.ORDER_TYPE_BUY_STOP_LIMIT if side is Side.BUY else mt5.ORDER_TYPE_SELL_STOP_LIMIT
    assert (sent["type"], sent["price"], sent["stoplimit"]) == (expected, float(stop), float(limit))
    assert sent["type_filling"] == mt5.ORDER_FILLING_RETURN
    assert statuses(events_of(exchange, order.client_order_id)) == ["accepted"]
    terminal.set_price(SYMBOL, float(stop + sign * 5 * PIP))  # the stop is reached: the limit rests
    assert events_of(exchange, order.client_order_id) == []
    view = exchange.fetch_order(order.client_order_id, SYMBOL)
    assert view is not None and view.status is OrderStatus.ACCEPTED and view.type is OrderType.STOP_LIMIT
    terminal.set_price(SYMBOL, float(limit - sign * 5 * PIP))  # back through the limit: it fills
    fills = events_of(exchange, order.client_order_id)
    assert len(fills) == 1 and isinstance(fills[0], Fill)
    assert (fills[0].price <= limit) if side is Side.BUY else (fills[0].price >= limit)


def test_a_stop_limit_whose_limit_lies_beyond_its_stop_is_refused_with_the_servers_reason(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    stop = price_now(terminal) + 50 * PIP
    order = make_order(
        type=OrderType.STOP_LIMIT, price=stop + 10 * PIP, trigger_price=stop, trigger_direction=TriggerDirection.RISING
    )
    with pytest.raises(InvalidOrder, match="retcode 10015") as refused:
        exchange.submit_order(order)
    assert "at or beyond its stop on the passive side" in str(refused.value)
    assert terminal.called("order_send") == 0  # order_check found it first


@pytest.mark.parametrize(
    ("side", "direction", "advice"),
    [(Side.BUY, TriggerDirection.FALLING, "a buy limit"), (Side.SELL, TriggerDirection.RISING, "a sell limit")],
)
def test_a_stop_on_the_side_metatrader_does_not_trigger_is_refused_before_sending(
    side: Side,
    direction: TriggerDirection,
    advice: str,
    terminal: FakeTerminal,
    connect: Callable[..., MT5Exchange],
    make_order: Callable[..., Order],
) -> None:
    exchange = connect()
    order = make_order(side=side, type=OrderType.STOP, trigger_price=price_now(terminal), trigger_direction=direction)
    with pytest.raises(InvalidOrder, match=advice):
        exchange.submit_order(order)
    assert terminal.called("order_check") == terminal.called("order_send") == 0


def test_post_only_and_immediate_limits_do_not_exist_in_metatrader(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    below = price_now(terminal) - 50 * PIP
    with pytest.raises(InvalidOrder, match="no post-only flag"):
        exchange.submit_order(make_order(type=OrderType.LIMIT, price=below, post_only=True))
    with pytest.raises(InvalidOrder, match="rests until it fills or is cancelled"):
        exchange.submit_order(make_order(type=OrderType.LIMIT, price=below, time_in_force="ioc"))


def test_a_cancelled_order_is_removed_and_reported_and_a_second_cancel_finds_nothing(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    order = make_order(type=OrderType.LIMIT, price=price_now(terminal) - 50 * PIP)
    exchange.submit_order(order)
    exchange.poll_events()
    exchange.cancel_order(order)
    assert terminal.server.sent[-1] == {
        "action": mt5.TRADE_ACTION_REMOVE,
        "order": int(terminal.server.sent[-1]["order"]),
    }
    assert statuses(events_of(exchange, order.client_order_id)) == ["cancelled"]
    with pytest.raises(OrderNotFound):
        exchange.cancel_order(order)


def test_a_pending_order_is_modified_in_place(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    first, second = price_now(terminal) - 50 * PIP, price_now(terminal) - 30 * PIP
    order = make_order(type=OrderType.LIMIT, price=first)
    exchange.submit_order(order)
    exchange.modify_order(order, price=second)
    assert terminal.server.sent[-1]["action"] == mt5.TRADE_ACTION_MODIFY
    view = exchange.fetch_order(order.client_order_id, SYMBOL)
    assert view is not None and view.price == second
    assert [o.price_open for o in terminal.orders_get(symbol=SYMBOL)] == [float(second)]
    with pytest.raises(InvalidOrder, match="no trigger price"):
        exchange.modify_order(order, trigger_price=second)


def test_stop_loss_and_take_profit_are_put_on_positions_and_the_broker_closes_at_them(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    exchange.submit_order(make_order(quantity=Decimal("10000")))
    now = price_now(terminal)
    changed = exchange.set_stops(SYMBOL, stop_loss=now - 40 * PIP, take_profit=now + 40 * PIP)
    (position,) = terminal.positions_get(symbol=SYMBOL)
    assert changed == [position.ticket] and (position.sl, position.tp) == (float(now - 40 * PIP), float(now + 40 * PIP))
    assert terminal.server.sent[-1]["action"] == mt5.TRADE_ACTION_SLTP
    terminal.set_price(SYMBOL, float(now - 50 * PIP))
    assert exchange.positions() == {}
    closing = terminal.server.deals[-1]
    assert closing["reason"] == mt5.DEAL_REASON_SL and closing["price"] == float(now - 50 * PIP)  # gapped past it


def test_a_stop_loss_on_the_wrong_side_is_refused_as_invalid_stops(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    exchange.submit_order(make_order())
    with pytest.raises(Exception, match="retcode 10016"):
        exchange.set_stops(SYMBOL, stop_loss=price_now(terminal) + 40 * PIP)


def test_close_position_flattens_with_a_reduce_only_deal_on_the_positions_ticket(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    exchange.submit_order(make_order(quantity=Decimal("30000")))
    (position,) = terminal.positions_get(symbol=SYMBOL)
    closing = exchange.close_position(SYMBOL)
    assert closing.side is Side.SELL and closing.quantity == Decimal("30000") and closing.reduce_only
    assert terminal.server.sent[-1]["position"] == position.ticket
    assert exchange.positions() == {}
    with pytest.raises(InvalidOrder, match="no open position"):
        exchange.close_position(SYMBOL)


def test_reduce_only_on_a_hedging_account_closes_positions_oldest_first_and_never_opens_one(
    new_terminal: Callable[..., FakeTerminal], connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    terminal = new_terminal(account=FakeAccount(margin_mode=mt5.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING))
    exchange = connect()
    for size in ("10000", "20000"):
        exchange.submit_order(make_order(quantity=Decimal(size)))
    exchange.poll_events()
    first, second = sorted(p.ticket for p in terminal.positions_get(symbol=SYMBOL))
    exit_order = make_order(side=Side.SELL, quantity=Decimal("25000"), reduce_only=True)
    exchange.submit_order(exit_order)
    closes = terminal.server.sent[-2:]
    assert [(c["position"], c["volume"]) for c in closes] == [(first, 0.1), (second, 0.15)]
    events = events_of(exchange, exit_order.client_order_id)
    assert sum(e.quantity for e in events if isinstance(e, Fill)) == Decimal("25000")
    (left,) = terminal.positions_get(symbol=SYMBOL)
    assert (left.ticket, left.volume, left.type) == (second, 0.05, mt5.POSITION_TYPE_BUY)
    with pytest.raises(InvalidOrder, match="only 5000 is held long"):
        exchange.submit_order(make_order(side=Side.SELL, quantity=Decimal("6000"), reduce_only=True))
    with pytest.raises(InvalidOrder, match="must be a market order"):
        exchange.submit_order(
            make_order(side=Side.SELL, type=OrderType.LIMIT, price=Decimal("2.00000"), reduce_only=True)
        )


def test_an_opposite_order_on_a_hedging_account_opens_a_hedge_and_positions_report_the_net(
    new_terminal: Callable[..., FakeTerminal], connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    terminal = new_terminal(account=FakeAccount(margin_mode=mt5.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING))
    exchange = connect()
    exchange.submit_order(make_order(quantity=Decimal("30000")))
    exchange.submit_order(make_order(side=Side.SELL, quantity=Decimal("10000")))
    assert len(terminal.positions_get(symbol=SYMBOL)) == 2
    held = exchange.positions()[SYMBOL]
    assert held.quantity == Decimal("20000")


def test_commission_and_fees_of_a_deal_are_the_fills_fee_in_the_account_currency(
    new_terminal: Callable[..., FakeTerminal], connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    new_terminal(FakeSymbol(commission_per_lot=3.5))
    exchange = connect()
    order = make_order(quantity=Decimal("200000"))
    exchange.submit_order(order)
    (fill,) = [e for e in events_of(exchange, order.client_order_id) if isinstance(e, Fill)]
    assert (fill.fee, fill.fee_currency) == (Decimal("7.0"), "USD")
