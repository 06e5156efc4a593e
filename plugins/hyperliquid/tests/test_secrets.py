"""The private key signs; it is never sent, logged, or put in an error message."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from tradekit_hyperliquid import HyperliquidExchange
from tradekit_hyperliquid.fake_server import FakeHyperliquid

from tradekit.domain.orders import Order, OrderType
from tradekit.errors import ExchangeError
from tradekit.secrets import RedactingFilter

SYMBOL = "BTC/USDC:USDC"
KEY_DIGITS = "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG (ccxt's request dumps included), through tradekit's redacting filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    root, ccxt_log = logging.getLogger(), logging.getLogger("ccxt")
    levels = (root.level, ccxt_log.level)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    ccxt_log.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(levels[0])
    ccxt_log.setLevel(levels[1])


def test_the_key_never_reaches_the_wire_the_logs_or_the_errors(
    connect: Callable[..., HyperliquidExchange],
    venue: FakeHyperliquid,
    make_order: Callable[..., Order],
    log_text: io.StringIO,
) -> None:
    exchange = connect()
    exchange.balances()
    order = make_order(
        type=OrderType.LIMIT,
        price=exchange.instruments([SYMBOL])[SYMBOL].round_price(exchange.latest_price(SYMBOL) * Decimal("0.9")),
    )
    exchange.submit_order(order)
    exchange.cancel_order(order)
    venue.market.reject_next = ("", "funds")
    with pytest.raises(ExchangeError) as refused:
        exchange.submit_order(make_order(type=OrderType.MARKET))
    wire = "".join(r.body + str(r.headers) for r in venue.requests)
    assert "signature" in wire  # orders are signed...
    assert KEY_DIGITS not in wire.lower()  # ...with a key that never leaves the machine
    assert "POST" in log_text.getvalue()  # ccxt's request dumps were logged
    assert KEY_DIGITS not in log_text.getvalue().lower()
    assert KEY_DIGITS not in str(refused.value).lower()
    assert KEY_DIGITS not in repr(exchange.settings)
