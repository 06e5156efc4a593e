"""The engine: one path for every order, in every mode.

market data -> strategy -> order intent -> every risk rule -> broker (simulated
venue or exchange) -> order updates and fills -> ledger, strategy, journal,
hooks, notifiers.

The mode-specific loops (:mod:`tradekit.engine.backtest`,
:mod:`tradekit.engine.live`) only move the clock and feed bars; everything an
order goes through is here, once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradekit.domain.events import EventKind, NotifierEvent, RiskAction, Severity
from tradekit.domain.order_memory import OrderMemory
from tradekit.domain.orders import (
    TERMINAL_STATUSES,
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    OrderUpdate,
)
from tradekit.domain.portfolio import Ledger
from tradekit.domain.run import RiskContext, RunInfo
from tradekit.engine.fill_log import FillLog
from tradekit.engine.ids import ClientOrderIds
from tradekit.engine.recording import DirectRecorder, NoRecorder, Recorder
from tradekit.errors import ExchangeError, InvalidTransitionError, OrderStateUnknown
from tradekit.hooks import HookFacade, combine_verdicts
from tradekit.money import to_decimal

if TYPE_CHECKING:
    from tradekit.domain.instruments import Instrument
    from tradekit.engine.brokers import Broker
    from tradekit.journal import Journal
    from tradekit.plugin import Strategy

log = logging.getLogger("tradekit.engine")

# Enum members the per-order path reads, bound once (a class attribute read costs ten times a global's).
_NEW, _ACCEPTED, _PARTIALLY_FILLED, _FILLED, _REJECTED = (
    OrderStatus.NEW,
    OrderStatus.ACCEPTED,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED,
    OrderStatus.REJECTED,
)
_ACCEPT, _REJECT, _RESIZE = RiskAction.ACCEPT, RiskAction.REJECT, RiskAction.RESIZE
# Order events are journaled as orders and fills already, not again as events.
_JOURNALED_AS_ORDERS = frozenset({EventKind.ORDER_FILLED, EventKind.ORDER_PLACED, EventKind.ORDER_CANCELLED})


@dataclass
class EngineStats:
    """Counters a run reports at the end."""

    intents: int = 0
    risk_rejections: int = 0
    orders: int = 0
    rejected: int = 0
    fills: int = 0
    errors: int = 0
    verdict_counts: dict[str, int] = field(default_factory=dict)


class Engine:
    """Routes intents to orders and events back to the strategy, the same in every mode.

    The loops set :attr:`now`, :attr:`index` and :attr:`prices` before they
    call the strategy; everything else is the engine's.
    """

    def __init__(
        self,
        *,
        run: RunInfo,
        broker: Broker,
        hooks: HookFacade,
        instruments: dict[str, Instrument],
        quote_currency: str,
        cash: Decimal,
        journal: Journal | None = None,
        ids: ClientOrderIds | None = None,
        recorder: Recorder | None = None,
        keep_finished: int | None = None,
    ) -> None:
        self.run = run
        self.broker = broker
        self.hooks = hooks
        self.journal = journal
        # Order states, fills and positions go through the recorder: at once
        # (live), or captured and written at the end (backtests).
        self.recorder: Recorder | None = recorder
        if recorder is None and journal is not None:
            self.recorder = DirectRecorder(journal, run.run_id)
        self.instruments = instruments
        self.quote_currency = quote_currency
        self.start_cash = cash
        self.ledger = Ledger(cash={quote_currency: cash}, instruments=dict(instruments))
        self.ids = ids or ClientOrderIds(run.run_id)
        # Open orders, the latest finished ones, and every id used: a long backtest does not keep
        # (and make the garbage collector walk) every order it ever sent.
        self.orders = OrderMemory(keep_finished)
        self.owners: dict[str, Strategy] = {}
        self.contexts: dict[int, Any] = {}
        self.fill_log = FillLog()
        self.stats = EngineStats()
        self.now: datetime | None = None
        self.index = 0
        self.prices: dict[str, Decimal] = {}
        self._last_close: dict[str, float] = {}
        # Only a recorder that keeps something is handed records (a backtest without an order journal has none).
        self._recording = self.recorder is not None and not isinstance(self.recorder, NoRecorder)
        # Which of on_fill and on_order_update each strategy implements: the base class's do nothing, and
        # calling them costs a context lookup and a call per event.
        self._listens: dict[int, tuple[Strategy, bool, bool]] = {}
        self._has_risk = bool(hooks.pm.hook.tradekit_risk_check.get_hookimpls())
        # Hooks with no implementation are not called at all: a backtest with
        # no observer pays nothing for them.
        self._observed = {
            name: bool(getattr(hooks.pm.hook, name).get_hookimpls())
            for name in (
                "tradekit_intent_created",
                "tradekit_order_submitted",
                "tradekit_order_updated",
                "tradekit_fill",
                "tradekit_notify",
                "tradekit_strategy_state_changed",
            )
        }

    # -- a restart ---------------------------------------------------------------

    def resume(self, strategy: Strategy, fills: list[Fill], orders: list[Order]) -> list[Order]:
        """Take up a run that died: book its journaled ``fills``, adopt its ``orders``; the open ones, returned.

        Call before the first bar of the resumed run. The ledger is rebuilt
        from the fills (cash and positions as the dead run left them), every
        order the run sent counts as used (no client order id is handed out
        twice) and its open orders become ``strategy``'s again, so their fills
        and updates reach it. Counters start from what the run had done.
        """
        for fill in fills:
            self.ledger.apply_fill(fill)
        self.stats.fills = len(fills)
        self.stats.orders = len(orders)
        highest = self.ids.sequence
        open_orders = []
        for order in orders:
            self.orders.add(order)
            if self.ids.owns(order.client_order_id):
                highest = max(highest, int(order.client_order_id[len(self.ids.prefix) :], 16))
            if order.status.is_terminal:
                self.orders.finished(order.client_order_id)
            else:
                self.owners[order.client_order_id] = strategy
                open_orders.append(order)
        self.ids.sequence = highest
        return open_orders

    # -- prices ----------------------------------------------------------------

    def set_close(self, symbol: str, close: float) -> None:
        """Record the latest close of ``symbol`` (as a float; a Decimal is made when needed)."""
        self._last_close[symbol] = close

    def price(self, symbol: str) -> Decimal:
        """The latest close of ``symbol`` as an exact Decimal on the instrument's tick."""
        return self.instruments[symbol].round_price(to_decimal(self._last_close[symbol]))

    def last_close(self, symbol: str) -> float:
        """The latest close of ``symbol`` as a float."""
        return self._last_close[symbol]

    # -- orders in -------------------------------------------------------------------

    def submit_intent(self, strategy: Strategy, intent: OrderIntent, market_price: Decimal | None) -> str | None:
        """Judge ``intent`` with every risk rule and send what passes; its client order id or None."""
        assert self.now is not None, "the loop sets the clock before the strategy runs"
        self.stats.intents += 1
        if self._observed["tradekit_intent_created"]:
            self.hooks.intent_created(intent, strategy.name)
        # Risk context is built only when a rule will read it.
        if self._has_risk:
            verdicts = self.hooks.risk_check(intent, self.risk_context())
            action, detail = combine_verdicts(verdicts)
        else:
            verdicts, action, detail = [], _ACCEPT, None
        client_order_id = intent.client_order_id or self.ids.next()
        if self.orders.used(client_order_id):
            # Reusing an id would orphan the first order: its fills could no longer be told apart.
            self.stats.errors += 1
            self.notify(
                EventKind.ERROR,
                f"strategy {strategy.name} sent client order id {client_order_id} twice; the second intent "
                "is dropped (each order needs an id of its own)",
                Severity.ERROR,
                {"client_order_id": client_order_id, "strategy": strategy.name},
            )
            log.error("strategy %s reused client order id %s; intent dropped", strategy.name, client_order_id)
            return None
        if self.journal is not None and verdicts:
            self.journal.record_risk_verdicts(
                self.run.run_id, intent, verdicts, action.value, self.now, client_order_id
            )
        for verdict in verdicts:
            key = f"{verdict.rule}:{verdict.action.value}"
            self.stats.verdict_counts[key] = self.stats.verdict_counts.get(key, 0) + 1
        if action is _REJECT:
            self.stats.risk_rejections += 1
            reasons = "; ".join(detail)
            self.notify(
                EventKind.RISK_REJECTED,
                f"{intent.side.value} {intent.quantity} {intent.symbol} blocked by risk: {reasons}",
                Severity.WARNING,
                {
                    "symbol": intent.symbol,
                    "side": intent.side.value,
                    "quantity": str(intent.quantity),
                    "reasons": list(detail),
                },
            )
            return None
        if action is _RESIZE:
            # A rule may only shrink an order (hookspec): a larger answer is capped at what was asked.
            resized = self.instruments[intent.symbol].round_quantity(min(detail, intent.quantity))
            if resized <= 0:
                self.stats.risk_rejections += 1
                return None
            intent = intent.model_copy(update={"quantity": resized})
        order = Order.from_intent(intent, client_order_id, created_at=self.now)
        self.orders.add(order)
        self.owners[client_order_id] = strategy
        self.stats.orders += 1
        if self._recording:
            self.recorder.order(order)  # type: ignore[union-attr]  # set when recording
        if self._observed["tradekit_order_submitted"]:
            self.hooks.order_submitted(order)
        try:
            self.broker.submit(order, self.now, market_price)
        except OrderStateUnknown as error:
            self.stats.errors += 1
            self.hooks.exchange_error(self.broker.name, "submit_order", error)
            self.notify(EventKind.ERROR, str(error), Severity.ERROR, {"client_order_id": client_order_id})
            return client_order_id
        except ExchangeError as error:
            self.stats.errors += 1
            self.hooks.exchange_error(self.broker.name, "submit_order", error)
            reason = error.venue_message or str(error)
            self._apply_update(client_order_id, _REJECTED, self.now, None, reason)
            return client_order_id
        self.drain()
        return client_order_id

    def cancel(self, client_order_id: str) -> None:
        """Ask the broker to cancel one of this run's open orders."""
        assert self.now is not None
        order = self.orders.get(client_order_id)
        if order is None or not order.status.is_open:
            return
        try:
            self.broker.cancel(order, self.now)
        except ExchangeError as error:
            self.stats.errors += 1
            self.hooks.exchange_error(self.broker.name, "cancel_order", error)
            return
        self.drain()

    # -- events out ------------------------------------------------------------------

    def drain(self) -> None:
        """Apply every event the broker has for us, in order."""
        events = self.broker.poll_events()
        if not events:
            return
        for event in events:
            if type(event) is tuple:
                self._apply_update(*event)
            elif isinstance(event, Fill):
                self._apply_fill(event)
            else:
                update: OrderUpdate = event  # type: ignore[assignment]  # the only other kind
                self._apply_update(
                    update.client_order_id, update.status, update.timestamp, update.exchange_order_id, update.reason
                )

    def apply_update(self, update: OrderUpdate) -> None:
        """Apply one order update that did not come from the broker's events (e.g. settled on a restart)."""
        self._apply_update(
            update.client_order_id, update.status, update.timestamp, update.exchange_order_id, update.reason
        )

    def _apply_update(
        self,
        client_order_id: str,
        status: OrderStatus,
        timestamp: datetime,
        exchange_order_id: str | None,
        reason: str | None,
    ) -> None:
        """Apply an order update, given as its fields (an OrderUpdate's, or a venue's UpdateRecord)."""
        order = self.orders.get(client_order_id)
        if order is None:
            log.warning("update for an order this run did not send: %s", client_order_id)
            return
        if status is _PARTIALLY_FILLED or status is _FILLED or status is order.status:
            # Fill states follow from fills (applied in _apply_fill), so a
            # venue that reports both never moves an order twice.
            if exchange_order_id and not order.exchange_order_id:
                order.__dict__["exchange_order_id"] = exchange_order_id
            return
        try:
            previous = order.transition(status, at=timestamp, reason=reason)
        except InvalidTransitionError as error:
            self.stats.errors += 1
            log.error("%s", error)
            return
        if exchange_order_id:
            # Into the instance dict, as Order.transition writes: pydantic's assignment hook costs a
            # microsecond and grows the order's fields-set.
            order.__dict__["exchange_order_id"] = exchange_order_id
        self._after_update(order, previous)

    def _apply_fill(self, fill: Fill) -> None:
        # The fill's fields read from its instance dict: a pydantic model's attributes cost twice a dict's
        # items to read, and a backtest applies a fill every few microseconds.
        values = fill.__dict__
        client_order_id = values["client_order_id"]
        order = self.orders.get(client_order_id)
        if order is None:
            log.warning("fill for an order this run did not send: %s", client_order_id)
            return
        if order.status is _NEW:
            # A venue may report the fill before the acknowledgement.
            previous_new = order.transition(_ACCEPTED, at=values["timestamp"])
            self._after_update(order, previous_new)
        try:
            previous: OrderStatus | None = order.record_fill(
                values["quantity"], values["price"], values["fee"], at=values["timestamp"]
            )
        except InvalidTransitionError as error:
            # A fill that raced a cancel (or arrived for an order thought refused) still happened
            # on the venue: the money moved, so it is booked; the order keeps its final state.
            self.stats.errors += 1
            log.error("fill %s booked for an order in state %s: %s", fill.fill_id, order.status, error)
            self.notify(
                EventKind.ERROR,
                f"late fill {fill.fill_id}: {error}",
                Severity.ERROR,
                {"client_order_id": fill.client_order_id},
            )
            previous = None
        ledger = self.ledger
        held = ledger.book_fill(fill)
        self.stats.fills += 1
        self.fill_log.append(self.index, fill, ledger.cash[self.quote_currency], held)
        if self._recording:
            # The recorder copies the figures it keeps at once: the ledger's own record does.
            self.recorder.fill(fill, ledger.figures(values["symbol"]))  # type: ignore[union-attr]  # set when recording
        observed = self._observed
        # A position snapshot is built only for plugins that read one.
        if observed["tradekit_fill"] or observed["tradekit_notify"]:
            position = ledger.position(fill.symbol)
            if observed["tradekit_fill"]:
                self.hooks.fill(fill, position)
            if observed["tradekit_notify"]:
                self.notify(
                    EventKind.ORDER_FILLED,
                    f"filled {fill.side.value} {fill.quantity} {fill.symbol} at {fill.price}",
                    Severity.INFO,
                    {
                        "client_order_id": fill.client_order_id,
                        "symbol": fill.symbol,
                        "side": fill.side.value,
                        "quantity": str(fill.quantity),
                        "price": str(fill.price),
                        "fee": str(fill.fee),
                        "position": str(position.quantity),
                    },
                )
        strategy = self.owners.get(client_order_id)
        if strategy is not None:
            known = self._listens.get(id(strategy))
            if known is None or known[0] is not strategy:
                known = self._learn_listening(strategy)
            if known[1]:
                strategy.on_fill(self.context_for(strategy), fill)
        if previous is not None:
            self._after_update(order, previous)

    def _after_update(self, order: Order, previous: OrderStatus) -> None:
        status = order.status
        if status in TERMINAL_STATUSES:
            forgotten = self.orders.finished(order.client_order_id)
            if forgotten is not None:
                self.owners.pop(forgotten, None)
        if self._recording:
            self.recorder.order(order)  # type: ignore[union-attr]  # set when recording
        observed = self._observed
        if observed["tradekit_order_updated"]:
            self.hooks.order_updated(order, previous)
        if status is _REJECTED:
            self.stats.rejected += 1
            self.notify(
                EventKind.ORDER_REJECTED,
                f"order {order.client_order_id} ({order.side.value} {order.quantity} {order.symbol}) "
                f"rejected: {order.reason}",
                Severity.WARNING,
                {"client_order_id": order.client_order_id, "symbol": order.symbol, "reason": order.reason},
            )
        elif not observed["tradekit_notify"]:
            pass  # order placed and cancelled events are not journaled: nobody to tell
        elif status is _ACCEPTED and order.type is not OrderType.MARKET:
            self.notify(
                EventKind.ORDER_PLACED,
                f"placed {order.type.value} {order.side.value} {order.quantity} {order.symbol}"
                + (f" at {order.price}" if order.price is not None else "")
                + (f" trigger {order.trigger_price}" if order.trigger_price is not None else ""),
                Severity.INFO,
                {"client_order_id": order.client_order_id, "symbol": order.symbol},
            )
        elif status is OrderStatus.CANCELLED:
            self.notify(
                EventKind.ORDER_CANCELLED,
                f"cancelled {order.client_order_id} ({order.side.value} {order.quantity} {order.symbol})",
                Severity.INFO,
                {"client_order_id": order.client_order_id, "symbol": order.symbol},
            )
        strategy = self.owners.get(order.client_order_id)
        if strategy is not None:
            known = self._listens.get(id(strategy))
            if known is None or known[0] is not strategy:
                known = self._learn_listening(strategy)
            if known[2]:
                strategy.on_order_update(self.context_for(strategy), order)

    def _learn_listening(self, strategy: Strategy) -> tuple[Strategy, bool, bool]:
        """Note whether ``strategy`` implements on_fill and on_order_update (the base class's do nothing).

        The answer is kept with the strategy itself, so its id cannot pass to another object meanwhile.
        """
        from tradekit.plugin import Strategy

        kind = type(strategy)
        own = getattr(strategy, "__dict__", {})  # a method set on the instance counts too
        known = self._listens[id(strategy)] = (
            strategy,
            kind.on_fill is not Strategy.on_fill or "on_fill" in own,
            kind.on_order_update is not Strategy.on_order_update or "on_order_update" in own,
        )
        return known

    # -- what plugins see -------------------------------------------------------

    def context_for(self, strategy: Strategy) -> Any:
        """The context object of ``strategy`` (set up by the loop)."""
        return self.contexts[id(strategy)]

    def risk_context(self) -> RiskContext:
        """The account as risk rules see it now."""
        assert self.now is not None
        prices = {symbol: self.price(symbol) for symbol in self._last_close}
        return RiskContext(
            timestamp=self.now,
            equity=self.ledger.equity(prices, self.quote_currency),
            quote_currency=self.quote_currency,
            cash=dict(self.ledger.cash),
            positions={p.symbol: p for p in self.ledger.positions()},
            open_orders=tuple(self.open_orders()),
            prices=prices,
            instruments=self.instruments,
            mode=self.run.mode,
        )

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """This run's orders that may still fill."""
        return [o for o in self.orders.unfinished() if o.status.is_open and (symbol is None or o.symbol == symbol)]

    def free_cash(self) -> Decimal:
        """Quote cash not held back by this run's resting buy orders."""
        locked = Decimal(0)
        for order in self.orders.unfinished():
            if order.status.is_open and order.side.value == "buy":
                price = order.price or order.trigger_price or self.price(order.symbol)
                locked += price * order.remaining_quantity
        return self.ledger.cash.get(self.quote_currency, Decimal(0)) - locked

    def equity(self) -> Decimal:
        """Cash plus positions at the latest closes."""
        prices = {symbol: self.price(symbol) for symbol in self._last_close}
        return self.ledger.equity(prices, self.quote_currency)

    def save_state(self, strategy: Strategy, state: dict[str, Any]) -> None:
        """Journal a strategy's state, then tell observers."""
        assert self.now is not None
        if self.journal is not None:
            self.journal.record_strategy_state(self.run.run_id, strategy.name, state, self.now)
        if self._observed["tradekit_strategy_state_changed"]:
            self.hooks.strategy_state_changed(strategy.name, state)

    def notify(self, kind: str, message: str, severity: Severity, data: dict[str, Any]) -> None:
        """Build a notifier event only when someone listens, journal it, and send it."""
        journaled = self.journal is not None and kind not in _JOURNALED_AS_ORDERS
        if not self._observed["tradekit_notify"] and not journaled:
            return
        event = NotifierEvent(
            kind=kind,
            message=message,
            severity=severity,
            data=data,
            run_id=self.run.run_id,
            timestamp=self.now or datetime.now().astimezone(),
        )
        if journaled:
            assert self.journal is not None
            self.journal.record_event(self.run.run_id, event)
        if self._observed["tradekit_notify"]:
            self.hooks.notify(event)
