"""The fake terminal's trade server: what it does with a trade request, and with prices that move.

It checks a request as MetaTrader 5 documents (symbol, volume within its
minimum, maximum and step, prices on the tick and on the right side of the
market, an allowed filling policy, margin, AutoTrading, market hours) and
answers with the documented return codes; it fills market deals at the ask
or bid, rests pending orders until the price reaches them, and keeps
stops and take profits on positions; the books are :mod:`~tradekit_mt5.testing.books`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from tradekit_mt5.testing import constants as mt5
from tradekit_mt5.testing.books import BUYS, EPSILON, Books, FakeAccount
from tradekit_mt5.testing.market import Market
from tradekit_mt5.testing.records import OrderCheckResult, OrderSendResult, TradeRequest, make

#: The terminal's words for each return code (what ``comment`` says).
COMMENTS: dict[int, str] = {
    mt5.TRADE_RETCODE_REQUOTE: "Requote",
    mt5.TRADE_RETCODE_REJECT: "Request rejected",
    mt5.TRADE_RETCODE_PLACED: "Order placed",
    mt5.TRADE_RETCODE_DONE: "Request executed",
    mt5.TRADE_RETCODE_DONE_PARTIAL: "Request executed partially",
    mt5.TRADE_RETCODE_ERROR: "Request processing error",
    mt5.TRADE_RETCODE_TIMEOUT: "Request canceled by timeout",
    mt5.TRADE_RETCODE_INVALID: "Invalid request",
    mt5.TRADE_RETCODE_INVALID_VOLUME: "Invalid volume",
    mt5.TRADE_RETCODE_INVALID_PRICE: "Invalid price",
    mt5.TRADE_RETCODE_INVALID_STOPS: "Invalid stops",
    mt5.TRADE_RETCODE_TRADE_DISABLED: "Trade disabled",
    mt5.TRADE_RETCODE_MARKET_CLOSED: "Market closed",
    mt5.TRADE_RETCODE_NO_MONEY: "No money",
    mt5.TRADE_RETCODE_PRICE_CHANGED: "Prices changed",
    mt5.TRADE_RETCODE_PRICE_OFF: "No prices",
    mt5.TRADE_RETCODE_TOO_MANY_REQUESTS: "Too many requests",
    mt5.TRADE_RETCODE_NO_CHANGES: "No changes",
    mt5.TRADE_RETCODE_SERVER_DISABLES_AT: "AutoTrading disabled by server",
    mt5.TRADE_RETCODE_CLIENT_DISABLES_AT: "AutoTrading disabled by client",
    mt5.TRADE_RETCODE_INVALID_FILL: "Unsupported filling mode",
    mt5.TRADE_RETCODE_CONNECTION: "No connection",
    mt5.TRADE_RETCODE_INVALID_CLOSE_VOLUME: "Invalid close volume",
    mt5.TRADE_RETCODE_POSITION_CLOSED: "Position already closed",
    mt5.TRADE_RETCODE_LONG_ONLY: "Long only",
    mt5.TRADE_RETCODE_SHORT_ONLY: "Short only",
    mt5.TRADE_RETCODE_CLOSE_ONLY: "Close only",
}
_LIMITS = frozenset({mt5.ORDER_TYPE_BUY_LIMIT, mt5.ORDER_TYPE_SELL_LIMIT})
_STOP_LIMITS = frozenset({mt5.ORDER_TYPE_BUY_STOP_LIMIT, mt5.ORDER_TYPE_SELL_STOP_LIMIT})
_STOPS = frozenset({mt5.ORDER_TYPE_BUY_STOP, mt5.ORDER_TYPE_SELL_STOP})
__all__ = ["COMMENTS", "FakeAccount", "Fault", "Refused", "TradeServer"]


class Refused(Exception):
    """A request the server does not carry out: its return code and the terminal's words."""

    def __init__(self, retcode: int, comment: str | None = None) -> None:
        super().__init__(comment or COMMENTS.get(retcode, f"retcode {retcode}"))
        self.retcode = retcode
        self.comment = comment or COMMENTS.get(retcode, f"retcode {retcode}")


@dataclass
class Fault:
    """A return code the next matching request gets instead of being carried out.

    ``stage`` is where it strikes: ``"send"`` (``order_send``) or ``"check"``
    (``order_check``); ``action`` limits it to one TRADE_ACTION_*; ``move``
    moves the bid that many points first (a requote's new price);
    ``executed`` carries the request out all the same (an answer that hides
    a done request, as a timeout may).
    """

    retcode: int
    action: int | None = None
    stage: str = "send"
    move: int = 0
    executed: bool = False


@dataclass
class TradeServer(Books):
    """The trade server of one account: requests checked and carried out, prices that trigger orders and stops.

    ``algo_trading`` is the terminal's Algo Trading button (off: retcode
    10027), ``server_algo_trading`` the broker's switch (off: 10026);
    ``faults`` are answers the next requests get; ``sent`` every request sent.
    """

    algo_trading: bool = True
    server_algo_trading: bool = True
    #: What a placed pending order answers: TRADE_RETCODE_DONE, or PLACED as some servers say.
    pending_retcode: int = mt5.TRADE_RETCODE_DONE
    faults: list[Fault] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._request_ids = itertools.count(1)

    # -- requests ---------------------------------------------------------------------------------------

    def check(self, request: dict[str, Any]) -> Any:
        """``order_check()``: what sending ``request`` would meet (retcode 0 when it would pass)."""
        echo = self._echo(request)
        info = self.account_info()
        try:
            self._take_fault(request, "check")
            needed = self._validate(request)
        except Refused as refused:
            return make(
                OrderCheckResult,
                retcode=refused.retcode,
                balance=info.balance,
                equity=info.equity,
                margin=info.margin,
                margin_free=info.margin_free,
                comment=refused.comment,
                request=echo,
            )
        return make(
            OrderCheckResult,
            retcode=0,
            balance=info.balance,
            equity=info.equity,
            margin=round(info.margin + needed, 2),
            margin_free=round(info.margin_free - needed, 2),
            margin_level=info.margin_level,
            comment="Done",
            request=echo,
        )

    def send(self, request: dict[str, Any]) -> Any:
        """``order_send()``: carry ``request`` out, or refuse it with a return code."""
        self.sent.append(dict(request))
        echo = self._echo(request)
        request_id = next(self._request_ids)
        symbol = str(request.get("symbol") or "")
        market = self.markets.get(symbol)
        quotes = {"bid": market.bid, "ask": market.ask} if market is not None else {}
        try:
            fault = self._take_fault(request, "send")
            if fault is not None and fault.executed:
                result = self._carry_out(request)
                return make(OrderSendResult, **{**result, "retcode": fault.retcode, "request_id": request_id})
            result = self._carry_out(request)
        except Refused as refused:
            quotes = {"bid": market.bid, "ask": market.ask} if market is not None else {}
            return make(
                OrderSendResult,
                retcode=refused.retcode,
                comment=refused.comment,
                request_id=request_id,
                request=echo,
                **quotes,
            )
        return make(OrderSendResult, **{**quotes, **result, "request_id": request_id, "request": echo})

    def _take_fault(self, request: dict[str, Any], stage: str) -> Fault | None:
        for index, fault in enumerate(self.faults):
            if fault.stage != stage or (fault.action is not None and fault.action != request.get("action")):
                continue
            del self.faults[index]
            if fault.move:
                market = self.markets[str(request.get("symbol"))]
                market.set_bid(market.bid + fault.move * market.symbol.point)
            if fault.executed:
                return fault
            raise Refused(fault.retcode)
        return None

    def _echo(self, request: dict[str, Any]) -> Any:
        known = {k: v for k, v in request.items() if k in TradeRequest._fields}
        return make(TradeRequest, **known)

    def _carry_out(self, request: dict[str, Any]) -> dict[str, Any]:
        action = request.get("action")
        if action == mt5.TRADE_ACTION_DEAL:
            self._validate(request)
            return self._deal(request)
        if action == mt5.TRADE_ACTION_PENDING:
            self._validate(request)
            return self._place(request)
        if action == mt5.TRADE_ACTION_REMOVE:
            return self._remove(request)
        if action == mt5.TRADE_ACTION_MODIFY:
            return self._modify(request)
        if action == mt5.TRADE_ACTION_SLTP:
            return self._sltp(request)
        raise Refused(mt5.TRADE_RETCODE_INVALID)

    # -- checks -------------------------------------------------------------------------------------------

    def _validate(self, request: dict[str, Any]) -> float:
        """Refuse what the server would; the margin the request needs otherwise."""
        market = self.markets.get(str(request.get("symbol")))
        kind = request.get("type")
        if market is None or not isinstance(kind, int) or kind not in range(8):
            raise Refused(mt5.TRADE_RETCODE_INVALID)
        symbol = market.symbol
        if not self.server_algo_trading:
            raise Refused(mt5.TRADE_RETCODE_SERVER_DISABLES_AT)
        if not self.algo_trading:
            raise Refused(mt5.TRADE_RETCODE_CLIENT_DISABLES_AT)
        if not self.account.trade_allowed or symbol.trade_mode == mt5.SYMBOL_TRADE_MODE_DISABLED:
            raise Refused(mt5.TRADE_RETCODE_TRADE_DISABLED)
        if not symbol.session_open:
            raise Refused(mt5.TRADE_RETCODE_MARKET_CLOSED)
        volume = float(request.get("volume") or 0)
        steps = volume / symbol.volume_step
        if (
            volume < symbol.volume_min - EPSILON
            or volume > symbol.volume_max + EPSILON
            or abs(steps - round(steps)) > 1e-6
        ):
            raise Refused(mt5.TRADE_RETCODE_INVALID_VOLUME)
        buy = kind in BUYS
        filling = int(request.get("type_filling") or mt5.ORDER_FILLING_FOK)
        if filling not in self._fillings(market, kind):
            raise Refused(mt5.TRADE_RETCODE_INVALID_FILL)
        opening = volume
        if request.get("action") == mt5.TRADE_ACTION_DEAL:
            opening = self._opening_volume(market, buy, volume, request.get("position"))
            self._check_requote(market, buy, request)
            price = market.ask if buy else market.bid
        else:
            price = float(request.get("price") or 0)
            self._check_pending_price(market, kind, price, float(request.get("stoplimit") or 0))
        if opening > EPSILON:
            if symbol.trade_mode == mt5.SYMBOL_TRADE_MODE_CLOSEONLY:
                raise Refused(mt5.TRADE_RETCODE_CLOSE_ONLY)
            if symbol.trade_mode == mt5.SYMBOL_TRADE_MODE_LONGONLY and not buy:
                raise Refused(mt5.TRADE_RETCODE_LONG_ONLY)
            if symbol.trade_mode == mt5.SYMBOL_TRADE_MODE_SHORTONLY and buy:
                raise Refused(mt5.TRADE_RETCODE_SHORT_ONLY)
        needed = self.margin(symbol.name, opening, price)
        free = self.account.balance + self.floating() - self.used_margin()
        if needed > free + EPSILON:
            raise Refused(mt5.TRADE_RETCODE_NO_MONEY)
        return needed

    def _fillings(self, market: Market, kind: int) -> set[int]:
        symbol = market.symbol
        market_fills = set()
        if symbol.filling_mode & 1 or symbol.execution in (
            mt5.SYMBOL_TRADE_EXECUTION_REQUEST,
            mt5.SYMBOL_TRADE_EXECUTION_INSTANT,
        ):
            market_fills.add(mt5.ORDER_FILLING_FOK)
        if symbol.filling_mode & 2:
            market_fills.add(mt5.ORDER_FILLING_IOC)
        if symbol.execution == mt5.SYMBOL_TRADE_EXECUTION_EXCHANGE:
            market_fills.add(mt5.ORDER_FILLING_RETURN)
        if kind in _LIMITS or kind in _STOP_LIMITS:
            return market_fills | {mt5.ORDER_FILLING_RETURN}
        return market_fills

    def _check_requote(self, market: Market, buy: bool, request: dict[str, Any]) -> None:
        symbol = market.symbol
        if symbol.execution not in (mt5.SYMBOL_TRADE_EXECUTION_REQUEST, mt5.SYMBOL_TRADE_EXECUTION_INSTANT):
            return  # market and exchange execution fill at the market, whatever price was sent
        asked = float(request.get("price") or 0)
        now = market.ask if buy else market.bid
        if abs(now - asked) > int(request.get("deviation") or 0) * symbol.point + EPSILON:
            raise Refused(mt5.TRADE_RETCODE_REQUOTE)

    def _check_pending_price(self, market: Market, kind: int, price: float, stoplimit: float) -> None:
        symbol = market.symbol
        gap = symbol.stops_level * symbol.point
        bid, ask = market.bid, market.ask
        if price <= 0 or not symbol.on_tick(price) or (kind in _STOP_LIMITS and not symbol.on_tick(stoplimit)):
            raise Refused(mt5.TRADE_RETCODE_INVALID_PRICE)
        good = {
            mt5.ORDER_TYPE_BUY_LIMIT: price < ask - gap + EPSILON and price < ask,
            mt5.ORDER_TYPE_SELL_LIMIT: price > bid + gap - EPSILON and price > bid,
            mt5.ORDER_TYPE_BUY_STOP: price > ask + gap - EPSILON and price > ask,
            mt5.ORDER_TYPE_SELL_STOP: price < bid - gap + EPSILON and price < bid,
            # A stop-limit places a limit when its stop is reached: at or below it for a buy, at or above for a sell.
            mt5.ORDER_TYPE_BUY_STOP_LIMIT: price > ask and 0 < stoplimit <= price + EPSILON,
            mt5.ORDER_TYPE_SELL_STOP_LIMIT: price < bid and stoplimit >= price - EPSILON,
        }.get(kind, False)
        if not good:
            raise Refused(mt5.TRADE_RETCODE_INVALID_PRICE)

    def _opening_volume(self, market: Market, buy: bool, volume: float, ticket: Any) -> float:
        """The part of a deal that opens or adds to a position (the rest closes one)."""
        if ticket:
            position = self.positions.get(int(ticket))
            if position is None:
                raise Refused(mt5.TRADE_RETCODE_POSITION_CLOSED)
            if (position["type"] == mt5.POSITION_TYPE_BUY) == buy or volume > position["volume"] + EPSILON:
                raise Refused(mt5.TRADE_RETCODE_INVALID_CLOSE_VOLUME)
            return 0.0
        if self.account.margin_mode == mt5.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING:
            return volume
        held = self.netted(market.symbol.name)
        if held is None or (held["type"] == mt5.POSITION_TYPE_BUY) == buy:
            return volume
        return max(volume - float(held["volume"]), 0.0)

    # -- carrying out ---------------------------------------------------------------------------------------

    def _deal(self, request: dict[str, Any]) -> dict[str, Any]:
        market = self.markets[str(request["symbol"])]
        order = self.new_order(request, mt5.ORDER_STATE_STARTED)
        buy = order["type"] in BUYS
        price = market.ask if buy else market.bid
        order["price_open"] = price
        volume = order["volume_initial"]
        cap = market.symbol.liquidity
        if cap is not None and volume > cap + EPSILON:
            if int(request.get("type_filling") or 0) != mt5.ORDER_FILLING_IOC:
                raise Refused(mt5.TRADE_RETCODE_REJECT)
            volume = cap
        deal = self.execute(order, volume, price, position=request.get("position"))
        retcode = (
            mt5.TRADE_RETCODE_DONE if volume >= order["volume_initial"] - EPSILON else mt5.TRADE_RETCODE_DONE_PARTIAL
        )
        self.finish(order, mt5.ORDER_STATE_FILLED if retcode == mt5.TRADE_RETCODE_DONE else mt5.ORDER_STATE_CANCELED)
        return {
            "retcode": retcode,
            "deal": deal["ticket"],
            "order": order["ticket"],
            "volume": volume,
            "price": price,
            "comment": COMMENTS[mt5.TRADE_RETCODE_DONE],
        }

    def _place(self, request: dict[str, Any]) -> dict[str, Any]:
        order = self.new_order(request, mt5.ORDER_STATE_PLACED)
        self.orders[order["ticket"]] = order
        return {
            "retcode": self.pending_retcode,
            "order": order["ticket"],
            "volume": order["volume_initial"],
            "price": order["price_open"],
            "comment": COMMENTS[self.pending_retcode],
        }

    def _remove(self, request: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(int(request.get("order") or 0))
        if order is None:
            raise Refused(mt5.TRADE_RETCODE_INVALID)
        del self.orders[order["ticket"]]
        self.finish(order, mt5.ORDER_STATE_CANCELED)
        return {
            "retcode": mt5.TRADE_RETCODE_DONE,
            "order": order["ticket"],
            "comment": COMMENTS[mt5.TRADE_RETCODE_DONE],
        }

    def _modify(self, request: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(int(request.get("order") or 0))
        if order is None:
            raise Refused(mt5.TRADE_RETCODE_INVALID)
        market = self.markets[order["symbol"]]
        price = float(request.get("price") or 0)
        stoplimit = float(request.get("stoplimit") or order["price_stoplimit"])
        if price == order["price_open"] and stoplimit == order["price_stoplimit"]:
            raise Refused(mt5.TRADE_RETCODE_NO_CHANGES)
        self._check_pending_price(market, order["type"], price, stoplimit)
        order.update(price_open=price, price_stoplimit=stoplimit if order["type"] in _STOP_LIMITS else 0.0)
        return {
            "retcode": mt5.TRADE_RETCODE_DONE,
            "order": order["ticket"],
            "comment": COMMENTS[mt5.TRADE_RETCODE_DONE],
        }

    def _sltp(self, request: dict[str, Any]) -> dict[str, Any]:
        position = self.positions.get(int(request.get("position") or 0))
        if position is None:
            raise Refused(mt5.TRADE_RETCODE_POSITION_CLOSED)
        market = self.markets[position["symbol"]]
        sl, tp = float(request.get("sl") or 0), float(request.get("tp") or 0)
        buy = position["type"] == mt5.POSITION_TYPE_BUY
        now = market.bid if buy else market.ask
        wrong_sl = sl > 0 and (sl >= now if buy else sl <= now)
        wrong_tp = tp > 0 and (tp <= now if buy else tp >= now)
        if wrong_sl or wrong_tp or not market.symbol.on_tick(sl) or not market.symbol.on_tick(tp):
            raise Refused(mt5.TRADE_RETCODE_INVALID_STOPS)
        if sl == position["sl"] and tp == position["tp"]:
            raise Refused(mt5.TRADE_RETCODE_NO_CHANGES)
        position.update(sl=sl, tp=tp, time_update=int(self.clock()), time_update_msc=int(self.clock() * 1000))
        return {"retcode": mt5.TRADE_RETCODE_DONE, "comment": COMMENTS[mt5.TRADE_RETCODE_DONE]}

    # -- prices moving ---------------------------------------------------------------------------------------

    def on_prices(self, symbol: str, open_: float, high: float, low: float) -> None:
        """The bid of ``symbol`` opened at ``open_`` and ranged over ``[low, high]``: trigger what it reaches."""
        market = self.markets[symbol]
        spread = market.symbol.spread * market.symbol.point
        for order in sorted((o for o in self.orders.values() if o["symbol"] == symbol), key=lambda o: o["ticket"]):
            self._trigger(order, open_, high, low, spread)
        for position in [p for p in self.positions.values() if p["symbol"] == symbol]:
            self._protect(position, open_, high, low, spread)

    def _trigger(self, order: dict[str, Any], open_: float, high: float, low: float, spread: float) -> None:
        kind, price = order["type"], order["price_open"]
        buy = kind in BUYS
        if kind in _STOP_LIMITS:
            reached = high + spread >= price if buy else low <= price
            if not reached:
                return
            # The stop is reached: the order becomes the limit it places, under the same ticket.
            order.update(
                type=mt5.ORDER_TYPE_BUY_LIMIT if buy else mt5.ORDER_TYPE_SELL_LIMIT, price_open=order["price_stoplimit"]
            )
            kind, price = order["type"], order["price_open"]
        fill: float | None = None
        if kind in _LIMITS:
            if buy and open_ + spread <= price:
                fill = open_ + spread
            elif buy and low + spread <= price:
                fill = price
            elif not buy and open_ >= price:
                fill = open_
            elif not buy and high >= price:
                fill = price
        elif kind in _STOPS:
            if buy and open_ + spread >= price:
                fill = open_ + spread
            elif buy and high + spread >= price:
                fill = price
            elif not buy and open_ <= price:
                fill = open_
            elif not buy and low <= price:
                fill = price
        if fill is None:
            return
        symbol = self.markets[order["symbol"]].symbol
        del self.orders[order["ticket"]]
        self.execute(order, order["volume_current"], symbol.round_price(fill))
        self.finish(order, mt5.ORDER_STATE_FILLED)

    def _protect(self, position: dict[str, Any], open_: float, high: float, low: float, spread: float) -> None:
        buy = position["type"] == mt5.POSITION_TYPE_BUY
        sl, tp = position["sl"], position["tp"]
        hit: tuple[float, int] | None = None
        if buy and sl and low <= sl:
            hit = (min(open_, sl), mt5.DEAL_REASON_SL)
        elif buy and tp and high >= tp:
            hit = (max(open_, tp), mt5.DEAL_REASON_TP)
        elif not buy and sl and high + spread >= sl:
            hit = (max(open_ + spread, sl), mt5.DEAL_REASON_SL)
        elif not buy and tp and low + spread <= tp:
            hit = (min(open_ + spread, tp), mt5.DEAL_REASON_TP)
        if hit is None:
            return
        price, reason = hit
        market = self.markets[position["symbol"]]
        tag = "sl" if reason == mt5.DEAL_REASON_SL else "tp"
        request = {
            "symbol": position["symbol"],
            "type": mt5.ORDER_TYPE_SELL if buy else mt5.ORDER_TYPE_BUY,
            "volume": position["volume"],
            "price": price,
            "magic": position["magic"],
            "comment": f"[{tag} {market.symbol.round_price(price)}]",
        }
        order = self.new_order(request, mt5.ORDER_STATE_STARTED)
        order["reason"] = mt5.ORDER_REASON_SL if reason == mt5.DEAL_REASON_SL else mt5.ORDER_REASON_TP
        self.execute(
            order, position["volume"], market.symbol.round_price(price), position=position["ticket"], reason=reason
        )
        self.finish(order, mt5.ORDER_STATE_FILLED)
