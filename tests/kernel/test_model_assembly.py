"""Orders, copies and fills the engine and the simulated venue assemble without validating again.

``OrderIntent.market``, ``Order.from_intent``, ``Order.copy_for_venue`` and ``checked_fill`` skip
pydantic's validation for values already checked; what they build must be
indistinguishable from what validation builds: equal, the same fields in the
same order, the same fields-set, the same JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tradekit.domain.orders import (
    Fill,
    Liquidity,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TriggerDirection,
    checked_fill,
)

positive = st.decimals(min_value=Decimal("1e-8"), max_value=Decimal("1e9"), places=8, allow_nan=False)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
texts = st.text(max_size=12)


@st.composite
def intents(draw: st.DrawFn) -> OrderIntent:
    """Consistent intents of every type, with or without the optional fields."""
    kind = draw(st.sampled_from(list(OrderType)))
    priced = kind in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    triggered = kind in (OrderType.STOP, OrderType.STOP_LIMIT)
    return OrderIntent(
        symbol=draw(st.sampled_from(["BTC/USDT", "ETH/USDC:USDC"])),
        side=draw(st.sampled_from(list(Side))),
        quantity=draw(positive),
        type=kind,
        price=draw(positive) if priced else None,
        trigger_price=draw(positive) if triggered else None,
        trigger_direction=draw(st.sampled_from(list(TriggerDirection))) if triggered else None,
        time_in_force=draw(st.sampled_from(list(TimeInForce))),
        post_only=draw(st.booleans()) if priced else False,
        reduce_only=draw(st.booleans()),
        client_order_id=draw(st.none() | st.text(min_size=1, max_size=8)),
        tag=draw(texts),
    )


def same_model(built: OrderIntent | Order | Fill, validated: OrderIntent | Order | Fill) -> None:
    assert built == validated
    assert list(built.__dict__) == list(validated.__dict__)
    assert built.__pydantic_fields_set__ == validated.__pydantic_fields_set__
    assert built.model_dump_json() == validated.model_dump_json()


@given(
    st.fixed_dictionaries(
        {"symbol": st.text(max_size=12), "side": st.sampled_from(list(Side)), "quantity": positive},
        optional={
            "reduce_only": st.booleans(),
            "tag": texts,
            "client_order_id": st.none() | st.text(min_size=1, max_size=8),
        },
    )
)
def test_a_market_intent_is_the_intent_validation_builds_from_the_same_arguments(fields: dict[str, Any]) -> None:
    """Fields-set included: an optional argument counts as set only when given, as with the constructor."""
    built = OrderIntent.market(**fields)
    assert type(built) is OrderIntent and built.type is OrderType.MARKET
    same_model(built, OrderIntent(**fields))
    assert built.model_fields_set == set(fields)


@pytest.mark.parametrize(
    "odd",
    [
        {"side": "buy"},
        {"quantity": "1.5"},
        {"quantity": 2},
        {"quantity": 0.25},
        {"reduce_only": 1},
        {"quantity": Decimal(0)},
        {"quantity": Decimal("-1")},
        {"quantity": Decimal("NaN")},
        {"quantity": Decimal("Infinity")},
        {"side": "sideways"},
        {"symbol": 5},
        {"tag": None},
    ],
)
def test_a_market_intent_of_other_values_is_validated_as_the_constructor_would(odd: dict[str, object]) -> None:
    """Values of other types are converted, or refused with the constructor's own error."""
    fields: dict[str, object] = {
        "symbol": "BTC/USDT",
        "side": Side.SELL,
        "quantity": Decimal("0.5"),
        "reduce_only": False,
        "tag": "",
        "client_order_id": None,
        **odd,
    }
    try:
        expected = OrderIntent(**fields)
    except ValidationError as error:
        with pytest.raises(ValidationError) as raised:
            OrderIntent.market(**fields)  # type: ignore[arg-type]
        assert raised.value.errors() == error.errors()
    else:
        same_model(OrderIntent.market(**fields), expected)  # type: ignore[arg-type]


def test_a_market_intent_of_a_subclass_is_an_instance_of_it() -> None:
    class Tagged(OrderIntent):
        note: str = "kept"

    intent = Tagged.market("BTC/USDT", Side.BUY, Decimal(1))
    assert type(intent) is Tagged and intent.note == "kept" and intent.quantity == 1


@given(intents(), st.text(min_size=1, max_size=32), st.none() | moments)
def test_an_order_from_an_intent_is_the_order_validation_builds(
    intent: OrderIntent, client_order_id: str, created_at: datetime | None
) -> None:
    fields = dict(intent.__dict__, client_order_id=client_order_id, created_at=created_at)
    same_model(Order.from_intent(intent, client_order_id, created_at=created_at), Order.model_validate(fields))


def test_an_order_from_an_intent_still_refuses_an_empty_client_order_id() -> None:
    intent = OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity=Decimal(1))
    with pytest.raises(ValueError, match="client_order_id"):
        Order.from_intent(intent, "")


@given(intents(), moments)
def test_a_copy_for_the_venue_equals_model_copy_and_then_changes_on_its_own(intent: OrderIntent, now: datetime) -> None:
    order = Order.from_intent(intent, "abc", created_at=now)
    order.transition(OrderStatus.ACCEPTED, at=now)
    copy = order.copy_for_venue()
    same_model(copy, order.model_copy())
    copy.record_fill(order.quantity, Decimal(1), Decimal(0), at=now + timedelta(seconds=1))
    assert (copy.status, order.status) == (OrderStatus.FILLED, OrderStatus.ACCEPTED)
    assert (copy.filled_quantity, order.filled_quantity) == (order.quantity, Decimal(0))


@given(
    texts,
    st.sampled_from(list(Side)),
    positive,
    positive,
    st.decimals(min_value=-1, max_value=1000, places=12, allow_nan=False),
    st.sampled_from(list(Liquidity)),
    moments,
)
def test_a_checked_fill_is_the_fill_validation_builds(
    symbol: str, side: Side, quantity: Decimal, price: Decimal, fee: Decimal, liquidity: Liquidity, at: datetime
) -> None:
    fields = {
        "fill_id": "abc-1",
        "client_order_id": "abc",
        "symbol": symbol,
        "side": side,
        "quantity": quantity,
        "price": price,
        "fee": fee,
        "fee_currency": "USDT",
        "liquidity": liquidity,
        "timestamp": at,
    }
    same_model(checked_fill(**fields), Fill.model_validate(fields))  # type: ignore[arg-type]
