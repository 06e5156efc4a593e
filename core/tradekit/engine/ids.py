"""Client order ids: every order has one before it leaves the engine.

An id is 32 lowercase hex digits: the first 12 of the run id, then a
20-digit sequence number. That fits every venue's format (Hyperliquid wants
``0x`` + 32 hex digits, Binance up to 36 characters: connectors add their
prefix), is unique across runs, and tells which run an order belongs to, which
is how a restarted run recognises its own orders on the venue.
"""

from __future__ import annotations

import re

_HEX = re.compile(r"^[0-9a-f]{32}$")


class ClientOrderIds:
    """Hands out the client order ids of one run, in sequence."""

    def __init__(self, run_id: str, start: int = 0) -> None:
        prefix = run_id.replace("-", "").lower()[:12]
        if len(prefix) < 12 or not all(c in "0123456789abcdef" for c in prefix):
            raise ValueError(f"run id must start with 12 hex digits, was {run_id!r}")
        self.prefix = prefix
        self.sequence = start

    def next(self) -> str:
        """A new id."""
        self.sequence += 1
        # format() rather than an f-string's format spec: half the cost, on every order.
        return self.prefix + format(self.sequence, "020x")

    def owns(self, client_order_id: str) -> bool:
        """Whether ``client_order_id`` was made for this run."""
        return client_order_id.startswith(self.prefix) and bool(_HEX.match(client_order_id))
