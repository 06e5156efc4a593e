"""Strategies run through the real engine, for the conformance suites and for plugin authors' tests.

:func:`backtest` runs a strategy with the backtest loop of :mod:`tradekit.engine.backtest`
on the kernel's simulated venue, with instruments made by the built-in ``paper``
exchange; :func:`replay_live` feeds the same bars one at a time through the live
loop of :mod:`tradekit.engine.live` (a dry run), and can stop it at a bar, rebuild
the strategy from its saved state and its open orders (as a restarted process
would) and go on. Both record every decision the strategy made (each intent it
sent, each cancel it asked for) with the bar it made it on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from tradekit.domain.orders import Order, OrderStatus
from tradekit.domain.run import RunInfo, RunMode
from tradekit.engine.core import Engine
from tradekit.hookspecs import hookimpl
from tradekit.plugin import SIMULATED_VENUE, Exchange

if TYPE_CHECKING:
    from tradekit.domain.bars import BarSeries
    from tradekit.domain.instruments import Instrument
    from tradekit.domain.orders import OrderIntent
    from tradekit.engine.backtest import BacktestOutcome
    from tradekit.plugin import Strategy
    from tradekit.sim import SimulatedVenue

#: The run id of every harness run: the same id gives the same client order ids, run after run.
RUN_ID = "7e57c0de" * 4

_INTENT_FIELDS = (
    "symbol",
    "side",
    "quantity",
    "type",
    "price",
    "trigger_price",
    "trigger_direction",
    "time_in_force",
    "post_only",
    "reduce_only",
    "tag",
)


def describe_intent(intent: OrderIntent) -> str:
    """An intent as one line of text, every field that decides what is traded (not its client order id)."""
    parts = []
    for name in _INTENT_FIELDS:
        value = getattr(intent, name)
        if value is None or value is False or value == "":
            continue
        parts.append(name if value is True else f"{name}={getattr(value, 'value', value)}")
    return " ".join(parts)


@dataclass(frozen=True)
class Decision:
    """One thing a strategy decided: ``submit`` an intent or ``cancel`` an order, on one bar."""

    index: int
    time: datetime
    action: str
    detail: str

    @property
    def key(self) -> tuple[datetime, str, str]:
        """What two runs must agree on: when, and what (bar numbers differ between loops)."""
        return (self.time, self.action, self.detail)

    def __str__(self) -> str:
        return f"bar {self.index} ({self.time:%Y-%m-%d %H:%M}): {self.action} {self.detail}"


@dataclass
class StrategyRun:
    """What one run of a strategy did: its decisions, the intents it sent, the states it saved.

    ``rejected`` holds every order the venue refused, as it was when refused.
    """

    engine: Engine
    venue: SimulatedVenue
    decisions: list[Decision]
    intents: list[tuple[int, OrderIntent]]
    states: list[dict[str, Any]] = field(default_factory=list)
    outcome: BacktestOutcome | None = None
    rejected: list[Order] = field(default_factory=list)


class _RejectionObserver:
    """Keeps every order the venue refused (the engine itself keeps only the latest finished orders)."""

    def __init__(self) -> None:
        self.rejected: list[Order] = []

    @hookimpl
    def tradekit_order_updated(self, order: Order, previous_status: OrderStatus) -> None:
        if order.status is OrderStatus.REJECTED:
            self.rejected.append(order.model_copy())


class _RecordingEngine(Engine):
    """The engine, noting each decision before it acts on it."""

    def __init__(self, observer: _RejectionObserver, **arguments: Any) -> None:
        super().__init__(**arguments)
        self.observer = observer
        self.decisions: list[Decision] = []
        self.intents: list[tuple[int, OrderIntent]] = []
        self.states: list[dict[str, Any]] = []
        self._numbers: dict[str, int] = {}

    def _note(self, action: str, detail: str) -> None:
        assert self.now is not None
        self.decisions.append(Decision(self.index, self.now, action, detail))

    def submit_intent(self, strategy: Strategy, intent: OrderIntent, market_price: Decimal | None) -> str | None:
        """Note the intent, then judge and send it as the engine does."""
        self.intents.append((self.index, intent))
        number = len(self.intents)
        self._note("submit", f"#{number} {describe_intent(intent)}")
        client_order_id = super().submit_intent(strategy, intent, market_price)
        if client_order_id is not None:
            self._numbers[client_order_id] = number
        return client_order_id

    def cancel(self, client_order_id: str) -> None:
        """Note the cancel (naming the order by the number of its intent), then cancel."""
        number = self._numbers.get(client_order_id)
        self._note("cancel", f"#{number}" if number is not None else f"unknown order {client_order_id}")
        super().cancel(client_order_id)

    def save_state(self, strategy: Strategy, state: dict[str, Any]) -> None:
        """Keep the state as the journal would give it back (it must survive that), then save it."""
        from tradekit.journal.codec import dump_payload, load_payload

        self.states.append(load_payload(dump_payload(state, where=f"state of {strategy.name}", strict=True)))
        super().save_state(strategy, state)


def paper_instruments(
    data: dict[str, BarSeries],
    *,
    tick_size: Decimal | None = None,
    lot_size: Decimal = Decimal("0.0001"),
    min_notional: Decimal = Decimal(0),
) -> dict[str, Instrument]:
    """The instruments the built-in ``paper`` exchange gives ``data``'s symbols (tick: the data's precision)."""
    from tradekit.paper import PaperExchange, PaperSettings

    exchange = PaperExchange(PaperSettings(tick_size=tick_size, lot_size=lot_size, min_notional=min_notional))
    exchange.use_data(data)
    return exchange.instruments(tuple(data))


def _engine(
    instruments: dict[str, Instrument], cash: Decimal, fees: tuple[Decimal, Decimal], mode: RunMode
) -> tuple[_RecordingEngine, SimulatedVenue]:
    from tradekit.engine.brokers import SimulatedBroker
    from tradekit.hooks import HookFacade, new_plugin_manager
    from tradekit.session import quote_of
    from tradekit.sim import FeeSchedule, SimulatedVenue

    quote = quote_of(instruments)
    venue = SimulatedVenue(instruments, {quote: cash}, FeeSchedule(maker=fees[0], taker=fees[1]), name="paper")
    run = RunInfo(run_id=RUN_ID, mode=mode, exchange="paper", strategies=("conformance",), symbols=tuple(instruments))
    observer = _RejectionObserver()
    pm = new_plugin_manager()
    pm.register(observer, name="tk-rejections")
    engine = _RecordingEngine(
        observer,
        run=run,
        broker=SimulatedBroker(venue),
        hooks=HookFacade(pm),
        instruments=instruments,
        quote_currency=quote,
        cash=cash,
    )
    return engine, venue


def backtest(
    strategy: Strategy,
    data: dict[str, BarSeries],
    instruments: dict[str, Instrument],
    *,
    cash: Decimal = Decimal(100_000),
    fees: tuple[Decimal, Decimal] = (Decimal("0.001"), Decimal("0.001")),
    skip_idle_bars: bool = True,
    fill_at_close: bool = True,
) -> StrategyRun:
    """Run ``strategy`` over ``data`` with the engine's backtest loop on a fresh simulated venue."""
    from tradekit.engine.backtest import run_backtest

    engine, venue = _engine(instruments, cash, fees, RunMode.BACKTEST)
    outcome = run_backtest(engine, venue, strategy, data, fill_at_close=fill_at_close, skip_idle_bars=skip_idle_bars)
    return StrategyRun(
        engine, venue, engine.decisions, engine.intents, engine.states, outcome, engine.observer.rejected
    )


class _Replay(Exchange):
    """Hands the live loop ``data`` one bar per fetch: each symbol's bars before ``cursor``, then one more."""

    # What the backtest's simulated venue takes, so the live run offers the strategy the same order kinds.
    capabilities = SIMULATED_VENUE

    def __init__(self, data: dict[str, BarSeries], cursor: int) -> None:
        super().__init__(name="replay")
        self.data = data
        self.cursor = cursor
        self._last_symbol = list(data)[-1]

    def fetch_bars(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int | None = None
    ) -> BarSeries:
        series = self.data[symbol]
        end = min(self.cursor, len(series))
        start = max(0, end - limit) if limit is not None else 0
        if symbol == self._last_symbol:
            self.cursor += 1
        return series.slice(start, end)

    def market_ended(self, symbol: str, timeframe: str) -> bool:
        """Every bar has been handed out."""
        return self.cursor > len(self.data[symbol])


def first_live_bar(strategy: Strategy) -> int:
    """The first bar a replayed live run decides on: the backtest's first (``warmup - 1``), at least 1."""
    return max(strategy.warmup - 1, 1)


def replay_live(
    make_strategy: Callable[[], Strategy],
    data: dict[str, BarSeries],
    instruments: dict[str, Instrument],
    *,
    cash: Decimal = Decimal(100_000),
    fees: tuple[Decimal, Decimal] = (Decimal("0.001"), Decimal("0.001")),
    restart_after: int | None = None,
) -> StrategyRun:
    """A dry run through the live loop, one bar at a time; with ``restart_after``, a restart after that bar.

    The run stops once bar ``restart_after`` is decided, as if its process
    died; a new strategy from ``make_strategy`` takes over its orders and is
    given the last state the first one saved (as the journal returns it) and
    the venue's open orders through :meth:`~tradekit.plugin.Strategy.restore`,
    instead of ``on_start``, as ``tradekit run`` does when it takes up a run
    that died; the live loop goes on with the next bar, on the same venue and
    account (which a resumed run rebuilds from the journal).
    """
    from tradekit.engine.live import run_live

    strategy = make_strategy()
    engine, venue = _engine(instruments, cash, fees, RunMode.DRY_RUN)
    first = first_live_bar(strategy)
    replay = _Replay(data, first)
    timeframe = next(iter(data.values())).timeframe
    if restart_after is None:
        run_live(engine, replay, strategy, tuple(data), timeframe, venue=venue, poll_interval=0)
    else:
        run_live(
            engine,
            replay,
            strategy,
            tuple(data),
            timeframe,
            venue=venue,
            poll_interval=0,
            max_bars=max(restart_after - first + 1, 0),
        )
        # The process dies here; its successor gets the journaled state and the venue's open orders
        # through restore() (instead of on_start), and the bars after the last one seen.
        state = engine.states[-1] if engine.states else None
        open_orders = [order.model_copy() for order in venue.open_orders()]
        successor = make_strategy()
        for client_order_id, owner in list(engine.owners.items()):
            if owner is strategy:
                engine.owners[client_order_id] = successor
        replay.cursor = restart_after + 1
        run_live(
            engine,
            replay,
            successor,
            tuple(data),
            timeframe,
            venue=venue,
            poll_interval=0,
            resume_after=next(iter(data.values())).datetime_at(restart_after),
            restored=(state, open_orders),
        )
    # The live loop numbers bars from its first fetch, which starts later after a restart: renumber
    # them as bars of the whole series, so messages name the same bar in every run.
    timestamps = next(iter(data.values())).timestamps
    decisions = [
        replace(d, index=int(np.searchsorted(timestamps, round(d.time.timestamp() * 1_000_000) * 1_000)))
        for d in engine.decisions
    ]
    return StrategyRun(engine, venue, decisions, engine.intents, engine.states, None, engine.observer.rejected)
