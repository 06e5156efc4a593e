"""Money is exact: rounding to ticks and lots, order fills and their lifecycle, the ledger."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from pydantic import ValidationError

from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import (
    ALLOWED_TRANSITIONS,
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    TriggerDirection,
)
from tradekit.domain.portfolio import Ledger
from tradekit.errors import InvalidTransitionError
from tradekit.money import MONEY_CONTEXT, is_multiple_of, round_to_step, to_decimal

NOW = datetime(2024, 1, 1, tzinfo=UTC)

# Steps as venues publish them: 1, 5, 25 times a power of ten, from 1e-8 to 100.
steps = st.builds(
    lambda mantissa, exponent: Decimal(mantissa).scaleb(exponent),
    st.sampled_from([1, 5, 25]),
    st.integers(-8, 2),
)
values = st.decimals(min_value=-(10**9), max_value=10**9, places=10, allow_nan=False, allow_infinity=False)


# --- rounding ------------------------------------------------------------------------------------


@given(values, steps, st.sampled_from(["down", "up", "nearest"]))
def test_round_to_step_gives_a_multiple_of_the_step_within_one_step(value: Decimal, step: Decimal, mode: str) -> None:
    rounded = round_to_step(value, step, mode)  # type: ignore[arg-type]

    assert is_multiple_of(rounded, step)
    assert abs(rounded - value) < step
    if mode == "nearest":
        assert abs(rounded - value) <= step / 2


@given(values, steps)
def test_rounding_down_never_exceeds_the_value_and_up_never_falls_below(value: Decimal, step: Decimal) -> None:
    down = round_to_step(value, step, "down")
    up = round_to_step(value, step, "up")
    assert down <= value <= up
    assert up - down in (0, step)


@given(values, steps)
def test_a_value_already_on_the_step_is_unchanged_by_any_rounding(value: Decimal, step: Decimal) -> None:
    on_step = round_to_step(value, step, "down")
    for mode in ("down", "up", "nearest"):
        assert round_to_step(on_step, step, mode) == on_step  # type: ignore[arg-type]


@given(values, st.integers(-8, 2), st.sampled_from(["down", "up", "nearest"]))
def test_rounding_to_a_power_of_ten_matches_dividing_and_multiplying_back(
    value: Decimal, exponent: int, mode: str
) -> None:
    # Steps that are a power of ten take a one-quantize shortcut: same value and same digits as the long way.
    step = Decimal(1).scaleb(exponent)
    rounding = {"down": ROUND_FLOOR, "up": ROUND_CEILING, "nearest": ROUND_HALF_EVEN}[mode]
    units = MONEY_CONTEXT.divide(value, step).quantize(Decimal(1), rounding=rounding, context=MONEY_CONTEXT)
    expected = MONEY_CONTEXT.multiply(units, step).quantize(step, context=MONEY_CONTEXT)

    rounded = round_to_step(value, step, mode)  # type: ignore[arg-type]

    assert rounded == expected
    assert str(rounded) == str(expected)


def test_equal_steps_written_with_other_digits_round_each_to_their_own_digits() -> None:
    # 1 and 1.0 are equal Decimals but not the same step: 1.0 is ten tenths.
    assert str(round_to_step(Decimal("53989.2"), Decimal("1"))) == "53989"
    assert str(round_to_step(Decimal("53989.2"), Decimal("1.0"))) == "53989.0"
    assert str(round_to_step(Decimal("0.123"), Decimal("0.01"))) == "0.12"
    assert str(round_to_step(Decimal("0.123"), Decimal("0.010"))) == "0.120"


def test_a_rounded_price_shows_exactly_the_ticks_digits() -> None:
    assert str(round_to_step(Decimal("42000.123"), Decimal("0.01"))) == "42000.12"
    assert str(round_to_step(Decimal("7"), Decimal("0.001"))) == "7.000"


def test_round_to_step_refuses_a_step_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="step must be positive, was 0"):
        round_to_step(Decimal(1), Decimal(0))
    with pytest.raises(ValueError, match=r"step must be positive, was -0\.1"):
        is_multiple_of(Decimal(1), Decimal("-0.1"))


def test_to_decimal_takes_the_float_a_human_meant() -> None:
    assert to_decimal(0.1) == Decimal("0.1")
    assert to_decimal(0.1) + to_decimal(0.2) == Decimal("0.3")
    assert to_decimal(30000.05) == Decimal("30000.05")
    assert to_decimal(7) == Decimal(7)
    assert to_decimal("1e-8") == Decimal("0.00000001")


def test_to_decimal_takes_a_numpy_float_as_the_float_it_holds() -> None:
    """A price read off a bar's numpy column is a float subclass, whose repr (numpy 2) is not a number."""
    assert to_decimal(np.float64(0.1)) == Decimal("0.1")
    assert to_decimal(np.float64(30000.05)) == Decimal("30000.05")
    with pytest.raises(ValueError, match="not a finite number"):
        to_decimal(np.float64("nan"))


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_to_decimal_round_trips_every_finite_float(value: float) -> None:
    assert float(to_decimal(value)) == value


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_to_decimal_refuses_what_is_not_a_number(value: float) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        to_decimal(value)


@given(
    st.lists(st.floats(min_value=0.01, max_value=1e6, allow_nan=False), min_size=1, max_size=500),
    st.sampled_from([Decimal("0.01"), Decimal("0.05"), Decimal("0.5"), Decimal("0.0001")]),
)
def test_summing_many_tick_rounded_prices_does_not_drift(prices: list[float], tick: Decimal) -> None:
    rounded = [round_to_step(to_decimal(price), tick) for price in prices]
    ticks = [int(price / tick) for price in rounded]

    assert all(price == count * tick for price, count in zip(rounded, ticks, strict=True))
    assert sum(rounded, Decimal(0)) == sum(ticks) * tick


# --- order intents ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": OrderType.LIMIT}, "a limit order needs a price"),
        ({"type": OrderType.STOP_LIMIT, "price": Decimal(10)}, "a stop_limit order needs a trigger_price"),
        (
            {"type": OrderType.STOP, "trigger_price": Decimal(10)},
            "needs a trigger_price and a trigger_direction",
        ),
        ({"type": OrderType.MARKET, "price": Decimal(10)}, "a market order takes no limit price"),
        (
            {"type": OrderType.LIMIT, "price": Decimal(10), "trigger_price": Decimal(9)},
            "a limit order takes no trigger price",
        ),
        (
            {"type": OrderType.MARKET, "post_only": True},
            "post_only applies to limit and stop-limit orders only",
        ),
        ({"type": OrderType.LIMIT, "price": Decimal(-1)}, "price must be positive, was -1"),
        ({"type": OrderType.MARKET, "quantity": Decimal(0)}, "greater than 0"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_an_inconsistent_order_intent_is_refused_saying_why(fields: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"symbol": "BTC/USDT", "side": Side.BUY, "quantity": Decimal(1), **fields}
    with pytest.raises(ValidationError, match=message):
        OrderIntent(**arguments)  # type: ignore[arg-type]


def test_consistent_order_intents_of_every_type_are_accepted_with_the_fields_given() -> None:
    common = {"symbol": "BTC/USDT", "side": Side.SELL, "quantity": Decimal("0.1")}
    market = OrderIntent(**common)  # type: ignore[arg-type]
    limit = OrderIntent(**common, type=OrderType.LIMIT, price=Decimal(10), post_only=True)  # type: ignore[arg-type]
    stop = OrderIntent(  # type: ignore[arg-type]
        **common, type=OrderType.STOP, trigger_price=Decimal(9), trigger_direction=TriggerDirection.FALLING
    )
    stop_limit = OrderIntent(  # type: ignore[arg-type]
        **common,
        type=OrderType.STOP_LIMIT,
        price=Decimal(8),
        trigger_price=Decimal(9),
        trigger_direction=TriggerDirection.FALLING,
    )

    def fields(intent: OrderIntent) -> tuple[object, ...]:
        return (
            intent.symbol,
            intent.side,
            intent.quantity,
            intent.type,
            intent.price,
            intent.trigger_price,
            intent.trigger_direction,
            intent.post_only,
        )

    sell = ("BTC/USDT", Side.SELL, Decimal("0.1"))
    assert fields(market) == (*sell, OrderType.MARKET, None, None, None, False)
    assert fields(limit) == (*sell, OrderType.LIMIT, Decimal(10), None, None, True)
    assert fields(stop) == (*sell, OrderType.STOP, None, Decimal(9), TriggerDirection.FALLING, False)
    assert fields(stop_limit) == (
        *sell,
        OrderType.STOP_LIMIT,
        Decimal(8),
        Decimal(9),
        TriggerDirection.FALLING,
        False,
    )


# --- order lifecycle -------------------------------------------------------------------------------


def new_order(quantity: Decimal = Decimal(1), status: OrderStatus = OrderStatus.NEW) -> Order:
    order = Order(client_order_id="c-1", symbol="BTC/USDT", side=Side.BUY, type=OrderType.MARKET, quantity=quantity)
    order.status = status  # set directly: the test is about what happens from each status
    return order


@pytest.mark.parametrize(
    ("start", "target"), list(itertools.product(OrderStatus, OrderStatus)), ids=lambda status: str(status)
)
def test_every_status_pair_either_moves_or_raises_as_the_lifecycle_says(
    start: OrderStatus, target: OrderStatus
) -> None:
    order = new_order(status=start)
    if target in ALLOWED_TRANSITIONS[start]:
        assert order.transition(target, at=NOW, reason="venue said so") is start
        assert order.status is target
        assert order.updated_at == NOW
    else:
        with pytest.raises(InvalidTransitionError, match=f"cannot go from {start} to {target}"):
            order.transition(target)
        assert order.status is start


def test_terminal_statuses_allow_no_move_and_every_other_status_can_end() -> None:
    for status in OrderStatus:
        assert (ALLOWED_TRANSITIONS[status] == frozenset()) == status.is_terminal
        if not status.is_terminal:
            assert ALLOWED_TRANSITIONS[status] & {
                OrderStatus.FILLED,
                OrderStatus.REJECTED,
                OrderStatus.CANCELLED,
            }


quantities = st.integers(1, 10**6).map(lambda n: Decimal(n) * Decimal("0.00001"))
prices = st.integers(1, 10**8).map(lambda n: Decimal(n) * Decimal("0.01"))


@given(st.lists(st.tuples(quantities, prices), min_size=1, max_size=12))
def test_record_fill_keeps_filled_quantity_within_the_order_and_moves_status(
    fills: list[tuple[Decimal, Decimal]],
) -> None:
    total = sum((q for q, _ in fills), Decimal(0))
    order = new_order(total, OrderStatus.ACCEPTED)
    for k, (quantity, price) in enumerate(fills, start=1):
        previous = order.status
        assert order.record_fill(quantity, price, Decimal("0.01")) is previous
        assert order.filled_quantity <= order.quantity
        done = k == len(fills)
        assert order.status is (OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED)
    assert order.filled_quantity == total
    assert order.remaining_quantity == 0
    assert order.fees_paid == Decimal("0.01") * len(fills)
    assert min(p for _, p in fills) <= order.average_fill_price <= max(p for _, p in fills)  # type: ignore[operator]


@given(st.lists(st.tuples(quantities, prices), min_size=1, max_size=12), st.data())
def test_a_fill_larger_than_what_remains_is_refused(fills: list[tuple[Decimal, Decimal]], data: st.DataObject) -> None:
    total = sum((q for q, _ in fills), Decimal(0))
    order = new_order(total, OrderStatus.ACCEPTED)
    for quantity, price in fills[:-1]:
        order.record_fill(quantity, price, Decimal(0))
    too_much = order.remaining_quantity + data.draw(quantities)
    with pytest.raises(InvalidTransitionError, match=f"cannot fill {too_much}"):
        order.record_fill(too_much, Decimal(1), Decimal(0))


@given(quantities, prices, st.integers(1, 12))
def test_fills_at_one_price_average_to_exactly_that_price(quantity: Decimal, price: Decimal, count: int) -> None:
    order = new_order(quantity * count, OrderStatus.ACCEPTED)
    for _ in range(count):
        order.record_fill(quantity, price, Decimal(0))
    assert order.average_fill_price == price


@settings(max_examples=300)
@given(st.lists(st.tuples(quantities, prices), min_size=3, max_size=12))
# Three fills where deriving each average from the previous rounded one was off in the 28th digit.
@example([(Decimal(9), Decimal("266.84")), (Decimal(8), Decimal("78.49")), (Decimal(7), Decimal("409.07"))])
def test_the_average_fill_price_is_the_exact_notional_over_the_quantity(
    fills: list[tuple[Decimal, Decimal]],
) -> None:
    order = new_order(sum((q for q, _ in fills), Decimal(0)), OrderStatus.ACCEPTED)
    for quantity, price in fills:
        order.record_fill(quantity, price, Decimal(0))
    notional = sum((q * p for q, p in fills), Decimal(0))
    assert order.average_fill_price == notional / order.filled_quantity


@pytest.mark.parametrize("status", [OrderStatus.NEW, OrderStatus.CANCELLED, OrderStatus.EXPIRED])
def test_a_fill_refused_for_the_orders_status_leaves_the_order_unchanged(status: OrderStatus) -> None:
    order = new_order(Decimal(2), status)
    before = order.model_dump()
    with pytest.raises(InvalidTransitionError):
        order.record_fill(Decimal(1), Decimal(10), Decimal("0.1"))
    assert order.model_dump() == before


class OrderLifecycle(RuleBasedStateMachine):
    """Random venue events against one order: it never breaks its invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.order = new_order(Decimal(10))
        self.notional = Decimal(0)
        self.history: list[OrderStatus] = [self.order.status]

    @rule(status=st.sampled_from(list(OrderStatus)))
    def move(self, status: OrderStatus) -> None:
        start = self.order.status
        if status in ALLOWED_TRANSITIONS[start]:
            self.order.transition(status)
            self.history.append(status)
        else:
            with pytest.raises(InvalidTransitionError):
                self.order.transition(status)
            assert self.order.status is start

    @precondition(lambda self: self.order.status.is_open)
    @rule(units=st.integers(1, 10), price=prices)
    def fill(self, units: int, price: Decimal) -> None:
        quantity = min(Decimal(units), self.order.remaining_quantity)
        self.order.record_fill(quantity, price, Decimal(0))
        self.notional += quantity * price
        self.history.append(self.order.status)

    @invariant()
    def filled_quantity_stays_within_the_order(self) -> None:
        assert 0 <= self.order.filled_quantity <= self.order.quantity
        if self.order.filled_quantity == self.order.quantity:
            assert self.order.status is OrderStatus.FILLED

    @invariant()
    def every_step_was_an_allowed_transition(self) -> None:
        for before, after in itertools.pairwise(self.history):
            assert after in ALLOWED_TRANSITIONS[before]

    @invariant()
    def the_average_price_matches_the_fills(self) -> None:
        if self.order.filled_quantity:
            assert self.order.average_fill_price == self.notional / self.order.filled_quantity


OrderLifecycle.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
TestOrderLifecycle = OrderLifecycle.TestCase


# --- the ledger ------------------------------------------------------------------------------------

BTC = Instrument(symbol="BTC/USDT", base="BTC", quote="USDT", tick_size=Decimal("0.01"), lot_size=Decimal("0.00001"))
fill_ids = itertools.count()


def make_fill(side: Side, quantity: Decimal, price: Decimal, fee: Decimal) -> Fill:
    return Fill(
        fill_id=f"f{next(fill_ids)}",
        client_order_id="c",
        symbol="BTC/USDT",
        side=side,
        quantity=quantity,
        price=price,
        fee=fee,
        timestamp=NOW,
    )


fees = st.integers(0, 10**6).map(lambda n: Decimal(n) * Decimal("0.000001"))


@given(st.integers(1, 10**9).map(lambda n: Decimal(n) / 100), quantities, prices, fees, fees)
def test_a_round_trip_at_one_price_leaves_cash_unchanged_but_for_fees_exactly(
    cash: Decimal, quantity: Decimal, price: Decimal, buy_fee: Decimal, sell_fee: Decimal
) -> None:
    ledger = Ledger(cash={"USDT": cash}, instruments={"BTC/USDT": BTC})

    after_buy = ledger.apply_fill(make_fill(Side.BUY, quantity, price, buy_fee))
    after_sell = ledger.apply_fill(make_fill(Side.SELL, quantity, price, sell_fee))

    assert after_buy.quantity == quantity and after_buy.average_price == price
    assert after_sell.is_flat
    assert after_sell.realized_pnl == 0
    assert ledger.cash["USDT"] == cash - buy_fee - sell_fee
    assert ledger.fees_paid["USDT"] == buy_fee + sell_fee


@given(quantities, prices, prices)
def test_a_round_trip_books_exactly_the_price_difference_as_profit(
    quantity: Decimal, entry: Decimal, exit_price: Decimal
) -> None:
    ledger = Ledger(cash={"USDT": Decimal(0)}, instruments={"BTC/USDT": BTC})
    ledger.apply_fill(make_fill(Side.BUY, quantity, entry, Decimal(0)))
    position = ledger.apply_fill(make_fill(Side.SELL, quantity, exit_price, Decimal(0)))

    assert position.realized_pnl == (exit_price - entry) * quantity
    assert ledger.cash["USDT"] == position.realized_pnl
    assert ledger.equity({"BTC/USDT": exit_price}, "USDT") == position.realized_pnl
