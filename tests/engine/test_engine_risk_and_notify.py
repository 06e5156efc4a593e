"""Risk rules fail closed and every verdict is journaled; notifiers fail open and trading goes on."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tradekit.domain.events import EventKind, NotifierEvent, RiskVerdict
from tradekit.domain.orders import Fill, OrderIntent, OrderStatus, Side
from tradekit.domain.run import RiskContext
from tradekit.journal import Journal
from tradekit.plugin import Notifier, RiskRule, Strategy, StrategyContext
from tradekit.registry import Registry
from tradekit.session import run_backtest
from tradekit.settings import load_settings

D = Decimal
SYMBOL = "BTC/USDT"
OWN_ID = "feedfacecafebeef" * 2  # a client order id the strategy chooses, to look it up on the venue


class BuyOnce(Strategy):
    """Buys ``quantity`` at market on the first bar, with a client order id of its own choosing."""

    def __init__(self, quantity: str = "1") -> None:
        super().__init__(name="buy_once")
        self.quantity = D(quantity)
        self.returned: list[str | None] = []
        self.fills: list[Fill] = []
        self.updates: list[OrderStatus] = []

    def on_bar(self, ctx: StrategyContext) -> None:
        if ctx.index == 0:
            intent = OrderIntent(symbol=SYMBOL, side=Side.BUY, quantity=self.quantity, client_order_id=OWN_ID)
            self.returned.append(ctx.submit(intent))

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        self.fills.append(fill)

    def on_order_update(self, ctx: StrategyContext, order: Any) -> None:
        self.updates.append(order.status)


class Fixed(RiskRule):
    """Gives the same verdict on every intent (or raises ``error``)."""

    def __init__(self, name: str, verdict: RiskVerdict | None = None, error: Exception | None = None) -> None:
        super().__init__(name=name)
        self.verdict = verdict
        self.error = error

    def check(self, intent: OrderIntent, context: RiskContext) -> RiskVerdict | None:
        if self.error is not None:
            raise self.error
        return self.verdict


class Recorder(Notifier):
    """Keeps every event it is sent."""

    def __init__(self) -> None:
        super().__init__(name="recorder")
        self.events: list[NotifierEvent] = []

    def send(self, event: NotifierEvent) -> None:
        self.events.append(event)


def blocked_run(make_rig: Any, make_bars: Any, *rules: RiskRule) -> tuple[Any, BuyOnce, Recorder]:
    recorder = Recorder()
    rig = make_rig(plugins=(*rules, recorder))
    strategy = BuyOnce()
    rig.run(strategy, {SYMBOL: make_bars([100.0, 101.0, 102.0])})
    return rig, strategy, recorder


def test_a_rejection_keeps_the_order_from_the_venue_and_tells_the_notifiers(make_rig: Any, make_bars: Any) -> None:
    rig, strategy, recorder = blocked_run(
        make_rig,
        make_bars,
        Fixed("allow"),
        Fixed("limit", RiskVerdict.reject("limit", "notional 100 is above the limit 50")),
    )
    assert strategy.returned == [None]
    assert rig.venue.fetch_order(OWN_ID) is None
    assert rig.venue.open_orders() == [] and rig.venue.ledger.quantity(SYMBOL) == 0
    assert strategy.fills == [] and strategy.updates == [] and rig.engine.fill_log == []
    assert OWN_ID not in rig.engine.orders
    assert rig.engine.stats.risk_rejections == 1 and rig.engine.stats.orders == 0
    [event] = [e for e in recorder.events if e.kind == EventKind.RISK_REJECTED]
    assert event.data["reasons"] == ["limit: notional 100 is above the limit 50"]
    assert "limit: notional 100 is above the limit 50" in event.message


def test_a_rule_that_raises_blocks_the_order_and_says_which_rule_and_what_error(make_rig: Any, make_bars: Any) -> None:
    rig, strategy, recorder = blocked_run(
        make_rig, make_bars, Fixed("exploding", error=RuntimeError("price feed is stale")), Fixed("allow")
    )
    assert strategy.returned == [None]
    assert rig.venue.fetch_order(OWN_ID) is None and strategy.fills == []
    [event] = [e for e in recorder.events if e.kind == EventKind.RISK_REJECTED]
    [reason] = event.data["reasons"]
    assert reason.startswith("exploding: risk rule exploding raised RuntimeError: price feed is stale")
    assert "fail closed" in reason


def test_a_resize_sends_the_smallest_quantity_rounded_to_the_lot(make_rig: Any, make_bars: Any) -> None:
    recorder = Recorder()
    rules = (
        Fixed("cap", RiskVerdict.resize("cap", D("0.8"), "exposure cap")),
        Fixed("tighter", RiskVerdict.resize("tighter", D("0.3337"), "loss budget")),
    )
    rig = make_rig(plugins=(*rules, recorder))
    strategy = BuyOnce("1")
    rig.run(strategy, {SYMBOL: make_bars([100.0, 101.0])})
    order = rig.venue.fetch_order(OWN_ID)
    assert order is not None and order.quantity == D("0.333")
    assert [fill.quantity for fill in strategy.fills] == [D("0.333")]
    assert rig.engine.ledger.quantity(SYMBOL) == D("0.333")


# --- through the registry, the session and the journal ---------------------------------------------


def settings_for(tmp_path: Path, strategy: str, *, risk: tuple[str, ...] = (), notifiers: tuple[str, ...] = ()) -> Any:
    return load_settings(
        None,
        {
            "strategy": strategy,
            "risk": list(risk),
            "notifiers": list(notifiers),
            "journal": tmp_path / "journal.sqlite3",
            "backtest": {"cash": "10000", "fee": "0.001"},
        },
    )


def test_every_verdict_is_journaled_and_a_risk_rejection_is_an_event(
    install_plugins: Any, make_bars: Any, tmp_path: Path
) -> None:
    class ThreeOrders(Strategy):
        def on_bar(self, ctx: StrategyContext) -> None:
            if ctx.index == 1:
                for tag in ("plain", "large", "forbidden"):
                    ctx.submit(OrderIntent(symbol=SYMBOL, side=Side.BUY, quantity=D("2"), tag=tag))

    class Cap(RiskRule):
        def check(self, intent: OrderIntent, context: RiskContext) -> RiskVerdict | None:
            if intent.tag == "large":
                return RiskVerdict.resize(self.name, D("0.5"), "at most 0.5 BTC per order")
            return RiskVerdict.accept(self.name)

    class Blacklist(RiskRule):
        def check(self, intent: OrderIntent, context: RiskContext) -> RiskVerdict | None:
            if intent.tag == "forbidden":
                return RiskVerdict.reject(self.name, "tag 'forbidden' is blacklisted")
            return None

    class Brittle(RiskRule):
        def check(self, intent: OrderIntent, context: RiskContext) -> RiskVerdict | None:
            if intent.tag == "forbidden":
                raise ValueError("cannot judge this one")
            return None

    install_plugins(
        strategy={"tk_three_orders": ThreeOrders},
        risk={"tk_cap": Cap, "tk_blacklist": Blacklist, "tk_brittle": Brittle},
    )
    settings = settings_for(tmp_path, "tk_three_orders", risk=("tk_cap", "tk_blacklist", "tk_brittle"))
    bars = make_bars([100.25, 100.5, 101.75, 101.25])
    result = run_backtest(settings, Registry(), origin="test", data={SYMBOL: bars})

    with Journal(settings.journal) as journal:
        checks = journal.risk_verdicts(result.run.run_id)
        events = journal.events(result.run.run_id)
        orders = journal.orders(result.run.run_id)
        fills = journal.fills(result.run.run_id)
    assert [check["intent"].tag for check in checks] == ["plain", "large", "forbidden"]
    assert [check["decision"] for check in checks] == ["accept", "resize", "reject"]
    for check in checks:
        assert [verdict.rule for verdict in check["verdicts"]] == ["tk_cap", "tk_blacklist", "tk_brittle"]
    forbidden = checks[2]["verdicts"]
    assert forbidden[1].reason == "tag 'forbidden' is blacklisted"
    assert (
        forbidden[2].action == "reject" and "tk_brittle raised ValueError: cannot judge this one" in forbidden[2].reason
    )
    assert [order.quantity for order in orders] == [D("2"), D("0.5")]
    assert sorted(fill.quantity for fill in fills) == [D("0.5"), D("2")]
    [blocked] = [e for e in events if e.kind == EventKind.RISK_REJECTED]
    assert blocked.data["reasons"][0] == "tk_blacklist: tag 'forbidden' is blacklisted"
    assert blocked.data["reasons"][1].startswith("tk_brittle: risk rule tk_brittle raised ValueError")
    assert result.engine_stats.risk_rejections == 1


def test_a_notifier_that_raises_is_logged_and_trading_goes_on(
    install_plugins: Any, make_bars: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class RoundTrip(Strategy):
        def on_bar(self, ctx: StrategyContext) -> None:
            side = {1: Side.BUY, 3: Side.SELL}.get(ctx.index)
            if side is not None:
                ctx.submit(OrderIntent(symbol=SYMBOL, side=side, quantity=D("1")))

    class Broken(Notifier):
        def send(self, event: NotifierEvent) -> None:
            raise ConnectionError("chat service is down")

    class Listener(Notifier):
        heard: ClassVar[list[NotifierEvent]] = []

        def send(self, event: NotifierEvent) -> None:
            self.heard.append(event)

    install_plugins(strategy={"tk_round_trip": RoundTrip}, notifier={"tk_broken": Broken, "tk_listener": Listener})
    settings = settings_for(tmp_path, "tk_round_trip", notifiers=("tk_broken", "tk_listener"))
    bars = make_bars([100.25, 100.5, 101.75, 101.25, 102.0])
    with caplog.at_level(logging.ERROR, logger="tradekit.hooks"):
        result = run_backtest(settings, Registry(), origin="test", data={SYMBOL: bars})

    assert result.engine_stats.fills == 2 and len(result.trades) == 1
    kinds = [event.kind for event in Listener.heard]
    assert kinds == ["run_started", "order_filled", "order_filled", "run_stopped"]
    failures = [r.getMessage() for r in caplog.records if r.name == "tradekit.hooks"]
    assert len(failures) == len(kinds)
    assert all("notifier:tk_broken failed in tradekit_notify" in m and "chat service is down" in m for m in failures)
