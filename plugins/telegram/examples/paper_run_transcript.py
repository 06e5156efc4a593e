"""Print the Telegram messages of a paper dry run of ``sma_cross`` with ``circuit_breaker`` and ``telegram``.

The run talks to the fake Bot API (:mod:`tradekit_telegram.testing`) in a temporary folder,
exactly as ``tradekit run`` would to Telegram; once the breaker has tripped, a stranger's
chat sends ``/stop`` (refused), the owner sends ``/status`` then ``/stop``. Every message
is printed as the chat would show it. Usage: ``python plugins/telegram/examples/paper_run_transcript.py``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections import Counter
from pathlib import Path

from tradekit_telegram.testing import FakeBotApi

from tradekit.cli.main import main

OWNER, STRANGER = 42, 666


def chat(bot: FakeBotApi) -> None:
    bot.wait_for(lambda b: any("Circuit breaker tripped" in m.text for m in b.messages), timeout=120)
    bot.send_command(STRANGER, "/stop")
    bot.send_command(OWNER, "/status")
    bot.wait_for(lambda b: any(m.text.startswith("📟") for m in b.messages), timeout=60)
    bot.send_command(OWNER, "/stop")


def run() -> None:
    with FakeBotApi(chats={OWNER}) as bot, tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        os.environ["TRADEKIT_PLUGINS__NOTIFIER__TELEGRAM__BOT_TOKEN"] = bot.token
        Path("tradekit.toml").write_text(
            f"""
strategy = "sma_cross"
risk = ["circuit_breaker"]
notifiers = ["telegram"]
[plugins.exchange.paper]
history = 100
bars = 30000
pace = 0.0005
[plugins.notifier.telegram]
chat_ids = [{OWNER}]
base_url = "{bot.url}"
poll_timeout_seconds = 1
min_interval_seconds = 0.01
"""
        )
        threading.Thread(target=chat, args=(bot,), daemon=True).start()
        with contextlib.suppress(SystemExit):
            main(["run", "--poll-interval", "0.0005", "--max-bars", "25000"])
        messages = list(bot.messages)
    titles = Counter(m.text.split("\n", 1)[0] for m in messages)
    print(
        f"\n{len(messages)} messages to chat {OWNER}, none to chat {STRANGER}: "
        + ", ".join(f"{title} x{count}" for title, count in titles.most_common())
    )
    shown: Counter[str] = Counter()
    for message in messages:
        title = message.text.split("\n", 1)[0]
        shown[title] += 1
        if shown[title] <= (2 if "Filled" in title else 1) or title.startswith(("🏁", "⏹")):
            print("\n" + message.text)


if __name__ == "__main__":
    run()
