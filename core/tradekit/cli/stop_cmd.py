"""``tradekit stop``: ask the dry or live runs of a journal to cancel their orders (flatten) and stop."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from tradekit.cli.common import settings_from, stderr_console


@click.command()
@click.argument("run_ref", metavar="[RUN]", required=False)
@click.option("--flatten", is_flag=True, help="Also close every position (reduce-only market orders) before stopping.")
@click.option("--journal", type=click.Path(path_type=Path, dir_okay=False), help="Journal file (default: settings).")
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for the runs to finish (0: do not wait).",
)
@click.pass_context
def stop(ctx: click.Context, run_ref: str | None, flatten: bool, journal: Path | None, wait_seconds: float) -> None:
    """Stop running dry or live runs: cancel their open orders (--flatten: close positions too), then end them.

    Asks every unfinished run of the journal, or only RUN (an id or a unique
    prefix). The request is a file beside the journal that each run reads
    between bars, so a run stops within its poll interval; a run started after
    this command is not affected. Without a running process nothing happens:
    a run that died shows as unfinished too.
    """
    from tradekit.errors import UserError
    from tradekit.journal import Journal
    from tradekit.stop_requests import StopRequest, write_stop_request

    path = journal if journal is not None else settings_from(ctx, {})[0].journal
    if not path.exists():
        raise UserError(f"no journal at {path}: no run to stop", hint="pass --journal PATH of the running run")
    with Journal(path, create=False) as opened:
        if run_ref is not None:
            record = opened.get_run(run_ref)
            targets = [record] if record.ended_at is None else []
            if not targets:
                raise UserError(f"run {record.run_id} already ended ({record.end_reason}); nothing to stop")
        else:
            targets = [r for r in opened.list_runs(1000) if r.ended_at is None and r.mode.value != "backtest"]
    if not targets:
        raise UserError(f"no unfinished dry or live run in the journal {path}; nothing to stop")
    request = StopRequest(
        requested_at=datetime.now(UTC),
        flatten=flatten,
        run=targets[0].run_id if run_ref is not None else None,
        requested_by="tradekit stop" + (" --flatten" if flatten else ""),
    )
    written = write_stop_request(path, request)
    console = stderr_console()
    what = "cancel their orders, close their positions and stop" if flatten else "cancel their orders and stop"
    console.print(f"asked {len(targets)} run(s) to {what} (request {written}):", markup=False)
    for record in targets:
        console.print(f"  {_describe(record)}", markup=False)
    if wait_seconds <= 0:
        console.print("each stops within its poll interval; `tradekit runs` shows when it has", markup=False)
        return
    unfinished = _wait(path, [r.run_id for r in targets], wait_seconds)
    if unfinished:
        raise UserError(
            f"after {wait_seconds:g} s, {len(unfinished)} run(s) have not finished: {', '.join(unfinished)}",
            hint="a run that is not running (it died) never finishes: `tradekit runs` lists them",
        )
    console.print("every run asked has stopped", markup=False)


def _describe(record: Any) -> str:
    return (
        f"{record.run_id[:12]} {record.mode.value} {', '.join(record.strategies)} on {record.exchange} "
        f"{', '.join(record.symbols)}, started {record.started_at:%Y-%m-%d %H:%M:%S} UTC"
    )


def _wait(path: Path, run_ids: list[str], seconds: float) -> list[str]:
    """Poll the journal until every run in ``run_ids`` finished or ``seconds`` passed; the unfinished ones."""
    from tradekit.journal import Journal

    deadline = time.monotonic() + seconds
    while True:
        with Journal(path, create=False) as opened:
            unfinished = [run_id for run_id in run_ids if opened.get_run(run_id).ended_at is None]
        if not unfinished or time.monotonic() >= deadline:
            return [run_id[:12] for run_id in unfinished]
        time.sleep(0.25)
