"""ccxt's Hyperliquid client approves a builder fee and sets a referrer unless told not to: tradekit never lets it.

ccxt (``hyperliquid.initialize_client``, run before its first private call)
signs ``approveBuilderFee`` for ccxt's builder and ``setReferrer`` with ccxt's
code. These tests run every private call tradekit makes against the fake
venue and read what reached the wire.
"""

from __future__ import annotations

from collections.abc import Callable

from tradekit_ccxt.testing.exchanges import resting_price
from tradekit_hyperliquid import HyperliquidExchange
from tradekit_hyperliquid.fake_server import FakeHyperliquid

from tradekit.domain.orders import Order, OrderType

SYMBOL = "BTC/USDC:USDC"


def every_private_call(exchange: HyperliquidExchange, make_order: Callable[..., Order]) -> None:
    exchange.balances()
    exchange.positions()
    exchange.open_orders(SYMBOL)
    price = resting_price(exchange, SYMBOL)
    resting = make_order(type=OrderType.LIMIT, price=price)
    exchange.submit_order(resting)
    exchange.fetch_order(resting.client_order_id, SYMBOL)
    exchange.cancel_order(resting)
    exchange.submit_order(make_order(type=OrderType.MARKET))
    exchange.poll_events()


def test_no_builder_fee_approval_and_no_referrer_ever_reach_the_venue(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    every_private_call(connect(), make_order)
    assert venue.action_types() == ["order", "cancelByCloid", "order"]
    assert all("builder" not in action for action in venue.actions)


def test_ccxts_own_behaviour_when_the_user_allows_it_shows_what_is_being_prevented(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    every_private_call(connect(allow_ccxt_builder_fee=True), make_order)
    kinds = venue.action_types()
    assert kinds[:2] == ["approveBuilderFee", "setReferrer"]
    approval = venue.actions[0]
    assert approval["builder"].lower() == "0x6530512a6c89c7cfcebc3ba7fcd9ada5f30827a6"  # ccxt's builder address
    assert approval["maxFeeRate"] == "0.01%"
    assert venue.actions[1]["code"] == "CCXT1"
    orders = [a for a in venue.actions if a["type"] == "order"]
    assert all(a["builder"]["b"] == approval["builder"].lower() for a in orders)
