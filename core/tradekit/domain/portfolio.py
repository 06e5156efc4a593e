"""Positions, balances and the ledger that keeps them exact.

The :class:`Ledger` is the engine's book of a run: cash per currency and a
position per symbol, updated only by fills, in ``Decimal``. Snapshots of it
(:class:`Position`, :class:`Balance`) are what plugins see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import Fill, Side
from tradekit.money import ONE, ZERO

_MINUS_ONE = Decimal(-1)
_BUY = Side.BUY


class Position(BaseModel):
    """What is held of one symbol. ``quantity`` is signed: negative is short."""

    model_config = ConfigDict(frozen=True)

    symbol: str
    quantity: Decimal = ZERO
    average_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO

    @property
    def is_flat(self) -> bool:
        """True when nothing is held."""
        return self.quantity == 0


class Balance(BaseModel):
    """Cash in one currency: ``free`` is what new orders may use."""

    model_config = ConfigDict(frozen=True)

    currency: str
    total: Decimal
    free: Decimal

    @property
    def locked(self) -> Decimal:
        """What resting orders hold back."""
        return self.total - self.free


# The validator itself, without the constructor's Python wrapper around it.
_validate_position = Position.__pydantic_validator__.validate_python


class PositionFigures(Protocol):
    """What a position's figures are read as: a :class:`Position`, or the ledger's own live record."""

    @property
    def symbol(self) -> str:
        """The symbol held."""
        ...

    @property
    def quantity(self) -> Decimal:
        """Signed: negative is short."""
        ...

    @property
    def average_price(self) -> Decimal:
        """The average entry price (zero when flat)."""
        ...

    @property
    def realized_pnl(self) -> Decimal:
        """Profit booked on what was closed."""
        ...


@dataclass(slots=True)
class _PositionState:
    """The ledger's record of one position, changed in place by every fill."""

    symbol: str
    quantity: Decimal = ZERO
    average_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO


@dataclass
class Ledger:
    """Cash and positions of a run, moved only by fills.

    Spot-style accounting: a buy spends quote currency and adds to the
    position; a sell does the opposite. Realized profit is booked against the
    average entry price when a position is reduced, so a round trip's profit
    is exact to the last digit.
    """

    cash: dict[str, Decimal] = field(default_factory=dict)
    instruments: dict[str, Instrument] = field(default_factory=dict)
    _positions: dict[str, _PositionState] = field(default_factory=dict)
    fees_paid: dict[str, Decimal] = field(default_factory=dict)

    def apply_fill(self, fill: Fill) -> Position:
        """Book a fill; returns the position after it."""
        self.book_fill(fill)
        return self.position(fill.symbol)

    def book_fill(self, fill: Fill) -> Decimal:
        """Book a fill without building a position snapshot; the quantity held of its symbol after it."""
        # Read from the fill's instance dict: a pydantic model's attributes cost twice a dict's items
        # to read, and this runs twice per fill in a backtest (the venue's ledger and the engine's).
        values = fill.__dict__
        symbol: str = values["symbol"]
        quantity: Decimal = values["quantity"]
        price: Decimal = values["price"]
        fee: Decimal = values["fee"]
        quote = self.instruments[symbol].quote
        cash = self.cash
        signed = quantity if values["side"] is _BUY else -quantity
        cash[quote] = cash.get(quote, ZERO) - signed * price
        fee_currency = values["fee_currency"] or quote
        cash[fee_currency] = cash.get(fee_currency, ZERO) - fee
        fees_paid = self.fees_paid
        fees_paid[fee_currency] = fees_paid.get(fee_currency, ZERO) + fee

        state = self._positions.get(symbol)
        if state is None:
            state = self._positions[symbol] = _PositionState(symbol)
        before = state.quantity
        after = before + signed
        # Compared with and multiplied by Decimals, not ints: each int is made a Decimal first, every time.
        if not before:
            state.average_price = price  # opening: what the average below gives, without a division
        elif (before > ZERO) == (signed > ZERO):
            # Adding: the average entry moves.
            state.average_price = (state.average_price * abs(before) + price * quantity) / abs(after)
        else:
            closing = abs(signed)
            held = abs(before)
            closed = held if held < closing else closing  # min(closing, held), without the call
            direction = ONE if before > ZERO else _MINUS_ONE
            state.realized_pnl += (price - state.average_price) * closed * direction
            if not after:
                state.average_price = ZERO
            elif (after > ZERO) != (before > ZERO):
                # Flipped through zero: what is left was opened at this fill's price.
                state.average_price = price
        state.quantity = after
        return after

    def position(self, symbol: str) -> Position:
        """The position in ``symbol`` now (flat if never traded)."""
        state = self._positions.get(symbol)
        fields: dict[str, object] = {"symbol": symbol}
        if state is not None:
            fields = {
                "symbol": symbol,
                "quantity": state.quantity,
                "average_price": state.average_price,
                "realized_pnl": state.realized_pnl,
            }
        position: Position = _validate_position(fields)
        return position

    def figures(self, symbol: str) -> PositionFigures:
        """The position in ``symbol`` as the ledger keeps it, without a snapshot: read it at once.

        The object is the ledger's own and changes with the next fill; what
        must outlive that is copied from it (or taken from :meth:`position`).
        """
        state = self._positions.get(symbol)
        return state if state is not None else _PositionState(symbol)

    def quantity(self, symbol: str) -> Decimal:
        """The signed quantity held of ``symbol``, without building a snapshot."""
        state = self._positions.get(symbol)
        return state.quantity if state is not None else ZERO

    def positions(self) -> list[Position]:
        """Every position that is not flat."""
        return [self.position(s) for s, st in self._positions.items() if st.quantity != 0]

    def equity(self, prices: dict[str, Decimal], currency: str) -> Decimal:
        """Cash in ``currency`` plus every position in a symbol quoted in it, marked at ``prices``."""
        total = self.cash.get(currency, ZERO)
        for symbol, state in self._positions.items():
            if state.quantity != 0 and self.instruments[symbol].quote == currency:
                total += state.quantity * prices[symbol]
        return total
