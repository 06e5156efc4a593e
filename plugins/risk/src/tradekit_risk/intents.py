"""What the rules ask of an intent: its price, whether it is an exit, the position it leaves."""

from __future__ import annotations

from decimal import Decimal

from tradekit.domain.orders import OrderIntent
from tradekit.domain.run import RiskContext

ZERO = Decimal(0)


def held(context: RiskContext, symbol: str) -> Decimal:
    """The signed quantity held of ``symbol``."""
    position = context.positions.get(symbol)
    return position.quantity if position is not None else ZERO


def is_exit(intent: OrderIntent, context: RiskContext) -> bool:
    """True for an intent that can only shrink a position: reduce-only, or against it and no larger.

    A sell of 0.3 while 0.5 is held long is an exit even without the
    reduce-only flag; a sell of 0.8 would open a short, so it is not.
    """
    if intent.reduce_only:
        return True
    quantity = held(context, intent.symbol)
    return quantity != 0 and quantity * intent.side.sign < 0 and intent.quantity <= abs(quantity)


def reference_price(intent: OrderIntent, context: RiskContext) -> Decimal | None:
    """The price an intent is judged at: its limit, else its trigger, else the market's last close."""
    if intent.price is not None:
        return intent.price
    if intent.trigger_price is not None:
        return intent.trigger_price
    return context.prices.get(intent.symbol)


def fmt(value: Decimal | float, places: int = 2) -> str:
    """A number for messages: thousands separated, ``places`` decimals."""
    return f"{float(value):,.{places}f}"
