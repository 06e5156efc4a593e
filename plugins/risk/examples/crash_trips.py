"""Print every circuit-breaker trip on the 2024-08-05 crash, with the breaker's default settings.

Two runs over ``binance_BTC_USDT-1m_20240726-20240825.feather`` (Binance BTC/USDT 1m):

* ``sma_cross`` (the kernel's reference strategy, 95% of cash per entry, 0.1% fees), as
  ``tradekit backtest --strategy sma_cross --data FILE`` with ``risk = ["circuit_breaker"]``;
* always in: 95% of cash bought on the first bar and held, so only the market trips it.

Usage: ``python plugins/risk/examples/crash_trips.py [PATH-TO-FILE]`` (default: ../shared/data).
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tradekit_risk.circuit_breaker import CircuitBreaker

from tradekit.control import RunControl
from tradekit.data import load_bars
from tradekit.domain.orders import OrderIntent, Side
from tradekit.domain.run import RunInfo, RunMode, RunSummary
from tradekit.engine.backtest import run_backtest as backtest_loop
from tradekit.engine.brokers import SimulatedBroker
from tradekit.engine.core import Engine
from tradekit.hooks import HookFacade, new_plugin_manager
from tradekit.journal import Journal
from tradekit.plugin import Strategy, StrategyContext
from tradekit.registry import Registry
from tradekit.session import run_backtest
from tradekit.settings import load_settings
from tradekit.sim import FeeSchedule, SimulatedVenue

FILE = "binance_BTC_USDT-1m_20240726-20240825.feather"


def show(title: str, transitions: list[tuple[str, str, str]]) -> None:
    print(f"\n== {title}")
    trips = [t for t in transitions if t[0] == "tripped"]
    causes = Counter(t[1] for t in trips)
    print(
        f"{len(trips)} trips ({', '.join(f'{c} {n}' for c, n in causes.most_common())}), "
        f"{sum(1 for t in transitions if t[0] != 'tripped')} half-opens and resets"
    )
    for kind, cause, message in transitions:
        if kind == "tripped" and cause != "trial_lost":
            print(f"  {message}")


def sma_cross(path: Path) -> list[tuple[str, str, str]]:
    with tempfile.TemporaryDirectory() as folder:
        journal = Path(folder) / "journal.sqlite3"
        settings = load_settings(None, {"strategy": "sma_cross", "risk": ["circuit_breaker"], "journal": journal})
        result = run_backtest(settings, Registry(), origin="crash_trips", data_paths=[path])
        print(
            f"sma_cross: return {result.stats.total_return_pct:.2f}%, {result.engine_stats.orders} orders, "
            f"{result.engine_stats.risk_rejections} entries blocked by the breaker"
        )
        with Journal(journal) as opened:
            events = opened.events(result.run.run_id)
    return [
        (e.data["transition"], e.data["cause"], e.message.removeprefix("circuit breaker tripped: "))
        for e in events
        if e.kind.startswith("circuit_breaker")
    ]


class AlwaysIn(Strategy):
    """Buys 95% of cash on the first bar and holds to the end."""

    def on_bar(self, ctx: StrategyContext) -> None:
        if ctx.position() == 0 and ctx.index == 0:
            price = Decimal(repr(ctx.close()))
            ctx.submit(
                OrderIntent(
                    symbol=ctx.symbols[0],
                    side=Side.BUY,
                    quantity=ctx.instrument().round_quantity(ctx.cash() * Decimal("0.95") / price),
                )
            )


def always_in(path: Path) -> list[tuple[str, str, str]]:
    from tradekit.paper import PaperExchange

    data = {"BTC/USDT": load_bars(path, symbol="BTC/USDT")}
    paper = PaperExchange()
    paper.use_data(data)
    instruments = paper.instruments(("BTC/USDT",))
    venue = SimulatedVenue(
        instruments, {"USDT": Decimal(100_000)}, FeeSchedule(maker=Decimal("0.001"), taker=Decimal("0.001"))
    )
    rule = CircuitBreaker()
    pm = new_plugin_manager()
    pm.register(rule, name=rule.name)
    run = RunInfo(
        run_id="c" * 32,
        mode=RunMode.BACKTEST,
        exchange="paper",
        strategies=("always_in",),
        symbols=("BTC/USDT",),
        risk_rules=("circuit_breaker",),
    )
    engine = Engine(
        run=run,
        broker=SimulatedBroker(venue),
        hooks=HookFacade(pm),
        instruments=instruments,
        quote_currency="USDT",
        cash=Decimal(100_000),
    )
    strategy = AlwaysIn(name="always_in")
    engine.now = data["BTC/USDT"].datetime_at(0)
    engine.hooks.run_started(run, RunControl(engine, strategy, accepts_requests=False))
    outcome = backtest_loop(engine, venue, strategy, data, skip_idle_bars=False)
    end = RunSummary(
        run_id=run.run_id,
        reason="finished",
        ended_at=datetime.now(UTC),
        equity=engine.equity(),
        orders=engine.stats.orders,
        fills=engine.stats.fills,
    )
    engine.hooks.run_stopped(run, end)  # as a session does: the breaker works out the bars since the entry
    print(
        f"always in: equity {outcome.equity[0]:,.0f} -> {outcome.equity[-1]:,.0f}, lowest {outcome.equity.min():,.0f}"
    )
    return [(t.kind, t.cause, f"{t.message}; {t.data.get('blocked', '')}") for t in rule.transitions]


def main() -> None:
    default = Path(__file__).resolve().parents[3].parent / "shared" / "data" / FILE
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    print(f"circuit_breaker defaults: {CircuitBreaker().settings.model_dump(mode='json')}")
    show("sma_cross with circuit_breaker (trips other than a lost half-open trial)", sma_cross(path))
    show("always in with circuit_breaker", always_in(path))


if __name__ == "__main__":
    main()
