"""Round-trip trades rebuilt from fills, and their CSV file.

A *trade* is one round trip in one symbol: the position goes from flat to
long (or short) through one or more fills and back to flat through one or
more fills. A fill that crosses zero (a flip from long to short, or back)
closes one trade and opens the next at the same price and time; its quantity
and its fee are split between the two in proportion to the quantity that
closed and the quantity that opened.

Accounting is by average price, as in :class:`tradekit.domain.Ledger`, in
``Decimal`` throughout. Fees are assumed to be charged in the quote currency
(what the simulated exchange and the venues tradekit supports do for these
markets), so a trade's profit is its price profit minus its fees.
"""

from __future__ import annotations

import csv
import decimal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from pathlib import Path

from tradekit.domain.orders import Fill, Side
from tradekit.money import MONEY_CONTEXT

ZERO = Decimal(0)

LONG = "long"
SHORT = "short"


@dataclass(frozen=True)
class Trade:
    """One round trip: a position opened from flat and closed back to flat.

    ``entry_price`` is the volume-weighted average price of the fills that
    opened or added to the position, ``exit_price`` that of the fills that
    reduced or closed it (``None`` when nothing was closed yet).
    ``exit_time`` is the time of the fill that brought the position back to
    flat; ``None`` while the trade is still open at the end of the fills.
    ``quantity`` is the largest absolute size the position reached.

    ``pnl`` is realised profit after the fees of the trade's fills: for a
    closed trade exactly ``(exit notional - entry notional) * (+1 long / -1
    short) - fees``; for a trade still open, the profit booked so far on its
    partial exits (against the average entry price) minus all its fees so far,
    so unrealised profit is never counted. ``return_pct`` is
    ``pnl / (entry_price * quantity) * 100``. ``entry_fills`` and
    ``exit_fills`` count the fills on each side (a flip's fill counts once
    in each trade it belongs to).
    """

    symbol: str
    direction: str
    entry_time: datetime
    exit_time: datetime | None
    entry_price: Decimal
    exit_price: Decimal | None
    quantity: Decimal
    pnl: Decimal
    fees: Decimal
    return_pct: float
    entry_fills: int
    exit_fills: int

    @property
    def is_open(self) -> bool:
        """True when the position was still open at the last fill."""
        return self.exit_time is None


@dataclass
class _OpenTrade:
    """A trade being built: what is held and what has happened so far."""

    symbol: str
    sign: int
    entry_time: datetime
    position: Decimal = ZERO
    average_price: Decimal = ZERO
    entry_quantity: Decimal = ZERO
    entry_notional: Decimal = ZERO
    exit_quantity: Decimal = ZERO
    exit_notional: Decimal = ZERO
    realised: Decimal = ZERO
    fees: Decimal = ZERO
    largest: Decimal = ZERO
    entry_fills: int = 0
    exit_fills: int = 0

    def add(self, quantity: Decimal, price: Decimal, fee: Decimal) -> None:
        """Open or add to the position (``quantity`` unsigned)."""
        held = abs(self.position)
        # Opening: the average is the price, which the division would give back.
        self.average_price = price if not held else (self.average_price * held + price * quantity) / (held + quantity)
        self.position += self.sign * quantity
        self.entry_quantity += quantity
        self.entry_notional += price * quantity
        self.fees += fee
        self.largest = max(self.largest, abs(self.position))
        self.entry_fills += 1

    def reduce(self, quantity: Decimal, price: Decimal, fee: Decimal) -> None:
        """Reduce the position by ``quantity`` (unsigned, at most what is held)."""
        self.realised += (price - self.average_price) * quantity * self.sign
        self.position -= self.sign * quantity
        self.exit_quantity += quantity
        self.exit_notional += price * quantity
        self.fees += fee
        self.exit_fills += 1

    def finish(self, exit_time: datetime | None) -> Trade:
        """The :class:`Trade` as it stands; closed when ``exit_time`` is given."""
        entry_price = self.entry_notional / self.entry_quantity
        if exit_time is not None:
            # Flat again: the profit is the cash that came back minus the cash
            # that went in, with no division, so it is exact to the last digit.
            gross = (self.exit_notional - self.entry_notional) * self.sign
        else:
            gross = self.realised
        pnl = gross - self.fees
        exit_price = self.exit_notional / self.exit_quantity if self.exit_quantity else None
        return Trade(
            symbol=self.symbol,
            direction=LONG if self.sign > 0 else SHORT,
            entry_time=self.entry_time,
            exit_time=exit_time,
            entry_price=entry_price,
            exit_price=exit_price,
            quantity=self.largest,
            pnl=pnl,
            fees=self.fees,
            return_pct=float(pnl / (entry_price * self.largest)) * 100.0,
            entry_fills=self.entry_fills,
            exit_fills=self.exit_fills,
        )


#: One execution as :func:`trades_from_executions` reads it: (symbol, True for a buy, quantity, price,
#: fee, timestamp), quantity and price positive.
Execution = tuple[str, bool, Decimal, Decimal, Decimal, datetime]


def trades_from_fills(fills: Iterable[Fill]) -> list[Trade]:
    """Rebuild the round-trip trades of a run from its fills.

    Each symbol is followed on its own. Fills are taken in time order (fills
    with the same timestamp keep the order they were given in). The result is
    ordered by entry time; a trade still open after the last fill comes last
    for its symbol with ``exit_time=None``.
    """
    buy = Side.BUY
    return trades_from_executions(
        (fill.symbol, fill.side is buy, fill.quantity, fill.price, fill.fee, fill.timestamp) for fill in fills
    )


def trades_from_executions(executions: Iterable[Execution]) -> list[Trade]:
    """:func:`trades_from_fills` for fills given as :data:`Execution` tuples.

    A backtest keeps its fills as plain tuples (see
    :class:`tradekit.engine.core.FillLog`); reading them as such spares
    building tens of thousands of ``Fill`` models only to read six fields.
    """
    ordered = sorted(executions, key=_timestamp)
    open_trades: dict[str, _OpenTrade] = {}
    done: list[Trade] = []
    with decimal.localcontext(MONEY_CONTEXT):
        for symbol, is_buy, quantity, price, fee, timestamp in ordered:
            sign = 1 if is_buy else -1
            current = open_trades.get(symbol)
            if current is None:
                current = open_trades[symbol] = _OpenTrade(symbol, sign, timestamp)
                current.add(quantity, price, fee)
            elif current.sign == sign:
                current.add(quantity, price, fee)
            else:
                held = abs(current.position)
                closing = min(quantity, held)
                # Split the fee by quantity; the remainder by subtraction so the
                # two parts always sum to the fill's fee exactly.
                closing_fee = fee if closing == quantity else fee * closing / quantity
                current.reduce(closing, price, closing_fee)
                if current.position == 0:
                    done.append(current.finish(timestamp))
                    del open_trades[symbol]
                    opening = quantity - closing
                    if opening > 0:
                        flipped = open_trades[symbol] = _OpenTrade(symbol, sign, timestamp)
                        flipped.add(opening, price, fee - closing_fee)
        done.extend(still_open.finish(None) for still_open in open_trades.values())
    return sorted(done, key=lambda trade: trade.entry_time)


_timestamp = itemgetter(5)


TRADE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Trade))


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        # Fixed-point, never exponent notation: exact, and a spreadsheet reads it.
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_trades_csv(trades: Sequence[Trade], path: Path) -> None:
    """Write ``trades`` to a CSV file with a header row, one trade per row.

    Columns are the fields of :class:`Trade` in order. Decimals are written
    exactly in fixed-point notation, times in ISO 8601 with their UTC offset,
    and a missing exit time or price as an empty cell.
    """
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(TRADE_COLUMNS)
        for trade in trades:
            writer.writerow([_cell(getattr(trade, name)) for name in TRADE_COLUMNS])


def read_trades_csv(path: Path) -> list[Trade]:
    """Read back a file written by :func:`write_trades_csv`.

    Raises ``ValueError`` naming the file and row when a row cannot be read.
    """
    trades: list[Trade] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(TRADE_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path} is not a trades file: columns {sorted(missing)} are missing")
        for line, row in enumerate(reader, start=2):
            try:
                trades.append(
                    Trade(
                        symbol=row["symbol"],
                        direction=row["direction"],
                        entry_time=datetime.fromisoformat(row["entry_time"]),
                        exit_time=datetime.fromisoformat(row["exit_time"]) if row["exit_time"] else None,
                        entry_price=Decimal(row["entry_price"]),
                        exit_price=Decimal(row["exit_price"]) if row["exit_price"] else None,
                        quantity=Decimal(row["quantity"]),
                        pnl=Decimal(row["pnl"]),
                        fees=Decimal(row["fees"]),
                        return_pct=float(row["return_pct"]),
                        entry_fills=int(row["entry_fills"]),
                        exit_fills=int(row["exit_fills"]),
                    )
                )
            except (ValueError, decimal.InvalidOperation) as error:
                raise ValueError(f"{path}, line {line}: cannot read the trade ({error})") from error
    return trades
