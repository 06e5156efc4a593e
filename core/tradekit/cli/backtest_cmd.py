"""``tradekit backtest``."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tradekit.cli.common import (
    parse_params,
    parse_when,
    registry_from,
    settings_from,
    stderr_console,
    stdout_console,
    with_strategy_params,
)

if TYPE_CHECKING:
    from tradekit.session import BacktestResult


@click.command()
@click.option("--strategy", "-s", help="Strategy plugin to test (see `tradekit plugins list`).")
@click.option("--exchange", "-e", help="Exchange whose rules and fees to simulate. Default: paper.")
@click.option("--symbol", "symbols", multiple=True, help="Symbol; repeat for several. Default: from the data.")
@click.option(
    "--data",
    "data_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="OHLCV file (CSV, Parquet, freqtrade feather or JSON); repeat for several symbols. "
    "Default: the exchange's history (paper: its built-in simulated market).",
)
@click.option("--timeframe", "-t", help="Bar size, e.g. 1m, 1h.")
@click.option("--from", "start", help="First bar to use (YYYY-MM-DD[THH:MM], UTC).")
@click.option("--to", "end", help="Stop before this time (YYYY-MM-DD[THH:MM], UTC).")
@click.option("--cash", type=str, help="Starting cash in the quote currency.")
@click.option("--fee", type=str, help="Fee rate for every fill, e.g. 0.001 for 0.1%. Default: the exchange's fees.")
@click.option("--fill-at", type=click.Choice(["close", "next_open"]), help="When market orders fill.")
@click.option("--param", "-p", "params", multiple=True, help="Strategy parameter key=value; repeat as needed.")
@click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("tradekit-output"),
    show_default=True,
    help="Folder for the trades CSV and the HTML report.",
)
@click.option("--no-files", is_flag=True, help="Write no CSV or HTML files.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.pass_context
def backtest(
    ctx: click.Context,
    strategy: str | None,
    exchange: str | None,
    symbols: tuple[str, ...],
    data_paths: tuple[Path, ...],
    timeframe: str | None,
    start: str | None,
    end: str | None,
    cash: str | None,
    fee: str | None,
    fill_at: str | None,
    params: tuple[str, ...],
    output: Path,
    no_files: bool,
    as_json: bool,
) -> None:
    """Backtest a strategy on historical or simulated bars.

    With no --data, the paper exchange's seeded simulated market is used, so
    this works offline: `tradekit backtest --strategy sma_cross`.
    """
    from tradekit import session

    backtest_overrides: dict[str, Any] = {}
    if cash is not None:
        backtest_overrides["cash"] = cash
    if fee is not None:
        backtest_overrides["fee"] = fee
    if fill_at is not None:
        backtest_overrides["fill_at"] = fill_at
    overrides: dict[str, Any] = {
        "strategy": strategy,
        "exchange": exchange,
        "symbols": list(symbols) or None,
        "timeframe": timeframe,
    }
    if backtest_overrides:
        overrides["backtest"] = backtest_overrides
    overrides = with_strategy_params(overrides, strategy, parse_params(params))
    settings, origin = settings_from(ctx, overrides)
    registry = registry_from(ctx)
    date_from, date_to = parse_when(start, "--from"), parse_when(end, "--to")
    if date_from is not None and date_to is not None and date_to <= date_from:
        from tradekit.errors import ConfigError

        raise ConfigError(f"--to {end} must be after --from {start}")
    for path in data_paths:
        if not path.exists():
            from tradekit.errors import DataError

            raise DataError(f"data file {path} does not exist")

    progress_console = stderr_console()
    with _progress(progress_console, enabled=not as_json) as make_progress:
        result = session.run_backtest(
            settings,
            registry,
            origin=origin,
            data_paths=list(data_paths),
            start=date_from,
            end=date_to,
            progress=make_progress,
        )
    files = {} if no_files else _write_files(result, output)
    if as_json:
        click.echo(json.dumps(_as_json(result, files), indent=2, default=str))
        return
    _print_result(result, files)


class _progress:
    """A rich progress bar on stderr (a no-op when disabled)."""

    def __init__(self, console: Any, *, enabled: bool) -> None:
        self.console = console
        self.enabled = enabled and console.is_terminal
        self._progress: Any = None

    def __enter__(self) -> Callable[[int, int], Callable[[int], None]] | None:
        if not self.enabled:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("[bold]backtest[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("bars"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()

        def make(total: int, _start: int) -> Callable[[int], None]:
            task = self._progress.add_task("bars", total=total)
            return lambda advance: self._progress.update(task, advance=advance)

        return make

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def _write_files(result: BacktestResult, output: Path) -> dict[str, Path]:
    from tradekit.errors import UserError
    from tradekit.report import write_html_report, write_trades_csv

    folder = output / f"{result.run.strategies[0]}-{result.run.run_id[:12]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create the output folder {folder}: {error.strerror}; pass --output DIR") from None
    trades_path = folder / "trades.csv"
    write_trades_csv(result.trades, trades_path)
    first = next(iter(result.data.values()))
    html_path = write_html_report(
        folder / "report.html",
        title=f"{result.run.strategies[0]} on {', '.join(result.data)} ({first.timeframe})",
        bars=first,
        equity=result.outcome.equity,
        trades=result.trades,
        stats=result.stats,
        extra=result.extra or None,
        timelines=result.strategy_report.timelines if result.strategy_report is not None else (),
    )
    stats_path = folder / "stats.json"
    stats_path.write_text(json.dumps(_as_json(result, {}), indent=2, default=str))
    return {"trades_csv": trades_path, "html_report": html_path, "stats_json": stats_path}


def _as_json(result: BacktestResult, files: dict[str, Path]) -> dict[str, Any]:
    first = next(iter(result.data.values()))
    return {
        "run_id": result.run.run_id,
        "strategy": result.run.strategies[0],
        "exchange": result.run.exchange,
        "symbols": list(result.data),
        "timeframe": first.timeframe,
        "data": {symbol: series.source for symbol, series in result.data.items()},
        "bars": len(first),
        "visited_bars": result.outcome.visited_bars,
        "fees": {"maker": str(result.fees[0]), "taker": str(result.fees[1])},
        "stats": result.stats.as_dict(),
        "orders": result.engine_stats.orders,
        "rejected_orders": result.engine_stats.rejected,
        "risk_rejections": result.engine_stats.risk_rejections,
        "journal": str(result.journal_path),
        "files": {k: str(v) for k, v in files.items()},
        "strategy_report": result.strategy_report.as_dict() if result.strategy_report is not None else None,
    }


def _print_result(result: BacktestResult, files: dict[str, Path]) -> None:
    from tradekit.report import render_stats, render_strategy_report, render_trades

    console = stdout_console()
    first = next(iter(result.data.values()))
    console.print(
        f"[bold]{result.run.strategies[0]}[/bold] on {', '.join(result.data)} {first.timeframe}, "
        f"{len(first):,} bars from {first.source or 'data'}; fees maker {_pct(result.fees[0])} "
        f"taker {_pct(result.fees[1])}"
    )
    console.print(render_stats(result.stats, title=f"backtest {result.run.run_id[:12]}"))
    if result.trades:
        console.print(render_trades(result.trades, limit=10))
    if result.strategy_report is not None:
        for table in render_strategy_report(result.strategy_report, limit=20):
            console.print(table)
    stats = result.engine_stats
    console.print(
        f"orders {stats.orders:,} (rejected by the venue {stats.rejected:,}, blocked by risk "
        f"{stats.risk_rejections:,}); journal {result.journal_path} run {result.run.run_id}"
    )
    for label, path in files.items():
        console.print(f"{label.replace('_', ' ')}: {path}")


def _pct(rate: Decimal) -> str:
    return f"{rate * 100:.4g}%"
