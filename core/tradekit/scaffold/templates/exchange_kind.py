"""The template of an exchange plugin: a complete venue on tradekit's simulator, to be replaced by real calls."""

from __future__ import annotations

from tradekit.scaffold.templates import KindTemplate

SOURCE = '''\
"""``${name}``: a tradekit exchange.

It works as generated: its market is simulated (seeded, so tests repeat) and
its orders fill on tradekit's simulated venue, which validates and fills them
as a venue does. To connect a real venue, replace each body marked
``REPLACE`` with calls to its API: keep the signatures, carry the client order
id to the venue, map the venue's errors onto :mod:`tradekit.errors`
(``ExchangeUnavailable`` and ``RateLimited`` may be retried, ``OrderRejected``
and its kin may not), and make ``capabilities`` say what the venue really
supports: ``tests/test_conformance.py`` tests exactly what it declares.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, SecretStr, field_validator, model_validator
from tradekit.domain import Instrument, OrderType, TriggerDirection
from tradekit.errors import ConfigError
from tradekit.plugin import Capabilities, Exchange, PluginSettings

if TYPE_CHECKING:
    from tradekit.domain import Balance, BarSeries, Fill, Order, OrderUpdate, Position
    from tradekit.sim import SimulatedVenue


class ${class_name}Settings(PluginSettings):
    """Settings of ``${name}``: the ``[plugins.exchange.${name}]`` table of tradekit.toml."""

    symbols: tuple[str, ...] = Field(
        default=("BTC/USDT",),
        min_length=1,
        description="Symbols the venue lists (BASE/QUOTE); the first ones traded when the user names none.",
    )
    seed: int = Field(default=42, description="Seed of the simulated market: the same seed, the same prices.")
    bars: int = Field(default=20_000, ge=100, le=5_000_000, description="Length of the simulated market.")
    history: int = Field(default=500, ge=1, description="Bars already closed when the exchange connects.")
    start_price: float = Field(default=30_000.0, gt=0, description="First price of the simulated market.")
    tick_size: Decimal = Field(default=Decimal("0.01"), gt=0, description="Price step of every symbol.")
    lot_size: Decimal = Field(default=Decimal("0.00001"), gt=0, description="Quantity step of every symbol.")
    min_notional: Decimal = Field(default=Decimal(5), ge=0, description="Smallest order value accepted.")
    maker_fee: Decimal = Field(default=Decimal("0.001"), ge=0, lt=1, description="Maker fee, 0.001 = 0.1%.")
    taker_fee: Decimal = Field(default=Decimal("0.001"), ge=0, lt=1, description="Taker fee rate.")
    cash: Decimal = Field(default=Decimal(10_000), gt=0, description="Quote cash of the simulated account.")
    api_key: SecretStr | None = Field(default=None, description="API key of the real venue (not used yet).")
    api_secret: SecretStr | None = Field(default=None, description="API secret of the real venue.")

    @field_validator("symbols")
    @classmethod
    def _base_and_quote(cls, symbols: tuple[str, ...]) -> tuple[str, ...]:
        for symbol in symbols:
            base, _, quote = symbol.partition("/")
            if not base or not quote:
                raise ValueError(f"symbol {symbol!r} must look like BASE/QUOTE, e.g. BTC/USDT")
        return symbols

    @model_validator(mode="after")
    def _history_within_market(self) -> ${class_name}Settings:
        if self.history >= self.bars:
            raise ValueError(f"history ({self.history}) must be shorter than bars ({self.bars})")
        return self


class ${class_name}(Exchange):
    """A spot venue with a simulated, seeded market and the simulated venue's order handling."""

    Settings = ${class_name}Settings
    settings: ${class_name}Settings
    # What the simulated venue supports. REPLACE with what your venue supports.
    capabilities = Capabilities(
        order_types=frozenset(OrderType),
        trigger_directions=frozenset(TriggerDirection),
        post_only=True,
        reduce_only=True,
        cancel=True,
        client_order_id=True,
        simulated=True,
        timeframes=("1m", "5m", "15m", "1h", "4h", "1d"),
    )

    def __init__(
        self,
        settings: ${class_name}Settings | None = None,
        *,
        name: str | None = None,
    ) -> None:
        super().__init__(settings, name=name)
        self._markets: dict[tuple[str, str], BarSeries] = {}
        self._data: dict[str, BarSeries] = {}
        self._revealed: dict[tuple[str, str], int] = {}
        self._timeframe = "1m"
        self._venue: SimulatedVenue | None = None

    # -- connection -------------------------------------------------------------------

    def connect(self) -> None:
        """REPLACE: open a session and log in with ``api_key``/``api_secret``."""

    def close(self) -> None:
        """REPLACE: close the session."""

    # -- market data -------------------------------------------------------------------

    def default_symbols(self) -> tuple[str, ...]:
        """The configured symbols."""
        return self.settings.symbols

    def fetch_bars(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int | None = None
    ) -> BarSeries:
        """Closed bars of ``symbol``, oldest first: ``history`` of them, then one more per call.

        REPLACE with the venue's candles endpoint (closed candles only).
        """
        self._timeframe = timeframe
        market = self._market(symbol, timeframe)
        key = (symbol, timeframe)
        if key not in self._revealed:
            revealed = self._closed_before_connecting(symbol, timeframe)
        else:
            revealed = min(self._revealed[key] + 1, len(market))
            if revealed > self._revealed[key]:
                self._walk(market, revealed - 1)  # resting orders meet the bar that just closed
            self._revealed[key] = revealed
        start = 0 if since is None else _index_of(market, since)
        if limit is not None:
            start = max(start, revealed - limit)
        return market.slice(min(start, revealed), revealed)

    def fetch_history(
        self, symbol: str, timeframe: str, start: datetime | None, end: datetime | None
    ) -> BarSeries:
        """Every closed bar in ``[start, end)``, for backtests. REPLACE with paged candle requests."""
        market = self._market(symbol, timeframe)
        lo = 0 if start is None else _index_of(market, start)
        hi = len(market) if end is None else _index_of(market, end)
        return market.slice(lo, hi)

    def use_data(self, data: dict[str, BarSeries]) -> None:
        """A backtest on data files: trade those bars instead of the simulated market."""
        self._data = dict(data)

    def latest_price(self, symbol: str) -> Decimal | None:
        """The close of the last closed bar (None for a symbol it does not list). REPLACE with the ticker."""
        if symbol not in self.settings.symbols:
            return None
        revealed = self._closed_before_connecting(symbol, self._timeframe)
        close = float(self._market(symbol, self._timeframe).close[revealed - 1])
        return Decimal(repr(close))

    # -- rules and fees ----------------------------------------------------------------

    def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        """Each symbol's tick, lot and minimum. REPLACE with the venue's market list."""
        unknown = [symbol for symbol in symbols if symbol not in self.settings.symbols]
        if unknown:
            listed = ", ".join(self.settings.symbols)
            raise ConfigError(
                f"{self.name} does not list {', '.join(unknown)}; it lists {listed}",
                hint=f"add the symbol to `symbols` in [plugins.exchange.{self.name}]",
            )
        result = {}
        for symbol in symbols:
            base, _, quote = symbol.partition("/")
            result[symbol] = Instrument(
                symbol=symbol,
                base=base,
                quote=quote.split(":")[0],
                tick_size=self.settings.tick_size,
                lot_size=self.settings.lot_size,
                min_notional=self.settings.min_notional,
            )
        return result

    def fees(self, symbol: str) -> tuple[Decimal, Decimal]:
        """(maker, taker) fee rates. REPLACE with the account's fee tier."""
        return self.settings.maker_fee, self.settings.taker_fee

    # -- orders and account ------------------------------------------------------------

    def submit_order(self, order: Order) -> None:
        """Send ``order`` at the last close. REPLACE with the venue's order endpoint.

        The venue answers a refusal with a REJECTED update (see :meth:`poll_events`);
        a real API that refuses at once raises an ``OrderRejected`` with its message.
        """
        venue = self._venue_for(order.symbol)
        price = self.latest_price(order.symbol)
        market_price = venue.instruments[order.symbol].round_price(price) if price is not None else None
        # A copy: what the caller holds changes only through the events it polls, as with a real venue.
        venue.submit(order.model_copy(), datetime.now(UTC), market_price)

    def cancel_order(self, order: Order) -> None:
        """Cancel ``order``; raises ``OrderNotFound`` if it is not open. REPLACE with the cancel endpoint."""
        self._venue_for(order.symbol).cancel(order.client_order_id, datetime.now(UTC))

    def fetch_order(self, client_order_id: str, symbol: str) -> Order | None:
        """The venue's view of one order, by its client order id. REPLACE with the order lookup."""
        return self._venue_for(symbol).fetch_order(client_order_id)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Resting orders. REPLACE with the open-orders endpoint."""
        return self._venue_for(symbol).open_orders(symbol)

    def balances(self) -> dict[str, Balance]:
        """Cash and holdings per currency. REPLACE with the balance endpoint."""
        return self._venue_for(None).balances()

    def positions(self) -> dict[str, Position]:
        """What is held per symbol. REPLACE with the positions endpoint (derivatives venues)."""
        return self._venue_for(None).positions()

    def poll_events(self) -> list[OrderUpdate | Fill]:
        """Order updates and fills since the last call, oldest first.

        REPLACE with the venue's user-data stream (or by polling its orders and trades).
        """
        return self._venue_for(None).poll_events()

    # -- the simulation behind it (delete when the calls above are real) -----------------

    def _market(self, symbol: str, timeframe: str) -> BarSeries:
        if symbol in self._data:
            return self._data[symbol]
        key = (symbol, timeframe)
        if key not in self._markets:
            from tradekit.data import simulate_bars

            # Each symbol gets its own prices: a seed of its own.
            offset = sum(ord(character) for character in symbol)
            self._markets[key] = simulate_bars(
                seed=self.settings.seed + offset,
                bars=self.settings.bars,
                timeframe=timeframe,
                start_price=self.settings.start_price,
                symbol=symbol,
            )
        return self._markets[key]

    def _venue_for(self, symbol: str | None) -> SimulatedVenue:
        if self._venue is None:
            from tradekit.sim import FeeSchedule, SimulatedVenue

            listed = self.instruments(self.settings.symbols)
            quotes = {instrument.quote for instrument in listed.values()}
            self._venue = SimulatedVenue(
                listed,
                dict.fromkeys(quotes, self.settings.cash),
                FeeSchedule(maker=self.settings.maker_fee, taker=self.settings.taker_fee),
                name=self.name,
            )
            for listed_symbol in listed:
                self._closed_before_connecting(listed_symbol, self._timeframe)
        return self._venue

    def _closed_before_connecting(self, symbol: str, timeframe: str) -> int:
        """How many bars of ``symbol`` have closed; at first, ``history`` (the venue never walks those)."""
        key = (symbol, timeframe)
        if key not in self._revealed:
            self._revealed[key] = min(self.settings.history, len(self._market(symbol, timeframe)))
        return self._revealed[key]

    def _walk(self, market: BarSeries, index: int) -> None:
        venue = self._venue
        if venue is None or market.symbol not in venue.instruments:
            return
        venue.process_bar(
            market.symbol,
            datetime.now(UTC),
            float(market.open[index]),
            float(market.high[index]),
            float(market.low[index]),
            float(market.close[index]),
            float(market.volume[index]),
        )


def _index_of(market: BarSeries, moment: datetime) -> int:
    """The index of the first bar of ``market`` that opens at or after ``moment``."""
    return int(np.searchsorted(market.timestamps, int(moment.timestamp() * 1e9), side="left"))
'''

BEHAVIOUR_TEST = '''\
"""What ``${name}`` does with orders and bars, and that tradekit finds it by its entry point."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tradekit.domain import Fill, Order, OrderStatus, OrderType, OrderUpdate, Side
from tradekit.errors import ConfigError, OrderNotFound
from tradekit.registry import Registry

from ${package}.exchange import ${class_name}, ${class_name}Settings

SYMBOL = "BTC/USDT"


@pytest.fixture
def exchange() -> ${class_name}:
    venue = ${class_name}(${class_name}Settings(history=50, cash=Decimal(100_000)))
    venue.connect()
    return venue


def order(client_order_id: str, side: Side, quantity: str, price: str | None = None) -> Order:
    kind = OrderType.MARKET if price is None else OrderType.LIMIT
    return Order(
        client_order_id=client_order_id,
        symbol=SYMBOL,
        side=side,
        type=kind,
        quantity=Decimal(quantity),
        price=None if price is None else Decimal(price),
    )


def test_shows_history_then_one_more_closed_bar_per_call(exchange: ${class_name}) -> None:
    first = exchange.fetch_bars(SYMBOL, "1m")
    second = exchange.fetch_bars(SYMBOL, "1m", limit=10)

    assert len(first) == 50
    assert len(second) == 10
    assert second.timestamps[-1] > first.timestamps[-1]
    assert list(second.timestamps[:-1]) == list(first.timestamps[-9:])


def test_a_market_buy_fills_at_the_last_close_and_pays_the_taker_fee(exchange: ${class_name}) -> None:
    last_close = exchange.fetch_bars(SYMBOL, "1m").close[-1]
    exchange.submit_order(order("buy-1", Side.BUY, "0.5"))

    events = exchange.poll_events()
    fills = [event for event in events if isinstance(event, Fill)]
    assert [event.status for event in events if isinstance(event, OrderUpdate)][0] is OrderStatus.ACCEPTED
    assert len(fills) == 1
    assert fills[0].price == Decimal(repr(float(last_close)))
    assert fills[0].fee == (fills[0].price * Decimal("0.5") * Decimal("0.001")).quantize(Decimal("1e-12"))
    assert exchange.balances()["BTC"].total == Decimal("0.5")
    fetched = exchange.fetch_order("buy-1", SYMBOL)
    assert fetched is not None and fetched.status is OrderStatus.FILLED


def test_a_limit_far_below_the_market_rests_until_cancelled(exchange: ${class_name}) -> None:
    exchange.fetch_bars(SYMBOL, "1m")
    exchange.submit_order(order("bid-1", Side.BUY, "10", price="1.00"))
    exchange.fetch_bars(SYMBOL, "1m")  # a new bar passes without reaching the price

    assert [o.client_order_id for o in exchange.open_orders(SYMBOL)] == ["bid-1"]
    exchange.cancel_order(exchange.open_orders(SYMBOL)[0])
    statuses = [event.status for event in exchange.poll_events() if isinstance(event, OrderUpdate)]
    assert statuses == [OrderStatus.ACCEPTED, OrderStatus.CANCELLED]
    assert exchange.open_orders() == []
    with pytest.raises(OrderNotFound):
        exchange.cancel_order(order("bid-1", Side.BUY, "10", price="1.00"))


def test_an_order_off_the_lot_is_rejected_with_the_reason(exchange: ${class_name}) -> None:
    exchange.submit_order(order("odd-1", Side.BUY, "0.000001"))

    updates = [event for event in exchange.poll_events() if isinstance(event, OrderUpdate)]
    assert [update.status for update in updates] == [OrderStatus.REJECTED]
    assert updates[0].reason is not None and "lot" in updates[0].reason


def test_refuses_a_symbol_it_does_not_list(exchange: ${class_name}) -> None:
    with pytest.raises(ConfigError, match="does not list ETH/USDT"):
        exchange.instruments(["ETH/USDT"])
    exchange.submit_order(order("eth-1", Side.BUY, "1").model_copy(update={"symbol": "ETH/USDT"}))

    updates = [event for event in exchange.poll_events() if isinstance(event, OrderUpdate)]
    assert [update.status for update in updates] == [OrderStatus.REJECTED]
    assert updates[0].reason is not None and "unknown symbol" in updates[0].reason


def test_settings_refuse_a_symbol_without_a_quote() -> None:
    with pytest.raises(ValueError, match="BASE/QUOTE"):
        ${class_name}Settings.model_validate({"symbols": ["BTC"]})


def test_the_entry_point_finds_this_class() -> None:
    # Needs the distribution installed: python -m pip install -e ".[test]"
    assert Registry().load_class("exchange", "${name}") is ${class_name}
'''

TEMPLATE = KindTemplate(
    kind="exchange",
    suite="ExchangeConformance",
    summary="A tradekit exchange: a simulated spot venue, ready to be connected to a real API.",
    source=SOURCE,
    behaviour_test=BEHAVIOUR_TEST,
    conformance_settings='{"history": 100, "cash": "100000"}',
    settings_rows=(
        ("symbols", '["BTC/USDT"]', "Symbols traded when the user names none (BASE/QUOTE)."),
        ("seed", "42", "Seed of the simulated market: the same seed, the same prices."),
        ("bars", "20000", "Length of the simulated market."),
        ("history", "500", "Bars already closed when the exchange connects."),
        ("start_price", "30000.0", "First price of the simulated market."),
        ("tick_size", "0.01", "Price step of every symbol."),
        ("lot_size", "0.00001", "Quantity step of every symbol."),
        ("min_notional", "5", "Smallest order value accepted."),
        ("maker_fee", "0.001", "Maker fee rate (0.001 = 0.1%)."),
        ("taker_fee", "0.001", "Taker fee rate."),
        ("cash", "10000", "Quote cash of the simulated account."),
        ("api_key", "(none)", "API key of the real venue (secret; unused while simulated)."),
        ("api_secret", "(none)", "API secret of the real venue (secret)."),
    ),
    dependencies=("numpy>=1.26", "pydantic>=2.7"),
    usage="""\
Backtest on its market (its rules and fees), then a dry run on its prices:

```
tradekit backtest --exchange ${name} --strategy sma_cross
tradekit run --exchange ${name} --strategy sma_cross --max-bars 50
```

`tradekit run --live` sends real orders, and refuses an exchange whose `capabilities` say
`simulated=True`, as generated: set it to False once the methods marked REPLACE call your venue.
Keys go in the environment, never in a file you commit:
`TRADEKIT_PLUGINS__EXCHANGE__${env_name}__API_KEY=...`.""",
    try_command="tradekit backtest --exchange ${name} --strategy sma_cross",
)
