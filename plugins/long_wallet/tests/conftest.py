"""Helpers for Long Wallet's tests: hand-made bars, a backtest through the real engine, the invariants."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tradekit_long_wallet import LongWallet, LongWalletSettings
from tradekit_long_wallet.invariants import problems_now

from tradekit.domain.bars import BarSeries
from tradekit.domain.instruments import Instrument
from tradekit.plugin import Capabilities
from tradekit.testing import make_bars

D = Decimal


def instrument(tick: str = "0.01", lot: str = "0.001", min_notional: str = "0") -> Instrument:
    """A spot BTC/USDT instrument with the given rules."""
    return Instrument(
        symbol="BTC/USDT",
        base="BTC",
        quote="USDT",
        tick_size=D(tick),
        lot_size=D(lot),
        min_notional=D(min_notional),
    )


@dataclass
class Run:
    """A finished backtest of Long Wallet: the strategy, the engine and venue, and what the checks found."""

    strategy: LongWallet
    engine: Any
    venue: Any
    outcome: Any
    problems: list[str]

    def orders(self) -> list[Any]:
        """Every order the run sent, oldest first."""
        return sorted(self.engine.orders.values(), key=lambda o: int(o.client_order_id[12:], 16))

    def tags(self, status: str | None = None) -> list[str]:
        """The tags of the run's orders (of one status)."""
        return [o.tag for o in self.orders() if status is None or o.status.value == status]


class Checked(LongWallet):
    """Long Wallet that checks the specification's invariants after every bar it is shown."""

    record_placements = True

    def __init__(self, settings: LongWalletSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self.problems: list[str] = []
        self.last_state: dict[str, Any] = {}
        self.windows: list[tuple[int, str | None, tuple[tuple[int, str], ...]]] = []

    def on_bar(self, ctx: Any) -> None:
        super().on_bar(ctx)
        from tradekit_long_wallet.state import state_of

        self.last_state = state_of(self, ctx)
        self.windows.append((ctx.index, self.phase.value if self.phase else None, self.levels()))
        for problem in problems_now(self, ctx):
            self.problems.append(f"bar {ctx.index}: {problem}")

    def levels(self) -> tuple[tuple[int, str], ...]:
        """The window as (level, kind), highest first."""
        return tuple((slot.level, slot.kind.value) for slot in sorted(self.window.values(), key=lambda s: -s.level))


def backtest(
    bars: BarSeries,
    *,
    cash: str = "100000",
    maker: str = "0.001",
    taker: str = "0.001",
    tick: str | None = "0.01",
    lot: str = "0.001",
    min_notional: str = "0",
    skip_idle_bars: bool = False,
    fill_at_close: bool = True,
    capabilities: Capabilities | None = None,
    strategy: LongWallet | None = None,
    **settings: Any,
) -> Run:
    """Run Long Wallet (checking its invariants at every bar it sees) on ``bars`` with the real engine."""
    from tradekit.domain.run import RunInfo, RunMode
    from tradekit.engine.backtest import run_backtest
    from tradekit.engine.brokers import SimulatedBroker
    from tradekit.engine.core import Engine
    from tradekit.hooks import HookFacade, new_plugin_manager
    from tradekit.sim import FeeSchedule, SimulatedVenue

    if tick is None:
        from tradekit.paper import price_step_of

        tick = str(price_step_of(bars))
    rules = instrument(tick, lot, min_notional)
    venue = SimulatedVenue({rules.symbol: rules}, {"USDT": D(cash)}, FeeSchedule(maker=D(maker), taker=D(taker)))
    run = RunInfo(
        run_id="0123456789abcdef" * 2,
        mode=RunMode.BACKTEST,
        exchange="paper",
        strategies=("lw",),
        symbols=(rules.symbol,),
    )
    engine = Engine(
        run=run,
        broker=SimulatedBroker(venue),
        hooks=HookFacade(new_plugin_manager()),
        instruments={rules.symbol: rules},
        quote_currency="USDT",
        cash=D(cash),
    )
    if strategy is None:
        strategy = Checked(LongWalletSettings(**settings))
    outcome = run_backtest(
        engine,
        venue,
        strategy,
        {rules.symbol: bars},
        skip_idle_bars=skip_idle_bars,
        fill_at_close=fill_at_close,
        capabilities=capabilities,
    )
    return Run(strategy, engine, venue, outcome, list(getattr(strategy, "problems", [])))


def ohlc(*rows: tuple[float, float, float, float]) -> BarSeries:
    """Bars from (open, high, low, close) rows."""
    return make_bars([list(row) for row in rows])


def closes(*values: float) -> BarSeries:
    """Bars from closes (each opens at the previous close)."""
    return make_bars(list(values))


@pytest.fixture
def no_warnings_from_long_wallet(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails the test if Long Wallet logged a warning or an error (an order it could not place, say)."""
    yield
    noisy = [r for r in caplog.records if r.name.startswith("tradekit.plugin.long_wallet") and r.levelno >= 30]
    assert not noisy, [r.getMessage() for r in noisy]


@pytest.fixture(name="backtest", scope="session")
def backtest_fixture() -> Any:
    """:func:`backtest`: ``backtest(bars, skip_idle_bars=..., **settings)`` -> :class:`Run`."""
    return backtest


@pytest.fixture(name="ohlc", scope="session")
def ohlc_fixture() -> Any:
    """:func:`ohlc`: bars from (open, high, low, close) rows."""
    return ohlc


@pytest.fixture(name="closes", scope="session")
def closes_fixture() -> Any:
    """:func:`closes`: bars from closes."""
    return closes


@pytest.fixture
def tradekit(tk_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``tradekit ARGS`` in-process in an empty folder that is also the test's own (the kit's ``tk_cli``)."""
    # Tests read the journal and the output folder the command left in the current folder.
    monkeypatch.chdir(tmp_path)
    return functools.partial(tk_cli, cwd=tmp_path, env={"COLUMNS": "250"})
