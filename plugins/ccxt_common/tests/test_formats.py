"""Client order ids in each venue's format, instruments from ccxt markets, and orders checked against them."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tradekit_ccxt.client_ids import HexClientIds, TextClientIds
from tradekit_ccxt.markets import DECIMAL_PLACES, TICK_SIZE, check_order, instrument_from_market

from tradekit.domain.instruments import InstrumentKind
from tradekit.domain.orders import Order, OrderIntent, OrderType, Side, TriggerDirection
from tradekit.errors import InvalidOrder

HEX_CLOID = re.compile(r"^0x[0-9a-f]{32}$")
BINANCE_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
ENGINE_ID = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)


@given(ENGINE_ID)
def test_engine_ids_go_to_hyperliquid_as_0x_plus_the_same_digits_and_come_back(client_order_id: str) -> None:
    ids = HexClientIds()
    venue_id = ids.to_venue(client_order_id)
    assert venue_id == f"0x{client_order_id}"
    assert HexClientIds().from_venue(venue_id) == client_order_id  # no memory needed (a restarted run)


@given(st.text(min_size=1, max_size=80))
def test_any_strategy_id_becomes_a_valid_cloid_the_same_every_time(client_order_id: str) -> None:
    first, second = HexClientIds(), HexClientIds()
    venue_id = first.to_venue(client_order_id)
    assert HEX_CLOID.match(venue_id)
    assert second.to_venue(client_order_id) == venue_id
    assert first.from_venue(venue_id) == client_order_id


@given(st.text(min_size=1, max_size=80))
def test_any_strategy_id_becomes_a_valid_binance_id_kept_as_is_when_it_fits(client_order_id: str) -> None:
    ids = TextClientIds()
    venue_id = ids.to_venue(client_order_id)
    assert BINANCE_ID.match(venue_id)
    if BINANCE_ID.match(client_order_id):
        assert venue_id == client_order_id
    assert ids.from_venue(venue_id) == client_order_id


MARKET = {
    "symbol": "BTC/USDT",
    "base": "BTC",
    "quote": "USDT",
    "type": "spot",
    "precision": {"price": 0.01, "amount": 1e-05},
    "limits": {"amount": {"min": 1e-05}, "cost": {"min": 5.0}, "leverage": {"max": None}},
}


def test_an_instrument_takes_its_steps_and_minimums_from_the_market_exactly() -> None:
    instrument = instrument_from_market(MARKET, TICK_SIZE)
    assert instrument.tick_size == Decimal("0.01")
    assert instrument.lot_size == Decimal("0.00001")
    assert instrument.min_notional == Decimal(5)
    assert instrument.kind is InstrumentKind.SPOT


def test_decimal_places_precision_becomes_a_step() -> None:
    market = {**MARKET, "type": "swap", "precision": {"price": 1, "amount": 3}}
    instrument = instrument_from_market(market, DECIMAL_PLACES)
    assert (instrument.tick_size, instrument.lot_size) == (Decimal("0.1"), Decimal("0.001"))
    assert instrument.kind is InstrumentKind.PERPETUAL


def order(**fields: object) -> Order:
    defaults: dict[str, object] = {"symbol": "BTC/USDT", "side": Side.BUY, "quantity": Decimal("0.001")}
    return Order.from_intent(OrderIntent(**{**defaults, **fields}), "0" * 31 + "1")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": OrderType.LIMIT, "price": Decimal("100.005")}, "not a multiple of the tick size 0.01"),
        (
            {"type": OrderType.LIMIT, "price": Decimal("30000"), "quantity": Decimal("0.000015")},
            "not a multiple of the lot size",
        ),
        ({"type": OrderType.LIMIT, "price": Decimal("100"), "quantity": Decimal("0.01")}, "below the minimum 5"),
        (
            {"type": OrderType.STOP, "trigger_price": Decimal("1.001"), "trigger_direction": TriggerDirection.RISING},
            "trigger price",
        ),
    ],
)
def test_an_order_off_the_venues_steps_is_refused_before_it_is_sent(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidOrder, match=message):
        check_order(order(**fields), instrument_from_market(MARKET), Decimal(30000))


def test_a_market_order_is_held_to_the_minimum_notional_at_the_market_price() -> None:
    instrument = instrument_from_market(MARKET)
    check_order(order(quantity=Decimal("0.001")), instrument, Decimal(30000))
    with pytest.raises(InvalidOrder, match="notional"):
        check_order(order(quantity=Decimal("0.0001")), instrument, Decimal(30000))
