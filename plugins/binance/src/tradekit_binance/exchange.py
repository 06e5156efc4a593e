"""``binance``: Binance spot and USD-M futures through ccxt's ``binance`` client.

One exchange instance trades one market, set by ``market``: ``spot``
(``BTC/USDT``) or ``usdm`` (USD-M perpetuals, ``BTC/USDT:USDT``). Requests are
signed with the API key and secret (HMAC); the key goes in the
``X-MBX-APIKEY`` header, which ccxt logs at DEBUG: tradekit's log filter masks
it.

Order kinds: market; limit (GTC, IOC, FOK); post-only as ``LIMIT_MAKER`` on
spot and ``timeInForce=GTX`` on futures; spot stops as ``STOP_LOSS`` /
``TAKE_PROFIT`` (``_LIMIT``) and futures stops as ``STOP_MARKET`` / ``STOP`` /
``TAKE_PROFIT(_MARKET)``, which ccxt (since 4.5.23) sends to the futures
algo-order endpoint (``/fapi/v1/algoOrder``, ``clientAlgoId``); reduce-only on
futures. A triggered futures stop becomes a new order (``actualOrderId``);
its fills are followed under that id.

Client order ids (``newClientOrderId``, up to 36 characters) are always set,
so ccxt never puts its own broker prefix on them.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from tradekit_ccxt.client_ids import ClientIdFormat, TextClientIds
from tradekit_ccxt.exchange import CcxtExchange, CcxtSettings, OrderArguments
from tradekit_ccxt.orders import decimal_or_none, rests_when_triggered
from tradekit_ccxt.tracking import Tracked

from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import Order, OrderType, Side, TriggerDirection
from tradekit.domain.portfolio import Position
from tradekit.errors import ConfigError, ExchangeError, InsufficientFunds, InvalidOrder, OrderNotFound
from tradekit.plugin import Capabilities

#: ccxt counts spot (``/api``, ``/sapi``) weight at 0.2 per Binance weight unit (6,000 a minute at its
#: 50 ms rate limit) and futures (``/fapi``) at 1 per unit: these turn ccxt's costs back into Binance's weights.
_WEIGHT_PER_COST = {"spot": 5.0, "usdm": 1.0}
_DEFAULT_SYMBOLS = {"spot": ("BTC/USDT",), "usdm": ("BTC/USDT:USDT",)}
#: Binance's error codes read the same way on every host. ccxt picks its spot or futures table by the URL's
#: host (``fapi.binance.com``...), which a proxy or ``api_url`` hides; these codes keep their meaning there.
_CODES: dict[int, type[ExchangeError]] = {
    -2019: InsufficientFunds,  # Margin is insufficient.
    -2018: InsufficientFunds,  # Balance is insufficient.
    -2013: OrderNotFound,  # Order does not exist.
    -2011: OrderNotFound,  # Unknown order sent.
    -2022: InvalidOrder,  # ReduceOnly Order is rejected.
    -5022: InvalidOrder,  # the Post Only order would not be a maker.
    -4164: InvalidOrder,  # notional below the minimum.
    -1013: InvalidOrder,  # a filter failure (price, lot, notional).
    -1111: InvalidOrder,  # precision over the maximum.
    -2021: InvalidOrder,  # the order would trigger at once.
}
_CODE = re.compile(r'"code"\s*:\s*(-?\d+)')
#: The most trades ``myTrades`` (spot) and ``userTrades`` (USD-M) return per request.
_TRADES_LIMIT = 1000


class BinanceSettings(CcxtSettings):
    """Settings of the ``binance`` exchange (``[plugins.exchange.binance]``)."""

    market: Literal["spot", "usdm"] = Field(
        default="spot", description="Which Binance market: spot, or usdm (USD-M perpetual futures)."
    )
    api_key: SecretStr | None = Field(default=None, description="The API key (needs trading permission for --live).")
    api_secret: SecretStr | None = Field(default=None, description="The API key's secret (HMAC).")
    recv_window: int = Field(
        default=5000, ge=1, le=60_000, description="Milliseconds a signed request stays valid (recvWindow)."
    )


class BinanceExchange(CcxtExchange):
    """Binance spot or USD-M futures (setting ``market``)."""

    Settings = BinanceSettings
    settings: BinanceSettings
    ccxt_id = "binance"
    venue_name = "Binance"
    venue_rate_limits: ClassVar[dict[str, float]] = {"spot": 6000, "usdm": 2400}
    #: ``myTrades`` / ``userTrades`` return at most 1,000 trades a request.
    trades_page_limit: ClassVar[int | None] = _TRADES_LIMIT
    capabilities = Capabilities(
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT}),
        trigger_directions=frozenset({TriggerDirection.RISING, TriggerDirection.FALLING}),
        post_only=True,
        reduce_only=True,
        positions=True,
        testnet=True,
        timeframes=("1m", "5m", "15m", "1h", "4h", "1d"),
        extra={
            "markets": "spot, usdm (setting market)",
            "reduce_only_on": "usdm (not spot)",
            "client_order_id_format": "up to 36 of [.A-Z:/a-z0-9_-]",
            "rate_limit": "spot 6000, usdm 2400 weight/min",
        },
    )

    def __init__(self, settings: Any = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        #: Futures stops that triggered: client order id -> the order Binance placed for them.
        self._triggered: dict[str, str] = {}

    @property
    def futures(self) -> bool:
        """Whether this instance trades USD-M futures."""
        return self.settings.market == "usdm"

    # -- how the client is made ------------------------------------------------------------------

    def make_client_ids(self) -> ClientIdFormat:
        """``newClientOrderId``: up to 36 characters."""
        return TextClientIds(max_length=36)

    def ccxt_config(self) -> dict[str, Any]:
        """Only this market's exchange info, no currency listing (sapi), the market as ccxt's default type."""
        options: dict[str, Any] = {
            "fetchMarkets": {"types": ["linear" if self.futures else "spot"]},
            "fetchCurrencies": False,
            "fetchMargins": False,
            "defaultType": "swap" if self.futures else "spot",
            "recvWindow": self.settings.recv_window,
            "fetchOpenOrders": {"warnWithoutSymbol": False},
        }
        return {"options": options}

    def credentials(self) -> dict[str, str]:
        """``apiKey`` and ``secret`` when both are set."""
        key, secret = self.settings.api_key, self.settings.api_secret
        if key is None or secret is None:
            return {}
        return {"apiKey": key.get_secret_value(), "secret": secret.get_secret_value()}

    def credential_names(self) -> str:
        """What a live run needs."""
        return "api_key and api_secret"

    def point_at(self, client: Any, url: str) -> None:
        """Keep each API's path (``/api/v3``, ``/fapi/v1``...) and replace only the scheme and host."""
        base = urlsplit(url)
        for name, value in list(client.urls["api"].items()):
            if isinstance(value, str) and value.startswith("http"):
                parts = urlsplit(value)
                client.urls["api"][name] = f"{base.scheme}://{base.netloc}{parts.path}"

    def request_weights(
        self, api: Any, method: str, path: str, params: dict[str, Any], config: dict[str, Any]
    ) -> list[tuple[str, float]]:
        """ccxt's cost of the request turned into Binance weight, on the spot or futures budget."""
        name = api if isinstance(api, str) else str(api[0])
        family = "usdm" if name.startswith("fapi") else "spot"
        cost = float(self.client.calculate_rate_limiter_cost(api, method, path, params, config))
        return [(family, round(cost * _WEIGHT_PER_COST[family], 6))]

    def default_symbols(self) -> tuple[str, ...]:
        """The ``symbols`` setting, else BTC/USDT on spot and BTC/USDT:USDT on futures."""
        return tuple(self.settings.symbols) or _DEFAULT_SYMBOLS[self.settings.market]

    def instruments(self, symbols: Any) -> dict[str, Instrument]:
        """The venue's rules; a symbol of the other market is refused with a hint."""
        for symbol in symbols:
            if (":" in symbol) != self.futures:
                other = "usdm" if ":" in symbol else "spot"
                raise ConfigError(
                    f"exchange {self.name} trades the {self.settings.market} market, but {symbol} is a {other} "
                    f'symbol; set market = "{other}" in [plugins.exchange.{self.name}] or pick a '
                    f"{self.settings.market} symbol (e.g. {_DEFAULT_SYMBOLS[self.settings.market][0]})"
                )
        return super().instruments(symbols)

    # -- orders ------------------------------------------------------------------------------------------

    def order_arguments(self, order: Order, instrument: Instrument, venue_client_id: str) -> OrderArguments:
        """ccxt's ``create_order`` arguments for spot or futures."""
        params: dict[str, Any] = {"clientOrderId": venue_client_id}
        if order.reduce_only:
            if not self.futures:
                raise InvalidOrder(f"order {order.client_order_id}: Binance spot has no reduce-only orders")
            params["reduceOnly"] = True
        quantity = float(order.quantity)
        if order.trigger_price is not None:
            # A stop loss fires against the position it closes (a buy on a rise, a sell on a fall), a take
            # profit with it: Binance's STOP_LOSS/STOP and TAKE_PROFIT types trigger that way.
            rising = order.trigger_direction is TriggerDirection.RISING
            stop_loss = rising == (order.side is Side.BUY)
            params["stopLossPrice" if stop_loss else "takeProfitPrice"] = float(order.trigger_price)
            if order.type is OrderType.STOP:
                return "market", order.side.value, quantity, None, params
            assert order.price is not None
            if order.post_only:
                if self.futures:
                    params["timeInForce"] = "GTX"
                elif not rests_when_triggered(order):
                    raise InvalidOrder(
                        f"order {order.client_order_id}: Binance spot stop-limits carry no post-only flag; one "
                        "is sent only when its limit lies beyond its trigger on the passive side (a buy limit "
                        f"below a rising trigger, a sell limit above a falling one); limit {order.price}, "
                        f"trigger {order.trigger_price} {order.trigger_direction}"
                    )
            else:
                params["timeInForce"] = order.time_in_force.value.upper()
            return "limit", order.side.value, quantity, float(order.price), params
        if order.type is OrderType.MARKET:
            # No price: on spot ccxt would turn amount x price into a quote-quantity order.
            return "market", order.side.value, quantity, None, params
        assert order.price is not None
        if order.post_only:
            params["postOnly"] = True
        else:
            params["timeInForce"] = order.time_in_force.value.upper()
        return "limit", order.side.value, quantity, float(order.price), params

    def _is_algo(self, tracked: Tracked | None, client_order_id: str | None) -> bool:
        """A futures stop that has not triggered yet: it lives at the algo-order endpoint."""
        if not self.futures or tracked is None or tracked.order.trigger_price is None:
            return False
        return (client_order_id or tracked.order.client_order_id) not in self._triggered

    def fetch_order_data(self, venue_client_id: str, symbol: str, tracked: Tracked | None) -> dict[str, Any] | None:
        """By client order id; a futures stop at the algo endpoint, then the order it placed once triggered."""
        import ccxt

        client = self.client
        client_order_id = tracked.order.client_order_id if tracked is not None else None
        if client_order_id is not None and client_order_id in self._triggered:
            return dict(client.fetch_order(self._triggered[client_order_id], symbol))
        if self._is_algo(tracked, client_order_id) or (tracked is None and self.futures):
            try:
                algo = dict(
                    client.fetch_order(venue_client_id, symbol, {"clientOrderId": venue_client_id, "trigger": True})
                )
            except ccxt.OrderNotFound:
                if tracked is not None:
                    raise
            else:
                actual = str((algo.get("info") or {}).get("actualOrderId") or "")
                if not actual:
                    return algo
                if client_order_id is not None:
                    self._triggered[client_order_id] = actual
                return dict(client.fetch_order(actual, symbol))
        return dict(client.fetch_order(venue_client_id, symbol, {"clientOrderId": venue_client_id}))

    def cancel_order_data(self, order: Order, venue_client_id: str, tracked: Tracked | None) -> None:
        """By client order id (``clientAlgoId`` for an untriggered futures stop, the placed order's id after)."""
        client = self.client
        if order.client_order_id in self._triggered:
            client.cancel_order(self._triggered[order.client_order_id], order.symbol)
        elif self._is_algo(tracked, order.client_order_id) or (
            tracked is None and order.trigger_price is not None and self.futures
        ):
            client.cancel_order(venue_client_id, order.symbol, {"clientOrderId": venue_client_id, "trigger": True})
        else:
            client.cancel_order(venue_client_id, order.symbol, {"clientOrderId": venue_client_id})

    def open_orders_data(self, symbol: str | None) -> list[dict[str, Any]]:
        """Resting orders; on futures also the untriggered stops of the algo endpoint."""
        orders = list(self.client.fetch_open_orders(symbol))
        if self.futures:
            orders += list(self.client.fetch_open_orders(symbol, None, None, {"trigger": True}))
        return orders

    def order_trades_data(self, tracked: Tracked) -> list[dict[str, Any]]:
        """The order's trades by ``orderId`` (weight 5, no time window), a page of 1,000 after another by ``fromId``.

        Reading the account's trades from a time finds only a day's (spot) or
        a week's (USD-M) after it: an order that rested longer, or one taken
        up after a long outage, is looked up by its id instead.
        """
        if tracked.exchange_order_id is None or self._is_algo(tracked, None):
            return []  # not placed on the book yet: no trades
        params: dict[str, Any] = {"orderId": tracked.exchange_order_id}
        found: list[dict[str, Any]] = []
        while True:
            page = list(self.client.fetch_my_trades(tracked.symbol, None, _TRADES_LIMIT, params))
            found += page
            if len(page) < _TRADES_LIMIT:
                return found
            params = {"orderId": tracked.exchange_order_id, "fromId": max(int(t["id"]) for t in page) + 1}

    def trigger_direction(self, data: dict[str, Any]) -> TriggerDirection | None:
        """From the order type and side: STOP* buys and TAKE_PROFIT* sells wait for a rise."""
        info = data.get("info") or {}
        kind = str(info.get("type") or info.get("orderType") or "").upper()
        if not kind.startswith(("STOP", "TAKE_PROFIT")):
            return None
        buy = str(info.get("side") or "").upper() == "BUY"
        rising = buy == kind.startswith("STOP")
        return TriggerDirection.RISING if rising else TriggerDirection.FALLING

    def refine_error(self, mapped: ExchangeError, raw: str, operation: str) -> ExchangeError:
        """Binance's error code decides where ccxt's host-keyed table could not (see ``_CODES``)."""
        if mapped.retryable:
            return mapped
        found = _CODE.search(raw)
        kind = _CODES.get(int(found.group(1))) if found else None
        if kind is None or isinstance(mapped, kind):
            return mapped
        if kind is OrderNotFound or operation == "submit_order":
            return kind(str(mapped), venue_message=mapped.venue_message)
        return mapped

    def poll_latest_price(self, symbol: str) -> Decimal | None:
        """The last trade price over REST (``ticker/price``: weight 2, against 2-80 for a 24 h ticker)."""
        market = self._market(symbol)
        request = {"symbol": market["id"]}
        if self.futures:
            reply = self.read("latest_price", lambda: self.client.fapiPublicGetTickerPrice(request))
        else:
            reply = self.read("latest_price", lambda: self.client.publicGetTickerPrice(request))
        return decimal_or_none(reply.get("price")) if isinstance(reply, dict) else None

    def positions(self) -> dict[str, Position]:
        """Futures positions; spot holds balances only."""
        if not self.futures:
            return {}
        return super().positions()
