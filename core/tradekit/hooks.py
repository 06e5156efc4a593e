"""The plugin manager and the one typed facade through which every hook is called.

No other module calls ``pm.hook.<name>(...)``: the semantics of each hook
(collected, fail closed, fail open) live here, once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pluggy

from tradekit import hookspecs
from tradekit.domain.events import EventKind, NotifierEvent, RiskAction, RiskVerdict, Severity
from tradekit.secrets import redact, redact_data

if TYPE_CHECKING:
    from datetime import datetime

    from tradekit.control import ControlRequest, RunControl
    from tradekit.domain.orders import Fill, Order, OrderIntent, OrderStatus
    from tradekit.domain.portfolio import Position
    from tradekit.domain.run import RiskContext, RunInfo, RunSummary

log = logging.getLogger("tradekit.hooks")


def new_plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager that knows tradekit's hook specs and nothing else.

    Plugins are registered by the run that names them (see
    :mod:`tradekit.registry`); nothing is loaded at import time.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def _plugin_label(pm: pluggy.PluginManager, impl: pluggy.HookImpl) -> str:
    name = pm.get_name(impl.plugin)
    return name or getattr(impl.plugin, "name", None) or repr(impl.plugin)


class HookFacade:
    """Typed calls for every hook in :mod:`tradekit.hookspecs`.

    ``check_pending()`` is run when the facade is built, so an implementation
    of a hook that does not exist (a misspelled ``tradekit_`` method) is an
    error before anything runs.
    """

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        pm.check_pending()
        for name in dir(pm.hook):
            if not name.startswith("tradekit_"):
                continue
            for impl in getattr(pm.hook, name).get_hookimpls():
                if impl.hookwrapper or impl.wrapper:
                    # The facade calls each implementation itself (to collect and
                    # to fail closed or open), so a wrapper would not wrap anything.
                    raise pluggy.PluginValidationError(
                        impl.plugin,
                        f"{_plugin_label(pm, impl)}: {name} is declared as a wrapper; tradekit hooks take "
                        "plain implementations only",
                    )

    # -- helpers -------------------------------------------------------------

    def _each(self, hook_name: str) -> list[pluggy.HookImpl]:
        # get_hookimpls() lists trylast ones, then the rest in registration order,
        # then tryfirst ones (pluggy itself calls that list backwards, last
        # registered first). We call in config order, which is registration order,
        # still honouring tryfirst and trylast.
        caller = getattr(self.pm.hook, hook_name)
        impls: list[pluggy.HookImpl] = caller.get_hookimpls()
        first = [impl for impl in impls if impl.tryfirst]
        last = [impl for impl in reversed(impls) if impl.trylast]
        middle = [impl for impl in impls if not impl.tryfirst and not impl.trylast]
        return first + middle + last

    @staticmethod
    def _call(impl: pluggy.HookImpl, kwargs: dict[str, Any]) -> Any:
        # An implementation may take fewer arguments than the spec (pluggy's rule).
        return impl.function(*[kwargs[name] for name in impl.argnames])

    def _fail_open(self, hook_name: str, **kwargs: Any) -> None:
        for impl in self._each(hook_name):
            try:
                self._call(impl, kwargs)
            except Exception as error:
                # Observers and notifiers must never stop trading: log and go on.
                log.error(
                    "plugin %s failed in %s: %s",
                    _plugin_label(self.pm, impl),
                    hook_name,
                    redact(f"{type(error).__name__}: {error}"),
                )

    # -- start / stop ----------------------------------------------------------

    def run_started(self, run: RunInfo, control: RunControl | None = None) -> None:
        """Call :func:`~tradekit.hookspecs.tradekit_run_started` (fail open)."""
        self._fail_open("tradekit_run_started", run=run, control=control)

    def run_stopped(self, run: RunInfo, summary: RunSummary) -> None:
        """Call :func:`~tradekit.hookspecs.tradekit_run_stopped` (fail open)."""
        self._fail_open("tradekit_run_stopped", run=run, summary=summary)

    # -- market data -----------------------------------------------------------

    def market_data_status(self, symbol: str, status: str, detail: str) -> None:
        """Call :func:`~tradekit.hookspecs.tradekit_market_data_status` (fail open)."""
        self._fail_open("tradekit_market_data_status", symbol=symbol, status=status, detail=detail)

    # -- signal ----------------------------------------------------------------

    def intent_created(self, intent: OrderIntent, strategy: str) -> None:
        """Call :func:`~tradekit.hookspecs.tradekit_intent_created` (fail open)."""
        self._fail_open("tradekit_intent_created", intent=intent, strategy=strategy)

    def strategy_state_changed(self, strategy: str, state: dict[str, Any]) -> None:
        """Call :func:`~tradekit.hookspecs.tradekit_strategy_state_changed` (fail open)."""
        self._fail_open("tradekit_strategy_state_changed", strategy=strategy, state=state)

    # -- risk ------------------------------------------------------------------

    def risk_check(self, intent: OrderIntent, context: RiskContext) -> list[RiskVerdict]:
        """Ask every risk implementation; returns all verdicts, in config order.

        Collected: every rule runs even after a rejection. Fail closed: a rule
        that raises, or returns something that is not a verdict, is a REJECT.
        """
        verdicts: list[RiskVerdict] = []
        kwargs = {"intent": intent, "context": context}
        for impl in self._each("tradekit_risk_check"):
            rule = _plugin_label(self.pm, impl)
            try:
                result = self._call(impl, kwargs)
            except Exception as error:
                message = redact(
                    f"risk rule {rule} raised {type(error).__name__}: {error}; the order is blocked (fail closed)"
                )
                verdicts.append(RiskVerdict.reject(rule, message))
                # A broken rule is an error to tell, not only one more rejection.
                log.error("%s (%s %s %s)", message, intent.side.value, intent.quantity, intent.symbol)
                self.notify(
                    NotifierEvent(
                        kind=EventKind.ERROR,
                        message=message,
                        severity=Severity.ERROR,
                        data={"rule": rule, "error": type(error).__name__, "symbol": intent.symbol},
                        timestamp=context.timestamp,
                    )
                )
                continue
            if result is None:
                verdicts.append(RiskVerdict.accept(rule))
            elif isinstance(result, RiskVerdict):
                verdicts.append(result)
            else:
                verdicts.append(
                    RiskVerdict.reject(
                        rule,
                        f"risk rule {rule} returned {type(result).__name__}, not a RiskVerdict; "
                        "the order is blocked (fail closed)",
                    )
                )
        return verdicts

    # -- execution ---------------------------------------------------------------

    def order_submitted(self, order: Order) -> None:
        """Call :func:`~tradekit.hookspecs.tradekit_order_submitted` (fail open)."""
        self._fail_open("tradekit_order_submitted", order=order)

    def order_updated(self, order: Order, previous_status: OrderStatus) -> None:
        """Call :func:`~tradekit.hookspecs.tradekit_order_updated` (fail open)."""
        self._fail_open("tradekit_order_updated", order=order, previous_status=previous_status)

    def fill(self, fill: Fill, position: Position) -> None:
        """Call :func:`~tradekit.hookspecs.tradekit_fill` (fail open)."""
        self._fail_open("tradekit_fill", fill=fill, position=position)

    def exchange_error(self, exchange: str, operation: str, error: Exception) -> None:
        """Call :func:`~tradekit.hookspecs.tradekit_exchange_error` (fail open)."""
        self._fail_open("tradekit_exchange_error", exchange=exchange, operation=operation, error=error)

    # -- models ----------------------------------------------------------------

    def model_loaded(self, model: str, metadata: dict[str, Any]) -> None:
        """Call :func:`~tradekit.hookspecs.tradekit_model_loaded` (fail open)."""
        self._fail_open("tradekit_model_loaded", model=model, metadata=metadata)

    # -- control -----------------------------------------------------------------

    def control_requested(self, request: ControlRequest) -> None:
        """Call :func:`~tradekit.hookspecs.tradekit_control_requested` (fail open)."""
        self._fail_open("tradekit_control_requested", request=request)

    def heartbeat(self, now: datetime) -> None:
        """Call :func:`~tradekit.hookspecs.tradekit_heartbeat` (fail open)."""
        self._fail_open("tradekit_heartbeat", now=now)

    # -- notification ------------------------------------------------------------

    def notify(self, event: NotifierEvent) -> None:
        """Scrub secrets from ``event`` and hand it to every notifier (fail open)."""
        clean = event.model_copy(update={"message": redact(event.message), "data": redact_data(event.data)})
        self._fail_open("tradekit_notify", event=clean)


def combine_verdicts(verdicts: list[RiskVerdict]) -> tuple[RiskAction, Any]:
    """Fold collected verdicts into one decision.

    Returns ``(REJECT, [reasons])`` if any rule rejected; otherwise
    ``(RESIZE, smallest quantity)`` if any resized; otherwise ``(ACCEPT, None)``.
    """
    rejections = [v for v in verdicts if v.action is RiskAction.REJECT]
    if rejections:
        return RiskAction.REJECT, [f"{v.rule}: {v.reason}" for v in rejections]
    sizes = [v.quantity for v in verdicts if v.action is RiskAction.RESIZE and v.quantity is not None]
    if sizes:
        return RiskAction.RESIZE, min(sizes)
    return RiskAction.ACCEPT, None
