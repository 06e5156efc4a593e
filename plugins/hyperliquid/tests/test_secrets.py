"""The private key signs; it is never sent, logged, or put in an error message."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tradekit_ccxt.testing.exchanges import resting_price
from tradekit_ccxt.testing.leaks import captured_logs, wire_text
from tradekit_hyperliquid import HyperliquidExchange
from tradekit_hyperliquid.fake_server import FakeHyperliquid

from tradekit.domain.orders import Order, OrderType
from tradekit.errors import ExchangeError

SYMBOL = "BTC/USDC:USDC"
KEY_DIGITS = "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"


def test_the_key_never_reaches_the_wire_the_logs_or_the_errors(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    with captured_logs() as log_text:
        exchange = connect()
        exchange.balances()
        order = make_order(type=OrderType.LIMIT, price=resting_price(exchange, SYMBOL))
        exchange.submit_order(order)
        exchange.cancel_order(order)
        venue.market.reject_next = ("", "funds")
        with pytest.raises(ExchangeError) as refused:
            exchange.submit_order(make_order(type=OrderType.MARKET))
    wire = wire_text(venue)
    assert "signature" in wire  # orders are signed...
    assert KEY_DIGITS not in wire.lower()  # ...with a key that never leaves the machine
    assert "POST" in log_text.getvalue()  # ccxt's request dumps were logged
    assert KEY_DIGITS not in log_text.getvalue().lower()
    assert KEY_DIGITS not in str(refused.value).lower()
    assert KEY_DIGITS not in repr(exchange.settings)
