"""Fixtures of the strategy pack's tests: the real data folder, hand-made bars, and runs through the engine.

Runs go through the kernel's own loops: :func:`backtest` drives
:func:`tradekit.engine.backtest.run_backtest` on a fresh simulated venue, and
:func:`live` drives :func:`tradekit.engine.live.run_live` with an exchange that
reveals the same bars one at a time (a dry run, where ``prepare`` and
``wakeups`` are never called). Both record every intent the strategy sends,
with the bar it was sent on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from tradekit.domain.bars import BarSeries
from tradekit.domain.instruments import Instrument, InstrumentKind
from tradekit.domain.orders import Fill, OrderIntent
from tradekit.domain.run import RunInfo, RunMode
from tradekit.engine.backtest import run_backtest
from tradekit.engine.brokers import SimulatedBroker
from tradekit.engine.core import Engine
from tradekit.engine.live import run_live
from tradekit.hooks import HookFacade, new_plugin_manager
from tradekit.hookspecs import hookimpl
from tradekit.plugin import Capabilities, Exchange, Strategy
from tradekit.sim import FeeSchedule, SimulatedVenue
from tradekit.testing.real_data import shared_data_file

T0 = datetime(2024, 1, 1, tzinfo=UTC)
D = Decimal


@pytest.fixture(autouse=True)
def _clean_environment(tk_clean_environment: None) -> None:
    """The kit's ``tk_clean_environment`` for every test here: no shell ``TRADEKIT_*`` variable, no secret left."""


def load_real(name: str) -> BarSeries:
    """One real data file, loaded by the kernel's loader."""
    from tradekit.data import load_bars

    return load_bars(shared_data_file(name))


# --- bars by hand ---------------------------------------------------------------------------------


def bars(
    close: Sequence[float],
    *,
    high: Sequence[float] | None = None,
    low: Sequence[float] | None = None,
    symbol: str = "BTC/USDT",
    step_ns: int = 3_600_000_000_000,
) -> BarSeries:
    """An hourly series from closes; each bar opens at the previous close, high and low span the body."""
    c = np.asarray(close, dtype=np.float64)
    o = np.concatenate([c[:1], c[:-1]])
    h = np.asarray(high, dtype=np.float64) if high is not None else np.maximum(o, c)
    lo = np.asarray(low, dtype=np.float64) if low is not None else np.minimum(o, c)
    first = int(T0.timestamp()) * 1_000_000_000
    return BarSeries(
        symbol=symbol,
        timeframe="1h",
        timestamps=first + step_ns * np.arange(len(c), dtype=np.int64),
        open=o,
        high=h,
        low=lo,
        close=c,
        volume=np.full(len(c), 1_000.0),
        source="hand-made",
    )


def window(series: BarSeries, start: int, stop: int) -> BarSeries:
    """Bars ``start`` to ``stop`` of ``series`` as a series of their own."""
    return series.slice(start, min(stop, len(series)))


# --- runs through the engine ----------------------------------------------------------------------


def instruments_for(
    data: dict[str, BarSeries],
    *,
    kind: InstrumentKind = InstrumentKind.SPOT,
    lot: str = "0.00001",
    tick: str | None = None,
) -> dict[str, Instrument]:
    """Instruments as the ``paper`` exchange makes them (tick: the data's precision unless given), of ``kind``."""
    from tradekit.paper import PaperExchange, PaperSettings

    exchange = PaperExchange(PaperSettings(lot_size=D(lot), tick_size=D(tick) if tick is not None else None))
    exchange.use_data(data)
    made = exchange.instruments(tuple(data))
    return {symbol: instrument.model_copy(update={"kind": kind}) for symbol, instrument in made.items()}


@dataclass(frozen=True)
class Decision:
    """One intent a strategy sent: the bar's open time, and what it asked for."""

    time: datetime
    index: int
    symbol: str
    side: str
    quantity: Decimal
    type: str
    trigger_price: Decimal | None
    tag: str

    @property
    def key(self) -> tuple[Any, ...]:
        """What two runs must agree on (bar numbers differ between a backtest and a live run)."""
        return (self.time, self.symbol, self.side, self.quantity, self.type, self.trigger_price, self.tag)


@dataclass
class Run:
    """What a run did: its decisions, its fills, and the engine (for anything else)."""

    engine: Engine
    decisions: list[Decision] = field(default_factory=list)

    @property
    def fills(self) -> list[Fill]:
        """Every fill, in order."""
        return [record.fill for record in self.engine.fill_log]

    def keys(self, until: datetime | None = None) -> list[tuple[Any, ...]]:
        """The decisions' keys, those made at or before ``until`` when given."""
        return [d.key for d in self.decisions if until is None or d.time <= until]


class _Recorder:
    """A hook observer noting each intent with the engine's current bar."""

    def __init__(self, run: Run) -> None:
        self.run = run

    @hookimpl
    def tradekit_intent_created(self, intent: OrderIntent, strategy: str) -> None:
        engine = self.run.engine
        assert engine.now is not None
        self.run.decisions.append(
            Decision(
                time=engine.now,
                index=engine.index,
                symbol=intent.symbol,
                side=intent.side.value,
                quantity=intent.quantity,
                type=intent.type.value,
                trigger_price=intent.trigger_price,
                tag=intent.tag,
            )
        )


def _engine(instruments: dict[str, Instrument], cash: str, fee: str, mode: RunMode) -> tuple[Run, SimulatedVenue]:
    quote = next(iter(instruments.values())).quote
    venue = SimulatedVenue(instruments, {quote: D(cash)}, FeeSchedule(maker=D(fee), taker=D(fee)))
    pm = new_plugin_manager()
    run = Run(engine=None)  # type: ignore[arg-type]
    pm.register(_Recorder(run), name="recorder")
    info = RunInfo(run_id="5747a7e9" * 4, mode=mode, exchange="paper", strategies=("s",), symbols=tuple(instruments))
    run.engine = Engine(
        run=info,
        broker=SimulatedBroker(venue),
        hooks=HookFacade(pm),
        instruments=instruments,
        quote_currency=quote,
        cash=D(cash),
    )
    return run, venue


def backtest(
    strategy: Strategy,
    data: dict[str, BarSeries] | BarSeries,
    *,
    every_bar: bool = False,
    fill_at_close: bool = True,
    cash: str = "100000",
    fee: str = "0.001",
    instruments: dict[str, Instrument] | None = None,
) -> Run:
    """Run ``strategy`` over ``data`` with the engine's backtest loop (``every_bar``: no skipped bars)."""
    data = {data.symbol: data} if isinstance(data, BarSeries) else data
    run, venue = _engine(instruments or instruments_for(data), cash, fee, RunMode.BACKTEST)
    run_backtest(run.engine, venue, strategy, data, fill_at_close=fill_at_close, skip_idle_bars=not every_bar)
    return run


class Replay(Exchange):
    """Hands the live loop the bars before ``cursor`` (as much history as asked), then one more per fetch."""

    capabilities = Capabilities(simulated=True)

    def __init__(self, data: dict[str, BarSeries], cursor: int) -> None:
        super().__init__(name="replay")
        self.data = data
        self.cursor = cursor
        self.asked: list[int | None] = []
        self._last = list(data)[-1]

    def fetch_bars(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int | None = None
    ) -> BarSeries:
        self.asked.append(limit)
        series = self.data[symbol]
        end = min(self.cursor, len(series))
        start = max(0, end - limit) if limit is not None else 0
        if symbol == self._last:
            self.cursor += 1
        return series.slice(start, end)

    def market_ended(self, symbol: str, timeframe: str) -> bool:
        """Every bar has been shown."""
        return self.cursor > len(self.data[symbol])


def live(
    strategy: Strategy,
    data: dict[str, BarSeries] | BarSeries,
    *,
    first_bar: int | None = None,
    cash: str = "100000",
    fee: str = "0.001",
    instruments: dict[str, Instrument] | None = None,
) -> tuple[Run, Replay]:
    """A dry run of ``strategy`` through the live loop, the bars revealed one at a time from ``first_bar``.

    By default the first bar revealed as new is the backtest's first decision bar (``warmup - 1``).
    """
    data = {data.symbol: data} if isinstance(data, BarSeries) else data
    run, venue = _engine(instruments or instruments_for(data), cash, fee, RunMode.DRY_RUN)
    start = first_bar if first_bar is not None else max(strategy.warmup - 1, 1)
    replay = Replay(data, start)
    timeframe = next(iter(data.values())).timeframe
    run_live(run.engine, replay, strategy, tuple(data), timeframe, venue=venue, poll_interval=0)
    return run, replay


class Kit:
    """The helpers above, handed to tests as the ``kit`` fixture (test modules cannot import the conftest)."""

    bars = staticmethod(bars)
    window = staticmethod(window)
    real_file = staticmethod(shared_data_file)
    load_real = staticmethod(load_real)
    instruments_for = staticmethod(instruments_for)
    backtest = staticmethod(backtest)
    live = staticmethod(live)


@pytest.fixture
def kit() -> Kit:
    """:class:`Kit`: ``kit.bars(closes)``, ``kit.backtest(strategy, data)``, ``kit.live(...)``, ``kit.load_real()``."""
    return Kit()
