"""How tradekit represents money: :class:`decimal.Decimal`, never float.

Prices, quantities, fees and balances are ``Decimal`` everywhere an order, a
fill, a position or a balance is concerned. A price is always a whole number
of the instrument's ``tick_size`` and a quantity a whole number of its
``lot_size``; the helpers here round to those steps exactly, so repeated
arithmetic never drifts (``0.1 + 0.2 == 0.3`` holds for ``Decimal``).

Market data (bars) is kept as float64 numpy columns for speed; a price read
from a bar becomes a ``Decimal`` rounded to the tick at the moment it enters
an order or a fill (:func:`to_decimal` then :func:`round_to_step`).
"""

from __future__ import annotations

import decimal
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from math import isfinite
from typing import Literal

# Enough digits for any price times any quantity we meet (BTC at 1e6 with 1e-8
# lots needs 15); 34 is IEEE decimal128, leaving room for fees and sums.
MONEY_CONTEXT = decimal.Context(prec=34, rounding=ROUND_HALF_EVEN)

Rounding = Literal["down", "up", "nearest"]

_MODES: dict[str, str] = {"down": ROUND_FLOOR, "up": ROUND_CEILING, "nearest": ROUND_HALF_EVEN}

# Steps seen by round_to_step, by identity, and whether each is a power of ten written as one digit
# (0.01, 1, 1E+2): ticks and lots nearly always are, and rounding to one is a single quantize. Keyed by
# id(), the step kept beside it so the id cannot be reused: equal Decimals such as 1 and 1.0 must not
# share an answer, since 1.0 is ten tenths and a quantize to it keeps one decimal place.
_POWERS_OF_TEN: dict[int, tuple[Decimal, bool]] = {}
_POWERS_OF_TEN_KEPT = 1_024

#: Zero and one as Decimals, for arithmetic and comparisons on money: with an int, Python makes a
#: Decimal of it first, every time.
ZERO, ONE = Decimal(0), Decimal(1)


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    """Turn a number into a Decimal without binary noise.

    A float goes through its shortest ``repr`` (``0.1`` becomes ``Decimal('0.1')``,
    not ``0.1000000000000000055...``), which is the value a human or a venue
    meant when they wrote it.
    """
    if type(value) is float:  # a bar's price, on every order: checked first
        if not isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return to_decimal(float(value))  # a float subclass: its repr may not be a float's
    return Decimal(value)


def round_to_step(value: Decimal, step: Decimal, mode: Rounding = "nearest") -> Decimal:
    """Round ``value`` to a whole multiple of ``step`` (a tick or a lot).

    ``mode`` is ``"down"`` (toward minus infinity), ``"up"`` or ``"nearest"``
    (ties to even). The result carries the step's exponent, so ``str()`` of a
    price shows exactly the tick's digits.

    Every operation runs in :data:`MONEY_CONTEXT` whatever the thread's
    context is; a result that needs more than its 34 significant digits at
    the step's decimal places cannot be exact and raises ValueError.
    """
    known = _POWERS_OF_TEN.get(id(step))
    if known is not None and known[0] is step:
        power_of_ten = known[1]
    else:
        if step <= 0:
            raise ValueError(f"step must be positive, was {step}")
        power_of_ten = step.as_tuple().digits == (1,)
        if len(_POWERS_OF_TEN) < _POWERS_OF_TEN_KEPT:
            _POWERS_OF_TEN[id(step)] = (step, power_of_ten)
    # quantize's arguments are passed by position: by keyword, Python 3.11's decimal module parses them
    # at three times the cost of the quantize itself.
    try:
        if power_of_ten:
            # Dividing by 10**e, rounding to units and multiplying back is one quantize, at a third of the cost.
            return value.quantize(step, _MODES[mode], MONEY_CONTEXT)
        units = MONEY_CONTEXT.divide(value, step).quantize(ONE, _MODES[mode], MONEY_CONTEXT)
        return MONEY_CONTEXT.multiply(units, step).quantize(step, None, MONEY_CONTEXT)
    except decimal.InvalidOperation:
        raise ValueError(
            f"cannot round {value} to a step of {step} exactly: the result, written to the step's "
            f"decimal places, needs more than {MONEY_CONTEXT.prec} significant digits; "
            "use a smaller value or a coarser step"
        ) from None


def is_multiple_of(value: Decimal, step: Decimal) -> bool:
    """True when ``value`` is a whole number of ``step``s.

    The remainder is taken in :data:`MONEY_CONTEXT`, not the thread's context
    (28 digits by default, too few for e.g. ``1e30`` in steps of ``0.01``).
    Beyond its 34 digits of steps the answer is still exact: both numbers are
    scaled to integers and compared with Python's unbounded ``int``.
    """
    if step <= 0:
        raise ValueError(f"step must be positive, was {step}")
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    try:
        return bool(MONEY_CONTEXT.remainder(value, step).is_zero())
    except decimal.InvalidOperation:
        # The quotient has more digits than the context keeps: decide exactly on integers.
        value_digits, value_exponent = _integer_and_exponent(value)
        step_digits, step_exponent = _integer_and_exponent(step)
        exponent = min(value_exponent, step_exponent)
        scaled_value = value_digits * int(10 ** (value_exponent - exponent))
        scaled_step = step_digits * int(10 ** (step_exponent - exponent))
        return scaled_value % scaled_step == 0


def _integer_and_exponent(value: Decimal) -> tuple[int, int]:
    """``(n, e)`` with ``value == n * 10**e`` exactly, for a finite Decimal."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # only NaN and infinities have a letter here
    n = int("".join(map(str, digits)) or "0")
    return (-n if sign else n), exponent
