"""One engine's side of the benchmark, run in its own process so its peak RSS is its own.

Usage (the benchmark script starts this; it is not meant to be typed)::

    python engine_runs.py ENGINE DATA.npz OUT.json (--serve | --baseline | --profile FILE) [--plain-sma]

``ENGINE`` is ``tradekit``, ``tradekit-every-bar``, ``tradekit-no-journal`` or ``backtesting.py``. The
process imports what the engine needs and loads the chained series into the
engine's own input form (a ``BarSeries``, or a pandas DataFrame). Then:

* ``--serve``: it answers ``{"ready": true}``, then runs the backtest once each
  time it reads the line ``run`` on its standard input, timing only the
  backtest call, and answers with ``{"seconds": ...}``, one line of JSON on its
  standard output each (whatever else the process prints goes to standard
  error). On the line ``end``, or at the end of its input, it writes the bars
  visited, the trade list and its peak RSS to ``OUT.json`` and exits. The
  benchmark drives one such process per engine, in turns, so that every
  engine is timed in the same stretches of a shared machine's time.
* ``--baseline``: it stops there and writes its peak RSS.
* ``--profile FILE``: it runs the backtest once under cProfile and saves the stats to ``FILE``.

A trade is written as ``[entry_bar, entry_price, exit_bar, exit_price, size]``
with prices and sizes as decimal strings (exact for both engines: tradekit's
are ``Decimal``, backtesting.py's floats are written with ``repr``) and bars as
indices into the series; ``exit_bar`` and ``exit_price`` are ``None`` for a trade
still open at the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from chained_series import ChainedSeries, load_chained_series

ENGINES = ("tradekit", "tradekit-every-bar", "tradekit-no-journal", "backtesting.py")
CASH = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

TradeRow = list[Any]
# A prepared engine: runs one backtest, returns (seconds in the backtest call, bars visited, trades).
Runner = Callable[[], tuple[float, int, list[TradeRow]]]


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB.

    On Linux this is ``VmHWM`` of ``/proc/self/status``, the high-water mark of
    this process's own address space. ``getrusage(RUSAGE_SELF).ru_maxrss`` is
    not used there: Linux carries it over from the parent through fork and
    exec, so every worker would report at least the benchmark parent's peak.
    Elsewhere ``ru_maxrss`` is the figure available (KiB on Linux, bytes on macOS).
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 1024 / (1024 if sys.platform == "darwin" else 1)


def _datetime_to_index(moment: datetime, timestamps: np.ndarray) -> int:
    # Integer arithmetic on microseconds: exact, unlike float seconds.
    ns = (moment - EPOCH) // timedelta(microseconds=1) * 1000
    index = int(np.searchsorted(timestamps, ns))
    if index >= len(timestamps) or int(timestamps[index]) != ns:
        raise ValueError(f"trade time {moment} is not a bar of the series")
    return index


def prepare_tradekit(series: ChainedSeries, *, skip_idle_bars: bool, journal_orders: bool, workdir: Path) -> Runner:
    """Import tradekit (including what ``run_backtest`` imports lazily) and build its ``BarSeries``."""
    import tradekit.builtin_strategies
    import tradekit.engine.backtest
    import tradekit.engine.brokers
    import tradekit.journal
    import tradekit.paper
    import tradekit.report
    import tradekit.sim  # noqa: F401  # imported now so no run pays for it inside the timer
    from tradekit.registry import Registry
    from tradekit.session import run_backtest
    from tradekit.settings import load_settings

    bars = series.bar_series()
    runs = 0

    def run() -> tuple[float, int, list[TradeRow]]:
        nonlocal runs
        runs += 1
        settings = load_settings(
            None,
            {
                "strategy": "sma_cross",
                "journal": workdir / f"journal-{runs}.sqlite",
                "backtest": {
                    "cash": str(CASH),
                    "fee": "0",
                    "fill_at": "close",
                    "skip_idle_bars": skip_idle_bars,
                    "journal_orders": journal_orders,
                },
                "plugins": {"strategy": {"sma_cross": {"fast": 10, "slow": 30, "quantity": "1"}}},
            },
        )
        registry = Registry()
        started = time.perf_counter()
        result = run_backtest(settings, registry, origin="bench", data={bars.symbol: bars})
        elapsed = time.perf_counter() - started
        rows: list[TradeRow] = []
        for trade in result.trades:
            rows.append(
                [
                    _datetime_to_index(trade.entry_time, bars.timestamps),
                    str(trade.entry_price),
                    None if trade.exit_time is None else _datetime_to_index(trade.exit_time, bars.timestamps),
                    None if trade.exit_price is None else str(trade.exit_price),
                    str(trade.quantity),
                ]
            )
        return elapsed, result.outcome.visited_bars, rows

    return run


def prepare_backtestingpy(series: ChainedSeries, *, cents: bool) -> Runner:
    """Import backtesting.py and build its DataFrame (a DatetimeIndex and capitalised OHLCV columns).

    ``cents`` chooses the strategy's averages: over prices in cents (ties
    exact, the default) or the plain rolling mean of prices.
    """
    import pandas as pd
    from backtesting import Backtest
    from backtestingpy_strategy import SmaCrossBacktestingPy

    frame = pd.DataFrame(
        {
            "Open": series.open,
            "High": series.high,
            "Low": series.low,
            "Close": series.close,
            "Volume": series.volume,
        },
        index=pd.DatetimeIndex(pd.to_datetime(series.timestamps, unit="ns", utc=True)),
    )

    def run() -> tuple[float, int, list[TradeRow]]:
        started = time.perf_counter()
        # finalize_trades=False: a trade still open at the end stays open, as tradekit leaves it;
        # it is read from the strategy's open trades below, so both lists hold it the same way.
        backtest = Backtest(
            frame,
            SmaCrossBacktestingPy,
            cash=CASH,
            commission=0,
            trade_on_close=True,
            exclusive_orders=False,
            finalize_trades=False,
        )
        stats = backtest.run(cents=cents)
        elapsed = time.perf_counter() - started
        closed = stats["_trades"]
        rows: list[TradeRow] = [
            [int(entry_bar), repr(float(entry_price)), int(exit_bar), repr(float(exit_price)), str(int(size))]
            for entry_bar, entry_price, exit_bar, exit_price, size in zip(
                closed["EntryBar"],
                closed["EntryPrice"],
                closed["ExitBar"],
                closed["ExitPrice"],
                closed["Size"],
                strict=True,
            )
        ]
        for trade in stats["_strategy"].trades:
            rows.append([int(trade.entry_bar), repr(float(trade.entry_price)), None, None, str(int(trade.size))])
        rows.sort(key=lambda row: row[0])
        # backtesting.py visits every bar from the end of its indicators' warm-up on.
        return elapsed, len(frame) - 1 - int(np.isnan(stats["_strategy"].sma_slow).sum()), rows

    return run


class Runs:
    """The runs of one engine so far: the bars visited and the trade list, the same each run."""

    def __init__(self, engine: str, runner: Runner) -> None:
        self.engine = engine
        self.runner = runner
        self.visited = 0
        self.trades: list[TradeRow] | None = None

    def once(self) -> float:
        """Run the backtest once more and return the seconds its call took."""
        gc.collect()
        elapsed, self.visited, trades = self.runner()
        if self.trades is not None and trades != self.trades:
            raise SystemExit(f"{self.engine}: two runs of the same backtest gave different trade lists")
        self.trades = trades
        return elapsed


def answer_channel() -> TextIO:
    """This process's standard output as it is now, for answers only; what else is printed goes to stderr."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout.flush()  # anything buffered so far goes to stderr too
    return answers


def serve(runs: Runs, answers: TextIO) -> None:
    """Say ready, then run once per ``run`` line on stdin, answering each with its seconds, until ``end``."""

    def answer(**figures: Any) -> None:
        answers.write(json.dumps(figures) + "\n")
        answers.flush()

    answer(ready=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "end":
            break
        if command != "run":
            raise SystemExit(f"{runs.engine}: unknown command {command!r} (expected 'run' or 'end')")
        answer(seconds=runs.once())


def main(argv: list[str] | None = None) -> int:
    """Run one engine as the arguments say and write its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("engine", choices=ENGINES)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--serve", action="store_true", help="run once per 'run' line on stdin until 'end'")
    mode.add_argument("--baseline", action="store_true", help="only import and load the data, then report")
    mode.add_argument("--profile", type=Path, help="run once under cProfile and save the stats here")
    parser.add_argument(
        "--plain-sma", action="store_true", help="backtesting.py: plain rolling mean of prices, not of cents"
    )
    args = parser.parse_args(argv)
    answers = answer_channel() if args.serve else None

    import warnings

    # backtesting.py warns about nothing we rely on here; keep its messages out of the figures' way.
    warnings.simplefilter("ignore")
    series = load_chained_series(args.data)
    with tempfile.TemporaryDirectory(prefix="tradekit-bench-") as scratch:
        if args.engine == "backtesting.py":
            runner = prepare_backtestingpy(series, cents=not args.plain_sma)
        else:
            runner = prepare_tradekit(
                series,
                skip_idle_bars=args.engine != "tradekit-every-bar",
                journal_orders=args.engine != "tradekit-no-journal",
                workdir=Path(scratch),
            )
        report: dict[str, Any] = {"engine": args.engine, "bars": len(series), "baseline": args.baseline}
        if args.profile is not None:
            import cProfile

            profiler = cProfile.Profile()
            profiler.runcall(runner)
            profiler.dump_stats(args.profile)
        elif answers is not None:
            runs = Runs(args.engine, runner)
            serve(runs, answers)
            report.update(visited_bars=runs.visited, trades=runs.trades or [])
        report["peak_rss_mb"] = peak_rss_mb()
    args.out.write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
