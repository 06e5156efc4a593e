"""The domain model: instruments, bars, orders, fills, positions, verdicts, events.

Money is ``Decimal`` throughout (see :mod:`tradekit.money`); bars are float64
numpy columns for speed and become ``Decimal`` when they enter an order.
"""

from tradekit.domain.bars import Bar, BarSeries, ns_to_datetime
from tradekit.domain.events import EventKind, NotifierEvent, RiskAction, RiskVerdict, Severity
from tradekit.domain.instruments import Instrument, InstrumentKind
from tradekit.domain.orders import (
    ALLOWED_TRANSITIONS,
    Fill,
    Liquidity,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    TimeInForce,
    TriggerDirection,
)
from tradekit.domain.portfolio import Balance, Ledger, Position

__all__ = [
    "ALLOWED_TRANSITIONS",
    "Balance",
    "Bar",
    "BarSeries",
    "EventKind",
    "Fill",
    "Instrument",
    "InstrumentKind",
    "Ledger",
    "Liquidity",
    "NotifierEvent",
    "Order",
    "OrderIntent",
    "OrderStatus",
    "OrderType",
    "OrderUpdate",
    "Position",
    "RiskAction",
    "RiskVerdict",
    "Severity",
    "Side",
    "TimeInForce",
    "TriggerDirection",
    "ns_to_datetime",
]
