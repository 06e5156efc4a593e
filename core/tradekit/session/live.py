"""A dry or live run from settings: the exchange's bars as they close, orders simulated or sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradekit.domain.events import EventKind, Severity
from tradekit.domain.run import RunInfo, RunMode, RunSummary
from tradekit.errors import ConfigError
from tradekit.registry import Registry
from tradekit.session.plugins import RunPlugins, load_plugins, new_run_id, quote_of, simulated_venue
from tradekit.settings import Settings

if TYPE_CHECKING:
    from tradekit.engine.core import Engine, EngineStats


@dataclass
class LiveResult:
    """How a dry or live run ended."""

    run: RunInfo
    reason: str
    bars: int
    equity: Decimal
    start_equity: Decimal
    engine_stats: EngineStats
    journal_path: Path
    position: dict[str, Decimal]


def describe_live_run(settings: Settings, plugins: RunPlugins, symbols: tuple[str, ...], live: bool) -> str:
    """What a run is about to do, in words (shown before asking to confirm a live run)."""
    mode = "LIVE: real orders will be sent" if live else "dry run: live prices, simulated fills, no orders sent"
    risk = ", ".join(r.name for r in plugins.risk_rules) or "none"
    notifiers = ", ".join(n.name for n in plugins.notifiers) or "none"
    return (
        f"{mode}\n  exchange {plugins.exchange.name}, strategy {plugins.strategy.name}, "
        f"symbols {', '.join(symbols)}, timeframe {settings.timeframe}\n"
        f"  risk rules: {risk}; notifiers: {notifiers}; journal {settings.journal}"
    )


def prepare_live(
    settings: Settings, registry: Registry, *, origin: str, live: bool
) -> tuple[RunPlugins, tuple[str, ...]]:
    """Load and check everything a dry or live run needs, before asking anything of the user."""
    from tradekit.data import timeframe_to_ns

    timeframe_to_ns(settings.timeframe)  # an unknown timeframe is refused before anything starts
    plugins = load_plugins(settings, registry, origin=origin)
    if live and plugins.exchange.capabilities.simulated:
        raise ConfigError(
            f"exchange {plugins.exchange.name} is simulated; --live needs a real exchange "
            f"(installed: {', '.join(registry.names('exchange'))})"
        )
    symbols = settings.symbols or plugins.exchange.default_symbols()
    if not symbols:
        raise ConfigError(f"exchange {plugins.exchange.name} has no default symbol: pass --symbol")
    return plugins, tuple(symbols)


def run_live(
    settings: Settings,
    plugins: RunPlugins,
    symbols: tuple[str, ...],
    *,
    live: bool,
    max_bars: int | None,
    poll_interval: float,
    should_stop: Callable[[], bool] = lambda: False,
    on_bar: Callable[[Engine, Any], None] | None = None,
) -> LiveResult:
    """Run a strategy on an exchange's bars as they close: a dry run, or live with ``live=True``."""
    from tradekit.engine.brokers import ExchangeBroker, SimulatedBroker
    from tradekit.engine.core import Engine
    from tradekit.engine.live import run_live as loop
    from tradekit.journal import Journal

    exchange = plugins.exchange
    exchange.connect()
    instruments = exchange.instruments(symbols)
    quote = quote_of(instruments)
    venue = None if live else simulated_venue(settings, exchange, instruments, quote)
    broker = SimulatedBroker(venue) if venue is not None else ExchangeBroker(exchange)
    cash = settings.backtest.cash
    if live:
        balance = exchange.balances().get(quote)
        cash = balance.total if balance is not None else Decimal(0)
    run = RunInfo(
        run_id=new_run_id(),
        mode=RunMode.LIVE if live else RunMode.DRY_RUN,
        exchange=exchange.name,
        strategies=(plugins.strategy.name,),
        symbols=symbols,
        risk_rules=tuple(r.name for r in plugins.risk_rules),
        notifiers=tuple(n.name for n in plugins.notifiers),
        started_at=datetime.now(UTC),
    )
    with Journal(settings.journal, durable=True) as journal:
        journal.start_run(run, config=plugins.journal_config(settings))
        engine = Engine(
            run=run,
            broker=broker,
            hooks=plugins.hooks,
            instruments=instruments,
            quote_currency=quote,
            cash=cash,
            journal=journal,
        )
        engine.now = datetime.now(UTC)
        plugins.hooks.run_started(run)
        engine.notify(
            EventKind.RUN_STARTED,
            f"{run.mode.value} {run.run_id[:12]} started: "
            f"{plugins.strategy.name} on {exchange.name} {', '.join(symbols)}",
            Severity.INFO,
            {"mode": run.mode.value},
        )
        reason = "finished"
        bars = 0

        def count(status: Any) -> None:
            nonlocal bars
            bars = status.bars
            if on_bar is not None:
                on_bar(engine, status)

        try:
            reason = loop(
                engine,
                exchange,
                plugins.strategy,
                symbols,
                settings.timeframe,
                venue=venue,
                poll_interval=poll_interval,
                max_bars=max_bars,
                should_stop=should_stop,
                on_bar=count,
            )
        except KeyboardInterrupt:
            reason = "interrupted (Ctrl-C)"
        except BaseException as error:
            reason = f"error: {type(error).__name__}: {error}"
            raise
        finally:
            equity = engine.equity() if engine._last_close else cash
            summary = RunSummary(
                run_id=run.run_id,
                reason=reason,
                ended_at=datetime.now(UTC),
                equity=equity,
                orders=engine.stats.orders,
                fills=engine.stats.fills,
            )
            engine.notify(
                EventKind.RUN_STOPPED,
                f"{run.mode.value} {run.run_id[:12]} stopped: {reason}",
                Severity.INFO,
                {"reason": reason, "equity": str(equity)},
            )
            plugins.hooks.run_stopped(run, summary)
            journal.finish_run(run.run_id, summary)
            plugins.close()
    return LiveResult(
        run=run,
        reason=reason,
        bars=bars,
        equity=equity,
        start_equity=cash,
        engine_stats=engine.stats,
        journal_path=settings.journal,
        position={s: engine.ledger.quantity(s) for s in symbols},
    )
