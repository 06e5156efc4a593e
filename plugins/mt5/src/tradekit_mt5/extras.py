"""What MetaTrader 5 adds to an exchange, for scripts: modifying pending orders, stops on positions, closing.

Mixed into :class:`~tradekit_mt5.exchange.MT5Exchange`. Inside a run a
strategy closes with a reduce-only market order, so that the run's books see
it; these methods act on the account directly.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from tradekit.domain.orders import Order, OrderIntent, OrderType, Side
from tradekit.domain.portfolio import Position
from tradekit.errors import InvalidOrder, OrderNotFound
from tradekit_mt5 import requests
from tradekit_mt5.codes import SUCCESS, result_error
from tradekit_mt5.settings import MT5Settings
from tradekit_mt5.symbols import SymbolSpec
from tradekit_mt5.terminal import Terminal
from tradekit_mt5.tracking import OrderTracker, Tracked


class _Exchange(Protocol):
    """What the extras use of the exchange they are mixed into."""

    name: str
    settings: MT5Settings
    terminal: Terminal
    _tracker: OrderTracker

    def spec(self, symbol: str, error: type[Exception] = ...) -> SymbolSpec: ...

    def _working(self, order: Order, tracked: Tracked | None) -> list[int]: ...

    def positions(self) -> dict[str, Position]: ...

    def submit_order(self, order: Order) -> None: ...


class TerminalExtras:
    """``modify_order``, ``set_stops`` and ``close_position``: MetaTrader 5's own order functions."""

    def modify_order(
        self: _Exchange, order: Order, *, price: Decimal | None = None, trigger_price: Decimal | None = None
    ) -> None:
        """Move a working pending order: its limit ``price`` and/or its ``trigger_price`` (``TRADE_ACTION_MODIFY``)."""
        spec = self.spec(order.symbol, InvalidOrder)
        tracked = self._tracker.get(order.client_order_id)
        current = tracked.order if tracked is not None else order
        rules = spec.instrument(Decimal(1))
        for value in (price, trigger_price):
            if value is not None and (problem := rules.price_problem(value)) is not None:
                raise InvalidOrder(f"order {order.client_order_id}: {problem}")
        if current.type is OrderType.MARKET or (price is not None and current.type is OrderType.STOP):
            raise InvalidOrder(f"order {order.client_order_id}: a {current.type.value} order has no limit price")
        if trigger_price is not None and current.type is OrderType.LIMIT:
            raise InvalidOrder(f"order {order.client_order_id}: a limit order has no trigger price")
        working = self._working(order, tracked)
        if not working:
            raise OrderNotFound(f"{self.name} modify_order: no working order {order.client_order_id} at the terminal")
        new_price = price if price is not None else current.price
        new_trigger = trigger_price if trigger_price is not None else current.trigger_price
        request: dict[str, Any] = {"action": requests.ACTION_MODIFY, "order": working[0], "type_time": 0}
        if current.type is OrderType.LIMIT:
            request["price"] = float(new_price or 0)
        else:
            request["price"] = float(new_trigger or 0)
            if current.type is OrderType.STOP_LIMIT:
                request["stoplimit"] = float(new_price or 0)
        result = self.terminal.call("modify_order", "order_send", request)
        if int(result.retcode) not in SUCCESS:
            raise result_error(int(result.retcode), str(result.comment), venue=self.name, operation="modify_order")
        if tracked is not None:
            tracked.order = tracked.order.model_copy(update={"price": new_price, "trigger_price": new_trigger})

    def set_stops(
        self: _Exchange, symbol: str, *, stop_loss: Decimal | None = None, take_profit: Decimal | None = None
    ) -> list[int]:
        """Put a stop loss and a take profit (None: none) on every open position of ``symbol`` (``TRADE_ACTION_SLTP``).

        Returns the tickets of the positions changed. The broker closes a
        position at these prices by itself, even while tradekit is not
        running; such a close happens outside a run's books (the next start
        of the run reports the difference).
        """
        spec = self.spec(symbol, InvalidOrder)
        rules = spec.instrument(Decimal(1))
        for value in (stop_loss, take_profit):
            if value is not None and (problem := rules.price_problem(value)) is not None:
                raise InvalidOrder(f"stops of {symbol}: {problem}")
        changed = []
        for position in self.terminal.read("set_stops", "positions_get", symbol=symbol, missing_ok=True) or ():
            request = {
                "action": requests.ACTION_SLTP,
                "symbol": symbol,
                "position": int(position.ticket),
                "sl": float(stop_loss or 0),
                "tp": float(take_profit or 0),
                "magic": self.settings.magic,
            }
            result = self.terminal.call("set_stops", "order_send", request)
            if int(result.retcode) not in SUCCESS:
                raise result_error(int(result.retcode), str(result.comment), venue=self.name, operation="set_stops")
            changed.append(int(position.ticket))
        return changed

    def close_position(self: _Exchange, symbol: str, quantity: Decimal | None = None) -> Order:
        """Close ``quantity`` (all by default) of the net position in ``symbol`` with a reduce-only market order.

        Returns the order sent; its fills arrive through :meth:`poll_events`.
        For scripts: inside a run, a strategy sends the reduce-only order
        itself so that the run's books see it.
        """
        held = self.positions().get(symbol)
        if held is None or held.quantity == 0:
            raise InvalidOrder(f"{self.name} close_position: no open position in {symbol}")
        amount = quantity if quantity is not None else abs(held.quantity)
        side = Side.SELL if held.quantity > 0 else Side.BUY
        intent = OrderIntent(symbol=symbol, side=side, quantity=amount, reduce_only=True, tag="close_position")
        order = Order.from_intent(intent, uuid.uuid4().hex, created_at=datetime.now(UTC))
        self.submit_order(order)
        return order
