"""A fake Binance: the spot (``/api/v3``) and USD-M futures (``/fapi``) endpoints tradekit uses, in Binance's shapes.

The request and response shapes are Binance's as documented (spot REST API;
USD-M futures REST API, including the algo-order endpoints
``/fapi/v1/algoOrder`` and ``/fapi/v1/openAlgoOrders``) and as recorded in
ccxt's source comments and tests: ``exchangeInfo``, ``klines``,
``ticker/price``, ``order`` (POST/GET/DELETE), ``openOrders``, ``myTrades`` /
``userTrades``, ``account`` (``/fapi/v3/account``), ``positionRisk``. Errors
are Binance's ``{"code": -2010, "msg": ...}`` with its codes and texts; 429
and 418 come with ``Retry-After``. Signed requests are checked like Binance
checks them: the ``X-MBX-APIKEY`` header and an HMAC-SHA256 ``signature`` of
the query (or form body) with the secret.

The account's trades come as Binance documents them: 1,000 at most a
request, by ``orderId``, from a ``fromId``, or in a time range of a day at
most (a week on futures), the other end following from the one given.

A futures stop (an algo order) waits in the algo service; when it triggers it
becomes an order with its own ``orderId`` (the algo order's ``actualOrderId``),
and its fills carry that id.

With ``stream=True`` it also serves Binance's market streams on its own port
(:attr:`FakeBinance.ws_url`; spot at ``/ws``, USD-M at ``/market/ws``), in the
shapes of :mod:`tradekit_binance.fake_stream`. :meth:`FakeBinance.advance`
reveals the next bar and pushes its final kline (``x`` true), the next one's
first update (the candle still forming) and the tickers, as the venue does
when a period rolls over; ``stream_every`` does so on a timer while a client
follows the first symbol's klines.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from decimal import Decimal
from typing import Any

from tradekit_ccxt.testing import FakeMarket, FakeOrder, FakeVenueServer, Refused, Reply, Request
from tradekit_ccxt.testing.market import now_ms
from tradekit_ccxt.testing.stream import Connection

from tradekit.domain.bars import BarSeries
from tradekit_binance.fake_stream import StreamProtocol, interval_of, kline_event, ticker_event, topic, wrap

SPOT_TICK, SPOT_LOT, SPOT_MIN_NOTIONAL = Decimal("0.01"), Decimal("0.00001"), Decimal(5)
FUTURES_TICK, FUTURES_LOT, FUTURES_MIN_NOTIONAL = Decimal("0.10"), Decimal("0.001"), Decimal(100)
_PRIVATE = {
    "/api/v3/order",
    "/api/v3/openOrders",
    "/api/v3/myTrades",
    "/api/v3/account",
    "/fapi/v1/order",
    "/fapi/v1/openOrders",
    "/fapi/v1/userTrades",
    "/fapi/v3/account",
    "/fapi/v3/positionRisk",
    "/fapi/v1/algoOrder",
    "/fapi/v1/openAlgoOrders",
    "/fapi/v1/leverageBracket",
}
#: Binance's refusals: (HTTP status, code, message), by the fake market's reason.
SPOT_REFUSALS = {
    "funds": (400, -2010, "Account has insufficient balance for requested action."),
    "post_only": (400, -2010, "Order would immediately match and take."),
    "duplicate": (400, -2010, "Duplicate order sent."),
    "invalid": (400, -1013, "Filter failure: LOT_SIZE"),
}
FUTURES_REFUSALS = {
    "funds": (400, -2019, "Margin is insufficient."),
    "post_only": (
        400,
        -5022,
        "Due to the order could not be executed as maker, the Post Only order will be rejected. "
        "The order will not be recorded in the order history",
    ),
    "reduce_only": (400, -2022, "ReduceOnly Order is rejected."),
    "duplicate": (400, -4015, "Client order id is not valid."),
    "invalid": (400, -1111, "Precision is over the maximum defined for this asset."),
}
_UNKNOWN = (400, -2013, "Order does not exist.")
_UNKNOWN_CANCEL = (400, -2011, "Unknown order sent.")
#: The most trades ``myTrades`` / ``userTrades`` return per request.
_TRADES_LIMIT = 1000


def text(value: Decimal | None, places: int = 8) -> str:
    """A number as Binance writes it: fixed decimals, never exponent notation."""
    return f"{(value or Decimal(0)):.{places}f}"


def error(refusal: tuple[int, int, str]) -> Reply:
    status, code, message = refusal
    return Reply(status, {"code": code, "msg": message})


class FakeBinance(FakeVenueServer):
    """A local Binance for ccxt's ``binance`` client (spot and USD-M futures); see the module doc."""

    def __init__(
        self,
        *,
        spot: dict[str, BarSeries] | None = None,
        futures: dict[str, BarSeries] | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        cash: Decimal = Decimal(100_000),
        history: int = 200,
        reveal_on_candles: bool = False,
        stream: bool = False,
        stream_every: float | None = None,
    ) -> None:
        super().__init__()
        self.protocol = StreamProtocol(self.stream_market_of, self.first_updates)
        self.attach_stream(self.protocol.answer if stream else None, stream_every)
        self.api_key, self.api_secret = api_key, api_secret
        self.spot = (
            FakeMarket(
                spot or {},
                cash={"USDT": cash, "BTC": Decimal(0)},
                fee_rate=Decimal("0.001"),
                history=history,
                reveal_on_candles=reveal_on_candles,
                spot=True,
                ticks={s: SPOT_TICK for s in spot or {}},
                lots={s: SPOT_LOT for s in spot or {}},
            )
            if spot
            else None
        )
        self.futures = (
            FakeMarket(
                futures or {},
                cash={"USDT": cash},
                fee_rate=Decimal("0.0004"),
                history=history,
                reveal_on_candles=reveal_on_candles,
                spot=False,
                ticks={s: FUTURES_TICK for s in futures or {}},
                lots={s: FUTURES_LOT for s in futures or {}},
            )
            if futures
            else None
        )
        self.algo_ids = itertools.count(3_000_001)
        #: algoId -> the futures order it places when it triggers.
        self.algos: dict[int, FakeOrder] = {}
        self.placed: list[dict[str, Any]] = []

    # -- helpers ----------------------------------------------------------------------------------------

    @staticmethod
    def venue_symbol(symbol: str) -> str:
        return symbol.split(":")[0].replace("/", "")

    def market_of(self, request: Request) -> FakeMarket | None:
        return self.futures if request.path.startswith("/fapi") else self.spot

    def symbol_of(self, market: FakeMarket, venue_symbol: str | None) -> str | None:
        for symbol in market.bars:
            if self.venue_symbol(symbol) == venue_symbol:
                return symbol
        return None

    def authorised(self, request: Request) -> Reply | None:
        """None when the request is signed right, else Binance's refusal."""
        if request.path not in _PRIVATE:
            return None
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            return Reply(401, {"code": -2014, "msg": "API-key format invalid."})
        signed = request.query if request.method in ("GET", "DELETE") else request.body
        payload, _, signature = signed.rpartition("&signature=")
        expected = hmac.new((self.api_secret or "").encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, expected):
            return Reply(400, {"code": -1022, "msg": "Signature for this request is not valid."})
        return None

    def rate_limited_reply(self, status: int, retry_after: float) -> Reply:
        """Binance's 429 (too much weight) or 418 (banned), with ``Retry-After``."""
        message = (
            "Way too much request weight used; IP banned until 1659146505398. Please use WebSocket Streams for "
            "live updates to avoid bans."
            if status == 418
            else "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use "
            "WebSocket Streams for live updates to avoid polling the API."
        )
        return Reply(status, {"code": -1003, "msg": message}, {"Retry-After": f"{retry_after:g}"})

    # -- routing -------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        refusal = self.authorised(request)
        if refusal is not None:
            return refusal
        market = self.market_of(request)
        if market is None:
            return Reply(404, {"code": -1121, "msg": "Invalid symbol."})
        futures = market is self.futures
        route = (request.method, request.path.split("/", 3)[-1])
        params = request.params
        if route in (("GET", "exchangeInfo"),):
            return Reply(200, self.exchange_info(market, futures))
        if route == ("GET", "klines"):
            return self.klines(market, params)
        if route == ("GET", "ticker/price"):
            symbol = self.symbol_of(market, params.get("symbol"))
            if symbol is None:
                return error((400, -1121, "Invalid symbol."))
            body = {"symbol": params["symbol"], "price": text(market.prices[symbol], 2)}
            return Reply(200, {**body, "time": now_ms()} if futures else body)
        if route == ("GET", "time"):
            return Reply(200, {"serverTime": now_ms()})
        if route == ("POST", "order"):
            return self.new_order(market, params, futures)
        if route == ("GET", "order"):
            order = self.find(market, params, futures)
            return error(_UNKNOWN) if order is None else Reply(200, self.order_json(order, futures))
        if route == ("DELETE", "order"):
            order = self.find(market, params, futures)
            if order is None or not market.cancel(order.oid):
                return error(_UNKNOWN_CANCEL)
            return Reply(200, {**self.order_json(order, futures), "origClientOrderId": order.client_id})
        if route == ("GET", "openOrders"):
            symbol = self.symbol_of(market, params.get("symbol"))
            resting = [o for o in market.open_orders(symbol) if "algoId" not in o.extra or o.triggered]
            return Reply(200, [self.order_json(o, futures) for o in resting])
        if route in (("GET", "myTrades"), ("GET", "userTrades")):
            return self.trades(market, params, futures)
        if route == ("GET", "account"):
            return Reply(200, self.futures_account(market) if futures else self.spot_account(market))
        if route == ("GET", "positionRisk"):
            return Reply(200, self.position_risk(market))
        if route == ("GET", "leverageBracket"):
            return Reply(
                200,
                [
                    {
                        "symbol": self.venue_symbol(s),
                        "notionalCoef": 1.0,
                        "brackets": [
                            {
                                "bracket": 1,
                                "initialLeverage": 125,
                                "notionalCap": 50000,
                                "notionalFloor": 0,
                                "maintMarginRatio": 0.004,
                                "cum": 0.0,
                            },
                            {
                                "bracket": 2,
                                "initialLeverage": 100,
                                "notionalCap": 600000,
                                "notionalFloor": 50000,
                                "maintMarginRatio": 0.005,
                                "cum": 50.0,
                            },
                        ],
                    }
                    for s in market.bars
                ],
            )
        if route == ("POST", "algoOrder"):
            return self.new_algo(market, params)
        if route == ("GET", "algoOrder"):
            algo = self.find_algo(params)
            return error(_UNKNOWN) if algo is None else Reply(200, self.algo_json(algo, with_actual=True))
        if route == ("DELETE", "algoOrder"):
            algo = self.find_algo(params)
            if algo is None or algo.triggered or not market.cancel(algo.oid):
                return error(_UNKNOWN_CANCEL)
            return Reply(
                200, {"algoId": algo.extra["algoId"], "clientAlgoId": algo.client_id, "code": "200", "msg": "success"}
            )
        if route == ("GET", "openAlgoOrders"):
            waiting = [o for o in self.algos.values() if o.status == "open" and not o.triggered]
            return Reply(200, [self.algo_json(o) for o in waiting])
        return Reply(404, {"code": -1000, "msg": f"unknown endpoint {request.method} {request.path}"})

    # -- market data ------------------------------------------------------------------------------------------

    def exchange_info(self, market: FakeMarket, futures: bool) -> dict[str, Any]:
        symbols = []
        for symbol in market.bars:
            base, quote = symbol.split(":")[0].split("/")
            if futures:
                symbols.append(
                    {
                        "symbol": self.venue_symbol(symbol),
                        "pair": self.venue_symbol(symbol),
                        "contractType": "PERPETUAL",
                        "deliveryDate": 4133404800000,
                        "onboardDate": 1569398400000,
                        "status": "TRADING",
                        "maintMarginPercent": "2.5000",
                        "requiredMarginPercent": "5.0000",
                        "baseAsset": base,
                        "quoteAsset": quote,
                        "marginAsset": quote,
                        "pricePrecision": 2,
                        "quantityPrecision": 3,
                        "baseAssetPrecision": 8,
                        "quotePrecision": 8,
                        "underlyingType": "COIN",
                        "filters": [
                            {
                                "minPrice": "556.80",
                                "maxPrice": "4529764",
                                "filterType": "PRICE_FILTER",
                                "tickSize": str(FUTURES_TICK),
                            },
                            {
                                "stepSize": str(FUTURES_LOT),
                                "filterType": "LOT_SIZE",
                                "maxQty": "1000",
                                "minQty": "0.001",
                            },
                            {
                                "stepSize": str(FUTURES_LOT),
                                "filterType": "MARKET_LOT_SIZE",
                                "maxQty": "120",
                                "minQty": "0.001",
                            },
                            {"limit": 200, "filterType": "MAX_NUM_ORDERS"},
                            {"limit": 10, "filterType": "MAX_NUM_ALGO_ORDERS"},
                            {"notional": str(FUTURES_MIN_NOTIONAL), "filterType": "MIN_NOTIONAL"},
                            {
                                "multiplierDown": "0.9500",
                                "multiplierUp": "1.0500",
                                "multiplierDecimal": "4",
                                "filterType": "PERCENT_PRICE",
                            },
                        ],
                        "orderTypes": [
                            "LIMIT",
                            "MARKET",
                            "STOP",
                            "STOP_MARKET",
                            "TAKE_PROFIT",
                            "TAKE_PROFIT_MARKET",
                            "TRAILING_STOP_MARKET",
                        ],
                        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
                    }
                )
            else:
                symbols.append(
                    {
                        "symbol": self.venue_symbol(symbol),
                        "status": "TRADING",
                        "baseAsset": base,
                        "baseAssetPrecision": 8,
                        "quoteAsset": quote,
                        "quotePrecision": 8,
                        "quoteAssetPrecision": 8,
                        "baseCommissionPrecision": 8,
                        "quoteCommissionPrecision": 8,
                        "orderTypes": [
                            "LIMIT",
                            "LIMIT_MAKER",
                            "MARKET",
                            "STOP_LOSS",
                            "STOP_LOSS_LIMIT",
                            "TAKE_PROFIT",
                            "TAKE_PROFIT_LIMIT",
                        ],
                        "icebergAllowed": True,
                        "ocoAllowed": True,
                        "quoteOrderQtyMarketAllowed": True,
                        "allowTrailingStop": True,
                        "cancelReplaceAllowed": True,
                        "isSpotTradingAllowed": True,
                        "isMarginTradingAllowed": True,
                        "filters": [
                            {
                                "filterType": "PRICE_FILTER",
                                "minPrice": "0.01000000",
                                "maxPrice": "1000000.00000000",
                                "tickSize": text(SPOT_TICK),
                            },
                            {
                                "filterType": "LOT_SIZE",
                                "minQty": text(SPOT_LOT),
                                "maxQty": "9000.00000000",
                                "stepSize": text(SPOT_LOT),
                            },
                            {"filterType": "ICEBERG_PARTS", "limit": 10},
                            {
                                "filterType": "MARKET_LOT_SIZE",
                                "minQty": "0.00000000",
                                "maxQty": "83.14208336",
                                "stepSize": "0.00000000",
                            },
                            {
                                "filterType": "TRAILING_DELTA",
                                "minTrailingAboveDelta": 10,
                                "maxTrailingAboveDelta": 2000,
                                "minTrailingBelowDelta": 10,
                                "maxTrailingBelowDelta": 2000,
                            },
                            {
                                "filterType": "PERCENT_PRICE_BY_SIDE",
                                "bidMultiplierUp": "5",
                                "bidMultiplierDown": "0.2",
                                "askMultiplierUp": "5",
                                "askMultiplierDown": "0.2",
                                "avgPriceMins": 5,
                            },
                            {
                                "filterType": "NOTIONAL",
                                "minNotional": text(SPOT_MIN_NOTIONAL),
                                "applyMinToMarket": True,
                                "maxNotional": "9000000.00000000",
                                "applyMaxToMarket": False,
                                "avgPriceMins": 5,
                            },
                            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
                            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
                        ],
                        "permissions": [],
                        "permissionSets": [["SPOT", "MARGIN"]],
                        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
                    }
                )
        limits = (
            [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            ]
            if futures
            else [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
            ]
        )
        return {
            "timezone": "UTC",
            "serverTime": now_ms(),
            "rateLimits": limits,
            "exchangeFilters": [],
            "symbols": symbols,
        }

    def klines(self, market: FakeMarket, params: dict[str, Any]) -> Reply:
        symbol = self.symbol_of(market, params.get("symbol"))
        if symbol is None:
            return error((400, -1121, "Invalid symbol."))
        limit = min(int(params.get("limit") or 500), 1500 if market is self.futures else 1000)
        start = int(params["startTime"]) if "startTime" in params else None
        end = int(params["endTime"]) if "endTime" in params else None
        rows = market.candles(symbol, start, end, None)
        rows = rows[:limit] if start is not None else rows[-limit:]
        step = market.step_ms
        return Reply(
            200,
            [
                [
                    t,
                    text(o),
                    text(h),
                    text(low),
                    text(c),
                    text(v),
                    t + step - 1,
                    text(v * c),
                    100,
                    text(v / 2),
                    text(v * c / 2),
                    "0",
                ]
                for t, o, h, low, c, v in rows
            ],
        )

    # -- orders -----------------------------------------------------------------------------------------------

    def find(self, market: FakeMarket, params: dict[str, Any], futures: bool) -> FakeOrder | None:
        if "orderId" in params:
            order = market.find(oid=int(params["orderId"]))
        else:
            order = market.find(client_id=params.get("origClientOrderId"))
        if order is None or ("algoId" in order.extra and not order.triggered):
            return None
        return order

    def find_algo(self, params: dict[str, Any]) -> FakeOrder | None:
        if "algoId" in params:
            return self.algos.get(int(params["algoId"]))
        for order in self.algos.values():
            if order.client_id == params.get("clientAlgoId"):
                return order
        return None

    def check_filters(self, market: FakeMarket, symbol: str, order: FakeOrder, futures: bool) -> Reply | None:
        tick, lot, minimum = (
            (FUTURES_TICK, FUTURES_LOT, FUTURES_MIN_NOTIONAL) if futures else (SPOT_TICK, SPOT_LOT, SPOT_MIN_NOTIONAL)
        )
        for value in (order.price, order.trigger):
            if value is not None and value % tick != 0:
                return error(
                    (
                        400,
                        -1013 if not futures else -1111,
                        "Filter failure: PRICE_FILTER"
                        if not futures
                        else "Precision is over the maximum defined for this asset.",
                    )
                )
        if order.quantity % lot != 0:
            return error(
                (
                    400,
                    -1013 if not futures else -1111,
                    "Filter failure: LOT_SIZE"
                    if not futures
                    else "Precision is over the maximum defined for this asset.",
                )
            )
        notional = order.quantity * (order.price or order.trigger or market.prices[symbol])
        if notional < minimum and not order.reduce_only:
            if futures:
                return error(
                    (400, -4164, f"Order's notional must be no smaller than {minimum} (unless you choose reduce only).")
                )
            return error((400, -1013, "Filter failure: NOTIONAL"))
        return None

    def parse_order(self, market: FakeMarket, params: dict[str, Any], futures: bool) -> FakeOrder | Reply:
        symbol = self.symbol_of(market, params.get("symbol"))
        if symbol is None:
            return error((400, -1121, "Invalid symbol."))
        kind = str(params.get("type") or params.get("orderType"))
        side = str(params.get("side")).lower()
        trigger = params.get("stopPrice") or params.get("triggerPrice")
        # Spot's STOP_LOSS and TAKE_PROFIT trigger market orders; on futures TAKE_PROFIT (and STOP) are limits.
        at_market = {"MARKET", "STOP_MARKET", "TAKE_PROFIT_MARKET"} | (
            set() if futures else {"STOP_LOSS", "TAKE_PROFIT"}
        )
        order = FakeOrder(
            oid=0,
            client_id=params.get("newClientOrderId") or params.get("clientAlgoId"),
            symbol=symbol,
            side=side,
            kind="market" if kind in at_market else "limit",
            quantity=Decimal(str(params.get("quantity"))),
            price=Decimal(str(params["price"])) if params.get("price") else None,
            tif=str(params.get("timeInForce") or ("IOC" if kind == "MARKET" else "GTC")).lower(),
            reduce_only=str(params.get("reduceOnly", "false")).lower() == "true",
        )
        order.extra["type"] = kind
        if order.tif == "gtx" or kind == "LIMIT_MAKER":
            order.post_only, order.tif = True, "gtc"
        if trigger:
            order.trigger = Decimal(str(trigger))
            stop = kind.startswith("STOP")
            order.trigger_kind = "sl" if stop else "tp"
            # STOP/STOP_LOSS buys wait for a rise, sells for a fall; TAKE_PROFIT the other way round.
            order.trigger_above = (side == "buy") == stop
            price = market.prices[symbol]
            if (order.trigger_above and price >= order.trigger) or (not order.trigger_above and price <= order.trigger):
                return error(
                    (
                        400,
                        -2010 if not futures else -2021,
                        "Stop price would trigger immediately." if not futures else "Order would immediately trigger.",
                    )
                )
        refused = self.check_filters(market, symbol, order, futures)
        return refused if refused is not None else order

    def place(self, market: FakeMarket, order: FakeOrder, futures: bool) -> Reply | None:
        try:
            market.place(order)
        except Refused as refusal:
            table = FUTURES_REFUSALS if futures else SPOT_REFUSALS
            return error(table.get(refusal.kind, (400, -2010, str(refusal))))
        self.placed.append({"client_id": order.client_id, "type": order.extra.get("type"), "symbol": order.symbol})
        return None

    def new_order(self, market: FakeMarket, params: dict[str, Any], futures: bool) -> Reply:
        order = self.parse_order(market, params, futures)
        if isinstance(order, Reply):
            return order
        refused = self.place(market, order, futures)
        if refused is not None:
            return refused
        if order.status == "canceled" and order.filled == 0 and order.tif in ("ioc", "fok") and futures:
            order.status = "expired"
        body = self.order_json(order, futures)
        if not futures:
            trades = [t for t in market.trades if t.oid == order.oid]
            body.pop("time", None)
            body.pop("updateTime", None)
            body.pop("isWorking", None)
            body.update(
                transactTime=order.updated_ms,
                fills=[
                    {
                        "price": text(t.price),
                        "qty": text(t.quantity),
                        "commission": text(t.fee),
                        "commissionAsset": "USDT",
                        "tradeId": t.tid,
                    }
                    for t in trades
                ],
            )
        else:
            body["cumQty"] = text(order.filled, 3)
        return Reply(200, body)

    def new_algo(self, market: FakeMarket, params: dict[str, Any]) -> Reply:
        if params.get("algoType") != "CONDITIONAL":
            return error((400, -1102, "Mandatory parameter 'algoType' was not sent, was empty/null, or malformed."))
        order = self.parse_order(market, params, True)
        if isinstance(order, Reply):
            return order
        algo_id = next(self.algo_ids)
        order.extra["algoId"] = algo_id
        refused = self.place(market, order, True)
        if refused is not None:
            return refused
        self.algos[algo_id] = order
        return Reply(200, self.algo_json(order))

    def order_json(self, order: FakeOrder, futures: bool) -> dict[str, Any]:
        status = {
            "open": "PARTIALLY_FILLED" if order.filled else "NEW",
            "filled": "FILLED",
            "canceled": "CANCELED",
            "expired": "EXPIRED",
        }.get(order.status, "NEW")
        kind = str(order.extra.get("type", "LIMIT"))
        if "algoId" in order.extra:  # the order a triggered stop placed
            kind = "LIMIT" if order.kind == "limit" else "MARKET"
        tif = "GTX" if order.post_only and futures else order.tif.upper()
        if futures:
            return {
                "avgPrice": text(order.average, 5),
                "clientOrderId": order.client_id,
                "cumQuote": text(order.notional),
                "executedQty": text(order.filled, 3),
                "orderId": order.oid,
                "origQty": text(order.quantity, 3),
                "origType": kind,
                "price": text(order.price, 2),
                "reduceOnly": order.reduce_only,
                "side": order.side.upper(),
                "positionSide": "BOTH",
                "status": status,
                "stopPrice": text(order.trigger, 2),
                "closePosition": False,
                "symbol": self.venue_symbol(order.symbol),
                "time": order.created_ms,
                "timeInForce": tif,
                "type": kind,
                "updateTime": order.updated_ms,
                "workingType": "CONTRACT_PRICE",
                "priceProtect": False,
                "priceMatch": "NONE",
                "selfTradePreventionMode": "EXPIRE_MAKER",
                "goodTillDate": 0,
            }
        return {
            "symbol": self.venue_symbol(order.symbol),
            "orderId": order.oid,
            "orderListId": -1,
            "clientOrderId": order.client_id,
            "price": text(order.price),
            "origQty": text(order.quantity),
            "executedQty": text(order.filled),
            "cummulativeQuoteQty": text(order.notional),
            "status": status,
            "timeInForce": "GTC" if kind == "LIMIT_MAKER" else tif,
            "type": kind,
            "side": order.side.upper(),
            "stopPrice": text(order.trigger),
            "icebergQty": text(None),
            "time": order.created_ms,
            "updateTime": order.updated_ms,
            "isWorking": order.trigger is None or order.triggered,
            "workingTime": order.created_ms,
            "origQuoteOrderQty": text(None),
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }

    def algo_json(self, order: FakeOrder, *, with_actual: bool = False) -> dict[str, Any]:
        if order.triggered:
            status = "TRIGGERED" if order.status == "open" else "FINISHED"
        else:
            status = {"open": "NEW", "canceled": "CANCELED", "expired": "EXPIRED"}.get(order.status, "NEW")
        body: dict[str, Any] = {
            "algoId": order.extra["algoId"],
            "clientAlgoId": order.client_id,
            "algoType": "CONDITIONAL",
            "orderType": order.extra.get("type"),
            "symbol": self.venue_symbol(order.symbol),
            "side": order.side.upper(),
            "positionSide": "BOTH",
            "timeInForce": "GTX" if order.post_only else "GTC",
            "quantity": text(order.quantity, 3),
            "algoStatus": status,
            "triggerPrice": text(order.trigger, 2),
            "price": text(order.price, 2),
            "icebergQuantity": None,
            "selfTradePreventionMode": "EXPIRE_MAKER",
            "workingType": "CONTRACT_PRICE",
            "priceMatch": "NONE",
            "closePosition": False,
            "priceProtect": False,
            "reduceOnly": order.reduce_only,
            "createTime": order.created_ms,
            "updateTime": order.updated_ms,
            "triggerTime": order.updated_ms if order.triggered else 0,
            "goodTillDate": 0,
        }
        if with_actual:
            body["actualOrderId"] = str(order.oid) if order.triggered else ""
            body["actualPrice"] = text(order.average, 5)
        return body

    # -- the account ------------------------------------------------------------------------------------------

    def trades(self, market: FakeMarket, params: dict[str, Any], futures: bool) -> Reply:
        """``myTrades`` / ``userTrades``: by order, from a trade id, in a time range, or the latest; 1,000 at most."""
        if int(params.get("limit") or 500) > _TRADES_LIMIT:
            return error((400, -1130, "Data sent for parameter 'limit' is not valid."))
        if "startTime" in params and "endTime" in params:
            span = int(params["endTime"]) - int(params["startTime"])
            if span > (7 if futures else 1) * 86_400_000:
                longest = "7 days" if futures else "24 hours"
                return error((400, -1127, f"More than {longest} between startTime and endTime."))
        return Reply(200, self.trade_list(market, params, futures))

    def trade_list(self, market: FakeMarket, params: dict[str, Any], futures: bool) -> list[dict[str, Any]]:
        symbol = self.symbol_of(market, params.get("symbol"))
        chosen = [t for t in market.trades if t.symbol == symbol]
        if "orderId" in params:
            chosen = [t for t in chosen if t.oid == int(params["orderId"])]
        if "fromId" in params:
            chosen = [t for t in chosen if t.tid >= int(params["fromId"])]
        if "startTime" in params or "endTime" in params:
            # A time range spans a day at most on spot, a week on futures; one end given, the other follows.
            window = (7 if futures else 1) * 86_400_000
            start = int(params.get("startTime") or int(params.get("endTime") or 0) - window)
            end = int(params.get("endTime") or start + window)
            chosen = [t for t in chosen if start <= t.time_ms <= end]
        limit = int(params.get("limit") or 500)
        if "orderId" in params or "fromId" in params or "startTime" in params:
            chosen = chosen[:limit]
        else:
            chosen = chosen[-limit:]  # the most recent
        if futures:
            return [
                {
                    "buyer": t.side == "buy",
                    "commission": text(t.fee),
                    "commissionAsset": "USDT",
                    "id": t.tid,
                    "maker": t.maker,
                    "orderId": t.oid,
                    "price": text(t.price, 2),
                    "qty": text(t.quantity, 3),
                    "quoteQty": text(t.price * t.quantity),
                    "realizedPnl": "0",
                    "side": t.side.upper(),
                    "positionSide": "BOTH",
                    "symbol": self.venue_symbol(t.symbol),
                    "time": t.time_ms,
                }
                for t in chosen
            ]
        return [
            {
                "symbol": self.venue_symbol(t.symbol),
                "id": t.tid,
                "orderId": t.oid,
                "orderListId": -1,
                "price": text(t.price),
                "qty": text(t.quantity),
                "quoteQty": text(t.price * t.quantity),
                "commission": text(t.fee),
                "commissionAsset": "USDT",
                "time": t.time_ms,
                "isBuyer": t.side == "buy",
                "isMaker": t.maker,
                "isBestMatch": True,
            }
            for t in chosen
        ]

    def spot_account(self, market: FakeMarket) -> dict[str, Any]:
        locked: dict[str, Decimal] = {}
        for order in market.open_orders():
            base, quote = order.symbol.split("/")
            if order.side == "buy":
                locked[quote] = locked.get(quote, Decimal(0)) + order.remaining * (order.price or order.trigger or 0)
            else:
                locked[base] = locked.get(base, Decimal(0)) + order.remaining
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": "0.00100000",
                "taker": "0.00100000",
                "buyer": "0.00000000",
                "seller": "0.00000000",
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": now_ms(),
            "accountType": "SPOT",
            "balances": [
                {
                    "asset": asset,
                    "free": text(total - locked.get(asset, Decimal(0))),
                    "locked": text(locked.get(asset, Decimal(0))),
                }
                for asset, total in market.balances.items()
            ],
            "permissions": ["SPOT"],
            "uid": 354937868,
        }

    def futures_account(self, market: FakeMarket) -> dict[str, Any]:
        wallet = market.balances["USDT"]
        unrealized = sum(
            ((market.prices[s] - market.entry.get(s, market.prices[s])) * q for s, q in market.positions.items()),
            Decimal(0),
        )
        margin = sum((abs(q) * market.prices[s] / 20 for s, q in market.positions.items()), Decimal(0))
        asset = {
            "asset": "USDT",
            "walletBalance": text(wallet),
            "unrealizedProfit": text(unrealized),
            "marginBalance": text(wallet + unrealized),
            "maintMargin": text(margin / 10),
            "initialMargin": text(margin),
            "positionInitialMargin": text(margin),
            "openOrderInitialMargin": "0.00000000",
            "crossWalletBalance": text(wallet),
            "crossUnPnl": text(unrealized),
            "availableBalance": text(wallet + unrealized - margin),
            "maxWithdrawAmount": text(wallet - margin),
            "updateTime": now_ms(),
        }
        return {
            "totalInitialMargin": text(margin),
            "totalMaintMargin": text(margin / 10),
            "totalWalletBalance": text(wallet),
            "totalUnrealizedProfit": text(unrealized),
            "totalMarginBalance": text(wallet + unrealized),
            "totalPositionInitialMargin": text(margin),
            "totalOpenOrderInitialMargin": "0.00000000",
            "totalCrossWalletBalance": text(wallet),
            "totalCrossUnPnl": text(unrealized),
            "availableBalance": text(wallet + unrealized - margin),
            "maxWithdrawAmount": text(wallet - margin),
            "assets": [asset],
            "positions": [],
        }

    def position_risk(self, market: FakeMarket) -> list[dict[str, Any]]:
        result = []
        for symbol, quantity in market.positions.items():
            if quantity == 0:
                continue
            price = market.prices[symbol]
            entry = market.entry.get(symbol, price)
            result.append(
                {
                    "symbol": self.venue_symbol(symbol),
                    "positionSide": "BOTH",
                    "positionAmt": text(quantity, 3),
                    "entryPrice": text(entry, 5),
                    "breakEvenPrice": text(entry, 5),
                    "markPrice": text(price),
                    "unRealizedProfit": text((price - entry) * quantity),
                    "liquidationPrice": "0",
                    "isolatedMargin": "0",
                    "notional": text(quantity * price),
                    "marginAsset": "USDT",
                    "isolatedWallet": "0",
                    "initialMargin": text(abs(quantity) * price / 20),
                    "maintMargin": text(abs(quantity) * price / 200),
                    "positionInitialMargin": text(abs(quantity) * price / 20),
                    "openOrderInitialMargin": "0",
                    "adl": 1,
                    "bidNotional": "0",
                    "askNotional": "0",
                    "updateTime": now_ms(),
                }
            )
        return result

    # -- the market streams ------------------------------------------------------------------------------------

    def markets(self) -> dict[str, FakeMarket]:
        """The markets served, by name (``spot``, ``usdm``)."""
        found = {"spot": self.spot, "usdm": self.futures}
        return {name: market for name, market in found.items() if market is not None}

    def stream_market_of(self, connection: Connection) -> str:
        """The market a stream connection's path reaches: fstream's routed paths are USD-M, the rest spot."""
        if connection.path.startswith(("/market/", "/public/", "/private/")) or self.spot is None:
            return "usdm"
        return "spot"

    def first_updates(self, name: str, stream: str) -> list[dict[str, Any]]:
        """The events sent right after a subscription to ``stream``: the forming candle, or the ticker."""
        market = self.markets().get(name)
        if market is None:
            return []
        with self.lock:
            for symbol in market.bars:
                venue = self.venue_symbol(symbol)
                if stream in (f"{venue.lower()}@ticker", f"{venue.lower()}@miniTicker"):
                    return [self.ticker(name, market, symbol, mini=stream.endswith("miniTicker"))[1]]
                if stream == f"{venue.lower()}@kline_{interval_of(market)}" and market.revealed < len(
                    market.bars[symbol]
                ):
                    return [kline_event(market, symbol, venue, market.revealed, forming=True)[1]]
        return []

    def ticker(self, name: str, market: FakeMarket, symbol: str, *, mini: bool = False) -> tuple[str, dict[str, Any]]:
        """``(stream name, event)`` of ``symbol`` now: a ``24hrTicker``, or (``mini``) a ``24hrMiniTicker``."""
        tick = FUTURES_TICK if name == "usdm" else SPOT_TICK
        venue = self.venue_symbol(symbol)
        return ticker_event(market, symbol, venue, futures=name == "usdm", tick=tick, mini=mini)

    def advance(self, market: str | None = None) -> bool:
        """Reveal the next bar of ``market`` (both when None); push its final kline, the next one's first, a ticker.

        Returns False when a market is at the end of its bars. Without a stream it only reveals.
        """
        pushes: list[tuple[str, str, list[dict[str, Any]]]] = []
        moved = True
        with self.lock:
            for name, chosen in self.markets().items():
                if market is not None and name != market:
                    continue
                if not chosen.reveal():
                    moved = False
                    continue
                index = chosen.revealed - 1
                for symbol, series in chosen.bars.items():
                    venue = self.venue_symbol(symbol)
                    stream, closed = kline_event(chosen, symbol, venue, index, forming=False)
                    events = [closed]
                    if index + 1 < len(series):
                        events.append(kline_event(chosen, symbol, venue, index + 1, forming=True)[1])
                    pushes.append((name, stream, events))
                    for mini in (False, True):
                        ticker_stream, ticker = self.ticker(name, chosen, symbol, mini=mini)
                        pushes.append((name, ticker_stream, [ticker]))
        if self.stream is not None:
            for name, stream, events in pushes:
                for combined in (False, True):
                    self.stream.publish(topic(name, stream, combined), *(wrap(stream, e, combined) for e in events))
        return moved

    def pace(self) -> bool:
        """Advance the first market while some client follows its first symbol's klines; False once it ended."""
        assert self.stream is not None
        name, market = next(iter(self.markets().items()))
        stream = f"{self.venue_symbol(next(iter(market.bars))).lower()}@kline_{interval_of(market)}"
        topics = [topic(name, stream, combined) for combined in (False, True)]
        return not any(self.stream.followers(t) for t in topics) or self.advance(name)

    # -- test helpers -----------------------------------------------------------------------------------------

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Move one market (spot symbols have no ``:``) under the server's lock."""
        market = self.futures if ":" in symbol else self.spot
        assert market is not None
        with self.lock:
            market.set_price(symbol, price)

    def client_ids_placed(self) -> list[str | None]:
        """The client order id of every order the venue took, in order."""
        with self.lock:
            return [p["client_id"] for p in self.placed]
