"""A local HTTP server that venues' fakes build on: records every request and injects faults on demand.

A venue's fake (``tradekit_hyperliquid.fake_server``, ``tradekit_binance.fake_server``)
subclasses :class:`FakeVenueServer` and answers :meth:`~FakeVenueServer.handle`
in the venue's wire format; ccxt is pointed at :attr:`~FakeVenueServer.url` and
runs its own code unmodified. Faults are queued with :meth:`~FakeVenueServer.inject`
and hit the next matching requests:

============  ============================================================================
``timeout``   nothing is processed; the reply never comes (the client's timeout fires)
``error``     nothing is processed; an HTTP 5xx reply (``status``, default 503)
``rate``      nothing is processed; 429 (or ``status=418``) with ``Retry-After``
``malformed`` the request **is processed**, then a 200 reply with broken JSON
``lost``      the request **is processed**, then the connection closes without a reply
============  ============================================================================

The last two are the acknowledged order whose reply is lost: a client that
simply sent it again would place it twice.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

FAULT_KINDS = ("timeout", "error", "rate", "malformed", "lost")


@dataclass
class Request:
    """One request the server received: ``params`` is the query string and form body, or the JSON body."""

    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    body: str
    at: float
    fault: str | None = None
    query: str = ""


@dataclass
class Reply:
    """What the venue answers: a status, a JSON-able body, extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    #: Sent as the Content-Type; None: JSON for data, text for a str body (sent as it is).
    content_type: str | None = None


@dataclass
class Fault:
    """One queued fault: its kind, which requests it hits, how many times."""

    kind: str
    when: Callable[[Request], bool]
    times: int = 1
    status: int | None = None
    retry_after: float | None = None
    delay: float = 2.0


class FakeVenueServer:
    """A threaded HTTP server on 127.0.0.1; subclasses answer in their venue's format. A context manager."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.faults_injected: dict[str, int] = {kind: 0 for kind in FAULT_KINDS}
        self.lock = threading.RLock()
        self._stopping = threading.Event()
        # The market-data websocket, when a venue's fake serves one (attach_stream), and its pacer.
        self.stream: Any = None
        self.stream_every: float | None = None
        self._pacer: threading.Thread | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                server._serve(self)

            do_GET = _serve
            do_POST = _serve
            do_DELETE = _serve
            do_PUT = _serve

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: tests read :attr:`FakeVenueServer.requests`."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="tk-fake-venue", daemon=True
        )

    # -- what a venue's fake implements --------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Answer one request in the venue's format."""
        raise NotImplementedError

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Move ``symbol``'s market to ``price`` (tests use it to fill or trigger resting orders)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement set_price()")

    # -- faults -------------------------------------------------------------------------------------

    def inject(
        self,
        kind: str,
        when: Callable[[Request], bool] | None = None,
        *,
        times: int = 1,
        status: int | None = None,
        retry_after: float | None = None,
        delay: float = 2.0,
    ) -> None:
        """Queue a fault for the next ``times`` requests that ``when`` matches (any request by default)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        with self.lock:
            self.faults.append(Fault(kind, when or (lambda _: True), times, status, retry_after, delay))

    def _take_fault(self, request: Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.when(request):
                    fault.times -= 1
                    self.faults_injected[fault.kind] += 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # -- serving -----------------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode("utf-8", "replace") if length else ""
        parts = urlsplit(handler.path)
        params: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
        content_type = handler.headers.get("Content-Type", "")
        if body:
            if "json" in content_type or body[:1] in "{[":
                try:
                    loaded = json.loads(body)
                except ValueError:
                    loaded = None
                if isinstance(loaded, dict):
                    params.update(loaded)
            else:
                params.update(dict(parse_qsl(body, keep_blank_values=True)))
        request = Request(
            method=handler.command,
            path=parts.path,
            params=params,
            headers={k: v for k, v in handler.headers.items()},
            body=body,
            at=time.time(),
            query=parts.query,
        )
        fault = self._take_fault(request)
        request.fault = fault.kind if fault is not None else None
        with self.lock:
            self.requests.append(request)
        if fault is not None and fault.kind == "timeout":
            self._wait(fault.delay)
            handler.close_connection = True
            return
        if fault is not None and fault.kind == "error":
            self._send(
                handler, Reply(fault.status or 503, "<html><body>503 Service Temporarily Unavailable</body></html>")
            )
            return
        if fault is not None and fault.kind == "rate":
            wait = fault.retry_after if fault.retry_after is not None else 1
            status = fault.status or 429
            self._send(handler, self.rate_limited_reply(status, wait))
            return
        with self.lock:
            reply = self.handle(request)
        if fault is not None and fault.kind == "lost":
            handler.close_connection = True
            return
        if fault is not None and fault.kind == "malformed":
            text = json.dumps(reply.body)
            self._send(handler, Reply(200, None, reply.headers), raw=text[: max(len(text) // 2, 1)].encode())
            return
        self._send(handler, reply)

    def rate_limited_reply(self, status: int, retry_after: float) -> Reply:
        """The venue's answer to a client over its limit (a venue's fake may refine the body)."""
        return Reply(status, {"error": "rate limited"}, {"Retry-After": f"{retry_after:g}"})

    def _wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)

    def _send(self, handler: BaseHTTPRequestHandler, reply: Reply, raw: bytes | None = None) -> None:
        if raw is None:
            body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
            raw = body.encode()
        content_type = reply.content_type or "application/json"
        if reply.content_type is None and isinstance(reply.body, str):
            content_type = "text/html" if raw[:1] == b"<" else "text/plain"
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(raw)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(raw)
        except OSError:
            pass  # the client gave up waiting

    # -- lifecycle -----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def attach_stream(self, answer: Callable[..., Any] | None, every: float | None = None) -> None:
        """Serve a market-data websocket that answers clients with ``answer`` (None: no websocket).

        With ``every``, :meth:`pace` is called every ``every`` seconds while the server runs.
        """
        if answer is not None:
            from tradekit_ccxt.testing.stream import FakeStreamServer

            self.stream = FakeStreamServer(answer)
        self.stream_every = every

    def pace(self) -> bool:
        """One step of a paced market (advance it while a client follows); False ends the pacing."""
        raise NotImplementedError(f"{type(self).__name__} was given stream_every but does not pace its market")

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:<port>`` of the market-data websocket (ccxt keeps its own paths)."""
        if self.stream is None:
            raise RuntimeError(f"this {type(self).__name__} was made without stream=True")
        return str(self.stream.url)

    def start(self) -> Self:
        """Serve REST in a background thread, and the websocket when there is one (paced when asked)."""
        self._thread.start()
        if self.stream is not None:
            self.stream.start()
            if self.stream_every is not None:
                self._pacer = threading.Thread(target=self._pace_loop, name="tk-fake-pacer", daemon=True)
                self._pacer.start()
        return self

    def _pace_loop(self) -> None:
        assert self.stream_every is not None
        while not self._stopping.wait(self.stream_every):
            if not self.pace():
                return

    def stop(self) -> None:
        """Stop the pacing, the websocket and REST, and release the ports."""
        self._stopping.set()
        if self._pacer is not None:
            self._pacer.join(timeout=10)
        if self.stream is not None:
            self.stream.stop()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def matching(self, predicate: Callable[[Request], bool]) -> list[Request]:
        """The requests received that ``predicate`` accepts."""
        with self.lock:
            return [r for r in self.requests if predicate(r)]
