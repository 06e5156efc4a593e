"""A backtest from settings: plugins, data, the simulated venue, the loop, the journal, the report."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradekit.domain.bars import ns_to_datetime
from tradekit.domain.events import EventKind, Severity
from tradekit.domain.run import RunInfo, RunMode, RunSummary
from tradekit.errors import ConfigError, DataError
from tradekit.plugin import Exchange
from tradekit.registry import Registry
from tradekit.session.plugins import RunPlugins, load_plugins, new_run_id, quote_of, simulated_venue
from tradekit.settings import FillTiming, Settings

if TYPE_CHECKING:
    from tradekit.domain.bars import BarSeries
    from tradekit.engine.backtest import BacktestOutcome
    from tradekit.engine.core import EngineStats
    from tradekit.report import BacktestStats, StrategyReport, Trade


log = logging.getLogger("tradekit.session")


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
    #: What the strategy added to the report (:meth:`~tradekit.plugin.Strategy.report`), if anything.
    strategy_report: StrategyReport | None = None


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
    _warn_about_gaps(data)
    return align_symbols(data)


def align_symbols(data: dict[str, BarSeries]) -> dict[str, BarSeries]:
    """Several symbols are traded on the times they all have; refuse what cannot be aligned."""
    if len(data) < 2:
        return data
    from tradekit.engine.backtest import align

    timeframes = {series.timeframe for series in data.values()}
    if len(timeframes) > 1:
        listed = ", ".join(f"{s.symbol} {s.timeframe}" for s in data.values())
        raise DataError(f"the symbols of one backtest need bars of one timeframe; got {listed}")
    aligned = align(data)
    if len(next(iter(aligned.values()))) < 2:
        spans = "; ".join(
            f"{s.symbol} {s.datetime_at(0):%Y-%m-%d %H:%M} to {s.datetime_at(len(s) - 1):%Y-%m-%d %H:%M}"
            for s in data.values()
            if len(s)
        )
        raise DataError(
            f"the symbols have fewer than 2 bar times in common, so they cannot be traded together: {spans}"
        )
    return aligned


def _warn_about_gaps(data: dict[str, BarSeries]) -> None:
    """Gaps are not errors (exchanges have outages), but a user should know of them."""
    from tradekit.data import find_gaps

    for series in data.values():
        gaps = find_gaps(series)
        if gaps:
            longest = max(gaps, key=lambda gap: gap.missing_bars)
            log.warning(
                "%s (%s): %d gap(s) in the bars, %d bar(s) missing in all; the longest misses %d bar(s) after %s",
                series.symbol,
                series.source,
                len(gaps),
                sum(g.missing_bars for g in gaps),
                longest.missing_bars,
                ns_to_datetime(int(longest.start)).strftime("%Y-%m-%d %H:%M"),
            )


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
    from tradekit.control import RunControl
    from tradekit.engine.backtest import BACKTEST_KEEP_FINISHED, fewer_collections
    from tradekit.engine.backtest import run_backtest as loop
    from tradekit.engine.brokers import SimulatedBroker
    from tradekit.engine.core import Engine
    from tradekit.engine.recording import DeferredRecorder, NoRecorder
    from tradekit.journal import Journal
    from tradekit.report import compute_stats, trades_from_executions

    plugins = load_plugins(settings, registry, origin=origin)
    if data is None:
        data = load_backtest_data(settings, plugins.exchange, data_paths or [], start=start, end=end)
    else:
        data = align_symbols(data)
    plugins.exchange.use_data(data)
    instruments = plugins.exchange.instruments(tuple(data))
    quote = quote_of(instruments)
    venue = simulated_venue(settings, plugins.exchange, instruments, quote, keep_finished=BACKTEST_KEEP_FINISHED)
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
        journal.start_run(run, config=_config_for_journal(settings, plugins, data))
        recorder: DeferredRecorder | NoRecorder = (
            DeferredRecorder(journal, run.run_id) if settings.backtest.journal_orders else NoRecorder()
        )
        engine = Engine(
            run=run,
            broker=SimulatedBroker(venue),
            hooks=plugins.hooks,
            instruments=instruments,
            quote_currency=quote,
            cash=settings.backtest.cash,
            journal=journal,
            recorder=recorder,
            keep_finished=BACKTEST_KEEP_FINISHED,
        )
        engine.now = first.datetime_at(0)
        # Plugins may emit events and read bars through it; a backtest takes no stop requests.
        control = RunControl(engine, plugins.strategy, accepts_requests=False)
        plugins.hooks.run_started(run, control)
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
                capabilities=plugins.exchange.capabilities,
                progress=progress(len(first), 0) if progress is not None else None,
            )
        except BaseException as error:
            reason = f"error: {type(error).__name__}: {error}"
            recorder.flush()  # what the run did before it failed stays inspectable
            failed = RunSummary(
                run_id=run.run_id,
                reason=reason,
                ended_at=datetime.now(UTC),
                equity=engine.equity(),
                orders=engine.stats.orders,
                fills=engine.stats.fills,
            )
            engine.notify(
                EventKind.RUN_STOPPED,
                f"backtest {run.run_id[:12]} stopped: {reason}",
                Severity.ERROR,
                {"reason": reason},
            )
            control.close()
            plugins.hooks.run_stopped(run, failed)
            journal.finish_run(run.run_id, failed)
            plugins.close()
            raise
        # The last batch is written while the report is built; flushed (waited for) before the run ends.
        recorder.send()
        try:
            # Rebuilding the trades allocates as much as the loop did, and is spared the collector the same way.
            with fewer_collections():
                strategy_report = plugins.strategy.report()
                trades = trades_from_executions(outcome.fill_log.executions())
                stats = compute_stats(
                    first.timestamps,
                    outcome.equity,
                    trades=trades,
                    fees_paid=outcome.fees_paid,
                    in_market=outcome.in_market,
                    close=first.close,
                )
        finally:
            recorder.flush()  # every order is in the journal before anyone hears the run ended
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
        control.close()
        plugins.hooks.run_stopped(run, summary)
        stored: dict[str, Any] = {
            "stats": stats.as_dict(),
            "engine": vars(engine.stats),
            "visited_bars": outcome.visited_bars,
        }
        if strategy_report is not None:
            stored["strategy"] = strategy_report.as_dict()
        journal.store_report(run.run_id, stored)
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
        strategy_report=strategy_report,
    )


def _config_for_journal(settings: Settings, plugins: RunPlugins, data: dict[str, BarSeries]) -> dict[str, Any]:
    config = plugins.journal_config(settings)
    config["data"] = {symbol: series.source for symbol, series in data.items()}
    return config
