"""Reading the account's trades in pages, and where the next poll starts."""

from __future__ import annotations

from typing import Any

from tradekit_ccxt.trades import OVERLAP_MS, TradesCursor, TradesPage, page_of, read_pages


def trades(*times: int) -> list[dict[str, Any]]:
    return [{"id": str(i), "timestamp": t} for i, t in enumerate(times)]


def test_a_page_shorter_than_the_limit_is_the_last() -> None:
    assert page_of(trades(5, 6), 0, full=False).next_since is None


def test_a_full_page_goes_on_from_its_newest_trade_and_always_moves_forward() -> None:
    assert page_of(trades(5, 9, 7), 0, full=True).next_since == 9
    # A whole page in the start's millisecond: the next starts a millisecond later, or reading would never end.
    assert page_of(trades(4, 4, 4), 4, full=True).next_since == 5


def test_pages_are_read_until_one_is_not_full_or_the_most_were_read() -> None:
    asked: list[int] = []

    def fetch(since: int) -> TradesPage:
        asked.append(since)
        return page_of(trades(since + 10, since + 20), since, full=since < 40)

    assert [p.next_since for p in read_pages(fetch, 0, 10)] == [20, 40, None]
    assert asked == [0, 20, 40]
    asked.clear()
    assert len(list(read_pages(fetch, 0, 2))) == 2 and asked == [0, 20]


def test_the_cursor_starts_at_the_oldest_order_then_where_the_last_poll_ended() -> None:
    cursor = TradesCursor()
    assert cursor.start("BTC/USDT", 1_000) == 1_000
    cursor.caught_up("BTC/USDT", 500_000)
    assert cursor.start("BTC/USDT", 1_000) == 500_000 - OVERLAP_MS
    # Never before the oldest order still followed: older trades belong to none of them.
    assert cursor.start("BTC/USDT", 480_000) == 480_000
    cursor.stopped_at("BTC/USDT", 470_000)
    assert cursor.start("BTC/USDT", 1_000) == 470_000
    # An order taken up after a restart was created long before: its trades are read again.
    cursor.include("BTC/USDT", 2_000)
    assert cursor.start("BTC/USDT", 2_000) == 2_000
    assert cursor.start("ETH/USDT", 9) == 9
