"""The fill log: every fill of a run with its bar and the ledger's cash and position after it.

What the report's trades and the backtest's equity curve are rebuilt from
(:mod:`tradekit.engine.backtest`); the engine appends to it as fills are booked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tradekit.domain.orders import Fill, Liquidity, Side, checked_fill

_BUY = Side.BUY.value
# The plain string of each side and liquidity: a dict read costs a third of the enum's ``.value``.
_VALUE: dict[Side | Liquidity, str] = {member: member.value for member in (*Side, *Liquidity)}


@dataclass(frozen=True, slots=True)
class FillRecord:
    """A fill and the bar it happened on, for the equity curve."""

    index: int
    fill: Fill


#: One fill as the log keeps it: (bar index, fill id, client order id, symbol, side, quantity, price, fee,
#: fee currency, liquidity, timestamp, quote cash after it, position in its symbol after it), sides and
#: liquidity as their string values; the last two as the engine's ledger had them (None if not given).
FillRow = tuple[int, str, str, str, str, Decimal, Decimal, Decimal, str, str, datetime, Decimal | None, Decimal | None]
#: Where a FillRow holds the quote cash and the position after the fill.
CASH_AFTER, HELD_AFTER = 11, 12


class FillLog:
    """Every fill of a run and the bar it happened on, for the report and the equity curve.

    A long backtest keeps tens of thousands of fills. As pydantic objects
    they are four garbage-collected objects each, which Python's collector
    walks again at every full collection (a sixth of a million-bar run's
    time); as tuples of strings, Decimals and datetimes the collector stops
    tracking them. A :class:`FillRecord` with a :class:`Fill` is made again
    when one is asked for.
    """

    __slots__ = ("_rows",)

    def __init__(self) -> None:
        self._rows: list[FillRow] = []

    def append(self, index: int, fill: Fill, cash: Decimal | None = None, held: Decimal | None = None) -> None:
        """Keep ``fill``, which happened on bar ``index``, with the quote ``cash`` and position ``held`` after it.

        The equity curve is read off those two (:func:`tradekit.engine.backtest.equity_curve`).
        """
        # Read from the fill's instance dict: a pydantic model's attributes cost twice a dict's items to read.
        values = fill.__dict__
        self._rows.append(
            (
                index,
                values["fill_id"],
                values["client_order_id"],
                values["symbol"],
                _VALUE[values["side"]],
                values["quantity"],
                values["price"],
                values["fee"],
                values["fee_currency"],
                _VALUE[values["liquidity"]],
                values["timestamp"],
                cash,
                held,
            )
        )

    def rows(self) -> list[FillRow]:
        """The fills as kept (read only), oldest first."""
        return self._rows

    def fills(self) -> list[Fill]:
        """The fills, oldest first."""
        return [_fill(row) for row in self._rows]

    def executions(self) -> Iterator[tuple[str, bool, Decimal, Decimal, Decimal, datetime]]:
        """Each fill as (symbol, True for a buy, quantity, price, fee, timestamp), oldest first.

        What :func:`tradekit.report.trades.trades_from_executions` reads, without building the fills.
        """
        buy = _BUY
        for row in self._rows:
            _index, _id, _order, symbol, side, quantity, price, fee, _currency, _liquidity, timestamp, _, _ = row
            yield symbol, side == buy, quantity, price, fee, timestamp

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, position: int) -> FillRecord:
        row = self._rows[position]
        return FillRecord(row[0], _fill(row))

    def __iter__(self) -> Iterator[FillRecord]:
        for row in self._rows:
            yield FillRecord(row[0], _fill(row))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FillLog):
            return self._rows == other._rows
        if isinstance(other, list):
            return list(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list


def _fill(row: FillRow) -> Fill:
    _index, fill_id, order_id, symbol, side, quantity, price, fee, fee_currency, liquidity, timestamp, _, _ = row
    return checked_fill(
        fill_id, order_id, symbol, Side(side), quantity, price, fee, fee_currency, Liquidity(liquidity), timestamp
    )
