"""Taking up a dry or live run that died: the journal says where it stood, the venue what is still open.

A run that ends normally is marked finished in the journal. One that was
killed (a crash, SIGKILL, a power cut) is not, and the next ``tradekit run``
of the same strategy, exchange, symbols and mode takes it up instead of
starting afresh:

* the run keeps its id (its client order ids carry it) and the journal records
  the resume;
* the ledger is rebuilt from the run's journaled fills; in a dry run the
  simulated venue, which lived in the dead process's memory, gets those fills
  and the run's open orders back, resting as they were;
* an order journaled as NEW (sent, never acknowledged) is looked up at the
  venue by its client order id and never sent again blindly; one the venue
  does not know is recorded as rejected;
* live, every open order is handed to the exchange with the fills the journal
  booked for it (:meth:`~tradekit.plugin.Exchange.resume_order`) and takes the
  state the exchange reports; the fills it made while the run was down are
  reported by the exchange afterwards, as any fill is, and booked once (an
  exchange plugin without ``resume_order`` cannot: the run says so);
* the strategy gets its last journaled state and its open orders through
  :meth:`~tradekit.plugin.Strategy.restore` instead of ``on_start``;
* the bars continue after the last bar time the dead run journaled anything
  on: bars after it changed nothing (every change is journaled), so
  replaying them decides the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradekit.domain.events import EventKind, Severity
from tradekit.domain.orders import Fill, Order, OrderStatus, OrderUpdate
from tradekit.errors import ExchangeError, InvalidTransitionError
from tradekit.session.reconcile import StartRefused

if TYPE_CHECKING:
    from tradekit.engine.brokers import Broker
    from tradekit.engine.core import Engine
    from tradekit.journal import Journal
    from tradekit.journal.records import RunRecord
    from tradekit.plugin import Strategy
    from tradekit.sim import SimulatedVenue

log = logging.getLogger("tradekit.session")


@dataclass
class Resumption:
    """What the journal holds of a run that died."""

    record: RunRecord
    #: The last bar time the run journaled anything on; the resumed run's bars come after it.
    after: datetime | None
    fills: list[Fill]
    orders: list[Order]
    state: dict[str, Any] | None
    #: The cash the run started with (from its journaled settings).
    cash: Decimal


def load_resumption(journal: Journal, record: RunRecord, strategy: str, default_cash: Decimal) -> Resumption:
    """Read what a resumed run needs from the journal."""
    configured = record.config.get("backtest", {}).get("cash") if isinstance(record.config, dict) else None
    cash = Decimal(str(configured)) if configured is not None else default_cash
    fills = journal.fills(record.run_id)
    grouped = fills_by_order(fills)
    return Resumption(
        record=record,
        after=journal.last_activity(record.run_id),
        fills=fills,
        orders=[_as_filled(order, grouped.get(order.client_order_id, [])) for order in journal.orders(record.run_id)],
        state=journal.last_strategy_state(record.run_id, strategy),
        cash=cash,
    )


def fills_by_order(fills: list[Fill]) -> dict[str, list[Fill]]:
    """``fills`` grouped by client order id, in their order."""
    grouped: dict[str, list[Fill]] = {}
    for fill in fills:
        grouped.setdefault(fill.client_order_id, []).append(fill)
    return grouped


def _as_filled(order: Order, fills: list[Fill]) -> Order:
    """``order`` with the filled quantity its journaled ``fills`` give, when its record fell behind them.

    A live run journals a fill before the order's new state; a run killed in
    between leaves an order that counts less than its fills. Its fills are
    the truth (the money moved): the record is rebuilt from them.
    """
    booked = sum((fill.quantity for fill in fills), Decimal(0))
    if order.status.is_terminal or booked <= order.filled_quantity:
        return order
    rebuilt = order.model_copy(
        update={
            "status": OrderStatus.ACCEPTED,
            "filled_quantity": Decimal(0),
            "filled_notional": Decimal(0),
            "average_fill_price": None,
            "fees_paid": Decimal(0),
        }
    )
    try:
        for fill in fills:
            rebuilt.record_fill(fill.quantity, fill.price, fill.fee, at=fill.timestamp)
    except InvalidTransitionError as error:
        log.error("order %s: its journaled fills do not fit it (%s); its record stands", order.client_order_id, error)
        return order
    log.warning(
        "order %s: journaled as %s filled, its journaled fills make %s: taken from the fills",
        order.client_order_id,
        order.filled_quantity,
        booked,
    )
    return rebuilt


#: What the venue said of one of the run's open orders when it was taken up: its view, None (it does not
#: know the order) or the error looking it up raised.
Answer = Order | None | ExchangeError


def look_up(resumption: Resumption, broker: Broker) -> dict[str, Answer]:
    """Ask the venue about each order the dead run left open; the exchange follows each from the journal on.

    Each order is handed over with the fills the journal booked for it
    (:meth:`~tradekit.plugin.Exchange.resume_order`), so the fills the venue
    made while the run was down are reported by the exchange's events, once.
    """
    fills = fills_by_order(resumption.fills)
    return {
        order.client_order_id: _ask(broker, order, fills.get(order.client_order_id, []))
        for order in resumption.orders
        if not order.status.is_terminal
    }


def refuse_unsure_start(answers: dict[str, Answer], venue: str, close: Callable[[], None]) -> None:
    """Stop a live start when any open order could not be looked up: its fills and state would go unfollowed.

    ``close`` releases the run's plugins first. Nothing was sent or
    cancelled; starting again once the venue answers takes the run up then.
    """
    failed = {cid: answer for cid, answer in answers.items() if isinstance(answer, ExchangeError)}
    if not failed:
        return
    close()
    lines = "\n".join(f"  {cid}: {error}" for cid, error in failed.items())
    raise StartRefused(
        f"the run did not start: {venue} could not be asked about {len(failed)} of the open orders it is taking "
        f"up, so their fills and state while it was down are unknown:\n{lines}",
        hint="nothing was sent or cancelled; start the same run again once the venue answers",
    )


def missed_fills(resumption: Resumption, answers: dict[str, Answer]) -> dict[str, Decimal]:
    """Per symbol, the signed quantity the venue filled of the run's orders while it was down (not journaled)."""
    missed: dict[str, Decimal] = {}
    for order in resumption.orders:
        view = answers.get(order.client_order_id)
        if isinstance(view, Order) and view.filled_quantity > order.filled_quantity:
            gap = (view.filled_quantity - order.filled_quantity) * order.side.sign
            missed[order.symbol] = missed.get(order.symbol, Decimal(0)) + gap
    return missed


def take_up(
    resumption: Resumption,
    engine: Engine,
    broker: Broker,
    venue: SimulatedVenue | None,
    strategy: Strategy,
    now: datetime,
    answers: dict[str, Answer] | None = None,
) -> list[Order]:
    """Rebuild the engine (and the simulated venue) and settle orders left unsure; the open orders.

    Live, every open order is settled with the venue's answer (``answers``,
    from :func:`look_up`; asked here when not given). Orders that turn out
    not to be open any more are recorded with their new state (journal,
    hooks); the strategy hears of them through its restored state, which
    still names them, and the open orders it is given. Fills the venue made
    while the run was down arrive through the exchange's events, after.
    """
    orders = engine.resume(strategy, resumption.fills, resumption.orders)
    if venue is not None:
        fills_per_order: dict[str, int] = {}
        for fill in resumption.fills:
            fills_per_order[fill.client_order_id] = fills_per_order.get(fill.client_order_id, 0) + 1
        resting = [order for order in orders if order.status is not OrderStatus.NEW]
        venue.restore(resumption.fills, resting, fills_per_order)
        unsure = [order for order in orders if order.status is OrderStatus.NEW]
        answers = {order.client_order_id: _ask(broker, order, []) for order in unsure}
    elif answers is None:
        answers = look_up(resumption, broker)
    for order in orders:
        if order.client_order_id not in answers:
            continue
        # The strategy is not restored yet: it learns the outcome from the open orders it is given.
        owner = engine.owners.pop(order.client_order_id, None)
        _settle(engine, broker, order, answers[order.client_order_id], now)
        if owner is not None and order.status.is_open:
            engine.owners[order.client_order_id] = owner
    return [order for order in orders if order.status.is_open]


def _ask(broker: Broker, order: Order, fills: list[Fill]) -> Answer:
    """The venue's answer about ``order`` (its journaled ``fills`` handed over), or the error asking raised."""
    try:
        return broker.resume_order(order, fills)
    except ExchangeError as error:
        return error


def _settle(engine: Engine, broker: Broker, order: Order, answer: Answer, now: datetime) -> None:
    """Take the venue's answer about ``order``; an order it does not know never reached it."""
    if isinstance(answer, ExchangeError):
        log.error("looking up %s on restart failed (%s); it stays as journaled", order.client_order_id, answer)
        engine.hooks.exchange_error(broker.name, "resume_order", answer)
        return
    if answer is None:
        ended = OrderStatus.REJECTED if order.status is OrderStatus.NEW else OrderStatus.CANCELLED
        reason = (
            f"{broker.name} had no order {order.client_order_id} when the run resumed: it never arrived "
            "(it was not sent again)"
        )
        engine.apply_update(
            OrderUpdate(client_order_id=order.client_order_id, status=ended, timestamp=now, reason=reason)
        )
        return
    missed = answer.filled_quantity - order.filled_quantity
    status: OrderStatus | None = None
    if missed > 0 and broker.follows_resumed_orders:
        # The exchange reports those fills, then how the order ended: ending it here would put them after its end.
        log.warning(
            "order %s: %s filled %s more while the run was down; its fills and its end follow from the venue",
            order.client_order_id,
            broker.name,
            missed,
        )
        if order.status is OrderStatus.NEW:
            status = OrderStatus.ACCEPTED
    else:
        if missed > 0:
            message = (
                f"order {order.client_order_id}: {broker.name} filled {missed} more of it while the run was down, "
                f"and the {broker.name} plugin cannot report fills of an order taken up after a restart (it has no "
                "resume_order): they are not in the run's books; check the position (a live start with "
                "--on-mismatch adopt books the difference)"
            )
            log.error("%s", message)
            engine.notify(EventKind.ERROR, message, Severity.ERROR, {"client_order_id": order.client_order_id})
        elif missed < 0:
            log.warning(
                "order %s: %s counts %s filled, the journal %s; the journal's fills stand",
                order.client_order_id,
                broker.name,
                answer.filled_quantity,
                order.filled_quantity,
            )
        if answer.status not in (order.status, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED):
            status = answer.status
    steps: list[OrderStatus] = []
    if status is not None:
        if order.status is OrderStatus.NEW and status not in (OrderStatus.ACCEPTED, OrderStatus.REJECTED):
            steps.append(OrderStatus.ACCEPTED)  # the venue held it before it ended (cancelled, expired)
        steps.append(status)
    for step in steps:
        why = None if step is OrderStatus.ACCEPTED else answer.reason or "state found on the venue on resuming"
        engine.apply_update(
            OrderUpdate(
                client_order_id=order.client_order_id,
                status=step,
                timestamp=now,
                exchange_order_id=answer.exchange_order_id,
                reason=why,
            )
        )
