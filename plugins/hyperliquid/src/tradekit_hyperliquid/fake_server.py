"""A fake Hyperliquid: ``POST /info`` and ``POST /exchange`` in the venue's own request and response shapes.

The shapes are Hyperliquid's as documented (info and exchange endpoints) and
as recorded in ccxt's own tests and source (``ts/src/test/static/response/hyperliquid.json``,
the response comments of ``ccxt/hyperliquid.py``): ``metaAndAssetCtxs``,
``spotMetaAndAssetCtxs``, ``spotMeta``, ``allMids``, ``candleSnapshot``,
``clearinghouseState``, ``spotClearinghouseState``, ``userAbstraction``,
``frontendOpenOrders``, ``orderStatus`` (``unknownOid`` when it does not know
the order), ``userFills`` (the latest 2,000 fills) and ``userFillsByTime``
(2,000 from ``startTime`` on, oldest first, as the docs' paging by the last
fill's time implies); actions ``order`` (statuses
``resting``, ``filled``, ``error``), ``cancel``, ``cancelByCloid``. Signatures
are not checked. ``approveBuilderFee`` and ``setReferrer`` are answered like
the venue does, and recorded: the tests assert that none is ever sent.

Its market is a :class:`~tradekit_ccxt.testing.FakeMarket` over the bars it is
given (perpetuals, USDC margin), with the venue's price rule: 5 significant
figures, at most ``6 - szDecimals`` decimals.

With ``stream=True`` it also serves Hyperliquid's websocket (``/ws``, on its own
port: :attr:`FakeHyperliquid.ws_url`), in the shapes of Hyperliquid's websocket
docs ("Subscriptions") and of ccxt's ``pro/hyperliquid.py``: ``{"method":
"subscribe", "subscription": {"type": "candle", "coin", "interval"}}`` and
``{"type": "activeAssetCtx", "coin"}``, answered with ``subscriptionResponse``;
``{"method": "ping"}`` with ``{"channel": "pong"}``; pushes on the ``candle``
channel (``{t, T, s, i, o, c, h, l, v, n}``) and the ``activeAssetCtx`` channel
(``{"coin", "ctx": {...}}``). :meth:`FakeHyperliquid.advance` reveals the next
bar and pushes its final candle and the next one's first update (the candle
still forming), as the venue does when a period rolls over; ``stream_every``
does so on a timer while a client follows candles.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from tradekit_ccxt.testing import FakeMarket, FakeOrder, FakeVenueServer, Refused, Reply, Request
from tradekit_ccxt.testing.stream import Connection

from tradekit.domain.bars import BarSeries

#: What the venue says for each refusal (the texts ccxt's Hyperliquid client maps to its errors).
REFUSALS = {
    "funds": "Insufficient margin to place order. asset={asset}",
    "reduce_only": "Reduce only order would increase position. asset={asset}",
    "post_only": "Post only order would have immediately matched, bbo was {price}. asset={asset}",
    "invalid": "Order has invalid size. asset={asset}",
    "duplicate": "Order has duplicate cloid. asset={asset}",
    "tick": "Price must be divisible by tick size. asset={asset}",
    "minimum": "Order must have minimum value of $10. asset={asset}",
}
#: Fills per ``userFills`` / ``userFillsByTime`` reply (Hyperliquid docs, info endpoint).
_FILLS_PER_REPLY = 2000
_UNKNOWN_ORDER = "Order was never placed, already canceled, or filled. asset={asset}"
_TOKENS = [
    {
        "name": "USDC",
        "szDecimals": 8,
        "weiDecimals": 8,
        "index": 0,
        "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054",
        "isCanonical": True,
        "evmContract": None,
        "fullName": None,
    },
    {
        "name": "PURR",
        "szDecimals": 0,
        "weiDecimals": 5,
        "index": 1,
        "tokenId": "0xc1fb593aeffbeb02f85e0308e9956a90",
        "isCanonical": True,
        "evmContract": None,
        "fullName": None,
    },
]
_SPOT_UNIVERSE = [{"name": "PURR/USDC", "tokens": [1, 0], "index": 0, "isCanonical": True}]
_SPOT_MID = "0.2"


def hyperliquid_tick(price: Decimal, size_decimals: int, max_decimals: int = 6) -> Decimal:
    """The venue's price step at ``price``: 5 significant figures, at most ``max_decimals - szDecimals`` decimals."""
    integer_digits = len(str(int(abs(price)))) if abs(price) >= 1 else 0
    if abs(price) < 1:
        text = format(abs(price), "f").split(".")[1] if "." in format(abs(price), "f") else ""
        zeros = len(text) - len(text.lstrip("0"))
        decimals = zeros + 5
    else:
        decimals = max(5 - integer_digits, 0)
    return Decimal(1).scaleb(-min(decimals, max_decimals - size_decimals))


class FakeHyperliquid(FakeVenueServer):
    """A local Hyperliquid for ccxt's ``hyperliquid`` client; see the module doc."""

    def __init__(
        self,
        bars: dict[str, BarSeries],
        *,
        size_decimals: dict[str, int] | None = None,
        cash: Decimal = Decimal(10_000),
        history: int = 200,
        reveal_on_candles: bool = False,
        stream: bool = False,
        stream_every: float | None = None,
    ) -> None:
        super().__init__()
        self.attach_stream(self.on_stream_message if stream else None, stream_every)
        self.coins = [symbol.split("/")[0] for symbol in bars]
        self.size_decimals = {coin: (size_decimals or {}).get(coin, 5 if coin == "BTC" else 4) for coin in self.coins}
        first_prices = {s: Decimal(repr(float(b.close[min(history, len(b)) - 1]))) for s, b in bars.items()}
        ticks = {s: hyperliquid_tick(first_prices[s], self.size_decimals[s.split("/")[0]]) for s in bars}
        lots = {s: Decimal(1).scaleb(-self.size_decimals[s.split("/")[0]]) for s in bars}
        self.market = FakeMarket(
            bars,
            cash={"USDC": cash},
            fee_rate=Decimal("0.00045"),
            history=history,
            reveal_on_candles=reveal_on_candles,
            spot=False,
            ticks=ticks,
            lots=lots,
        )
        self.actions: list[dict[str, Any]] = []

    # -- helpers -------------------------------------------------------------------------------------

    def symbol_of(self, coin: str) -> str:
        return f"{coin}/USDC:USDC"

    def asset_of(self, symbol: str) -> int:
        return self.coins.index(symbol.split("/")[0])

    @staticmethod
    def text(value: Decimal | None) -> str:
        """A number as the venue writes it (``"0.0"`` style, never exponent notation)."""
        if value is None:
            return "0.0"
        text = format(value.normalize(), "f")
        return text if "." in text else f"{text}.0"

    def frontend_order(self, order: FakeOrder) -> dict[str, Any]:
        """One order as ``frontendOpenOrders`` and ``orderStatus`` describe it."""
        coin = order.symbol.split("/")[0]
        is_trigger = order.trigger is not None
        if is_trigger:
            kind = ("Stop" if order.trigger_kind == "sl" else "Take Profit") + (
                " Market" if order.kind == "market" else " Limit"
            )
            condition = f"Price {'above' if order.trigger_above else 'below'} {self.text(order.trigger)}"
        else:
            kind, condition = ("Limit", "N/A")
        return {
            "coin": coin,
            "side": "B" if order.side == "buy" else "A",
            "limitPx": self.text(order.price),
            "sz": self.text(
                order.remaining
                if order.status == "open"
                else Decimal(0)
                if order.status == "filled"
                else order.remaining
            ),
            "oid": order.oid,
            "timestamp": order.created_ms,
            "triggerCondition": condition,
            "isTrigger": is_trigger,
            "triggerPx": self.text(order.trigger) if is_trigger else "0.0",
            "children": [],
            "isPositionTpsl": False,
            "reduceOnly": order.reduce_only,
            "orderType": kind,
            "origSz": self.text(order.quantity),
            "tif": None if is_trigger else order.tif.capitalize(),
            "cloid": order.client_id,
        }

    # -- the endpoints --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        if request.method != "POST":
            return Reply(405, {"status": "err", "response": "Method not allowed"})
        if request.path == "/info":
            return self.info(request.params)
        if request.path == "/exchange":
            return self.exchange(request.params)
        return Reply(404, {"status": "err", "response": f"unknown path {request.path}"})

    def info(self, body: dict[str, Any]) -> Reply:
        kind = body.get("type")
        market = self.market
        if kind == "metaAndAssetCtxs":
            universe = [
                {
                    "szDecimals": self.size_decimals[c],
                    "name": c,
                    "maxLeverage": 40,
                    "marginTableId": 40,
                    "onlyIsolated": False,
                }
                for c in self.coins
            ]
            contexts = []
            for coin in self.coins:
                price = self.text(market.prices[self.symbol_of(coin)])
                contexts.append(
                    {
                        "dayNtlVlm": "1000000.0",
                        "funding": "0.0000125",
                        "impactPxs": [price, price],
                        "markPx": price,
                        "midPx": price,
                        "openInterest": "1000.0",
                        "oraclePx": price,
                        "premium": "0.0",
                        "prevDayPx": price,
                    }
                )
            return Reply(200, [{"universe": universe}, contexts])
        if kind == "spotMetaAndAssetCtxs":
            return Reply(
                200,
                [
                    {"tokens": _TOKENS, "universe": _SPOT_UNIVERSE},
                    [{"dayNtlVlm": "8906.0", "markPx": _SPOT_MID, "midPx": _SPOT_MID, "prevDayPx": _SPOT_MID}],
                ],
            )
        if kind == "spotMeta":
            return Reply(200, {"tokens": _TOKENS, "universe": _SPOT_UNIVERSE})
        if kind == "allMids":
            mids = {c: self.text(market.prices[self.symbol_of(c)]) for c in self.coins}
            mids["PURR/USDC"] = _SPOT_MID
            return Reply(200, mids)
        if kind == "candleSnapshot":
            return Reply(200, self.candles(body.get("req") or {}))
        if kind == "clearinghouseState":
            return Reply(200, self.clearinghouse())
        if kind == "spotClearinghouseState":
            return Reply(
                200, {"balances": [{"coin": "USDC", "hold": "0.0", "total": self.text(market.balances["USDC"])}]}
            )
        if kind == "userAbstraction":
            return Reply(200, json.dumps("default"), content_type="application/json")
        if kind in ("frontendOpenOrders", "openOrders"):
            return Reply(200, [self.frontend_order(o) for o in market.open_orders()])
        if kind == "orderStatus":
            oid = body.get("oid")
            order = market.find(client_id=oid) if isinstance(oid, str) else market.find(oid=oid)
            if order is None:
                return Reply(200, {"status": "unknownOid"})
            status = order.status if order.status != "open" or not order.triggered else "triggered"
            return Reply(
                200,
                {
                    "status": "order",
                    "order": {
                        "order": self.frontend_order(order),
                        "status": status,
                        "statusTimestamp": order.updated_ms,
                    },
                },
            )
        if kind == "userFills":  # the latest 2,000, newest first
            return Reply(200, [self.fill(t) for t in reversed(market.trades[-_FILLS_PER_REPLY:])])
        if kind == "userFillsByTime":  # 2,000 from startTime on: the docs page on from the last one's time
            start = int(body.get("startTime") or 0)
            end = int(body.get("endTime") or 2**62)
            fills = [self.fill(t) for t in market.trades if start <= t.time_ms <= end]
            return Reply(200, fills[:_FILLS_PER_REPLY])
        if kind == "exchangeStatus":
            return Reply(200, {"specialStatuses": None, "time": str(market.trades[-1].time_ms if market.trades else 0)})
        return Reply(422, "Failed to deserialize the JSON body into the target type")

    def candles(self, req: dict[str, Any]) -> list[dict[str, Any]]:
        coin = str(req.get("coin"))
        symbol = self.symbol_of(coin)
        if symbol not in self.market.bars:
            return []
        interval = str(req.get("interval", "1m"))
        rows = self.market.candles(symbol, req.get("startTime"), req.get("endTime"), 5000)
        step = self.market.step_ms
        return [
            {
                "t": t,
                "T": t + step - 1,
                "s": coin,
                "i": interval,
                "o": self.text(o),
                "c": self.text(c),
                "h": self.text(h),
                "l": self.text(low),
                "v": self.text(v),
                "n": 10,
            }
            for t, o, h, low, c, v in rows
        ]

    def clearinghouse(self) -> dict[str, Any]:
        market = self.market
        positions = []
        notional = Decimal(0)
        unrealized_total = Decimal(0)
        for symbol, size in market.positions.items():
            if size == 0:
                continue
            price = market.prices[symbol]
            entry = market.entry.get(symbol, price)
            value = abs(size) * price
            unrealized = (price - entry) * size
            notional += value
            unrealized_total += unrealized
            positions.append(
                {
                    "type": "oneWay",
                    "position": {
                        "coin": symbol.split("/")[0],
                        "szi": self.text(size),
                        "leverage": {"type": "cross", "value": 20},
                        "entryPx": self.text(entry),
                        "positionValue": self.text(value),
                        "unrealizedPnl": self.text(unrealized),
                        "returnOnEquity": "0.0",
                        "liquidationPx": None,
                        "marginUsed": self.text(value / 20),
                        "maxLeverage": 40,
                        "cumFunding": {"allTime": "0.0", "sinceOpen": "0.0", "sinceChange": "0.0"},
                    },
                }
            )
        account = market.balances["USDC"] + unrealized_total
        summary = {
            "accountValue": self.text(account),
            "totalNtlPos": self.text(notional),
            "totalRawUsd": self.text(account),
            "totalMarginUsed": self.text(notional / 20),
        }
        return {
            "marginSummary": summary,
            "crossMarginSummary": summary,
            "crossMaintenanceMarginUsed": "0.0",
            "withdrawable": self.text(account - notional / 20),
            "assetPositions": positions,
            "time": str(max((t.time_ms for t in market.trades), default=0)),
        }

    def fill(self, trade: Any) -> dict[str, Any]:
        coin = trade.symbol.split("/")[0]
        side = "B" if trade.side == "buy" else "A"
        start = trade.start_position
        opening = start == 0 or (start > 0) == (trade.side == "buy")
        direction = ("Open " if opening else "Close ") + ("Long" if (trade.side == "buy") == opening else "Short")
        fill = {
            "coin": coin,
            "px": self.text(trade.price),
            "sz": self.text(trade.quantity),
            "side": side,
            "time": trade.time_ms,
            "startPosition": self.text(start),
            "dir": direction,
            "closedPnl": "0.0",
            "hash": f"0x{trade.tid:064x}",
            "oid": trade.oid,
            "crossed": not trade.maker,
            "fee": self.text(trade.fee),
            "tid": trade.tid,
            "feeToken": "USDC",
            "twapId": None,
        }
        if trade.client_id is not None:
            fill["cloid"] = trade.client_id
        return fill

    def exchange(self, body: dict[str, Any]) -> Reply:
        action = body.get("action") or {}
        self.actions.append(json.loads(json.dumps(action)))
        kind = action.get("type")
        if kind == "order":
            statuses = [self.place(raw) for raw in action.get("orders") or []]
            return Reply(200, {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}})
        if kind in ("cancel", "cancelByCloid"):
            statuses = [self.cancel(raw) for raw in action.get("cancels") or []]
            return Reply(200, {"status": "ok", "response": {"type": "cancel", "data": {"statuses": statuses}}})
        if kind in ("approveBuilderFee", "setReferrer"):
            return Reply(200, {"status": "ok", "response": {"type": "default"}})
        return Reply(200, {"status": "err", "response": f"Unknown action type {kind}"})

    def place(self, raw: dict[str, Any]) -> Any:
        asset = int(raw.get("a", -1))
        if not 0 <= asset < len(self.coins):
            return {"error": f"Invalid asset {asset}"}
        symbol = self.symbol_of(self.coins[asset])
        order_type = raw.get("t") or {}
        trigger = order_type.get("trigger")
        limit = order_type.get("limit") or {}
        price = Decimal(str(raw.get("p")))
        tick = self.market.ticks.get(symbol)
        if tick is not None and price % tick != 0 and not (trigger and trigger.get("isMarket")):
            return {"error": REFUSALS["tick"].format(asset=asset)}
        order = FakeOrder(
            oid=0,
            client_id=raw.get("c"),
            symbol=symbol,
            side="buy" if raw.get("b") else "sell",
            kind="limit",
            quantity=Decimal(str(raw.get("s"))),
            price=price,
            tif=str(limit.get("tif", "Gtc")).lower(),
            reduce_only=bool(raw.get("r")),
        )
        if order.tif == "alo":
            order.tif, order.post_only = "gtc", True
        if trigger:
            order.trigger = Decimal(str(trigger["triggerPx"]))
            order.trigger_kind = str(trigger.get("tpsl"))
            buy = order.side == "buy"
            # A stop loss fires against the position it closes, a take profit with it.
            order.trigger_above = buy if order.trigger_kind == "sl" else not buy
            if trigger.get("isMarket"):
                order.kind = "market"
                order.tif = "ioc"
        if order.quantity * price < 10 and not order.reduce_only:
            return {"error": REFUSALS["minimum"].format(asset=asset)}
        try:
            placed = self.market.place(order)
        except Refused as refusal:
            template = REFUSALS.get(refusal.kind, str(refusal))
            return {"error": template.format(asset=asset, price=self.text(self.market.prices[symbol]))}
        if placed.trigger is None and placed.status == "filled":
            return {
                "filled": {"totalSz": self.text(placed.filled), "avgPx": self.text(placed.average), "oid": placed.oid}
            }
        if placed.trigger is None and placed.status == "canceled" and placed.filled == 0:
            return {"error": f"Order could not immediately match against any resting orders. asset={asset}"}
        return {"resting": {"oid": placed.oid}}

    def cancel(self, raw: dict[str, Any]) -> Any:
        asset = raw.get("asset", raw.get("a"))
        cloid = raw.get("cloid")
        order = self.market.find(client_id=cloid) if cloid is not None else self.market.find(oid=raw.get("o"))
        if order is None or not self.market.cancel(order.oid):
            return {"error": _UNKNOWN_ORDER.format(asset=asset)}
        return "success"

    def rate_limited_reply(self, status: int, retry_after: float) -> Reply:
        """A bare 429 (the body's shape is not documented; ccxt maps the status)."""
        return Reply(status, "", {"Retry-After": f"{retry_after:g}"})

    # -- the websocket -------------------------------------------------------------------------------------

    def on_stream_message(self, connection: Connection, message: Any) -> list[Any]:
        """Hyperliquid's answer to one client message: subscribe, unsubscribe, ping."""
        if not isinstance(message, dict):
            return []
        method = message.get("method")
        if method == "ping":
            return [{"channel": "pong"}]
        subscription = message.get("subscription") or {}
        kind, coin = subscription.get("type"), subscription.get("coin")
        if method not in ("subscribe", "unsubscribe") or kind not in ("candle", "activeAssetCtx"):
            return [{"channel": "error", "data": f"Invalid subscription {json.dumps(message)}"}]
        topic = (kind, coin, subscription.get("interval")) if kind == "candle" else (kind, coin)
        response = {"channel": "subscriptionResponse", "data": {"method": method, "subscription": subscription}}
        if method == "unsubscribe":
            connection.topics.discard(topic)
            return [response]
        connection.topics.add(topic)
        if kind == "activeAssetCtx" and coin in self.coins:
            with self.lock:
                return [response, self.asset_context(str(coin))]
        return [response]

    def asset_context(self, coin: str) -> dict[str, Any]:
        """An ``activeAssetCtx`` push: the coin's context at the current price."""
        price = self.text(self.market.prices[self.symbol_of(coin)])
        ctx = {
            "dayNtlVlm": "1000000.0",
            "prevDayPx": price,
            "markPx": price,
            "midPx": price,
            "oraclePx": price,
            "funding": "0.0000125",
            "openInterest": "1000.0",
            "premium": "0.0",
            "impactPxs": [price, price],
        }
        return {"channel": "activeAssetCtx", "data": {"coin": coin, "ctx": ctx}}

    def candle_push(self, coin: str, interval: str, index: int, forming: bool) -> dict[str, Any]:
        """A ``candle`` push of bar ``index``: whole, or (``forming``) its first update at its open price."""
        symbol = self.symbol_of(coin)
        market = self.market
        series = market.bars[symbol]
        start = int(series.timestamps[index]) // 1_000_000 + market.shift_ms
        o = market.on_tick(symbol, float(series.open[index]))
        if forming:
            h = low = c = o
            volume = Decimal(0)
        else:
            h, low, c = (market.on_tick(symbol, float(getattr(series, n)[index])) for n in ("high", "low", "close"))
            volume = Decimal(repr(float(series.volume[index])))
        data = {
            "t": start,
            "T": start + market.step_ms - 1,
            "s": coin,
            "i": interval,
            "o": self.text(o),
            "c": self.text(c),
            "h": self.text(h),
            "l": self.text(low),
            "v": self.text(volume),
            "n": 0 if forming else 10,
        }
        return {"channel": "candle", "data": data}

    def advance(self, interval: str = "1m") -> bool:
        """Reveal the next bar; push its final candle, the next one's first update, and the new context.

        Returns False at the end of the bars. Without a stream it only reveals.
        """
        with self.lock:
            if not self.market.reveal():
                return False
            index = self.market.revealed - 1
            total = len(next(iter(self.market.bars.values())))
            pushes: list[tuple[tuple[str, ...], list[dict[str, Any]]]] = []
            for coin in self.coins:
                messages = [self.candle_push(coin, interval, index, forming=False)]
                if index + 1 < total:
                    messages.append(self.candle_push(coin, interval, index + 1, forming=True))
                pushes.append((("candle", coin, interval), messages))
                pushes.append((("activeAssetCtx", coin), [self.asset_context(coin)]))
        if self.stream is not None:
            for topic, messages in pushes:
                self.stream.publish(topic, *messages)
        return True

    def pace(self) -> bool:
        """Advance the market while some client follows the first coin's 1m candles; False once it ended."""
        assert self.stream is not None
        return not self.stream.followers(("candle", self.coins[0], "1m")) or self.advance("1m")

    # -- test helpers -------------------------------------------------------------------------------------

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Move the market (under the server's lock)."""
        with self.lock:
            self.market.set_price(symbol, price)

    def order_actions(self) -> list[dict[str, Any]]:
        """Every order placed on the wire: one dict per order of each ``order`` action, in order."""
        with self.lock:
            return [raw for a in self.actions if a.get("type") == "order" for raw in a.get("orders") or []]

    def action_types(self) -> list[str]:
        """The ``type`` of every ``/exchange`` action received, in order."""
        with self.lock:
            return [str(a.get("type")) for a in self.actions]


def main(argv: list[str] | None = None) -> None:
    """``python -m tradekit_hyperliquid.fake_server``: serve a fake Hyperliquid until interrupted.

    ``--data FILE`` replays a bar file (any format ``tradekit backtest --data`` reads) as BTC;
    otherwise the kernel's seeded simulated market. Each candle request reveals the next bar.
    """
    import argparse
    import time

    from tradekit.data import load_bars, simulate_bars

    parser = argparse.ArgumentParser(prog="python -m tradekit_hyperliquid.fake_server", description=main.__doc__)
    parser.add_argument("--data", help="bar file to replay (default: the simulated market)")
    parser.add_argument("--bars", type=int, default=5000, help="simulated bars (without --data)")
    parser.add_argument("--cash", type=Decimal, default=Decimal(10_000), help="USDC in the fake account")
    args = parser.parse_args(argv)
    symbol = "BTC/USDC:USDC"
    series = load_bars(args.data, symbol=symbol) if args.data else simulate_bars(bars=args.bars, symbol=symbol)
    with FakeHyperliquid({symbol: series}, cash=args.cash, reveal_on_candles=True) as server:
        print(f"fake Hyperliquid at {server.url}  (Ctrl-C stops it)", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
