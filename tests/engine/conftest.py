"""Fixtures for the engine's tests: bars built by hand, an engine on a simulated venue, fake plugins, the CLI.

Plugins written inside a test reach the real registry through a fake installed
distribution: a ``NAME-VERSION.dist-info`` folder (``METADATA`` and
``entry_points.txt``) on ``sys.path``, as pip would leave it, whose entry
points name attributes of a module that holds the test's classes. The registry
finds them by name and stevedore imports them, as it would any plugin.
"""

from __future__ import annotations

import importlib
import itertools
import sys
import types
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tradekit.domain.bars import BarSeries
from tradekit.domain.instruments import Instrument
from tradekit.domain.run import RunInfo, RunMode
from tradekit.engine.backtest import BacktestOutcome, run_backtest
from tradekit.engine.brokers import SimulatedBroker
from tradekit.engine.core import Engine
from tradekit.hooks import HookFacade, new_plugin_manager
from tradekit.plugin import Plugin, Strategy
from tradekit.registry import GROUPS
from tradekit.sim import FeeSchedule, SimulatedVenue

D = Decimal
T0 = datetime(2024, 1, 1, tzinfo=UTC)
MINUTE_NS = 60_000_000_000
RUN_ID = "0123456789abcdef" * 2


@pytest.fixture(autouse=True)
def _clean_environment(tk_clean_environment: None) -> None:
    """The kit's ``tk_clean_environment`` for every test here: no shell ``TRADEKIT_*`` variable, no secret left."""


# --- bars -----------------------------------------------------------------------------------------


def build_bars(
    close: Any,
    *,
    open: Any = None,
    high: Any = None,
    low: Any = None,
    volume: Any = None,
    symbol: str = "BTC/USDT",
    start: datetime = T0,
    step_ns: int = MINUTE_NS,
    timestamps: Any = None,
) -> BarSeries:
    """A 1m series from closes; open defaults to the previous close, high and low to the body's ends."""
    c = np.asarray(close, dtype=np.float64)
    o = np.asarray(open, dtype=np.float64) if open is not None else np.concatenate([c[:1], c[:-1]])
    h = np.asarray(high, dtype=np.float64) if high is not None else np.maximum(o, c)
    lo = np.asarray(low, dtype=np.float64) if low is not None else np.minimum(o, c)
    v = np.asarray(volume, dtype=np.float64) if volume is not None else np.full(len(c), 1_000.0)
    if timestamps is None:
        first = int(start.timestamp()) * 1_000_000_000
        ts = first + step_ns * np.arange(len(c), dtype=np.int64)
    else:
        ts = np.asarray(timestamps, dtype=np.int64)
    return BarSeries(
        symbol=symbol, timeframe="1m", timestamps=ts, open=o, high=h, low=lo, close=c, volume=v, source="test"
    )


def build_random_walk(n: int, seed: int, *, symbol: str = "BTC/USDT", start_price: float = 100.0) -> BarSeries:
    """A seeded random walk of ``n`` bars on a 0.01 tick, with wicks beyond the body."""
    rng = np.random.default_rng(seed)
    close = np.round(start_price * np.exp(np.cumsum(rng.normal(0.0, 0.004, n))), 2)
    open_ = np.concatenate([[start_price], close[:-1]])
    high = np.round(np.maximum(open_, close) * (1 + np.abs(rng.normal(0.0, 0.002, n))), 2)
    low = np.round(np.minimum(open_, close) * (1 - np.abs(rng.normal(0.0, 0.002, n))), 2)
    return build_bars(close, open=open_, high=np.maximum(high, np.maximum(open_, close)), low=low, symbol=symbol)


@pytest.fixture
def make_bars() -> Callable[..., BarSeries]:
    """:func:`build_bars`: ``make_bars(closes, open=..., high=..., low=..., volume=..., symbol=...)``."""
    return build_bars


@pytest.fixture
def random_walk() -> Callable[..., BarSeries]:
    """:func:`build_random_walk`: ``random_walk(n, seed, symbol=...)``."""
    return build_random_walk


# --- an engine on a simulated venue ---------------------------------------------------------------


def instrument_for(symbol: str) -> Instrument:
    """A spot instrument quoted in USDT: tick 0.01, lot 0.001."""
    base = symbol.split("/", 1)[0]
    return Instrument(symbol=symbol, base=base, quote="USDT", tick_size=D("0.01"), lot_size=D("0.001"))


@dataclass
class Rig:
    """An engine wired to a simulated venue, and the plugins registered on its hooks."""

    engine: Engine
    venue: SimulatedVenue

    def run(self, strategy: Strategy, data: dict[str, BarSeries], **options: Any) -> BacktestOutcome:
        """Run the backtest loop of :mod:`tradekit.engine.backtest` over ``data``."""
        return run_backtest(self.engine, self.venue, strategy, data, **options)


def build_rig(
    symbols: tuple[str, ...] = ("BTC/USDT",),
    *,
    plugins: tuple[Plugin, ...] = (),
    cash: str = "10000",
    maker: str = "0.001",
    taker: str = "0.002",
    volume_limit: Decimal | None = None,
    journal: Any = None,
    run_id: str = RUN_ID,
    keep_finished: int | None = None,
) -> Rig:
    """An engine on a fresh simulated venue; ``plugins`` are registered on the hooks in this order."""
    instruments = {symbol: instrument_for(symbol) for symbol in symbols}
    venue = SimulatedVenue(
        instruments,
        {"USDT": D(cash)},
        FeeSchedule(maker=D(maker), taker=D(taker)),
        volume_limit=volume_limit,
        keep_finished=keep_finished,
    )
    pm = new_plugin_manager()
    for plugin in plugins:
        pm.register(plugin, name=plugin.name)
    run = RunInfo(
        run_id=run_id,
        mode=RunMode.BACKTEST,
        exchange="paper",
        strategies=("script",),
        symbols=symbols,
        risk_rules=tuple(p.name for p in plugins if p.kind == "risk"),
        started_at=T0,
    )
    if journal is not None:
        journal.start_run(run, config={})
    engine = Engine(
        run=run,
        broker=SimulatedBroker(venue),
        hooks=HookFacade(pm),
        instruments=instruments,
        quote_currency="USDT",
        cash=D(cash),
        journal=journal,
        keep_finished=keep_finished,
    )
    return Rig(engine, venue)


@pytest.fixture
def make_rig() -> Callable[..., Rig]:
    """:func:`build_rig`: ``make_rig(symbols, plugins=..., cash=..., maker=..., taker=..., volume_limit=...)``."""
    return build_rig


# --- plugins through fake installed distributions -------------------------------------------------


def write_distribution(site: Path, name: str, version: str, entry_points: dict[str, dict[str, str]]) -> Path:
    """Write an installed-looking distribution (metadata and entry points only) into ``site``."""
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    sections = []
    for group, points in entry_points.items():
        lines = "".join(f"{ep_name} = {value}\n" for ep_name, value in points.items())
        sections.append(f"[{group}]\n{lines}")
    (dist_info / "entry_points.txt").write_text("\n".join(sections))
    # importlib.metadata caches directory listings.
    importlib.invalidate_caches()
    return dist_info


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh folder on ``sys.path`` for fake distributions."""
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


InstallPlugins = Callable[..., None]


@pytest.fixture
def install_plugins(fake_site: Path) -> Iterator[InstallPlugins]:
    """``install_plugins(strategy={"name": Class}, risk={...}, notifier={...}, exchange={...})``.

    Publishes the classes under their kinds' entry-point groups in a fake
    distribution, so ``Registry()`` lists and loads them by name.
    """
    counter = itertools.count(1)
    modules: list[str] = []

    def install(**kinds: dict[str, type[Plugin]]) -> None:
        number = next(counter)
        module_name = f"tk_engine_test_plugins_{uuid.uuid4().hex[:12]}"
        module = types.ModuleType(module_name)
        entry_points: dict[str, dict[str, str]] = {}
        for kind, plugins in kinds.items():
            for name, plugin_class in plugins.items():
                attribute = f"{kind}_{name}"
                setattr(module, attribute, plugin_class)
                entry_points.setdefault(GROUPS[kind], {})[name] = f"{module_name}:{attribute}"
        sys.modules[module_name] = module
        modules.append(module_name)
        write_distribution(fake_site, f"tk-engine-test-{number}", "1.0", entry_points)

    yield install
    for module_name in modules:
        sys.modules.pop(module_name, None)
    importlib.invalidate_caches()


# --- the command line, in-process ------------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder the test runs in (the default journal and output land here)."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def tradekit(workdir: Path, run_tradekit: Callable[..., Any]) -> Callable[..., Any]:
    """Run the ``tradekit`` command in-process in ``workdir`` (see ``run_tradekit``)."""
    return run_tradekit
