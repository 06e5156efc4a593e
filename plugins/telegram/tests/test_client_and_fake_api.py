"""The fake Bot API answers as Telegram does; the client keeps the bot token out of every log, error and repr."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from tradekit_telegram.client import BotApi, TelegramError
from tradekit_telegram.notifier import TelegramNotifier, TelegramSettings
from tradekit_telegram.testing import FakeBotApi, telegram_html_text

from tradekit import secrets

TOKEN = "987654321:AAHsecretTOKENvalue_for-tests"


@pytest.fixture
def bot() -> Iterator[FakeBotApi]:
    with FakeBotApi(token=TOKEN, chats={42}) as server:
        yield server


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    yield
    secrets.forget_all()


def raw(bot: FakeBotApi, method: str, token: str = TOKEN, **params: object) -> httpx.Response:
    """A request sent straight with httpx, to see the fake's answers as they are on the wire."""
    return httpx.post(f"{bot.url}/bot{token}/{method}", json=params, timeout=5)


def test_the_fake_answers_in_telegram_s_shapes(bot: FakeBotApi) -> None:
    me = raw(bot, "getMe").json()
    assert me["ok"] is True and me["result"]["is_bot"] is True and me["result"]["username"]

    sent = raw(bot, "sendMessage", chat_id=42, text="<b>hi</b> &amp; bye", parse_mode="HTML").json()
    assert sent["ok"] is True
    message = sent["result"]
    assert message["chat"]["id"] == 42 and message["text"] == "hi & bye" and message["from"]["is_bot"]
    assert isinstance(message["message_id"], int) and isinstance(message["date"], int)

    assert raw(bot, "getMe", token="1:wrong").json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    unknown_chat = raw(bot, "sendMessage", chat_id=7, text="hi").json()
    assert unknown_chat == {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
    bad_html = raw(bot, "sendMessage", chat_id=42, text="price < 5 <blink>", parse_mode="HTML")
    assert bad_html.status_code == 400 and "can't parse entities" in bad_html.json()["description"]


def test_the_fake_answers_429_with_retry_after_in_the_body_and_the_header(bot: FakeBotApi) -> None:
    bot.fail_next(status=429, retry_after=3)
    response = raw(bot, "sendMessage", chat_id=42, text="hi")
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    assert response.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }


def test_get_updates_long_polls_and_an_offset_confirms_what_was_read(bot: FakeBotApi) -> None:
    started = time.monotonic()
    assert raw(bot, "getUpdates", timeout=1).json() == {"ok": True, "result": []}
    assert time.monotonic() - started >= 0.9, "an empty long poll waits its timeout"

    threading.Timer(0.3, lambda: bot.send_command(42, "/status")).start()
    started = time.monotonic()
    [update] = raw(bot, "getUpdates", timeout=5).json()["result"]
    assert time.monotonic() - started < 3, "an update ends the long poll at once"
    assert update["message"]["text"] == "/status" and update["message"]["chat"]["id"] == 42
    assert update["message"]["entities"] == [{"offset": 0, "length": 7, "type": "bot_command"}]
    again = raw(bot, "getUpdates", timeout=0).json()["result"]
    assert [u["update_id"] for u in again] == [update["update_id"]], "not confirmed yet: sent again"
    assert raw(bot, "getUpdates", offset=update["update_id"] + 1, timeout=0).json()["result"] == []


def test_the_fake_refuses_html_telegram_would_refuse() -> None:
    assert telegram_html_text("<b>a</b> <i>b</i> <code>1 &lt; 2</code>") == "a b 1 < 2"
    for bad in ("<b>open", "a & b", "1 < 2", "<div>x</div>", "&nbsp;", "<b><i>x</b></i>"):
        with pytest.raises(ValueError):
            telegram_html_text(bad)


def test_no_log_line_of_the_http_stack_shows_the_token(bot: FakeBotApi, caplog: pytest.LogCaptureFixture) -> None:
    api = BotApi(TOKEN, bot.url)
    with caplog.at_level(logging.DEBUG):
        api.call("getMe")
        bot.fail_next(status=502)
        with pytest.raises(TelegramError):
            api.call("getMe")
    api.close()
    lines = [record.getMessage() for record in caplog.records]
    assert any("HTTP Request: POST" in line for line in lines), "httpx logs each request: the check must see them"
    assert not [line for line in lines if TOKEN in line]
    assert any("/bot***/getMe" in line for line in lines)


def test_an_unreachable_api_raises_an_error_without_the_token_in_its_text_or_traceback() -> None:
    with socket_that_refuses() as url:
        api = BotApi(TOKEN, url, timeout=2)
        with pytest.raises(TelegramError) as caught:
            api.call("sendMessage", {"chat_id": 42, "text": "hi"})
        api.close()
    error = caught.value
    assert error.retryable and error.status is None
    assert TOKEN not in str(error) and TOKEN not in repr(error)
    shown = "".join(traceback.format_exception(error))
    assert TOKEN not in shown and "ConnectError" in shown


def test_an_answer_echoing_the_url_is_scrubbed(bot: FakeBotApi) -> None:
    class Echo(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = f"<html>bad gateway for {self.path}</html>".encode()
            self.send_response(502)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        api = BotApi(TOKEN, f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(TelegramError) as caught:
            api.call("getMe")
        api.close()
    finally:
        server.shutdown()
        server.server_close()
    assert caught.value.status == 502 and "/bot***/getMe" in str(caught.value) and TOKEN not in str(caught.value)


def test_reprs_never_show_the_token(bot: FakeBotApi) -> None:
    notifier = TelegramNotifier(TelegramSettings(bot_token=TOKEN, chat_ids=(42,), base_url=bot.url))
    try:
        for text in (repr(notifier), repr(notifier.api), repr(notifier.settings), str(notifier.settings)):
            assert TOKEN not in text
    finally:
        notifier.close()
    assert secrets.redact(f"url /bot{TOKEN}/x") == "url /bot***/x", "the token is registered as a secret"


class socket_that_refuses:
    """A URL on which nothing listens (the port was bound, then freed)."""

    def __enter__(self) -> str:
        import socket

        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        return None
