"""Faults on the wire: retries never duplicate an order, reads ride out failures, rejections reach everyone."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from tradekit_ccxt.testing import Request
from tradekit_ccxt.testing.exchanges import resting_price
from tradekit_ccxt.testing.faults import fault_campaign
from tradekit_hyperliquid import HyperliquidExchange
from tradekit_hyperliquid.fake_server import FakeHyperliquid

from tradekit.domain.events import EventKind, NotifierEvent
from tradekit.domain.orders import Fill, Order, OrderIntent, OrderStatus, OrderType, OrderUpdate, Side
from tradekit.domain.run import RunInfo, RunMode
from tradekit.engine.brokers import ExchangeBroker
from tradekit.engine.core import Engine
from tradekit.errors import ExchangeUnavailable, OrderStateUnknown
from tradekit.hooks import HookFacade, new_plugin_manager
from tradekit.hookspecs import hookimpl
from tradekit.plugin import Strategy

SYMBOL = "BTC/USDC:USDC"
NOW = datetime(2024, 1, 1, tzinfo=UTC)


def placing(request: Request) -> bool:
    """The request places an order (an ``order`` action)."""
    return request.path == "/exchange" and (request.params.get("action") or {}).get("type") == "order"


def info(kind: str) -> Callable[[Request], bool]:
    return lambda request: request.path == "/info" and request.params.get("type") == kind


@pytest.mark.parametrize("fault", ["lost", "malformed"])
def test_an_order_whose_reply_is_lost_is_looked_up_and_never_sent_again(
    connect: Callable[..., HyperliquidExchange],
    venue: FakeHyperliquid,
    make_order: Callable[..., Order],
    fault: str,
) -> None:
    exchange = connect()
    order = make_order(type=OrderType.LIMIT, price=resting_price(exchange, SYMBOL))
    venue.inject(fault, placing)
    ExchangeBroker(exchange).submit(order, NOW, None)
    assert venue.faults_injected[fault] == 1
    assert len(venue.order_actions()) == 1
    assert venue.market.find(client_id=f"0x{order.client_order_id}") is not None
    assert [e.status for e in exchange.poll_events() if isinstance(e, OrderUpdate)] == [OrderStatus.ACCEPTED]


@pytest.mark.parametrize(
    ("fault", "options"), [("timeout", {"delay": 1.5}), ("error", {"status": 503}), ("rate", {"retry_after": 0.3})]
)
def test_an_order_that_never_arrived_is_sent_again_once_after_the_lookup_finds_nothing(
    connect: Callable[..., HyperliquidExchange],
    venue: FakeHyperliquid,
    make_order: Callable[..., Order],
    fault: str,
    options: dict[str, Any],
) -> None:
    exchange = connect(timeout=0.5)
    order = make_order(type=OrderType.LIMIT, price=resting_price(exchange, SYMBOL))
    venue.inject(fault, placing, **options)
    started = time.monotonic()
    ExchangeBroker(exchange).submit(order, NOW, None)
    assert len(venue.order_actions()) == 1  # the faulted attempt never reached the market
    assert venue.market.orders_received == 1
    attempts = venue.matching(placing)
    assert [r.fault for r in attempts] == [fault, None]
    if fault == "rate":
        assert time.monotonic() - started >= 0.3  # the pause the venue asked for, shared by every request
    assert exchange.fetch_order(order.client_order_id, SYMBOL) is not None


def test_when_the_lookup_fails_too_the_order_is_kept_as_sent_not_resent(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    exchange = connect(retries=2)
    order = make_order(type=OrderType.LIMIT, price=resting_price(exchange, SYMBOL))
    venue.inject("lost", placing)
    venue.inject("error", info("orderStatus"), times=2)
    with pytest.raises(OrderStateUnknown):
        ExchangeBroker(exchange).submit(order, NOW, None)
    assert len(venue.order_actions()) == 1
    # The next poll learns the order's fate from the venue: it rests.
    assert [e.status for e in exchange.poll_events() if isinstance(e, OrderUpdate)] == [OrderStatus.ACCEPTED]


def test_reads_retry_through_server_errors_and_give_up_with_a_retryable_error(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid
) -> None:
    exchange = connect(retries=3)
    venue.inject("error", info("allMids"), times=2)
    assert exchange.latest_price(SYMBOL) is not None
    venue.inject("error", info("allMids"), times=3)
    with pytest.raises(ExchangeUnavailable, match="did not answer usably"):
        exchange.latest_price(SYMBOL)


def test_a_429_retry_after_is_waited_before_the_read_is_tried_again(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid
) -> None:
    exchange = connect()
    exchange.sleep = time.sleep
    venue.inject("rate", info("allMids"), retry_after=0.6)
    started = time.monotonic()
    assert exchange.latest_price(SYMBOL) is not None
    assert time.monotonic() - started >= 0.6
    tries = venue.matching(info("allMids"))
    assert tries[-1].at - tries[-2].at >= 0.6


def test_a_partly_filled_market_order_reports_its_fill_then_the_cancel_of_the_rest(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    venue.market.partial_next = Decimal("0.4")
    order = make_order(type=OrderType.MARKET, quantity=Decimal("0.01"))
    exchange.submit_order(order)
    events = exchange.poll_events()
    fills = [e for e in events if isinstance(e, Fill)]
    assert [f.quantity for f in fills] == [Decimal("0.004")]
    assert [e.status for e in events if isinstance(e, OrderUpdate)] == [OrderStatus.ACCEPTED, OrderStatus.CANCELLED]
    assert events.index(fills[0]) < len(events) - 1  # the fill is told before the cancel


def test_a_resting_limit_filled_in_two_parts_reports_both_fills_once(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    price = resting_price(exchange, SYMBOL)
    order = make_order(type=OrderType.LIMIT, price=price, quantity=Decimal("0.02"))
    exchange.submit_order(order)
    resting = venue.market.find(client_id=f"0x{order.client_order_id}")
    assert resting is not None
    with venue.lock:
        venue.market._trade(resting, Decimal("0.005"), price, maker=True)
    first = exchange.poll_events()
    venue.set_price(SYMBOL, price - 10)
    second = exchange.poll_events()
    assert exchange.poll_events() == []
    quantities = [e.quantity for e in first + second if isinstance(e, Fill)]
    assert quantities == [Decimal("0.005"), Decimal("0.015")]


class Listener:
    """A notifier and order observer that records what it hears."""

    def __init__(self) -> None:
        self.events: list[NotifierEvent] = []

    @hookimpl
    def tradekit_notify(self, event: NotifierEvent) -> None:
        self.events.append(event)


class Recording(Strategy):
    """A strategy that records its orders' updates."""

    def __init__(self) -> None:
        super().__init__(name="recording")
        self.updates: list[Order] = []

    def on_bar(self, ctx: Any) -> None:
        """Unused: the test sends intents itself."""

    def on_order_update(self, ctx: Any, order: Order) -> None:
        self.updates.append(order.model_copy())


def test_a_rejection_reaches_the_strategy_and_the_notifiers_with_the_venues_reason(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid
) -> None:
    exchange = connect()
    listener, strategy = Listener(), Recording()
    manager = new_plugin_manager()
    manager.register(listener)
    run = RunInfo(
        run_id=uuid.uuid4().hex, mode=RunMode.LIVE, exchange="hyperliquid", strategies=("recording",), symbols=(SYMBOL,)
    )
    engine = Engine(
        run=run,
        broker=ExchangeBroker(exchange),
        hooks=HookFacade(manager),
        instruments=exchange.instruments([SYMBOL]),
        quote_currency="USDC",
        cash=Decimal(10_000),
    )
    engine.contexts[id(strategy)] = object()
    engine.now = NOW
    venue.market.reject_next = ("", "funds")
    intent = OrderIntent(
        symbol=SYMBOL,
        side=Side.BUY,
        quantity=Decimal("0.01"),
        type=OrderType.LIMIT,
        price=resting_price(exchange, SYMBOL),
    )
    engine.submit_intent(strategy, intent, None)
    reason = "Insufficient margin to place order. asset=0"
    assert strategy.updates[-1].status is OrderStatus.REJECTED
    assert reason in (strategy.updates[-1].reason or "")
    rejected = [e for e in listener.events if e.kind == EventKind.ORDER_REJECTED]
    assert len(rejected) == 1 and reason in rejected[0].message


def test_under_random_faults_every_order_reaches_the_venue_exactly_once(
    connect: Callable[..., HyperliquidExchange],
    venue: FakeHyperliquid,
    make_order: Callable[..., Order],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A campaign: 30 orders, each meeting a fault drawn at random (or none); no duplicate, none lost."""
    exchange = connect(timeout=0.4, retries=3)
    campaign = fault_campaign(
        ExchangeBroker(exchange),
        venue,
        make_order,
        orders=30,
        seed=7,
        placing=placing,
        price=resting_price(exchange, SYMBOL),
        now=NOW,
        options={"timeout": {"delay": 0.8}, "rate": {"retry_after": 0.1}, "error": {"status": 502}},
    )
    sent, unsure = campaign.sent, campaign.unsure
    placed = [raw["c"] for raw in venue.order_actions()]
    at_venue = [venue.market.find(client_id=f"0x{o.client_order_id}") for o in sent]
    duplicates = len(placed) - len(set(placed))
    faults = sum(venue.faults_injected.values())
    with capsys.disabled():
        print(
            f"\nfault campaign: {len(sent)} orders sent, {faults} faults injected "
            f"({', '.join(f'{k} {n}' for k, n in venue.faults_injected.items() if n)}), "
            f"{len(placed)} order actions processed, duplicates: {duplicates}, unsure: {unsure}"
        )
    assert duplicates == 0
    assert venue.market.duplicates_refused == 0
    assert all(found is not None for found in at_venue)
    assert faults >= 15
