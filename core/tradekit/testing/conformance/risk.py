"""``RiskRuleConformance``: what every risk rule must do; above all, fail closed."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from tradekit.domain.events import RiskAction, RiskVerdict
from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import Order, OrderIntent, OrderStatus, OrderType, Side, TriggerDirection
from tradekit.domain.portfolio import Position
from tradekit.domain.run import RiskContext, RunMode
from tradekit.plugin import RiskRule
from tradekit.testing.conformance.base import PluginConformance, rule, violated


class ProvokedError(RuntimeError):
    """Raised by the suite's poisoned inputs: an error inside the rule that the suite provoked on purpose."""


class Poison:
    """Makes copies of inputs whose fields raise :class:`ProvokedError` when read, while it is armed.

    It is armed only while the rule's own ``check`` runs, so what the engine
    does around the call (logging the rejection, say) reads the inputs as usual.
    Each field read while armed is noted in :attr:`touched`.
    """

    def __init__(self) -> None:
        self.armed = False
        self.touched: list[str] = []

    def copy(self, value: Any) -> Any:
        """A copy of ``value`` (a dataclass or a pydantic model), still an instance of its class."""
        cls = type(value)
        names = (
            {f.name for f in dataclasses.fields(value)} if dataclasses.is_dataclass(value) else set(cls.model_fields)
        )
        poison = self

        def __getattribute__(self: Any, name: str) -> Any:
            if poison.armed and name in names:
                poison.touched.append(f"{cls.__name__}.{name}")
                raise ProvokedError(f"reading {cls.__name__}.{name} failed (provoked by the conformance suite)")
            return object.__getattribute__(self, name)

        poisoned_class = type(f"Poisoned{cls.__name__}", (cls,), {"__getattribute__": __getattribute__})
        copy: Any = object.__new__(poisoned_class)
        for name, item in vars(value).items():
            object.__setattr__(copy, name, item)
        if not dataclasses.is_dataclass(value):
            for name in ("__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"):
                object.__setattr__(copy, name, getattr(value, name))
        return copy

    def arm(self, risk_rule: RiskRule) -> None:
        """Arm the poison around every call of ``risk_rule.check``."""
        check = risk_rule.check

        def armed(intent: OrderIntent, context: RiskContext) -> RiskVerdict | None:
            self.armed = True
            try:
                return check(intent, context)
            finally:
                self.armed = False

        risk_rule.check = armed  # type: ignore[method-assign]


class RiskRuleConformance(PluginConformance):
    """The rules every risk rule follows.

    Set :attr:`plugin` and :attr:`settings`; optionally override
    ``intents(self) -> list[OrderIntent]`` (ordinary intents the rule is asked
    about; default: a market buy, a limit buy, a stop sell and a reduce-only
    sell of BTC/USDT) and ``context(self) -> RiskContext`` (the account it
    judges them in; default: 100000 USDT of equity holding 0.5 BTC at 30000),
    and ``make_rule(self)`` (default ``plugin(settings)``).

    Rules: ``risk.returns-verdict``, ``risk.fail-closed``, ``risk.settings-validated``.
    """

    kind = "risk"
    plugin: ClassVar[type[RiskRule]]

    def make_rule(self) -> RiskRule:
        """A fresh rule with :attr:`settings`."""
        return self.plugin(self.plugin_settings(), name=self.plugin_name)

    def context(self) -> RiskContext:
        """The account the intents are judged in."""
        instrument = Instrument(
            symbol="BTC/USDT", base="BTC", quote="USDT", tick_size=Decimal("0.01"), lot_size=Decimal("0.00001")
        )
        now = datetime(2024, 1, 2, 12, 0, tzinfo=UTC)
        resting = Order.from_intent(
            OrderIntent(
                symbol="BTC/USDT", side=Side.BUY, quantity=Decimal("0.1"), type=OrderType.LIMIT, price=Decimal(25_000)
            ),
            "7e57c0de7e57c0de0000000000000001",
            created_at=now,
        )
        resting.transition(OrderStatus.ACCEPTED, at=now)
        return RiskContext(
            timestamp=now,
            equity=Decimal(100_000),
            quote_currency="USDT",
            cash={"USDT": Decimal(85_000)},
            positions={"BTC/USDT": Position(symbol="BTC/USDT", quantity=Decimal("0.5"), average_price=Decimal(29_000))},
            open_orders=(resting,),
            prices={"BTC/USDT": Decimal(30_000)},
            instruments={"BTC/USDT": instrument},
            mode=RunMode.LIVE,
        )

    def intents(self) -> list[OrderIntent]:
        """Ordinary intents the rule must answer with a verdict (or None)."""
        return [
            OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity=Decimal("0.01")),
            OrderIntent(
                symbol="BTC/USDT", side=Side.BUY, quantity=Decimal("0.02"), type=OrderType.LIMIT, price=Decimal(29_500)
            ),
            OrderIntent(
                symbol="BTC/USDT",
                side=Side.SELL,
                quantity=Decimal("0.5"),
                type=OrderType.STOP,
                trigger_price=Decimal(28_000),
                trigger_direction=TriggerDirection.FALLING,
            ),
            OrderIntent(symbol="BTC/USDT", side=Side.SELL, quantity=Decimal("0.5"), reduce_only=True),
        ]

    def _facade_verdicts(self, risk_rule: RiskRule, intent: Any, context: Any) -> list[RiskVerdict]:
        from tradekit.hooks import HookFacade, new_plugin_manager

        pm = new_plugin_manager()
        pm.register(risk_rule, name=risk_rule.name)
        return HookFacade(pm).risk_check(intent, context)

    @rule("risk.returns-verdict")
    def test_returns_verdict(self) -> None:
        """On ordinary intents check() returns None or a sound RiskVerdict, directly and through the hook."""
        context = self.context()
        for intent in self.intents():
            what = f"{intent.side.value} {intent.quantity} {intent.symbol} ({intent.type.value})"
            try:
                verdict = self.make_rule().check(intent, context)
            except Exception as error:
                violated(
                    "risk.returns-verdict",
                    f"check() raised {type(error).__name__}: {error} on an ordinary intent ({what}); that blocks "
                    "every such order",
                )
            if verdict is not None and not isinstance(verdict, RiskVerdict):
                violated(
                    "risk.returns-verdict",
                    f"check() returned {verdict!r} for {what}; return a RiskVerdict (or None for no opinion)",
                )
            if verdict is not None:
                if verdict.action is RiskAction.REJECT and not verdict.reason.strip():
                    violated("risk.returns-verdict", f"a REJECT of {what} gives no reason; say which limit and numbers")
                if verdict.action is RiskAction.RESIZE and (
                    verdict.quantity is None or not 0 < verdict.quantity <= intent.quantity
                ):
                    violated(
                        "risk.returns-verdict",
                        f"a RESIZE of {what} to {verdict.quantity}: a resize gives a smaller positive quantity",
                    )
            through_hook = self._facade_verdicts(self.make_rule(), intent, context)
            own = verdict or RiskVerdict.accept(self.plugin_name)
            if len(through_hook) != 1 or through_hook[0].action is not own.action:
                violated(
                    "risk.returns-verdict",
                    f"through the risk hook {what} got {through_hook!r}, but check() said {own!r}: do not override "
                    "tradekit_risk_check, implement check()",
                )

    @rule("risk.fail-closed")
    def test_fail_closed(self) -> None:
        """An error inside the rule (provoked through its inputs) blocks the order: it never lets it pass."""
        import pytest

        context = self.context()
        intent = self.intents()[0]
        evidence = 0
        for label in ("the risk context", "the intent"):
            poison = Poison()
            given_intent = poison.copy(intent) if label == "the intent" else intent
            given_context = poison.copy(context) if label == "the risk context" else context
            risk_rule = self.make_rule()
            poison.arm(risk_rule)
            raised = False
            verdict = None
            try:
                verdict = risk_rule.check(given_intent, given_context)
            except Exception:
                raised = True
            if not poison.touched:
                continue  # the rule never read this input: nothing was provoked
            evidence += 1
            if not raised and (not isinstance(verdict, RiskVerdict) or verdict.action is not RiskAction.REJECT):
                answer = "None (no opinion: the order passes)" if verdict is None else repr(verdict)
                violated(
                    "risk.fail-closed",
                    f"reading {poison.touched[0]} raised an error inside check(), and the rule answered {answer}: it "
                    "swallowed its own error and let the order through. Let the exception propagate (the engine "
                    "turns it into a REJECT naming the rule) or return a REJECT",
                )
            hooked_rule = self.make_rule()
            poison.arm(hooked_rule)
            combined = self._facade_verdicts(hooked_rule, given_intent, given_context)
            if not any(v.action is RiskAction.REJECT for v in combined):
                violated(
                    "risk.fail-closed",
                    f"with an error provoked in {label}, the risk hook still let the order through: {combined!r}",
                )
        if not evidence:
            pytest.skip("check() read neither the intent nor the risk context, so no error could be provoked inside it")

    @rule("risk.settings-validated")
    def test_settings_validated(self) -> None:
        """Unknown settings are refused, naming the key; the plugin keeps its name and settings."""
        self.check_settings("risk.settings-validated")
