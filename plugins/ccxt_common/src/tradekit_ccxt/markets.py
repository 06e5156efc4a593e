"""ccxt markets as tradekit instruments, and sizes checked against them before an order is sent.

ccxt describes a market's steps as ``precision`` (a tick size when the
exchange's ``precisionMode`` is ``TICK_SIZE``, a number of decimals
otherwise) and its minimums as ``limits``. The instrument made here is what
strategies round with (:meth:`~tradekit.domain.instruments.Instrument.round_price`);
an order off its tick or lot is refused before it is sent, the way the
simulated venue of a dry run refuses it, so a strategy meets the same rules in
both.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradekit.domain.instruments import Instrument, InstrumentKind
from tradekit.domain.orders import Order
from tradekit.errors import InvalidOrder
from tradekit.money import to_decimal

_KINDS = {"spot": InstrumentKind.SPOT, "swap": InstrumentKind.PERPETUAL, "future": InstrumentKind.FUTURE}

# ccxt's precision modes (ccxt.base.decimal_to_precision): DECIMAL_PLACES = 2, SIGNIFICANT_DIGITS = 3, TICK_SIZE = 4.
DECIMAL_PLACES = 2
TICK_SIZE = 4


def _step(value: Any, precision_mode: int) -> Decimal | None:
    if value is None:
        return None
    if precision_mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(value))
    number = to_decimal(value)
    return number if number > 0 else None


def _number(value: Any) -> Decimal:
    return to_decimal(value) if value is not None else Decimal(0)


def instrument_from_market(market: dict[str, Any], precision_mode: int = TICK_SIZE) -> Instrument:
    """The :class:`~tradekit.domain.instruments.Instrument` for one ccxt market dict."""
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    tick = _step(precision.get("price"), precision_mode)
    lot = _step(precision.get("amount"), precision_mode)
    symbol = market["symbol"]
    if tick is None or lot is None:
        raise InvalidOrder(
            f"{symbol}: the venue's market data gives no price or amount step (precision {precision!r}); "
            "it cannot be traded safely"
        )
    leverage = (limits.get("leverage") or {}).get("max")
    kind = _KINDS.get(str(market.get("type")), InstrumentKind.SPOT)
    return Instrument(
        symbol=symbol,
        base=market["base"],
        quote=market["quote"],
        kind=kind,
        tick_size=tick,
        lot_size=lot,
        min_quantity=_number((limits.get("amount") or {}).get("min")),
        min_notional=_number((limits.get("cost") or {}).get("min")),
        max_leverage=to_decimal(leverage) if leverage else Decimal(1),
    )


def check_order(order: Order, instrument: Instrument, market_price: Decimal | None) -> None:
    """Refuse (:class:`~tradekit.errors.InvalidOrder`) an order the venue's steps and minimums do not allow.

    ``market_price`` stands in for the limit price of a market order in the
    minimum-notional check.
    """
    for name in ("price", "trigger_price"):
        value = getattr(order, name)
        if value is not None and (problem := instrument.price_problem(value)) is not None:
            raise InvalidOrder(
                f"order {order.client_order_id} not sent: {name.replace('_', ' ')}: {problem}; "
                f"round it with instrument.round_price()"
            )
    price = order.price or order.trigger_price or market_price
    problem = instrument.quantity_problem(order.quantity, price)
    if problem is not None:
        raise InvalidOrder(f"order {order.client_order_id} not sent: {problem}")
