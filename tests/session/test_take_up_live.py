"""A live run taken up after it died: its open orders are handed to the exchange with the journal's fills.

The exchange here is :class:`~tradekit.testing.FakeExchange`: its venue keeps
the events no process polled, so an order that filled "while the run was
down" has its fill waiting. An exchange plugin without its own
``resume_order`` cannot report such fills; the run then says so loudly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tradekit.domain.events import NotifierEvent
from tradekit.domain.orders import Fill, Order, OrderIntent, OrderStatus, OrderType, Side
from tradekit.domain.run import RunInfo, RunMode
from tradekit.engine.brokers import ExchangeBroker
from tradekit.engine.core import Engine
from tradekit.hooks import HookFacade, new_plugin_manager
from tradekit.hookspecs import hookimpl
from tradekit.journal import Journal
from tradekit.plugin import Exchange, Plugin, Strategy, follows_resumed_orders
from tradekit.session.reconcile import StartRefused
from tradekit.session.resume import (
    Resumption,
    load_resumption,
    look_up,
    missed_fills,
    refuse_unsure_start,
    take_up,
)
from tradekit.testing import FakeExchange

SYMBOL = "BTC/USDT"
RUN_ID = "feedbeef" * 4


class NoResume(FakeExchange):
    """An exchange plugin written before ``resume_order``: only ``fetch_order``."""

    resume_order = Exchange.resume_order


class Heard(Plugin):
    """What the engine notified."""

    def __init__(self) -> None:
        super().__init__(name="heard")
        self.events: list[NotifierEvent] = []

    @hookimpl
    def tradekit_notify(self, event: NotifierEvent) -> None:
        self.events.append(event)


class Idle(Strategy):
    """Owns the run's orders; does nothing."""


@dataclass
class Rig:
    exchange: FakeExchange
    engine: Engine
    heard: Heard
    resumption: Resumption


def died_with_a_resting_buy(exchange: FakeExchange) -> tuple[Order, Resumption]:
    """A buy limit the dead run sent and saw acknowledged (its journal's record); then the market reaches it."""
    order = Order.from_intent(
        OrderIntent(symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal("0.5"), price=Decimal(95)),
        f"{RUN_ID[:12]}{1:020x}",
        created_at=exchange.now,
    )
    exchange.submit_order(order)
    (ack,) = exchange.poll_events()
    record = order.model_copy()
    record.transition(ack.status, at=ack.timestamp)  # type: ignore[union-attr]
    exchange.set_price(SYMBOL, Decimal(94))  # while no process watches: the fill waits at the venue
    resumption = Resumption(record=None, after=None, fills=[], orders=[record], state=None, cash=Decimal(10_000))  # type: ignore[arg-type]
    return record, resumption


def bought(order: Order, fill_id: str, quantity: Decimal, fee: Decimal) -> Fill:
    """A fill of ``order`` (a buy) at 95, now."""
    return Fill(
        fill_id=fill_id,
        client_order_id=order.client_order_id,
        symbol=SYMBOL,
        side=Side.BUY,
        quantity=quantity,
        price=Decimal(95),
        fee=fee,
        fee_currency="USDT",
        timestamp=datetime.now(UTC),
    )


def rig(exchange_class: type[FakeExchange]) -> Rig:
    exchange = exchange_class()
    _, resumption = died_with_a_resting_buy(exchange)
    heard = Heard()
    manager = new_plugin_manager()
    manager.register(heard, name=heard.name)
    engine = Engine(
        run=RunInfo(run_id=RUN_ID, mode=RunMode.LIVE, exchange=exchange.name, strategies=("idle",), symbols=(SYMBOL,)),
        broker=ExchangeBroker(exchange),
        hooks=HookFacade(manager),
        instruments=exchange.instruments([SYMBOL]),
        quote_currency="USDT",
        cash=Decimal(10_000),
    )
    engine.now = datetime.now(UTC)
    return Rig(exchange, engine, heard, resumption)


def test_an_order_filled_while_down_stays_open_until_its_fill_arrives_then_is_booked_once() -> None:
    r = rig(FakeExchange)
    broker = r.engine.broker
    assert isinstance(broker, ExchangeBroker) and broker.follows_resumed_orders
    answers = look_up(r.resumption, broker)
    assert missed_fills(r.resumption, answers) == {SYMBOL: Decimal("0.5")}
    open_orders = take_up(r.resumption, r.engine, broker, None, Idle(), r.engine.now, answers)
    # Not ended on the venue's word: its fill comes first, from the exchange's events.
    assert [o.status for o in open_orders] == [OrderStatus.ACCEPTED]
    r.engine.drain()
    order = r.engine.orders.get(r.resumption.orders[0].client_order_id)
    assert order is not None
    assert order.status is OrderStatus.FILLED and order.filled_quantity == Decimal("0.5")
    assert r.engine.ledger.position(SYMBOL).quantity == Decimal("0.5")
    assert r.engine.stats.fills == 1
    r.engine.drain()
    assert r.engine.stats.fills == 1
    assert not [e for e in r.heard.events if e.severity == "error"]


def test_an_exchange_without_resume_order_is_named_with_what_the_books_miss() -> None:
    r = rig(NoResume)
    assert not follows_resumed_orders(r.exchange)
    take_up(r.resumption, r.engine, r.engine.broker, None, Idle(), r.engine.now)
    (error,) = [e for e in r.heard.events if e.severity == "error"]
    assert "filled 0.5 more of it while the run was down" in error.message
    assert "has no resume_order" in error.message
    assert "--on-mismatch adopt" in error.message


def test_an_order_the_venue_never_received_is_rejected_not_sent_again() -> None:
    r = rig(FakeExchange)
    unknown = Order.from_intent(
        OrderIntent(symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal("0.1"), price=Decimal(90)),
        f"{RUN_ID[:12]}{2:020x}",
    )
    resumption = Resumption(
        record=None,  # type: ignore[arg-type]
        after=None,
        fills=[],
        orders=[*r.resumption.orders, unknown],
        state=None,
        cash=Decimal(10_000),
    )
    take_up(resumption, r.engine, r.engine.broker, None, Idle(), r.engine.now)
    assert r.engine.orders.get(unknown.client_order_id).status is OrderStatus.REJECTED  # type: ignore[union-attr]
    assert r.exchange.calls.count("submit_order") == 1  # the first order's only


def test_a_fill_the_journal_booked_counts_against_the_missed_quantity() -> None:
    booked = Decimal("0.2")
    r = rig(FakeExchange)
    (record,) = r.resumption.orders
    journaled = record.model_copy()
    journaled.record_fill(booked, Decimal(95), Decimal(0))
    fill = bought(record, "before", booked, Decimal(0))
    resumption = Resumption(record=None, after=None, fills=[fill], orders=[journaled], state=None, cash=Decimal(1))  # type: ignore[arg-type]
    answers: dict[str, Any] = {record.client_order_id: r.exchange.fetch_order(record.client_order_id, SYMBOL)}
    assert missed_fills(resumption, answers) == {SYMBOL: Decimal("0.5") - booked}


def test_an_order_record_behind_its_journaled_fills_is_taken_from_the_fills(tmp_path: Path) -> None:
    """Killed between journaling a fill and the order's new state: the fill is the truth, counted once."""
    exchange = FakeExchange()
    record, _ = died_with_a_resting_buy(exchange)
    fill = bought(record, "first", Decimal("0.2"), Decimal("0.019"))
    run = RunInfo(run_id=RUN_ID, mode=RunMode.LIVE, exchange="fake", strategies=("idle",), symbols=(SYMBOL,))
    with Journal(tmp_path / "journal.sqlite3") as journal:
        journal.start_run(run, {})
        journal.record_order(RUN_ID, record)
        journal.record_fill(RUN_ID, fill)  # the order's PARTIALLY_FILLED never written
        resumption = load_resumption(journal, journal.get_run(RUN_ID), "idle", Decimal(10_000))
    (order,) = resumption.orders
    assert (order.status, order.filled_quantity, order.average_fill_price) == (
        OrderStatus.PARTIALLY_FILLED,
        Decimal("0.2"),
        Decimal(95),
    )
    # The venue filled the whole 0.5 (0.2 of it journaled): 0.3 was missed, not 0.5.
    answers: dict[str, Any] = {order.client_order_id: exchange.fetch_order(order.client_order_id, SYMBOL)}
    assert missed_fills(resumption, answers) == {SYMBOL: Decimal("0.3")}


def test_an_unacknowledged_order_the_venue_cancelled_is_accepted_then_cancelled_without_an_error() -> None:
    r = rig(FakeExchange)
    (record,) = r.resumption.orders
    sent = Order.from_intent(
        OrderIntent(symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal("0.1"), price=Decimal(80)),
        f"{RUN_ID[:12]}{3:020x}",
    )
    r.exchange.submit_order(sent)  # its reply lost: the journal holds it as NEW
    r.exchange.cancel_order(sent)  # cancelled by hand while the run was down
    resumption = Resumption(
        record=None,  # type: ignore[arg-type]
        after=None,
        fills=[],
        orders=[record, sent.model_copy()],
        state=None,
        cash=Decimal(10_000),
    )
    take_up(resumption, r.engine, r.engine.broker, None, Idle(), r.engine.now)
    taken = r.engine.orders.get(sent.client_order_id)
    assert taken is not None and taken.status is OrderStatus.CANCELLED
    assert r.engine.stats.errors == 0


def test_a_live_start_whose_lookups_failed_is_refused_and_says_which_orders() -> None:
    r = rig(FakeExchange)
    r.exchange.fail_next("fetch_order")
    answers = look_up(r.resumption, r.engine.broker)
    closed: list[bool] = []
    with pytest.raises(StartRefused) as refused:
        refuse_unsure_start(answers, "fake", lambda: closed.append(True))
    (record,) = r.resumption.orders
    assert record.client_order_id in str(refused.value)
    assert "the connection dropped during fetch_order" in str(refused.value)
    assert "nothing was sent or cancelled" in (refused.value.hint or "")
    assert closed == [True]
    assert r.exchange.calls.count("submit_order") == 1  # the dead run's only
