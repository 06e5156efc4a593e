"""The simulated venue: an account and an order book that fill against bars.

Backtests, dry runs and the ``paper`` exchange all trade on a
:class:`SimulatedVenue`. The engine submits orders, feeds it bars and drains
the events it produced; the venue behaves like a real one. Its account (cash,
positions, open orders and what they hold back) is in
:mod:`tradekit.sim.account`, its arrival checks in :mod:`tradekit.sim.validation`.

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

from datetime import datetime
from decimal import Decimal, InvalidOperation
from itertools import pairwise

from tradekit.domain.bars import FloatArray
from tradekit.domain.instruments import Instrument, InstrumentKind
from tradekit.domain.order_memory import OrderMemory
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
    checked_fill,
)
from tradekit.domain.portfolio import Balance, Ledger, Position
from tradekit.errors import ConfigError, InvalidTransitionError, OrderNotFound
from tradekit.money import ZERO, to_decimal
from tradekit.sim.account import Account, Resting
from tradekit.sim.pricing import FeeSchedule, NoSlippage, Slippage, first_reach_index, intrabar_path
from tradekit.sim.validation import arrival_problem, marketable

# Enum members the per-order path reads, bound once: reading one off its class costs about 70 ns on
# Python 3.11, ten times a module global, and an order reads a few dozen.
_MARKET, _LIMIT, _STOP_LIMIT, _STOP = OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.STOP
_NEW, _ACCEPTED, _PARTIALLY_FILLED, _FILLED, _CANCELLED, _EXPIRED, _REJECTED = (
    OrderStatus.NEW,
    OrderStatus.ACCEPTED,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED,
    OrderStatus.CANCELLED,
    OrderStatus.EXPIRED,
    OrderStatus.REJECTED,
)
_BUY = Side.BUY
_FOK, _GTC = TimeInForce.FOK, TimeInForce.GTC
_FALLING = TriggerDirection.FALLING
_TAKER, _MAKER = Liquidity.TAKER, Liquidity.MAKER
_SPOT = InstrumentKind.SPOT

#: An order update as the venue keeps it until polled: the fields of an OrderUpdate, in its order.
UpdateRecord = tuple[str, OrderStatus, datetime, str | None, str | None]
_UPDATE_FIELDS = ("client_order_id", "status", "timestamp", "exchange_order_id", "reason")

# Updates are validated as the constructor would, without its Python wrapper, which costs more than the
# validation itself; fills are assembled from checked values (tradekit.domain.orders.checked_fill).
_validate_update = OrderUpdate.__pydantic_validator__.validate_python


def _level(order: Order) -> tuple[Decimal, bool]:
    """The price that wakes ``order``, and True if it wakes at or below it (False: at or above)."""
    if order.type is _LIMIT or (order.type is _STOP_LIMIT and order.triggered):
        assert order.price is not None  # checked on submission
        return order.price, order.side is _BUY
    assert order.trigger_price is not None  # checked on submission
    return order.trigger_price, order.trigger_direction is _FALLING


def _wake_point(resting: Resting) -> tuple[Decimal, bool, float]:
    """:func:`_level` of ``resting``'s order and that level as a float, kept until the order triggers."""
    wake = resting.wake
    if wake is None:
        level, wakes_below = _level(resting.order)
        wake = resting.wake = (level, wakes_below, float(level))
    return wake


def _on_tick(price: Decimal, instrument: Instrument) -> Decimal:
    """``price`` rounded to the tick and at least one tick, as ``max(round_price(price), tick)``.

    The engine already sends prices on the tick; such a price, written with
    the tick's exponent, is returned as it is, which is exactly what rounding
    would give, at a sixth of the cost.
    """
    tick = instrument.tick_size
    try:
        if price.same_quantum(tick) and not price % tick:
            return price
    except InvalidOperation:
        pass  # too many digits for a remainder: let rounding say what it makes of it
    return max(instrument.round_price(price), tick)


class SimulatedVenue:
    """A venue that holds one account and fills its orders against bars; see the module docstring.

    ``instruments`` maps each tradable symbol to its rules, ``cash`` the
    starting cash per currency (quote currencies: base holdings come from
    fills), ``fees`` the maker and taker rates, ``slippage`` what taker fills
    lose (none by default), ``volume_limit`` the largest fraction of a bar's
    volume one order may fill in that bar (no cap by default). Like a real
    venue's order history, :meth:`fetch_order` reaches back over every open
    order and the latest ``keep_finished`` finished ones; a client order id is
    refused as a duplicate however long ago it was used.
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
        keep_finished: int | None = None,
    ) -> None:
        for symbol, instrument in instruments.items():
            if symbol != instrument.symbol:
                raise ValueError(f"instrument {instrument.symbol} is listed under another symbol, {symbol}")
        quotes = {instrument.quote for instrument in instruments.values()}
        starting = {currency: to_decimal(amount) for currency, amount in cash.items()}
        for currency, amount in starting.items():
            if amount < 0:
                raise ConfigError(f"starting cash in {currency} cannot be negative, was {amount}")
            spot_base = [i.symbol for i in instruments.values() if i.base == currency and i.kind is _SPOT]
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
        self.slippage: Slippage = slippage if slippage is not None else NoSlippage()
        self.volume_limit = volume_limit
        self._account = Account(self.instruments, starting, fees)
        # Open orders and the latest finished ones, for fetch_order, and every id ever used, to refuse a
        # reused one; open orders also sit in the account's book.
        self._orders = OrderMemory(keep_finished)
        # Updates are kept as UpdateRecord tuples until someone polls them (see poll_events).
        self._events: list[UpdateRecord | Fill] = []
        self._sequence = 0
        # Per symbol: (highest level woken from above, lowest woken from below, something due at the open),
        # kept until that symbol's book changes, so an idle bar costs two float comparisons.
        self._wake_levels: dict[str, tuple[float, float, bool]] = {}
        # The fill cap of the bar being walked; None outside process_bar or without a volume limit.
        self._bar_cap: Decimal | None = None
        # The market price of the order arriving now, already on its instrument's tick: not rounded again.
        self._arrival_price: Decimal | None = None

    @property
    def fees(self) -> FeeSchedule:
        """The maker and taker rates."""
        return self._account.fees

    @property
    def ledger(self) -> Ledger:
        """Cash and positions, moved by fills."""
        return self._account.ledger

    # -- the engine's side ------------------------------------------------------------

    def submit(self, order: Order, now: datetime, market_price: Decimal | None) -> None:
        """Validate ``order`` (status NEW), acknowledge or reject it, and let it arrive at ``market_price``.

        ``market_price`` is the price the order meets now (the engine passes the
        bar's close); None means it arrives at the open of the next bar given to
        :meth:`process_bar`. A refusal is a REJECTED event with the reason, not
        an exception.
        """
        # Fields read from the order's instance dict (the order's own, which transition() writes): a
        # pydantic model's attributes cost twice a dict's items to read, and every order passes here.
        values = order.__dict__
        if values["status"] is not _NEW:
            raise InvalidTransitionError(
                f"order {order.client_order_id} is {order.status}; only a NEW order can be submitted"
            )
        client_order_id = values["client_order_id"]
        symbol = values["symbol"]
        if self._orders.used(client_order_id):
            self._reject(
                order,
                now,
                f"duplicate client order id {client_order_id!r}: {self.name} already has an order "
                "with it; send a new id",
            )
            return
        self._orders.add(order)
        instrument = self.instruments.get(symbol)
        if instrument is None:
            known = ", ".join(sorted(self.instruments)) or "nothing"
            self._reject(order, now, f"unknown symbol {order.symbol!r} on {self.name}; it trades {known}")
            return
        account = self._account
        market = None
        if market_price is not None:
            raw = market_price if isinstance(market_price, Decimal) else to_decimal(market_price)
            if raw <= 0:
                raise ValueError(f"market price of {order.symbol} must be positive, was {market_price}")
            market = _on_tick(raw, instrument)
        reference = market if market is not None else account.current_close(symbol, now)
        problem = arrival_problem(account, order, instrument, reference)
        if problem is not None:
            self._reject(order, now, problem)
            return
        self._sequence += 1
        # Into the instance dict, as Order.transition does: pydantic's assignment hook costs more than the
        # rest of an acknowledgement and grows the order's fields-set.
        order.__dict__["exchange_order_id"] = f"{self.name}-{self._sequence}"
        order.transition(_ACCEPTED, at=now)
        self._events.append(self._update(order, now))
        kind = values["type"]
        resting = Resting(
            order=order,
            instrument=instrument,
            sequence=self._sequence,
            reference_price=reference if kind is _MARKET else None,
            arriving=market is None and (kind is _MARKET or kind is _LIMIT),
        )
        # The symbol's book is made on acceptance, as its place among the books orders the sums of locks.
        account.book_of(symbol)
        if market is not None:
            # It arrives before it rests: what finishes at once never touches the book and its sums.
            self._arrival_price = market
            try:
                self._arrive(resting, market, now)
            finally:
                self._arrival_price = None
            status = values["status"]
            if status is not _ACCEPTED and status is not _PARTIALLY_FILLED:
                return  # finished as it arrived
        account.add(resting)
        self._wake_levels.pop(symbol, None)

    # -- a restart ------------------------------------------------------------------------------

    def restore(self, fills: list[Fill], open_orders: list[Order], fills_per_order: dict[str, int]) -> None:
        """Rebuild the account of a run that died: book its ``fills``, put its ``open_orders`` back to rest.

        For a restart only, before any new order: the simulated venue lived in
        the dead process's memory, so its state is what the run journaled.
        ``open_orders`` are ACCEPTED or PARTIALLY_FILLED, each kept as it
        stood (copied); ``fills_per_order`` counts each order's fills so far,
        so the fill ids that follow do not repeat one already journaled. No
        event is emitted: nothing new happened.
        """
        for fill in fills:
            self._account.ledger.book_fill(fill)
        for order in open_orders:
            if not order.status.is_open or order.status is _NEW:
                raise ValueError(
                    f"order {order.client_order_id} is {order.status.value}; only an accepted or partly filled "
                    "order can rest again after a restart"
                )
            instrument = self.instruments.get(order.symbol)
            if instrument is None:
                raise ValueError(f"order {order.client_order_id}: unknown symbol {order.symbol!r} on {self.name}")
            copy = order.model_copy()
            self._orders.add(copy)
            self._sequence += 1
            resting = Resting(
                order=copy,
                instrument=instrument,
                sequence=self._sequence,
                reference_price=None,
                # A market order the dead run left waiting still arrives at the next bar's open.
                arriving=order.type is _MARKET,
                fills=fills_per_order.get(order.client_order_id, 0),
            )
            self._account.add(resting)
            self._wake_levels.pop(order.symbol, None)

    def cancel(self, client_order_id: str, now: datetime) -> None:
        """Cancel an open order (a CANCELLED event); raise :class:`OrderNotFound` for any other."""
        order = self._orders.get(client_order_id)
        if order is None:
            raise OrderNotFound(f"{self.name} has no order with client order id {client_order_id!r}")
        resting = self._account.book.get(order.symbol, {}).get(client_order_id)
        if resting is None:
            raise OrderNotFound(
                f"order {client_order_id!r} on {self.name} is {order.status}, not open; there is nothing to cancel"
            )
        self._close(resting, _CANCELLED, now, "cancelled on request")

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
        self._account.show_bar(symbol, now, float(close))
        book = self._account.book.get(symbol)
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
        return [
            event if isinstance(event, Fill) else _validate_update(dict(zip(_UPDATE_FIELDS, event, strict=True)))
            for event in events
        ]

    def poll_records(self) -> list[UpdateRecord | Fill]:
        """:meth:`poll_events` with each update as its :data:`UpdateRecord` tuple, for the engine.

        The engine applies an update's five values and drops it; making an
        ``OrderUpdate`` of each (two per order) would cost more than the engine's
        work with it. Fills are the same :class:`Fill` objects.
        """
        events, self._events = self._events, []
        return events

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders that may still fill, in submission order."""
        book = self._account.book
        if symbol is not None:
            return [resting.order for resting in book.get(symbol, {}).values()]
        every = (resting for orders in book.values() for resting in orders.values())
        return [resting.order for resting in sorted(every, key=lambda r: r.sequence)]

    def fetch_order(self, client_order_id: str) -> Order | None:
        """An open order, or one of the latest ``keep_finished`` finished ones, in its current state."""
        return self._orders.get(client_order_id)

    def has_resting(self, symbol: str) -> bool:
        """Whether ``symbol`` has an open order (the engine then shows the venue its bars)."""
        return bool(self._account.book.get(symbol))

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
        return self._account.balances()

    def next_trigger_index(
        self, symbol: str, high: FloatArray, low: FloatArray, start: int, stop: int | None = None
    ) -> int | None:
        """The first bar ``i >= start`` on which a resting order of ``symbol`` could fill or trigger, or None.

        Judged from the bar's high and low only: a buy limit or falling trigger
        wakes when ``low[i] <= level``, a sell limit or rising trigger when
        ``high[i] >= level``; an order waiting for the next open (a market
        order, a deferred arrival, a triggered stop not yet filled) wakes at
        ``start``. Never later than :meth:`process_bar` would act (it may be
        earlier, e.g. with a volume cap). With ``stop`` only bars before it
        (exclusive) are looked at: None then means nothing wakes before ``stop``,
        which is all the engine needs to know when its next wake-up is ``stop``.
        """
        end = len(high) if stop is None else min(stop, len(high))
        if not self._account.book.get(symbol) or start >= end:
            return None
        below, above, due = self._levels(symbol)
        if due:
            return start
        return first_reach_index(high, low, below, above, start, stop=end)

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
        for resting in self._account.book.get(symbol, {}).values():
            order = resting.order
            if resting.arriving or order.type is _MARKET or (order.type is _STOP and order.triggered):
                due = True
                continue
            _, wakes_below, level = _wake_point(resting)
            if wakes_below:
                below = max(below, level)
            else:
                above = min(above, level)
        self._wake_levels[symbol] = (below, above, due)
        return below, above, due

    # -- the path through a bar ----------------------------------------------------------------

    def _walk(self, book: dict[str, Resting], start: Decimal, end: Decimal, now: datetime, exhausted: set[int]) -> None:
        """Move the price from ``start`` to ``end`` (one monotone leg) and wake orders as it reaches them."""
        position = start
        while True:
            chosen: Resting | None = None
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
    def _reach(resting: Resting, position: Decimal, end: Decimal) -> Decimal | None:
        """Where, moving from ``position`` to ``end``, ``resting`` is first due; None if nowhere."""
        order = resting.order
        if resting.arriving or order.type is _MARKET or (order.type is _STOP and order.triggered):
            return position
        level, wakes_below, _ = _wake_point(resting)
        if (position <= level) if wakes_below else (position >= level):
            return position
        if (end <= level) if wakes_below else (end >= level):
            return level
        return None

    def _wake(self, resting: Resting, at: Decimal, now: datetime) -> None:
        """Act on an order the path reached at ``at``."""
        order = resting.order
        if resting.arriving:
            self._arrive(resting, at, now)
        elif order.type is _MARKET or (order.type is _STOP and order.triggered):
            self._take(resting, at, _TAKER, now, immediate=False)
        elif order.type is _LIMIT or order.triggered:
            self._take(resting, at, _MAKER, now, immediate=False, limit=order.price)
        else:
            self._trigger(resting, at, now)

    def _arrive(self, resting: Resting, at: Decimal, now: datetime) -> None:
        """The order reaches the venue with the market at ``at``."""
        resting.arriving = False
        if resting.in_book:
            self._wake_levels.pop(resting.order.symbol, None)
        order = resting.order
        if order.type is _MARKET:
            self._take(resting, at, _TAKER, now, immediate=True)
        elif order.type is _LIMIT:
            self._place_limit(resting, at, now)
        else:
            level, wakes_below = _level(order)
            if (at <= level) if wakes_below else (at >= level):
                self._trigger(resting, at, now)

    def _trigger(self, resting: Resting, at: Decimal, now: datetime) -> None:
        """A stop's condition holds at ``at``: a stop takes, a stop-limit becomes a limit."""
        resting.order.triggered = True
        resting.wake = None  # a triggered stop-limit wakes at its limit price now
        if resting.in_book:
            self._wake_levels.pop(resting.order.symbol, None)
        if resting.order.type is _STOP:
            self._take(resting, at, _TAKER, now, immediate=True)
        else:
            self._place_limit(resting, at, now)

    def _place_limit(self, resting: Resting, at: Decimal, now: datetime) -> None:
        """A limit meets the market at ``at``: it takes if marketable, else rests (GTC) or expires."""
        order = resting.order
        assert order.price is not None
        if marketable(order.side, order.price, at):
            if order.post_only:
                reason = f"post-only {order.side.value} at {order.price} would take liquidity: "
                reason += f"the market is at {at}"
                self._close(resting, _EXPIRED, now, reason)
                return
            self._take(resting, at, _TAKER, now, immediate=True, limit=order.price)
        elif order.time_in_force is not _GTC:
            reason = (
                f"{order.time_in_force.value} limit {order.side.value} at {order.price} could not fill: "
                f"the market is at {at}"
            )
            self._close(resting, _EXPIRED, now, reason)

    # -- fills ---------------------------------------------------------------------------------

    def _take(
        self,
        resting: Resting,
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
        price = at if at is self._arrival_price else instrument.round_price(at)
        if liquidity is _TAKER:
            price = self.slippage.apply(order.side, price, instrument)
        if limit is not None:
            price = min(price, limit) if order.side is _BUY else max(price, limit)
        account = self._account
        fees = account.fees
        rate = fees.taker if liquidity is _TAKER else fees.maker
        remaining = order.quantity - order.filled_quantity
        quantity, why, final = account.capacity(resting, remaining, price, rate, self._bar_cap, self.volume_limit)
        tif = order.time_in_force
        if immediate and tif is _FOK and quantity < remaining:
            reason = (
                f"fill-or-kill {order.side.value} of {remaining} {order.symbol} expired: only {quantity} "
                f"could fill at {price} ({why})"
            )
            self._close(resting, _EXPIRED, now, reason)
            return
        if quantity > 0:
            self._execute(resting, quantity, price, liquidity, rate, now)
        if order.status is _FILLED:
            self._remove(resting)
        elif immediate and tif is not _GTC:
            reason = f"immediate-or-cancel: {order.remaining_quantity} of {order.quantity} {order.symbol} expired"
            self._close(resting, _EXPIRED, now, f"{reason} ({why})" if why else reason)
        elif final:
            self._close(resting, _CANCELLED, now, why)

    def _execute(
        self,
        resting: Resting,
        quantity: Decimal,
        price: Decimal,
        liquidity: Liquidity,
        rate: Decimal,
        now: datetime,
    ) -> None:
        """Book one fill: the ledger, the order, and a Fill and an OrderUpdate event."""
        order = resting.order
        fee = self._account.fee(quantity * price, rate)
        resting.fills += 1
        resting.filled_this_bar += quantity
        client_order_id = order.client_order_id
        fill = checked_fill(
            f"{client_order_id}-{resting.fills}",
            client_order_id,
            order.symbol,
            order.side,
            quantity,
            price,
            fee,
            resting.instrument.quote,
            liquidity,
            now,
        )
        self._account.fill(resting, fill)
        events = self._events
        events.append(fill)
        events.append(self._update(order, now))

    # -- lifecycle events ---------------------------------------------------------------------

    def _update(self, order: Order, now: datetime, reason: str | None = None) -> UpdateRecord:
        return (order.client_order_id, order.status, now, order.exchange_order_id, reason)

    def _reject(self, order: Order, now: datetime, reason: str) -> None:
        order.transition(_REJECTED, at=now, reason=reason)
        if self._orders.get(order.client_order_id) is order:  # not a duplicate's first order, which lives on
            self._orders.finished(order.client_order_id)
        self._events.append(self._update(order, now, reason))

    def _close(self, resting: Resting, status: OrderStatus, now: datetime, reason: str) -> None:
        """End an open order (CANCELLED or EXPIRED) with ``reason``."""
        order = resting.order
        order.transition(status, at=now, reason=reason)
        self._remove(resting)
        self._events.append(self._update(order, now, reason))

    def _remove(self, resting: Resting) -> None:
        """Take a finished order off the book (if it got there)."""
        self._orders.finished(resting.order.client_order_id)
        if self._account.remove(resting):
            self._wake_levels.pop(resting.order.symbol, None)
