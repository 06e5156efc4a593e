"""The outbox: never holds the caller up, one message a second per chat, 429 honoured, nothing lost in an outage."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest
from tradekit_telegram.client import BotApi
from tradekit_telegram.outbox import Outbox
from tradekit_telegram.testing import FakeBotApi

from tradekit import secrets

TOKEN = "111222333:OUTBOX-test-token"


OPENED: list[BotApi] = []


@pytest.fixture
def bot() -> Iterator[FakeBotApi]:
    with FakeBotApi(token=TOKEN, chats={1, 2}, enforce_rate_limit=True, min_interval=0.2) as server:
        yield server
    while OPENED:
        OPENED.pop().close()
    secrets.forget_all()


def outbox(bot: FakeBotApi, **options: float) -> Outbox:
    settings = {"min_interval": 0.2, "retry_seconds": 0.05, **options}
    api = BotApi(TOKEN, bot.url, timeout=5)
    OPENED.append(api)
    return Outbox(api, capacity=int(settings.pop("capacity", 50)), **settings)


def test_messages_go_out_in_order_never_faster_than_the_limit_per_chat(bot: FakeBotApi) -> None:
    box = outbox(bot)
    for number in range(4):
        box.put(1, f"one {number}")
        box.put(2, f"two {number}")
    bot.wait_for_messages(8)
    box.close(5)

    assert bot.rate_limited == 0, "the fake answers 429 to a chat written to twice within its interval"
    for chat in (1, 2):
        sent = bot.messages_to(chat)
        assert [m.text for m in sent] == [f"{'one' if chat == 1 else 'two'} {n}" for n in range(4)]
        gaps = [b.at - a.at for a, b in itertools.pairwise(sent)]
        assert min(gaps) >= 0.19


def test_a_429_is_answered_by_waiting_its_retry_after(bot: FakeBotApi) -> None:
    bot.fail_next(status=429, retry_after=1, method="sendMessage")
    box = outbox(bot)
    started = time.monotonic()
    box.put(1, "after the wait")
    [message] = bot.wait_for_messages(1)
    box.close(5)
    assert message.at - started >= 1.0 and message.text == "after the wait"
    assert box.stats.rate_limited == 1 and box.stats.waits == [1]


def test_put_returns_at_once_while_telegram_is_down_and_nothing_is_lost_when_it_is_back(bot: FakeBotApi) -> None:
    bot.go_down()
    box = outbox(bot, retry_seconds=0.05, max_retry_seconds=0.2)
    started = time.monotonic()
    for number in range(5):
        box.put(1, f"message {number}")
    assert time.monotonic() - started < 0.05, "the caller never waits on Telegram"
    bot.wait_for(lambda b: sum(r.status == 502 for r in b.requests) >= 3)
    bot.come_back()
    sent = bot.wait_for_messages(5)
    box.close(5)
    assert [m.text for m in sent] == [f"message {n}" for n in range(5)]
    assert box.stats.retries >= 3 and box.stats.dropped == 0


def test_a_full_queue_drops_its_oldest_counts_them_and_says_so_once_telegram_answers(bot: FakeBotApi) -> None:
    bot.go_down()
    box = outbox(bot, capacity=3, retry_seconds=0.05, max_retry_seconds=0.1)
    for number in range(6):
        box.put(1, f"message {number}")
    bot.come_back()
    assert box.close(10) == 0
    texts = [m.text for m in bot.messages]
    delivered = [t for t in texts if t.startswith("message")]
    [notice] = [t for t in texts if "dropped" in t]
    assert box.stats.dropped >= 2 and len(delivered) + box.stats.dropped == 6
    assert delivered == sorted(delivered) and delivered[-1] == "message 5", "the oldest go, in order, never the newest"
    assert f"⚠️ {box.stats.dropped} message(s) were dropped: the queue was full (capacity 3)" in notice


def test_a_message_telegram_refuses_is_skipped_and_the_next_still_goes(bot: FakeBotApi) -> None:
    box = outbox(bot)
    box.put(99, "to a chat the bot cannot write to")
    box.put(1, "fine")
    [message] = bot.wait_for_messages(1)
    box.close(5)
    assert message.text == "fine" and box.stats.refused == 1


def test_close_gives_up_after_its_timeout_and_counts_what_was_left(bot: FakeBotApi) -> None:
    bot.go_down()
    box = outbox(bot, retry_seconds=0.05, max_retry_seconds=0.1)
    box.put(1, "never delivered")
    box.put(1, "nor this")
    started = time.monotonic()
    assert box.close(0.5) == 2
    assert time.monotonic() - started < 3
