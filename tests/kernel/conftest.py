"""Fixtures for the kernel's tests: fake installed distributions, an isolated registry, the CLI.

A fake distribution is what pip would leave behind: a ``NAME-VERSION.dist-info``
folder with ``METADATA`` and ``entry_points.txt``, next to the plugin's modules,
in a folder on ``sys.path`` (in-process tests) or on ``PYTHONPATH`` (tests that
run the ``tradekit`` command in a subprocess). No pip, no network.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tradekit.domain.events import NotifierEvent
from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import Fill, Order, OrderIntent, OrderStatus, OrderType, Side
from tradekit.domain.portfolio import Position
from tradekit.domain.run import RiskContext, RunInfo, RunMode, RunSummary

EntryPoints = dict[str, dict[str, str]]


def write_distribution(
    site: Path,
    name: str,
    version: str,
    entry_points: EntryPoints,
    modules: dict[str, str] | None = None,
) -> Path:
    """Write an installed-looking distribution into ``site``; returns its dist-info folder.

    ``entry_points`` maps a group to ``{entry point name: "module:attribute"}``;
    ``modules`` maps a file name relative to ``site`` (``pkg/__init__.py`` works)
    to its source, dedented.
    """
    site.mkdir(parents=True, exist_ok=True)
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    sections = []
    for group, points in entry_points.items():
        lines = "".join(f"{ep_name} = {value}\n" for ep_name, value in points.items())
        sections.append(f"[{group}]\n{lines}")
    (dist_info / "entry_points.txt").write_text("\n".join(sections))
    for filename, source in (modules or {}).items():
        path = site / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    # importlib.metadata and the import system cache directory listings.
    importlib.invalidate_caches()
    return dist_info


MakeDistribution = Callable[..., Path]


@pytest.fixture
def write_dist() -> Callable[..., Path]:
    """:func:`write_distribution`, for tests that need a distribution outside ``fake_site``."""
    return write_distribution


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh folder on ``sys.path`` for fake distributions; their modules are forgotten afterwards."""
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    yield site
    # Another test may write a module of the same name in its own folder.
    for module_name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(site)):
            del sys.modules[module_name]
    importlib.invalidate_caches()


@pytest.fixture
def make_distribution(fake_site: Path) -> MakeDistribution:
    """``make_distribution(name, version, entry_points, modules)``: a fake distribution for one test."""

    def make(name: str, version: str, entry_points: EntryPoints, modules: dict[str, str] | None = None) -> Path:
        return write_distribution(fake_site, name, version, entry_points, modules)

    return make


@pytest.fixture
def only_fake_distributions(fake_site: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Make entry-point discovery see the kernel and the fake distributions only.

    Plugin distributions installed in the development environment (the real
    ``tradekit-binance``, say) would otherwise change the names a test expects.
    Returns the list of sites searched; a test may append a second site to it.
    """
    kernel = [dist for dist in importlib.metadata.distributions() if dist.metadata["Name"] == "tradekit"]
    sites = [fake_site]

    def entry_points(**params: Any) -> importlib.metadata.EntryPoints:
        found: list[importlib.metadata.EntryPoint] = []
        seen: set[str] = set()
        for dist in [*kernel, *importlib.metadata.distributions(path=[str(site) for site in sites])]:
            # Like importlib.metadata: a distribution on the path twice is listed once.
            key = re.sub(r"[-_.]+", "-", dist.metadata["Name"] or "").lower()
            if key in seen:
                continue
            seen.add(key)
            found.extend(dist.entry_points)
        return importlib.metadata.EntryPoints(found).select(**params)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    return sites


@pytest.fixture(autouse=True)
def _clean_environment(tk_clean_environment: None) -> None:
    """The kit's ``tk_clean_environment`` for every test here: no shell ``TRADEKIT_*`` variable, no secret left."""


# --- the command line, in-process ----------------------------------------------------------------


@pytest.fixture
def run_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_tradekit: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``tradekit.cli.main.main(args)`` in-process from an empty folder (see ``run_tradekit``)."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return run_tradekit


# --- the command line, in a subprocess -----------------------------------------------------------


@dataclass
class CliRun:
    """Run the ``tradekit`` command in a fresh interpreter with fake distributions on ``PYTHONPATH``."""

    site: Path
    workdir: Path
    cache: Path

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The subprocess environment: no TRADEKIT_* from the caller, a private cache, a wide terminal."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("TRADEKIT_")}
        env.update(
            PYTHONPATH=str(self.site),
            XDG_CACHE_HOME=str(self.cache),  # stevedore's on-disk entry-point cache
            COLUMNS="250",  # where rich follows the terminal width (stderr), keep messages on one line
            PYTHONDONTWRITEBYTECODE="1",
        )
        env.update(extra or {})
        return env

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``tradekit ARGS`` via ``python -m tradekit.cli.main``."""
        return subprocess.run(
            [sys.executable, "-m", "tradekit.cli.main", *args],
            env=self.env(env),
            cwd=cwd or self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def script(self, source: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``python -c SOURCE ARGS`` in the same environment."""
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(source), *args],
            env=self.env(env),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def new_cli_site(tmp_path_factory: pytest.TempPathFactory, name: str) -> CliRun:
    """An empty site folder, working folder and cache folder for subprocess runs."""
    base = tmp_path_factory.mktemp(name)
    for folder in ("site", "work", "cache"):
        (base / folder).mkdir()
    # A .disable file stops stevedore from writing its cache at all.
    (base / "cache" / "python-entrypoints").mkdir()
    (base / "cache" / "python-entrypoints" / ".disable").write_text("")
    return CliRun(site=base / "site", workdir=base / "work", cache=base / "cache")


# --- sample domain objects, for hook calls -------------------------------------------------------


@dataclass
class Samples:
    """One of each object the hooks carry."""

    instrument: Instrument
    intent: OrderIntent
    order: Order
    fill: Fill
    position: Position
    run: RunInfo
    summary: RunSummary
    context: RiskContext
    event: NotifierEvent


@pytest.fixture
def samples() -> Samples:
    """Fresh sample objects: a BTC/USDT limit buy, its order, a fill, and the run around them."""
    now = datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    instrument = Instrument(
        symbol="BTC/USDT", base="BTC", quote="USDT", tick_size=Decimal("0.01"), lot_size=Decimal("0.00001")
    )
    intent = OrderIntent(
        symbol="BTC/USDT",
        side=Side.BUY,
        quantity=Decimal("0.5"),
        type=OrderType.LIMIT,
        price=Decimal("42000.5"),
    )
    order = Order.from_intent(intent, "run1-0001", created_at=now)
    order.transition(OrderStatus.ACCEPTED, at=now)
    fill = Fill(
        fill_id="fill-1",
        client_order_id="run1-0001",
        symbol="BTC/USDT",
        side=Side.BUY,
        quantity=Decimal("0.5"),
        price=Decimal("42000.5"),
        fee=Decimal("0.021"),
        fee_currency="USDT",
        timestamp=now,
    )
    position = Position(symbol="BTC/USDT", quantity=Decimal("0.5"), average_price=Decimal("42000.5"))
    run = RunInfo(
        run_id="run1",
        mode=RunMode.BACKTEST,
        exchange="paper",
        strategies=("sma_cross",),
        symbols=("BTC/USDT",),
        started_at=now,
    )
    summary = RunSummary(run_id="run1", reason="finished", ended_at=now, equity=Decimal("100000"), orders=1, fills=1)
    context = RiskContext(
        timestamp=now,
        equity=Decimal("100000"),
        quote_currency="USDT",
        cash={"USDT": Decimal("100000")},
        positions={},
        open_orders=(),
        prices={"BTC/USDT": Decimal("42000.5")},
        instruments={"BTC/USDT": instrument},
    )
    event = NotifierEvent(kind="order_filled", message="filled 0.5 BTC/USDT", data={"price": "42000.5"}, run_id="run1")
    return Samples(instrument, intent, order, fill, position, run, summary, context, event)


# --- a shared set of installed plugins for subprocess tests of the CLI ----------------------------

BROKEN_MODULE = 'raise RuntimeError("fake_broken cannot start: the venue SDK is missing")\n'

HEAVY_MODULE = '''
    import ccxt  # the heavy dependency: must be imported only when this plugin is used

    from tradekit.plugin import Exchange


    class HeavyExchange(Exchange):
        """An exchange that needs ccxt."""
'''

# Stands in for ccxt: leaves a file behind when imported, so a test can tell.
FAKE_CCXT = """
    import os
    import pathlib

    marker = os.environ.get("TK_CCXT_MARKER")
    if marker:
        pathlib.Path(marker).write_text("ccxt was imported")
"""


@pytest.fixture(scope="session")
def plugin_cli(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """The ``tradekit`` command with a broken plugin, a plugin that imports (a fake) ccxt, and that ccxt."""
    cli = new_cli_site(tmp_path_factory, "plugin-cli")
    write_distribution(
        cli.site,
        "fake-broken",
        "1.0",
        {"tradekit.exchanges": {"broken": "fake_broken:Exchange"}},
        {"fake_broken.py": BROKEN_MODULE},
    )
    write_distribution(
        cli.site,
        "tradekit-fake-heavy",
        "0.2",
        {"tradekit.exchanges": {"heavyex": "fake_heavy:HeavyExchange"}},
        {"fake_heavy.py": HEAVY_MODULE, "ccxt/__init__.py": FAKE_CCXT},
    )
    return cli
