"""The simulated venue: an account and an order book that fill against bars.

Backtests, dry runs and the ``paper`` exchange all trade on a
:class:`SimulatedVenue`. The engine submits orders, feeds it bars and drains
the events it produced; the venue behaves like a real one.

Arrival
    ``submit`` validates an order the way a venue does and answers with an
    ``OrderUpdate``: REJECTED with a reason (unknown symbol, duplicate client
    order id, off-tick price, off-lot or too small quantity, not enough free
    cash or base or margin, post-only that would take, reduce-only that would
    not reduce), or ACCEPTED. The order then *arrives* at ``market_price``: a
    market order fills there, a marketable limit fills there as taker (never
    beyond its limit), a stop whose trigger is already crossed **triggers at
    once** rather than being rejected (as most venues do). With
    ``market_price=None`` the order arrives at the open of the next
    ``process_bar`` instead.

Inside a bar
    ``process_bar`` walks the assumed path (open -> low -> high -> close when
    the bar closes up or flat, open -> high -> low -> close otherwise; see
    :mod:`tradekit.sim.pricing`) and wakes orders in the order the path reaches
    their prices; orders reached at the same price wake in submission order.
    A limit fills at its price, or at the open when the bar opens beyond it, as
    maker. A stop fills as a taker at the first path price at which its
    condition holds (its trigger, or the open when the bar gapped through it).
    A triggered stop-limit becomes a limit at its price: marketable there, it
    fills at once as taker; otherwise it rests and may fill later in the same
    bar, as maker. A post-only order that would take at its (deferred) arrival
    or at its trigger EXPIRES, since an accepted order can no longer be
    rejected.

Limits on a fill
    ``volume_limit`` caps what one order fills per bar walked by
    ``process_bar`` at that fraction of the bar's volume; the rest keeps
    resting (PARTIALLY_FILLED). Fills on arrival at the engine's
    ``market_price`` are not capped: the venue is not shown every bar, so it
    cannot know that bar's volume. IOC fills what it can in its immediate
    phase (arrival, or trigger for stops) and the rest EXPIRES; FOK fills whole
    then or EXPIRES. A reduce-only order is capped at fill time to what is held
    and never flips a position. On spot, a buy never spends cash that other
    resting orders hold back and a sell never sells more than is held: what
    cannot fill for those reasons is CANCELLED with the reason.

Money
    Fill prices are on the tick (bar floats become Decimals through their
    shortest repr, then are rounded to the tick; slippage rounds against the
    taker). Fees are in the quote currency, ``notional * rate`` rounded
    half-even to 1e-12. Cash and positions live in a :class:`Ledger` (spot-style:
    a buy spends the notional, also on perpetuals); base holdings are
    positions, one per symbol.

Margin (every kind but spot)
    Shorts are allowed. An order that adds exposure needs ``added notional /
    max_leverage + fee`` of free margin: equity of the currency (cash plus
    margin positions at the last close) minus the margin of open positions and
    of resting orders. There are no liquidations or funding payments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import pairwise

from tradekit.domain.bars import FloatArray
from tradekit.domain.instruments import Instrument, InstrumentKind
from tradekit.domain.orders import (
    Fill,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    TimeInForce,
    TriggerDirection,
)
from tradekit.domain.portfolio import Balance, Ledger, Position
from tradekit.errors import ConfigError, InvalidTransitionError, OrderNotFound
from tradekit.money import to_decimal
from tradekit.sim.pricing import (
    FeeSchedule,
    NoSlippage,
    Slippage,
    fee_amount,
    first_reach_index,
    intrabar_path,
)

ZERO = Decimal(0)


@dataclass(eq=False)
class _Resting:
    """An open order and what the venue needs to know about it."""

    order: Order
    instrument: Instrument
    sequence: int
    # The price a market order's funds were checked at (locks that much cash while it waits).
    reference_price: Decimal | None
    # Submitted without a market price: it reaches the venue at the next bar's open.
    arriving: bool
    fills: int = 0
    filled_this_bar: Decimal = ZERO


def _level(order: Order) -> tuple[Decimal, bool]:
    """The price that wakes ``order``, and True if it wakes at or below it (False: at or above)."""
    if order.type is OrderType.LIMIT or (order.type is OrderType.STOP_LIMIT and order.triggered):
        assert order.price is not None  # checked on submission
        return order.price, order.side is Side.BUY
    assert order.trigger_price is not None  # checked on submission
    return order.trigger_price, order.trigger_direction is TriggerDirection.FALLING


def _show(amount: Decimal) -> str:
    """An amount for a message: no trailing zeros, no exponent (``10100.000000`` -> ``10100``)."""
    return format(amount.normalize(), "f")


def _marketable(side: Side, limit: Decimal, market: Decimal) -> bool:
    """Whether a limit at ``limit`` would trade against a market at ``market``."""
    return market <= limit if side is Side.BUY else market >= limit


def _shape_problem(order: Order) -> str | None:
    """Why the fields of ``order`` do not fit its type, or None."""
    kind = order.type.value
    if order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and order.price is None:
        return f"a {kind} order needs a limit price"
    if order.type in (OrderType.MARKET, OrderType.STOP) and order.price is not None:
        return f"a {kind} order takes no limit price, got {order.price}"
    if order.type in (OrderType.STOP, OrderType.STOP_LIMIT) and (
        order.trigger_price is None or order.trigger_direction is None
    ):
        return f"a {kind} order needs a trigger price and a trigger direction"
    if order.type in (OrderType.MARKET, OrderType.LIMIT) and order.trigger_price is not None:
        return f"a {kind} order takes no trigger price, got {order.trigger_price}"
    if order.post_only and order.type not in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        return f"post-only applies to limit and stop-limit orders only, not to a {kind} order"
    return None


class SimulatedVenue:
    """A venue that holds one account and fills its orders against bars; see the module docstring.

    ``instruments`` maps each tradable symbol to its rules, ``cash`` the
    starting cash per currency (quote currencies: base holdings come from
    fills), ``fees`` the maker and taker rates, ``slippage`` what taker fills
    lose (none by default), ``volume_limit`` the largest fraction of a bar's
    volume one order may fill in that bar (no cap by default).
    """

    def __init__(
        self,
        instruments: dict[str, Instrument],
        cash: dict[str, Decimal],
        fees: FeeSchedule,
        slippage: Slippage | None = None,
        *,
        volume_limit: Decimal | None = None,
        name: str = "paper",
    ) -> None:
        for symbol, instrument in instruments.items():
            if symbol != instrument.symbol:
                raise ValueError(f"instrument {instrument.symbol} is listed under another symbol, {symbol}")
        quotes = {instrument.quote for instrument in instruments.values()}
        starting = {currency: to_decimal(amount) for currency, amount in cash.items()}
        for currency, amount in starting.items():
            if amount < 0:
                raise ConfigError(f"starting cash in {currency} cannot be negative, was {amount}")
            spot_base = [i.symbol for i in instruments.values() if i.base == currency and i.kind is InstrumentKind.SPOT]
            if spot_base and currency not in quotes:
                raise ConfigError(
                    f"starting cash in {currency}: {currency} is the base of {', '.join(spot_base)}, which "
                    "the simulated venue holds as a position built by fills; start with quote cash and buy it"
                )
        if volume_limit is not None:
            volume_limit = to_decimal(volume_limit)
            if not ZERO < volume_limit <= 1:
                raise ConfigError(
                    "volume_limit is the fraction of a bar's volume one order may fill, between 0 "
                    f"(excluded) and 1; was {volume_limit}"
                )
        self.name = name
        self.instruments = dict(instruments)
        self.fees = fees
        self.slippage: Slippage = slippage if slippage is not None else NoSlippage()
        self.volume_limit = volume_limit
        self.ledger = Ledger(cash=starting, instruments=self.instruments)
        self._margin_currencies = {i.quote for i in instruments.values() if i.kind is not InstrumentKind.SPOT}
        self._orders: dict[str, Order] = {}
        self._book: dict[str, dict[str, _Resting]] = {}
        self._events: list[OrderUpdate | Fill] = []
        self._sequence = 0
        # The close of the last bar shown per symbol, and that bar's time.
        self._last_close: dict[str, float] = {}
        self._last_bar_time: dict[str, datetime] = {}
        # Per symbol: (highest level woken from above, lowest woken from below, something due at the open),
        # kept until that symbol's book changes, so an idle bar costs two float comparisons.
        self._wake_levels: dict[str, tuple[float, float, bool]] = {}
        # The fill cap of the bar being walked; None outside process_bar or without a volume limit.
        self._bar_cap: Decimal | None = None

    # -- the engine's side ------------------------------------------------------------

    def submit(self, order: Order, now: datetime, market_price: Decimal | None) -> None:
        """Validate ``order`` (status NEW), acknowledge or reject it, and let it arrive at ``market_price``.

        ``market_price`` is the price the order meets now (the engine passes the
        bar's close); None means it arrives at the open of the next bar given to
        :meth:`process_bar`. A refusal is a REJECTED event with the reason, not
        an exception.
        """
        if order.status is not OrderStatus.NEW:
            raise InvalidTransitionError(
                f"order {order.client_order_id} is {order.status}; only a NEW order can be submitted"
            )
        client_order_id = order.client_order_id
        if client_order_id in self._orders:
            self._reject(
                order,
                now,
                f"duplicate client order id {client_order_id!r}: {self.name} already has an order "
                "with it; send a new id",
            )
            return
        self._orders[client_order_id] = order
        instrument = self.instruments.get(order.symbol)
        if instrument is None:
            known = ", ".join(sorted(self.instruments)) or "nothing"
            self._reject(order, now, f"unknown symbol {order.symbol!r} on {self.name}; it trades {known}")
            return
        market = None
        if market_price is not None:
            raw = to_decimal(market_price)
            if raw <= 0:
                raise ValueError(f"market price of {order.symbol} must be positive, was {market_price}")
            market = max(instrument.round_price(raw), instrument.tick_size)
        reference = market if market is not None else self._current_close(order.symbol, now)
        problem = self._problem(order, instrument, reference)
        if problem is not None:
            self._reject(order, now, problem)
            return
        self._sequence += 1
        order.exchange_order_id = f"{self.name}-{self._sequence}"
        order.transition(OrderStatus.ACCEPTED, at=now)
        self._events.append(self._update(order, now))
        resting = _Resting(
            order=order,
            instrument=instrument,
            sequence=self._sequence,
            reference_price=reference if order.type is OrderType.MARKET else None,
            arriving=market is None and order.type in (OrderType.MARKET, OrderType.LIMIT),
        )
        self._book.setdefault(order.symbol, {})[client_order_id] = resting
        self._wake_levels.pop(order.symbol, None)
        if market is not None:
            self._arrive(resting, market, now)

    def cancel(self, client_order_id: str, now: datetime) -> None:
        """Cancel an open order (a CANCELLED event); raise :class:`OrderNotFound` for any other."""
        order = self._orders.get(client_order_id)
        if order is None:
            raise OrderNotFound(f"{self.name} has no order with client order id {client_order_id!r}")
        resting = self._book.get(order.symbol, {}).get(client_order_id)
        if resting is None:
            raise OrderNotFound(
                f"order {client_order_id!r} on {self.name} is {order.status}, not open; there is nothing to cancel"
            )
        self._close(resting, OrderStatus.CANCELLED, now, "cancelled on request")

    def process_bar(
        self,
        symbol: str,
        now: datetime,
        open: float,
        high: float,
        low: float,
        close: float,
        volume: float = 0.0,
    ) -> None:
        """Walk one bar of ``symbol`` and fill or trigger its resting orders along the way.

        Events are stamped ``now``. With a ``volume_limit``, a bar of zero
        volume fills nothing (stops still trigger).
        """
        instrument = self.instruments.get(symbol)
        if instrument is None:
            raise ValueError(f"bar for unknown symbol {symbol!r}; {self.name} trades {', '.join(self.instruments)}")
        self._last_close[symbol] = float(close)
        self._last_bar_time[symbol] = now
        book = self._book.get(symbol)
        if not book:
            return
        below, above, due = self._levels(symbol)
        # Float comparisons decide exactly as the Decimal walk would (see _levels).
        if not (due or float(low) <= below or float(high) >= above):
            return
        path = intrabar_path(
            to_decimal(float(open)), to_decimal(float(high)), to_decimal(float(low)), to_decimal(float(close))
        )
        if self.volume_limit is not None:
            self._bar_cap = instrument.round_quantity(max(to_decimal(float(volume)), ZERO) * self.volume_limit)
        for resting in book.values():
            resting.filled_this_bar = ZERO
        exhausted: set[int] = set()
        try:
            self._walk(book, path[0], path[0], now, exhausted)
            for start, end in pairwise(path):
                self._walk(book, start, end, now, exhausted)
        finally:
            self._bar_cap = None

    def poll_events(self) -> list[OrderUpdate | Fill]:
        """Every event since the last call, oldest first; the venue forgets them."""
        events, self._events = self._events, []
        return events

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders that may still fill, in submission order."""
        if symbol is not None:
            return [resting.order for resting in self._book.get(symbol, {}).values()]
        every = (resting for book in self._book.values() for resting in book.values())
        return [resting.order for resting in sorted(every, key=lambda r: r.sequence)]

    def fetch_order(self, client_order_id: str) -> Order | None:
        """Any order this venue has seen (open, finished or rejected), in its current state."""
        return self._orders.get(client_order_id)

    def has_resting(self, symbol: str) -> bool:
        """Whether ``symbol`` has an open order (the engine then shows the venue its bars)."""
        return bool(self._book.get(symbol))

    def positions(self) -> dict[str, Position]:
        """Every position that is not flat."""
        return {position.symbol: position for position in self.ledger.positions()}

    def balances(self) -> dict[str, Balance]:
        """Cash and spot holdings per currency; ``free`` leaves out what resting orders hold back.

        A quote currency's locks: a buy limit or stop-limit holds ``price * qty
        * (1 + maker)``, a buy stop ``trigger * qty * (1 + taker)``, a waiting
        market buy ``reference * qty * (1 + taker)``. A spot base currency's
        locks: the quantity of resting sells. For a margin currency ``total``
        is the equity (cash plus margin positions at the last close) and
        ``free`` the free margin.
        """
        currencies = list(self.ledger.cash)
        for instrument in self.instruments.values():
            if (
                instrument.kind is InstrumentKind.SPOT
                and instrument.base not in currencies
                and (self.ledger.quantity(instrument.symbol) != 0 or self._reserved_sells(instrument.symbol))
            ):
                currencies.append(instrument.base)
        result: dict[str, Balance] = {}
        for currency in currencies:
            total = free = ZERO
            if currency in self.ledger.cash or currency in self._margin_currencies:
                total = self._equity(currency) if currency in self._margin_currencies else self._cash(currency)
                free = self._free(currency)
            for instrument in self.instruments.values():
                if instrument.kind is InstrumentKind.SPOT and instrument.base == currency:
                    held = self.ledger.quantity(instrument.symbol)
                    total += held
                    free += held - self._reserved_sells(instrument.symbol)
            result[currency] = Balance(currency=currency, total=total, free=free)
        return result

    def next_trigger_index(self, symbol: str, high: FloatArray, low: FloatArray, start: int) -> int | None:
        """The first bar ``i >= start`` on which a resting order of ``symbol`` could fill or trigger, or None.

        Judged from the bar's high and low only: a buy limit or falling trigger
        wakes when ``low[i] <= level``, a sell limit or rising trigger when
        ``high[i] >= level``; an order waiting for the next open (a market
        order, a deferred arrival, a triggered stop not yet filled) wakes at
        ``start``. Never later than :meth:`process_bar` would act (it may be
        earlier, e.g. with a volume cap).
        """
        if not self._book.get(symbol) or start >= len(high):
            return None
        below, above, due = self._levels(symbol)
        if due:
            return start
        return first_reach_index(high, low, below, above, start)

    def _levels(self, symbol: str) -> tuple[float, float, bool]:
        """The prices that wake ``symbol``'s book: (from above, from below, due at the next open).

        A bar can wake an order only if ``low <= below`` or ``high >= above``.
        Comparing the bar's float with ``float(level)`` decides exactly as
        comparing ``to_decimal(bar)`` with the level does: ``to_decimal`` goes
        through the float's shortest repr, which is monotone and maps
        ``float(level)`` back to the level for any price of up to 15 digits.
        """
        cached = self._wake_levels.get(symbol)
        if cached is not None:
            return cached
        below = float("-inf")
        above = float("inf")
        due = False
        for resting in self._book.get(symbol, {}).values():
            order = resting.order
            if resting.arriving or order.type is OrderType.MARKET or (order.type is OrderType.STOP and order.triggered):
                due = True
                continue
            level, wakes_below = _level(order)
            if wakes_below:
                below = max(below, float(level))
            else:
                above = min(above, float(level))
        self._wake_levels[symbol] = (below, above, due)
        return below, above, due

    # -- validation ------------------------------------------------------------------------

    def _problem(self, order: Order, instrument: Instrument, reference: Decimal | None) -> str | None:
        """Why the venue refuses ``order``, or None when it accepts it."""
        shape = _shape_problem(order)
        if shape is not None:
            return shape
        if order.price is not None and (problem := instrument.price_problem(order.price)) is not None:
            return problem
        if order.trigger_price is not None and (problem := instrument.price_problem(order.trigger_price)):
            return f"trigger {problem}"
        price = order.price or order.trigger_price or reference
        if (problem := instrument.quantity_problem(order.quantity, price)) is not None:
            return problem
        if (
            order.post_only
            and order.type is OrderType.LIMIT
            and reference is not None
            and order.price is not None
            and _marketable(order.side, order.price, reference)
        ):
            return f"post-only {order.side.value} at {order.price} would take liquidity: the market is at {reference}"
        if order.reduce_only:
            held = self.ledger.quantity(order.symbol)
            action = f"reduce-only {order.side.value} of {order.quantity} {order.symbol}"
            if held == 0:
                return f"{action}: there is no position to reduce"
            if held * order.side.sign > 0:
                side = "long" if held > 0 else "short"
                return f"{action} would increase the {side} position of {held}"
        return self._funds_problem(order, instrument, price, reference)

    def _funds_problem(
        self, order: Order, instrument: Instrument, price: Decimal | None, reference: Decimal | None
    ) -> str | None:
        """Why the account cannot pay for ``order`` at ``price``, or None.

        Without any price (a market order before the venue saw a bar) only a
        spot sell can be checked; a buy's cash is then checked when it fills.
        """
        if instrument.kind is InstrumentKind.SPOT and order.side is Side.SELL:
            held = self.ledger.quantity(order.symbol)
            reserved = self._reserved_sells(order.symbol)
            if order.quantity > held - reserved:
                return (
                    f"insufficient {instrument.base}: selling {order.quantity} {order.symbol} but only "
                    f"{held - reserved} is free ({held} held, {reserved} reserved by open sells); "
                    "spot cannot go short"
                )
            return None
        if price is None or (order.reduce_only and instrument.kind is not InstrumentKind.SPOT):
            return None
        takes = order.type in (OrderType.MARKET, OrderType.STOP) or (
            order.type is OrderType.LIMIT and reference is not None and _marketable(order.side, price, reference)
        )
        rate = self.fees.taker if takes else self.fees.maker
        quote = instrument.quote
        if instrument.kind is InstrumentKind.SPOT:
            cost = order.quantity * price * (1 + rate)
            free = self._free(quote)
            if cost > free:
                return (
                    f"insufficient {quote}: buying {order.quantity} {order.symbol} at {price} "
                    f"needs {_show(cost)} with a {rate} fee, but only {_show(free)} is free "
                    f"({_show(self._cash(quote))} held)"
                )
            return None
        added = self._added_exposure(order.symbol, order.side, order.quantity)
        required = added * price / instrument.max_leverage + order.quantity * price * rate
        free = self._free(quote)
        if required > free:
            return (
                f"insufficient margin in {quote}: {order.side.value} {order.quantity} {order.symbol} "
                f"at {price} needs {_show(required)} (added exposure {added} at leverage "
                f"{instrument.max_leverage}, plus fee), but only {_show(free)} is free"
            )
        return None

    # -- the account -------------------------------------------------------------------------

    def _cash(self, currency: str) -> Decimal:
        return self.ledger.cash.get(currency, ZERO)

    def _last_price(self, symbol: str) -> Decimal | None:
        """The close of the last bar shown for ``symbol``, on the tick, or None."""
        close = self._last_close.get(symbol)
        return None if close is None else self.instruments[symbol].round_price(to_decimal(close))

    def _current_close(self, symbol: str, now: datetime) -> Decimal | None:
        """The close of the bar shown at ``now``, or None.

        The engine shows the venue only the bars on which orders rest, so an
        older close may be far from the market: an order sent without a market
        price is then checked against its own price only, and a market order's
        cash when it fills.
        """
        return self._last_price(symbol) if self._last_bar_time.get(symbol) == now else None

    def _mark(self, symbol: str) -> Decimal:
        """The price positions in ``symbol`` are valued at: the last close, else their entry price."""
        last = self._last_price(symbol)
        return last if last is not None else self.ledger.position(symbol).average_price

    def _reserved_sells(self, symbol: str) -> Decimal:
        """Quantity of ``symbol`` held back by resting sells (spot)."""
        return sum(
            (r.order.remaining_quantity for r in self._book.get(symbol, {}).values() if r.order.side is Side.SELL),
            ZERO,
        )

    def _added_exposure(self, symbol: str, side: Side, quantity: Decimal) -> Decimal:
        """How much ``quantity`` on ``side`` would grow the absolute position in ``symbol``."""
        held = self.ledger.quantity(symbol)
        return max(abs(held + side.sign * quantity) - abs(held), ZERO)

    def _lock(self, resting: _Resting) -> Decimal:
        """Quote currency ``resting`` holds back while it rests."""
        order = resting.order
        if order.type is OrderType.MARKET:
            level = resting.reference_price
        elif order.type is OrderType.STOP:
            level = order.trigger_price
        else:
            level = order.price
        if level is None:
            return ZERO
        rate = self.fees.taker if order.type in (OrderType.MARKET, OrderType.STOP) else self.fees.maker
        remaining = order.remaining_quantity
        instrument = resting.instrument
        if instrument.kind is InstrumentKind.SPOT:
            return remaining * level * (1 + rate) if order.side is Side.BUY else ZERO
        if order.reduce_only:
            return ZERO
        added = self._added_exposure(order.symbol, order.side, remaining)
        return added * level / instrument.max_leverage + remaining * level * rate

    def _equity(self, currency: str) -> Decimal:
        """Cash plus margin positions at their marks (spot holdings are not collateral)."""
        total = self._cash(currency)
        for symbol, instrument in self.instruments.items():
            if instrument.quote == currency and instrument.kind is not InstrumentKind.SPOT:
                held = self.ledger.quantity(symbol)
                if held:
                    total += held * self._mark(symbol)
        return total

    def _free(self, currency: str, exclude: _Resting | None = None) -> Decimal:
        """What new orders may use of ``currency``: cash (or free margin) minus other orders' locks."""
        locked = sum(
            (
                self._lock(r)
                for book in self._book.values()
                for r in book.values()
                if r is not exclude and r.instrument.quote == currency
            ),
            ZERO,
        )
        if currency not in self._margin_currencies:
            return self._cash(currency) - locked
        used = ZERO
        for symbol, instrument in self.instruments.items():
            if instrument.quote == currency and instrument.kind is not InstrumentKind.SPOT:
                used += abs(self.ledger.quantity(symbol)) * self._mark(symbol) / instrument.max_leverage
        return self._equity(currency) - used - locked

    # -- the path through a bar ----------------------------------------------------------------

    def _walk(
        self, book: dict[str, _Resting], start: Decimal, end: Decimal, now: datetime, exhausted: set[int]
    ) -> None:
        """Move the price from ``start`` to ``end`` (one monotone leg) and wake orders as it reaches them."""
        position = start
        while True:
            chosen: _Resting | None = None
            chosen_at = position
            best: tuple[Decimal, int] | None = None
            for resting in book.values():
                if resting.sequence in exhausted:
                    continue
                at = self._reach(resting, position, end)
                if at is None:
                    continue
                key = (abs(at - position), resting.sequence)
                if best is None or key < best:
                    best, chosen, chosen_at = key, resting, at
            if chosen is None:
                return
            position = chosen_at
            self._wake(chosen, position, now)
            # Still open and still due here: the volume cap stopped it; it waits for the next bar.
            if chosen.order.status.is_open and self._reach(chosen, position, position) is not None:
                exhausted.add(chosen.sequence)

    @staticmethod
    def _reach(resting: _Resting, position: Decimal, end: Decimal) -> Decimal | None:
        """Where, moving from ``position`` to ``end``, ``resting`` is first due; None if nowhere."""
        order = resting.order
        if resting.arriving or order.type is OrderType.MARKET or (order.type is OrderType.STOP and order.triggered):
            return position
        level, wakes_below = _level(order)
        if (position <= level) if wakes_below else (position >= level):
            return position
        if (end <= level) if wakes_below else (end >= level):
            return level
        return None

    def _wake(self, resting: _Resting, at: Decimal, now: datetime) -> None:
        """Act on an order the path reached at ``at``."""
        order = resting.order
        if resting.arriving:
            self._arrive(resting, at, now)
        elif order.type is OrderType.MARKET or (order.type is OrderType.STOP and order.triggered):
            self._take(resting, at, Liquidity.TAKER, now, immediate=False)
        elif order.type is OrderType.LIMIT or order.triggered:
            self._take(resting, at, Liquidity.MAKER, now, immediate=False, limit=order.price)
        else:
            self._trigger(resting, at, now)

    def _arrive(self, resting: _Resting, at: Decimal, now: datetime) -> None:
        """The order reaches the venue with the market at ``at``."""
        resting.arriving = False
        self._wake_levels.pop(resting.order.symbol, None)
        order = resting.order
        if order.type is OrderType.MARKET:
            self._take(resting, at, Liquidity.TAKER, now, immediate=True)
        elif order.type is OrderType.LIMIT:
            self._place_limit(resting, at, now)
        else:
            level, wakes_below = _level(order)
            if (at <= level) if wakes_below else (at >= level):
                self._trigger(resting, at, now)

    def _trigger(self, resting: _Resting, at: Decimal, now: datetime) -> None:
        """A stop's condition holds at ``at``: a stop takes, a stop-limit becomes a limit."""
        resting.order.triggered = True
        self._wake_levels.pop(resting.order.symbol, None)
        if resting.order.type is OrderType.STOP:
            self._take(resting, at, Liquidity.TAKER, now, immediate=True)
        else:
            self._place_limit(resting, at, now)

    def _place_limit(self, resting: _Resting, at: Decimal, now: datetime) -> None:
        """A limit meets the market at ``at``: it takes if marketable, else rests (GTC) or expires."""
        order = resting.order
        assert order.price is not None
        if _marketable(order.side, order.price, at):
            if order.post_only:
                reason = f"post-only {order.side.value} at {order.price} would take liquidity: "
                reason += f"the market is at {at}"
                self._close(resting, OrderStatus.EXPIRED, now, reason)
                return
            self._take(resting, at, Liquidity.TAKER, now, immediate=True, limit=order.price)
        elif order.time_in_force is not TimeInForce.GTC:
            reason = (
                f"{order.time_in_force.value} limit {order.side.value} at {order.price} could not fill: "
                f"the market is at {at}"
            )
            self._close(resting, OrderStatus.EXPIRED, now, reason)

    # -- fills ---------------------------------------------------------------------------------

    def _take(
        self,
        resting: _Resting,
        at: Decimal,
        liquidity: Liquidity,
        now: datetime,
        *,
        immediate: bool,
        limit: Decimal | None = None,
    ) -> None:
        """Fill what may fill of ``resting`` with the market at ``at``; settle what is left."""
        order = resting.order
        instrument = resting.instrument
        price = instrument.round_price(at)
        if liquidity is Liquidity.TAKER:
            price = self.slippage.apply(order.side, price, instrument)
        if limit is not None:
            price = min(price, limit) if order.side is Side.BUY else max(price, limit)
        rate = self.fees.rate(liquidity)
        remaining = order.remaining_quantity
        quantity, why, final = self._capacity(resting, price, rate)
        tif = order.time_in_force
        if immediate and tif is TimeInForce.FOK and quantity < remaining:
            reason = (
                f"fill-or-kill {order.side.value} of {remaining} {order.symbol} expired: only {quantity} "
                f"could fill at {price} ({why})"
            )
            self._close(resting, OrderStatus.EXPIRED, now, reason)
            return
        if quantity > 0:
            self._execute(resting, quantity, price, liquidity, rate, now)
        if order.status is OrderStatus.FILLED:
            self._remove(resting)
        elif immediate and tif is not TimeInForce.GTC:
            reason = f"immediate-or-cancel: {order.remaining_quantity} of {order.quantity} {order.symbol} expired"
            self._close(resting, OrderStatus.EXPIRED, now, f"{reason} ({why})" if why else reason)
        elif final:
            self._close(resting, OrderStatus.CANCELLED, now, why)

    def _capacity(self, resting: _Resting, price: Decimal, rate: Decimal) -> tuple[Decimal, str, bool]:
        """How much of ``resting`` may fill at ``price`` now, why not more, and whether the rest never can."""
        order = resting.order
        instrument = resting.instrument
        symbol = order.symbol
        best: tuple[Decimal, str, bool] = (order.remaining_quantity, "", False)

        def cap(quantity: Decimal, why: str, final: bool) -> None:
            nonlocal best
            if quantity < best[0] or (quantity == best[0] and final and quantity < order.remaining_quantity):
                best = (max(quantity, ZERO), why, final)

        if self._bar_cap is not None:
            assert self.volume_limit is not None
            cap(
                self._bar_cap - resting.filled_this_bar,
                f"volume limit: at most {self._bar_cap} per bar, {self.volume_limit} of the bar's volume",
                False,
            )
        held = self.ledger.quantity(symbol)
        if order.reduce_only:
            room = max(-order.side.sign * held, ZERO)
            cap(
                room,
                f"reduce-only: the position in {symbol} was {held}, so at most {room} could reduce it",
                True,
            )
        if instrument.kind is InstrumentKind.SPOT:
            if order.side is Side.SELL:
                cap(held, f"only {held} {instrument.base} held; spot cannot go short", True)
            else:
                affordable = self._affordable(resting, price, rate)
                cap(
                    affordable,
                    f"insufficient {instrument.quote}: {affordable} {symbol} affordable at {price}",
                    True,
                )
        return best

    def _affordable(self, resting: _Resting, price: Decimal, rate: Decimal) -> Decimal:
        """The largest quantity (whole lots) of a spot buy at ``price`` that free cash pays, fee included."""
        instrument = resting.instrument
        free = self._free(instrument.quote, exclude=resting)
        if free <= 0:
            return ZERO
        quantity = min(instrument.round_quantity(free / (price * (1 + rate))), resting.order.remaining_quantity)
        while quantity > 0 and quantity * price + fee_amount(quantity * price, rate) > free:
            quantity -= instrument.lot_size
        return max(quantity, ZERO)

    def _execute(
        self,
        resting: _Resting,
        quantity: Decimal,
        price: Decimal,
        liquidity: Liquidity,
        rate: Decimal,
        now: datetime,
    ) -> None:
        """Book one fill: the ledger, the order, and a Fill and an OrderUpdate event."""
        order = resting.order
        fee = fee_amount(quantity * price, rate)
        resting.fills += 1
        resting.filled_this_bar += quantity
        fill = Fill(
            fill_id=f"{order.client_order_id}-{resting.fills}",
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=quantity,
            price=price,
            fee=fee,
            fee_currency=resting.instrument.quote,
            liquidity=liquidity,
            timestamp=now,
        )
        self.ledger.apply_fill(fill)
        order.record_fill(quantity, price, fee, at=now)
        self._events.append(fill)
        self._events.append(self._update(order, now))

    # -- lifecycle events ---------------------------------------------------------------------

    def _update(self, order: Order, now: datetime, reason: str | None = None) -> OrderUpdate:
        return OrderUpdate(
            client_order_id=order.client_order_id,
            status=order.status,
            timestamp=now,
            exchange_order_id=order.exchange_order_id,
            reason=reason,
        )

    def _reject(self, order: Order, now: datetime, reason: str) -> None:
        order.transition(OrderStatus.REJECTED, at=now, reason=reason)
        self._events.append(self._update(order, now, reason))

    def _close(self, resting: _Resting, status: OrderStatus, now: datetime, reason: str) -> None:
        """End an open order (CANCELLED or EXPIRED) with ``reason``."""
        order = resting.order
        order.transition(status, at=now, reason=reason)
        self._remove(resting)
        self._events.append(self._update(order, now, reason))

    def _remove(self, resting: _Resting) -> None:
        """Take a finished order off the book."""
        order = resting.order
        del self._book[order.symbol][order.client_order_id]
        self._wake_levels.pop(order.symbol, None)
