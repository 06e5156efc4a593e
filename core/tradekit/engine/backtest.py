"""The backtest loop: the engine driven by historical bars on the simulated venue.

Per visited bar ``i``, for every symbol: the venue walks the bar's price path
(open -> low -> high -> close when the bar closes up or flat, open -> high ->
low -> close when it closes down; see :mod:`tradekit.sim.pricing`) and fills or
triggers resting orders; then the strategy decides on the bar's close. A market
order it sends fills at that close, or at the next bar's open, as the
``fill_at`` setting says.

Bars on which nothing can happen are jumped over: a bar is visited only if the
strategy's :meth:`~tradekit.plugin.Strategy.wakeups` marks it, or one of the
run's resting orders could trigger on it (judged from the bar's high and low),
or a market order waits for its open, or it reaches a price alert the strategy
set with :meth:`~tradekit.plugin.StrategyContext.wake_when`. The equity curve is rebuilt afterwards
from the fills, vectorised, so skipped bars cost nothing and still have their
equity.
"""

from __future__ import annotations

import gc
from bisect import bisect_left
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from operator import itemgetter
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from tradekit.domain.bars import BarSeries, ns_to_datetime
from tradekit.domain.orders import Fill
from tradekit.engine.context import EngineContext
from tradekit.engine.core import Engine
from tradekit.engine.fill_log import CASH_AFTER, HELD_AFTER, FillLog
from tradekit.sim.pricing import first_reach_index

if TYPE_CHECKING:
    from tradekit.plugin import Capabilities, Strategy
    from tradekit.sim import SimulatedVenue

Progress = Callable[[int], None]
# What the equity curve reads of each fill-log row.
_BAR, _SYMBOL = itemgetter(0), itemgetter(3)
_CASH_AFTER, _HELD_AFTER = itemgetter(CASH_AFTER), itemgetter(HELD_AFTER)


@dataclass
class BacktestOutcome:
    """What a backtest produced: the equity curve and exposure per bar, and every fill."""

    equity: NDArray[np.float64]
    in_market: NDArray[np.bool_]
    fill_log: FillLog
    visited_bars: int
    fees_paid: Decimal

    @cached_property
    def fills(self) -> list[Fill]:
        """Every fill, oldest first (built from :attr:`fill_log` when first asked for)."""
        return self.fill_log.fills()


def check_aligned(data: dict[str, BarSeries]) -> None:
    """Every symbol of a multi-symbol backtest must have the same timestamps."""
    series = list(data.values())
    first = series[0]
    for other in series[1:]:
        if len(other) != len(first) or not np.array_equal(other.timestamps, first.timestamps):
            raise ValueError(
                f"{other.symbol} and {first.symbol} do not have the same bar times; "
                "align them first (tradekit.engine.backtest.align)"
            )


def align(data: dict[str, BarSeries]) -> dict[str, BarSeries]:
    """Keep only the timestamps every symbol has (an inner join), in order."""
    series = list(data.values())
    common = series[0].timestamps
    for other in series[1:]:
        common = np.intersect1d(common, other.timestamps, assume_unique=True)
    aligned: dict[str, BarSeries] = {}
    for symbol, s in data.items():
        keep = np.isin(s.timestamps, common, assume_unique=True)
        aligned[symbol] = BarSeries(
            symbol=s.symbol,
            timeframe=s.timeframe,
            timestamps=s.timestamps[keep],
            open=s.open[keep],
            high=s.high[keep],
            low=s.low[keep],
            close=s.close[keep],
            volume=s.volume[keep],
            source=s.source,
            metadata=s.metadata,
        )
    return aligned


#: Container allocations between two young-generation collections while a backtest runs (Python's default: 700).
BACKTEST_GC_THRESHOLD = 20_000

#: Finished orders a backtest's engine and simulated venue keep for lookups (live runs and dry runs keep
#: :data:`~tradekit.domain.order_memory.DEFAULT_KEEP_FINISHED`). In a backtest nothing looks up an order
#: long after it finished (no late fill, no lost reply, no restart): only the events drained with its last
#: one, which come right after it. An order freed a few dozen orders after it finished is still in the
#: CPU's caches; one freed a thousand orders later is not, and freeing it then cost a twentieth of a long
#: backtest's time.
BACKTEST_KEEP_FINISHED = 64


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the garbage collector's young generation less often inside the block, and spare it the rest.

    A backtest allocates a few short-lived objects per order (the order, its
    events, its fill) and makes no reference cycles of its own; at Python's
    default threshold the collector runs every few hundred orders and walks
    whatever the run still holds, a tenth of a long run's time. Cycles a
    strategy makes are still collected, a little later.

    What existed before the block (modules, the bars, the plugins) is frozen
    (``gc.freeze``) for its length, so a full collection during the run walks
    only what the run made: the one or two a long run triggers cost a tenth
    as much. Nothing is frozen when something else froze objects already
    (it would unfreeze them too).
    """
    threshold = gc.get_threshold()
    freezes = gc.get_freeze_count() == 0
    gc.set_threshold(max(threshold[0], BACKTEST_GC_THRESHOLD), *threshold[1:])
    if freezes:
        gc.freeze()
    try:
        yield
    finally:
        if freezes:
            gc.unfreeze()
        gc.set_threshold(*threshold)


@fewer_collections()
def run_backtest(
    engine: Engine,
    venue: SimulatedVenue,
    strategy: Strategy,
    data: dict[str, BarSeries],
    *,
    fill_at_close: bool = True,
    skip_idle_bars: bool = True,
    progress: Progress | None = None,
    capabilities: Capabilities | None = None,
) -> BacktestOutcome:
    """Run ``strategy`` over ``data`` and return the equity curve and fills.

    ``skip_idle_bars=False`` visits every bar (the reference behaviour that the
    shortcut must reproduce exactly; tests and benchmarks compare both).
    ``capabilities`` are the named exchange's, which the strategy sees as
    ``ctx.capabilities`` (the simulated venue's by default).
    """
    check_aligned(data)
    symbols = list(data)
    first = data[symbols[0]]
    n = len(first)
    context = EngineContext(
        engine, strategy, data, market_orders_fill_at_close=fill_at_close, capabilities=capabilities
    )
    engine.contexts[id(strategy)] = context

    start = max(strategy.warmup - 1, 0)
    strategy.prepare(data)
    wake_mask = strategy.wakeups(data) if skip_idle_bars else None
    # A list, not an array: bisect on a list of ints costs a tenth of a numpy searchsorted call.
    wake_indices = (np.flatnonzero(wake_mask[start:]) + start).tolist() if wake_mask is not None else None
    columns = [(symbol, s.timestamps, s.open, s.high, s.low, s.close, s.volume) for symbol, s in data.items()]

    # Before the first decision only on_start can have placed orders: jump to that decision, or to
    # the first bar on which one of those orders may wake.
    if n:
        engine.now = first.datetime_at(0)
        for symbol, s in data.items():
            engine.set_close(symbol, float(s.close[0]))
        strategy.on_start(context)
    i = start if (wake_indices is not None or n == 0) else 0
    if wake_indices is not None and (context.alerts or any(venue.has_resting(symbol) for symbol in symbols)):
        i = min(i, _next_index(0, n, wake_indices, venue, columns, context.alerts))
    visited = 0
    last_reported = 0
    while i < n:
        visited += 1
        now = ns_to_datetime(int(first.timestamps[i]))
        engine.now = now
        engine.index = i
        context.index = i
        for symbol, _ts, o, h, lo, c, v in columns:
            engine.set_close(symbol, float(c[i]))
            # Orders placed by on_start were placed on bar 0's close: they meet only the bars after it.
            if i and venue.has_resting(symbol):
                venue.process_bar(symbol, now, float(o[i]), float(h[i]), float(lo[i]), float(c[i]), float(v[i]))
        engine.drain()
        if i >= start:
            strategy.on_bar(context)
        i = _next_index(i, n, wake_indices, venue, columns, context.alerts) if wake_indices is not None else i + 1
        if progress is not None and i - last_reported >= 10_000:
            progress(min(i, n) - last_reported)
            last_reported = min(i, n)
    if progress is not None and n - last_reported > 0:
        progress(n - last_reported)
    if n:
        engine.index = n - 1
        context.index = n - 1
        strategy.on_stop(context)
    equity, in_market = equity_curve(engine, data)
    return BacktestOutcome(
        equity=equity,
        in_market=in_market,
        fill_log=engine.fill_log,
        visited_bars=visited,
        fees_paid=sum(engine.ledger.fees_paid.values(), Decimal(0)),
    )


def _next_index(
    i: int,
    n: int,
    wake_indices: list[int],
    venue: SimulatedVenue,
    columns: list[
        tuple[
            str,
            NDArray[np.int64],
            NDArray[np.float64],
            NDArray[np.float64],
            NDArray[np.float64],
            NDArray[np.float64],
            NDArray[np.float64],
        ]
    ],
    alerts: dict[str, tuple[float, float]],
) -> int:
    position = bisect_left(wake_indices, i + 1)
    candidate = wake_indices[position] if position < len(wake_indices) else n
    for symbol, _ts, _o, h, lo, _c, _v in columns:
        if candidate == i + 1:
            break
        if venue.has_resting(symbol):
            # Bounded by the wake-up already known: a far-off resting level must not cost a scan to the end.
            trigger = venue.next_trigger_index(symbol, h, lo, i + 1, stop=candidate)
            if trigger is not None and trigger < candidate:
                candidate = trigger
        alert = alerts.get(symbol)
        if alert is not None and candidate > i + 1:
            # A price alert wakes like a resting order, bounded the same way.
            reached = first_reach_index(h, lo, alert[0], alert[1], i + 1, stop=candidate)
            if reached is not None:
                candidate = reached
    return candidate


def equity_curve(engine: Engine, data: dict[str, BarSeries]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Equity and exposure at every bar's close, rebuilt from the fills.

    Between two fills cash and positions are constant, so equity at bar ``i``
    is the cash after the last fill at or before ``i`` plus the positions then
    held, marked at bar ``i``'s closes. Cash and positions are the engine
    ledger's after each fill, exact Decimals the fill log kept; only the curve
    is float.
    """
    symbols = list(data)
    n = len(data[symbols[0]])
    fills = engine.fill_log.rows()
    count = len(fills)
    if not count:
        return np.full(n, float(engine.start_cash)), np.zeros(n, dtype=bool)
    # Each series starts with the value before any fill, so position 0 stands for "no fill yet".
    cash_after = np.empty(count + 1)
    cash_after[0] = float(engine.start_cash)
    cash_after[1:] = np.fromiter(map(float, map(_CASH_AFTER, fills)), float, count)
    # For each bar, how many fills happened at or before it: where to read the series.
    fills_by_bar = np.bincount(np.fromiter(map(_BAR, fills), np.int64, count), minlength=n)
    last = np.cumsum(fills_by_bar[:n])
    equity = cash_after[last]
    in_market = np.zeros(n, dtype=bool)
    # The position after each fill in the fill's own symbol; another symbol's is its value at its last fill.
    held_after = np.fromiter(map(float, map(_HELD_AFTER, fills)), float, count)
    fill_symbols = np.array(list(map(_SYMBOL, fills)), dtype=object) if len(symbols) > 1 else None
    for symbol in symbols:
        held = np.zeros(count + 1)
        if fill_symbols is None:
            held[1:] = held_after
        else:
            own = fill_symbols == symbol
            # The position of the latest fill of this symbol at or before each fill (-1: none yet).
            latest = np.maximum.accumulate(np.where(own, np.arange(count), -1))
            held[1:] = np.where(latest >= 0, held_after[np.maximum(latest, 0)], 0.0)
        held_by_bar = held[last]
        equity += held_by_bar * data[symbol].close
        in_market |= held_by_bar != 0
    return equity, in_market
