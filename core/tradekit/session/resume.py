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
* live, every open order is looked up at the exchange and takes the state the
  exchange reports;
* the strategy gets its last journaled state and its open orders through
  :meth:`~tradekit.plugin.Strategy.restore` instead of ``on_start``;
* the bars continue after the last bar time the dead run journaled anything
  on: bars after it changed nothing (every change is journaled), so
  replaying them decides the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradekit.domain.orders import Fill, Order, OrderStatus, OrderUpdate
from tradekit.errors import ExchangeError

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
    return Resumption(
        record=record,
        after=journal.last_activity(record.run_id),
        fills=journal.fills(record.run_id),
        orders=journal.orders(record.run_id),
        state=journal.last_strategy_state(record.run_id, strategy),
        cash=cash,
    )


def take_up(
    resumption: Resumption,
    engine: Engine,
    broker: Broker,
    venue: SimulatedVenue | None,
    strategy: Strategy,
    now: datetime,
) -> list[Order]:
    """Rebuild the engine (and the simulated venue) and settle orders left unsure; the open orders.

    Orders that turn out not to be open any more are recorded with their new
    state (journal, hooks); the strategy hears of them through its restored
    state, which still names them, and the open orders it is given.
    """
    orders = engine.resume(strategy, resumption.fills, resumption.orders)
    if venue is not None:
        fills_per_order: dict[str, int] = {}
        for fill in resumption.fills:
            fills_per_order[fill.client_order_id] = fills_per_order.get(fill.client_order_id, 0) + 1
        resting = [order for order in orders if order.status is not OrderStatus.NEW]
        venue.restore(resumption.fills, resting, fills_per_order)
    for order in orders:
        if order.status is OrderStatus.NEW or venue is None:
            # The strategy is not restored yet: it learns the outcome from the open orders it is given.
            owner = engine.owners.pop(order.client_order_id, None)
            _settle(engine, broker, order, now)
            if owner is not None and order.status.is_open:
                engine.owners[order.client_order_id] = owner
    return [order for order in orders if order.status.is_open]


def _settle(engine: Engine, broker: Broker, order: Order, now: datetime) -> None:
    """Ask the venue about ``order`` and take its answer; an order it does not know never reached it."""
    try:
        known = broker.fetch_order(order.client_order_id, order.symbol)
    except ExchangeError as error:
        log.error("looking up %s on restart failed (%s); it stays as journaled", order.client_order_id, error)
        engine.hooks.exchange_error(broker.name, "fetch_order", error)
        return
    if known is None:
        status = OrderStatus.REJECTED if order.status is OrderStatus.NEW else OrderStatus.CANCELLED
        reason = (
            f"{broker.name} had no order {order.client_order_id} when the run resumed: it never arrived "
            "(it was not sent again)"
        )
        engine.apply_update(
            OrderUpdate(client_order_id=order.client_order_id, status=status, timestamp=now, reason=reason)
        )
        return
    if known.filled_quantity != order.filled_quantity:
        # The fills themselves come from the venue's own reports (poll_events); the state alone cannot book them.
        log.warning(
            "order %s: %s reports %s filled, the journal %s; the fills follow from the venue's reports",
            order.client_order_id,
            broker.name,
            known.filled_quantity,
            order.filled_quantity,
        )
    if known.status is not order.status and known.status not in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED):
        engine.apply_update(
            OrderUpdate(
                client_order_id=order.client_order_id,
                status=known.status,
                timestamp=now,
                exchange_order_id=known.exchange_order_id,
                reason=known.reason or "state found on the venue when the run resumed",
            )
        )
