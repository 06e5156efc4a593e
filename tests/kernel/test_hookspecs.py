"""The plugin contract: every hook is documented, typed, reachable through the facade, and delivered."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime
from typing import Any

import pluggy
import pytest

from tradekit import hookspecs
from tradekit.control import ControlAction, ControlRequest
from tradekit.domain.events import RiskVerdict
from tradekit.hooks import HookFacade, new_plugin_manager
from tradekit.hookspecs import hookimpl

HOOK_NAMES = sorted(
    name for name, value in vars(hookspecs).items() if name.startswith("tradekit_") and inspect.isfunction(value)
)


def facade_method_name(hook_name: str) -> str:
    """``tradekit_risk_check`` is called through ``HookFacade.risk_check``."""
    return hook_name.removeprefix("tradekit_")


def test_the_contract_has_hooks_to_check() -> None:
    # Guards the tests below against an empty list passing vacuously.
    assert {"tradekit_risk_check", "tradekit_notify", "tradekit_run_started"} <= set(HOOK_NAMES)


@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_every_hookspec_documents_results_failure_semantics_and_version(hook_name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook_name)) or ""
    assert "Results:" in doc, f"{hook_name} does not say what happens to results"
    assert re.search(r"fail (open|closed)", doc, re.IGNORECASE), f"{hook_name} does not say fail open or closed"
    assert re.search(r"^Since: \d+\.\d+\.\d+$", doc, re.MULTILINE), f"{hook_name} has no 'Since: X.Y.Z' line"


@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_every_hookspec_annotates_all_its_arguments_and_its_return(hook_name: str) -> None:
    signature = inspect.signature(getattr(hookspecs, hook_name))
    missing = [name for name, p in signature.parameters.items() if p.annotation is inspect.Parameter.empty]
    assert not missing, f"{hook_name} has arguments without a type: {missing}"
    assert signature.return_annotation is not inspect.Signature.empty


@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_every_hookspec_is_registered_as_a_spec(hook_name: str) -> None:
    pm = new_plugin_manager()
    caller = getattr(pm.hook, hook_name)
    assert caller.spec is not None
    assert not caller.spec.opts.get("firstresult"), "risk and notification hooks collect, never first-wins"


@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_the_facade_has_a_method_for_every_hook_with_the_same_arguments(hook_name: str) -> None:
    method = getattr(HookFacade, facade_method_name(hook_name), None)
    assert method is not None, f"HookFacade has no {facade_method_name(hook_name)}() for {hook_name}"
    spec_args = list(inspect.signature(getattr(hookspecs, hook_name)).parameters)
    method_args = [name for name in inspect.signature(method).parameters if name != "self"]
    assert method_args == spec_args


class Recorder:
    """Implements every hook and records each call with its arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def tradekit_run_started(self, run: Any) -> None:
        self.calls.append(("tradekit_run_started", {"run": run}))

    @hookimpl
    def tradekit_market_data_status(self, symbol: Any, status: Any, detail: Any) -> None:
        self.calls.append(("tradekit_market_data_status", {"symbol": symbol, "status": status, "detail": detail}))

    @hookimpl
    def tradekit_intent_created(self, intent: Any, strategy: Any) -> None:
        self.calls.append(("tradekit_intent_created", {"intent": intent, "strategy": strategy}))

    @hookimpl
    def tradekit_strategy_state_changed(self, strategy: Any, state: Any) -> None:
        self.calls.append(("tradekit_strategy_state_changed", {"strategy": strategy, "state": state}))

    @hookimpl
    def tradekit_risk_check(self, intent: Any, context: Any) -> RiskVerdict:
        self.calls.append(("tradekit_risk_check", {"intent": intent, "context": context}))
        return RiskVerdict.accept("recorder")

    @hookimpl
    def tradekit_order_submitted(self, order: Any) -> None:
        self.calls.append(("tradekit_order_submitted", {"order": order}))

    @hookimpl
    def tradekit_order_updated(self, order: Any, previous_status: Any) -> None:
        self.calls.append(("tradekit_order_updated", {"order": order, "previous_status": previous_status}))

    @hookimpl
    def tradekit_fill(self, fill: Any, position: Any) -> None:
        self.calls.append(("tradekit_fill", {"fill": fill, "position": position}))

    @hookimpl
    def tradekit_exchange_error(self, exchange: Any, operation: Any, error: Any) -> None:
        self.calls.append(("tradekit_exchange_error", {"exchange": exchange, "operation": operation, "error": error}))

    @hookimpl
    def tradekit_model_loaded(self, model: Any, metadata: Any) -> None:
        self.calls.append(("tradekit_model_loaded", {"model": model, "metadata": metadata}))

    @hookimpl
    def tradekit_control_requested(self, request: Any) -> None:
        self.calls.append(("tradekit_control_requested", {"request": request}))

    @hookimpl
    def tradekit_heartbeat(self, now: Any) -> None:
        self.calls.append(("tradekit_heartbeat", {"now": now}))

    @hookimpl
    def tradekit_notify(self, event: Any) -> None:
        self.calls.append(("tradekit_notify", {"event": event}))

    @hookimpl
    def tradekit_run_stopped(self, run: Any, summary: Any) -> None:
        self.calls.append(("tradekit_run_stopped", {"run": run, "summary": summary}))


def test_the_recorder_implements_every_hook() -> None:
    implemented = {name for name in vars(Recorder) if name.startswith("tradekit_")}
    assert implemented == set(HOOK_NAMES), "a new hook needs a method in Recorder (and in HookFacade)"


def test_every_facade_method_delivers_its_hook_with_the_right_arguments(samples: Any) -> None:
    from tradekit.domain.orders import OrderStatus

    arguments: dict[str, dict[str, Any]] = {
        "tradekit_run_started": {"run": samples.run},
        "tradekit_market_data_status": {"symbol": "BTC/USDT", "status": "gap", "detail": "3 bars missing"},
        "tradekit_intent_created": {"intent": samples.intent, "strategy": "sma_cross"},
        "tradekit_strategy_state_changed": {
            "strategy": "grid",
            "state": {"phase": "armed", "anchor": "41000"},
        },
        "tradekit_risk_check": {"intent": samples.intent, "context": samples.context},
        "tradekit_order_submitted": {"order": samples.order},
        "tradekit_order_updated": {"order": samples.order, "previous_status": OrderStatus.NEW},
        "tradekit_fill": {"fill": samples.fill, "position": samples.position},
        "tradekit_exchange_error": {
            "exchange": "paper",
            "operation": "submit_order",
            "error": TimeoutError("venue timed out"),
        },
        "tradekit_model_loaded": {"model": "lgbm", "metadata": {"horizon": 5}},
        "tradekit_control_requested": {
            "request": ControlRequest(action=ControlAction.STOP, source="telegram chat 42", reason="going to bed")
        },
        "tradekit_heartbeat": {"now": datetime(2024, 8, 5, 1, 10, tzinfo=UTC)},
        "tradekit_notify": {"event": samples.event},
        "tradekit_run_stopped": {"run": samples.run, "summary": samples.summary},
    }
    assert set(arguments) == set(HOOK_NAMES), "a new hook needs sample arguments here"
    pm = new_plugin_manager()
    recorder = Recorder()
    pm.register(recorder, name="recorder")
    facade = HookFacade(pm)

    results = {name: getattr(facade, facade_method_name(name))(**kwargs) for name, kwargs in arguments.items()}

    assert [name for name, _ in recorder.calls] == list(arguments)
    for name, received in recorder.calls:
        sent = arguments[name]
        assert received.keys() == sent.keys()
        for key, value in sent.items():
            if name == "tradekit_notify":
                # The facade hands notifiers a scrubbed copy of the event; with no secret it is equal.
                assert received[key] == value
            else:
                assert received[key] is value, f"{name} got another {key} than the one sent"
    assert results["tradekit_risk_check"] == [RiskVerdict.accept("recorder")]


def test_a_facade_with_no_plugins_calls_nothing_and_risk_has_no_verdicts(samples: Any) -> None:
    facade = HookFacade(new_plugin_manager())
    assert facade.risk_check(samples.intent, samples.context) == []
    facade.notify(samples.event)  # no notifier: nothing to do, nothing raised


def test_a_misspelled_hook_implementation_is_refused_when_the_facade_is_built() -> None:
    class Typo:
        @hookimpl
        def tradekit_risk_chek(self, intent: Any, context: Any) -> None:
            """Meant to be tradekit_risk_check."""

    pm = new_plugin_manager()
    pm.register(Typo(), name="typo")
    with pytest.raises(pluggy.PluginValidationError, match="tradekit_risk_chek"):
        HookFacade(pm)


def test_an_implementation_with_an_argument_the_spec_lacks_is_refused_at_registration() -> None:
    class ExtraArgument:
        @hookimpl
        def tradekit_fill(self, fill: Any, position: Any, account: Any) -> None:
            """Asks for an argument no spec provides."""

    with pytest.raises(pluggy.PluginValidationError, match="account"):
        new_plugin_manager().register(ExtraArgument(), name="extra")
