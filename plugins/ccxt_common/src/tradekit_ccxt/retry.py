"""Retrying what may be retried: reads and cancels, with exponential backoff that honours ``Retry-After``.

Orders are never retried here. A submission that failed in a retryable way
may or may not have reached the venue; the engine's broker looks the order up
by its client order id first and sends it again only when the venue does not
know it (:class:`tradekit.engine.brokers.ExchangeBroker`).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tradekit.errors import ExchangeError, RateLimited

T = TypeVar("T")
log = logging.getLogger("tradekit.ccxt")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a read is tried again.

    ``attempts`` counts every try (1 means no retry). The wait after the n-th
    failure is ``base_delay * 2**(n-1)`` with up to 25 % random jitter, capped
    at ``max_delay``; a venue's ``Retry-After`` is waited in full, even when
    longer than the cap (the venue bans those who ignore it).
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, failure: int, retry_after: float | None = None, jitter: float | None = None) -> float:
        """Seconds to wait after failure number ``failure`` (1-based)."""
        spread = random.random() if jitter is None else jitter
        backoff = min(self.base_delay * 2.0 ** (failure - 1) * (1 + 0.25 * spread), self.max_delay)
        return max(backoff, retry_after) if retry_after is not None else backoff


def call_with_retry(
    operation: str,
    action: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_rate_limit: Callable[[float], None] | None = None,
) -> T:
    """Run ``action``; on a retryable :class:`~tradekit.errors.ExchangeError` wait and try again.

    ``on_rate_limit(seconds)`` is told of every wait a venue asked for, so
    the shared rate-limit budget can make other processes wait too. The last
    error is raised when ``policy.attempts`` are used up, and at once for an
    error that may not be retried.
    """
    failure = 0
    while True:
        try:
            return action()
        except ExchangeError as error:
            failure += 1
            if not error.retryable or failure >= policy.attempts:
                raise
            asked = error.retry_after if isinstance(error, RateLimited) else None
            wait = policy.delay(failure, asked)
            if isinstance(error, RateLimited) and on_rate_limit is not None:
                on_rate_limit(wait)
            log.warning("%s failed (%s); try %d of %d in %.2f s", operation, error, failure + 1, policy.attempts, wait)
            sleep(wait)
