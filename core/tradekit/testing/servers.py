"""A local HTTP server for notifier tests: slow, failing, and recording what it was sent.

Point a network notifier's transport at :attr:`FakeHttpServer.url` and the real
client code runs unmodified against it: each request is answered after
``delay`` seconds, the first ``fail_first`` with HTTP 500, the rest with 200 and
``{"ok": true, "result": {}}`` (the shape Telegram's Bot API answers with).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    body: str
    status: int


class FakeHttpServer:
    """A threaded HTTP server on 127.0.0.1 that answers slowly or with errors on purpose; a context manager."""

    def __init__(self, *, delay: float = 0.0, fail_first: int = 0) -> None:
        self.delay = delay
        self.fail_first = fail_first
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                with server._lock:
                    failing = len(server.requests) < server.fail_first
                    status = 500 if failing else 200
                    server.requests.append(RecordedRequest(self.command, self.path, body, status))
                # Waits in slices so that stopping the server is not held up by a slow answer.
                deadline = time.monotonic() + server.delay
                while not server._stopping.is_set() and time.monotonic() < deadline:
                    time.sleep(min(0.02, max(deadline - time.monotonic(), 0)))
                payload = (
                    b'{"ok": false, "description": "injected failure"}' if failing else b'{"ok": true, "result": {}}'
                )
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up waiting: that is its right

            do_GET = _answer
            do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: tests read :attr:`FakeHttpServer.requests` instead."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="tk-fake-http", daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def bodies(self) -> list[str]:
        """The bodies of every request received, in order."""
        with self._lock:
            return [request.body for request in self.requests]

    @property
    def successes(self) -> int:
        """How many requests were answered with 200."""
        with self._lock:
            return sum(1 for request in self.requests if request.status == 200)

    def start(self) -> FakeHttpServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests still waiting are answered at once."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeHttpServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
