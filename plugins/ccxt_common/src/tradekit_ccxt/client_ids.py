"""Client order ids in each venue's format, and back.

The engine's ids are 32 lowercase hex digits (:mod:`tradekit.engine.ids`);
a strategy may also name its own orders. Venues are stricter: Hyperliquid
takes ``0x`` and exactly 32 hex digits, Binance up to 36 characters of
``[.A-Z:/a-z0-9_-]``. An id that fits is sent as it is (or with ``0x``); one
that does not becomes a fixed hash of itself, so the same tradekit id always
gives the same venue id, and a restarted run finds its orders again without
any memory of what it sent.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def _digest(client_order_id: str) -> str:
    return hashlib.blake2b(client_order_id.encode(), digest_size=16).hexdigest()


@dataclass
class ClientIdFormat:
    """Turns tradekit client order ids into a venue's and back; remembers the hashed ones it made."""

    _known: dict[str, str] = field(default_factory=dict, repr=False)

    def to_venue(self, client_order_id: str) -> str:
        """The id the venue is sent for ``client_order_id``."""
        venue_id = self._encode(client_order_id)
        self._known[venue_id] = client_order_id
        return venue_id

    def from_venue(self, venue_id: str | None) -> str | None:
        """The tradekit id behind a venue's id: one this process sent, else its plain reading."""
        if not venue_id:
            return None
        known = self._known.get(venue_id)
        return known if known is not None else self._decode(venue_id)

    def _encode(self, client_order_id: str) -> str:
        raise NotImplementedError

    def _decode(self, venue_id: str) -> str:
        raise NotImplementedError


@dataclass
class HexClientIds(ClientIdFormat):
    """Hyperliquid's ``cloid``: ``0x`` followed by 32 hex digits (a 128-bit number)."""

    def _encode(self, client_order_id: str) -> str:
        lowered = client_order_id.lower()
        if _HEX32.match(lowered):
            return f"0x{lowered}"
        return f"0x{_digest(client_order_id)}"

    def _decode(self, venue_id: str) -> str:
        lowered = venue_id.lower()
        return lowered[2:] if lowered.startswith("0x") else lowered


@dataclass
class TextClientIds(ClientIdFormat):
    """Binance's ``newClientOrderId``: up to ``max_length`` characters of ``[.A-Z:/a-z0-9_-]``."""

    max_length: int = 36
    prefix: str = "tk"
    _allowed: re.Pattern[str] = field(default=re.compile(r"^[.A-Z:/a-z0-9_-]+$"), repr=False)

    def _encode(self, client_order_id: str) -> str:
        if len(client_order_id) <= self.max_length and self._allowed.match(client_order_id):
            return client_order_id
        return f"{self.prefix}{_digest(client_order_id)}"

    def _decode(self, venue_id: str) -> str:
        return venue_id
