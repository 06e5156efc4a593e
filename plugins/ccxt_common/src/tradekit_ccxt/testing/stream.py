"""A local websocket endpoint that venues' fakes speak their streams through (aiohttp, in its own thread).

A venue's fake gives :class:`FakeStreamServer` a handler that answers each
message a client sends (a subscription, a ping) in the venue's words and
names the topics the connection now follows; the fake then pushes the venue's
messages with :meth:`FakeStreamServer.publish` to the connections following a
topic. ccxt's websocket client (``ccxt.pro``) is pointed at
:attr:`FakeStreamServer.url` and runs its own code unmodified.

Faults: :meth:`FakeStreamServer.drop` closes every connection (as a venue
restarting does), :meth:`FakeStreamServer.refuse` answers new connections
with HTTP 503 until called again with ``False`` (the stream is down).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import WSMsgType, web


@dataclass(eq=False)
class Connection:
    """One client connection: the path it opened and the topics it follows."""

    socket: web.WebSocketResponse
    path: str
    topics: set[Hashable] = field(default_factory=set)


#: ``handler(connection, message) -> replies``: the venue's answer to one client message (JSON values).
Handler = Callable[[Connection, Any], list[Any]]


class FakeStreamServer:
    """A websocket server on 127.0.0.1 (any path); a context manager. See the module doc."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections: list[Connection] = []
        #: Every message clients sent, parsed, in order.
        self.received: list[Any] = []
        #: How many connections were accepted, and how many refused.
        self.accepted = 0
        self.refused = 0
        #: How many messages :meth:`publish` delivered.
        self.published = 0
        self._refusing = False
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tk-fake-stream", daemon=True)
        self._runner: web.AppRunner | None = None
        self._port = 0

    # -- serving --------------------------------------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        if self._refusing:
            self.refused += 1
            return web.Response(status=503, text="503 Service Temporarily Unavailable")
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        connection = Connection(socket, request.path)
        self.connections.append(connection)
        self.accepted += 1
        try:
            async for message in socket:
                if message.type is not WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(message.data)
                except ValueError:
                    continue
                with self._lock:
                    self.received.append(data)
                for reply in self.handler(connection, data):
                    await socket.send_str(json.dumps(reply))
        finally:
            if connection in self.connections:
                self.connections.remove(connection)
        return socket

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def _publish(self, topic: Hashable, messages: list[Any]) -> int:
        sent = 0
        for connection in list(self.connections):
            if topic in connection.topics and not connection.socket.closed:
                for message in messages:
                    await connection.socket.send_str(json.dumps(message))
                    sent += 1
        self.published += sent
        return sent

    async def _drop(self) -> None:
        for connection in list(self.connections):
            await connection.socket.close(code=1012, message=b"service restart")
        self.connections.clear()

    def _run(self, coroutine: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    # -- what tests and venue fakes call -------------------------------------------------------------

    def publish(self, topic: Hashable, *messages: Any) -> int:
        """Send ``messages`` to every connection following ``topic``; returns how many were sent."""
        return int(self._run(self._publish(topic, list(messages))))

    def followers(self, topic: Hashable) -> int:
        """How many open connections follow ``topic``."""
        return sum(1 for c in list(self.connections) if topic in c.topics and not c.socket.closed)

    def drop(self) -> None:
        """Close every connection from the server's side (clients see the stream drop)."""
        self._run(self._drop())

    def refuse(self, refusing: bool = True) -> None:
        """Answer new connections with HTTP 503 (the stream is down) until called with ``False``."""
        self._refusing = refusing

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>``, without a path (a client keeps its venue's path)."""
        return f"ws://127.0.0.1:{self._port}"

    def start(self) -> FakeStreamServer:
        """Start serving in a background thread."""
        self._thread.start()
        self._run(self._start())
        return self

    def stop(self) -> None:
        """Close every connection, stop serving, close the loop and join the thread."""
        if self._thread.is_alive():
            self._run(self._drop())
            if self._runner is not None:
                self._run(self._runner.cleanup())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> FakeStreamServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
