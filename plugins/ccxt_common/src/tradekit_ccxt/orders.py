"""ccxt's unified orders and trades as tradekit's :class:`~tradekit.domain.orders.Order` and :class:`Fill`.

ccxt reports an order's ``status`` as ``open``, ``closed``, ``canceled``,
``expired`` or ``rejected`` and its ``filled`` amount; tradekit's lifecycle
tells a partly filled open order apart (:class:`OrderStatus`). A trigger
order carries ``triggerPrice`` (and ``stopLossPrice`` or ``takeProfitPrice``
for the side of the market it waits on), which gives its direction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradekit.domain.orders import (
    Fill,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TriggerDirection,
)
from tradekit.money import to_decimal

_TIME_IN_FORCE = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}


def decimal_or_none(value: Any) -> Decimal | None:
    """A ccxt number (float, int or str) as an exact Decimal; None for None or an empty string."""
    if value is None or value == "":
        return None
    return Decimal(value) if isinstance(value, str) else to_decimal(value)


def moment(milliseconds: Any) -> datetime:
    """A ccxt millisecond timestamp as an aware UTC datetime (now when the venue gave none)."""
    if milliseconds is None:
        return datetime.now(UTC)
    return datetime.fromtimestamp(int(milliseconds) / 1000, tz=UTC)


def status_of(data: dict[str, Any]) -> OrderStatus:
    """tradekit's status for a ccxt order: ``closed`` short of its amount is a cancel of the rest."""
    status = data.get("status")
    filled = decimal_or_none(data.get("filled")) or Decimal(0)
    amount = decimal_or_none(data.get("amount"))
    if status == "open" or status is None:
        return OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.ACCEPTED
    if status == "closed":
        if amount is not None and filled < amount:
            return OrderStatus.CANCELLED
        return OrderStatus.FILLED
    if status in ("canceled", "cancelled"):
        return OrderStatus.CANCELLED
    if status == "expired":
        return OrderStatus.EXPIRED
    if status == "rejected":
        return OrderStatus.REJECTED
    return OrderStatus.ACCEPTED


def trigger_direction_of(data: dict[str, Any], side: Side) -> TriggerDirection | None:
    """The direction a ccxt trigger order waits for; None when it is no trigger order.

    A stop loss waits for the price to move against the position the order
    closes (a sell stop for a fall, a buy stop for a rise), a take profit for
    the opposite; a bare ``triggerPrice`` is read as a stop.
    """
    take_profit = data.get("takeProfitPrice")
    trigger = data.get("triggerPrice") or data.get("stopLossPrice") or take_profit
    if not trigger:
        return None
    stop = not take_profit
    rising = (side is Side.BUY) == stop
    return TriggerDirection.RISING if rising else TriggerDirection.FALLING


def order_from_ccxt(
    data: dict[str, Any],
    client_order_id: str,
    *,
    sent: Order | None = None,
    direction: TriggerDirection | None = None,
) -> Order:
    """tradekit's view of a ccxt order.

    When the order was ``sent`` by this process, what tradekit asked for
    (type, prices, flags) is kept and only the venue's state (status, fills,
    id) is taken from ``data``: venues report market and stop orders in
    their own terms (a stop-limit as ``limit`` with a trigger price, a market
    order as an IOC limit). Otherwise everything comes from ``data``, and
    ``direction`` (if the venue states it) overrides the one inferred.
    """
    status = status_of(data)
    filled = decimal_or_none(data.get("filled")) or Decimal(0)
    average = decimal_or_none(data.get("average"))
    exchange_id = data.get("id")
    if sent is not None:
        order = sent.model_copy()
    else:
        side = Side.SELL if data.get("side") == "sell" else Side.BUY
        trigger = decimal_or_none(data.get("triggerPrice") or data.get("stopLossPrice") or data.get("takeProfitPrice"))
        is_market = data.get("type") == "market"
        if trigger is not None:
            kind = OrderType.STOP if is_market else OrderType.STOP_LIMIT
        else:
            kind = OrderType.MARKET if is_market else OrderType.LIMIT
        order = Order(
            client_order_id=client_order_id,
            symbol=data["symbol"],
            side=side,
            type=kind,
            quantity=decimal_or_none(data.get("amount")) or filled or Decimal(1),
            price=decimal_or_none(data.get("price")) if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
            trigger_price=trigger,
            trigger_direction=(direction or trigger_direction_of(data, side)) if trigger is not None else None,
            time_in_force=_TIME_IN_FORCE.get(str(data.get("timeInForce") or "GTC").upper(), TimeInForce.GTC),
            post_only=bool(data.get("postOnly")),
            reduce_only=bool(data.get("reduceOnly")),
            created_at=moment(data.get("timestamp")) if data.get("timestamp") else None,
        )
    state = order.__dict__
    state["status"] = status
    state["exchange_order_id"] = str(exchange_id) if exchange_id is not None else order.exchange_order_id
    state["filled_quantity"] = min(filled, order.quantity)
    if filled > 0 and average is not None:
        state["average_fill_price"] = average
        state["filled_notional"] = average * min(filled, order.quantity)
    return order


def rests_when_triggered(order: Order) -> bool:
    """Whether a stop-limit's limit lies on the passive side of its trigger, so it cannot take when it triggers.

    A buy triggered by a rise to its trigger, with its limit below the trigger,
    lands below the market (a sell, mirrored): it rests, as a post-only order
    would. Venues whose trigger orders carry no post-only flag may send such a
    post-only stop-limit as a plain one.
    """
    if order.type is not OrderType.STOP_LIMIT or order.price is None or order.trigger_price is None:
        return False
    if order.side is Side.BUY:
        return order.trigger_direction is TriggerDirection.RISING and order.price < order.trigger_price
    return order.trigger_direction is TriggerDirection.FALLING and order.price > order.trigger_price


def fill_from_trade(trade: dict[str, Any], client_order_id: str, symbol: str) -> Fill:
    """A ccxt trade (one of the account's own executions) as a :class:`Fill` of ``client_order_id``."""
    fee = trade.get("fee") or {}
    liquidity = Liquidity.MAKER if trade.get("takerOrMaker") == "maker" else Liquidity.TAKER
    return Fill(
        fill_id=str(trade["id"]),
        client_order_id=client_order_id,
        symbol=symbol,
        side=Side.SELL if trade.get("side") == "sell" else Side.BUY,
        quantity=decimal_or_none(trade.get("amount")) or Decimal(0),
        price=decimal_or_none(trade.get("price")) or Decimal(0),
        fee=decimal_or_none(fee.get("cost")) or Decimal(0),
        fee_currency=str(fee.get("currency") or ""),
        liquidity=liquidity,
        timestamp=moment(trade.get("timestamp")),
    )
