"""Where a secret could leak in a connector's tests: the logs (ccxt's request dumps) and the wire."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from tradekit.secrets import RedactingFilter
from tradekit_ccxt.testing.server import FakeVenueServer


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG while inside, ccxt's request dumps and headers included, through tradekit's filter.

    The root and ``ccxt`` loggers get their levels back on the way out.
    """
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    root, ccxt_log = logging.getLogger(), logging.getLogger("ccxt")
    levels = (root.level, ccxt_log.level)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    ccxt_log.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        ccxt_log.setLevel(levels[1])


def wire_text(server: FakeVenueServer) -> str:
    """All that reached ``server``: every request's body, query string and headers, as one text to search."""
    with server.lock:
        return "".join(request.body + request.query + str(request.headers) for request in server.requests)
