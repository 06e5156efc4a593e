"""Money helpers compute in ``MONEY_CONTEXT`` whatever the thread's context: huge and tiny values stay exact."""

from __future__ import annotations

import decimal
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tradekit.money import is_multiple_of, round_to_step

# Values from 1e-30 to beyond 1e70, of up to 45 digits: far outside what the default 28-digit context holds.
big_values = st.builds(
    lambda mantissa, exponent: Decimal(f"{mantissa}E{exponent}"),
    st.integers(-(10**45), 10**45),
    st.integers(-30, 30),
)
steps = st.builds(
    lambda mantissa, exponent: Decimal(mantissa).scaleb(exponent),
    st.sampled_from([1, 2, 5, 25]),
    st.integers(-12, 12),
)


def ratio(value: Decimal, step: Decimal) -> Fraction:
    return Fraction(value) / Fraction(step)


def test_a_cash_amount_of_1e30_is_a_whole_number_of_cents() -> None:
    # In the default 28-digit context ``1e30 % 0.01`` raises decimal.InvalidOperation.
    assert is_multiple_of(Decimal("1e30"), Decimal("0.01"))
    assert not is_multiple_of(Decimal("1000000000000000000000000000000.005"), Decimal("0.01"))


@given(big_values, steps)
@example(Decimal("1e30"), Decimal("0.01"))
@example(Decimal("123456789012345678901234567890123456789012.34"), Decimal("0.01"))
@example(Decimal("123456789012345678901234567890123456789012.345"), Decimal("0.01"))
@example(Decimal("1e-30"), Decimal("1e-12"))
@example(Decimal("0"), Decimal("1e12"))
def test_is_multiple_of_is_exact_for_huge_and_tiny_values(value: Decimal, step: Decimal) -> None:
    assert is_multiple_of(value, step) == (ratio(value, step).denominator == 1)


@given(big_values, steps)
def test_is_multiple_of_does_not_depend_on_the_threads_context(value: Decimal, step: Decimal) -> None:
    expected = ratio(value, step).denominator == 1
    with decimal.localcontext(decimal.Context(prec=3)):
        assert is_multiple_of(value, step) == expected


@pytest.mark.parametrize("mode", ["down", "up", "nearest"])
@given(st.integers(-(10**30), 10**30), st.integers(0, 99), steps)
def test_round_to_step_is_exact_up_to_34_digits_of_steps_in_any_thread_context(
    mode: str, units: int, extra: int, step: Decimal
) -> None:
    # units steps plus extra hundredths of a step, built exactly from a string: up to 35 digits,
    # more than the default context keeps; the rounded result fits in 34.
    _, mantissa, exponent = step.as_tuple()
    assert isinstance(exponent, int)
    step_units = int("".join(map(str, mantissa)))
    value = Decimal(f"{(units * 100 + extra) * step_units}E{exponent - 2}")
    exact = ratio(value, step)
    floor, ceiling = exact.numerator // exact.denominator, -(-exact.numerator // exact.denominator)
    if mode == "down":
        expected = floor
    elif mode == "up":
        expected = ceiling
    else:
        expected = round(exact)  # Fraction rounds half to even, as ROUND_HALF_EVEN does
    with decimal.localcontext(decimal.Context(prec=5)):
        rounded = round_to_step(value, step, mode)  # type: ignore[arg-type]
    assert Fraction(rounded) == expected * Fraction(step)
    assert rounded.as_tuple().exponent == step.as_tuple().exponent


def test_round_to_step_keeps_every_digit_of_a_30_digit_price() -> None:
    price = Decimal("1234567890123456789012345678.91")
    assert round_to_step(price, Decimal("0.01")) == price
    assert round_to_step(price, Decimal("0.1"), "down") == Decimal("1234567890123456789012345678.9")


def test_round_to_step_refuses_more_digits_than_the_money_context_holds_saying_so() -> None:
    with pytest.raises(
        ValueError, match=r"cannot round 1E\+40 to a step of 0.01 exactly: .* more than 34 significant digits"
    ):
        round_to_step(Decimal("1e40"), Decimal("0.01"))
