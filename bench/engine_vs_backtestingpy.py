"""tradekit's backtest engine against backtesting.py on the same strategy, data and conventions, in one run.

The data is the real 1-minute BTC/USDT series (130,708 bars) chained end to
end to 1,000,000 bars (see :mod:`chained_series`). The strategy is SMA(10) /
SMA(30) on the close, long only: buy 1 unit on a strict cross up while flat,
close the whole position on a strict cross down, filled at the signal bar's
close, no fees, 1,000,000 cash.

Each engine runs in its own subprocess (:mod:`engine_runs`), so its peak RSS
is its own; two more subprocesses only import and load the data, to show what
each engine adds on top. Only the backtest call is timed, in ``--repeat``
rounds in which every engine runs once, in turns (:func:`run_in_turns`); each
engine's best time counts. The trade lists (entry bar and price, exit bar and
price, size) must be identical, or the script fails. tradekit runs three ways:
with its defaults (skipping idle bars, every order journaled), visiting every
bar, and without the order journal; all must give the same trades.
``--busy N`` keeps N other processes spinning on the CPU while the engines
are timed, to see the figures on a machine whose cores are not all free.

Run it through ``run_engine_benchmark.sh``, which makes the separate
environment holding backtesting.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

from chained_series import (
    CENTS,
    ChainedSeries,
    DataChecks,
    build_chained_series,
    check_series,
    save_chained_series,
)
from engine_runs import ENGINES
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parent.parent / "shared" / "data" / "binance_BTC_USDT-1m_20250520-20250818.feather"
DEFAULT_OUT = HERE / "results" / "engine_vs_backtestingpy.json"
SPEED_GOAL = 3.0
FAST, SLOW = 10, 30
LABELS = {
    "tradekit": "tradekit (default: skip idle bars)",
    "tradekit-every-bar": "tradekit (skip_idle_bars=False)",
    "tradekit-no-journal": "tradekit (journal_orders=False)",
    "backtesting.py": "backtesting.py",
}

console = Console(highlight=False, width=max(110, Console().width))


def run_baseline(engine: str, data: Path, workdir: Path) -> dict[str, Any]:
    """Import ``engine`` and load the data in a fresh interpreter, run nothing; return what it wrote (its peak RSS)."""
    out = workdir / f"{engine}-baseline.json"
    _run(_worker_command(engine, data, out, "--baseline"), workdir)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def run_in_turns(
    engines: tuple[str, ...], data: Path, workdir: Path, *, repeat: int, plain_sma: bool
) -> dict[str, dict[str, Any]]:
    """Time every engine ``repeat`` times, in turns, each in its own process; return what each wrote, and its times.

    One process per engine imports it and loads the data, then runs a backtest
    each time it is told to (:func:`engine_runs.serve`). Round by round, each
    engine runs once, the order rotating each round: on a shared machine, whose
    speed drifts over minutes, every engine is timed in the same stretches of
    time, which running one engine's repeats after the other's would not do.
    """
    workers: dict[str, tuple[subprocess.Popen[str], Path]] = {}
    seconds: dict[str, list[float]] = {engine: [] for engine in engines}
    try:
        for engine in engines:
            out = workdir / f"{engine}.json"
            flags = ["--serve", *(["--plain-sma"] if plain_sma and engine == "backtesting.py" else [])]
            process = subprocess.Popen(
                _worker_command(engine, data, out, *flags),
                cwd=workdir,
                env=_environment(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            workers[engine] = (process, out)
            # Each prepares alone: a run is never timed while another process is still loading.
            _answer(engine, process, "ready")
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("timing the engines in turns", total=repeat * len(engines))
            for round_ in range(repeat):
                turn = round_ % len(engines)
                for engine in engines[turn:] + engines[:turn]:
                    process = workers[engine][0]
                    _tell(engine, process, "run")
                    seconds[engine].append(float(_answer(engine, process, "seconds")))
                    progress.advance(task)
        results = {}
        for engine, (process, out) in workers.items():
            _tell(engine, process, "end")
            if process.wait() != 0:
                raise SystemExit(f"benchmark worker {engine} failed (exit {process.returncode})")
            results[engine] = {**json.loads(out.read_text()), "seconds": seconds[engine]}
        return results
    finally:
        for process, _ in workers.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def _tell(engine: str, process: subprocess.Popen[str], command: str) -> None:
    """Send a serving worker one command line; exits the benchmark if the worker is gone."""
    assert process.stdin is not None
    try:
        process.stdin.write(command + "\n")
        process.stdin.flush()
    except BrokenPipeError:
        raise SystemExit(f"benchmark worker {engine} ended before {command!r} (exit {process.wait()})") from None


def _answer(engine: str, process: subprocess.Popen[str], key: str) -> Any:
    """The value of ``key`` in the next line of JSON a serving worker writes; exits the benchmark if it died."""
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise SystemExit(f"benchmark worker {engine} ended before answering (exit {process.wait()})")
    try:
        return json.loads(line)[key]
    except (ValueError, KeyError, TypeError):
        raise SystemExit(f"benchmark worker {engine} answered {line.strip()!r}, not its {key!r}") from None


def _worker_command(engine: str, data: Path, out: Path, *flags: str) -> list[str]:
    return [sys.executable, str(HERE / "engine_runs.py"), engine, str(data), str(out), *flags]


def _environment() -> dict[str, str]:
    # A clean environment for the engines: no tradekit config file or variables from the caller's shell.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRADEKIT_")}
    environment["PYTHONPATH"] = str(HERE)
    return environment


def _run(command: list[str], workdir: Path) -> None:
    completed = subprocess.run(command, cwd=workdir, env=_environment(), check=False)
    if completed.returncode != 0:
        raise SystemExit(f"benchmark worker failed (exit {completed.returncode}): {' '.join(command)}")


def normalise(rows: list[list[Any]], last_bar: int) -> tuple[list[tuple[Any, ...]], int]:
    """Trades as comparable tuples, with what a fill on the very last bar does in backtesting.py.

    backtesting.py fills an order decided on bar ``i`` when it processes bar
    ``i + 1``, so a decision on the last bar never fills there, while tradekit
    fills it at that bar's close. A tradekit entry on the last bar is dropped
    and an exit on it becomes "still open"; the count of such changes is returned.
    """
    out: list[tuple[Any, ...]] = []
    changed = 0
    for entry_bar, entry_price, exit_bar, exit_price, size in rows:
        if entry_bar == last_bar:
            changed += 1
            continue
        if exit_bar == last_bar:
            changed += 1
            exit_bar, exit_price = None, None
        out.append(
            (
                entry_bar,
                Decimal(entry_price),
                exit_bar,
                None if exit_price is None else Decimal(exit_price),
                Decimal(size),
            )
        )
    return out, changed


def first_difference(left: list[tuple[Any, ...]], right: list[tuple[Any, ...]]) -> int | None:
    """Index of the first trade where two lists differ (or where the shorter one ends); None if equal."""
    for k, (a, b) in enumerate(zip(left, right, strict=False)):
        if a != b:
            return k
    return None if len(left) == len(right) else min(len(left), len(right))


def compare_trades(
    name_left: str, left: list[tuple[Any, ...]], name_right: str, right: list[tuple[Any, ...]], series: ChainedSeries
) -> bool:
    """Print whether two trade lists are identical, and the first difference precisely if not."""
    k = first_difference(left, right)
    if k is None:
        console.print(f"[green]trade lists identical[/]: {name_left} and {name_right}, {len(left):,} trades each")
        return True
    console.print(
        f"[bold red]TRADE LISTS DIFFER[/] between {name_left} ({len(left):,} trades) and "
        f"{name_right} ({len(right):,} trades); first difference at trade #{k}:"
    )
    for name, rows in ((name_left, left), (name_right, right)):
        if k < len(rows):
            entry_bar, entry_price, exit_bar, exit_price, size = rows[k]
            when = datetime.fromtimestamp(int(series.timestamps[entry_bar]) / 1e9, tz=UTC)
            console.print(
                f"  {name}: entry bar {entry_bar} ({when:%Y-%m-%d %H:%M}) at {entry_price}, "
                f"exit bar {exit_bar} at {exit_price}, size {size}"
            )
        else:
            console.print(f"  {name}: (no trade #{k}: the list ends)")
    return False


def machine_info() -> dict[str, Any]:
    """Where the figures were measured."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "versions": {name: version(name) for name in ("tradekit", "backtesting", "numpy", "pandas")},
    }


def print_data_checks(series: ChainedSeries, source: Path, checks: dict[str, DataChecks], used: str) -> None:
    """Say what the data is and what was verified about it, for each way of averaging in backtesting.py."""
    first = next(iter(checks.values()))
    console.print(
        f"data: {source.name} chained to {len(series):,} bars ({len(series.copy_starts)} copies, the last partial), "
        f"each copy rescaled to open at the previous close, rounded to {10**-CENTS:.2f}; "
        f"close {series.close.min():,.2f} .. {series.close.max():,.2f}"
    )
    console.print(
        f"data checks: OHLC violations {first.ohlc_violations}, prices off the cent grid "
        f"{first.not_on_cent_grid}, irregular time steps {first.timestamp_steps_off}"
    )
    console.print(
        f"averages: bars where SMA({FAST}) and SMA({SLOW}) are exactly equal (integer sums of cents): "
        f"{first.equal_average_bars} of {first.compared_bars:,}"
    )
    for name, check in checks.items():
        where = f" (first at bar {check.first_disagreement})" if check.first_disagreement is not None else ""
        console.print(
            f"  backtesting.py averaging {name!r}{' (used)' if name == used else ''}: bars where its float "
            f"comparison has another sign than the exact one: {check.float_sign_disagreements}{where}"
        )
    console.print(
        "[green]the averaging used orders the averages as tradekit does on every bar[/]"
        if checks[used].ok
        else "[bold red]the averaging used can decide differently from tradekit: expect the trade lists to differ[/]"
    )


def profile_tradekit(data: Path, workdir: Path) -> dict[str, list[str]]:
    """Run tradekit once under cProfile in its own process; print and return the top 15 by cumulative and own time."""
    import io
    import pstats

    stats_path = workdir / "tradekit.prof"
    out = workdir / "tradekit-profile.json"
    command = _worker_command("tradekit", data, out, "--profile", str(stats_path))
    _run(command, workdir)
    tops: dict[str, list[str]] = {}
    for key in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(str(stats_path), stream=text).strip_dirs().sort_stats(key).print_stats(15)
        console.print(f"\n[bold]tradekit profile, top 15 by {key}[/]")
        console.print(text.getvalue().split("\n", 6)[-1].rstrip(), markup=False)
        tops[key] = [line for line in text.getvalue().splitlines() if line.strip()][-16:]
    return tops


@contextmanager
def busy_processes(count: int) -> Iterator[None]:
    """Keep ``count`` processes spinning on the CPU for the length of the block."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Build the data, run every engine in its own process, compare and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000, help="length of the chained series")
    parser.add_argument(
        "--repeat", type=_positive, default=5, help="rounds; each engine runs once a round, its best time counts"
    )
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the real series to chain")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to save the figures as JSON")
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="profile tradekit with cProfile: when it misses the speed goal (auto), always, or never",
    )
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        metavar="N",
        help="keep N processes spinning on the CPU while the engines are timed (a loaded machine)",
    )
    parser.add_argument(
        "--plain-sma",
        action="store_true",
        help="backtesting.py averages prices with a plain rolling mean (float ties can differ), not cents",
    )
    args = parser.parse_args(argv)
    if not args.source.is_file():
        console.print(f"[red]source data {args.source} not found[/]: pass --source or provide ../shared/data")
        return 2

    from backtestingpy_strategy import rolling_mean, rolling_mean_in_cents

    series = build_chained_series(args.source, args.bars)
    averaging = "prices" if args.plain_sma else "cents"
    data_checks = {
        name: check_series(series, FAST, SLOW, mean(series.close, FAST), mean(series.close, SLOW))
        for name, mean in (("cents", rolling_mean_in_cents), ("prices", rolling_mean))
    }
    print_data_checks(series, args.source, data_checks, averaging)

    with tempfile.TemporaryDirectory(prefix="tradekit-bench-") as scratch:
        workdir = Path(scratch)
        data = workdir / "chained.npz"
        save_chained_series(series, data)
        console.print(f"running each engine in its own process, {args.repeat} rounds in turns; the best time counts")
        baselines = {engine: run_baseline(engine, data, workdir) for engine in ("tradekit", "backtesting.py")}
        if args.busy:
            console.print(f"{args.busy} other process(es) spin on the CPU while the engines are timed")
        with busy_processes(args.busy):
            results = run_in_turns(ENGINES, data, workdir, repeat=args.repeat, plain_sma=args.plain_sma)

        last_bar = len(series) - 1
        trades = {}
        last_bar_changes = {}
        for engine, result in results.items():
            trades[engine], last_bar_changes[engine] = normalise(
                result["trades"], last_bar if engine != "backtesting.py" else -1
            )
        if last_bar_changes["tradekit"]:
            console.print(
                f"note: tradekit filled {last_bar_changes['tradekit']} order(s) on the last bar, which "
                "backtesting.py never fills (it fills on the following bar); compared as unfilled"
            )
        same_as_every_bar = compare_trades(
            "tradekit (skip idle bars)",
            trades["tradekit"],
            "tradekit (every bar)",
            trades["tradekit-every-bar"],
            series,
        )
        same_without_journal = compare_trades(
            "tradekit (journal)",
            trades["tradekit"],
            "tradekit (no order journal)",
            trades["tradekit-no-journal"],
            series,
        )
        same_as_peer = compare_trades(
            "tradekit", trades["tradekit"], "backtesting.py", trades["backtesting.py"], series
        )
        open_at_end = sum(1 for row in trades["tradekit"] if row[2] is None)
        console.print(
            f"trades still open at the end: {open_at_end} (compared by entry; backtesting.py run with "
            "finalize_trades=False, so neither engine closes them)"
        )

        table = Table(title=f"SMA({FAST})/SMA({SLOW}) cross on {len(series):,} bars, best of {args.repeat}")
        for column in ("engine", "bars", "visited", "seconds", "bars/second", "peak RSS MB", "trades"):
            table.add_column(column, justify="left" if column == "engine" else "right")
        figures: dict[str, dict[str, Any]] = {}
        for engine, result in results.items():
            best = min(result["seconds"])
            figures[engine] = {
                "bars": result["bars"],
                "visited_bars": result["visited_bars"],
                "seconds_best": best,
                "seconds_all": result["seconds"],
                "bars_per_second": result["bars"] / best,
                "peak_rss_mb": result["peak_rss_mb"],
                "trades": len(result["trades"]),
            }
            table.add_row(
                LABELS[engine],
                f"{result['bars']:,}",
                f"{result['visited_bars']:,}",
                f"{best:.3f}",
                f"{result['bars'] / best:,.0f}",
                f"{result['peak_rss_mb']:.1f}",
                f"{len(result['trades']):,}",
            )
        for engine, baseline in baselines.items():
            figures[f"{engine} baseline"] = {"peak_rss_mb": baseline["peak_rss_mb"]}
            table.add_row(f"baseline: {engine} imports + data", "", "", "", "", f"{baseline['peak_rss_mb']:.1f}", "")
        console.print(table)

        peer = figures["backtesting.py"]
        ratios = {}
        goals = {}
        for engine in ("tradekit", "tradekit-every-bar", "tradekit-no-journal"):
            speed = figures[engine]["bars_per_second"] / peer["bars_per_second"]
            memory = figures[engine]["peak_rss_mb"] / peer["peak_rss_mb"]
            ratios[engine] = {"speed": speed, "rss": memory}
            goals[engine] = {"speed": speed >= SPEED_GOAL, "rss": memory < 1, "trades": same_as_peer}
            console.print(
                f"{engine}: {speed:.2f}x backtesting.py's bars/second (goal >= {SPEED_GOAL:g}x: "
                f"{'met' if speed >= SPEED_GOAL else 'NOT met'}); peak RSS {memory:.2f}x backtesting.py's "
                f"(goal < 1: {'met' if memory < 1 else 'NOT met'})"
            )
        rounds = [
            peer_seconds / seconds
            for seconds, peer_seconds in zip(figures["tradekit"]["seconds_all"], peer["seconds_all"], strict=True)
        ]
        console.print(
            "tradekit's speed against backtesting.py's, round by round: "
            + ", ".join(f"{ratio:.2f}x" for ratio in rounds)
        )
        goals["tradekit"]["trades"] = same_as_peer and same_as_every_bar and same_without_journal
        met = all(goals["tradekit"].values())
        console.print(
            "[bold green]GOAL MET[/]" if met else "[bold red]GOAL NOT MET[/]",
            "(tradekit with its default settings: >= 3x bars/second, lower peak RSS, identical trades)",
        )

        profile = None
        if args.profile == "always" or (args.profile == "auto" and not goals["tradekit"]["speed"]):
            profile = profile_tradekit(data, workdir)

    report = {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "config": {
            "source": args.source.name,
            "bars": len(series),
            "copies": len(series.copy_starts),
            "repeat": args.repeat,
            "busy_processes": args.busy,
            "strategy": f"SMA({FAST})/SMA({SLOW}) cross, long only, 1 unit, fill at close, no fees, cash 1,000,000",
        },
        "data_checks": {name: asdict(check) for name, check in data_checks.items()},
        "backtestingpy_averaging": averaging,
        "results": figures,
        "ratios_vs_backtestingpy": ratios,
        "tradekit_speed_by_round": rounds,
        "goals": goals,
        "goal_met": met,
        "trade_lists_identical": {
            "tradekit vs backtesting.py": same_as_peer,
            "skip idle vs every bar": same_as_every_bar,
            "journal vs no order journal": same_without_journal,
        },
        "profile": profile,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"figures saved to {args.out}")
    if not (same_as_peer and same_as_every_bar and same_without_journal):
        console.print("[bold red]FAILED[/]: the engines do not agree (see above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
