"""The queue between the engine and Telegram, and the thread that empties it.

:meth:`Outbox.put` never waits: trading must never wait on Telegram. A worker
thread sends the messages in order, at most one a second per chat; a 429 is
answered by waiting the ``retry_after`` it gives; a network failure or a 5xx
keeps the message and tries again with a growing pause, so nothing is lost
while Telegram is down for a while. The queue is bounded: when it is full the
oldest message is dropped and counted, and once Telegram answers again the
chat is told how many were dropped. A message Telegram refuses outright (a
malformed one, a chat that blocked the bot) is logged and skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tradekit_telegram.client import BotApi, TelegramError

log = logging.getLogger("tradekit.plugin.telegram")


@dataclass
class Outgoing:
    """One message waiting to be sent."""

    chat_id: int
    text: str
    silent: bool = False
    attempts: int = 0


@dataclass
class OutboxStats:
    """What the outbox did: sent, dropped (queue full), refused by Telegram, retries after failures."""

    sent: int = 0
    dropped: int = 0
    refused: int = 0
    retries: int = 0
    rate_limited: int = 0
    unsent_at_close: int = 0
    waits: list[float] = field(default_factory=list)


class Outbox:
    """A bounded FIFO of messages and the thread that sends them; see the module docstring."""

    def __init__(
        self,
        api: BotApi,
        *,
        capacity: int = 500,
        min_interval: float = 1.0,
        retry_seconds: float = 1.0,
        max_retry_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.capacity = capacity
        self.min_interval = min_interval
        self.retry_seconds = retry_seconds
        self.max_retry_seconds = max_retry_seconds
        self.stats = OutboxStats()
        self._clock = clock
        self._queue: deque[Outgoing] = deque()
        # The message being sent is out of the queue, so a full queue never drops it (or counts it) mid-send.
        self._current: Outgoing | None = None
        self._wake = threading.Condition()
        self._last_sent: dict[int, float] = {}
        self._dropped_untold = 0
        self._closing = False
        self._thread: threading.Thread | None = None

    def put(self, chat_id: int, text: str, *, silent: bool = False) -> None:
        """Queue one message; never waits. A full queue drops its oldest message (counted)."""
        with self._wake:
            if self._closing:
                self.stats.dropped += 1
                return
            if len(self._queue) >= self.capacity:
                self._queue.popleft()
                self.stats.dropped += 1
                self._dropped_untold += 1
            self._queue.append(Outgoing(chat_id, text, silent))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tradekit-telegram-outbox", daemon=True)
                self._thread.start()
            self._wake.notify()

    def pending(self) -> int:
        """Messages waiting, the one being sent included."""
        with self._wake:
            return len(self._queue) + (self._current is not None)

    def close(self, timeout: float) -> int:
        """Send what is queued for at most ``timeout`` seconds, then stop; returns how many were left unsent."""
        with self._wake:
            self._closing = True
            self._wake.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._wake:
            unsent = len(self._queue) + (self._current is not None)
            self._queue.clear()
            self._current = None
            self._wake.notify_all()
        if thread is not None:
            thread.join(5)
        self.stats.unsent_at_close = unsent
        if unsent or self.stats.dropped:
            log.warning(
                "telegram: %d message(s) not sent at the end of the run, %d dropped earlier (queue full, capacity %d)",
                unsent,
                self.stats.dropped,
                self.capacity,
            )
        return unsent

    # -- the worker ---------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while True:
            with self._wake:
                if self._current is None:
                    while not self._queue and not self._closing:
                        self._wake.wait()
                    if not self._queue:
                        return
                    self._current = self._queue.popleft()
                item = self._current
            self._pace(item.chat_id)
            try:
                self.api.call("sendMessage", _params(item))
            except TelegramError as error:
                if not self._retry(item, error, failures):
                    failures = 0
                    continue
                failures += 1
                continue
            except Exception as error:  # a bug must not kill the thread and silence every later message
                log.error("telegram: sending failed unexpectedly: %s: %s", type(error).__name__, error)
                self._pop(item)
                self.stats.refused += 1
                continue
            failures = 0
            self._last_sent[item.chat_id] = self._clock()
            self._pop(item)
            self.stats.sent += 1
            self._tell_dropped(item.chat_id)

    def _retry(self, item: Outgoing, error: TelegramError, failures: int) -> bool:
        """Wait as Telegram asks and keep ``item`` (True), or give it up (False)."""
        if not error.retryable:
            log.error("telegram: message to chat %s refused, skipped: %s", item.chat_id, error)
            self._pop(item)
            self.stats.refused += 1
            return False
        item.attempts += 1
        self.stats.retries += 1
        if error.status == 429:
            self.stats.rate_limited += 1
            wait = error.retry_after if error.retry_after is not None else self.retry_seconds
        else:
            wait = min(self.retry_seconds * 2**failures, self.max_retry_seconds)
            log.warning("telegram: %s; trying again in %.1f s (%d queued)", error, wait, self.pending())
        self.stats.waits.append(wait)
        self._sleep(wait)
        return True

    def _pace(self, chat_id: int) -> None:
        last = self._last_sent.get(chat_id)
        if last is not None:
            wait = last + self.min_interval - self._clock()
            if wait > 0:
                self._sleep(wait)

    def _sleep(self, seconds: float) -> None:
        """Wait, but not past a close that gave up on what is left (it still sends what it can until then)."""
        with self._wake:
            self._wake.wait_for(lambda: self._closing and self._current is None, timeout=seconds)

    def _pop(self, item: Outgoing) -> None:
        """``item`` is done with (sent or given up): the next one may go."""
        with self._wake:
            if self._current is item:
                self._current = None

    def _tell_dropped(self, chat_id: int) -> None:
        with self._wake:
            dropped, self._dropped_untold = self._dropped_untold, 0
            if dropped:
                self._queue.appendleft(
                    Outgoing(
                        chat_id,
                        f"⚠️ {dropped} message(s) were dropped: the queue was full "
                        f"(capacity {self.capacity}) while Telegram could not be reached",
                    )
                )


def _params(item: Outgoing) -> dict[str, object]:
    return {
        "chat_id": item.chat_id,
        "text": item.text,
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
        "disable_notification": item.silent,
    }
