"""The engine's order path: intent -> id -> every risk rule -> venue -> updates and fills -> ledger and strategy."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tradekit.domain.events import EventKind, NotifierEvent, RiskVerdict
from tradekit.domain.orders import (
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TriggerDirection,
)
from tradekit.domain.run import RiskContext
from tradekit.hookspecs import hookimpl
from tradekit.plugin import Notifier, Plugin, RiskRule, Strategy, StrategyContext

D = Decimal
SYMBOL = "BTC/USDT"
Action = Callable[["Script", StrategyContext], None]


class Script(Strategy):
    """Runs the actions scheduled for each bar and records every update and fill it hears of."""

    def __init__(self, actions: dict[int, list[Action]], *, warmup: int = 0) -> None:
        super().__init__(name="script")
        self.actions = actions
        self._warmup = warmup
        self.ids: dict[str, str | None] = {}
        self.updates: list[tuple[str, OrderStatus, str | None]] = []
        self.fills: list[Fill] = []

    @property
    def warmup(self) -> int:
        return self._warmup

    def on_bar(self, ctx: StrategyContext) -> None:
        for action in self.actions.get(ctx.index, []):
            action(self, ctx)

    def on_order_update(self, ctx: StrategyContext, order: Order) -> None:
        self.updates.append((order.client_order_id, order.status, order.reason))

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        self.fills.append(fill)

    def statuses(self, label: str) -> list[OrderStatus]:
        """Every status the order sent as ``label`` went through, as this strategy heard it."""
        return [status for coid, status, _ in self.updates if coid == self.ids[label]]

    def reason(self, label: str) -> str:
        """The reason of the last update of ``label``."""
        return [reason for coid, _, reason in self.updates if coid == self.ids[label]][-1] or ""


def send(label: str, side: Side, quantity: str, **fields: Any) -> Action:
    """An action that submits an intent and remembers its client order id under ``label``."""

    def act(strategy: Script, ctx: StrategyContext) -> None:
        intent = OrderIntent(symbol=SYMBOL, side=side, quantity=D(quantity), tag=label, **fields)
        strategy.ids[label] = ctx.submit(intent)

    return act


def cancel(label: str) -> Action:
    """An action that cancels the order sent as ``label``."""

    def act(strategy: Script, ctx: StrategyContext) -> None:
        coid = strategy.ids[label]
        assert coid is not None
        ctx.cancel(coid)

    return act


class Recorder(Notifier):
    """Keeps every event it is sent."""

    def __init__(self) -> None:
        super().__init__(name="recorder")
        self.events: list[NotifierEvent] = []

    def send(self, event: NotifierEvent) -> None:
        self.events.append(event)


class Observer(Plugin):
    """Hears order submissions through the hooks (where an order is still NEW)."""

    def __init__(self) -> None:
        super().__init__(name="observer")
        self.submitted: list[tuple[str, OrderStatus]] = []

    @hookimpl
    def tradekit_order_submitted(self, order: Order) -> None:
        self.submitted.append((order.client_order_id, order.status))


class Logged(RiskRule):
    """Writes each intent it judges into a shared log; rejects intents whose tag is in ``rejects``."""

    def __init__(self, name: str, log: list[tuple[str, str]], rejects: tuple[str, ...] = ()) -> None:
        super().__init__(name=name)
        self.calls = log
        self.rejects = rejects

    def check(self, intent: OrderIntent, context: RiskContext) -> RiskVerdict | None:
        self.calls.append((self.name, intent.tag))
        if intent.tag in self.rejects:
            return RiskVerdict.reject(self.name, f"{intent.tag} is not allowed")
        return None


def test_every_order_status_is_reached_through_the_engine_and_the_ledger_matches_the_venue(
    make_rig: Any, make_bars: Any
) -> None:
    calls: list[tuple[str, str]] = []
    rules = (Logged("first", calls), Logged("veto", calls, rejects=("vetoed",)), Logged("last", calls))
    recorder, observer = Recorder(), Observer()
    rig = make_rig(plugins=(*rules, observer, recorder), volume_limit=D("0.5"))
    # Volume 4 and a volume limit of half: a resting order fills at most 2 per bar.
    bars = make_bars(
        [100.0, 99.5, 99.2, 99.3, 101.0, 101.0],
        open=[100.0, 100.0, 99.5, 99.2, 99.3, 101.0],
        high=[100.0, 100.5, 99.8, 99.5, 101.2, 101.0],
        low=[100.0, 98.5, 98.8, 98.9, 99.2, 101.0],
        volume=[4.0] * 6,
    )
    strategy = Script(
        {
            0: [
                send("market", Side.BUY, "1"),
                send("partial", Side.BUY, "5", type=OrderType.LIMIT, price=D("99")),
                send("resting", Side.BUY, "1", type=OrderType.LIMIT, price=D("50")),
                send("off_lot", Side.BUY, "0.0005"),
                send("too_big", Side.BUY, "1000"),
                send("ioc", Side.BUY, "1", type=OrderType.LIMIT, price=D("90"), time_in_force=TimeInForce.IOC),
                send("vetoed", Side.BUY, "1"),
            ],
            3: [cancel("resting")],
            4: [send("exit", Side.SELL, "6")],
        }
    )
    rig.run(strategy, {SYMBOL: bars})

    sent = [coid for label, coid in strategy.ids.items() if label != "vetoed"]
    assert all(coid is not None and re.fullmatch(r"[0-9a-f]{32}", coid) for coid in sent)
    assert len(set(sent)) == len(sent)
    assert strategy.ids["vetoed"] is None

    assert strategy.statuses("market") == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert strategy.statuses("partial") == [
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
    ]
    assert [f.quantity for f in strategy.fills if f.client_order_id == strategy.ids["partial"]] == [D(2), D(2), D(1)]
    assert strategy.statuses("resting") == [OrderStatus.ACCEPTED, OrderStatus.CANCELLED]
    assert strategy.statuses("off_lot") == [OrderStatus.REJECTED]
    assert "not a multiple of the lot size 0.001" in strategy.reason("off_lot")
    assert strategy.statuses("too_big") == [OrderStatus.REJECTED]
    assert "insufficient USDT" in strategy.reason("too_big")
    assert strategy.statuses("ioc") == [OrderStatus.ACCEPTED, OrderStatus.EXPIRED]
    assert "could not fill" in strategy.reason("ioc")

    heard = {status for _, status, _ in strategy.updates} | {status for _, status in observer.submitted}
    assert heard == set(OrderStatus)

    # Every rule judged every intent, in config order, the vetoed one included.
    tags = ["market", "partial", "resting", "off_lot", "too_big", "ioc", "vetoed", "exit"]
    assert calls == [(rule, tag) for tag in tags for rule in ("first", "veto", "last")]

    rejected = [e for e in recorder.events if e.kind == EventKind.ORDER_REJECTED]
    assert [e.data["client_order_id"] for e in rejected] == [strategy.ids["off_lot"], strategy.ids["too_big"]]
    assert "not a multiple of the lot size" in rejected[0].data["reason"]
    assert "insufficient USDT" in rejected[1].message

    engine, venue = rig.engine, rig.venue
    assert engine.ledger.quantity(SYMBOL) == venue.ledger.quantity(SYMBOL) == 0
    expected_cash = D("10000") - sum((f.side.sign * f.quantity * f.price + f.fee for f in strategy.fills), D(0))
    assert engine.ledger.cash == venue.ledger.cash == {"USDT": expected_cash}
    assert venue.balances()["USDT"].total == expected_cash
    assert engine.ledger.fees_paid == venue.ledger.fees_paid
    assert engine.ledger.position(SYMBOL) == venue.ledger.position(SYMBOL)
    # 1 @ 100 taker, 5 @ 99 maker, 6 @ 101 taker: fees 0.2 + 0.495 + 1.212.
    assert expected_cash == D("10000") - D("100") - D("495") + D("606") - D("1.907")


def test_the_ledger_and_the_venue_agree_on_an_open_position(make_rig: Any, make_bars: Any) -> None:
    rig = make_rig()
    bars = make_bars([100.0, 100.37, 99.91, 101.13])
    strategy = Script(
        {
            0: [send("a", Side.BUY, "0.337")],
            1: [send("b", Side.BUY, "1.25")],
            2: [send("c", Side.SELL, "0.5")],
        }
    )
    rig.run(strategy, {SYMBOL: bars})
    engine, venue = rig.engine, rig.venue
    assert engine.ledger.position(SYMBOL) == venue.positions()[SYMBOL]
    assert venue.balances()["BTC"].total == engine.ledger.quantity(SYMBOL) == D("1.087")
    assert venue.balances()["USDT"].total == engine.ledger.cash["USDT"]
    assert engine.ledger.cash["USDT"] == D("10000") - D("33.7") - D("125.4625") + D("49.955") - (
        D("0.0674") + D("0.250925") + D("0.09991")
    )


def test_stop_orders_in_both_directions_stop_limits_and_post_only_go_through_the_engine(
    make_rig: Any, make_bars: Any
) -> None:
    rig = make_rig()
    bars = make_bars(
        [100.0, 100.5, 103.0, 105.5, 96.5, 94.5, 91.0],
        open=[100.0, 100.0, 100.5, 103.0, 105.5, 96.0, 90.0],
        high=[100.0, 101.0, 103.2, 106.0, 105.6, 96.2, 91.5],
        low=[100.0, 99.0, 100.2, 102.5, 96.0, 94.0, 89.5],
    )
    strategy = Script(
        {
            0: [
                send("entry", Side.BUY, "2"),
                send(
                    "sell_stop",
                    Side.SELL,
                    "1",
                    type=OrderType.STOP,
                    trigger_price=D("95"),
                    trigger_direction=TriggerDirection.FALLING,
                ),
                send(
                    "gap_stop",
                    Side.SELL,
                    "1",
                    type=OrderType.STOP,
                    trigger_price=D("93"),
                    trigger_direction=TriggerDirection.FALLING,
                ),
                send(
                    "buy_stop",
                    Side.BUY,
                    "1",
                    type=OrderType.STOP,
                    trigger_price=D("105"),
                    trigger_direction=TriggerDirection.RISING,
                ),
                send(
                    "stop_limit",
                    Side.BUY,
                    "1",
                    type=OrderType.STOP_LIMIT,
                    price=D("103.5"),
                    trigger_price=D("103"),
                    trigger_direction=TriggerDirection.RISING,
                ),
                send("post_only", Side.BUY, "1", type=OrderType.LIMIT, price=D("101"), post_only=True),
            ]
        }
    )
    rig.run(strategy, {SYMBOL: bars})

    def filled(label: str) -> tuple[int, Decimal]:
        [fill] = [f for f in strategy.fills if f.client_order_id == strategy.ids[label]]
        index = int(list(bars.timestamps).index(int(fill.timestamp.timestamp()) * 1_000_000_000))
        return index, fill.price

    assert filled("stop_limit") == (2, D("103"))  # triggered at 103, marketable under its 103.5 limit
    assert filled("buy_stop") == (3, D("105"))  # rises through the trigger
    assert filled("sell_stop") == (5, D("95"))  # falls through the trigger
    assert filled("gap_stop") == (6, D("90"))  # opened below its trigger: fills at the open
    for label in ("sell_stop", "gap_stop", "buy_stop", "stop_limit"):
        assert strategy.statuses(label) == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert strategy.statuses("post_only") == [OrderStatus.REJECTED]
    assert "would take liquidity" in strategy.reason("post_only")
    assert rig.engine.ledger.quantity(SYMBOL) == rig.venue.ledger.quantity(SYMBOL) == D(2)
