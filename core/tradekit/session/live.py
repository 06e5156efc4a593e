"""A dry or live run from settings: the exchange's bars as they close, orders simulated or sent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradekit.domain.events import EventKind, Severity
from tradekit.domain.run import RunInfo, RunMode, RunSummary
from tradekit.errors import ConfigError, ExchangeError
from tradekit.registry import Registry
from tradekit.session.plugins import RunPlugins, load_plugins, new_run_id, quote_of, simulated_venue
from tradekit.session.reconcile import Reconciliation, check_on_start, settle
from tradekit.session.resume import Resumption, load_resumption, look_up, missed_fills, refuse_unsure_start, take_up
from tradekit.settings import Settings
from tradekit.stop_requests import stop_request_path

if TYPE_CHECKING:
    from tradekit.engine.core import Engine, EngineStats
    from tradekit.journal import Journal


log = logging.getLogger("tradekit.session")


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
    #: For a run that was taken up after it died: the last bar time it had journaled before.
    resumed_after: datetime | None = None


def _resumable(
    journal: Journal, settings: Settings, plugins: RunPlugins, symbols: tuple[str, ...], mode: RunMode, *, fresh: bool
) -> Resumption | None:
    """The run to take up, if one died; with ``fresh`` it is closed as abandoned instead."""
    previous = journal.latest_resumable_run(plugins.strategy.name, plugins.exchange.name, symbols, mode=mode)
    if previous is None:
        return None
    if fresh:
        journal.finish_run(
            previous.run_id,
            RunSummary(
                run_id=previous.run_id,
                reason="abandoned: a fresh run was started (--fresh)",
                ended_at=datetime.now(UTC),
                equity=previous.equity if previous.equity is not None else Decimal(0),
                orders=previous.orders,
                fills=previous.fills,
            ),
        )
        return None
    return load_resumption(journal, previous, plugins.strategy.name, settings.backtest.cash)


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
    fresh: bool = False,
    on_mismatch: Callable[[Reconciliation], str] | None = None,
) -> LiveResult:
    """Run a strategy on an exchange's bars as they close: a dry run, or live with ``live=True``.

    A run of the same strategy, exchange, symbols and mode that died (never
    finished in the journal) is taken up where it stood
    (:mod:`tradekit.session.resume`); ``fresh=True`` marks it abandoned and
    starts a new run instead. Live, with ``on_mismatch``, open orders and
    positions on the venue that the journal does not explain are reported to
    it and handled as it answers (:mod:`tradekit.session.reconcile`).
    """
    from tradekit.control import RunControl
    from tradekit.engine.brokers import ExchangeBroker, SimulatedBroker
    from tradekit.engine.core import Engine
    from tradekit.engine.live import run_live as loop
    from tradekit.journal import Journal

    exchange = plugins.exchange
    exchange.connect()
    instruments = exchange.instruments(symbols)
    quote = quote_of(instruments)
    mode = RunMode.LIVE if live else RunMode.DRY_RUN
    with Journal(settings.journal, durable=True) as journal:
        resumption = _resumable(journal, settings, plugins, symbols, mode, fresh=fresh)
        cash = settings.backtest.cash if resumption is None else resumption.cash
        venue = None if live else simulated_venue(settings, exchange, instruments, quote, cash=cash)
        broker = SimulatedBroker(venue) if venue is not None else ExchangeBroker(exchange)
        # Live, the venue is asked about the dead run's open orders first: fills it made of them while the
        # run was down explain the position it holds now, and the exchange reports them once the run is on.
        answers = look_up(resumption, broker) if live and resumption is not None else None
        if answers is not None:
            refuse_unsure_start(answers, exchange.name, plugins.close)
        found = None
        if live and on_mismatch:
            missed = missed_fills(resumption, answers) if resumption is not None and answers is not None else {}
            found = check_on_start(
                plugins,
                journal,
                symbols,
                resumption,
                on_mismatch,
                missed=missed if broker.follows_resumed_orders else {},
            )
        if live:
            balance = exchange.balances().get(quote)
            cash = balance.total if balance is not None else Decimal(0)
        run = RunInfo(
            run_id=new_run_id() if resumption is None else resumption.record.run_id,
            mode=mode,
            exchange=exchange.name,
            strategies=(plugins.strategy.name,),
            symbols=symbols,
            risk_rules=tuple(r.name for r in plugins.risk_rules),
            notifiers=tuple(n.name for n in plugins.notifiers),
            started_at=datetime.now(UTC) if resumption is None else resumption.record.started_at,
        )
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
        restored = None
        if resumption is not None:
            engine.now = resumption.after or datetime.now(UTC)
            open_orders = take_up(resumption, engine, broker, venue, plugins.strategy, engine.now, answers)
            restored = (resumption.state, open_orders)
            log.info(
                "resuming run %s after %s: %d orders, %d fills, %d open",
                run.run_id,
                resumption.after,
                len(resumption.orders),
                len(resumption.fills),
                len(open_orders),
            )
        engine.now = datetime.now(UTC)
        if found is not None and not found.clean:
            settle(found, exchange, engine, plugins.strategy, engine.now)
        # Stop, flatten and resume requests (a chat command, `tradekit stop`) are served between bars.
        control = RunControl(
            engine, plugins.strategy, accepts_requests=True, stop_file=stop_request_path(settings.journal)
        )
        plugins.hooks.run_started(run, control)
        engine.notify(
            EventKind.RUN_STARTED,
            f"{run.mode.value} {run.run_id[:12]} {'resumed' if resumption else 'started'}: "
            f"{plugins.strategy.name} on {exchange.name} {', '.join(symbols)}",
            Severity.INFO,
            {"mode": run.mode.value},
        )
        reason = "finished"
        bars = 0

        def count(status: Any) -> None:
            nonlocal bars
            bars = status.bars
            control.after_bar()
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
                should_stop=lambda: control.service() or should_stop(),
                on_bar=count,
                resume_after=None if resumption is None else resumption.after,
                restored=restored,
            )
            if control.stop_reason is not None:
                reason = control.stop_reason
        except KeyboardInterrupt:
            reason = "interrupted (Ctrl-C)"
        except BaseException as error:
            reason = f"error: {type(error).__name__}: {error}"
            raise
        finally:
            if live:
                # A fill the exchange reported after the loop's last poll still belongs in the journal.
                try:
                    engine.drain()
                except ExchangeError as error:
                    log.error("last look at %s's order events failed: %s", exchange.name, error)
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
            control.close()
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
        resumed_after=None if resumption is None else resumption.after,
    )
