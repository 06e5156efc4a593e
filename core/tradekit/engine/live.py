"""The dry-run and live loop: the engine driven by an exchange's bars as they close.

The exchange plugin supplies the bars (polling :meth:`~tradekit.plugin.Exchange.fetch_bars`).
In a dry run the orders fill on the simulated venue, one new bar at a time; live,
they go to the exchange and its events come back through ``poll_events``. Every
step is the one the backtest takes: the venue sees the bar, then the strategy
decides on its close.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from tradekit.data.timeframes import timeframe_to_ns
from tradekit.domain.bars import BarSeries, datetime_to_ns, ns_to_datetime
from tradekit.domain.events import EventKind, Severity
from tradekit.engine.context import EngineContext
from tradekit.errors import ExchangeError
from tradekit.secrets import redact

if TYPE_CHECKING:
    from tradekit.domain.orders import Order
    from tradekit.engine.core import Engine
    from tradekit.plugin import Exchange, Strategy
    from tradekit.sim import SimulatedVenue


log = logging.getLogger("tradekit.engine.live")
T = TypeVar("T")


class GrowingSeries:
    """Bars of one symbol that grow at the end, with amortised O(1) appends."""

    _COLUMNS = ("open", "high", "low", "close", "volume")

    def __init__(self, first: BarSeries) -> None:
        self.symbol = first.symbol
        self.timeframe = first.timeframe
        self.source = first.source
        capacity = max(1024, 2 * len(first))
        self._ts = np.empty(capacity, dtype=np.int64)
        self._cols = {name: np.empty(capacity) for name in self._COLUMNS}
        self._n = 0
        self.extend(first)

    def __len__(self) -> int:
        return self._n

    @property
    def last_timestamp(self) -> int | None:
        """Open time of the newest bar, or None when empty."""
        return int(self._ts[self._n - 1]) if self._n else None

    def extend(self, bars: BarSeries) -> int:
        """Append the bars newer than the last one held; returns how many were new."""
        last = self.last_timestamp
        newer = bars.timestamps > (last if last is not None else np.iinfo(np.int64).min)
        count = int(newer.sum())
        if not count:
            return 0
        need = self._n + count
        if need > len(self._ts):
            capacity = max(need, 2 * len(self._ts))
            self._ts = np.resize(self._ts, capacity)
            self._cols = {name: np.resize(column, capacity) for name, column in self._cols.items()}
        self._ts[self._n : need] = bars.timestamps[newer]
        for name in self._COLUMNS:
            self._cols[name][self._n : need] = getattr(bars, name)[newer]
        self._n = need
        return count

    def view(self) -> BarSeries:
        """The bars held, as views."""
        n = self._n
        return BarSeries(
            symbol=self.symbol,
            timeframe=self.timeframe,
            timestamps=self._ts[:n],
            open=self._cols["open"][:n],
            high=self._cols["high"][:n],
            low=self._cols["low"][:n],
            close=self._cols["close"][:n],
            volume=self._cols["volume"][:n],
            source=self.source,
        )


#: A feed that brings no new bar for this many bar lengths (and at least a minute) is reported stale.
STALE_AFTER_BARS = 3

_SEVERITIES = {
    "connected": Severity.INFO,
    "reconnected": Severity.INFO,
    "disconnected": Severity.WARNING,
    "gap": Severity.WARNING,
    "stale": Severity.WARNING,
}


class MarketDataWatch:
    """Tells plugins when the market data of a symbol changes state, never per bar.

    Each change goes to the ``tradekit_market_data_status`` hook and, as a
    ``market_data`` event, to the notifiers and the journal:

    * ``connected``: the first bars arrived;
    * ``disconnected``: fetching bars failed (the loop retries with backoff);
    * ``reconnected``: bars arrive again after a failure or a stale spell;
    * ``gap``: bars are missing between two received ones (told for every gap);
    * ``stale``: no new bar for ``stale_after`` seconds of the ``clock`` (by default
      :data:`STALE_AFTER_BARS` bar lengths, at least a minute).
    """

    def __init__(
        self,
        engine: Engine,
        exchange: str,
        symbols: tuple[str, ...],
        timeframe: str,
        *,
        stale_after: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.exchange = exchange
        self.symbols = symbols
        self.bar_ns = timeframe_to_ns(timeframe)
        self.stale_after = stale_after if stale_after is not None else max(60.0, STALE_AFTER_BARS * self.bar_ns / 1e9)
        self.clock = clock
        self.status: dict[str, str | None] = dict.fromkeys(symbols)
        self._last_new = dict.fromkeys(symbols, clock())
        self._failures = 0

    def fetch_failed(self, error: ExchangeError, retry_in: float | None) -> None:
        """Fetching bars failed; ``retry_in`` seconds until the next try (None: the run stops)."""
        self._failures += 1
        then = f"retrying in {retry_in:.1f} s" if retry_in is not None else "the run stops"
        for symbol in self.symbols:
            if self.status[symbol] != "disconnected":
                self._tell(symbol, "disconnected", f"fetching bars from {self.exchange} failed ({error}); {then}")

    def fetched(self) -> None:
        """Fetching bars worked."""
        for symbol in self.symbols:
            if self.status[symbol] is None:
                self._tell(symbol, "connected", f"receiving bars from {self.exchange}")
            elif self.status[symbol] == "disconnected":
                self._tell(
                    symbol, "reconnected", f"bars from {self.exchange} again after {self._failures} failed fetch(es)"
                )
        self._failures = 0

    def new_bars(self, symbol: str, previous: int | None, timestamps: np.ndarray) -> None:
        """``timestamps`` (open times, in order) arrived for ``symbol``; ``previous`` is the last bar before them."""
        if not len(timestamps):
            return
        self._last_new[symbol] = self.clock()
        if self.status[symbol] == "stale":
            self._tell(symbol, "reconnected", f"a new bar from {self.exchange} at {ns_to_datetime(int(timestamps[0]))}")
        times = timestamps if previous is None else np.concatenate(([previous], timestamps))
        # Bars of whole calendar months differ in length: a step shorter than two bars misses none.
        missing = np.diff(times) // self.bar_ns - 1
        gaps = np.flatnonzero(missing > 0)
        if len(gaps):
            first = int(gaps[0])
            self._tell(
                symbol,
                "gap",
                f"{int(missing[gaps].sum())} bar(s) missing, the first between "
                f"{ns_to_datetime(int(times[first]))} and {ns_to_datetime(int(times[first + 1]))}",
            )

    def idle(self) -> None:
        """No new bar came on this poll: a symbol without one for ``stale_after`` seconds is stale."""
        now = self.clock()
        for symbol in self.symbols:
            if (
                self.status[symbol] not in ("stale", "disconnected")
                and now - self._last_new[symbol] >= self.stale_after
            ):
                self._tell(symbol, "stale", f"no new bar from {self.exchange} for {now - self._last_new[symbol]:.0f} s")

    def _tell(self, symbol: str, status: str, detail: str) -> None:
        if status != "gap":
            self.status[symbol] = status
        # An exchange's error message may quote what it was sent: no secret reaches a plugin through it.
        detail = redact(detail)
        severity = _SEVERITIES[status]
        log.log(
            logging.WARNING if severity is Severity.WARNING else logging.INFO,
            "%s market data %s: %s",
            symbol,
            status,
            detail,
        )
        self.engine.hooks.market_data_status(symbol, status, detail)
        self.engine.notify(
            EventKind.MARKET_DATA,
            f"{symbol} market data {status}: {detail}",
            severity,
            {"symbol": symbol, "status": status, "detail": detail},
        )


class _Feed:
    """Fetches the newest bars of every symbol, aligned on the times they all have, riding out venue hiccups.

    Several symbols advance together: only bar times every symbol already has
    are handed on, so bar ``i`` is the same moment for all of them and none is
    seen ahead of another. A retryable exchange error (network, 5xx, rate
    limit) is told to the hooks and retried with backoff; after
    :data:`MAX_CONSECUTIVE_FAILURES` in a row, or on any other error, the run stops with it.
    """

    MAX_CONSECUTIVE_FAILURES = 8

    def __init__(
        self,
        engine: Engine,
        exchange: Exchange,
        symbols: tuple[str, ...],
        timeframe: str,
        limit: int,
        poll_interval: float,
        watch: MarketDataWatch | None = None,
    ) -> None:
        self.engine = engine
        self.exchange = exchange
        self.symbols = symbols
        self.timeframe = timeframe
        self.limit = limit
        self.poll_interval = poll_interval
        self.watch = watch

    def fetch(self) -> dict[str, BarSeries]:
        """The latest bars of each symbol, cut to the times all of them have."""
        fresh: dict[str, BarSeries] = self.call(
            "fetch_bars",
            lambda: {s: self.exchange.fetch_bars(s, self.timeframe, limit=self.limit) for s in self.symbols},
        )
        if len(fresh) > 1:
            from tradekit.engine.backtest import align

            fresh = align(fresh)
        return fresh

    def call(self, operation: str, action: Callable[[], T]) -> T:
        """Run ``action``, retrying retryable exchange errors with backoff."""
        failures = 0
        watch = self.watch if operation == "fetch_bars" else None
        while True:
            try:
                result = action()
            except ExchangeError as error:
                self.engine.stats.errors += 1
                self.engine.hooks.exchange_error(self.exchange.name, operation, error)
                failures += 1
                if not error.retryable or failures >= self.MAX_CONSECUTIVE_FAILURES:
                    if watch is not None:
                        watch.fetch_failed(error, None)
                    raise
                wait = getattr(error, "retry_after", None) or min(self.poll_interval * 2**failures, 60.0)
                log.warning("%s %s failed (%s); retrying in %.1f s", self.exchange.name, operation, error, wait)
                if watch is not None:
                    watch.fetch_failed(error, wait)
                time.sleep(wait)
            else:
                if watch is not None:
                    watch.fetched()
                return result


@dataclass
class LiveStatus:
    """What the loop reports after each bar, for the terminal display."""

    bars: int
    index: int
    close: float
    symbol: str


def run_live(
    engine: Engine,
    exchange: Exchange,
    strategy: Strategy,
    symbols: tuple[str, ...],
    timeframe: str,
    *,
    venue: SimulatedVenue | None,
    poll_interval: float,
    max_bars: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_bar: Callable[[LiveStatus], None] | None = None,
    resume_after: datetime | None = None,
    restored: tuple[dict[str, Any] | None, list[Order]] | None = None,
    stale_after: float | None = None,
) -> str:
    """Run until ``max_bars`` new bars, ``should_stop()``, or a simulated market's end; returns why it stopped.

    A resumed run passes ``resume_after`` (bars at or before it are history,
    later ones are walked as new) and ``restored``, the strategy's last state
    and open orders, given to :meth:`~tradekit.plugin.Strategy.restore`
    instead of calling ``on_start``. Changes in the market data (connected,
    disconnected, reconnected, a gap, stale after ``stale_after`` seconds
    without a new bar) are told as :class:`MarketDataWatch` says.
    """
    history_needed = max(strategy.warmup, 1) + 1
    watch = MarketDataWatch(engine, exchange.name, symbols, timeframe, stale_after=stale_after)
    feed = _Feed(engine, exchange, symbols, timeframe, history_needed, poll_interval, watch)
    if resume_after is not None:
        # Asking for the bars since the last one seen moves a simulated market's clock there.
        feed.call(
            "fetch_bars", lambda: [exchange.fetch_bars(s, timeframe, since=resume_after, limit=1) for s in symbols]
        )
    first_bars = feed.fetch()
    if resume_after is not None:
        cut = datetime_to_ns(resume_after)
        first_bars = {
            s: b.slice(0, int(np.searchsorted(b.timestamps, cut, side="right"))) for s, b in first_bars.items()
        }
    series = {s: GrowingSeries(bars) for s, bars in first_bars.items()}
    context = EngineContext(
        engine, strategy, {s: g.view() for s, g in series.items()}, capabilities=exchange.capabilities
    )
    engine.contexts[id(strategy)] = context
    first = symbols[0]
    if len(series[first]):
        engine.now = ns_to_datetime(series[first].last_timestamp or 0)
        for s in symbols:
            if len(series[s]):
                engine.set_close(s, float(series[s].view().close[-1]))
    if restored is None:
        strategy.on_start(context)
    else:
        state, open_orders = restored
        strategy.restore(state or {}, open_orders)
    seen = 0
    journal = engine.journal
    bar_transaction = journal.atomic if journal is not None and venue is not None else contextlib.nullcontext
    while True:
        if should_stop():
            return "stopped by the user"
        if max_bars is not None and seen >= max_bars:
            return f"reached --max-bars {max_bars}"
        fresh = feed.fetch()
        previous = {s: series[s].last_timestamp for s in fresh}
        new_counts = {s: series[s].extend(bars) for s, bars in fresh.items()}
        if not new_counts[first]:
            watch.idle()
            feed.call("poll_events", engine.drain)  # live events arrive between bars too
            if exchange.market_ended(first, timeframe):
                return "the simulated market ended"
            time.sleep(poll_interval)
            continue
        views = {s: g.view() for s, g in series.items()}
        # The feed hands on only bar times every symbol has: all of them have new bars now.
        for s, count in new_counts.items():
            watch.new_bars(s, previous[s], views[s].timestamps[len(views[s]) - count :])
        context.set_history(views)
        # Walk each new bar in order, exactly as a backtest would.
        total = len(views[first])
        for index in range(total - new_counts[first], total):
            now = ns_to_datetime(int(views[first].timestamps[index]))
            engine.now = now
            engine.index = index
            context.index = index
            # Simulated fills: the bar is journaled whole or not at all, so a restart replays it exactly.
            # Live, each order is journaled before it is sent instead (write-ahead), so no bar transaction.
            with bar_transaction():
                for s in symbols:
                    bars = views[s]
                    engine.set_close(s, float(bars.close[index]))
                    if venue is not None and venue.has_resting(s):
                        venue.process_bar(
                            s,
                            now,
                            float(bars.open[index]),
                            float(bars.high[index]),
                            float(bars.low[index]),
                            float(bars.close[index]),
                            float(bars.volume[index]),
                        )
                engine.drain()
                if index + 1 >= strategy.warmup:
                    strategy.on_bar(context)
            seen += 1
            if on_bar is not None:
                on_bar(LiveStatus(bars=seen, index=index, close=float(views[first].close[index]), symbol=first))
            if max_bars is not None and seen >= max_bars:
                break
