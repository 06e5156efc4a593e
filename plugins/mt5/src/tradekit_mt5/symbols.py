"""A MetaTrader 5 symbol's rules: prices in its digits and tick, volumes in its lots, its filling policies.

tradekit counts quantities in units of the base (the ledger books
``quantity × price`` in the quote currency, which is a position's value only
in units): a MetaTrader 5 volume is in lots, so a quantity is
``lots × trade_contract_size``. 0.1 lot of EURUSD (contract 100,000) is
10,000 EUR; the lot step 0.01 is a quantity step of 1,000. Orders are sent in
lots and fills read back in units.

The filling policy is read from the symbol, never assumed. Its
``filling_mode`` holds the flags SYMBOL_FILLING_FOK (1) and
SYMBOL_FILLING_IOC (2); MetaQuotes' table of fill policies by execution
mode says the rest: Instant and Request execution fill market orders
fill-or-kill; Market execution takes what the flags allow; Exchange
execution also takes "return" (the rest of a partly filled market order
stays). Limit and stop-limit orders rest with "return" in every mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradekit.domain.instruments import Instrument, InstrumentKind
from tradekit.domain.orders import OrderType, TimeInForce
from tradekit.errors import InvalidOrder
from tradekit.money import round_to_step, to_decimal

# ENUM_ORDER_TYPE_FILLING and the SYMBOL_FILLING_* flags (MetaQuotes' values; some builds of the
# MetaTrader5 package lack the SYMBOL_FILLING_* names, so the numbers are written here).
FILLING_FOK = 0
FILLING_IOC = 1
FILLING_RETURN = 2
SYMBOL_FILLING_FOK = 1
SYMBOL_FILLING_IOC = 2
# ENUM_SYMBOL_TRADE_EXECUTION
EXECUTION_REQUEST = 0
EXECUTION_INSTANT = 1
EXECUTION_MARKET = 2
EXECUTION_EXCHANGE = 3
# ENUM_SYMBOL_TRADE_MODE: trading disabled
TRADE_MODE_DISABLED = 0
# ENUM_SYMBOL_CHART_MODE: bars drawn from last prices (else from bids)
CHART_MODE_LAST = 1

_EXECUTION_NAMES = {0: "request", 1: "instant", 2: "market", 3: "exchange"}
_FILLING_NAMES = {FILLING_FOK: "fill or kill", FILLING_IOC: "immediate or cancel", FILLING_RETURN: "return"}
# ENUM_SYMBOL_CALC_MODE: forex (0, 5), futures (1, 33), CFD (2, 3, 4), exchange stocks (32)...
_KINDS = {0: InstrumentKind.FX, 5: InstrumentKind.FX, 1: InstrumentKind.FUTURE, 33: InstrumentKind.FUTURE}


def clean(value: Decimal) -> Decimal:
    """``value`` without trailing zeros, and never in exponent form (``1E+5`` becomes ``100000``)."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    return normal.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normal


@dataclass(frozen=True)
class SymbolSpec:
    """What tradekit needs of one ``symbol_info()``: steps, limits, currencies, execution and filling modes."""

    name: str
    base: str
    quote: str
    digits: int
    tick_size: Decimal
    contract_size: Decimal
    volume_min: Decimal
    volume_max: Decimal
    volume_step: Decimal
    filling_flags: int
    execution: int
    trade_mode: int
    calc_mode: int
    chart_mode: int
    stops_level: int
    point: Decimal

    @classmethod
    def from_info(cls, info: Any) -> SymbolSpec:
        """Read a ``SymbolInfo`` record (named fields, as the MetaTrader5 package returns them)."""
        digits = int(info.digits)
        smallest = Decimal(1).scaleb(-digits)
        tick = to_decimal(float(info.trade_tick_size)) if float(info.trade_tick_size) > 0 else smallest
        contract = to_decimal(float(info.trade_contract_size)) if float(info.trade_contract_size) > 0 else Decimal(1)
        return cls(
            name=str(info.name),
            base=str(info.currency_base) or str(info.name),
            quote=str(info.currency_profit) or str(info.currency_margin),
            digits=digits,
            tick_size=clean(max(tick, smallest)),
            contract_size=clean(contract),
            volume_min=clean(to_decimal(float(info.volume_min))),
            volume_max=clean(to_decimal(float(info.volume_max))),
            volume_step=clean(to_decimal(float(info.volume_step))),
            filling_flags=int(info.filling_mode),
            execution=int(info.trade_exemode),
            trade_mode=int(info.trade_mode),
            calc_mode=int(info.trade_calc_mode),
            chart_mode=int(info.chart_mode),
            stops_level=int(info.trade_stops_level),
            point=clean(to_decimal(float(info.point))) if float(info.point) > 0 else smallest,
        )

    # -- units -------------------------------------------------------------------------------------

    @property
    def lot_size(self) -> Decimal:
        """The quantity step: one volume step in units."""
        return clean(self.volume_step * self.contract_size)

    def instrument(self, leverage: Decimal) -> Instrument:
        """The symbol as tradekit's :class:`~tradekit.domain.instruments.Instrument` (quantities in units)."""
        return Instrument(
            symbol=self.name,
            base=self.base,
            quote=self.quote,
            kind=_KINDS.get(self.calc_mode, InstrumentKind.CFD),
            tick_size=self.tick_size,
            lot_size=self.lot_size,
            min_quantity=clean(self.volume_min * self.contract_size),
            max_leverage=leverage if leverage > 0 else Decimal(1),
        )

    def volume(self, quantity: Decimal) -> float:
        """``quantity`` (units) in lots, on the volume step, as the terminal takes it."""
        return float(round_to_step(quantity / self.contract_size, self.volume_step))

    def quantity(self, volume: float) -> Decimal:
        """A volume the terminal reports (lots) in units, on the quantity step."""
        return round_to_step(to_decimal(float(volume)) * self.contract_size, self.lot_size)

    def price(self, value: float) -> Decimal:
        """A price the terminal reports, exact on the tick."""
        return round_to_step(to_decimal(float(value)), self.tick_size)

    def volume_problem(self, quantity: Decimal) -> str | None:
        """Why ``quantity`` is more than the symbol takes in one order, or None (steps and minimum are the
        instrument's to check)."""
        lots = quantity / self.contract_size
        if self.volume_max > 0 and lots > self.volume_max:
            return (
                f"quantity {quantity} of {self.name} is {clean(lots)} lots, above the symbol's maximum of "
                f"{self.volume_max} lots ({clean(self.volume_max * self.contract_size)} units) per order"
            )
        return None

    # -- filling -------------------------------------------------------------------------------------

    def filling(self, kind: OrderType, time_in_force: TimeInForce) -> int:
        """The ORDER_FILLING_* value an order of ``kind`` is sent with; InvalidOrder when the symbol has none."""
        if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            return FILLING_RETURN
        # A market order, or a stop, which becomes one when it triggers.
        allowed = self.market_fillings()
        wanted = {
            TimeInForce.FOK: (FILLING_FOK,),
            TimeInForce.IOC: (FILLING_IOC,),
            TimeInForce.GTC: (FILLING_FOK, FILLING_IOC, FILLING_RETURN),
        }[time_in_force]
        for policy in wanted:
            if policy in allowed:
                return policy
        takes = ", ".join(_FILLING_NAMES[p] for p in sorted(allowed)) or "none"
        raise InvalidOrder(
            f"{self.name} takes no {time_in_force.value} {kind.value} order: its filling policies for market "
            f"orders are {takes} (filling_mode {self.filling_flags}, {self.execution_name} execution)"
        )

    def market_fillings(self) -> frozenset[int]:
        """The filling policies the symbol allows for market orders."""
        allowed = set()
        if self.filling_flags & SYMBOL_FILLING_FOK or self.execution in (EXECUTION_REQUEST, EXECUTION_INSTANT):
            allowed.add(FILLING_FOK)
        if self.filling_flags & SYMBOL_FILLING_IOC:
            allowed.add(FILLING_IOC)
        if self.execution == EXECUTION_EXCHANGE:
            allowed.add(FILLING_RETURN)
        return frozenset(allowed)

    @property
    def execution_name(self) -> str:
        """The execution mode in words."""
        return _EXECUTION_NAMES.get(self.execution, f"mode {self.execution}")

    @property
    def requotes(self) -> bool:
        """Whether the broker may requote (instant and request execution take the price sent)."""
        return self.execution in (EXECUTION_REQUEST, EXECUTION_INSTANT)
