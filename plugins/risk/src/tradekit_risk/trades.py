"""Round trips from fills: when a position goes back to flat, what it made or lost, fees included.

The circuit breaker counts losing trades in a row from these; Kelly sizing takes
its win rate and payoff from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tradekit.domain.orders import Fill
from tradekit.domain.portfolio import Position

ZERO = Decimal(0)


@dataclass(frozen=True)
class ClosedTrade:
    """One round trip: opened from flat, closed back to flat (or through it); ``pnl`` net of fees."""

    symbol: str
    closed_at: datetime
    pnl: Decimal

    @property
    def won(self) -> bool:
        """A trade that made money (break-even counts as not lost)."""
        return self.pnl >= 0


@dataclass
class _Open:
    pnl: Decimal = ZERO


class TradeTracker:
    """Follows fills and the positions after them; reports each round trip as it closes.

    Fees count in the quote currency only (``fee_currency`` empty or equal to
    ``quote``); a fee paid in another currency is left out of the trade's result.
    """

    def __init__(self, quote_currency: str | None = None) -> None:
        self.quote_currency = quote_currency
        self.closed: list[ClosedTrade] = []
        self._open: dict[str, _Open] = {}
        self._realized: dict[str, Decimal] = {}

    def on_fill(self, fill: Fill, position: Position) -> ClosedTrade | None:
        """Book one fill (with the position after it); the trade it closed, if it closed one."""
        fee = fill.fee if fill.fee_currency in ("", self.quote_currency) or self.quote_currency is None else ZERO
        realized_change = position.realized_pnl - self._realized.get(fill.symbol, ZERO)
        self._realized[fill.symbol] = position.realized_pnl
        trade = self._open.get(fill.symbol)
        if trade is None:
            trade = self._open[fill.symbol] = _Open()
        trade.pnl += realized_change - fee
        signed = fill.quantity if fill.side.sign > 0 else -fill.quantity
        before = position.quantity - signed
        crossed = before != 0 and (position.quantity == 0 or (before > 0) != (position.quantity > 0))
        if not crossed:
            return None
        closed = ClosedTrade(symbol=fill.symbol, closed_at=fill.timestamp, pnl=trade.pnl)
        self.closed.append(closed)
        # Through zero: what is left is a new trade, opened by this fill at no further cost.
        self._open[fill.symbol] = _Open()
        if position.quantity == 0:
            del self._open[fill.symbol]
        return closed

    def is_open(self, symbol: str | None = None) -> bool:
        """Whether a trade (of ``symbol``, or any) is open."""
        return bool(self._open) if symbol is None else symbol in self._open
