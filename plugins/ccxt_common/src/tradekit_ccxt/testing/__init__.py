"""Test support shared by the ccxt connectors' fake venue servers: HTTP with faults, and a small market."""

from tradekit_ccxt.testing.market import FakeMarket, FakeOrder, FakeTrade, Refused
from tradekit_ccxt.testing.server import FakeVenueServer, Reply, Request

__all__ = ["FakeMarket", "FakeOrder", "FakeTrade", "FakeVenueServer", "Refused", "Reply", "Request"]
