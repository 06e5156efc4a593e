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
from datetime import UTC, datetime
from decimal import Decimal
from operator import attrgetter, itemgetter
from pathlib import Path

from tradekit.domain.orders import Fill, Side
from tradekit.money import MONEY_CONTEXT, ONE, ZERO

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
    symbols = {execution[0] for execution in ordered}
    with decimal.localcontext(MONEY_CONTEXT):
        if len(symbols) <= 1:
            done = _symbol_trades(enumerate(ordered))[0]
        else:
            done = _merge_symbols(ordered)
    return sorted(done, key=_entry_time)


def _merge_symbols(ordered: list[Execution]) -> list[Trade]:
    """Each symbol's trades, in the order one pass over all the fills would close them.

    Closed trades come in the order of the fills that closed them, then the
    trades still open in the order of the fills that opened them, so trades
    with equal entry times keep one order whatever the symbols are called.
    """
    by_symbol: dict[str, list[tuple[int, Execution]]] = {}
    for index, execution in enumerate(ordered):
        by_symbol.setdefault(execution[0], []).append((index, execution))
    trades: list[Trade] = []
    keys: list[int] = []
    for rows in by_symbol.values():
        symbol_trades, closed_at, opened_at = _symbol_trades(rows)
        trades.extend(symbol_trades)
        keys.extend(closed_at)
        if opened_at is not None:
            keys.append(len(ordered) + opened_at)  # after every closed trade
    return [trades[k] for k in sorted(range(len(trades)), key=keys.__getitem__)]


def _symbol_trades(rows: Iterable[tuple[int, Execution]]) -> tuple[list[Trade], list[int], int | None]:
    """The trades of one symbol's fills (in time order, each with its index among all fills).

    Returns the trades in the order they closed, the trade still open after
    the last fill (if any) last; the index of the fill that closed each closed
    trade; and the index of the fill that opened the open trade (``None`` when
    flat). Runs in the caller's money context. (Indices go in a list of their
    own rather than in a tuple per trade: a tuple per trade is one more object
    for the garbage collector to count and walk.)

    The state of the trade being built is in local variables rather than an
    object: this loop runs once per fill of a backtest, and attribute access
    was most of its cost. Each line is the same ``Decimal`` operation, in the
    same order, as average-price accounting written out step by step, so every
    digit and exponent of the results is the same too (a property test holds
    the trades equal to such a plain version, field by field).
    """
    trades: list[Trade] = []
    closed_at: list[int] = []
    is_open = False
    symbol = ""
    sign = ONE
    opened_at = 0
    entry_time = _EPOCH
    position = average_price = entry_quantity = entry_notional = ZERO
    exit_quantity = exit_notional = realised = fees = largest = ZERO
    entry_fills = exit_fills = 0
    for index, (symbol, is_buy, quantity, price, fee, timestamp) in rows:
        fill_sign = ONE if is_buy else _MINUS_ONE
        if is_open and fill_sign is not sign:
            # Reduce (or close) the position; what is left of the fill past flat opens the next trade.
            held = abs(position)
            closing = held if held < quantity else quantity  # min(quantity, held), without the call
            # Split the fee by quantity; the remainder by subtraction so the
            # two parts always sum to the fill's fee exactly.
            closing_fee = fee if closing == quantity else fee * closing / quantity
            realised += (price - average_price) * closing * sign
            position -= sign * closing
            exit_quantity += closing
            exit_notional += price * closing
            fees += closing_fee
            exit_fills += 1
            if position:
                continue
            # Flat again: the profit is the cash that came back minus the cash
            # that went in, with no division, so it is exact to the last digit.
            pnl = (exit_notional - entry_notional) * sign - fees
            sides = (entry_quantity, entry_notional, entry_fills, exit_quantity, exit_notional, exit_fills)
            trades.append(_trade(symbol, sign, entry_time, timestamp, sides, largest, pnl, fees))
            closed_at.append(index)
            is_open = False
            quantity = quantity - closing
            if not quantity > ZERO:
                continue
            fee = fee - closing_fee
        if not is_open:
            is_open = True
            sign = fill_sign
            entry_time = timestamp
            opened_at = index
            position = average_price = entry_quantity = entry_notional = ZERO
            exit_quantity = exit_notional = realised = fees = largest = ZERO
            entry_fills = exit_fills = 0
        # Open or add to the position.
        held = abs(position)
        # Opening: the average is the price, which the division would give back.
        average_price = price if not held else (average_price * held + price * quantity) / (held + quantity)
        position += sign * quantity
        entry_quantity += quantity
        entry_notional += price * quantity
        fees += fee
        size = abs(position)
        if size > largest:  # max(largest, size), without the call
            largest = size
        entry_fills += 1
    if not is_open:
        return trades, closed_at, None
    # Still open: only the profit booked on partial exits counts, never the unrealised part.
    pnl = realised - fees
    sides = (entry_quantity, entry_notional, entry_fills, exit_quantity, exit_notional, exit_fills)
    trades.append(_trade(symbol, sign, entry_time, None, sides, largest, pnl, fees))
    return trades, closed_at, opened_at


def _trade(
    symbol: str,
    sign: Decimal,
    entry_time: datetime,
    exit_time: datetime | None,
    sides: tuple[Decimal, Decimal, int, Decimal, Decimal, int],
    quantity: Decimal,
    pnl: Decimal,
    fees: Decimal,
) -> Trade:
    """The :class:`Trade` of a round trip, made without the frozen dataclass's ``__init__``.

    ``sides`` is (quantity, notional, fills) of its entries, then of its exits.
    A frozen dataclass sets each field through ``object.__setattr__``; filling
    the instance dictionary at once costs less than half as much, and a
    backtest makes one trade per round trip. ``Trade`` has no defaults and no
    ``__post_init__``, so the result is the same object (a test holds the two
    equal, field by field).
    """
    entry_quantity, entry_notional, entry_fills, exit_quantity, exit_notional, exit_fills = sides
    entry_price = entry_notional / entry_quantity
    trade = _new(Trade)
    _set(
        trade,
        "__dict__",
        {
            "symbol": symbol,
            "direction": LONG if sign is ONE else SHORT,
            "entry_time": entry_time,
            "exit_time": exit_time,
            "entry_price": entry_price,
            "exit_price": exit_notional / exit_quantity if exit_quantity else None,
            "quantity": quantity,
            "pnl": pnl,
            "fees": fees,
            "return_pct": float(pnl / (entry_price * quantity)) * 100.0,
            "entry_fills": entry_fills,
            "exit_fills": exit_fills,
        },
    )
    return trade


# Signs as Decimals: multiplying by an int converts it first, the same value at a higher cost.
_MINUS_ONE = Decimal(-1)
_new = object.__new__
_set = object.__setattr__
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_timestamp = itemgetter(5)
_entry_time = attrgetter("entry_time")


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
