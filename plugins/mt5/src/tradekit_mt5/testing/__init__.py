"""A fake MetaTrader 5 terminal for tests: the ``MetaTrader5`` package's API without a terminal.

``FakeTerminal({"EURUSD": (FakeSymbol(), bars)}).install(monkeypatch)`` makes
``import MetaTrader5`` find it; ``install(monkeypatch, bridge=True)`` stands
it behind a fake ``mt5linux`` instead. See :mod:`tradekit_mt5.testing.terminal`.
"""

from tradekit_mt5.testing import constants
from tradekit_mt5.testing.market import FakeSymbol, bars_near
from tradekit_mt5.testing.server import FakeAccount, Fault
from tradekit_mt5.testing.terminal import FUNCTIONS, FakeTerminal

__all__ = ["FUNCTIONS", "FakeAccount", "FakeSymbol", "FakeTerminal", "Fault", "bars_near", "constants"]
