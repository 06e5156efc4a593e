"""``mt5``: a MetaTrader 5 terminal as a tradekit exchange, for FX, CFD and futures brokers.

Everything goes through the terminal's Python API (:mod:`tradekit_mt5.terminal`):
the symbols' rules from ``symbol_info``, prices from ``symbol_info_tick``,
bars from ``copy_rates_*``, the account from ``account_info`` and
``positions_get``, orders through ``order_check`` and ``order_send``, and
what became of them from ``orders_get``, ``history_orders_get`` and
``history_deals_get``. Quantities are in units (lots × contract size, see
:mod:`tradekit_mt5.symbols`); orders carry tradekit's client order id in
their comment and the ``magic`` setting (:mod:`tradekit_mt5.tags`).

Besides the :class:`~tradekit.plugin.Exchange` methods, ``modify_order``,
``set_stops`` (stop loss and take profit on positions) and ``close_position``
reach what MetaTrader 5 adds, for scripts (:mod:`tradekit_mt5.extras`);
inside a run a strategy closes with a reduce-only market order.
"""

from __future__ import annotations

import difflib
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tradekit.domain.bars import BarSeries
from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import (
    Fill,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    TriggerDirection,
)
from tradekit.domain.portfolio import Balance, Position
from tradekit.errors import ConfigError, ExchangeError, InvalidOrder, OrderNotFound, OrderRejected
from tradekit.money import to_decimal
from tradekit.plugin import Capabilities, Exchange, PluginSettings
from tradekit_mt5 import bars, requests
from tradekit_mt5.codes import CHECK_PASSED, PRICE_MOVED, SUCCESS, result_error
from tradekit_mt5.extras import TerminalExtras
from tradekit_mt5.settings import MT5Settings
from tradekit_mt5.symbols import CHART_MODE_LAST, SymbolSpec
from tradekit_mt5.tags import OrderTags
from tradekit_mt5.terminal import Terminal
from tradekit_mt5.tracking import OrderTracker, Tracked

log = logging.getLogger("tradekit.mt5")
#: How :meth:`MT5Exchange.open_orders` names an order that is not tradekit's: by its ticket.
_VENUE_ID = re.compile(r"^venue:(\d+)$")


class MT5Exchange(TerminalExtras, Exchange):
    """A MetaTrader 5 account: market, limit, stop and stop-limit orders, reduce-only closes, positions."""

    Settings = MT5Settings
    settings: MT5Settings
    capabilities = Capabilities(
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT}),
        trigger_directions=frozenset({TriggerDirection.RISING, TriggerDirection.FALLING}),
        post_only=False,
        reduce_only=True,
        positions=True,
        timeframes=tuple(bars.TIMEFRAMES),
        extra={
            "client_order_id_format": "the order comment (tk + 22 base-62 digits), with the magic number",
            "quantity_unit": "units of the base: lots × the symbol's contract size",
            "trigger_directions_by_side": "buy stops rising, sell stops falling",
            "extras": "modify_order, set_stops (stop loss, take profit), close_position",
        },
    )

    def __init__(self, settings: PluginSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self.terminal = Terminal(self.settings, venue=self.name)
        self._specs: dict[str, SymbolSpec] = {}
        self._tracker = OrderTracker()
        self._tags = OrderTags()
        self._last_refresh = 0.0

    @property
    def sleep(self) -> Callable[[float], None]:
        """How the exchange waits between tries of a read (tests make it short)."""
        return self.terminal.sleep

    @sleep.setter
    def sleep(self, value: Callable[[float], None]) -> None:
        self.terminal.sleep = value

    # -- lifecycle and symbols ---------------------------------------------------------------------

    def connect(self) -> None:
        """Connect to the terminal and log in (see :class:`~tradekit_mt5.terminal.Terminal`)."""
        self.terminal.connect()

    def close(self) -> None:
        """Shut the terminal connection down; the orders stay at the broker, and :meth:`connect` takes them up."""
        self.terminal.close()
        self._specs.clear()

    def spec(self, symbol: str, error: type[Exception] = ConfigError) -> SymbolSpec:
        """The rules of ``symbol`` (selected in Market Watch so its prices flow); ``error`` for an unknown one."""
        spec = self._specs.get(symbol)
        if spec is not None:
            return spec
        info = self.terminal.read("symbol_info", "symbol_info", symbol, missing_ok=True)
        if info is None:
            listed = self.terminal.read("symbol_info", "symbols_get", missing_ok=True) or ()
            names = [str(item.name) for item in listed]
            close = difflib.get_close_matches(symbol, names, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise error(f"the {self.name} terminal lists no symbol {symbol!r}{hint}")
        if not info.select:
            self.terminal.read("symbol_info", "symbol_select", symbol, True)
        spec = SymbolSpec.from_info(info)
        self._specs[symbol] = spec
        return spec

    def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        """The symbols' rules, with the account's leverage (quantities in units, see the module doc)."""
        account = self.terminal.read("instruments", "account_info")
        leverage = Decimal(int(account.leverage or 1))
        return {symbol: self.spec(symbol).instrument(leverage) for symbol in symbols}

    def default_symbols(self) -> tuple[str, ...]:
        """The ``symbols`` setting."""
        return tuple(self.settings.symbols)

    def latest_price(self, symbol: str) -> Decimal | None:
        """The last price for symbols charted by last prices, else the bid (what the bars are drawn from)."""
        spec = self.spec(symbol)
        tick = self.terminal.read("latest_price", "symbol_info_tick", symbol, missing_ok=True)
        if tick is None:
            return None
        value = float(tick.last) if spec.chart_mode == CHART_MODE_LAST and float(tick.last) > 0 else float(tick.bid)
        return spec.price(value) if value > 0 else None

    def fetch_bars(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int | None = None
    ) -> BarSeries:
        """Closed bars of ``symbol`` (``copy_rates_from_pos`` or ``copy_rates_range``), oldest first."""
        from tradekit.data import timeframe_to_ns

        bars.timeframe_code(timeframe)
        self.spec(symbol)
        if since is None:
            rates = bars.latest(self.terminal, symbol, timeframe, limit)
        else:
            step = timeframe_to_ns(timeframe) // 1_000_000_000
            rates = bars.after(self.terminal, symbol, timeframe, since, limit, step)
        return bars.series(rates, symbol, timeframe, f"{self.name}:{symbol}:{timeframe}")

    # -- the account -------------------------------------------------------------------------------

    def balances(self) -> dict[str, Balance]:
        """The account's balance in its currency (total), and its free margin (free)."""
        account = self.terminal.read("balances", "account_info")
        currency = str(account.currency)
        return {
            currency: Balance(
                currency=currency, total=to_decimal(float(account.balance)), free=to_decimal(float(account.margin_free))
            )
        }

    def positions(self) -> dict[str, Position]:
        """Open positions per symbol, netted (a hedging account's long and short ones add up), in units."""
        sides: dict[str, dict[int, list[tuple[Decimal, Decimal]]]] = {}
        for item in self.terminal.read("positions", "positions_get", missing_ok=True) or ():
            spec = self.spec(str(item.symbol))
            held = sides.setdefault(spec.name, {}).setdefault(int(item.type), [])
            held.append((spec.quantity(item.volume), spec.price(item.price_open)))
        result: dict[str, Position] = {}
        for symbol, by_type in sides.items():
            longs, shorts = by_type.get(requests.POSITION_BUY, []), by_type.get(requests.POSITION_SELL, [])
            net = sum((q for q, _ in longs), Decimal(0)) - sum((q for q, _ in shorts), Decimal(0))
            if net == 0:
                continue
            side = longs if net > 0 else shorts
            volume = sum((q for q, _ in side), Decimal(0))
            average = sum((q * p for q, p in side), Decimal(0)) / volume
            result[symbol] = Position(
                symbol=symbol, quantity=net, average_price=self.spec(symbol).price(float(average))
            )
        return result

    # -- orders --------------------------------------------------------------------------------------

    def submit_order(self, order: Order) -> None:
        """Check ``order`` against the symbol's rules, ``order_check`` it, and ``order_send`` it once.

        A requote or a price change is sent again at the new price while it
        stays within ``deviation`` points of the first. Never resent after a
        failure that may have reached the server: the engine looks the order
        up by its tag first.
        """
        spec = self.spec(order.symbol, InvalidOrder)
        rules = spec.instrument(Decimal(1))
        for price in (order.price, order.trigger_price):
            if price is not None and (problem := rules.price_problem(price)) is not None:
                raise InvalidOrder(f"order {order.client_order_id}: {problem}")
        problem = rules.quantity_problem(order.quantity, None) or spec.volume_problem(order.quantity)
        if problem is not None:
            raise InvalidOrder(f"order {order.client_order_id}: {problem}")
        requests.order_type(order)
        filling = spec.filling(order.type, order.time_in_force)
        legs = self._legs(order, spec)
        tag = self._tags.tag(order.client_order_id)
        tracked = self._tracker.track(order, tag, datetime.now(UTC))
        for number, (volume, position) in enumerate(legs):
            try:
                result = self._send(order, spec, tag, filling, volume, position)
            except ExchangeError as error:
                if number == 0:
                    if not error.retryable:
                        tracked.reported = OrderStatus.REJECTED  # nothing rests, nothing more will be told
                    raise
                tracked.unsent = f"closed {number} of {len(legs)} positions; the next failed: {error}"
                log.error("order %s: %s", order.client_order_id, tracked.unsent)
                break
            self._tracker.add_ticket(tracked, int(result.order))
        self._tracker.acknowledge(tracked, datetime.now(UTC))
        if order.type is OrderType.MARKET:
            self._last_refresh = 0.0  # it has filled already: the engine's drain right after sees it

    def _legs(self, order: Order, spec: SymbolSpec) -> list[tuple[float, int | None]]:
        """The volumes to send and the position each closes: one leg, or one per position a reduce-only order closes."""
        if not order.reduce_only:
            return [(spec.volume(order.quantity), None)]
        if order.type is not OrderType.MARKET:
            raise InvalidOrder(
                f"order {order.client_order_id}: MetaTrader 5 closes positions with market deals; a reduce-only "
                f"order must be a market order, not {order.type.value}"
            )
        closing = requests.POSITION_BUY if order.side is Side.SELL else requests.POSITION_SELL
        held = [
            p
            for p in self.terminal.read("submit_order", "positions_get", symbol=order.symbol, missing_ok=True) or ()
            if int(p.type) == closing
        ]
        held.sort(key=lambda p: (int(p.time_msc), int(p.ticket)))
        total = sum((spec.quantity(p.volume) for p in held), Decimal(0))
        if total < order.quantity:
            direction = "long" if order.side is Side.SELL else "short"
            raise InvalidOrder(
                f"order {order.client_order_id}: a reduce-only {order.side.value} of {order.quantity} "
                f"{order.symbol}, but only {total} is held {direction}"
            )
        legs: list[tuple[float, int | None]] = []
        remaining = order.quantity
        for position in held:
            take = min(remaining, spec.quantity(position.volume))
            legs.append((spec.volume(take), int(position.ticket)))
            remaining -= take
            if remaining <= 0:
                break
        return legs

    def _send(self, order: Order, spec: SymbolSpec, tag: str, filling: int, volume: float, position: int | None) -> Any:
        price = self._quote(order.symbol, order.side, spec) if order.type is OrderType.MARKET else None
        request = requests.new_order(
            order,
            spec,
            magic=self.settings.magic,
            tag=tag,
            filling=filling,
            deviation=self.settings.deviation,
            price=price,
            volume=volume,
            position=position,
        )
        if self.settings.check_orders:
            checked = self.terminal.call("submit_order", "order_check", request)
            if int(checked.retcode) not in CHECK_PASSED:
                raise result_error(int(checked.retcode), str(checked.comment), venue=self.name, operation="order_check")
        for attempt in range(self.settings.requote_retries + 1):
            result = self.terminal.call("submit_order", "order_send", request)
            code = int(result.retcode)
            if code in SUCCESS:
                return result
            if code in PRICE_MOVED and price is not None and attempt < self.settings.requote_retries:
                offered = float(result.ask if order.side is Side.BUY else result.bid)
                fresh = spec.price(offered) if offered > 0 else self._quote(order.symbol, order.side, spec)
                moved = abs(fresh - price) / spec.point
                if moved > self.settings.deviation:
                    raise OrderRejected(
                        f"{self.name} submit_order: {str(result.comment) or 'requote'} (retcode {code}); the price "
                        f"moved {moved:f} points from {price} to {fresh}, beyond the deviation of "
                        f"{self.settings.deviation} points",
                        venue_message=str(result.comment),
                    )
                log.info("order %s requoted at %s (sent at %s); sending again", order.client_order_id, fresh, price)
                request["price"] = float(fresh)
                continue
            raise result_error(code, str(result.comment), venue=self.name, operation="submit_order")
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _quote(self, symbol: str, side: Side, spec: SymbolSpec) -> Decimal:
        tick = self.terminal.read("submit_order", "symbol_info_tick", symbol)
        value = float(tick.ask if side is Side.BUY else tick.bid)
        if value <= 0:
            raise OrderRejected(f"{self.name} submit_order: no {side.value} price for {symbol}: the market is closed")
        return spec.price(value)

    def cancel_order(self, order: Order) -> None:
        """Remove the order's working MetaTrader 5 orders (``TRADE_ACTION_REMOVE``); the update follows from a poll."""
        tracked = self._tracker.get(order.client_order_id)
        working = self._working(order, tracked)
        if tracked is not None:
            tracked.cancel_requested = True
            self._last_refresh = 0.0
        if not working:
            raise OrderNotFound(
                f"{self.name} cancel_order: no working order {order.client_order_id} at the terminal (filled, "
                "cancelled, or never placed)"
            )
        for ticket in working:
            result = self.terminal.call(
                "cancel_order", "order_send", {"action": requests.ACTION_REMOVE, "order": ticket}
            )
            if int(result.retcode) not in SUCCESS and ticket in self._working(order, tracked):
                raise result_error(int(result.retcode), str(result.comment), venue=self.name, operation="cancel_order")

    def _working(self, order: Order, tracked: Tracked | None) -> list[int]:
        """Tickets of ``order`` still among the terminal's open orders."""
        listed = self.terminal.read("cancel_order", "orders_get", symbol=order.symbol, missing_ok=True) or ()
        if tracked is not None and tracked.tickets:
            mine = set(tracked.tickets)
            return [int(o.ticket) for o in listed if int(o.ticket) in mine]
        if order.exchange_order_id and order.exchange_order_id.isdigit():
            return [int(o.ticket) for o in listed if int(o.ticket) == int(order.exchange_order_id)]
        tag = self._tags.tag(order.client_order_id)
        return [int(o.ticket) for o in listed if self._ours(o, tag)]

    def _ours(self, record: Any, tag: str) -> bool:
        return int(record.magic) == self.settings.magic and str(record.comment) == tag

    def fetch_order(self, client_order_id: str, symbol: str) -> Order | None:
        """The terminal's view of one order, found by its tag; None when neither the orders nor the history hold it.

        An open order this process did not send (a run taken up after a
        restart, or an order placed by hand that a run adopts, named
        ``venue:<ticket>`` by :meth:`open_orders`) is followed from here on,
        its deals so far taken as known.
        """
        tag = self._tags.tag(client_order_id)
        tracked = self._tracker.get(client_order_id)
        looked = self._look_up(client_order_id, symbol, tracked, tracked.order if tracked else None)
        if looked is None:
            return None
        found, venue = looked
        now = datetime.now(UTC)
        if tracked is None:
            if venue.status.is_open:
                adopted = self._tracker.track(venue, tag, venue.created_at or now, filled=venue.filled_quantity)
                for record in found:
                    self._tracker.add_ticket(adopted, int(record.ticket))
                if adopted.reported is OrderStatus.NEW:
                    adopted.reported = OrderStatus.ACCEPTED
            return venue
        for record in found:
            self._tracker.add_ticket(tracked, int(record.ticket))  # after a lost reply, the tickets are learnt here
        self._tracker.settle(tracked, venue, now)
        return venue

    def _look_up(
        self, client_order_id: str, symbol: str, tracked: Tracked | None, sent: Order | None
    ) -> tuple[list[Any], Order] | None:
        """The terminal's records of one order (working or in the history) and the order they make; None: none."""
        tag = self._tags.tag(client_order_id)
        listed = self.terminal.read("fetch_order", "orders_get", symbol=symbol, missing_ok=True) or ()
        working = {int(o.ticket): o for o in listed}
        foreign = _VENUE_ID.match(client_order_id)
        if tracked is not None and tracked.tickets:
            records = [working.get(t) or self._history_order(t) for t in tracked.tickets]
        elif foreign is not None:
            ticket = int(foreign.group(1))
            records = [working.get(ticket) or self._history_order(ticket)]
        else:
            records = [o for o in listed if self._ours(o, tag)]
            since = datetime.now(UTC) - timedelta(days=self.settings.history_days)
            until = datetime.now(UTC) + timedelta(days=1)  # a trade server's clock may run ahead of UTC
            history = (
                self.terminal.read("fetch_order", "history_orders_get", since, until, group=symbol, missing_ok=True)
                or ()
            )
            records += [o for o in history if self._ours(o, tag) and str(o.symbol) == symbol]
        found = [r for r in records if r is not None]
        if not found:
            return None
        return found, requests.view(found, self.spec(symbol), client_order_id, working=set(working), sent=sent)

    def resume_order(self, order: Order, fills: Sequence[Fill]) -> Order | None:
        """Take up an order of a run that died, from its journal: the deals made while it was down are reported.

        The order is found by its tag (working, or in the history when it
        ended while the run was down) and followed as if this process had sent
        it, with the journal's fills as reported already (by deal ticket). The
        next poll reports its other deals, then how it ended.
        """
        tag = self._tags.tag(order.client_order_id)
        tracked = self._tracker.take_up(order, tag, fills, self.name)
        try:
            looked = self._look_up(order.client_order_id, order.symbol, tracked, order)
            ticket = order.exchange_order_id
            if looked is None and ticket is not None and ticket.isdigit():
                # Placed before the tag search's history_days: by its journaled ticket, if that order is ours.
                record = self._history_order(int(ticket))
                if record is not None and self._ours(record, tag):
                    self._tracker.add_ticket(tracked, int(ticket))
                    looked = self._look_up(order.client_order_id, order.symbol, tracked, order)
        except ExchangeError:
            self._tracker.forget(order.client_order_id)
            raise
        if looked is None:
            self._tracker.forget(order.client_order_id)
            return None
        found, venue = looked
        for record in found:
            self._tracker.add_ticket(tracked, int(record.ticket))
        self._tracker.settle(tracked, venue, datetime.now(UTC))
        self._last_refresh = 0.0  # the next poll reads the deals
        return venue

    def _history_order(self, ticket: int) -> Any:
        found = self.terminal.read("fetch_order", "history_orders_get", ticket=ticket, missing_ok=True)
        return found[0] if found else None

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Every working order (of ``symbol``, or all): tradekit's by client order id, others as ``venue:<ticket>``."""
        listed = (
            self.terminal.read("open_orders", "orders_get", symbol=symbol, missing_ok=True)
            if symbol is not None
            else self.terminal.read("open_orders", "orders_get", missing_ok=True)
        ) or ()
        result = []
        for record in listed:
            mine = int(record.magic) == self.settings.magic
            client_order_id = (self._tags.client_order_id(str(record.comment)) if mine else None) or (
                f"venue:{record.ticket}"
            )
            tracked = self._tracker.get(client_order_id)
            result.append(
                requests.view(
                    [record],
                    self.spec(str(record.symbol)),
                    client_order_id,
                    working={int(record.ticket)},
                    sent=tracked.order if tracked is not None else None,
                )
            )
        return result

    # -- events ------------------------------------------------------------------------------------

    def poll_events(self) -> list[OrderUpdate | Fill]:
        """Acknowledgements queued on submit, then (at most every ``refresh_interval``) what the terminal shows."""
        unfinished = self._tracker.unfinished()
        now = time.monotonic()
        if unfinished and now - self._last_refresh >= self.settings.refresh_interval:
            self._last_refresh = now
            self._refresh(unfinished)
        return self._tracker.drain()

    def _refresh(self, unfinished: list[Tracked]) -> None:
        """The orders' state (open, or their history), then their deals, then what the state means.

        The state is read before the deals, so every deal the terminal counts
        in an order's filled volume is among the deals read after it.
        """
        at = datetime.now(UTC)
        patience = timedelta(seconds=max(self.settings.timeout, 60.0))
        for tracked in unfinished:
            if tracked.tickets:
                continue
            # Its reply was lost: find it by its tag. One the terminal still does not know long after was
            # never placed (the engine has been told so already; this only stops the looking).
            if (
                self.fetch_order(tracked.order.client_order_id, tracked.symbol) is None
                and at - tracked.since > patience
            ):
                self._tracker.finish(tracked, OrderStatus.REJECTED, at, "the terminal never received the order")
        working: dict[int, Any] = {}
        for symbol in {t.symbol for t in unfinished if t.tickets}:
            for record in self.terminal.read("poll_events", "orders_get", symbol=symbol, missing_ok=True) or ():
                working[int(record.ticket)] = record
        for tracked in unfinished:
            if not tracked.tickets or tracked.done:
                continue
            records = [working.get(t) or self._history_order(t) for t in tracked.tickets]
            if any(r is None for r in records):
                continue  # an order just sent may reach the history a moment later
            spec = self.spec(tracked.symbol)
            venue = requests.view(
                records, spec, tracked.order.client_order_id, working=set(working), sent=tracked.order
            )
            if venue.filled_quantity > tracked.filled:
                self._collect_deals(tracked, spec)
            self._tracker.settle(tracked, venue, at)

    def _collect_deals(self, tracked: Tracked, spec: SymbolSpec) -> None:
        """Report the deals of ``tracked``'s orders not reported yet, oldest first."""
        deals: list[Any] = []
        for ticket in tracked.tickets:
            deals += self.terminal.read("poll_events", "history_deals_get", ticket=ticket, missing_ok=True) or ()
        currency = str(self.terminal.account.currency) if self.terminal.account is not None else ""
        order = tracked.order
        resting = order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        for deal in sorted(deals, key=lambda d: (int(d.time_msc), int(d.ticket))):
            charged = -(to_decimal(float(deal.commission)) + to_decimal(float(deal.fee)))
            fill = Fill(
                fill_id=f"{self.name}:{deal.ticket}",
                client_order_id=order.client_order_id,
                symbol=order.symbol,
                side=order.side,
                quantity=spec.quantity(deal.volume),
                price=spec.price(deal.price),
                fee=charged,
                fee_currency=currency,
                liquidity=Liquidity.MAKER if resting else Liquidity.TAKER,
                timestamp=requests.when(deal.time_msc) or datetime.now(UTC),
            )
            self._tracker.add_fill(tracked, int(deal.ticket), fill)
