"""What the risk rules' tests share: bars made by hand, a scripted strategy, and a run through the real engine.

:func:`run_rules` runs a backtest with the kernel's engine, simulated venue and
backtest loop, the rules registered on the hooks in order and a
:class:`~tradekit.control.RunControl` handed to them, as a ``tradekit backtest``
does; a spy on the broker records every order that reached the venue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from tradekit.control import RunControl
from tradekit.domain.bars import BarSeries
from tradekit.domain.events import NotifierEvent
from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import Order, OrderIntent
from tradekit.domain.run import RunInfo, RunMode
from tradekit.engine.backtest import run_backtest
from tradekit.engine.brokers import SimulatedBroker
from tradekit.engine.core import Engine
from tradekit.hooks import HookFacade, new_plugin_manager
from tradekit.hookspecs import hookimpl
from tradekit.plugin import Plugin, Strategy, StrategyContext
from tradekit.sim import FeeSchedule, SimulatedVenue

D = Decimal
T0 = datetime(2024, 8, 4, 0, 0, tzinfo=UTC)
MINUTE_NS = 60_000_000_000
CRASH_FILE = "binance_BTC_USDT-1m_20240726-20240825.feather"


@pytest.fixture(autouse=True)
def _clean_environment(tk_clean_environment: None) -> None:
    """The kit's ``tk_clean_environment`` for every test here: no shell ``TRADEKIT_*`` variable, no secret left."""


def bars(
    close: Sequence[float],
    *,
    high: Sequence[float] | None = None,
    low: Sequence[float] | None = None,
    symbol: str = "BTC/USDT",
    start: datetime = T0,
    step_minutes: int = 1,
) -> BarSeries:
    """A 1m series from closes; each bar opens at the previous close; high and low default to the body."""
    c = np.asarray(close, dtype=np.float64)
    o = np.concatenate([c[:1], c[:-1]])
    h = np.asarray(high, dtype=np.float64) if high is not None else np.maximum(o, c)
    lo = np.asarray(low, dtype=np.float64) if low is not None else np.minimum(o, c)
    ts = int(start.timestamp()) * 1_000_000_000 + step_minutes * MINUTE_NS * np.arange(len(c), dtype=np.int64)
    return BarSeries(
        symbol=symbol,
        timeframe="1m" if step_minutes == 1 else f"{step_minutes}m",
        timestamps=ts,
        open=o,
        high=h,
        low=lo,
        close=c,
        volume=np.full(len(c), 1_000.0),
        source="test",
    )


def instrument(symbol: str = "BTC/USDT", lot: str = "0.001") -> Instrument:
    """Spot, quoted in USDT, tick 0.01."""
    return Instrument(symbol=symbol, base=symbol.split("/")[0], quote="USDT", tick_size=D("0.01"), lot_size=D(lot))


class Script(Strategy):
    """Sends the intents it was given at the bars it was given; records what came back."""

    def __init__(self, plan: dict[int, list[OrderIntent]], *, every_bar: bool = False) -> None:
        super().__init__(name="script")
        self.plan = plan
        self.every_bar = every_bar
        self.returned: dict[int, list[str | None]] = {}

    def wakeups(self, data: dict[str, BarSeries]) -> Any:
        if self.every_bar:
            return None
        mask = np.zeros(len(next(iter(data.values()))), dtype=bool)
        mask[[i for i in self.plan if i < len(mask)]] = True
        return mask

    def on_bar(self, ctx: StrategyContext) -> None:
        for intent in self.plan.get(ctx.index, []):
            self.returned.setdefault(ctx.index, []).append(ctx.submit(intent))


def buy(quantity: str, symbol: str = "BTC/USDT", **extra: Any) -> OrderIntent:
    """A market buy."""
    return OrderIntent(symbol=symbol, side="buy", quantity=D(quantity), **extra)


def sell(quantity: str, symbol: str = "BTC/USDT", **extra: Any) -> OrderIntent:
    """A market sell."""
    return OrderIntent(symbol=symbol, side="sell", quantity=D(quantity), **extra)


class Listener:
    """Hears every notifier event."""

    def __init__(self) -> None:
        self.events: list[NotifierEvent] = []

    @hookimpl
    def tradekit_notify(self, event: NotifierEvent) -> None:
        self.events.append(event)

    def kinds(self, prefix: str = "") -> list[str]:
        """The kinds heard, in order (those starting with ``prefix``)."""
        return [e.kind for e in self.events if e.kind.startswith(prefix)]


class SpyBroker(SimulatedBroker):
    """A simulated broker that remembers every order handed to the venue."""

    def __init__(self, venue: SimulatedVenue) -> None:
        super().__init__(venue)
        self.submitted: list[Order] = []

    def submit(self, order: Order, now: datetime, market_price: Decimal | None) -> None:
        self.submitted.append(order.model_copy())
        super().submit(order, now, market_price)


@dataclass
class RuleRun:
    """What a run with rules did."""

    engine: Engine
    venue: SimulatedVenue
    broker: SpyBroker
    control: RunControl
    listener: Listener
    strategy: Script
    equity: Any = None
    verdicts: list[Any] = field(default_factory=list)


def run_rules(
    data: BarSeries | dict[str, BarSeries],
    plan: dict[int, list[OrderIntent]],
    rules: Sequence[Plugin],
    *,
    cash: str = "10000",
    fee: str = "0",
    every_bar: bool = False,
    skip_idle_bars: bool = True,
) -> RuleRun:
    """A backtest of a scripted strategy with ``rules``, through the real engine (see the module docstring)."""
    series = {data.symbol: data} if isinstance(data, BarSeries) else dict(data)
    instruments = {symbol: instrument(symbol) for symbol in series}
    venue = SimulatedVenue(instruments, {"USDT": D(cash)}, FeeSchedule(maker=D(fee), taker=D(fee)))
    broker = SpyBroker(venue)
    listener = Listener()
    pm = new_plugin_manager()
    for rule in rules:
        pm.register(rule, name=rule.name)
    pm.register(listener, name="listener")
    run = RunInfo(
        run_id="ab" * 16,
        mode=RunMode.BACKTEST,
        exchange="paper",
        strategies=("script",),
        symbols=tuple(series),
        risk_rules=tuple(rule.name for rule in rules),
        started_at=T0,
    )
    engine = Engine(
        run=run, broker=broker, hooks=HookFacade(pm), instruments=instruments, quote_currency="USDT", cash=D(cash)
    )
    strategy = Script(plan, every_bar=every_bar)
    engine.now = next(iter(series.values())).datetime_at(0)
    control = RunControl(engine, strategy, accepts_requests=False)
    engine.hooks.run_started(run, control)
    outcome = run_backtest(engine, venue, strategy, series, skip_idle_bars=skip_idle_bars)
    return RuleRun(engine, venue, broker, control, listener, strategy, equity=outcome.equity)


class Kit:
    """The helpers above, as one fixture (test modules cannot import the conftest under importlib)."""

    bars = staticmethod(bars)
    buy = staticmethod(buy)
    sell = staticmethod(sell)
    instrument = staticmethod(instrument)
    run = staticmethod(run_rules)
    Script = Script
    T0 = T0
    MINUTE_NS = MINUTE_NS


@pytest.fixture
def kit() -> Kit:
    """:class:`Kit`: ``kit.bars(closes)``, ``kit.buy("0.1")``, ``kit.run(bars, plan, rules)``."""
    return Kit()
