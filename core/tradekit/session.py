"""Setting up a run from settings: load the named plugins, validate everything, wire the engine.

Both ``tradekit backtest`` and ``tradekit run`` go through :func:`load_plugins`,
so a bad plugin name, a plugin that fails to import, or a bad setting of any
named plugin stops the command before anything runs, whatever the mode.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradekit.domain.events import EventKind, Severity
from tradekit.domain.run import RunInfo, RunMode, RunSummary
from tradekit.errors import ConfigError, PluginLoadError
from tradekit.hooks import HookFacade, new_plugin_manager
from tradekit.plugin import Exchange, Notifier, Plugin, RiskRule, Strategy
from tradekit.registry import Registry
from tradekit.secrets import register_model_secrets
from tradekit.settings import FillTiming, Settings, validate_plugin_settings

if TYPE_CHECKING:
    from pydantic import BaseModel

    from tradekit.domain.bars import BarSeries
    from tradekit.domain.instruments import Instrument
    from tradekit.engine.backtest import BacktestOutcome
    from tradekit.engine.core import Engine, EngineStats
    from tradekit.report import BacktestStats, Trade
    from tradekit.sim import SimulatedVenue


@dataclass
class RunPlugins:
    """The plugins a run named, created with validated settings, and the hooks that join them."""

    exchange: Exchange
    strategy: Strategy
    risk_rules: list[RiskRule]
    notifiers: list[Notifier]
    hooks: HookFacade

    def close(self) -> None:
        """Close notifiers (flushing their queues) and the exchange."""
        for notifier in self.notifiers:
            try:
                notifier.close()
            except Exception as error:  # a notifier never stops shutdown
                notifier.log.error("closing notifier %s failed: %s", notifier.name, error)
        self.exchange.close()


def create_plugin(registry: Registry, kind: str, name: str, tables: dict[str, dict[str, Any]], origin: str) -> Plugin:
    """Load plugin ``name`` of ``kind`` and create it with its validated settings table."""
    plugin_class = registry.load_class(kind, name)
    try:
        settings = validate_plugin_settings(
            plugin_class.Settings, tables.get(name, {}), kind=kind, name=name, origin=origin
        )
    except ConfigError as error:
        raise ConfigError(error.message, hint=_settings_hint(plugin_class.Settings, kind, name)) from None
    register_model_secrets(settings)
    return plugin_class(settings, name=name)  # type: ignore[arg-type]


def _settings_hint(model: type[BaseModel], kind: str, name: str) -> str:
    """The settings a plugin takes, with their defaults, for a message about a refused one."""
    described = [
        f"{key} (required)"
        if field.is_required()
        else f"{key} (default {field.get_default(call_default_factory=True)})"
        for key, field in model.model_fields.items()
    ]
    if not described:
        return f"{kind} {name} takes no settings"
    return f"{kind} {name} takes: {', '.join(described)}"


def load_plugins(settings: Settings, registry: Registry, *, origin: str) -> RunPlugins:
    """Create every plugin the settings name, in config order, or raise a user error."""
    if settings.strict_plugins or registry.strict:
        broken = [health for health in registry.check() if not health.ok]
        if broken:
            lines = "\n".join(f"  {h.entry.label}: {h.error}" for h in broken)
            raise PluginLoadError(f"plugins failed to load (strict plugin mode):\n{lines}")
    if not settings.strategy:
        raise ConfigError(
            'no strategy named: pass --strategy NAME or set `strategy = "NAME"` in tradekit.toml; '
            f"installed: {', '.join(registry.names('strategy')) or '(none)'}"
        )
    tables = settings.plugins
    exchange = create_plugin(registry, "exchange", settings.exchange, tables.exchange, origin)
    strategy = create_plugin(registry, "strategy", settings.strategy, tables.strategy, origin)
    risk_rules = [create_plugin(registry, "risk", n, tables.risk, origin) for n in settings.risk]
    notifiers = [create_plugin(registry, "notifier", n, tables.notifier, origin) for n in settings.notifiers]
    for table_kind, table in (("exchange", tables.exchange), ("strategy", tables.strategy)):
        for name in table:
            if not registry.find_any_kind(name):
                raise ConfigError(f"[plugins.{table_kind}.{name}]: {registry.unknown_message(table_kind, name)}")
    pm = new_plugin_manager()
    # Registration order is config order; the facade calls hooks in that order.
    pm.register(exchange, name=f"exchange:{exchange.name}")
    pm.register(strategy, name=f"strategy:{strategy.name}")
    for rule in risk_rules:
        pm.register(rule, name=rule.name)
    for notifier in notifiers:
        pm.register(notifier, name=f"notifier:{notifier.name}")
    return RunPlugins(
        exchange=exchange,  # type: ignore[arg-type]
        strategy=strategy,  # type: ignore[arg-type]
        risk_rules=risk_rules,  # type: ignore[arg-type]
        notifiers=notifiers,  # type: ignore[arg-type]
        hooks=HookFacade(pm),
    )


def new_run_id() -> str:
    """A fresh run id: 32 hex digits."""
    return uuid.uuid4().hex


def quote_of(instruments: dict[str, Instrument]) -> str:
    """The one quote currency of a run's instruments."""
    quotes = {instrument.quote for instrument in instruments.values()}
    if len(quotes) != 1:
        raise ConfigError(f"the symbols of one run must share a quote currency; got {', '.join(sorted(quotes))}")
    return quotes.pop()


def simulated_venue(
    settings: Settings, exchange: Exchange, instruments: dict[str, Instrument], quote: str
) -> SimulatedVenue:
    """The simulated venue a backtest or dry run fills on, with the exchange's (or the configured) fees."""
    from tradekit.sim import BasisPointSlippage, FeeSchedule, NoSlippage, SimulatedVenue

    first = next(iter(instruments))
    exchange_fees = exchange.fees(first) or (Decimal(0), Decimal(0))
    maker, taker = exchange_fees
    if settings.backtest.fee is not None:
        maker = taker = settings.backtest.fee
    slippage = BasisPointSlippage(settings.backtest.slippage_bps) if settings.backtest.slippage_bps else NoSlippage()
    return SimulatedVenue(
        instruments,
        {quote: settings.backtest.cash},
        FeeSchedule(maker=maker, taker=taker),
        slippage,
        name=f"{exchange.name} (simulated)",
    )


# --- backtest ---------------------------------------------------------------------------


@dataclass
class BacktestResult:
    """Everything a backtest produced, for tables, files and ``--json``."""

    run: RunInfo
    data: dict[str, BarSeries]
    outcome: BacktestOutcome
    trades: list[Trade]
    stats: BacktestStats
    engine_stats: EngineStats
    journal_path: Path
    fees: tuple[Decimal, Decimal]
    extra: dict[str, Any] = field(default_factory=dict)


def load_backtest_data(
    settings: Settings,
    exchange: Exchange,
    data_paths: list[Path],
    *,
    start: datetime | None,
    end: datetime | None,
) -> dict[str, BarSeries]:
    """Bars for a backtest: the data files given, or the exchange's history (paper: its simulated market)."""
    from tradekit.data import load_bars, timeframe_to_ns

    # A timeframe the user set (option, environment or config) must match the bars; the default 1m
    # must not refuse an hourly file given without --timeframe.
    asked = settings.timeframe if "timeframe" in settings.model_fields_set else None
    if asked is not None:
        timeframe_to_ns(asked)  # an unknown timeframe is a ConfigError naming the valid ones
    data: dict[str, BarSeries] = {}
    if data_paths:
        if settings.symbols and len(settings.symbols) != len(data_paths):
            raise ConfigError(
                f"{len(data_paths)} data file(s) but {len(settings.symbols)} symbol(s): give one --symbol per "
                "--data file, in the same order, or none to take the symbols from the file names"
            )
        for k, path in enumerate(data_paths):
            symbol = settings.symbols[k] if settings.symbols else None
            series = load_bars(path, symbol=symbol)
            if series.symbol in data:
                raise ConfigError(f"two data files for symbol {series.symbol}; name each with --symbol")
            _check_timeframe(series, asked, f"data file {path}")
            data[series.symbol] = _between(series, start, end, path)
    else:
        symbols = settings.symbols or exchange.default_symbols()
        if not symbols:
            raise ConfigError(f"exchange {exchange.name} has no default symbol: pass --symbol or --data")
        for symbol in symbols:
            series = exchange.fetch_history(symbol, settings.timeframe, start, end)
            _check_timeframe(series, asked, f"exchange {exchange.name}")
            data[symbol] = _between(series, start, end, exchange.name)
    if len(data) > 1:
        from tradekit.engine.backtest import align

        data = align(data)
    return data


def _check_timeframe(series: BarSeries, asked: str | None, source: str) -> None:
    """Refuse bars of another timeframe than the one the user set: nothing is resampled."""
    if asked is not None and series.timeframe != asked:
        raise ConfigError(
            f"{source} has {series.timeframe} bars of {series.symbol}, but the timeframe {asked} was asked "
            "(--timeframe, TRADEKIT_TIMEFRAME or `timeframe` in the config); bars are not resampled: "
            f"give {asked} bars, or leave the timeframe unset to use the data's own"
        )


def _between(series: BarSeries, start: datetime | None, end: datetime | None, source: object) -> BarSeries:
    import numpy as np

    lo = 0 if start is None else int(np.searchsorted(series.timestamps, int(start.timestamp() * 1e9)))
    hi = len(series) if end is None else int(np.searchsorted(series.timestamps, int(end.timestamp() * 1e9)))
    if hi - lo < 2:
        raise ConfigError(
            f"{source}: fewer than 2 bars of {series.symbol} between {start or 'the start'} and "
            f"{end or 'the end'}; the data runs from {series.datetime_at(0) if len(series) else '-'} "
            f"to {series.datetime_at(len(series) - 1) if len(series) else '-'}"
        )
    return series.slice(lo, hi)


def run_backtest(
    settings: Settings,
    registry: Registry,
    *,
    origin: str,
    data_paths: list[Path] | None = None,
    data: dict[str, BarSeries] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: Callable[[int, int], Callable[[int], None]] | None = None,
) -> BacktestResult:
    """Load plugins and data, run the backtest, journal it, and compute its report.

    Bars come from ``data`` (already loaded, e.g. from a notebook), else from
    ``data_paths``, else from the exchange's history (paper: its simulated market).
    """
    from tradekit.engine.backtest import run_backtest as loop
    from tradekit.engine.brokers import SimulatedBroker
    from tradekit.engine.core import Engine
    from tradekit.journal import Journal
    from tradekit.report import compute_stats, trades_from_fills

    plugins = load_plugins(settings, registry, origin=origin)
    if data is None:
        data = load_backtest_data(settings, plugins.exchange, data_paths or [], start=start, end=end)
    elif len(data) > 1:
        from tradekit.engine.backtest import align

        data = align(data)
    plugins.exchange.use_data(data)
    instruments = plugins.exchange.instruments(tuple(data))
    quote = quote_of(instruments)
    venue = simulated_venue(settings, plugins.exchange, instruments, quote)
    run = RunInfo(
        run_id=new_run_id(),
        mode=RunMode.BACKTEST,
        exchange=plugins.exchange.name,
        strategies=(plugins.strategy.name,),
        symbols=tuple(data),
        risk_rules=tuple(r.name for r in plugins.risk_rules),
        notifiers=tuple(n.name for n in plugins.notifiers),
        started_at=datetime.now(UTC),
    )
    first = next(iter(data.values()))
    with Journal(settings.journal, durable=False) as journal:
        journal.start_run(run, config=_config_for_journal(settings, data))
        engine = Engine(
            run=run,
            broker=SimulatedBroker(venue),
            hooks=plugins.hooks,
            instruments=instruments,
            quote_currency=quote,
            cash=settings.backtest.cash,
            journal=journal,
        )
        plugins.hooks.run_started(run)
        engine.now = first.datetime_at(0)
        engine.notify(
            EventKind.RUN_STARTED,
            f"backtest {run.run_id[:12]} started: {plugins.strategy.name} on {', '.join(data)}",
            Severity.INFO,
            {"mode": run.mode.value},
        )
        reason = "finished"
        try:
            outcome = loop(
                engine,
                venue,
                plugins.strategy,
                data,
                fill_at_close=settings.backtest.fill_at is FillTiming.CLOSE,
                skip_idle_bars=settings.backtest.skip_idle_bars,
                progress=progress(len(first), 0) if progress is not None else None,
            )
        except BaseException as error:
            reason = f"error: {type(error).__name__}: {error}"
            journal.finish_run(
                run.run_id,
                RunSummary(
                    run_id=run.run_id,
                    reason=reason,
                    ended_at=datetime.now(UTC),
                    equity=engine.equity(),
                    orders=engine.stats.orders,
                    fills=engine.stats.fills,
                ),
            )
            plugins.close()
            raise
        trades = trades_from_fills(outcome.fills)
        stats = compute_stats(
            first.timestamps,
            outcome.equity,
            trades=trades,
            fees_paid=outcome.fees_paid,
            in_market=outcome.in_market,
            close=first.close,
        )
        summary = RunSummary(
            run_id=run.run_id,
            reason=reason,
            ended_at=datetime.now(UTC),
            equity=Decimal(repr(float(outcome.equity[-1]))),
            orders=engine.stats.orders,
            fills=engine.stats.fills,
            stats=stats.as_dict(),
        )
        engine.notify(
            EventKind.RUN_STOPPED,
            f"backtest {run.run_id[:12]} finished: return {stats.total_return_pct:.2f}%",
            Severity.INFO,
            {"stats": stats.as_dict()},
        )
        plugins.hooks.run_stopped(run, summary)
        journal.store_report(
            run.run_id,
            {"stats": stats.as_dict(), "engine": vars(engine.stats), "visited_bars": outcome.visited_bars},
        )
        journal.finish_run(run.run_id, summary)
    plugins.close()
    return BacktestResult(
        run=run,
        data=data,
        outcome=outcome,
        trades=trades,
        stats=stats,
        engine_stats=engine.stats,
        journal_path=settings.journal,
        fees=(venue.fees.maker, venue.fees.taker),
    )


def _config_for_journal(settings: Settings, data: dict[str, BarSeries]) -> dict[str, Any]:
    config = settings.model_dump(mode="json")
    config["data"] = {symbol: series.source for symbol, series in data.items()}
    return config


# --- dry run and live -----------------------------------------------------------------------


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
        journal.start_run(run, config=settings.model_dump(mode="json"))
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
