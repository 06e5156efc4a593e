"""``CcxtExchange``: the tradekit :class:`~tradekit.plugin.Exchange` both ccxt connectors subclass.

It holds everything that is the same on every venue: the ccxt client and its
budget, error mapping, retries of reads, orders checked against the venue's
steps, client order ids in the venue's format, and events made from polling
(open orders, the account's trades, the final state of orders that left the
book). A venue subclass says how to build its client, how its orders are
spelled in ccxt's ``params``, how much its requests weigh, and how to look an
order up by client order id.

Nothing here imports ccxt at module level: ``tradekit plugins list`` and a
run on ``--exchange paper`` never pay for it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
from pydantic import Field, field_validator

from tradekit.domain.bars import BarSeries
from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import Fill, Order, OrderStatus, OrderType, OrderUpdate, TimeInForce, TriggerDirection
from tradekit.domain.portfolio import Balance, Position
from tradekit.errors import ConfigError, ExchangeError, InvalidOrder, OrderRejected, RateLimited
from tradekit.plugin import Exchange, PluginSettings
from tradekit_ccxt.budget import WeightBudget, key_fingerprint
from tradekit_ccxt.client import budgeted_client_class
from tradekit_ccxt.client_ids import ClientIdFormat
from tradekit_ccxt.errors import map_ccxt_error
from tradekit_ccxt.markets import check_order, instrument_from_market
from tradekit_ccxt.orders import decimal_or_none, fill_from_trade, order_from_ccxt
from tradekit_ccxt.retry import RetryPolicy, call_with_retry
from tradekit_ccxt.streaming import BarBook, MarketStream, Snapshot
from tradekit_ccxt.tracking import OrderTracker, Tracked
from tradekit_ccxt.trades import PAGES_PER_ORDER, PAGES_PER_POLL, TradesCursor, TradesPage, page_of, read_pages

T = TypeVar("T")
log = logging.getLogger("tradekit.ccxt")

#: ``(type, side, amount, price, params)`` as ``ccxt.Exchange.create_order`` takes them.
OrderArguments = tuple[str, str, float, float | None, dict[str, Any]]
#: Bars served from the websocket when the engine names no count.
STREAM_HISTORY = 200
#: After a candle's period ended, how long the stream may stay silent before REST is asked (clock skew, latency).
CLOSE_GRACE_MS = 5_000
#: Polls in a row an order's trades may show less than the venue counts filled before the log names it.
_SHORT_POLLS_NAMED = 5
#: ``has`` of each ccxt.pro class (read once: making a client to read it costs a few milliseconds).
_STREAM_HAS: dict[type, dict[str, Any]] = {}


class CcxtSettings(PluginSettings):
    """Settings every ccxt-backed exchange has (a venue adds its credentials and its own)."""

    symbols: tuple[str, ...] = Field(default=(), description="Symbols to trade when none is named on the command line.")
    testnet: bool = Field(default=False, description="Use the venue's test network (no real money).")
    api_url: str | None = Field(
        default=None,
        description="Base URL of the venue's REST API instead of the real one: a proxy, or a local fake server "
        "in tests.",
    )
    timeout: float = Field(default=10.0, gt=0, le=120, description="Seconds to wait for one reply.")
    retries: int = Field(default=4, ge=1, le=20, description="Tries of a read (never of an order) before giving up.")
    rate_limits: dict[str, float] = Field(
        default_factory=dict,
        description="Request weight per rate_limit_period for each API family (e.g. spot, usdm, rest); "
        "unset: the venue's published limit.",
    )
    rate_limit_period: float = Field(default=60.0, gt=0, description="Seconds over which rate_limits count.")
    rate_limit_file: Path | None = Field(
        default=None,
        description="SQLite file of the budget shared by every tradekit process on this machine; "
        "unset: <user cache>/tradekit/rate-limits.sqlite3 ($TRADEKIT_CACHE_DIR overrides the folder).",
    )
    refresh_interval: float = Field(
        default=1.0, ge=0, description="Fewest seconds between two polls of the venue for order events."
    )
    market_data: Literal["websocket", "poll"] = Field(
        default="websocket",
        description="How bars and prices arrive: by ccxt's websocket client where the venue has it (REST polling "
        "while the stream is down or stale), or by REST polling only.",
    )
    ws_url: str | None = Field(
        default=None,
        description="Scheme and host of the venue's websocket instead of the real one (the venue's paths are "
        "kept). With api_url set and ws_url unset, market data is polled over REST.",
    )
    stream_stale_after: float = Field(
        default=30.0,
        gt=0,
        description="Seconds without a websocket message after which bars and prices are polled over REST "
        "until the stream speaks again.",
    )

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _json_text(cls, value: object) -> object:
        """An environment variable holds text: ``{"spot": 3000}`` is read as JSON."""
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError(f'rate_limits must be a table such as {{"spot": 3000}}, was {value!r}') from None
        return value


class CcxtExchange(Exchange):
    """An exchange reached through ccxt's synchronous client.

    Subclasses set :attr:`ccxt_id` and :attr:`venue_rate_limits`, and implement
    :meth:`credentials`, :meth:`request_weights`, :meth:`order_arguments`,
    :meth:`fetch_order_data` and :meth:`cancel_order_data`; the rest has a
    working default they may refine.
    """

    #: The ccxt class name (``ccxt.<ccxt_id>``).
    ccxt_id: ClassVar[str] = ""
    #: The venue's published request-weight limits per API family, per minute.
    venue_rate_limits: ClassVar[dict[str, float]] = {}
    #: What the venue is called in messages.
    venue_name: ClassVar[str] = ""
    #: The most trades the venue returns per request of the account's trades; None: each read is one page.
    trades_page_limit: ClassVar[int | None] = None

    settings: CcxtSettings

    def __init__(self, settings: PluginSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self._client: Any = None
        self._budgets: dict[str, WeightBudget] = {}
        self._tracker = OrderTracker()
        self._trades_from = TradesCursor()
        self._client_ids = self.make_client_ids()
        self._last_refresh = 0.0
        self._policy = RetryPolicy(attempts=self.settings.retries)
        self.sleep: Callable[[float], None] = time.sleep
        self._stream: MarketStream | None = None
        self._stream_off: str | None = None
        self._books: dict[tuple[str, ...], BarBook] = {}
        self._sources: dict[tuple[str, ...], str] = {}

    # -- what a venue says -------------------------------------------------------------------------

    def make_client_ids(self) -> ClientIdFormat:
        """The venue's client order id format."""
        raise NotImplementedError

    def credentials(self) -> dict[str, str]:
        """ccxt's credential fields (``apiKey``, ``secret``, ``walletAddress``...) from the settings; {} if none."""
        return {}

    def credential_names(self) -> str:
        """The settings a live run needs, in words, for the error when they are missing."""
        return "the venue's API credentials"

    def ccxt_config(self) -> dict[str, Any]:
        """Extra ccxt constructor config (``options``...)."""
        return {}

    def request_weights(
        self, api: Any, method: str, path: str, params: dict[str, Any], config: dict[str, Any]
    ) -> list[tuple[str, float]]:
        """The ``(API family, weight)`` pairs one request spends."""
        raise NotImplementedError

    def order_arguments(self, order: Order, instrument: Instrument, venue_client_id: str) -> OrderArguments:
        """How ``order`` is asked of ccxt's ``create_order``."""
        raise NotImplementedError

    def fetch_order_data(self, venue_client_id: str, symbol: str, tracked: Tracked | None) -> dict[str, Any] | None:
        """ccxt's order dict for a client order id, or None when the venue does not know it."""
        raise NotImplementedError

    def cancel_order_data(self, order: Order, venue_client_id: str, tracked: Tracked | None) -> None:
        """Ask the venue to cancel; raise ccxt's ``OrderNotFound`` for an order it no longer has."""
        raise NotImplementedError

    def open_orders_data(self, symbol: str | None) -> list[dict[str, Any]]:
        """ccxt's dicts of the resting orders (of ``symbol``, or all)."""
        return list(self.client.fetch_open_orders(symbol))

    def trades_page(self, symbol: str, since_ms: int) -> TradesPage:
        """One page of the account's own trades of ``symbol`` from ``since_ms``, oldest first.

        ``trades_page_limit`` trades are asked for; a page that many long says
        more may follow. A venue whose page holds other symbols' trades too
        (so that ccxt's count is not the venue's) overrides this.
        """
        limit = self.trades_page_limit
        trades = list(self.client.fetch_my_trades(symbol, since_ms, limit))
        return page_of(trades, since_ms, full=limit is not None and len(trades) >= limit)

    def order_trades_data(self, tracked: Tracked) -> list[dict[str, Any]]:
        """Every trade of one order, whatever its age (read when the venue counts more filled than was reported).

        By default the account's trades of its symbol, page after page from
        the order's creation; a venue that can ask by order id does so.
        """
        pages = read_pages(lambda since: self.trades_page(tracked.symbol, since), tracked.since_ms, PAGES_PER_ORDER)
        return [trade for page in pages for trade in page.trades]

    def trigger_direction(self, data: dict[str, Any]) -> TriggerDirection | None:
        """The direction of a trigger order the venue reports, when it states it (None: infer it)."""
        return None

    def refine_error(self, mapped: ExchangeError, raw: str, operation: str) -> ExchangeError:
        """A venue's own reading of an error ccxt mapped too broadly (by default: as mapped)."""
        return mapped

    def market_price(self, symbol: str) -> Decimal | None:
        """The price a market order of ``symbol`` is checked (and, where the venue needs it, bounded) with."""
        return self.latest_price(symbol)

    # -- the client --------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The ccxt client (built on first use)."""
        if self._client is None:
            self._client = self._build_client()
        return self._client

    def ccxt_class(self) -> type:
        """The ccxt venue class the client is made from (``ccxt.<ccxt_id>`` unless a venue refines it)."""
        import ccxt

        return getattr(ccxt, self.ccxt_id)  # type: ignore[no-any-return]

    def _build_client(self) -> Any:
        base = self.ccxt_class()
        config: dict[str, Any] = {
            "enableRateLimit": False,  # tradekit's shared budget does it (see budget.py)
            "timeout": int(self.settings.timeout * 1000),
            **self.credentials(),
        }
        extra = self.ccxt_config()
        config["options"] = {**extra.pop("options", {})}
        config.update(extra)
        client = budgeted_client_class(base)(config)
        if self.settings.testnet:
            client.set_sandbox_mode(True)
        if self.settings.api_url:
            self.point_at(client, self.settings.api_url.rstrip("/"))
        client.tradekit_weigh = self._spend
        # ccxt logs whole requests at DEBUG (headers with the API key); tradekit's redaction masks
        # registered secrets, and ccxt's chatter stays out of `-vv` unless asked for by its own logger.
        ccxt_log = logging.getLogger("ccxt")
        if ccxt_log.level == logging.NOTSET:
            ccxt_log.setLevel(logging.INFO)
        return client

    def point_at(self, client: Any, url: str) -> None:
        """Send every REST call of ``client`` to ``url`` (a fake server, a proxy): each ``urls['api']`` entry."""
        client.urls["api"] = {name: url for name in client.urls["api"]}

    def _budget(self, family: str) -> WeightBudget:
        budget = self._budgets.get(family)
        if budget is None:
            limit = self.settings.rate_limits.get(family, self.venue_rate_limits.get(family))
            if limit is None:
                raise ConfigError(f"{self.name}: no rate limit known for API family {family!r}; set rate_limits")
            credentials = self.credentials()
            key = credentials.get("apiKey") or credentials.get("walletAddress")
            bucket = f"{self.ccxt_id}{':testnet' if self.settings.testnet else ''}:{family}:{key_fingerprint(key)}"
            budget = WeightBudget(bucket, limit, self.settings.rate_limit_period, self.settings.rate_limit_file)
            self._budgets[family] = budget
        return budget

    def _spend(self, api: Any, method: str, path: str, params: dict[str, Any], config: dict[str, Any]) -> None:
        for family, weight in self.request_weights(api, method, path, params, config):
            self._budget(family).acquire(weight)

    def _pause_all(self, seconds: float) -> None:
        for budget in self._budgets.values():
            budget.pause(seconds)

    def call(self, operation: str, action: Callable[[], T]) -> T:
        """Run one ccxt call; its exception mapped to the kernel's (no retry)."""
        import ccxt

        try:
            return action()
        except ccxt.BaseError as error:
            headers = getattr(self._client, "last_response_headers", None)
            status = getattr(self._client, "tradekit_status", None)
            mapped = map_ccxt_error(
                error, venue=self.name, operation=operation, headers=headers, status=status, client_id=self.ccxt_id
            )
            mapped = self.refine_error(mapped, str(error), operation)
            if isinstance(mapped, RateLimited) and mapped.retry_after:
                self._pause_all(mapped.retry_after)
            raise mapped from None

    def read(self, operation: str, action: Callable[[], T]) -> T:
        """Run a call that may be repeated safely, retrying what may be retried (:mod:`tradekit_ccxt.retry`)."""
        return call_with_retry(
            operation,
            lambda: self.call(operation, action),
            self._policy,
            sleep=self.sleep,
            on_rate_limit=self._pause_all,
        )

    def require_credentials(self, operation: str) -> None:
        """Raise a clear :class:`~tradekit.errors.ConfigError` when ``operation`` needs keys that are not set."""
        if not self.credentials():
            raise ConfigError(
                f"exchange {self.name}: {operation} needs {self.credential_names()}; none are set",
                hint=f"set them in [plugins.exchange.{self.name}] of tradekit.toml or as TRADEKIT_PLUGINS__EXCHANGE__"
                f"{self.name.upper()}__<SETTING> environment variables (a dry run needs none)",
            )

    # -- Exchange: lifecycle and market data -----------------------------------------------------

    def connect(self) -> None:
        """Build the client and load the venue's markets (retried)."""
        client = self.client
        self.read("load_markets", client.load_markets)

    def close(self) -> None:
        """Stop the market-data stream, drop the client and the budget connections (:meth:`connect` starts afresh)."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        self._stream_off = None
        self._books.clear()
        self._sources.clear()
        if self._client is not None:
            session = getattr(self._client, "session", None)
            if session is not None:
                session.close()
            self._client = None
        for budget in self._budgets.values():
            budget.close()
        self._budgets.clear()

    def _market(self, symbol: str, error: type[Exception] = ConfigError) -> dict[str, Any]:
        markets = self.client.markets
        if markets is None:
            self.connect()
            markets = self.client.markets
        market = markets.get(symbol)
        if market is None:
            import difflib

            close = difflib.get_close_matches(symbol, list(markets), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise error(f"{self.name} lists no market {symbol!r}{hint}")
        return dict(market)

    def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        """The venue's rules for ``symbols``, from ccxt's market data."""
        return {s: instrument_from_market(self._market(s), int(self.client.precisionMode)) for s in symbols}

    def default_symbols(self) -> tuple[str, ...]:
        """The ``symbols`` setting."""
        return tuple(self.settings.symbols)

    def fees(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        """Maker and taker rates from the market data (for dry runs)."""
        market = self._market(symbol)
        maker, taker = decimal_or_none(market.get("maker")), decimal_or_none(market.get("taker"))
        return (maker, taker) if maker is not None and taker is not None else None

    def latest_price(self, symbol: str) -> Decimal | None:
        """The last price: from the websocket ticker when it is live and fresh, else :meth:`poll_latest_price`."""
        streamed = self._streamed_price(symbol)
        return streamed if streamed is not None else self.poll_latest_price(symbol)

    def poll_latest_price(self, symbol: str) -> Decimal | None:
        """The last price over REST, from the ticker (a venue may ask a cheaper endpoint)."""
        ticker = self.read("latest_price", lambda: self.client.fetch_ticker(symbol))
        return decimal_or_none(ticker.get("last") or ticker.get("close"))

    def fetch_bars(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int | None = None
    ) -> BarSeries:
        """Closed candles only: from the websocket when it is live (the latest bars), else over REST.

        A request with ``since`` (history, a download, a resumed run) always goes to REST.
        """
        if since is None:
            streamed = self._streamed_bars(symbol, timeframe, limit)
            if streamed is not None:
                return self._series(symbol, timeframe, streamed)
        return self._series(symbol, timeframe, self._polled_bars(symbol, timeframe, since, limit))

    def _polled_bars(
        self, symbol: str, timeframe: str, since: datetime | None, limit: int | None
    ) -> list[tuple[int, tuple[float, ...]]]:
        """Closed candles over REST (the one still forming, by the venue's clock, is dropped)."""
        from tradekit.data import timeframe_to_ns

        step_ms = timeframe_to_ns(timeframe) // 1_000_000
        since_ms = int(since.timestamp() * 1000) if since is not None else None
        ask = None if limit is None else limit + 1 if since is None else limit
        rows = self.read("fetch_bars", lambda: self.client.fetch_ohlcv(symbol, timeframe, since_ms, ask))
        now_ms = self.client.milliseconds()
        closed = [r for r in rows if r[0] is not None and r[0] + step_ms <= now_ms]
        if since_ms is not None:
            closed = [r for r in closed if r[0] >= since_ms]
        if limit is not None:
            closed = closed[-limit:] if since is None else closed[:limit]
        return [(int(r[0]), tuple(float(v) if v is not None else np.nan for v in r[1:6])) for r in closed]

    def _series(self, symbol: str, timeframe: str, rows: Sequence[tuple[int, tuple[float, ...]]]) -> BarSeries:
        table = np.array([values for _, values in rows], dtype=np.float64).reshape(-1, 5)
        return BarSeries(
            symbol=symbol,
            timeframe=timeframe,
            timestamps=np.array([stamp * 1_000_000 for stamp, _ in rows], dtype=np.int64),
            open=np.ascontiguousarray(table[:, 0]),
            high=np.ascontiguousarray(table[:, 1]),
            low=np.ascontiguousarray(table[:, 2]),
            close=np.ascontiguousarray(table[:, 3]),
            volume=np.nan_to_num(np.ascontiguousarray(table[:, 4])),
            source=f"{self.name}:{symbol}:{timeframe}",
        )

    # -- market data by websocket ----------------------------------------------------------------

    def stream_class(self) -> type | None:
        """ccxt's websocket class of the venue (``ccxt.pro.<ccxt_id>``), None when ccxt has none."""
        import ccxt.pro

        found = getattr(ccxt.pro, self.ccxt_id, None)
        return found if isinstance(found, type) else None

    def stream_has(self, method: str) -> bool:
        """Whether ccxt's websocket client of the venue has ``method`` (``watchOHLCV``, ``watchTicker``...)."""
        cls = self.stream_class()
        if cls is None:
            return False
        has = _STREAM_HAS.get(cls)
        if has is None:
            has = _STREAM_HAS[cls] = dict(cls().has)
        return has.get(method) is True

    def point_stream_at(self, client: Any, url: str) -> None:
        """Send every websocket of ``client`` to ``url``'s scheme and host, each keeping the venue's path."""
        from urllib.parse import urlsplit

        base = urlsplit(url)

        def repoint(table: dict[str, Any]) -> None:
            for name, value in list(table.items()):
                if isinstance(value, dict):
                    repoint(value)
                elif isinstance(value, str) and value.startswith("ws"):
                    table[name] = f"{base.scheme}://{base.netloc}{urlsplit(value).path}"

        repoint(client.urls["api"]["ws"])

    def _market_stream(self, method: str) -> MarketStream | None:
        """The websocket stream when ``method`` (``watchOHLCV``, ``watchTicker``) is to be used, else None."""
        if self._stream_off is not None:
            return None
        if self._stream is None:
            why = self._why_poll()
            if why is not None:
                self._stream_off = why
                log.info("%s: market data by REST polling (%s)", self.name, why)
                return None
            if self.client.markets is None:
                self.connect()
            self._stream = MarketStream(self._make_stream_client, name=self.name)
        return self._stream if self.stream_has(method) else None

    def _why_poll(self) -> str | None:
        if self.settings.market_data == "poll":
            return "market_data = poll"
        if self.settings.api_url and not self.settings.ws_url:
            return "api_url is set and ws_url is not"
        if not self.stream_has("watchOHLCV"):
            return f"ccxt {self.ccxt_id} has no websocket candles"
        return None

    def _make_stream_client(self) -> Any:
        """The ``ccxt.pro`` client (made in the stream's loop): public data only, the REST client's markets."""
        cls = self.stream_class()
        assert cls is not None
        extra = self.ccxt_config()
        client = cls({"timeout": int(self.settings.timeout * 1000), "options": {**extra.pop("options", {})}, **extra})
        if self.settings.testnet:
            client.set_sandbox_mode(True)
        if self.settings.ws_url:
            self.point_stream_at(client, self.settings.ws_url)
        # The REST client's markets, so the stream's thread never asks REST (it has no budget). Not ccxt's
        # set_markets_from_exchange: it fails on helper options a venue left unset (Hyperliquid's HIP-3 tokens).
        source = self.client
        client.set_markets(source.markets, source.currencies)
        for helper in source.options.get("marketHelperProps") or ():
            if source.options.get(helper) is not None:
                client.options[helper] = source.options[helper]
        return client

    def _fresh(self, snap: Snapshot) -> str | None:
        """Why ``snap`` cannot be served (None: it can)."""
        if not snap.live:
            return f"the websocket is down ({snap.error})" if snap.error else "the websocket has not spoken yet"
        if snap.received is None or time.monotonic() - snap.received > self.settings.stream_stale_after:
            return f"no websocket message for {self.settings.stream_stale_after:g} s"
        return None

    def _use(self, key: tuple[str, ...], source: str) -> None:
        """Log when the source of ``key``'s data changes (once per change, not per call)."""
        if self._sources.get(key) != source:
            previous = self._sources.get(key)
            self._sources[key] = source
            level = logging.WARNING if previous == "websocket" else logging.INFO
            log.log(level, "%s: %s %s by %s", self.name, key[0], " ".join(key[1:]), source)

    def _streamed_bars(
        self, symbol: str, timeframe: str, limit: int | None
    ) -> list[tuple[int, tuple[float, ...]]] | None:
        """The last ``limit`` closed bars from the websocket (holes filled over REST), or None: poll instead."""
        from tradekit.data import timeframe_to_ns

        stream = self._market_stream("watchOHLCV")
        if stream is None:
            return None
        step_ms = timeframe_to_ns(timeframe) // 1_000_000
        key = stream.watch_bars(symbol, timeframe)
        snap = stream.snapshot(key)
        why = self._fresh(snap)
        if why is None and not snap.candles:
            why = "no candle received yet"
        if why is None:
            forming = max(snap.candles)
            if self.client.milliseconds() >= forming + step_ms + CLOSE_GRACE_MS and (snap.received_ms or 0) < (
                forming + step_ms
            ):
                why = "no candle since the last one's period ended"
        if why is not None:
            self._use(key, f"REST polling: {why}")
            return None
        book = self._books.get(key)
        if book is None:
            book = self._books[key] = BarBook(step_ms)
        # The latest candle is still forming: only those before it are closed.
        book.add({t: v for t, v in snap.candles.items() if t < forming})
        wanted = limit or STREAM_HISTORY
        missing = book.missing(forming, wanted)
        if missing:
            gap = bool(book.bars) and min(book.bars) < missing[0]  # else: the history before the first candle
            since = datetime.fromtimestamp(missing[0] / 1000, UTC)
            count = (forming - missing[0]) // step_ms
            rows = self._polled_bars(symbol, timeframe, since, count)
            wanted_stamps = set(missing)
            book.add({t: v for t, v in rows if t in wanted_stamps})
            book.asked(missing)
            if gap:
                found = sum(1 for t, _ in rows if t in wanted_stamps)
                log.info(
                    "%s: %s %s: %d bars the websocket missed, backfilled over REST", self.name, symbol, timeframe, found
                )
        self._use(key, "websocket")
        return book.before(forming, limit)

    def _streamed_price(self, symbol: str) -> Decimal | None:
        """The websocket ticker's price when it is live and fresh, else None."""
        stream = self._market_stream("watchTicker")
        if stream is None:
            return None
        key = stream.watch_price(symbol)
        snap = stream.snapshot(key)
        why = self._fresh(snap)
        if why is None and snap.price is None:
            why = "no price received yet"
        if why is not None:
            self._use(key, f"REST polling: {why}")
            return None
        self._use(key, "websocket")
        return decimal_or_none(snap.price)

    # -- Exchange: the account ---------------------------------------------------------------------

    def balances(self) -> dict[str, Balance]:
        """Cash per currency (total and free) from ccxt's balance."""
        self.require_credentials("reading balances")
        raw = self.read("balances", self.client.fetch_balance)
        totals = raw.get("total") or {}
        frees = raw.get("free") or {}
        result: dict[str, Balance] = {}
        for currency, total in totals.items():
            amount = decimal_or_none(total)
            if amount is None:
                continue
            free = decimal_or_none(frees.get(currency))
            result[currency] = Balance(currency=currency, total=amount, free=free if free is not None else amount)
        return result

    def positions(self) -> dict[str, Position]:
        """Open derivative positions, signed (short is negative)."""
        if not type(self).capabilities.positions:
            return {}
        self.require_credentials("reading positions")
        raw = self.read("positions", self.client.fetch_positions)
        result: dict[str, Position] = {}
        for item in raw:
            contracts = decimal_or_none(item.get("contracts")) or Decimal(0)
            if contracts == 0:
                continue
            signed = -contracts if item.get("side") == "short" else contracts
            result[item["symbol"]] = Position(
                symbol=item["symbol"],
                quantity=signed,
                average_price=decimal_or_none(item.get("entryPrice")) or Decimal(0),
            )
        return result

    # -- Exchange: orders --------------------------------------------------------------------------

    def submit_order(self, order: Order) -> None:
        """Check ``order`` against the venue's steps, send it once, and queue its acknowledgement.

        Never retried here: a retryable failure is raised for the engine's
        broker, which looks the order up before sending it again.
        """
        self.require_credentials("sending orders")
        market = self._market(order.symbol, InvalidOrder)
        instrument = instrument_from_market(market, int(self.client.precisionMode))
        reference = (
            None if order.price is not None or order.trigger_price is not None else self.market_price(order.symbol)
        )
        check_order(order, instrument, reference)
        venue_id = self._client_ids.to_venue(order.client_order_id)
        tracked = self._tracker.track(order, venue_id, self.client.milliseconds() - 1000)
        kind, side, amount, price, params = self.order_arguments(order, instrument, venue_id)
        try:
            data = self.call(
                "submit_order", lambda: self.client.create_order(order.symbol, kind, side, amount, price, params)
            )
        except OrderRejected as error:
            # The venue refused it outright: nothing rests, nothing more will be reported.
            tracked.reported = OrderStatus.REJECTED
            raise error
        now = datetime.now(UTC)
        if data.get("status") == "rejected":
            tracked.reported = OrderStatus.REJECTED
            reason = str((data.get("info") or {}).get("error") or "refused by the venue")
            raise OrderRejected(f"{self.name} submit_order: {reason}", venue_message=reason)
        self._tracker.acknowledge(tracked, now, data.get("id"))
        if order.type is OrderType.MARKET or order.time_in_force is not TimeInForce.GTC:
            self._last_refresh = 0.0  # it has filled (or died) already: the engine's drain right after sees how

    def cancel_order(self, order: Order) -> None:
        """Ask the venue to cancel; the CANCELLED event follows from the next poll, after any fill that raced it."""
        self.require_credentials("cancelling orders")
        venue_id = self._client_ids.to_venue(order.client_order_id)
        tracked = self._tracker.get(order.client_order_id)
        try:
            self.read("cancel_order", lambda: self.cancel_order_data(order, venue_id, tracked))
        finally:
            if tracked is not None:
                # Gone or going: the next poll looks at once and reports how it ended (after its fills).
                tracked.cancel_requested = True
                self._last_refresh = 0.0

    def fetch_order(self, client_order_id: str, symbol: str) -> Order | None:
        """The venue's view of one order by client order id; None when the venue does not know it.

        An open order this process did not send (a run taken up after a
        restart) is followed from here on, its fills so far taken as known.
        """
        self.require_credentials("looking orders up")
        venue_id = self._client_ids.to_venue(client_order_id)
        tracked = self._tracker.get(client_order_id)
        data = self.read("fetch_order", lambda: self._fetch_or_none(venue_id, symbol, tracked))
        if data is None:
            return None
        view = order_from_ccxt(
            data, client_order_id, sent=tracked.order if tracked else None, direction=self.trigger_direction(data)
        )
        if tracked is None and view.status.is_open:
            adopted = self._tracker.track(view, venue_id, self.client.milliseconds(), filled=view.filled_quantity)
            self._tracker.learn_exchange_id(adopted, view.exchange_order_id)
            if adopted.reported is OrderStatus.NEW:
                adopted.reported = OrderStatus.ACCEPTED
        elif tracked is not None:
            if (
                view.exchange_order_id
                and tracked.exchange_order_id
                and view.exchange_order_id != tracked.exchange_order_id
            ):
                self._tracker.repoint(tracked, view.exchange_order_id)
            # A lookup after a lost reply is how an order's acknowledgement may arrive: queue what it shows.
            self._tracker.settle(tracked, view, datetime.now(UTC))
        return view

    def resume_order(self, order: Order, fills: Sequence[Fill]) -> Order | None:
        """Take up an order of a run that died, from its journal: the fills made while it was down are reported.

        The order is looked up by its client order id and followed as if this
        process had sent it, with the journal's fills as reported already (by
        trade id). The next poll reads the account's trades of the symbol
        since the order was created and reports those of the order that are
        not among ``fills``, then how it ended (filled, cancelled, expired),
        whether it is still open or left the book while the run was down.
        """
        self.require_credentials("looking orders up")
        venue_id = self._client_ids.to_venue(order.client_order_id)
        first = min((fill.timestamp for fill in fills), default=None)
        starts = [moment for moment in (order.created_at, first) if moment is not None]
        # A minute early: the venue's clock and the journal's may disagree; trades are matched by order id.
        since_ms = int(min(starts).timestamp() * 1000) - 60_000 if starts else self.client.milliseconds() - 86_400_000
        # Followed before it is looked up: the lookup learns what the venue calls it (a triggered stop's new order).
        tracked = self._tracker.take_up(order, venue_id, since_ms, fills)
        self._trades_from.include(order.symbol, since_ms)
        try:
            data = self.read("fetch_order", lambda: self._fetch_or_none(venue_id, order.symbol, tracked))
        except ExchangeError:
            self._tracker.forget(order.client_order_id)
            raise
        if data is None:
            self._tracker.forget(order.client_order_id)
            return None
        view = order_from_ccxt(data, order.client_order_id, sent=order, direction=self.trigger_direction(data))
        self._tracker.learn_exchange_id(tracked, view.exchange_order_id)
        self._tracker.settle(tracked, view, datetime.now(UTC))
        self._last_refresh = 0.0  # the next poll reads the trades
        return view

    def _fetch_or_none(self, venue_id: str, symbol: str, tracked: Tracked | None) -> dict[str, Any] | None:
        import ccxt

        try:
            return self.fetch_order_data(venue_id, symbol, tracked)
        except ccxt.OrderNotFound:
            return None

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Every resting order (of ``symbol``, or all), with tradekit's client order ids."""
        self.require_credentials("listing open orders")
        result = []
        for data in self.read("open_orders", lambda: self.open_orders_data(symbol)):
            client_order_id = self._client_ids.from_venue(data.get("clientOrderId")) or f"venue:{data.get('id')}"
            tracked = self._tracker.get(client_order_id)
            result.append(
                order_from_ccxt(
                    data,
                    client_order_id,
                    sent=tracked.order if tracked else None,
                    direction=self.trigger_direction(data),
                )
            )
        return result

    def poll_events(self) -> list[OrderUpdate | Fill]:
        """Acknowledgements queued on submit, then (at most every ``refresh_interval``) what polling the venue shows."""
        unfinished = self._tracker.unfinished()
        now = time.monotonic()
        if unfinished and now - self._last_refresh >= self.settings.refresh_interval:
            self._last_refresh = now
            self._refresh(unfinished)
        return self._tracker.drain()

    def _collect_fills(self, symbol: str, group: list[Tracked]) -> None:
        """Report the account's trades of ``symbol`` that belong to tracked orders, read on from the last poll."""
        since = self._trades_from.start(symbol, min(t.since_ms for t in group))
        for page in read_pages(
            lambda start: self.read("poll_events", lambda: self.trades_page(symbol, start)), since, PAGES_PER_POLL
        ):
            self._book(symbol, page.trades)
            if page.next_since is None:
                self._trades_from.caught_up(symbol, self.client.milliseconds())
                return
            self._trades_from.stopped_at(symbol, page.next_since)

    def _collect_order_fills(self, tracked: Tracked, counted: Decimal) -> None:
        """Report the trades of one order the account's trades did not show: the venue counts ``counted`` filled.

        A venue may count a fill a moment before it lists the trade: the gap
        is looked at again each poll, and named in the log once it lasts.
        """
        self._book(tracked.symbol, self.read("poll_events", lambda: self.order_trades_data(tracked)))
        if tracked.done or tracked.filled >= counted:
            tracked.short_polls = 0
            return
        tracked.short_polls += 1
        if tracked.short_polls % _SHORT_POLLS_NAMED == 0:
            log.warning(
                "%s counts %s of order %s filled, but its trades show %s, after %d polls; looking again next poll",
                self.venue_name or self.name,
                counted,
                tracked.order.client_order_id,
                tracked.filled,
                tracked.short_polls,
            )

    def _book(self, symbol: str, trades: Sequence[dict[str, Any]]) -> None:
        """Report each trade that belongs to a tracked, unfinished order (once: by trade id), oldest first."""
        for trade in sorted(trades, key=lambda t: (t.get("timestamp") or 0, str(t.get("id")))):
            owner = self._tracker.by_exchange_id(trade.get("order"))
            if owner is not None and not owner.done:
                self._tracker.add_fill(owner, fill_from_trade(trade, owner.order.client_order_id, symbol))

    def _resting(self, symbol: str) -> dict[str, Decimal | None]:
        """The venue's resting orders of ``symbol``: venue order id -> the quantity it counts filled."""
        orders = self.read("poll_events", lambda: self.open_orders_data(symbol))
        return {str(data.get("id")): decimal_or_none(data.get("filled")) for data in orders}

    def _refresh(self, unfinished: list[Tracked]) -> None:
        """The final state of orders that left the book, then fills from the account's trades, then settle.

        The orders are looked up before the trades are read, so every fill a
        venue counts in an order's state is among the trades read after; a
        lookup may also give a triggered stop its new id, which its fills
        carry. An order the venue counts more filled than its trades read so
        far showed (outside the venue's time window or page) has its own
        trades read.
        """
        at = datetime.now(UTC)
        by_symbol: dict[str, list[Tracked]] = {}
        for tracked in unfinished:
            by_symbol.setdefault(tracked.symbol, []).append(tracked)
        for symbol, group in by_symbol.items():
            for tracked in group:
                if tracked.exchange_order_id is None:
                    # The acknowledgement was lost: learn the venue's id before matching its trades.
                    self.fetch_order(tracked.order.client_order_id, symbol)
            resting = self._resting(symbol)
            gone: list[tuple[Tracked, Order | None]] = []
            counted: list[tuple[Tracked, Decimal | None]] = []
            for tracked in group:
                if tracked.done:
                    continue
                if tracked.exchange_order_id in resting and not tracked.cancel_requested:
                    self._tracker.acknowledge(tracked, at)
                    counted.append((tracked, resting.get(tracked.exchange_order_id or "")))
                else:
                    view = self.fetch_order(tracked.order.client_order_id, symbol)
                    gone.append((tracked, view))
                    counted.append((tracked, view.filled_quantity if view is not None else None))
            self._collect_fills(symbol, group)
            for tracked, filled in counted:
                if filled is not None and filled > tracked.filled and not tracked.done:
                    self._collect_order_fills(tracked, filled)
            for tracked, view in gone:
                if view is not None:
                    self._tracker.settle(tracked, view, at)
                elif tracked.reported is not OrderStatus.NEW:
                    self._tracker.finish(tracked, OrderStatus.CANCELLED, at, "the venue no longer knows the order")
                # An order never acknowledged and unknown to the venue: the broker decides about resending.
