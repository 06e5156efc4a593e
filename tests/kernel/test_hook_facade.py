"""How the facade calls hooks: risk collected and fail closed, notifications fail open, config order."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradekit.domain.events import NotifierEvent, RiskAction, RiskVerdict
from tradekit.hooks import HookFacade, combine_verdicts, new_plugin_manager
from tradekit.hookspecs import hookimpl
from tradekit.plugin import Notifier, NotifierSettings, RiskRule


class Accepting:
    @hookimpl
    def tradekit_risk_check(self, intent: Any, context: Any) -> RiskVerdict:
        return RiskVerdict.accept("accepting")


class Rejecting:
    @hookimpl
    def tradekit_risk_check(self, intent: Any, context: Any) -> RiskVerdict:
        return RiskVerdict.reject("rejecting", f"quantity {intent.quantity} is above the limit 0.1")


class Raising:
    @hookimpl
    def tradekit_risk_check(self, intent: Any, context: Any) -> RiskVerdict:
        raise ZeroDivisionError("equity is zero")


class ReturningText:
    @hookimpl
    def tradekit_risk_check(self, intent: Any, context: Any) -> Any:
        return "looks fine to me"


class NoOpinion:
    @hookimpl
    def tradekit_risk_check(self, intent: Any, context: Any) -> None:
        return None


def facade_with(*plugins: tuple[str, object]) -> HookFacade:
    pm = new_plugin_manager()
    for name, plugin in plugins:
        pm.register(plugin, name=name)
    return HookFacade(pm)


def test_risk_collects_one_verdict_per_rule_in_registration_order_and_a_raising_rule_rejects(
    samples: Any,
) -> None:
    facade = facade_with(("accepting", Accepting()), ("rejecting", Rejecting()), ("raising", Raising()))

    verdicts = facade.risk_check(samples.intent, samples.context)

    assert [v.action for v in verdicts] == [RiskAction.ACCEPT, RiskAction.REJECT, RiskAction.REJECT]
    assert [v.rule for v in verdicts] == ["accepting", "rejecting", "raising"]
    assert verdicts[1].reason == "quantity 0.5 is above the limit 0.1"
    assert "raising" in verdicts[2].reason
    assert "ZeroDivisionError: equity is zero" in verdicts[2].reason
    assert "fail closed" in verdicts[2].reason


def test_risk_rules_run_in_registration_order_whatever_the_order_of_their_names(samples: Any) -> None:
    names = ["zulu", "alpha", "mike", "bravo"]
    seen: list[str] = []

    def rule(name: str) -> object:
        class Rule:
            @hookimpl
            def tradekit_risk_check(self, intent: Any, context: Any) -> RiskVerdict:
                seen.append(name)
                return RiskVerdict.accept(name)

        return Rule()

    facade = facade_with(*[(name, rule(name)) for name in names])

    verdicts = facade.risk_check(samples.intent, samples.context)

    assert seen == names
    assert [v.rule for v in verdicts] == names


def test_tryfirst_and_trylast_still_order_hooks_around_config_order(samples: Any) -> None:
    seen: list[str] = []

    def observer(name: str, **options: bool) -> object:
        class Observer:
            @hookimpl(**options)
            def tradekit_market_data_status(self, symbol: str) -> None:
                seen.append(name)

        return Observer()

    facade = facade_with(
        ("a", observer("a")),
        ("last-1", observer("last-1", trylast=True)),
        ("b", observer("b")),
        ("first-1", observer("first-1", tryfirst=True)),
        ("last-2", observer("last-2", trylast=True)),
        ("first-2", observer("first-2", tryfirst=True)),
        ("c", observer("c")),
    )

    facade.market_data_status("BTC/USDT", "gap", "2 bars missing")

    assert seen == ["first-1", "first-2", "a", "b", "c", "last-1", "last-2"]


def test_a_rule_returning_something_else_than_a_verdict_is_a_reject(samples: Any) -> None:
    facade = facade_with(("text", ReturningText()))

    (verdict,) = facade.risk_check(samples.intent, samples.context)

    assert verdict.action is RiskAction.REJECT
    assert verdict.rule == "text"
    assert "returned str, not a RiskVerdict" in verdict.reason


def test_a_rule_returning_none_counts_as_accept(samples: Any) -> None:
    (verdict,) = facade_with(("quiet", NoOpinion())).risk_check(samples.intent, samples.context)
    assert verdict == RiskVerdict.accept("quiet")


def test_a_risk_rule_plugin_class_reaches_the_hook_through_check(samples: Any) -> None:
    class MaxQuantity(RiskRule):
        def check(self, intent: Any, context: Any) -> RiskVerdict:
            return RiskVerdict.resize(self.name, Decimal("0.2"), "max 0.2 per order")

    (verdict,) = facade_with(("max_quantity", MaxQuantity(name="max_quantity"))).risk_check(
        samples.intent, samples.context
    )
    assert verdict == RiskVerdict.resize("max_quantity", Decimal("0.2"), "max 0.2 per order")


def test_an_implementation_may_take_fewer_arguments_than_the_spec(samples: Any) -> None:
    received: list[Any] = []

    class IntentOnly:
        @hookimpl
        def tradekit_risk_check(self, intent: Any) -> RiskVerdict:
            received.append(intent)
            return RiskVerdict.accept("intent_only")

    class NoArguments:
        @hookimpl
        def tradekit_fill(self) -> None:
            received.append("fill")

    facade = facade_with(("intent_only", IntentOnly()), ("no_arguments", NoArguments()))

    assert facade.risk_check(samples.intent, samples.context) == [RiskVerdict.accept("intent_only")]
    facade.fill(samples.fill, samples.position)
    assert received == [samples.intent, "fill"]


def verdict(action: RiskAction, quantity: str | None = None, rule: str = "r") -> RiskVerdict:
    if action is RiskAction.ACCEPT:
        return RiskVerdict.accept(rule)
    if action is RiskAction.REJECT:
        return RiskVerdict.reject(rule, "too big")
    assert quantity is not None
    return RiskVerdict.resize(rule, Decimal(quantity), "smaller")


def test_combine_verdicts_any_reject_wins_with_every_reason() -> None:
    verdicts = [
        verdict(RiskAction.RESIZE, "0.1", "size"),
        RiskVerdict.reject("daily_loss", "lost 5.2% today, limit 5%"),
        verdict(RiskAction.ACCEPT),
        RiskVerdict.reject("exposure", "exposure 120% above 100%"),
    ]
    assert combine_verdicts(verdicts) == (
        RiskAction.REJECT,
        ["daily_loss: lost 5.2% today, limit 5%", "exposure: exposure 120% above 100%"],
    )


def test_combine_verdicts_the_smallest_resize_wins_over_accepts() -> None:
    verdicts = [
        verdict(RiskAction.ACCEPT),
        verdict(RiskAction.RESIZE, "0.3"),
        verdict(RiskAction.RESIZE, "0.05"),
        verdict(RiskAction.RESIZE, "0.2"),
    ]
    assert combine_verdicts(verdicts) == (RiskAction.RESIZE, Decimal("0.05"))


def test_combine_verdicts_all_accept_or_none_is_accept() -> None:
    assert combine_verdicts([verdict(RiskAction.ACCEPT), verdict(RiskAction.ACCEPT)]) == (
        RiskAction.ACCEPT,
        None,
    )
    assert combine_verdicts([]) == (RiskAction.ACCEPT, None)


verdicts_strategy = st.lists(
    st.one_of(
        st.just(RiskVerdict.accept("a")),
        st.just(RiskVerdict.reject("b", "no")),
        st.integers(1, 10_000).map(lambda n: RiskVerdict.resize("c", Decimal(n) / 1000, "smaller")),
    ),
    max_size=8,
)


@given(verdicts_strategy, st.randoms(use_true_random=False))
def test_combine_verdicts_does_not_depend_on_the_order_of_rules(verdicts: list[RiskVerdict], rnd: Any) -> None:
    shuffled = list(verdicts)
    rnd.shuffle(shuffled)
    action, detail = combine_verdicts(verdicts)
    shuffled_action, shuffled_detail = combine_verdicts(shuffled)
    assert action is shuffled_action
    if action is RiskAction.REJECT:
        assert sorted(detail) == sorted(shuffled_detail)
    else:
        assert detail == shuffled_detail


@given(verdicts_strategy)
def test_combine_verdicts_a_reject_always_blocks_and_an_accept_never_changes_the_outcome(
    verdicts: list[RiskVerdict],
) -> None:
    assert combine_verdicts([*verdicts, RiskVerdict.reject("veto", "no")])[0] is RiskAction.REJECT
    assert combine_verdicts([*verdicts, RiskVerdict.accept("yes")]) == combine_verdicts(verdicts)
    action, detail = combine_verdicts(verdicts)
    if action is RiskAction.RESIZE:
        # Never larger than any rule asked for.
        assert all(detail <= v.quantity for v in verdicts if v.quantity is not None)


class ListNotifier(Notifier):
    """Keeps the events it is sent."""

    def __init__(self, name: str, **settings: Any) -> None:
        super().__init__(NotifierSettings(**settings), name=name)
        self.events: list[NotifierEvent] = []

    def send(self, event: NotifierEvent) -> None:
        self.events.append(event)


class BrokenNotifier(Notifier):
    """Its service is down."""

    def send(self, event: NotifierEvent) -> None:
        raise ConnectionError("api.telegram.org unreachable")


def test_a_raising_notifier_is_logged_and_the_next_notifier_still_gets_the_event(
    samples: Any, caplog: pytest.LogCaptureFixture
) -> None:
    before = ListNotifier("before")
    after = ListNotifier("after")
    facade = facade_with(("before", before), ("broken", BrokenNotifier(name="broken")), ("after", after))

    with caplog.at_level(logging.ERROR, logger="tradekit.hooks"):
        facade.notify(samples.event)

    assert before.events == [samples.event]
    assert after.events == [samples.event]
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert "plugin broken failed in tradekit_notify" in record.getMessage()
    assert "ConnectionError: api.telegram.org unreachable" in record.getMessage()


def test_every_fail_open_hook_goes_on_after_a_raising_observer(samples: Any, caplog: pytest.LogCaptureFixture) -> None:
    heard: list[str] = []

    class Raises:
        @hookimpl
        def tradekit_run_started(self) -> None:
            raise RuntimeError("dashboard down")

        @hookimpl
        def tradekit_fill(self) -> None:
            raise RuntimeError("dashboard down")

    class Listens:
        @hookimpl
        def tradekit_run_started(self) -> None:
            heard.append("run_started")

        @hookimpl
        def tradekit_fill(self) -> None:
            heard.append("fill")

    facade = facade_with(("raises", Raises()), ("listens", Listens()))
    with caplog.at_level(logging.ERROR, logger="tradekit.hooks"):
        facade.run_started(samples.run)
        facade.fill(samples.fill, samples.position)

    assert heard == ["run_started", "fill"]
    assert len(caplog.records) == 2


def test_a_notifier_gets_only_the_event_kinds_its_settings_ask_for(samples: Any) -> None:
    fills_only = ListNotifier("fills_only", events=("order_filled",))
    facade = facade_with(("fills_only", fills_only))

    facade.notify(samples.event)
    facade.notify(NotifierEvent(kind="run_started", message="started"))

    assert [event.kind for event in fills_only.events] == ["order_filled"]
