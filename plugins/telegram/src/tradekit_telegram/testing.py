"""A fake Telegram Bot API server for tests: real HTTP, Telegram's request and answer shapes.

Start it, point the notifier's ``base_url`` at :attr:`FakeBotApi.url`, and the real
client (httpx) talks to it unmodified::

    with FakeBotApi(token="123456:TEST", chats={42}) as bot:
        notifier = TelegramNotifier(TelegramSettings(bot_token=bot.token, chat_ids=(42,), base_url=bot.url))
        ...
        bot.wait_for_messages(3)

It answers ``POST /bot<token>/getMe``, ``sendMessage`` and ``getUpdates`` (long polling,
``offset`` confirming updates) the way Telegram does: ``{"ok": true, "result": ...}``, or
``{"ok": false, "error_code": N, "description": "..."}`` with ``"parameters":
{"retry_after": N}`` on a 429. It checks what Telegram checks: the token (401), a known
chat (400 "chat not found"), HTML that Telegram would parse (400 "can't parse entities"),
and, when asked, the one-message-a-second-per-chat limit (429). It can fail on purpose:
:meth:`FakeBotApi.fail_next` answers the next requests with an error status,
:meth:`FakeBotApi.go_down` answers everything with 502 until :meth:`FakeBotApi.come_back`.
Commands arrive with :meth:`FakeBotApi.send_command`.
"""

from __future__ import annotations

import html
import json
import threading
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: The tags Telegram's HTML parse mode accepts.
ALLOWED_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_ENTITIES = frozenset({"lt", "gt", "amp", "quot"})

BOT_USER = {
    "id": 777000111,
    "is_bot": True,
    "first_name": "tradekit test bot",
    "username": "tradekit_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent: its chat, the HTML it was given, the text Telegram would show."""

    chat_id: int
    html: str
    text: str
    silent: bool
    at: float


@dataclass(frozen=True)
class ApiRequest:
    """One request received: the method, the parameters, the status answered."""

    method: str
    params: dict[str, Any]
    status: int
    at: float


class HtmlProblem(ValueError):
    """Why Telegram would refuse a message's HTML."""


class _TelegramHtml(HTMLParser):
    """Parses like Telegram: known tags only, balanced, the four entities, no bare ``< > &``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            raise HtmlProblem(f'Unsupported start tag "{tag}"')
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            raise HtmlProblem(f'Unexpected end tag "{tag}"')
        self.open.pop()

    def handle_data(self, data: str) -> None:
        for character in "<>&":
            if character in data:
                raise HtmlProblem(f"Unexpected {character!r}: escape it as an entity")
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in _ENTITIES:
            raise HtmlProblem(f'Unsupported entity "&{name};"')
        self.text.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(html.unescape(f"&#{name};"))


def telegram_html_text(markup: str) -> str:
    """The text Telegram shows for ``markup``; :class:`HtmlProblem` if Telegram would refuse it."""
    parser = _TelegramHtml()
    parser.feed(markup)
    parser.close()
    if parser.rawdata:
        raise HtmlProblem(f"Can't parse {parser.rawdata[:20]!r}")
    if parser.open:
        raise HtmlProblem(f'Can\'t find end tag corresponding to start tag "{parser.open[-1]}"')
    return "".join(parser.text)


class FakeBotApi:
    """The fake server; a context manager. See the module docstring."""

    def __init__(
        self,
        *,
        token: str = "123456789:TEST-token-for-the-fake-bot-api",
        chats: set[int] | frozenset[int] | None = None,
        enforce_rate_limit: bool = False,
        min_interval: float = 1.0,
    ) -> None:
        self.token = token
        #: Chats the bot can write to (None: any chat id).
        self.chats = None if chats is None else set(chats)
        self.enforce_rate_limit = enforce_rate_limit
        self.min_interval = min_interval
        self.messages: list[SentMessage] = []
        self.requests: list[ApiRequest] = []
        self.rate_limited = 0
        self._failures: list[tuple[int, float | None, str | None, str | None]] = []
        self._down = False
        self._updates: list[dict[str, Any]] = []
        self._next_update = 100_000
        self._next_message = 1
        self._last_to_chat: dict[int, float] = {}
        self._lock = threading.Condition()
        self._stopping = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-bot-api", daemon=True
        )

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's base URL (the notifier's ``base_url``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeBotApi:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; long polls waiting are answered at once."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # -- what tests do ---------------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        retry_after: float | None = None,
        description: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests (of ``method`` only, if given) with ``status``."""
        with self._lock:
            self._failures.extend([(status, retry_after, description, method)] * count)

    def go_down(self) -> None:
        """Answer every request with 502 Bad Gateway (an HTML page, as a proxy would) until :meth:`come_back`."""
        with self._lock:
            self._down = True

    def come_back(self) -> None:
        """Answer normally again."""
        with self._lock:
            self._down = False

    def send_command(self, chat_id: int, text: str, *, user_id: int | None = None, username: str = "trader") -> int:
        """A user writes ``text`` to the bot in chat ``chat_id``; returns the update id."""
        with self._lock:
            update_id = self._next_update
            self._next_update += 1
            user = {"id": user_id or chat_id, "is_bot": False, "first_name": username.title(), "username": username}
            message: dict[str, Any] = {
                "message_id": self._take_message_id(),
                "from": user,
                "chat": {"id": chat_id, "type": "private", "first_name": username.title(), "username": username},
                "date": int(time.time()),
                "text": text,
            }
            if text.startswith("/"):
                message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
            self._updates.append({"update_id": update_id, "message": message})
            self._lock.notify_all()
        return update_id

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        """Messages sent to ``chat_id``, in order."""
        with self._lock:
            return [m for m in self.messages if m.chat_id == chat_id]

    def wait_for_messages(self, count: int, timeout: float = 10.0, *, chat_id: int | None = None) -> list[SentMessage]:
        """Wait until ``count`` messages were sent (to ``chat_id``, if given); AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                got = [m for m in self.messages if chat_id is None or m.chat_id == chat_id]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the fake bot got {len(got)} message(s) in {timeout} s, expected {count}")
                self._lock.wait(left)

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait until ``predicate(self)`` is true; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the fake bot did not reach the expected state in {timeout} s")
                self._lock.wait(min(left, 0.05))

    # -- serving -----------------------------------------------------------------------------------

    def _take_message_id(self) -> int:
        number = self._next_message
        self._next_message += 1
        return number

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle on, each answer waits ~40 ms for an ACK.
            disable_nagle_algorithm = True

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                params = dict(parse_qsl(parts.query))
                kind = self.headers.get("Content-Type", "")
                if raw and "json" in kind:
                    try:
                        params.update(json.loads(raw))
                    except ValueError:
                        self._send(400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid JSON"})
                        return
                elif raw:
                    params.update(parse_qsl(raw.decode("utf-8", "replace")))
                status, payload, headers = api._dispatch(parts.path, params)
                self._send(status, payload, headers)

            def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                kind = "text/html" if isinstance(payload, bytes) else "application/json"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client went away (a long poll abandoned at shutdown)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: tests read the server's records instead."""

        return Handler

    def _dispatch(self, path: str, params: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        prefix, _, method = path.rpartition("/")
        with self._lock:
            if self._down:
                self._record(method, params, 502)
                return 502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", {}
            if prefix != f"/bot{self.token}":
                self._record(method, params, 401)
                return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, {}
            for index, (status, retry_after, description, only) in enumerate(self._failures):
                if only is None or only == method:
                    del self._failures[index]
                    self._record(method, params, status)
                    return self._error(status, retry_after, description)
        if method == "getMe":
            return self._ok(method, params, BOT_USER)
        if method == "sendMessage":
            return self._send_message(params)
        if method == "getUpdates":
            return self._get_updates(params)
        with self._lock:
            self._record(method, params, 404)
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, {}

    def _record(self, method: str, params: dict[str, Any], status: int) -> None:
        self.requests.append(ApiRequest(method, dict(params), status, time.monotonic()))
        self._lock.notify_all()

    def _ok(self, method: str, params: dict[str, Any], result: Any) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self._record(method, params, 200)
        return 200, {"ok": True, "result": result}, {}

    @staticmethod
    def _error(status: int, retry_after: float | None, description: str | None) -> tuple[int, Any, dict[str, str]]:
        if status == 429:
            wait = retry_after if retry_after is not None else 1
            shown = int(wait) if float(wait).is_integer() else wait
            payload = {
                "ok": False,
                "error_code": 429,
                "description": description or f"Too Many Requests: retry after {shown}",
                "parameters": {"retry_after": shown},
            }
            return 429, payload, {"Retry-After": str(shown)}
        words = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
        text = description or words.get(status, "Internal Server Error" if status >= 500 else "Error")
        return status, {"ok": False, "error_code": status, "description": text}, {}

    def _bad(self, method: str, params: dict[str, Any], description: str) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self._record(method, params, 400)
        return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {description}"}, {}

    def _send_message(self, params: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        try:
            chat_id = int(params.get("chat_id", ""))
        except (TypeError, ValueError):
            return self._bad("sendMessage", params, "chat_id is empty")
        markup = str(params.get("text") or "")
        if not markup.strip():
            return self._bad("sendMessage", params, "message text is empty")
        if self.chats is not None and chat_id not in self.chats:
            return self._bad("sendMessage", params, "chat not found")
        text = markup
        if str(params.get("parse_mode", "")).upper() == "HTML":
            try:
                text = telegram_html_text(markup)
            except HtmlProblem as problem:
                return self._bad("sendMessage", params, f"can't parse entities: {problem}")
        if len(text) > 4096:
            return self._bad("sendMessage", params, "message is too long")
        now = time.monotonic()
        with self._lock:
            last = self._last_to_chat.get(chat_id)
            if self.enforce_rate_limit and last is not None and now - last < self.min_interval * 0.95:
                self.rate_limited += 1
                self._record("sendMessage", params, 429)
                return self._error(429, 1, None)
            self._last_to_chat[chat_id] = now
            silent = bool(params.get("disable_notification")) and params.get("disable_notification") != "false"
            self.messages.append(SentMessage(chat_id, markup, text, silent, now))
            result = {
                "message_id": self._take_message_id(),
                "from": BOT_USER,
                "chat": {"id": chat_id, "type": "private", "first_name": "Trader"},
                "date": int(time.time()),
                "text": text,
            }
            self._record("sendMessage", params, 200)
        return 200, {"ok": True, "result": result}, {}

    def _get_updates(self, params: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 50.0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        with self._lock:
            # An offset confirms every update before it: Telegram forgets them.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and not self._stopping and time.monotonic() < deadline:
                self._lock.wait(min(deadline - time.monotonic(), 0.05))
            result = self._updates[:limit]
            self._record("getUpdates", params, 200)
        return 200, {"ok": True, "result": result}, {}
