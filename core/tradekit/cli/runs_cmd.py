"""``tradekit runs`` and ``tradekit report RUN``: what the journal holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tradekit.cli.common import settings_from, stderr_console, stdout_console


def _journal_path(ctx: click.Context, journal: Path | None) -> Path:
    if journal is not None:
        return journal
    settings, _ = settings_from(ctx, {})
    return settings.journal


def _open(path: Path) -> Any:
    from tradekit.errors import UserError
    from tradekit.journal import Journal

    if not path.exists():
        raise UserError(f"no journal at {path}: run a backtest or `tradekit run` first, or pass --journal PATH")
    journal = Journal(path)
    try:
        _unpack(journal)
    except BaseException:
        journal.close()
        raise
    return journal


def _unpack(journal: Any) -> None:
    """Put the batches backtests committed into the journal's tables, with a progress bar when there are any.

    When the file cannot be written (a full disk, another process holding it), say so and show what is there.
    """
    from tradekit.errors import UserError

    if not journal.pending_batches():
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = stderr_console()
    columns = (TextColumn("unpacking backtest records"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("batches", total=None)
            journal.unpack_batches(lambda done, total: progress.update(task, completed=done, total=total))
    except UserError as error:
        console.print(
            f"warning: {error.message}; backtests whose orders wait in it show fewer orders and fills",
            markup=False,
            highlight=False,
        )


@click.command()
@click.option("--journal", type=click.Path(path_type=Path, dir_okay=False), help="Journal file (default: settings).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def runs(ctx: click.Context, journal: Path | None, limit: int, as_json: bool) -> None:
    """List the runs in the journal, newest first."""
    from rich.table import Table

    with _open(_journal_path(ctx, journal)) as opened:
        records = opened.list_runs(limit)
    if as_json:
        click.echo(json.dumps([_record_dict(r) for r in records], indent=2, default=str))
        return
    table = Table(title="runs", title_justify="left")
    for column in (
        "run",
        "mode",
        "strategy",
        "exchange",
        "symbols",
        "started (UTC)",
        "ended",
        "orders",
        "fills",
        "equity",
    ):
        table.add_column(column)
    for r in records:
        ended = r.end_reason or "not finished" if r.ended_at is None else r.end_reason or "finished"
        table.add_row(
            r.run_id[:12],
            r.mode,
            ", ".join(r.strategies),
            r.exchange,
            ", ".join(r.symbols),
            f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            ended,
            str(r.orders),
            str(r.fills),
            f"{r.equity:,.2f}" if r.equity is not None else "-",
        )
    stdout_console().print(table)


def _record_dict(record: Any) -> dict[str, Any]:
    return {
        "run_id": record.run_id,
        "mode": record.mode,
        "exchange": record.exchange,
        "strategies": list(record.strategies),
        "symbols": list(record.symbols),
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "end_reason": record.end_reason,
        "orders": record.orders,
        "fills": record.fills,
        "equity": str(record.equity) if record.equity is not None else None,
    }


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--journal", type=click.Path(path_type=Path, dir_okay=False), help="Journal file (default: settings).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def report(ctx: click.Context, run_ref: str, journal: Path | None, as_json: bool) -> None:
    """Show one run (by id or a unique prefix of it): its stats, orders and events."""
    from rich.table import Table

    from tradekit.report.risk import render_risk_summary, summarize_risk_verdicts

    with _open(_journal_path(ctx, journal)) as opened:
        record = opened.get_run(run_ref)
        stored = opened.report(record.run_id)
        orders = opened.orders(record.run_id)
        fills = opened.fills(record.run_id)
        events = opened.events(record.run_id)
        verdicts = opened.risk_verdicts(record.run_id)
    if as_json:
        click.echo(
            json.dumps(
                {
                    **_record_dict(record),
                    "report": stored,
                    "orders": len(orders),
                    "fills": len(fills),
                    "events": [e.model_dump(mode="json") for e in events[-50:]],
                    "risk_verdicts": len(verdicts),
                    "risk": summarize_risk_verdicts(verdicts).as_dict(),
                },
                indent=2,
                default=str,
            )
        )
        return
    console = stdout_console()
    console.print(
        f"[bold]run {record.run_id}[/bold] {record.mode} {', '.join(record.strategies)} on {record.exchange} "
        f"{', '.join(record.symbols)}; started {record.started_at:%Y-%m-%d %H:%M:%S} UTC, "
        f"{'ended: ' + (record.end_reason or '') if record.ended_at else 'not finished'}"
    )
    if stored and "stats" in stored:
        table = Table(title="report", title_justify="left")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key, value in stored["stats"].items():
            table.add_row(key.replace("_", " "), _fmt(value))
        console.print(table)
    by_status: dict[str, int] = {}
    for order in orders:
        by_status[order.status.value] = by_status.get(order.status.value, 0) + 1
    console.print(
        f"orders {len(orders):,} ({', '.join(f'{k} {v:,}' for k, v in sorted(by_status.items())) or 'none'}); "
        f"fills {len(fills):,}; risk verdicts {len(verdicts):,}"
    )
    if verdicts:
        for risk_table in render_risk_summary(summarize_risk_verdicts(verdicts)):
            console.print(risk_table)
    if events:
        table = Table(title="last events", title_justify="left")
        for column in ("time", "kind", "message"):
            table.add_column(column)
        for event in events[-10:]:
            table.add_row(f"{event.timestamp:%Y-%m-%d %H:%M:%S}", event.kind, event.message)
        console.print(table)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}"
    return str(value)
