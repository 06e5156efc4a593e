"""Client order ids in the order comment: they fit, read back, and find an order again after a restart."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from tradekit_mt5 import MT5Exchange
from tradekit_mt5.tags import MAX_COMMENT, OrderTags
from tradekit_mt5.testing import FakeTerminal
from tradekit_mt5.testing import constants as mt5

from tradekit.domain.orders import Fill, Order, OrderStatus, OrderType

SYMBOL = "EURUSD"


@given(st.uuids())
def test_an_engine_id_becomes_a_24_character_tag_and_reads_back_exactly(value: object) -> None:
    client_order_id = value.hex  # type: ignore[attr-defined]
    tag = OrderTags().tag(client_order_id)
    assert tag.startswith("tk") and len(tag) == 24
    assert OrderTags().client_order_id(tag) == client_order_id  # a fresh process reads it too


@given(st.text(min_size=1, max_size=80))
def test_any_id_fits_the_comment_and_always_gives_the_same_tag(client_order_id: str) -> None:
    tag = OrderTags().tag(client_order_id)
    assert len(tag) <= MAX_COMMENT and tag == OrderTags().tag(client_order_id)
    tags = OrderTags()
    assert tags.client_order_id(tags.tag(client_order_id)) == client_order_id  # the process that made it knows it


def test_short_plain_ids_read_back_in_a_new_process_and_hashed_ones_do_not() -> None:
    assert OrderTags().client_order_id(OrderTags().tag("grid-7:buy")) == "grid-7:buy"
    assert OrderTags().client_order_id(OrderTags().tag("a name with spaces")) is None
    assert OrderTags().client_order_id("python script") is None
    assert OrderTags().client_order_id("[sl 1.10000]") is None


def test_a_new_process_finds_a_resting_order_by_its_tag_and_reports_its_fill_once(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    before = connect()
    price = Decimal(repr(terminal.markets[SYMBOL].bid)) - Decimal("0.0030")
    order = make_order(type=OrderType.LIMIT, price=price)
    before.submit_order(order)
    after = connect()  # a restarted process: nothing of the first one's memory
    (listed,) = after.open_orders(SYMBOL)
    assert (listed.client_order_id, listed.price, listed.quantity) == (order.client_order_id, price, order.quantity)
    view = after.fetch_order(order.client_order_id, SYMBOL)
    assert view is not None and view.status is OrderStatus.ACCEPTED
    terminal.set_price(SYMBOL, float(price - Decimal("0.0005")))
    fills = [e for e in after.poll_events() if isinstance(e, Fill)]
    assert [(f.client_order_id, f.quantity) for f in fills] == [(order.client_order_id, order.quantity)]
    assert after.poll_events() == []
    assert sum(1 for r in terminal.server.sent if r.get("action") == mt5.TRADE_ACTION_PENDING) == 1


def test_orders_of_another_magic_number_are_not_taken_for_tradekits(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    order = make_order(type=OrderType.LIMIT, price=Decimal(repr(terminal.markets[SYMBOL].bid)) - Decimal("0.0030"))
    exchange.submit_order(order)
    other = connect(magic=12345)  # another tradekit process on the same account, with its own magic number
    (listed,) = other.open_orders(SYMBOL)
    assert listed.client_order_id == f"venue:{listed.exchange_order_id}"
    assert other.fetch_order(order.client_order_id, SYMBOL) is None
