"""Orders, copies and fills the engine and the simulated venue assemble without validating again.

``Order.from_intent``, ``Order.copy_for_venue`` and ``checked_fill`` skip
pydantic's validation for values already checked; what they build must be
indistinguishable from what validation builds: equal, the same fields in the
same order, the same fields-set, the same JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


def same_model(built: Order | Fill, validated: Order | Fill) -> None:
    assert built == validated
    assert list(built.__dict__) == list(validated.__dict__)
    assert built.__pydantic_fields_set__ == validated.__pydantic_fields_set__
    assert built.model_dump_json() == validated.model_dump_json()


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
