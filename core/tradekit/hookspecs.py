"""The plugin contract: every hook tradekit calls, in one file.

A change to this file is an API change. Rules for evolving it are in
CONTRIBUTING.md: new hooks and new arguments may be added at any time (an
implementation may accept fewer arguments than the spec); renames and removals
go through a declared deprecation with ``warn_on_impl`` / ``warn_on_impl_args``.

Hooks are for fan-out: events many plugins may want to hear (start and stop,
order updates, fills, risk checks, notifications). Behaviour that one plugin
owns (an exchange placing an order, a strategy deciding on a bar) is a method
of that plugin's base class in :mod:`tradekit.plugin`, called directly: a
backtest's per-bar path never pays hook dispatch.

Every hook is called through :class:`tradekit.hooks.HookFacade`, never as a
scattered ``pm.hook.x(...)``. How each one treats results and exceptions is
stated in its docstring and enforced there:

* **collected**: every implementation runs, results come back as a list;
* **fail closed** (risk): an implementation that raises counts as a veto;
* **fail open** (notifications, observers): an implementation that raises is
  logged and the run goes on.

Lifecycle order, for one run::

    tradekit_run_started
      (per order)  tradekit_intent_created -> tradekit_risk_check
                   -> tradekit_order_submitted -> tradekit_order_updated* -> tradekit_fill*
      (any time)   tradekit_notify, tradekit_exchange_error, tradekit_strategy_state_changed,
                   tradekit_model_loaded
      (dry, live)  tradekit_heartbeat (each pass of the loop), tradekit_control_requested
    tradekit_run_stopped
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from datetime import datetime

    from tradekit.control import ControlRequest, RunControl
    from tradekit.domain.events import NotifierEvent, RiskVerdict
    from tradekit.domain.orders import Fill, Order, OrderIntent, OrderStatus
    from tradekit.domain.portfolio import Position
    from tradekit.domain.run import RiskContext, RunInfo, RunSummary

PROJECT_NAME = "tradekit"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --- start -----------------------------------------------------------------


@hookspec
def tradekit_run_started(run: RunInfo, control: RunControl | None) -> None:
    """A run has been set up and is about to process its first market data.

    Called once per run, after every configured plugin has loaded and its
    settings validated, and before the first order. ``run`` names the mode,
    exchange, strategies, symbols, risk rules and notifiers. ``control`` is the
    run's :class:`~tradekit.control.RunControl` (emit events, read the bars
    and the account, request a stop, flatten or resume); keep it for the run.
    It is None only where an engine is driven without a session (unit tests).
    Argument added in 0.1.0.

    Results: none. Every implementation is called (fail open: one that raises
    is logged and the run goes on).

    Since: 0.1.0
    """


# --- market data -----------------------------------------------------------


@hookspec
def tradekit_market_data_status(symbol: str, status: str, detail: str) -> None:
    """The market-data feed of ``symbol`` changed state.

    ``status`` is one of ``"connected"``, ``"disconnected"``, ``"reconnected"``,
    ``"gap"`` (bars are missing between two received ones) or ``"stale"``;
    ``detail`` says more in words. Never called per bar. The dry-run and live
    loop (``tradekit run``) fires it once per change of a symbol's feed;
    backtests never do.

    Results: none. Fail open.

    Since: 0.1.0
    """


# --- signal ----------------------------------------------------------------


@hookspec
def tradekit_intent_created(intent: OrderIntent, strategy: str) -> None:
    """A strategy asked for an order; risk rules have not judged it yet.

    For observers (journals, dashboards). The intent is frozen: to change its
    size, implement :func:`tradekit_risk_check` and answer RESIZE.

    Results: none. Fail open.

    Since: 0.1.0
    """


@hookspec
def tradekit_strategy_state_changed(strategy: str, state: dict[str, Any]) -> None:
    """A strategy's persistent state changed (phase, anchor, window, cycle...).

    ``state`` is JSON-serialisable and is what the strategy needs to rebuild
    itself after a restart; the engine journals it before calling this hook.

    Results: none. Fail open.

    Since: 0.1.0
    """


# --- risk ------------------------------------------------------------------


@hookspec
def tradekit_risk_check(intent: OrderIntent, context: RiskContext) -> RiskVerdict | None:
    """Judge one order intent before it is sent.

    Called for every intent, for every risk plugin in the run (config order),
    before the order reaches the exchange. Return a :class:`RiskVerdict`:
    ACCEPT, REJECT with a reason, or RESIZE to a smaller quantity; ``None``
    means no opinion (same as ACCEPT).

    Results: **collected**. Every implementation runs on every intent, even
    after one has rejected, so every verdict is journaled. Any REJECT blocks the
    order; the smallest RESIZE wins. **Fail closed**: an implementation that
    raises is a REJECT naming the rule and the error.

    Since: 0.1.0
    """


# --- execution -------------------------------------------------------------


@hookspec
def tradekit_order_submitted(order: Order) -> None:
    """An order passed risk and was handed to the exchange.

    ``order`` carries its client order id and status NEW; what the venue said
    arrives through :func:`tradekit_order_updated`.

    Results: none. Fail open.

    Since: 0.1.0
    """


@hookspec
def tradekit_order_updated(order: Order, previous_status: OrderStatus) -> None:
    """An order moved along its lifecycle (accepted, filled, cancelled, rejected...).

    ``order`` is the order after the move; a rejection's venue reason is in
    ``order.reason``.

    Results: none. Fail open.

    Since: 0.1.0
    """


@hookspec
def tradekit_fill(fill: Fill, position: Position) -> None:
    """An order (partly) filled; ``position`` is the position after the fill.

    Results: none. Fail open.

    Since: 0.1.0
    """


@hookspec
def tradekit_exchange_error(exchange: str, operation: str, error: Exception) -> None:
    """A call to the exchange failed (after the connector's own retries).

    ``operation`` names the call (``"submit_order"``, ``"fetch_open_orders"``...).
    Circuit breakers count these to trip on an error rate.

    Results: none. Fail open.

    Since: 0.1.0
    """


# --- models ----------------------------------------------------------------


@hookspec
def tradekit_model_loaded(model: str, metadata: dict[str, Any]) -> None:
    """A model plugin loaded a trained artifact for this run.

    ``metadata`` holds what the artifact declares (features, training window,
    horizon, data hash, library versions, metrics).

    Results: none. Fail open.

    Since: 0.1.0
    """


# --- control -----------------------------------------------------------------


@hookspec
def tradekit_control_requested(request: ControlRequest) -> None:
    """Someone asked the running run to stop, flatten or resume.

    The request came from ``tradekit stop``, a chat command, a watched file or
    a plugin (``request.source`` says which). Called on the engine's thread by
    dry and live runs when the request is served, before the engine acts on it:
    for a stop or flatten, before open orders are cancelled and positions
    closed, so a risk rule can refuse new entries from then on; for a resume, a
    rule may lift its own pause (a tripped circuit breaker resets by hand).

    Results: none. Fail open.

    Since: 0.1.0
    """


@hookspec
def tradekit_heartbeat(now: datetime) -> None:
    """Time passes in a dry or live run: once per pass of the loop.

    Called on the engine's thread after new bars were handled, or after a poll
    that found none; ``now`` is the run's clock (the open time of the last
    bar). Never called in a backtest, where time moves only with bars: a plugin
    acts there in its other hooks or at the next risk check. For plugins that
    watch something (a file, a cooldown that runs out, a clock).

    Results: none. Fail open.

    Since: 0.1.0
    """


# --- notification ----------------------------------------------------------


@hookspec
def tradekit_notify(event: NotifierEvent) -> None:
    """Tell people about something: an order, a fill, a trip, an error, start and stop.

    Implemented by notifier plugins (the :class:`tradekit.plugin.Notifier` base
    class does it for you and filters by event kind). ``event`` has already
    been scrubbed of every secret the run knows. Must not block: a notifier
    that talks to a slow service queues the event and returns.

    Results: none. **Fail open**: an implementation that raises is logged and
    trading goes on.

    Since: 0.1.0
    """


# --- stop ------------------------------------------------------------------


@hookspec
def tradekit_run_stopped(run: RunInfo, summary: RunSummary) -> None:
    """A run ended, normally or not; ``summary.reason`` says why.

    Called once, after the last order update, and before plugins are closed.

    Results: none. Fail open.

    Since: 0.1.0
    """
