"""Reading the account's own trades in pages, and where the next poll starts reading.

Venues hand out an account's trades a page at a time: Binance 1,000 at most
per request (and only a day, on futures a week, after the start time),
Hyperliquid 2,000 (of every coin). One request from an old start time can
therefore miss the trade a poll is looking for, after a long outage or on a
busy account. So the account's trades are read forward page after page, and a
poll starts where the last one ended (a minute early, for clocks and
late-recorded trades), not from the oldest open order's creation every time.

What the account's trades cannot show (a venue's time window, the oldest
fills it no longer serves) is caught by the poll comparing each order's
filled quantity at the venue with what was reported, and reading that one
order's trades (:meth:`tradekit_ccxt.exchange.CcxtExchange.order_trades_data`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

#: A poll re-reads this much before where the last one ended: clock skew, trades a venue records late.
OVERLAP_MS = 60_000
#: Pages one poll reads at most; the next poll goes on from where this one stopped.
PAGES_PER_POLL = 10
#: Pages read at most for the trades of one order (Hyperliquid serves the latest 10,000 fills: 5 pages).
PAGES_PER_ORDER = 50


@dataclass(frozen=True)
class TradesPage:
    """One page of the account's trades (ccxt's trade dicts) and where the next page starts."""

    trades: list[dict[str, Any]]
    #: Where to read on from, or None when the venue has no more (the page was not full).
    next_since: int | None


def next_since(times: Iterable[int], since_ms: int) -> int:
    """Where the page after a full one read from ``since_ms`` starts: its newest trade's millisecond.

    That trade comes again and is known by its id. When a whole page shared
    the start's millisecond, one millisecond later, so reading moves forward.
    """
    newest = max(times, default=since_ms)
    return newest if newest > since_ms else since_ms + 1


def page_of(trades: list[dict[str, Any]], since_ms: int, *, full: bool) -> TradesPage:
    """A page of ccxt trades read oldest first from ``since_ms``; a ``full`` one says more may follow."""
    if not full:
        return TradesPage(trades, None)
    return TradesPage(trades, next_since((int(trade.get("timestamp") or 0) for trade in trades), since_ms))


def read_pages(fetch: Callable[[int], TradesPage], since_ms: int, most: int) -> Iterator[TradesPage]:
    """Pages from ``since_ms`` on, until one is not full or ``most`` were read."""
    for _ in range(most):
        page = fetch(since_ms)
        yield page
        if page.next_since is None:
            return
        since_ms = page.next_since


class TradesCursor:
    """Per symbol, the time from which the account's trades are still to be read."""

    def __init__(self) -> None:
        self._from: dict[str, int] = {}

    def start(self, symbol: str, earliest_ms: int) -> int:
        """Where a poll reads from: where the last ended, never before the oldest order followed (``earliest_ms``)."""
        cursor = self._from.get(symbol)
        return earliest_ms if cursor is None else max(cursor, earliest_ms)

    def include(self, symbol: str, since_ms: int) -> None:
        """Read from ``since_ms`` again at least: an order taken up after a restart was created then."""
        cursor = self._from.get(symbol)
        if cursor is not None and since_ms < cursor:
            self._from[symbol] = since_ms

    def stopped_at(self, symbol: str, since_ms: int) -> None:
        """A poll read up to ``since_ms`` (pages were left): the next one goes on from there."""
        self._from[symbol] = since_ms

    def caught_up(self, symbol: str, now_ms: int) -> None:
        """A poll read everything the venue had: the next one starts a little before ``now_ms``."""
        self._from[symbol] = max(self._from.get(symbol, 0), now_ms - OVERLAP_MS)
