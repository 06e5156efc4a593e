"""Trade requests: tradekit's orders as MetaTrader 5 request dicts, and the terminal's orders read back.

===========================================  =====================================================
tradekit                                     MetaTrader 5 (``order_send`` request)
===========================================  =====================================================
market buy / sell                            ``TRADE_ACTION_DEAL``, ``ORDER_TYPE_BUY`` / ``SELL`` at the
                                             ask / bid, with ``deviation`` points of slippage allowed
limit buy / sell                             ``TRADE_ACTION_PENDING``, ``BUY_LIMIT`` / ``SELL_LIMIT``
stop buy (rising) / sell (falling)           ``BUY_STOP`` / ``SELL_STOP``, ``price`` = the trigger
stop-limit buy (rising) / sell (falling)     ``BUY_STOP_LIMIT`` / ``SELL_STOP_LIMIT``: ``price`` = the
                                             trigger, ``stoplimit`` = the limit
reduce-only                                  a deal against open positions (``position`` = the ticket)
client order id                              ``comment`` (:mod:`tradekit_mt5.tags`) and ``magic``
===========================================  =====================================================

MetaTrader 5 fires a buy stop only when the ask rises to it and a sell stop
only when the bid falls to it; a buy stop below the market or a sell stop
above it does not exist there (a limit does that) and is refused before
sending. Pending orders are good till cancelled and carry no post-only flag.
The numbers are MetaQuotes' constants, as the MetaTrader5 package documents them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradekit.domain.orders import Order, OrderStatus, OrderType, Side, TimeInForce, TriggerDirection
from tradekit.errors import InvalidOrder
from tradekit_mt5.symbols import SymbolSpec

# TRADE_REQUEST_ACTIONS
ACTION_DEAL = 1
ACTION_PENDING = 5
ACTION_SLTP = 6
ACTION_MODIFY = 7
ACTION_REMOVE = 8
# ENUM_ORDER_TYPE
BUY = 0
SELL = 1
BUY_LIMIT = 2
SELL_LIMIT = 3
BUY_STOP = 4
SELL_STOP = 5
BUY_STOP_LIMIT = 6
SELL_STOP_LIMIT = 7
# ENUM_ORDER_TYPE_TIME
TIME_GTC = 0
# ENUM_ORDER_STATE
STATE_STARTED = 0
STATE_PLACED = 1
STATE_CANCELED = 2
STATE_PARTIAL = 3
STATE_FILLED = 4
STATE_REJECTED = 5
STATE_EXPIRED = 6
# ENUM_POSITION_TYPE
POSITION_BUY = 0
POSITION_SELL = 1
# ENUM_ACCOUNT_MARGIN_MODE
MARGIN_HEDGING = 2

_KINDS: dict[int, tuple[Side, OrderType]] = {
    BUY: (Side.BUY, OrderType.MARKET),
    SELL: (Side.SELL, OrderType.MARKET),
    BUY_LIMIT: (Side.BUY, OrderType.LIMIT),
    SELL_LIMIT: (Side.SELL, OrderType.LIMIT),
    BUY_STOP: (Side.BUY, OrderType.STOP),
    SELL_STOP: (Side.SELL, OrderType.STOP),
    BUY_STOP_LIMIT: (Side.BUY, OrderType.STOP_LIMIT),
    SELL_STOP_LIMIT: (Side.SELL, OrderType.STOP_LIMIT),
}
_TYPES = {kind: number for number, kind in _KINDS.items()}
#: Where a state leaves an order that is no longer working (PARTIAL there: the rest was cancelled).
_FINAL = {
    STATE_CANCELED: OrderStatus.CANCELLED,
    STATE_PARTIAL: OrderStatus.CANCELLED,
    STATE_FILLED: OrderStatus.FILLED,
    STATE_REJECTED: OrderStatus.REJECTED,
    STATE_EXPIRED: OrderStatus.EXPIRED,
}


def order_type(order: Order) -> int:
    """The ORDER_TYPE_* ``order`` is sent as; InvalidOrder for what MetaTrader 5 cannot hold."""
    where = f"order {order.client_order_id}"
    if order.post_only:
        raise InvalidOrder(f"{where}: MetaTrader 5 orders carry no post-only flag; send it without post_only")
    if order.type is OrderType.LIMIT and order.time_in_force is not TimeInForce.GTC:
        raise InvalidOrder(
            f"{where}: a MetaTrader 5 limit order rests until it fills or is cancelled; an "
            f"{order.time_in_force.value} limit does not exist there (send a market order for an immediate fill)"
        )
    if order.type in (OrderType.STOP, OrderType.STOP_LIMIT):
        wanted = TriggerDirection.RISING if order.side is Side.BUY else TriggerDirection.FALLING
        if order.trigger_direction is not wanted:
            instead = "a buy limit" if order.side is Side.BUY else "a sell limit"
            raise InvalidOrder(
                f"{where}: MetaTrader 5 fires a {order.side.value} stop only when the price "
                f"{'rises' if order.side is Side.BUY else 'falls'} to it; a {order.side.value} {order.type.value} "
                f"triggered {order.trigger_direction} does not exist there ({instead} at {order.trigger_price} does "
                "that)"
            )
    return _TYPES[(order.side, order.type)]


def new_order(
    order: Order,
    spec: SymbolSpec,
    *,
    magic: int,
    tag: str,
    filling: int,
    deviation: int,
    price: Decimal | None = None,
    volume: float | None = None,
    position: int | None = None,
) -> dict[str, Any]:
    """The ``order_send`` request that places ``order`` (or one leg of it: ``volume`` lots, closing ``position``).

    ``price`` is the quote a market order is sent at (the ask for a buy,
    the bid for a sell); pending orders carry their own prices.
    """
    kind = order_type(order)
    request: dict[str, Any] = {
        "symbol": order.symbol,
        "volume": volume if volume is not None else spec.volume(order.quantity),
        "type": kind,
        "magic": magic,
        "comment": tag,
        "type_time": TIME_GTC,
        "type_filling": filling,
    }
    if order.type is OrderType.MARKET:
        assert price is not None, "a market order is sent at the current quote"
        request.update(action=ACTION_DEAL, price=float(price), deviation=deviation)
        if position is not None:
            request["position"] = position
    elif order.type is OrderType.LIMIT:
        assert order.price is not None
        request.update(action=ACTION_PENDING, price=float(order.price))
    else:
        assert order.trigger_price is not None
        request.update(action=ACTION_PENDING, price=float(order.trigger_price))
        if order.type is OrderType.STOP_LIMIT:
            assert order.price is not None
            request["stoplimit"] = float(order.price)
    return request


def when(milliseconds: int | float) -> datetime | None:
    """A terminal time in milliseconds as a UTC datetime (None for 0: not set)."""
    return datetime.fromtimestamp(int(milliseconds) / 1000, tz=UTC) if milliseconds else None


def view(
    records: list[Any], spec: SymbolSpec, client_order_id: str, *, working: set[int], sent: Order | None = None
) -> Order:
    """tradekit's view of one order from the terminal's order records (several when it was sent in legs).

    ``working`` holds the tickets still among the open orders. A known
    ``sent`` order gives the fields MetaTrader 5 rewrites (a triggered
    stop-limit becomes a limit there) and the quantity asked.
    """
    first = records[0]
    side, kind = _KINDS.get(int(first.type), (Side.BUY, OrderType.MARKET))
    asked = sum((spec.quantity(r.volume_initial) for r in records), Decimal(0))
    filled = sum((spec.quantity(float(r.volume_initial) - float(r.volume_current)) for r in records), Decimal(0))
    if any(int(r.ticket) in working for r in records):
        status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.ACCEPTED
    else:
        finals = {_FINAL.get(int(r.state), OrderStatus.CANCELLED) for r in records}
        status = (
            OrderStatus.FILLED
            if finals == {OrderStatus.FILLED} and (sent is None or filled >= sent.quantity)
            else next((s for s in (OrderStatus.EXPIRED, OrderStatus.REJECTED) if finals == {s}), OrderStatus.CANCELLED)
        )
    fields: dict[str, Any] = {"side": side, "type": kind, "quantity": asked, "price": None, "trigger_price": None}
    if kind is OrderType.LIMIT:
        fields["price"] = spec.price(first.price_open)
    elif kind in (OrderType.STOP, OrderType.STOP_LIMIT):
        fields["trigger_price"] = spec.price(first.price_open)
        fields["trigger_direction"] = TriggerDirection.RISING if side is Side.BUY else TriggerDirection.FALLING
        if kind is OrderType.STOP_LIMIT:
            fields["price"] = spec.price(first.price_stoplimit)
    if sent is not None:
        fields = sent.model_dump(
            include={
                "side",
                "type",
                "quantity",
                "price",
                "trigger_price",
                "trigger_direction",
                "time_in_force",
                "reduce_only",
                "tag",
            }
        )
    return Order(
        client_order_id=client_order_id,
        symbol=str(first.symbol),
        status=status,
        exchange_order_id=str(first.ticket),
        filled_quantity=filled,
        created_at=when(first.time_setup_msc),
        updated_at=when(max(int(r.time_done_msc) for r in records)),
        **fields,
    )
