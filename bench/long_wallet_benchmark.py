"""Long Wallet on the 1,000,000-bar chained series: bars per second, and the same results as a bar-by-bar run.

The series is the engine benchmark's (:mod:`chained_series`: the real 1-minute
BTC/USDT series chained end to end to 1,000,000 bars, on a cent grid). The
strategy is ``long_wallet`` (``tradekit-long-wallet``, installed in the project's
environment) with a unit of ``--unit-pct`` percent of each cycle's anchor. It
runs twice through ``tradekit.session.run_backtest``, as ``tradekit backtest``
would, in this one process:

* with ``backtest.skip_idle_bars = true`` (the default): the engine visits
  only bars where an order may fill or where the price reaches one of the
  strategy's price alerts (``ctx.wake_when``: the next unit it would trail to);
* with ``skip_idle_bars = false``: every bar is visited, ``on_bar`` on each.

Only the ``run_backtest`` call is timed (plugins, journal, the loop, the
equity curve and the statistics; not the data, which is loaded before), best
of several. bars/second is the series' length over that time. The two
runs must give the same fills (time, side, quantity, price, fee), the same
final equity and the same per-cycle report, or the script fails. The goal:
at least 1,000,000 bars per second skipping idle bars, with the same results.
The run skipping idle bars is repeated (best of ``--repeat``, 5); the
bar-by-bar run, the reference for the results, once.

Run it with the project's environment (no peer library needed)::

    /work/venv/bin/python bench/long_wallet_benchmark.py [--bars N] [--repeat N] [--unit-pct P]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from chained_series import build_chained_series

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parent.parent / "shared" / "data" / "binance_BTC_USDT-1m_20250520-20250818.feather"
DEFAULT_OUT = HERE / "results" / "long_wallet.json"
GOAL_BARS_PER_SECOND = 1_000_000
CASH = "100000"
POSITION_VALUE = "10000"


def run_once(bars: Any, workdir: Path, *, skip_idle_bars: bool, unit_pct: str, number: int) -> dict[str, Any]:
    """One timed backtest; what it produced, in comparable form."""
    from tradekit.registry import Registry
    from tradekit.session import run_backtest
    from tradekit.settings import load_settings

    settings = load_settings(
        None,
        {
            "strategy": "long_wallet",
            "journal": workdir / f"journal-{number}.sqlite",
            "backtest": {"cash": CASH, "fill_at": "close", "skip_idle_bars": skip_idle_bars},
            "plugins": {
                "strategy": {"long_wallet": {"unit_pct": unit_pct, "position_value": POSITION_VALUE}},
                "exchange": {"paper": {"tick_size": "0.01", "lot_size": "0.00001"}},
            },
        },
    )
    registry = Registry()
    gc.collect()
    started = time.perf_counter()
    result = run_backtest(settings, registry, origin="bench", data={bars.symbol: bars})
    seconds = time.perf_counter() - started
    fills = [
        (f.timestamp.isoformat(), f.side.value, str(f.quantity), str(f.price), str(f.fee)) for f in result.outcome.fills
    ]
    report = result.strategy_report.as_dict() if result.strategy_report is not None else {}
    return {
        "seconds": seconds,
        "visited_bars": result.outcome.visited_bars,
        "orders": result.engine_stats.orders,
        "fills": fills,
        "final_equity": repr(float(result.outcome.equity[-1])),
        "report": report,
        "return_pct": result.stats.total_return_pct,
    }


def compare(fast: dict[str, Any], every: dict[str, Any]) -> list[str]:
    """Where the two runs differ (empty: the same results)."""
    problems = []
    if fast["fills"] != every["fills"]:
        for position, (a, b) in enumerate(zip(fast["fills"], every["fills"], strict=False)):
            if a != b:
                problems.append(f"fill {position + 1}: skipping {a}, every bar {b}")
                break
        else:
            problems.append(f"{len(fast['fills'])} fills skipping idle bars, {len(every['fills'])} visiting every bar")
    if fast["final_equity"] != every["final_equity"]:
        problems.append(f"final equity {fast['final_equity']} against {every['final_equity']}")
    if fast["report"] != every["report"]:
        problems.append("the per-cycle report differs")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Build the series, run both ways, compare, print and save the figures."""
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs skipping idle bars (best taken)")
    parser.add_argument("--unit-pct", default="1", help="the unit as a percentage of the anchor (default 1)")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    console = Console(highlight=False, width=110)
    if not args.source.is_file():
        console.print(f"source data {args.source} not found (../shared/data beside the repository)")
        return 2

    import tradekit_long_wallet  # noqa: F401  # fails here, clearly, if the plugin is not installed

    series = build_chained_series(args.source, args.bars)
    bars = series.bar_series()
    console.print(
        f"long_wallet on {len(series):,} bars ({args.source.name} chained, {len(series.copy_starts)} copies), "
        f"unit {args.unit_pct}% of the anchor, position_value {POSITION_VALUE}, cash {CASH}; skipping idle bars: "
        f"best of {args.repeat}, every bar: one run"
    )
    runs: dict[str, list[dict[str, Any]]] = {"skip idle bars": [], "every bar": []}
    with tempfile.TemporaryDirectory(prefix="tradekit-lw-bench-") as scratch:
        # The bar-by-bar run is the reference for the results; it runs once (it is slow by design), the
        # run that skips idle bars --repeat times, interleaved with it, for the best time on a shared machine.
        runs["every bar"].append(run_once(bars, Path(scratch), skip_idle_bars=False, unit_pct=args.unit_pct, number=0))
        for number in range(1, args.repeat + 1):
            runs["skip idle bars"].append(
                run_once(bars, Path(scratch), skip_idle_bars=True, unit_pct=args.unit_pct, number=number)
            )
    best = {label: min(results, key=lambda r: r["seconds"]) for label, results in runs.items()}
    for label, results in runs.items():
        for other in results[1:]:
            if compare(other, results[0]):
                console.print(f"[red]{label}: two runs of the same backtest differ[/red]")
                return 1
    problems = compare(best["skip idle bars"], best["every bar"])

    table = Table(title="Long Wallet benchmark", header_style="bold")
    for column in ("run", "bars", "visited", "orders", "seconds", "bars/second", "return %"):
        table.add_column(column, justify="right" if column != "run" else "left")
    for label, result in best.items():
        table.add_row(
            label,
            f"{len(series):,}",
            f"{result['visited_bars']:,}",
            f"{result['orders']:,}",
            f"{result['seconds']:.3f}",
            f"{len(series) / result['seconds']:,.0f}",
            f"{result['return_pct']:.2f}",
        )
    console.print(table)
    speed = len(series) / best["skip idle bars"]["seconds"]
    same = not problems
    cycles = best["skip idle bars"]["report"].get("summary", {}).get("cycles completed")
    console.print(
        f"same results both ways: {'yes' if same else 'NO'} ({len(best['every bar']['fills']):,} fills, "
        f"{cycles} cycles, final equity {best['every bar']['final_equity']})"
    )
    for problem in problems:
        console.print(f"  [red]{problem}[/red]")
    met = same and speed >= GOAL_BARS_PER_SECOND
    console.print(
        f"{'GOAL MET' if met else 'GOAL NOT MET'}: {speed:,.0f} bars/second skipping idle bars "
        f"(goal >= {GOAL_BARS_PER_SECOND:,}), same results as every bar: {'yes' if same else 'no'}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "platform": platform.platform(),
                    "python": sys.version.split()[0],
                    "cpus": __import__("os").cpu_count(),
                    "tradekit": version("tradekit"),
                    "tradekit-long-wallet": version("tradekit-long-wallet"),
                },
                "bars": len(series),
                "source": args.source.name,
                "unit_pct": args.unit_pct,
                "position_value": POSITION_VALUE,
                "runs": {
                    label: [{k: r[k] for k in ("seconds", "visited_bars", "orders", "return_pct")} for r in results]
                    for label, results in runs.items()
                },
                "bars_per_second": {label: len(series) / r["seconds"] for label, r in best.items()},
                "same_results": same,
                "fills": len(best["every bar"]["fills"]),
                "goal_met": met,
            },
            indent=2,
        )
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
