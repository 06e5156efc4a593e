"""A paper dry run of ``sma_cross`` with ``circuit_breaker`` and ``telegram``, run as a user would, on a fake Bot API.

``tradekit run`` in a folder with a ``tradekit.toml``; while it runs, a stranger sends
``/stop`` (refused), the owner asks ``/status``, then ``/stop`` ends the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tradekit_telegram.testing import FakeBotApi

from tradekit import secrets
from tradekit.journal import Journal

TOKEN = "5550001:END-to-END-secret-token"
OWNER, STRANGER = 42, 666


@pytest.fixture
def bot() -> Iterator[FakeBotApi]:
    with FakeBotApi(token=TOKEN, chats={OWNER}) as server:
        yield server
    secrets.forget_all()


def write_config(folder: Path, bot: FakeBotApi) -> None:
    (folder / "tradekit.toml").write_text(
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


def test_the_run_tells_telegram_what_happens_and_obeys_only_its_owner(
    bot: FakeBotApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tradekit.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRADEKIT_PLUGINS__NOTIFIER__TELEGRAM__BOT_TOKEN", TOKEN)
    write_config(tmp_path, bot)

    def chat() -> None:
        # Once the breaker has tripped: a stranger tries to stop the run, the owner looks, then stops it.
        bot.wait_for(lambda b: any("Circuit breaker tripped" in m.text for m in b.messages), timeout=60)
        bot.send_command(STRANGER, "/stop")
        bot.send_command(OWNER, "/status")
        bot.wait_for(lambda b: any(m.text.startswith("📟") for m in b.messages), timeout=30)
        bot.send_command(OWNER, "/stop")

    owner = threading.Thread(target=chat, daemon=True)
    owner.start()
    root = logging.getLogger()
    level, filters = root.level, {handler: list(handler.filters) for handler in root.handlers}
    try:
        code = main(["run", "--poll-interval", "0.0005", "--max-bars", "25000"])
    except SystemExit as done:
        code = done.code
    finally:
        root.setLevel(level)
        for handler in root.handlers:
            handler.filters = filters.get(handler, handler.filters)
    owner.join(5)
    out, err = capsys.readouterr()

    assert code in (0, None), err
    with Journal(tmp_path / "tradekit-journal.sqlite3", create=False) as journal:
        [run] = journal.list_runs()
    assert run.end_reason == f"stop requested by telegram chat {OWNER}"
    texts = [m.text for m in bot.messages]
    titles = [text.split("\n", 1)[0] for text in texts]
    assert titles[0] == "🚀 Run started" and titles[-1] == "🏁 Run stopped"
    assert "✅ Filled" in titles and "🚨 Circuit breaker tripped" in titles and "⏹ Stop requested" in titles
    status = next(text for text in texts if text.startswith("📟"))
    assert f"dry_run {run.run_id[:12]}" in status and "circuit_breaker:" in status
    assert f"stop requested by telegram chat {OWNER}" in texts[titles.index("⏹ Stop requested")]
    assert bot.messages_to(STRANGER) == []
    assert all(r.status == 200 for r in bot.requests), "Telegram refused nothing (HTML, chat, token)"
    assert any(f"refused '/stop' from chat {STRANGER}" in r.getMessage() for r in caplog.records)
    assert TOKEN not in out + err
