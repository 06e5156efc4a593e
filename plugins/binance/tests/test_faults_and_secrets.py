"""Faults on Binance's wire (a lost reply, 418 with Retry-After) and the API key and secret kept out of sight."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from tradekit_binance import BinanceExchange
from tradekit_binance.fake_server import FakeBinance
from tradekit_ccxt.testing import Request
from tradekit_ccxt.testing.exchanges import resting_price
from tradekit_ccxt.testing.faults import fault_campaign
from tradekit_ccxt.testing.leaks import captured_logs, wire_text

from tradekit.domain.orders import Order, OrderStatus, OrderType, OrderUpdate
from tradekit.engine.brokers import ExchangeBroker
from tradekit.errors import AuthenticationFailed, InsufficientFunds

SPOT = "BTC/USDT"
NOW = datetime(2024, 1, 1, tzinfo=UTC)
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def placing(request: Request) -> bool:
    return request.method == "POST" and request.path == "/api/v3/order"


def resting(exchange: BinanceExchange) -> Decimal:
    return resting_price(exchange, SPOT)


@pytest.mark.parametrize("fault", ["lost", "malformed", "timeout", "error"])
def test_an_order_meets_each_fault_once_and_reaches_binance_exactly_once(
    connect: Callable[..., BinanceExchange], venue: FakeBinance, make_order: Callable[..., Order], fault: str
) -> None:
    exchange = connect(timeout=0.5)
    order = make_order(type=OrderType.LIMIT, price=resting(exchange))
    venue.inject(fault, placing, delay=1.0)
    ExchangeBroker(exchange).submit(order, NOW, None)
    assert venue.client_ids_placed() == [order.client_order_id]
    assert venue.spot is not None and venue.spot.duplicates_refused == 0
    assert [e.status for e in exchange.poll_events() if isinstance(e, OrderUpdate)] == [OrderStatus.ACCEPTED]


def test_a_418_ban_is_waited_out_as_retry_after_says(
    connect: Callable[..., BinanceExchange], venue: FakeBinance
) -> None:
    exchange = connect()
    exchange.sleep = time.sleep
    venue.inject("rate", lambda r: r.path == "/api/v3/ticker/price", status=418, retry_after=0.5)
    started = time.monotonic()
    assert exchange.latest_price(SPOT) is not None
    assert time.monotonic() - started >= 0.5


def test_binances_refusal_reaches_the_caller_with_its_code_and_words(
    connect: Callable[..., BinanceExchange], venue: FakeBinance, make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    with pytest.raises(InsufficientFunds, match=r"insufficient funds: Account has insufficient balance for requested"):
        exchange.submit_order(make_order(type=OrderType.LIMIT, price=resting(exchange), quantity=Decimal(100)))


def test_a_wrong_secret_is_an_authentication_error_that_names_no_secret(
    connect: Callable[..., BinanceExchange], venue: FakeBinance
) -> None:
    exchange = connect(api_secret="x" * 64)
    with pytest.raises(AuthenticationFailed) as refused:
        exchange.balances()
    assert "Signature for this request is not valid" in str(refused.value)
    assert "x" * 64 not in str(refused.value) and API_KEY not in str(refused.value)


def test_under_random_faults_no_order_is_placed_twice(
    connect: Callable[..., BinanceExchange],
    venue: FakeBinance,
    make_order: Callable[..., Order],
    capsys: pytest.CaptureFixture[str],
) -> None:
    exchange = connect(timeout=0.4, retries=3)
    campaign = fault_campaign(
        ExchangeBroker(exchange),
        venue,
        make_order,
        orders=20,
        seed=11,
        placing=placing,
        price=resting(exchange),
        now=NOW,
        options={"timeout": {"delay": 0.8}, "rate": {"retry_after": 0.1}},
    )
    sent = [order.client_order_id for order in campaign.sent]
    placed = venue.client_ids_placed()
    duplicates = len(placed) - len(set(placed))
    with capsys.disabled():
        print(
            f"\nbinance fault campaign: {len(sent)} orders sent, {sum(venue.faults_injected.values())} faults "
            f"injected, {len(placed)} placed, duplicates: {duplicates}, unsure: {campaign.unsure}"
        )
    assert duplicates == 0
    assert sorted(placed) == sorted(sent)


def test_the_key_and_secret_never_reach_the_logs_even_when_ccxt_dumps_headers(
    connect: Callable[..., BinanceExchange], venue: FakeBinance, make_order: Callable[..., Order]
) -> None:
    with captured_logs() as log_text:
        exchange = connect()
        exchange.balances()
        order = make_order(type=OrderType.LIMIT, price=resting(exchange))
        exchange.submit_order(order)
        exchange.cancel_order(order)
    logged = log_text.getvalue()
    assert "X-MBX-APIKEY" in logged  # ccxt did dump the request headers...
    assert API_KEY not in logged  # ...and the key was masked
    assert API_SECRET not in logged
    assert API_SECRET not in wire_text(venue)  # only signatures leave the machine
    assert API_SECRET not in repr(exchange.settings) and API_KEY not in repr(exchange.settings)
