"""Binance's market streams for the fake venue: the SUBSCRIBE exchange, kline events and 24hrTicker events.

The shapes are Binance's as documented (spot "WebSocket Streams"; USD-M futures
"Websocket Market Streams": Live Subscribing/Unsubscribing to streams,
Kline/Candlestick Streams, Individual Symbol Ticker Streams) and as ccxt's
``pro/binance.py`` reads and sends them (``watch_ohlcv_for_symbols``,
``watch_multi_ticker_helper``, ``handle_ohlcv``, ``handle_tickers``,
``handle_subscription_status``, ``get_ws_url``):

- The paths: spot streams at ``/ws/<anything>`` (raw payloads) or ``/stream...``
  (combined: each event wrapped as ``{"stream": <name>, "data": <event>}``); USD-M
  futures at fstream's routed endpoints ``/market/ws`` (klines, tickers: what
  ccxt opens, ``/market/ws/<n>``) and ``/public/ws``, or its plain ``/ws`` when the
  fake serves no spot market. ccxt opens ``<base>/<n>`` (a stream index) and
  names its streams by ``SUBSCRIBE``, which is what this fake follows; a stream
  named in the path itself is not followed.
- ``{"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1}`` is answered
  ``{"result": null, "id": 1}``; ``UNSUBSCRIBE`` likewise; ``LIST_SUBSCRIPTIONS``
  with ``{"result": [names], "id": n}``; ``SET_PROPERTY``/``GET_PROPERTY``
  ``combined``; any other method with Binance's ``{"code": 2, "msg": "Invalid
  request: unknown variant ..."}``.
- ``<symbol>@kline_<interval>``: ``{"e": "kline", "E", "s", "k": {"t", "T", "s",
  "i", "f", "L", "o", "c", "h", "l", "v", "n", "x", "q", "V", "Q", "B"}}``, ``x``
  true on the candle's final update only.
- ``<symbol>@miniTicker`` (what ccxt's ``watch_ticker`` subscribes to: its
  ``watchTickers.name`` option, ``miniTicker`` by default): ``{"e":
  "24hrMiniTicker", "E", "s", "c", "o", "h", "l", "v", "q"}``.
- ``<symbol>@ticker``: ``{"e": "24hrTicker", "E", "s", "p", "P", "w", "c", "Q",
  "o", "h", "l", "v", "q", "O", "C", "F", "L", "n"}``; spot's also carries ``x``,
  ``b``, ``B``, ``a``, ``A`` (USD-M's has no book fields).

After a subscription the fake sends the stream's next update at once (Binance
pushes a forming candle every 250 ms to 2 s and a ticker every second), so a
client has a price and the forming candle without waiting for a bar to close.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable
from decimal import Decimal
from typing import Any

from tradekit_ccxt.testing import FakeMarket
from tradekit_ccxt.testing.market import now_ms
from tradekit_ccxt.testing.stream import Connection

from tradekit.money import to_decimal

#: Binance's interval names by candle length in milliseconds.
INTERVALS = {
    60_000: "1m",
    180_000: "3m",
    300_000: "5m",
    900_000: "15m",
    1_800_000: "30m",
    3_600_000: "1h",
    7_200_000: "2h",
    14_400_000: "4h",
    21_600_000: "6h",
    28_800_000: "8h",
    43_200_000: "12h",
    86_400_000: "1d",
}
METHODS = "SUBSCRIBE , UNSUBSCRIBE , LIST_SUBSCRIPTIONS , SET_PROPERTY , GET_PROPERTY"
#: Trades per replayed bar (its ``n``), so trade ids run on from bar to bar.
TRADES_PER_BAR = 100
_DAY_MS = 86_400_000


def text(value: Decimal, places: int = 8) -> str:
    """A number as Binance writes it: fixed decimals, never exponent notation."""
    return f"{value:.{places}f}"


def topic(market: str, stream: str, combined: bool) -> Hashable:
    """What a connection follows: the market (``spot``, ``usdm``), the stream name, and the payload form."""
    return (market, stream, combined)


def interval_of(market: FakeMarket) -> str:
    """The interval name of the market's replayed bars (``1m``...)."""
    return INTERVALS.get(market.step_ms, f"{market.step_ms // 60_000}m")


def kline_event(
    market: FakeMarket, symbol: str, venue_symbol: str, index: int, *, forming: bool
) -> tuple[str, dict[str, Any]]:
    """``(stream name, kline event)`` of bar ``index``: its final update, or (``forming``) its first trade.

    Prices and volume are the ones the REST ``klines`` of the fake serve for the same bar.
    """
    series = market.bars[symbol]
    interval = interval_of(market)
    start = int(series.timestamps[index]) // 1_000_000 + market.shift_ms
    o = market.on_tick(symbol, float(series.open[index]))
    volume = to_decimal(float(series.volume[index]))
    first_trade = index * TRADES_PER_BAR
    if forming:
        h = low = c = o
        volume, trades = (volume / TRADES_PER_BAR).quantize(Decimal("1e-8")), 1
    else:
        h, low, c = (market.on_tick(symbol, float(getattr(series, n)[index])) for n in ("high", "low", "close"))
        trades = TRADES_PER_BAR
    kline = {
        "t": start,
        "T": start + market.step_ms - 1,
        "s": venue_symbol,
        "i": interval,
        "f": first_trade,
        "L": first_trade + trades - 1,
        "o": text(o),
        "c": text(c),
        "h": text(h),
        "l": text(low),
        "v": text(volume),
        "n": trades,
        "x": not forming,
        "q": text(volume * c),
        "V": text(volume / 2),
        "Q": text(volume * c / 2),
        "B": "0",
    }
    name = f"{venue_symbol.lower()}@kline_{interval}"
    return name, {"e": "kline", "E": now_ms(), "s": venue_symbol, "k": kline}


def ticker_event(
    market: FakeMarket, symbol: str, venue_symbol: str, *, futures: bool, tick: Decimal, mini: bool = False
) -> tuple[str, dict[str, Any]]:
    """``(stream name, event)``: the last price and the statistics of the last day of visible bars.

    A ``24hrTicker`` on ``<symbol>@ticker``, or (``mini``) a ``24hrMiniTicker`` on ``<symbol>@miniTicker``.
    """
    series = market.bars[symbol]
    end = market.revealed
    start = max(end - _DAY_MS // market.step_ms, 0)
    last = market.prices[symbol]
    opened = market.on_tick(symbol, float(series.open[start]))
    high = max(market.on_tick(symbol, float(series.high[start:end].max())), last)
    low = min(market.on_tick(symbol, float(series.low[start:end].min())), last)
    volume = to_decimal(float(series.volume[start:end].sum()))
    quote_volume = to_decimal(float((series.volume[start:end] * series.close[start:end]).sum()))
    now = now_ms()
    if mini:
        event = {"e": "24hrMiniTicker", "E": now, "s": venue_symbol, "c": text(last), "o": text(opened)}
        event.update(h=text(high), l=text(low), v=text(volume), q=text(quote_volume))
        return f"{venue_symbol.lower()}@miniTicker", event
    event = {
        "e": "24hrTicker",
        "E": now,
        "s": venue_symbol,
        "p": text(last - opened),
        "P": text((last - opened) / opened * 100, 3),
        "w": text(quote_volume / volume if volume else last),
    }
    if not futures:
        event["x"] = text(opened)
    event.update(c=text(last), Q=text(Decimal("0.01")))
    if not futures:
        event.update(b=text(last - tick), B=text(Decimal("1.5")), a=text(last), A=text(Decimal("0.75")))
    event.update(
        o=text(opened),
        h=text(high),
        l=text(low),
        v=text(volume),
        q=text(quote_volume),
        O=now - _DAY_MS,
        C=now,
        F=start * TRADES_PER_BAR,
        L=end * TRADES_PER_BAR - 1,
        n=(end - start) * TRADES_PER_BAR,
    )
    return f"{venue_symbol.lower()}@ticker", event


def wrap(stream: str, event: dict[str, Any], combined: bool) -> dict[str, Any]:
    """The event as a connection receives it: raw, or wrapped as a combined stream's payload."""
    return {"stream": stream, "data": event} if combined else event


class StreamProtocol:
    """Binance's answers to the messages a client sends on a market-stream connection; see the module doc.

    ``market_of(connection)`` names the market (``spot``, ``usdm``) a connection's
    path reaches; ``first_updates(market, stream)`` are the events sent right after
    a subscription to ``stream`` (raw; wrapped here when the connection is combined).
    """

    def __init__(self, market_of: Any, first_updates: Any) -> None:
        self.market_of = market_of
        self.first_updates = first_updates
        self._combined: weakref.WeakKeyDictionary[Connection, bool] = weakref.WeakKeyDictionary()

    def combined(self, connection: Connection) -> bool:
        """Whether ``connection`` receives combined payloads (``/stream`` paths, or ``SET_PROPERTY``)."""
        if connection not in self._combined:
            self._combined[connection] = "/stream" in connection.path
        return self._combined[connection]

    def streams(self, connection: Connection) -> list[str]:
        """The stream names ``connection`` follows, in name order."""
        return sorted(str(t[1]) for t in connection.topics if isinstance(t, tuple))

    def answer(self, connection: Connection, message: Any) -> list[Any]:
        """Binance's replies to one client message (then the first updates of what it subscribed to)."""
        if not isinstance(message, dict):
            return [{"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}]
        request_id = message.get("id")
        if not isinstance(request_id, int) or isinstance(request_id, bool) or request_id < 0:
            return [{"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}]
        method, params = message.get("method"), message.get("params") or []
        market, combined = self.market_of(connection), self.combined(connection)
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            replies: list[Any] = [{"result": None, "id": request_id}]
            for name in params:
                stream = str(name)
                if method == "UNSUBSCRIBE":
                    connection.topics.discard(topic(market, stream, combined))
                    continue
                connection.topics.add(topic(market, stream, combined))
                replies += [wrap(stream, event, combined) for event in self.first_updates(market, stream)]
            return replies
        if method == "LIST_SUBSCRIPTIONS":
            return [{"result": self.streams(connection), "id": request_id}]
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            if not params or params[0] != "combined":
                return [{"code": 0, "msg": "Unknown property"}]
            if method == "GET_PROPERTY":
                return [{"result": combined, "id": request_id}]
            if len(params) < 2 or not isinstance(params[1], bool):
                return [{"code": 1, "msg": "Invalid value type: expected Boolean"}]
            self._combined[connection] = params[1]
            names = self.streams(connection)
            connection.topics.clear()
            connection.topics.update(topic(market, name, params[1]) for name in names)
            return [{"result": None, "id": request_id}]
        unknown = f"Invalid request: unknown variant {method}, expected one of {METHODS} at line 1 column 28"
        return [{"code": 2, "msg": unknown}]
