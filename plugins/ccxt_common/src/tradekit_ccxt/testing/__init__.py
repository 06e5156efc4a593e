"""Test support shared by the ccxt connectors' fake venue servers: HTTP with faults, and a small market.

The connectors' tests also share helpers that need pytest or the CLI, imported by
their module so that a fake server runs (``python -m``) without them:
:mod:`~tradekit_ccxt.testing.exchanges`, :mod:`~tradekit_ccxt.testing.cli`,
:mod:`~tradekit_ccxt.testing.conformance`, :mod:`~tradekit_ccxt.testing.faults`,
:mod:`~tradekit_ccxt.testing.leaks`.
"""

from tradekit_ccxt.testing.market import FakeMarket, FakeOrder, FakeTrade, Refused
from tradekit_ccxt.testing.server import FakeVenueServer, Reply, Request

__all__ = ["FakeMarket", "FakeOrder", "FakeTrade", "FakeVenueServer", "Refused", "Reply", "Request"]
