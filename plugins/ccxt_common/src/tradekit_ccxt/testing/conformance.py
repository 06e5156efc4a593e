"""The kernel's exchange conformance suite on a connector's fake venue: a fresh server per rule, prices moved on it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pytest

from tradekit.plugin import Exchange
from tradekit.testing.conformance import ExchangeConformance
from tradekit_ccxt.testing.server import FakeVenueServer


class FakeVenueConformance(ExchangeConformance):
    """:class:`~tradekit.testing.conformance.ExchangeConformance` against a fake venue server.

    A subclass sets ``plugin``, ``plugin_name``, ``settings`` and ``symbol`` as for the
    kernel's suite, and implements :meth:`make_venue`. Each rule gets a fresh venue and
    its own rate-limit folder; the exchange is pointed at the venue's ``url``.
    """

    #: The fake venues answer from other threads: give their events a moment.
    event_timeout: ClassVar[float] = 2.0
    venue: FakeVenueServer

    def make_venue(self) -> FakeVenueServer:
        """A fake venue, not yet started (it is used as a context manager)."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_venue() to return its fake server")

    @pytest.fixture(autouse=True)
    def _venue(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.setenv("TRADEKIT_CACHE_DIR", str(tmp_path / "cache"))
        with self.make_venue() as server:
            self.venue = server
            yield

    def make_exchange(self) -> Exchange:
        """The exchange under test, pointed at the fake venue."""
        return self.plugin(self.plugin_settings({"api_url": self.venue.url}), name=self.plugin_name)

    def move_price(self, exchange: Exchange, symbol: str, price: Decimal) -> bool:
        """Move the fake venue's market: resting orders then fill or trigger as on the real one."""
        self.venue.set_price(symbol, price)
        return True
