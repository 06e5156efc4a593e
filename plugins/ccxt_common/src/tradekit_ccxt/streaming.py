"""Market data by websocket: ccxt's own websocket client (``ccxt.pro``) in a background thread.

:class:`MarketStream` runs one asyncio loop in a daemon thread and, in it, one
``ccxt.pro`` client of the venue. Each subscription (``watch_ohlcv`` for a
symbol and timeframe, ``watch_ticker`` for a symbol) is a task that calls
ccxt's watch method in a loop and keeps what arrives in a per-key cache that
the exchange (in the caller's thread) reads under a lock: the candles by open
time, the last price, and when the last message came.

When the connection drops, ccxt rejects the pending watch with a network
error and forgets the connection; the task marks its key down, waits
(exponential backoff with jitter, capped) and calls the watch method again,
which opens a new connection and sends the subscription again. The candle
that was forming when the connection broke is dropped (its last values here
are not its closing ones). Bars missed
while the stream was down are not the stream's business: the exchange sees
the hole in the candles' open times and fetches them over REST
(:class:`BarBook`).

Nothing here imports ccxt at module level.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("tradekit.ccxt.stream")

#: Candles kept per subscription (the engine asks for a few hundred at most).
MAX_CANDLES = 2000


@dataclass
class Feed:
    """What one subscription has received (read through :meth:`MarketStream.snapshot`)."""

    candles: dict[int, tuple[float, ...]] = field(default_factory=dict)
    price: float | None = None
    #: ``time.monotonic()`` of the last message; None before the first.
    received: float | None = None
    #: The venue's clock (ccxt's ``milliseconds()``) at the last message.
    received_ms: int | None = None
    live: bool = False
    #: How many times the subscription was made again after a failure.
    reconnects: int = 0
    error: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """A copy of a :class:`Feed` at one moment."""

    candles: dict[int, tuple[float, ...]]
    price: float | None
    received: float | None
    received_ms: int | None
    live: bool
    reconnects: int
    error: str | None


class MarketStream:
    """ccxt.pro subscriptions in a background thread; see the module doc.

    ``make_client`` builds the ``ccxt.pro`` client; it is called in the
    stream's own loop (ccxt binds its sessions to the loop it runs in).
    """

    def __init__(
        self,
        make_client: Callable[[], Any],
        *,
        name: str,
        backoff: float = 0.5,
        backoff_cap: float = 30.0,
    ) -> None:
        self.name = name
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self._make_client = make_client
        self._client: Any = None
        self._feeds: dict[tuple[str, ...], Feed] = {}
        self._tasks: dict[tuple[str, ...], asyncio.Task[None]] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=f"tk-stream-{name}", daemon=True)
        self._started = False
        self._closed = False

    # -- the caller's side ----------------------------------------------------------------------

    def watch_bars(self, symbol: str, timeframe: str) -> tuple[str, ...]:
        """Subscribe to ``symbol``'s candles of ``timeframe`` (once); returns the key to :meth:`snapshot`."""
        key = ("bars", symbol, timeframe)
        self._subscribe(key, lambda client: client.watch_ohlcv(symbol, timeframe), self._keep_candles)
        return key

    def watch_price(self, symbol: str) -> tuple[str, ...]:
        """Subscribe to ``symbol``'s ticker (once); returns the key to :meth:`snapshot`."""
        key = ("price", symbol)
        self._subscribe(key, lambda client: client.watch_ticker(symbol), self._keep_price)
        return key

    def snapshot(self, key: tuple[str, ...]) -> Snapshot:
        """A copy of what the subscription ``key`` has received so far."""
        with self._lock:
            feed = self._feeds.get(key) or Feed()
            return Snapshot(
                dict(feed.candles),
                feed.price,
                feed.received,
                feed.received_ms,
                feed.live,
                feed.reconnects,
                feed.error,
            )

    def close(self) -> None:
        """Cancel every subscription, close ccxt's connections, stop and close the loop, join the thread."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            try:
                future.result(timeout=10)
            except Exception as error:  # closing must not hide the error that made the run stop
                log.warning("%s: closing the market-data stream failed: %s", self.name, error)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    # -- the loop's side ----------------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def _subscribe(
        self,
        key: tuple[str, ...],
        watch: Callable[[Any], Awaitable[Any]],
        keep: Callable[[Feed, Any], None],
    ) -> None:
        if self._closed:
            raise RuntimeError(f"{self.name}: the market-data stream is closed")
        with self._lock:
            if key in self._feeds:
                return
            self._feeds[key] = Feed()
        if not self._started:
            self._started = True
            self._thread.start()
        self._loop.call_soon_threadsafe(self._start_task, key, watch, keep)

    def _start_task(
        self, key: tuple[str, ...], watch: Callable[[Any], Awaitable[Any]], keep: Callable[[Feed, Any], None]
    ) -> None:
        self._tasks[key] = self._loop.create_task(self._follow(key, watch, keep))

    def _client_now(self) -> Any:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    async def _follow(
        self, key: tuple[str, ...], watch: Callable[[Any], Awaitable[Any]], keep: Callable[[Feed, Any], None]
    ) -> None:
        """Watch ``key`` until cancelled; after a failure, wait with backoff and subscribe again."""
        failures = 0
        while True:
            try:
                client = self._client_now()
                data = await watch(client)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures += 1
                delay = min(self.backoff * 2 ** (failures - 1), self.backoff_cap) * random.uniform(0.8, 1.2)
                with self._lock:
                    feed = self._feeds[key]
                    was_live = feed.live
                    feed.live = False
                    feed.error = f"{type(error).__name__}: {error}"
                    if was_live and feed.candles:
                        # The candle forming when the stream broke never got its closing values here. Only
                        # then: each later failed attempt would otherwise drop another, closed, candle.
                        del feed.candles[max(feed.candles)]
                if was_live or failures == 1:
                    log.warning(
                        "%s: websocket %s %s lost (%s); reconnecting in %.1f s",
                        self.name,
                        key[0],
                        "/".join(key[1:]),
                        error,
                        delay,
                    )
                await asyncio.sleep(delay)
                continue
            now = time.monotonic()
            now_ms = int(client.milliseconds())
            with self._lock:
                feed = self._feeds[key]
                if failures:
                    feed.reconnects += 1
                    log.info(
                        "%s: websocket %s %s back after %d failures", self.name, key[0], "/".join(key[1:]), failures
                    )
                keep(feed, data)
                feed.received, feed.received_ms = now, now_ms
                feed.live, feed.error = True, None
            failures = 0

    @staticmethod
    def _keep_candles(feed: Feed, data: Any) -> None:
        for row in data or ():
            if row and row[0] is not None:
                values = tuple(float(v) if v is not None else float("nan") for v in row[1:6])
                feed.candles[int(row[0])] = values
        if len(feed.candles) > MAX_CANDLES:
            for stamp in sorted(feed.candles)[: len(feed.candles) - MAX_CANDLES]:
                del feed.candles[stamp]

    @staticmethod
    def _keep_price(feed: Feed, data: Any) -> None:
        ticker = data or {}
        value = ticker.get("last") or ticker.get("close")
        if value is None and ticker.get("bid") is not None and ticker.get("ask") is not None:
            value = (float(ticker["bid"]) + float(ticker["ask"])) / 2
        if value is not None:
            feed.price = float(value)

    async def _shutdown(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.close()
            self._client = None


class BarBook:
    """The closed bars of one symbol and timeframe, merged from REST and from the stream.

    The stream's latest candle is the one still forming and never enters the
    book. :meth:`missing` names the open times the book lacks before it (a
    reconnection's gap, or the history before the first candle) that REST has
    not been asked for yet; a bar REST does not have either (no trade in it) is
    not asked for again.
    """

    def __init__(self, step_ms: int) -> None:
        self.step_ms = step_ms
        self.bars: dict[int, tuple[float, ...]] = {}
        self._asked: set[int] = set()

    def add(self, rows: dict[int, tuple[float, ...]]) -> None:
        """Add closed bars (later values of a bar replace earlier ones)."""
        self.bars.update(rows)
        if len(self.bars) > MAX_CANDLES:
            for stamp in sorted(self.bars)[: len(self.bars) - MAX_CANDLES]:
                del self.bars[stamp]

    def missing(self, forming: int, count: int) -> list[int]:
        """Open times of the ``count`` bars before ``forming`` that the book lacks and REST was not asked for."""
        start = forming - count * self.step_ms
        return [t for t in range(start, forming, self.step_ms) if t not in self.bars and t not in self._asked]

    def asked(self, stamps: list[int]) -> None:
        """Note that REST was asked for ``stamps`` (whatever it answered)."""
        self._asked.update(stamps)
        if len(self._asked) > 4 * MAX_CANDLES:
            keep = sorted(self._asked)[-MAX_CANDLES:]
            self._asked = set(keep)

    def before(self, forming: int, count: int | None) -> list[tuple[int, tuple[float, ...]]]:
        """The last ``count`` bars (all when None) that opened before ``forming``, oldest first."""
        rows = sorted((t, v) for t, v in self.bars.items() if t < forming)
        return rows if count is None else rows[-count:]
