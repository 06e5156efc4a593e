"""``hyperliquid``: Hyperliquid's perpetuals (and spot markets) through ccxt's ``hyperliquid`` client.

Orders are signed with the wallet's private key, or an API wallet's (an
"agent" the account approved), and carry a ``cloid`` (``0x`` and 32 hex
digits) made from tradekit's client order id. Hyperliquid has no market
order: like its own front end, ccxt sends an immediate-or-cancel limit at the
mid price moved by ``slippage``.

**Account safety.** Before its first private call ccxt's Hyperliquid client
(``initialize_client``) signs an ``approveBuilderFee`` action for ccxt's
builder address (a fee of up to 0.01 % on every order; with its
``builderFee`` option off it still approves, at 0 %, and tags every order with
the builder) and a ``setReferrer`` action with ccxt's referral code. Either
changes the user's account; tradekit sends neither unless the user sets
``allow_ccxt_builder_fee = true``: the client class below turns both steps
into no-ops, keeps ccxt's ``approvedBuilderFee`` option false (so no order
carries a ``builder`` field) and marks the referrer as set (``refSet``).
The fake server's tests prove that no such action reaches the wire.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator
from tradekit_ccxt.client_ids import ClientIdFormat, HexClientIds
from tradekit_ccxt.exchange import CcxtExchange, CcxtSettings, OrderArguments
from tradekit_ccxt.orders import decimal_or_none, rests_when_triggered
from tradekit_ccxt.tracking import Tracked
from tradekit_ccxt.trades import TradesPage, next_since

from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import Order, OrderType, Side, TimeInForce, TriggerDirection
from tradekit.errors import InvalidOrder
from tradekit.plugin import Capabilities

#: Info requests of weight 2 (Hyperliquid docs, "Rate limits and user limits"); every other one weighs 20.
_LIGHT_INFO = frozenset(
    {"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState", "exchangeStatus"}
)
#: Info requests that weigh one more per 20 items returned (counted as one: the size is not known before).
_PER_ITEMS_INFO = frozenset(
    {
        "recentTrades",
        "historicalOrders",
        "userFills",
        "userFillsByTime",
        "fundingHistory",
        "userFunding",
        "nonUserFundingUpdates",
        "twapHistory",
        "userTwapSliceFills",
        "userTwapSliceFillsByTime",
    }
)
_MAX_CANDLES = 5000
#: ``userFillsByTime`` returns at most 2,000 fills a request (Hyperliquid docs, info endpoint).
_FILLS_PER_PAGE = 2000
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class HyperliquidSettings(CcxtSettings):
    """Settings of the ``hyperliquid`` exchange (``[plugins.exchange.hyperliquid]``)."""

    symbols: tuple[str, ...] = Field(
        default=("BTC/USDC:USDC",), description="Symbols to trade when none is named (perpetuals end in :USDC)."
    )
    wallet_address: str | None = Field(
        default=None,
        description="The account's address (0x + 40 hex digits): the main wallet, also when an API wallet signs.",
    )
    private_key: SecretStr | None = Field(
        default=None,
        description="The private key that signs orders: the wallet's own, or an API wallet's the account approved.",
    )
    slippage: Decimal = Field(
        default=Decimal("0.05"),
        gt=0,
        lt=1,
        description="How far from the mid price a market order may fill (it is sent as an IOC limit there).",
    )
    allow_ccxt_builder_fee: bool = Field(
        default=False,
        description="Let ccxt approve its builder fee and set its referral code on your account before the first "
        "private call, as ccxt does by default. Off: tradekit sends neither action.",
    )

    @field_validator("wallet_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and not _ADDRESS.match(value):
            raise ValueError(f"wallet_address must be 0x followed by 40 hex digits, was {value!r}")
        return value


def safe_hyperliquid_class() -> type:
    """ccxt's Hyperliquid client without its builder-fee approval and referral steps (see the module doc)."""
    import ccxt

    class SafeHyperliquid(ccxt.hyperliquid):  # type: ignore[misc]
        def handle_builder_fee_approval(self) -> bool:
            return True  # never sign approveBuilderFee on the user's behalf

        def set_ref(self) -> bool:
            return True  # never sign setReferrer on the user's behalf

        def approve_builder_fee(self, builder: str, maxFeeRate: str) -> Any:
            raise ccxt.NotSupported(
                "tradekit does not approve builder fees; set allow_ccxt_builder_fee = true to let ccxt do it"
            )

    return SafeHyperliquid


class HyperliquidExchange(CcxtExchange):
    """Hyperliquid perpetuals and spot: market, limit, post-only (ALO), trigger and reduce-only orders."""

    Settings = HyperliquidSettings
    settings: HyperliquidSettings
    ccxt_id = "hyperliquid"
    venue_name = "Hyperliquid"
    venue_rate_limits: ClassVar[dict[str, float]] = {"rest": 1200}
    capabilities = Capabilities(
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT}),
        trigger_directions=frozenset({TriggerDirection.RISING, TriggerDirection.FALLING}),
        post_only=True,
        reduce_only=True,
        positions=True,
        testnet=True,
        timeframes=("1m", "5m", "15m", "1h", "4h", "1d"),
        extra={"client_order_id_format": "0x + 32 hex digits", "rate_limit": "1200 weight/min per IP"},
    )

    # -- how the client is made ------------------------------------------------------------------

    def make_client_ids(self) -> ClientIdFormat:
        """``cloid``: ``0x`` and 32 hex digits."""
        return HexClientIds()

    def ccxt_class(self) -> type:
        """ccxt's client, without builder fee and referral unless the user allowed them."""
        if self.settings.allow_ccxt_builder_fee:
            return super().ccxt_class()
        return safe_hyperliquid_class()

    def ccxt_config(self) -> dict[str, Any]:
        """Perpetual and spot markets only (no HIP-3 dexes), the market-order slippage, the safety options."""
        options: dict[str, Any] = {
            "fetchMarkets": {"types": ["swap", "spot"]},
            "defaultSlippage": str(self.settings.slippage),
        }
        if not self.settings.allow_ccxt_builder_fee:
            options.update({"builderFee": False, "approvedBuilderFee": False, "refSet": True})
        return {"options": options}

    def credentials(self) -> dict[str, str]:
        """``walletAddress`` and ``privateKey`` when both are set."""
        key = self.settings.private_key
        if not self.settings.wallet_address or key is None:
            return {}
        return {"walletAddress": self.settings.wallet_address, "privateKey": key.get_secret_value()}

    def credential_names(self) -> str:
        """What a live run needs."""
        return "wallet_address and private_key (the wallet's key or an API wallet's)"

    def request_weights(
        self, api: Any, method: str, path: str, params: dict[str, Any], config: dict[str, Any]
    ) -> list[tuple[str, float]]:
        """Hyperliquid's weights: 1 + batch/40 per action, 2 or 20 per info request, plus candles per 60."""
        if path == "exchange":
            action = params.get("action") or {}
            batch = action.get("orders") or action.get("cancels") or ()
            return [("rest", 1 + len(batch) // 40)]
        kind = params.get("type")
        weight = 2 if kind in _LIGHT_INFO else 60 if kind == "userRole" else 20
        if kind in _PER_ITEMS_INFO:
            weight += 1
        if kind == "candleSnapshot":
            request = params.get("req") or {}
            interval = self.client.parse_timeframe(request.get("interval", "1m")) * 1000
            span = max(int(request.get("endTime") or 0) - int(request.get("startTime") or 0), 0)
            weight += math.ceil(min(span // max(interval, 1) + 1, _MAX_CANDLES) / 60)
        return [("rest", weight)]

    # -- orders ------------------------------------------------------------------------------------------

    def order_arguments(self, order: Order, instrument: Instrument, venue_client_id: str) -> OrderArguments:
        """ccxt's ``create_order`` arguments: IOC limit for market, ``Alo`` for post-only, ``tpsl`` triggers."""
        params: dict[str, Any] = {"clientOrderId": venue_client_id, "reduceOnly": order.reduce_only}
        if order.time_in_force is TimeInForce.FOK:
            raise InvalidOrder(f"order {order.client_order_id}: Hyperliquid has no fill-or-kill orders; use gtc or ioc")
        if order.trigger_price is not None:
            if order.post_only and not rests_when_triggered(order):
                raise InvalidOrder(
                    f"order {order.client_order_id}: Hyperliquid trigger orders carry no post-only flag; a post-only "
                    "stop-limit is sent only when its limit lies beyond its trigger on the passive side (a buy "
                    f"limit below a rising trigger, a sell limit above a falling one); limit {order.price}, "
                    f"trigger {order.trigger_price} {order.trigger_direction}"
                )
            # Hyperliquid names a trigger by the position it protects: a stop loss fires against it
            # (a buy when the price rises, a sell when it falls), a take profit with it.
            rising = order.trigger_direction is TriggerDirection.RISING
            stop_loss = rising == (order.side is Side.BUY)
            params["stopLossPrice" if stop_loss else "takeProfitPrice"] = float(order.trigger_price)
            if order.type is OrderType.STOP:
                # A market trigger still names a worst price: the trigger moved by the slippage.
                return "market", order.side.value, float(order.quantity), float(order.trigger_price), params
            assert order.price is not None
            return "limit", order.side.value, float(order.quantity), float(order.price), params
        if order.type is OrderType.MARKET:
            mid = self.market_price(order.symbol)
            if mid is None:
                raise InvalidOrder(f"order {order.client_order_id}: no mid price for {order.symbol} to bound it with")
            return "market", order.side.value, float(order.quantity), float(mid), params
        assert order.price is not None
        if order.post_only:
            params["postOnly"] = True
        else:
            params["timeInForce"] = "Ioc" if order.time_in_force is TimeInForce.IOC else "Gtc"
        return "limit", order.side.value, float(order.quantity), float(order.price), params

    def fetch_order_data(self, venue_client_id: str, symbol: str, tracked: Tracked | None) -> dict[str, Any] | None:
        """``orderStatus`` by ``cloid`` (``unknownOid`` becomes None)."""
        return dict(self.client.fetch_order(venue_client_id, symbol, {"clientOrderId": venue_client_id}))

    def cancel_order_data(self, order: Order, venue_client_id: str, tracked: Tracked | None) -> None:
        """``cancelByCloid``."""
        self.client.cancel_order(venue_client_id, order.symbol, {"clientOrderId": venue_client_id})

    def trigger_direction(self, data: dict[str, Any]) -> TriggerDirection | None:
        """From ``triggerCondition`` ("Price above 0.6" / "Price below ...")."""
        condition = str((data.get("info") or {}).get("triggerCondition") or "").lower()
        if "above" in condition:
            return TriggerDirection.RISING
        if "below" in condition:
            return TriggerDirection.FALLING
        return None

    def trades_page(self, symbol: str, since_ms: int) -> TradesPage:
        """``userFillsByTime`` from ``since_ms``: the account's fills of every coin, 2,000 at most, oldest first.

        Hyperliquid's info docs page a time range by starting the next request
        at the last fill's time; whether more may follow is told by the
        venue's count (every coin), not by ccxt's (this symbol only).
        """
        client = self.client
        user, _ = client.handle_public_address("fetchMyTrades", {})
        reply = client.publicPostInfo({"type": "userFillsByTime", "user": user, "startTime": since_ms})
        fills = reply if isinstance(reply, list) else []
        page = client.parse_trades(fills, self._market(symbol), since_ms)
        if len(fills) < _FILLS_PER_PAGE:
            return TradesPage(list(page), None)
        return TradesPage(list(page), next_since((int(fill.get("time") or 0) for fill in fills), since_ms))

    def poll_latest_price(self, symbol: str) -> Decimal | None:
        """The mid price over REST from ``allMids`` (weight 2, where a ticker would cost 40)."""
        market = self._market(symbol)
        coin = market.get("baseName") if market.get("swap") else market.get("id")
        mids = self.read("latest_price", lambda: self.client.publicPostInfo({"type": "allMids"}))
        return decimal_or_none(mids.get(str(coin))) if isinstance(mids, dict) else None
