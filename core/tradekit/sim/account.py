"""The simulated venue's account: cash, positions, open orders and what they hold back.

:class:`Account` keeps the :class:`~tradekit.domain.portfolio.Ledger`, the
book of open orders per symbol and the last close shown per symbol, and
answers the venue's money questions: how much of a currency new orders may
use (:meth:`Account.free`), how much of an order may fill now
(:meth:`Account.capacity`), and the balances the venue reports.

Locks
    What open orders hold back per quote currency is a sum over those orders.
    It is kept per currency and summed again only when that currency's book
    changes (an order is added, removed or fills; for a margin currency also
    when a margin position in it moves, as margin locks depend on positions),
    so an order that arrives and fills at once does not pay for the orders
    resting on the book. Each order's own lock is kept too, and worked out
    again only when its remaining quantity or (margin) its symbol's position
    changes. The sum is taken
    over the same orders in the same order as a from-scratch sum, so it is the
    same Decimal to the last digit and exponent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tradekit.domain.instruments import Instrument, InstrumentKind
from tradekit.domain.orders import Fill, Order, OrderType, Side
from tradekit.domain.portfolio import Balance, Ledger
from tradekit.money import ONE, ZERO, to_decimal
from tradekit.sim.pricing import FeeSchedule, fee_amount

# Enum members the per-order path reads, bound once: reading one off its class costs about 70 ns on
# Python 3.11, ten times a module global, and an order reads a few dozen.
_MARKET, _STOP = OrderType.MARKET, OrderType.STOP
_BUY, _SELL = Side.BUY, Side.SELL
_SPOT = InstrumentKind.SPOT


@dataclass(eq=False, slots=True)
class Resting:
    """An accepted order the venue still works on, and what the venue needs to know about it."""

    order: Order
    instrument: Instrument
    sequence: int
    # The price a market order's funds were checked at (locks that much cash while it waits).
    reference_price: Decimal | None
    # Submitted without a market price: it reaches the venue at the next bar's open.
    arriving: bool
    fills: int = 0
    filled_this_bar: Decimal = ZERO
    # Whether it sits in the account's book (and so counts in the locks).
    in_book: bool = False
    # The venue's note of the price that wakes it (see tradekit.sim.venue._wake_point); None: not known yet.
    wake: tuple[Decimal, bool, float] | None = None
    # What it holds back (Account.lock) until that changes; None: to be worked out again.
    held_back: Decimal | None = None


class Account:
    """Cash, positions and open orders of the simulated venue's one account; see the module docstring.

    ``book`` maps each symbol that ever had an accepted order to its open
    orders by client order id, in submission order; change it only through
    :meth:`book_of`, :meth:`add`, :meth:`remove` and :meth:`fill`, which keep
    the locks current.
    """

    def __init__(self, instruments: dict[str, Instrument], cash: dict[str, Decimal], fees: FeeSchedule) -> None:
        self.instruments = instruments
        self.fees = fees
        self.ledger = Ledger(cash=cash, instruments=instruments)
        self.book: dict[str, dict[str, Resting]] = {}
        self.margin_currencies = {i.quote for i in instruments.values() if i.kind is not _SPOT}
        # Margin instruments per quote currency, in the order of ``instruments`` (sums keep that order).
        self._margin_instruments: dict[str, list[Instrument]] = {}
        for instrument in instruments.values():
            if instrument.kind is not _SPOT:
                self._margin_instruments.setdefault(instrument.quote, []).append(instrument)
        # Each quote currency's books, in the order the symbols got a book.
        self._books_by_quote: dict[str, list[dict[str, Resting]]] = {}
        self._open_by_quote: dict[str, int] = {}
        # Sums kept until what they sum changes: locks per quote currency, resting sells per symbol.
        self._locked: dict[str, Decimal] = {}
        self._reserved: dict[str, Decimal] = {}
        # The close of the last bar shown per symbol, that bar's time, and the close on the tick.
        self._last_close: dict[str, float] = {}
        self._last_bar_time: dict[str, datetime] = {}
        self._last_price: dict[str, Decimal] = {}
        self._last_fee = (ZERO, ZERO, fee_amount(ZERO, ZERO))

    # -- changes -------------------------------------------------------------------------------

    def book_of(self, symbol: str) -> dict[str, Resting]:
        """The open orders of ``symbol`` (a known instrument), creating its book on first use."""
        book = self.book.get(symbol)
        if book is None:
            book = self.book[symbol] = {}
            self._books_by_quote.setdefault(self.instruments[symbol].quote, []).append(book)
        return book

    def add(self, resting: Resting) -> None:
        """Put ``resting`` on the book: it rests and holds back what it may spend."""
        order = resting.order
        self.book_of(order.symbol)[order.client_order_id] = resting
        resting.in_book = True
        quote = resting.instrument.quote
        self._open_by_quote[quote] = self._open_by_quote.get(quote, 0) + 1
        self._changed(resting)

    def remove(self, resting: Resting) -> bool:
        """Take ``resting`` off the book; False when it was not on it (it finished as it arrived)."""
        if not resting.in_book:
            return False
        order = resting.order
        del self.book[order.symbol][order.client_order_id]
        resting.in_book = False
        self._open_by_quote[resting.instrument.quote] -= 1
        self._changed(resting)
        return True

    def fill(self, resting: Resting, fill: Fill) -> None:
        """Book ``fill`` of ``resting`` in the ledger and on the order."""
        self.ledger.book_fill(fill)
        values = fill.__dict__  # a pydantic model's attributes cost twice a dict's items to read
        resting.order.record_fill(values["quantity"], values["price"], values["fee"], at=values["timestamp"])
        if resting.in_book:
            self._changed(resting)
        if resting.instrument.kind is not _SPOT:
            # The margin locks of this symbol's orders depend on the position they would add to, which moved.
            self._locked.pop(resting.instrument.quote, None)
            for other in self.book.get(resting.order.symbol, {}).values():
                other.held_back = None

    def show_bar(self, symbol: str, now: datetime, close: float) -> None:
        """Remember the close of the bar of ``symbol`` shown at ``now``."""
        self._last_close[symbol] = close
        self._last_bar_time[symbol] = now
        self._last_price.pop(symbol, None)

    def _changed(self, resting: Resting) -> None:
        """Forget what ``resting`` holds back and the sums it is part of."""
        resting.held_back = None
        self._locked.pop(resting.instrument.quote, None)
        self._reserved.pop(resting.order.symbol, None)

    # -- prices --------------------------------------------------------------------------------

    def cash(self, currency: str) -> Decimal:
        """Cash held in ``currency``."""
        return self.ledger.cash.get(currency, ZERO)

    def last_price(self, symbol: str) -> Decimal | None:
        """The close of the last bar shown for ``symbol``, on the tick, or None."""
        price = self._last_price.get(symbol)
        if price is None:
            close = self._last_close.get(symbol)
            if close is None:
                return None
            price = self._last_price[symbol] = self.instruments[symbol].round_price(to_decimal(close))
        return price

    def current_close(self, symbol: str, now: datetime) -> Decimal | None:
        """The close of the bar shown at ``now``, or None.

        The engine shows the venue only the bars on which orders rest, so an
        older close may be far from the market: an order sent without a market
        price is then checked against its own price only, and a market order's
        cash when it fills.
        """
        return self.last_price(symbol) if self._last_bar_time.get(symbol) == now else None

    def mark(self, symbol: str) -> Decimal:
        """The price positions in ``symbol`` are valued at: the last close, else their entry price."""
        last = self.last_price(symbol)
        return last if last is not None else self.ledger.position(symbol).average_price

    # -- what orders hold back -----------------------------------------------------------------

    def reserved_sells(self, symbol: str) -> Decimal:
        """Quantity of ``symbol`` held back by resting sells (spot)."""
        reserved = self._reserved.get(symbol)
        if reserved is None:
            reserved = self._reserved[symbol] = sum(
                (r.order.remaining_quantity for r in self.book.get(symbol, {}).values() if r.order.side is _SELL),
                ZERO,
            )
        return reserved

    def added_exposure(self, symbol: str, side: Side, quantity: Decimal) -> Decimal:
        """How much ``quantity`` on ``side`` would grow the absolute position in ``symbol``."""
        held = self.ledger.quantity(symbol)
        return max(abs(held + side.sign * quantity) - abs(held), ZERO)

    def lock(self, resting: Resting) -> Decimal:
        """Quote currency ``resting`` holds back while it rests."""
        order = resting.order
        if order.type is _MARKET:
            level = resting.reference_price
        elif order.type is _STOP:
            level = order.trigger_price
        else:
            level = order.price
        if level is None:
            return ZERO
        rate = self.fees.taker if order.type in (_MARKET, _STOP) else self.fees.maker
        remaining = order.remaining_quantity
        instrument = resting.instrument
        if instrument.kind is _SPOT:
            return remaining * level * (1 + rate) if order.side is _BUY else ZERO
        if order.reduce_only:
            return ZERO
        added = self.added_exposure(order.symbol, order.side, remaining)
        return added * level / instrument.max_leverage + remaining * level * rate

    def locked(self, currency: str, exclude: Resting | None = None) -> Decimal:
        """What the open orders quoted in ``currency`` hold back, leaving ``exclude`` out."""
        if exclude is None or not exclude.in_book:
            locked = self._locked.get(currency)
            if locked is None:
                locked = self._locked[currency] = self._sum_locks(currency, None)
            return locked
        return self._sum_locks(currency, exclude)

    def _sum_locks(self, currency: str, exclude: Resting | None) -> Decimal:
        if not self._open_by_quote.get(currency):
            return ZERO
        books = self._books_by_quote.get(currency, ())
        return sum((self._held_back(r) for book in books for r in book.values() if r is not exclude), ZERO)

    def _held_back(self, resting: Resting) -> Decimal:
        held_back = resting.held_back
        if held_back is None:
            held_back = resting.held_back = self.lock(resting)
        return held_back

    # -- what is left --------------------------------------------------------------------------

    def equity(self, currency: str) -> Decimal:
        """Cash plus margin positions at their marks (spot holdings are not collateral)."""
        total = self.cash(currency)
        for instrument in self._margin_instruments.get(currency, ()):
            held = self.ledger.quantity(instrument.symbol)
            if held:
                total += held * self.mark(instrument.symbol)
        return total

    def free(self, currency: str, exclude: Resting | None = None) -> Decimal:
        """What new orders may use of ``currency``: cash (or free margin) minus other orders' locks."""
        locked = self._locked.get(currency) if exclude is None or not exclude.in_book else None
        if locked is None:
            locked = self.locked(currency, exclude)
        if currency not in self.margin_currencies:
            return self.cash(currency) - locked
        used = ZERO
        for instrument in self._margin_instruments[currency]:
            symbol = instrument.symbol
            held = self.ledger.quantity(symbol)
            # A flat position never seen at a bar is marked at its entry price, which is zero.
            mark = self.mark(symbol) if held or symbol in self._last_close else ZERO
            used += abs(held) * mark / instrument.max_leverage
        return self.equity(currency) - used - locked

    def capacity(
        self,
        resting: Resting,
        remaining: Decimal,
        price: Decimal,
        rate: Decimal,
        bar_cap: Decimal | None,
        volume_limit: Decimal | None,
    ) -> tuple[Decimal, str, bool]:
        """How much of ``resting`` may fill at ``price`` now, why not more, and whether the rest never can.

        ``remaining`` is what is left of the order, ``bar_cap`` what one order
        may fill in the bar being walked (None: no cap), ``volume_limit`` the
        fraction of the bar's volume that cap came from. The tightest limit
        wins; at a tie, a final one (the rest can never fill) wins over one
        that passes with the bar.
        """
        order = resting.order
        instrument = resting.instrument
        symbol = order.symbol
        best: tuple[Decimal, str, bool] = (remaining, "", False)
        # Reasons are formatted only for the limit that wins: this runs on every fill.
        if bar_cap is not None:
            quantity = bar_cap - resting.filled_this_bar
            if quantity < remaining:
                why = f"volume limit: at most {bar_cap} per bar, {volume_limit} of the bar's volume"
                best = (max(quantity, ZERO), why, False)
        held = self.ledger.quantity(symbol)
        if order.reduce_only:
            room = max(-held if order.side is _BUY else held, ZERO)
            if _tighter(room, best[0], remaining):
                why = f"reduce-only: the position in {symbol} was {held}, so at most {room} could reduce it"
                best = (max(room, ZERO), why, True)
        if instrument.kind is _SPOT:
            if order.side is _SELL:
                if _tighter(held, best[0], remaining):
                    best = (max(held, ZERO), f"only {held} {instrument.base} held; spot cannot go short", True)
            else:
                affordable = self._affordable(resting, remaining, price, rate)
                if _tighter(affordable, best[0], remaining):
                    why = f"insufficient {instrument.quote}: {affordable} {symbol} affordable at {price}"
                    best = (max(affordable, ZERO), why, True)
        return best

    def _affordable(self, resting: Resting, remaining: Decimal, price: Decimal, rate: Decimal) -> Decimal:
        """The largest quantity (whole lots) of a spot buy at ``price`` that free cash pays, fee included."""
        instrument = resting.instrument
        free = self.free(instrument.quote, exclude=resting)
        if free <= ZERO:
            return ZERO
        affords = free / (price * (ONE + rate))
        # At least a lot more than remains: rounding it down to the lot cannot reach what remains.
        if affords >= remaining + instrument.lot_size:
            quantity = remaining
        else:
            quantity = min(instrument.round_quantity(affords), remaining)
        while quantity > ZERO and quantity * price + self.fee(quantity * price, rate) > free:
            quantity -= instrument.lot_size
        return max(quantity, ZERO)

    def fee(self, notional: Decimal, rate: Decimal) -> Decimal:
        """:func:`~tradekit.sim.pricing.fee_amount` of ``notional`` at ``rate``, remembering the last one.

        A fill's fee is first needed to size the fill and then to book it; the
        fee depends only on the two values (the rate is always one of the
        schedule's two), so the second call reuses the first.
        """
        last_notional, last_rate, last_fee = self._last_fee
        if rate is last_rate and notional == last_notional:
            return last_fee
        fee = fee_amount(notional, rate)
        self._last_fee = (notional, rate, fee)
        return fee

    def balances(self) -> dict[str, Balance]:
        """Cash and spot holdings per currency; see :meth:`SimulatedVenue.balances`."""
        currencies = list(self.ledger.cash)
        for instrument in self.instruments.values():
            if (
                instrument.kind is _SPOT
                and instrument.base not in currencies
                and (self.ledger.quantity(instrument.symbol) != 0 or self.reserved_sells(instrument.symbol))
            ):
                currencies.append(instrument.base)
        result: dict[str, Balance] = {}
        for currency in currencies:
            total = free = ZERO
            if currency in self.ledger.cash or currency in self.margin_currencies:
                total = self.equity(currency) if currency in self.margin_currencies else self.cash(currency)
                free = self.free(currency)
            for instrument in self.instruments.values():
                if instrument.kind is _SPOT and instrument.base == currency:
                    held = self.ledger.quantity(instrument.symbol)
                    total += held
                    free += held - self.reserved_sells(instrument.symbol)
            result[currency] = Balance(currency=currency, total=total, free=free)
        return result


def _tighter(quantity: Decimal, best: Decimal, remaining: Decimal) -> bool:
    """Whether a final limit of ``quantity`` replaces the tightest so far, ``best``."""
    return quantity < best or (quantity == best and quantity < remaining)
