"""Dry runs and live runs: bars as they close, orders to a real exchange plugin, never an order sent twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from tradekit.domain.bars import BarSeries
from tradekit.domain.events import EventKind, NotifierEvent
from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import Fill, Order, OrderIntent, OrderStatus, OrderType, OrderUpdate, Side
from tradekit.domain.portfolio import Balance
from tradekit.domain.run import RunInfo, RunMode
from tradekit.engine.brokers import ExchangeBroker
from tradekit.engine.core import Engine
from tradekit.engine.live import run_live
from tradekit.errors import ConfigError, ExchangeUnavailable, InsufficientFunds
from tradekit.hooks import HookFacade, new_plugin_manager
from tradekit.hookspecs import hookimpl
from tradekit.journal import Journal
from tradekit.plugin import Capabilities, Exchange, Plugin, Strategy, StrategyContext
from tradekit.registry import Registry
from tradekit.secrets import register_secret
from tradekit.session import prepare_live
from tradekit.session import run_live as run_session_live
from tradekit.settings import load_settings
from tradekit.sim import FeeSchedule, SimulatedVenue

D = Decimal
SYMBOL = "BTC/USDT"
INSTRUMENT = Instrument(symbol=SYMBOL, base="BTC", quote="USDT", tick_size=D("0.01"), lot_size=D("0.001"))
RUN_ID = "abcdef0123456789" * 2


class Trader(Strategy):
    """Buys 1 on the second bar it is called for and sells it on the fourth; records what it sees."""

    def __init__(self, settings: Any = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name or "trader")
        self.calls: list[tuple[int, datetime, int, int]] = []
        self.sent: list[str | None] = []
        self.updates: list[tuple[str, OrderStatus, str | None]] = []
        self.fills: list[Fill] = []

    def on_bar(self, ctx: StrategyContext) -> None:
        history = ctx.history()
        self.calls.append((ctx.index, ctx.now, len(history), int(history.timestamps[-1])))
        side = {2: Side.BUY, 4: Side.SELL}.get(len(self.calls))
        if side is not None:
            self.sent.append(ctx.submit(OrderIntent(symbol=ctx.symbols[0], side=side, quantity=D("1"))))

    def on_order_update(self, ctx: StrategyContext, order: Order) -> None:
        self.updates.append((order.client_order_id, order.status, order.reason))

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        self.fills.append(fill)


class ScriptedExchange(Exchange):
    """A real exchange as far as the engine can tell: bars from an array, orders on a venue of its own.

    Each call of :meth:`fetch_bars` after the first lets one more bar close
    (and the venue fill what rests during it). ``plan`` scripts what each
    submission does: ``ok``; ``lost_reply`` (the venue takes the order, the
    reply is lost); ``down`` (the venue never sees it); ``refuse`` (a
    non-retryable refusal).
    """

    capabilities: ClassVar[Capabilities] = Capabilities(order_types=frozenset(OrderType), simulated=False)
    bars: ClassVar[BarSeries]
    history: ClassVar[int] = 3

    def __init__(self, settings: Any = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name or "scripted")
        self.venue = SimulatedVenue(
            {SYMBOL: INSTRUMENT}, {"USDT": D("10000")}, FeeSchedule(maker=D("0.001"), taker=D("0.001"))
        )
        self.revealed = 0
        self.plan: list[str] = []
        self.submissions: list[str] = []
        self.lookups: list[str] = []

    def default_symbols(self) -> tuple[str, ...]:
        return (SYMBOL,)

    def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        return {symbol: INSTRUMENT for symbol in symbols}

    def fetch_bars(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int | None = None
    ) -> BarSeries:
        bars = self.bars
        if self.revealed == 0:
            self.revealed = self.history
        elif self.revealed < len(bars):
            i = self.revealed
            self.revealed += 1
            self.venue.process_bar(
                symbol, bars.datetime_at(i), bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i]
            )
        start = 0 if limit is None else max(0, self.revealed - limit)
        return bars.slice(start, self.revealed)

    def _now(self) -> datetime:
        return self.bars.datetime_at(self.revealed - 1)

    def submit_order(self, order: Order) -> None:
        step = self.plan.pop(0) if self.plan else "ok"
        self.submissions.append(order.client_order_id)
        if step == "down":
            raise ExchangeUnavailable("connection reset by peer")
        if step == "refuse":
            raise InsufficientFunds("order refused", venue_message="account has insufficient balance (-2010)")
        price = INSTRUMENT.round_price(D(repr(float(self.bars.close[self.revealed - 1]))))
        self.venue.submit(order, self._now(), price)
        if step == "lost_reply":
            raise ExchangeUnavailable("read timed out")

    def cancel_order(self, order: Order) -> None:
        self.venue.cancel(order.client_order_id, self._now())

    def fetch_order(self, client_order_id: str, symbol: str) -> Order | None:
        self.lookups.append(client_order_id)
        return self.venue.fetch_order(client_order_id)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return self.venue.open_orders(symbol)

    def balances(self) -> dict[str, Balance]:
        return self.venue.balances()

    def poll_events(self) -> list[OrderUpdate | Fill]:
        return self.venue.poll_events()


def walk(n: int = 12) -> BarSeries:
    from tradekit.domain.bars import BarSeries

    rng = np.random.default_rng(3)
    close = np.round(100 + np.cumsum(rng.normal(0, 0.5, n)), 2)
    open_ = np.concatenate([[100.0], close[:-1]])
    ts = 1_704_067_200_000_000_000 + 60_000_000_000 * np.arange(n, dtype=np.int64)
    return BarSeries(
        symbol=SYMBOL,
        timeframe="1m",
        timestamps=ts,
        open=open_,
        high=np.maximum(open_, close) + 0.1,
        low=np.minimum(open_, close) - 0.1,
        close=close,
        volume=np.full(n, 50.0),
    )


ScriptedExchange.bars = walk()


class ErrorWatcher(Plugin):
    """Hears exchange errors through the hooks."""

    def __init__(self) -> None:
        super().__init__(name="error_watcher")
        self.errors: list[tuple[str, str, str]] = []

    @hookimpl
    def tradekit_exchange_error(self, exchange: str, operation: str, error: Exception) -> None:
        self.errors.append((exchange, operation, type(error).__name__))


def live_engine(exchange: ScriptedExchange, *plugins: Plugin, resend_attempts: int = 2) -> Engine:
    """An engine that sends its orders to ``exchange`` (an ExchangeBroker), ``plugins`` on its hooks."""
    pm = new_plugin_manager()
    for plugin in plugins:
        pm.register(plugin, name=plugin.name)
    return Engine(
        run=RunInfo(
            run_id=RUN_ID, mode=RunMode.LIVE, exchange=exchange.name, strategies=("trader",), symbols=(SYMBOL,)
        ),
        broker=ExchangeBroker(exchange, resend_attempts=resend_attempts),
        hooks=HookFacade(pm),
        instruments=exchange.instruments([SYMBOL]),
        quote_currency="USDT",
        cash=exchange.balances()["USDT"].total,
    )


def trade_live(
    plan: list[str], *, resend_attempts: int = 2, max_bars: int = 5
) -> tuple[ScriptedExchange, Trader, Engine, ErrorWatcher]:
    """The live loop with an ExchangeBroker on a ScriptedExchange whose first submission follows ``plan``."""
    exchange = ScriptedExchange()
    exchange.plan = list(plan)
    strategy = Trader()
    watcher = ErrorWatcher()
    engine = live_engine(exchange, watcher, resend_attempts=resend_attempts)
    reason = run_live(engine, exchange, strategy, (SYMBOL,), "1m", venue=None, poll_interval=0, max_bars=max_bars)
    assert reason == f"reached --max-bars {max_bars}"
    return exchange, strategy, engine, watcher


@pytest.mark.parametrize("resend_attempts", [0, 2])
def test_a_lost_reply_is_looked_up_and_never_resent(resend_attempts: int) -> None:
    exchange, strategy, engine, _ = trade_live(["lost_reply"], resend_attempts=resend_attempts)
    buy = strategy.sent[0]
    assert buy is not None
    assert exchange.submissions.count(buy) == 1
    assert exchange.lookups == [buy]
    on_venue = exchange.venue.fetch_order(buy)
    assert on_venue is not None and on_venue.status is OrderStatus.FILLED
    assert [fill.client_order_id for fill in strategy.fills].count(buy) == 1
    assert engine.orders[buy].status is OrderStatus.FILLED
    assert OrderStatus.REJECTED not in {status for _, status, _ in strategy.updates}


def test_a_retryable_error_before_the_venue_saw_the_order_is_retried_once_looked_up() -> None:
    exchange, strategy, engine, watcher = trade_live(["down", "ok"])
    buy = strategy.sent[0]
    assert buy is not None
    assert exchange.submissions[:2] == [buy, buy]
    assert exchange.lookups == [buy]
    assert exchange.venue.fetch_order(buy) is not None
    assert [fill.client_order_id for fill in strategy.fills].count(buy) == 1
    assert engine.orders[buy].status is OrderStatus.FILLED
    assert watcher.errors == []  # the resend succeeded: nothing failed as far as the run is concerned


def test_a_refusal_is_not_retried_and_reaches_the_strategy_with_the_venue_reason() -> None:
    exchange, strategy, engine, watcher = trade_live(["refuse"])
    buy = strategy.sent[0]
    assert buy is not None
    assert exchange.submissions[0] == buy and exchange.submissions.count(buy) == 1
    assert exchange.lookups == []
    assert exchange.venue.fetch_order(buy) is None
    assert (buy, OrderStatus.REJECTED, "account has insufficient balance (-2010)") in strategy.updates
    assert engine.orders[buy].status is OrderStatus.REJECTED
    assert watcher.errors == [("scripted", "submit_order", "InsufficientFunds")]


def test_an_exchange_that_stays_down_gets_the_order_looked_up_after_every_attempt_then_refused() -> None:
    exchange, strategy, engine, watcher = trade_live(["down", "down", "down"], resend_attempts=2)
    buy = strategy.sent[0]
    assert buy is not None
    assert exchange.submissions[:3] == [buy] * 3 and exchange.lookups == [buy] * 3
    assert engine.orders[buy].status is OrderStatus.REJECTED
    assert exchange.venue.fetch_order(buy) is None
    assert watcher.errors == [("scripted", "submit_order", "ExchangeUnavailable")]


# --- through the registry and the session -------------------------------------------------------


def test_a_live_run_sends_real_orders_to_a_non_simulated_exchange(install_plugins: Any, tmp_path: Path) -> None:
    install_plugins(exchange={"tk_scripted": ScriptedExchange}, strategy={"tk_trader": Trader})
    settings = load_settings(
        None, {"exchange": "tk_scripted", "strategy": "tk_trader", "journal": tmp_path / "journal.sqlite3"}
    )
    plugins, symbols = prepare_live(settings, Registry(), origin="test", live=True)
    exchange, strategy = plugins.exchange, plugins.strategy
    assert isinstance(exchange, ScriptedExchange) and isinstance(strategy, Trader)
    result = run_session_live(settings, plugins, symbols, live=True, max_bars=6, poll_interval=0)

    assert result.run.mode is RunMode.LIVE and result.reason == "reached --max-bars 6"
    assert result.start_equity == D("10000")
    assert len(strategy.sent) == 2 and exchange.submissions == strategy.sent
    for client_order_id in strategy.sent:
        assert client_order_id is not None
        on_venue = exchange.venue.fetch_order(client_order_id)
        assert on_venue is not None and on_venue.status is OrderStatus.FILLED
    assert result.engine_stats.fills == 2
    assert exchange.venue.ledger.cash["USDT"] == D("10000") - sum(
        (f.side.sign * f.quantity * f.price + f.fee for f in strategy.fills), D(0)
    )
    assert result.position == {SYMBOL: D(0)}
    with Journal(settings.journal) as journal:
        [run] = journal.list_runs()
        assert run.mode is RunMode.LIVE and run.exchange == "tk_scripted" and run.fills == 2


def test_a_dry_run_on_paper_calls_the_strategy_on_each_new_bar_and_journals_as_it_goes(
    install_plugins: Any, tmp_path: Path
) -> None:
    journal_path = tmp_path / "journal.sqlite3"

    class DurableCheck(Trader):
        """Looks, from another connection, at what the journal holds right after its first fill."""

        committed: ClassVar[list[int]] = []

        def on_bar(self, ctx: StrategyContext) -> None:
            super().on_bar(ctx)
            if len(self.calls) == 3:
                with Journal(journal_path, create=False) as other:
                    [run] = other.list_runs(1)
                    self.committed.append(len(other.fills(run.run_id)))

    install_plugins(strategy={"tk_durable_check": DurableCheck})
    settings = load_settings(
        None,
        {
            "strategy": "tk_durable_check",
            "journal": journal_path,
            "plugins": {"exchange": {"paper": {"history": 50, "bars": 200, "tick_size": "0.01"}}},
        },
    )
    plugins, symbols = prepare_live(settings, Registry(), origin="test", live=False)
    strategy = plugins.strategy
    assert isinstance(strategy, DurableCheck)
    market = plugins.exchange.market(symbols[0])  # type: ignore[attr-defined]
    result = run_session_live(settings, plugins, symbols, live=False, max_bars=10, poll_interval=0)

    assert result.run.mode is RunMode.DRY_RUN and result.bars == 10
    assert [index for index, *_ in strategy.calls] == list(range(2, 12))
    stamps = [int(now.timestamp()) * 1_000_000_000 for _, now, _, _ in strategy.calls]
    assert stamps == market.timestamps[51:61].tolist()
    assert all(last == stamp for (_, _, _, last), stamp in zip(strategy.calls, stamps, strict=True))
    assert [length for _, _, length, _ in strategy.calls] == list(range(3, 13))
    assert [fill.side for fill in strategy.fills] == [Side.BUY, Side.SELL]
    assert strategy.fills[0].price == D(repr(float(market.close[52])))
    assert DurableCheck.committed == [1]
    with Journal(journal_path) as journal:
        [run] = journal.list_runs()
        assert (run.mode, run.end_reason, run.fills) == (RunMode.DRY_RUN, "reached --max-bars 10", 2)


def test_live_on_a_simulated_exchange_is_refused(tmp_path: Path) -> None:
    settings = load_settings(None, {"strategy": "sma_cross", "journal": tmp_path / "journal.sqlite3"})
    with pytest.raises(ConfigError, match=r"exchange paper is simulated; --live needs a real exchange"):
        prepare_live(settings, Registry(), origin="test", live=True)
    assert not (tmp_path / "journal.sqlite3").exists()


# --- market data status ---------------------------------------------------------------------------


class FeedWatcher(Plugin):
    """Hears the market data's changes of state, through the hook and as notifier events."""

    def __init__(self) -> None:
        super().__init__(name="feed_watcher")
        self.statuses: list[tuple[str, str, str]] = []
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    @hookimpl
    def tradekit_market_data_status(self, symbol: str, status: str, detail: str) -> None:
        self.statuses.append((symbol, status, detail))

    @hookimpl
    def tradekit_notify(self, event: NotifierEvent) -> None:
        if event.kind == EventKind.MARKET_DATA:
            self.events.append((event.kind, event.severity.value, dict(event.data)))


class MoodyExchange(ScriptedExchange):
    """A ScriptedExchange whose fetches, counted from 1, fail (``failing``) or bring no new bar (``holding``)."""

    failing: ClassVar[frozenset[int]] = frozenset()
    holding: ClassVar[frozenset[int]] = frozenset()

    def __init__(self, settings: Any = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self.fetches = 0

    def fetch_bars(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int | None = None
    ) -> BarSeries:
        self.fetches += 1
        if self.fetches in self.failing:
            raise ExchangeUnavailable("connection reset by peer")
        if self.fetches in self.holding:
            start = 0 if limit is None else max(0, self.revealed - limit)
            return self.bars.slice(start, self.revealed)
        return super().fetch_bars(symbol, timeframe, since=since, limit=limit)


def watch_feed(exchange: MoodyExchange, **options: Any) -> FeedWatcher:
    """Run the live loop for 6 new bars on ``exchange`` and return what was told of its market data."""
    watcher = FeedWatcher()
    engine = live_engine(exchange, watcher)
    reason = run_live(engine, exchange, Trader(), (SYMBOL,), "1m", venue=None, poll_interval=0, max_bars=6, **options)
    assert reason == "reached --max-bars 6"
    return watcher


def test_a_feed_that_fails_is_told_disconnected_then_reconnected_once_each() -> None:
    register_secret("reset by peer")  # a secret the exchange's error message happens to quote

    class Failing(MoodyExchange):
        failing = frozenset({3, 4})

    watcher = watch_feed(Failing())
    assert [(symbol, status) for symbol, status, _ in watcher.statuses] == [
        (SYMBOL, "connected"),
        (SYMBOL, "disconnected"),
        (SYMBOL, "reconnected"),
    ]
    assert "failed (connection ***)" in watcher.statuses[1][2] and "peer" not in watcher.statuses[1][2]
    assert "after 2 failed fetch(es)" in watcher.statuses[2][2]
    # Notifiers hear it too, warnings for what needs attention.
    assert [(kind, severity, data["status"]) for kind, severity, data in watcher.events] == [
        ("market_data", "info", "connected"),
        ("market_data", "warning", "disconnected"),
        ("market_data", "info", "reconnected"),
    ]


def test_missing_bars_are_told_as_a_gap_with_how_many_and_where() -> None:
    bars = walk(14)
    # Two minutes never come: the bar after 07:00 opens at 07:03.
    holed = bars.slice(0, 8)
    later = bars.slice(10, 14)
    joined = BarSeries(
        symbol=SYMBOL,
        timeframe="1m",
        timestamps=np.concatenate([holed.timestamps, later.timestamps]),
        open=np.concatenate([holed.open, later.open]),
        high=np.concatenate([holed.high, later.high]),
        low=np.concatenate([holed.low, later.low]),
        close=np.concatenate([holed.close, later.close]),
        volume=np.concatenate([holed.volume, later.volume]),
    )

    class Holed(MoodyExchange):
        pass

    Holed.bars = joined
    watcher = watch_feed(Holed())
    gaps = [detail for _, status, detail in watcher.statuses if status == "gap"]
    assert gaps == ["2 bar(s) missing, the first between 2024-01-01 00:07:00+00:00 and 2024-01-01 00:10:00+00:00"]
    assert [status for _, status, _ in watcher.statuses] == ["connected", "gap"]


def test_a_feed_without_new_bars_is_told_stale_once_and_reconnected_when_they_come() -> None:
    class Holding(MoodyExchange):
        holding = frozenset({4, 5, 6})

    watcher = watch_feed(Holding(), stale_after=0.0)
    assert [status for _, status, _ in watcher.statuses] == ["connected", "stale", "reconnected"]
    assert watcher.statuses[1][2].startswith("no new bar from scripted for")


def test_a_steady_feed_is_told_connected_and_nothing_more() -> None:
    watcher = watch_feed(MoodyExchange())
    assert [status for _, status, _ in watcher.statuses] == ["connected"]
