"""The checks the simulated venue makes when an order arrives, and the reasons it gives.

:func:`arrival_problem` answers why the venue refuses an order (the reason
of a REJECTED update) or None when it accepts it: the order's fields must fit
its type, prices lie on the tick, the quantity on the lot and above the
minimums, a post-only limit must not take, a reduce-only order must reduce,
and the account must pay for it (:func:`funds_problem`).
"""

from __future__ import annotations

from decimal import Decimal

from tradekit.domain.instruments import Instrument, InstrumentKind
from tradekit.domain.orders import Order, OrderType, Side
from tradekit.money import ONE, ZERO
from tradekit.sim.account import Account

# Enum members the per-order path reads, bound once: reading one off its class costs about 70 ns on
# Python 3.11, ten times a module global, and an order reads a few dozen.
_MARKET, _LIMIT, _STOP_LIMIT, _STOP = OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.STOP
_BUY, _SELL = Side.BUY, Side.SELL
_SPOT = InstrumentKind.SPOT


def show(amount: Decimal) -> str:
    """An amount for a message: no trailing zeros, no exponent (``10100.000000`` -> ``10100``)."""
    return format(amount.normalize(), "f")


def marketable(side: Side, limit: Decimal, market: Decimal) -> bool:
    """Whether a limit at ``limit`` would trade against a market at ``market``."""
    return market <= limit if side is _BUY else market >= limit


def shape_problem(order: Order) -> str | None:
    """Why the fields of ``order`` do not fit its type, or None."""
    kind = order.type
    priced = kind is _LIMIT or kind is _STOP_LIMIT
    triggered = kind is _STOP or kind is _STOP_LIMIT
    if priced and order.price is None:
        return f"a {kind.value} order needs a limit price"
    if not priced and order.price is not None:
        return f"a {kind.value} order takes no limit price, got {order.price}"
    if triggered and (order.trigger_price is None or order.trigger_direction is None):
        return f"a {kind.value} order needs a trigger price and a trigger direction"
    if not triggered and order.trigger_price is not None:
        return f"a {kind.value} order takes no trigger price, got {order.trigger_price}"
    if order.post_only and not priced:
        return f"post-only applies to limit and stop-limit orders only, not to a {kind.value} order"
    return None


def arrival_problem(account: Account, order: Order, instrument: Instrument, reference: Decimal | None) -> str | None:
    """Why the venue refuses ``order`` with the market at ``reference`` (None: unknown), or None."""
    # The fields read from the order's instance dict: a pydantic model's attributes cost twice a dict's
    # items to read, and every order passes here.
    values = order.__dict__
    kind, limit, trigger, post_only = values["type"], values["price"], values["trigger_price"], values["post_only"]
    # A plain market order (the most common) has nothing a shape check could find.
    if kind is not _MARKET or limit is not None or trigger is not None or post_only:
        shape = shape_problem(order)
        if shape is not None:
            return shape
    if limit is not None and (problem := instrument.price_problem(limit)) is not None:
        return problem
    if trigger is not None and (problem := instrument.price_problem(trigger)):
        return f"trigger {problem}"
    price = limit or trigger or reference
    if (problem := instrument.quantity_problem(values["quantity"], price)) is not None:
        return problem
    if (
        post_only
        and kind is _LIMIT
        and reference is not None
        and limit is not None
        and marketable(values["side"], limit, reference)
    ):
        return f"post-only {order.side.value} at {limit} would take liquidity: the market is at {reference}"
    if values["reduce_only"]:
        held = account.ledger.quantity(order.symbol)
        if not held or ((held > ZERO) if order.side is _BUY else (held < ZERO)):
            # The reason is written only for an order refused: every exit of a backtest passes here.
            action = f"reduce-only {order.side.value} of {order.quantity} {order.symbol}"
            if not held:
                return f"{action}: there is no position to reduce"
            side = "long" if held > 0 else "short"
            return f"{action} would increase the {side} position of {held}"
    return funds_problem(account, order, instrument, price, reference)


def funds_problem(
    account: Account, order: Order, instrument: Instrument, price: Decimal | None, reference: Decimal | None
) -> str | None:
    """Why the account cannot pay for ``order`` at ``price``, or None.

    Without any price (a market order before the venue saw a bar) only a
    spot sell can be checked; a buy's cash is then checked when it fills.
    """
    if instrument.kind is _SPOT and order.side is _SELL:
        held = account.ledger.quantity(order.symbol)
        reserved = account.reserved_sells(order.symbol)
        if order.quantity > held - reserved:
            return (
                f"insufficient {instrument.base}: selling {order.quantity} {order.symbol} but only "
                f"{held - reserved} is free ({held} held, {reserved} reserved by open sells); "
                "spot cannot go short"
            )
        return None
    if price is None or (order.reduce_only and instrument.kind is not _SPOT):
        return None
    fees = account.fees
    takes = order.type in (_MARKET, _STOP) or (
        order.type is _LIMIT and reference is not None and marketable(order.side, price, reference)
    )
    rate = fees.taker if takes else fees.maker
    quote = instrument.quote
    if instrument.kind is _SPOT:
        cost = order.quantity * price * (ONE + rate)
        free = account.free(quote)
        if cost > free:
            return (
                f"insufficient {quote}: buying {order.quantity} {order.symbol} at {price} "
                f"needs {show(cost)} with a {rate} fee, but only {show(free)} is free "
                f"({show(account.cash(quote))} held)"
            )
        return None
    added = account.added_exposure(order.symbol, order.side, order.quantity)
    required = added * price / instrument.max_leverage + order.quantity * price * rate
    free = account.free(quote)
    if required > free:
        return (
            f"insufficient margin in {quote}: {order.side.value} {order.quantity} {order.symbol} "
            f"at {price} needs {show(required)} (added exposure {added} at leverage "
            f"{instrument.max_leverage}, plus fee), but only {show(free)} is free"
        )
    return None
