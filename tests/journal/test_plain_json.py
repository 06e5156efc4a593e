"""The journal's fast JSON (msgspec, :func:`~tradekit.journal.codec.plain_json`) writes what pydantic writes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pydantic_core
from hypothesis import given
from hypothesis import strategies as st

from tradekit.domain.orders import Liquidity, OrderStatus, OrderType, Side, TimeInForce, TriggerDirection
from tradekit.journal.codec import plain_json

# Every kind of value the journal's batches hold: no floats (msgspec and pydantic may write those differently).
texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]))
decimals = st.decimals(allow_nan=True, allow_infinity=True, places=None) | st.sampled_from(
    [Decimal("-0"), Decimal("0E-12"), Decimal("1E+2"), Decimal("sNaN"), Decimal("-Infinity"), Decimal("1.50000")]
)
utc_moments = st.datetimes(timezones=st.just(UTC))
members = st.sampled_from([*Side, *OrderStatus, *OrderType, *Liquidity, *TimeInForce, *TriggerDirection])
scalars = texts | decimals | utc_moments | members | st.booleans() | st.none() | st.integers(-(2**63), 2**63 - 1)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner), max_leaves=12)


@given(value=values)
def test_plain_json_writes_every_journal_value_as_pydantic_does(value: Any) -> None:
    assert plain_json(value) == pydantic_core.to_json(value)


def test_whole_seconds_have_no_fraction_and_others_six_digits() -> None:
    # The batch trigger turns exactly these two forms into iso()'s text (tradekit.journal.bulk._iso).
    assert plain_json(datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)) == b'"2024-05-06T07:08:09Z"'
    assert plain_json(datetime(2024, 5, 6, 7, 8, 9, 120000, tzinfo=UTC)) == b'"2024-05-06T07:08:09.120000Z"'
