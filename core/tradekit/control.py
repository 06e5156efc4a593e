"""What a running run offers plugins besides the hooks, and how it is steered from outside.

The session makes one :class:`RunControl` per run and hands it to every plugin in
:func:`~tradekit.hookspecs.tradekit_run_started`. Through it a plugin may:

* emit a notifier event of its own (a circuit breaker's trip), journaled and sent like the engine's;
* read the bars so far (:meth:`RunControl.history`) and the account (:meth:`RunControl.account`);
* ask the run to stop, to flatten and stop, or to resume (:meth:`RunControl.request`), from any
  thread: a chat command, a watched file, ``tradekit stop`` in another terminal.

Dry and live runs serve requests on the engine's thread, once per pass of their loop
(:meth:`RunControl.service`). A request first goes to every plugin
(:func:`~tradekit.hookspecs.tradekit_control_requested`), so risk rules can refuse entries at once;
then a stop cancels every open order of the run, a flatten also closes every position with
reduce-only market orders (through the risk rules, journaled like any order), and the loop ends.
A resume only reaches the plugins (a tripped circuit breaker resets by hand). Backtests take no
requests: nothing outside can reach them while they run.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradekit.domain.events import EventKind, Severity
from tradekit.domain.orders import OrderIntent, Side
from tradekit.domain.run import RunMode
from tradekit.errors import ExchangeError
from tradekit.stop_requests import read_stop_request

if TYPE_CHECKING:
    from tradekit.domain.bars import BarSeries
    from tradekit.domain.orders import Order
    from tradekit.domain.portfolio import Position
    from tradekit.domain.run import RunInfo
    from tradekit.engine.core import Engine
    from tradekit.plugin import Strategy

log = logging.getLogger("tradekit.control")

#: Event kinds the control emits (plain strings, like any plugin's own kinds).
STOP_REQUESTED = "stop_requested"
RESUME_REQUESTED = "resume_requested"


class ControlAction(StrEnum):
    """What a request asks of a running run."""

    STOP = "stop"
    """Cancel every open order of the run, then end it."""
    FLATTEN = "flatten"
    """Cancel every open order, close every position, then end the run."""
    RESUME = "resume"
    """Lift what plugins paused (a tripped circuit breaker resets by hand)."""


@dataclass(frozen=True)
class ControlRequest:
    """One request to a running run: what, who asked (``source``) and why."""

    action: ControlAction
    source: str
    reason: str = ""
    requested_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def describe(self) -> str:
        """``"flatten requested by telegram chat 42: going to bed"``, for messages."""
        return f"{self.action.value} requested by {self.source}" + (f": {self.reason}" if self.reason else "")


@dataclass(frozen=True)
class AccountSnapshot:
    """The run and its account at one moment, for status commands and summaries."""

    run: RunInfo
    timestamp: datetime | None
    equity: Decimal
    start_equity: Decimal
    quote_currency: str
    cash: dict[str, Decimal]
    positions: tuple[Position, ...]
    open_orders: tuple[Order, ...]
    prices: dict[str, Decimal]
    orders: int
    fills: int
    risk_rejections: int
    status: dict[str, str]
    stopping: ControlRequest | None


class RunControl:
    """The running engine, as far as plugins and outside commands may reach it.

    Methods marked *engine thread* must be called from the engine's thread
    (inside a hook or a risk check), because the engine is not thread-safe;
    :meth:`emit` called from another thread is queued and sent at the next pass
    of the loop. Methods marked *any thread* are safe anywhere.
    """

    def __init__(
        self,
        engine: Engine,
        strategy: Strategy,
        *,
        accepts_requests: bool,
        stop_file: Path | None = None,
        settle_seconds: float = 30.0,
    ) -> None:
        self._engine = engine
        self._strategy = strategy
        self._accepts = accepts_requests
        self._stop_file = stop_file
        self._stop_file_stamp: int | None = None
        self._served_file_request: datetime | None = None
        # Requests older than this process's run are not for it (a resumed run keeps its first start time).
        self._started = datetime.now(UTC)
        self._settle_seconds = settle_seconds
        self._engine_thread = threading.get_ident()
        self._lock = threading.Lock()
        self._requests: deque[ControlRequest] = deque()
        self._queries: list[Future[AccountSnapshot | None]] = []
        self._queued_events: deque[tuple[str, str, Severity, dict[str, Any]]] = deque()
        self._status: dict[str, str] = {}
        self._stopping: ControlRequest | None = None
        self._closed = False
        # Daily summaries (dry and live runs): the day being summed up and where it started.
        self._day: date | None = None
        self._day_start_equity = engine.start_cash
        self._last_equity = engine.start_cash
        self._day_counts = (0, 0, 0)
        self._last_counts = (0, 0, 0)

    # -- for plugins --------------------------------------------------------------------------

    @property
    def run(self) -> RunInfo:
        """The run (any thread)."""
        return self._engine.run

    @property
    def now(self) -> datetime | None:
        """The run's clock: the open time of the current bar, or None before the first (engine thread)."""
        return self._engine.now

    @property
    def accepts_requests(self) -> bool:
        """Whether :meth:`request` is served: True in dry and live runs, False in backtests (any thread)."""
        return self._accepts

    @property
    def stopping(self) -> ControlRequest | None:
        """The stop or flatten being served, once one was (any thread)."""
        return self._stopping

    def emit(
        self, kind: str, message: str, severity: Severity = Severity.INFO, data: dict[str, Any] | None = None
    ) -> None:
        """Send a notifier event of the plugin's own ``kind``; it is journaled like the engine's events.

        From the engine's thread it goes out at once; from another thread it is
        queued and sent at the next pass of the loop.
        """
        if threading.get_ident() == self._engine_thread:
            self._engine.notify(kind, message, severity, dict(data or {}))
        else:
            with self._lock:
                self._queued_events.append((kind, message, severity, dict(data or {})))

    def model_loaded(self, model: str, metadata: dict[str, Any]) -> None:
        """Tell every plugin that a model was loaded for this run (the ``tradekit_model_loaded`` hook).

        For a strategy or plugin that loads a model plugin's artifact; ``metadata``
        is what the artifact says of itself (features, window, metrics...).
        Engine thread; fail open.
        """
        self._engine.hooks.model_loaded(model, metadata)

    def history(self, symbol: str | None = None) -> BarSeries | None:
        """Closed bars of ``symbol`` (the run's first by default) up to the current one; None before the first bar.

        The same bars the strategy sees, never a later one (engine thread).
        """
        context = self._engine.contexts.get(id(self._strategy))
        if context is None:
            return None
        series: BarSeries = context.history(symbol)
        return series

    def account(self) -> AccountSnapshot:
        """The account now (engine thread); :meth:`query_account` from other threads."""
        engine = self._engine
        if engine.now is not None:
            risk = engine.risk_context()
            equity, cash, prices = risk.equity, risk.cash, risk.prices
            positions: tuple[Position, ...] = tuple(risk.positions.values())
            open_orders: tuple[Order, ...] = risk.open_orders
        else:
            equity, cash, prices = engine.start_cash, dict(engine.ledger.cash), {}
            positions, open_orders = (), ()
        with self._lock:
            status = dict(self._status)
        return AccountSnapshot(
            run=engine.run,
            timestamp=engine.now,
            equity=equity,
            start_equity=engine.start_cash,
            quote_currency=engine.quote_currency,
            cash=cash,
            positions=positions,
            open_orders=open_orders,
            prices=prices,
            orders=engine.stats.orders,
            fills=engine.stats.fills,
            risk_rejections=engine.stats.risk_rejections,
            status=status,
            stopping=self._stopping,
        )

    def set_status(self, key: str, text: str | None) -> None:
        """Publish one line of a plugin's state for status commands (None removes it; any thread)."""
        with self._lock:
            if text is None:
                self._status.pop(key, None)
            else:
                self._status[key] = text

    def request(self, action: ControlAction, *, source: str, reason: str = "") -> bool:
        """Ask the run to stop, flatten or resume (any thread); served at the next pass of the loop.

        Returns False, and logs why, when this run takes no requests (a backtest).
        """
        if not self._accepts or self._closed:
            log.warning(
                "%s request from %s ignored: %s",
                action.value,
                source,
                "the run has ended" if self._closed else "a backtest takes no stop or resume requests",
            )
            return False
        with self._lock:
            self._requests.append(ControlRequest(action=action, source=source, reason=reason))
        return True

    def query_account(self, timeout: float = 10.0) -> AccountSnapshot | None:
        """The account, asked from another thread: answered at the next pass of the loop, None after ``timeout``."""
        if not self._accepts or self._closed:
            return None
        future: Future[AccountSnapshot | None] = Future()
        with self._lock:
            self._queries.append(future)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            with self._lock:
                if future in self._queries:
                    self._queries.remove(future)
            return None

    # -- for the run loop -----------------------------------------------------------------------

    def service(self) -> bool:
        """Serve what is pending, on the engine's thread; True once the run must end.

        Called by dry and live loops once per pass: reads the stop-request file,
        sends events queued from other threads, serves requests, answers account
        queries, then calls :func:`~tradekit.hookspecs.tradekit_heartbeat`.
        """
        self._read_stop_file()
        while True:
            with self._lock:
                event = self._queued_events.popleft() if self._queued_events else None
            if event is None:
                break
            self._engine.notify(*event)
        while True:
            with self._lock:
                request = self._requests.popleft() if self._requests else None
            if request is None:
                break
            self._serve(request)
        with self._lock:
            queries, self._queries = self._queries, []
        if queries:
            snapshot = self.account()
            for future in queries:
                if not future.done():
                    future.set_result(snapshot)
        if self._engine.now is not None:
            self._engine.hooks.heartbeat(self._engine.now)
        return self._stopping is not None

    def after_bar(self) -> None:
        """Count the bar's day; when a UTC day ends, emit its ``daily_summary`` (dry and live runs)."""
        engine = self._engine
        if engine.now is None:
            return
        day = engine.now.astimezone(UTC).date()
        equity = engine.equity()
        counts = (engine.stats.orders, engine.stats.fills, engine.stats.risk_rejections)
        if self._day is None:
            self._day = day
        elif day != self._day:
            # The day ended with the previous bar: its equity and counts close the summary.
            self._daily_summary(self._day)
            self._day = day
            self._day_start_equity = self._last_equity
            self._day_counts = self._last_counts
        self._last_equity = equity
        self._last_counts = counts

    def close(self) -> None:
        """The run ended: answer waiting queries with None and take no more requests."""
        self._closed = True
        with self._lock:
            queries, self._queries = self._queries, []
        for future in queries:
            if not future.done():
                future.set_result(None)

    @property
    def stop_reason(self) -> str | None:
        """Why the run ends, when a request ended it."""
        return None if self._stopping is None else self._stopping.describe()

    # -- inside -----------------------------------------------------------------------------

    def _read_stop_file(self) -> None:
        if self._stop_file is None:
            return
        try:
            stamp = os.stat(self._stop_file).st_mtime_ns
        except OSError:
            return
        if stamp == self._stop_file_stamp:
            return
        self._stop_file_stamp = stamp
        request = read_stop_request(self._stop_file)
        if request is None or request.requested_at == self._served_file_request:
            return
        if not request.applies_to(self.run.run_id, self._started):
            return
        self._served_file_request = request.requested_at
        action = ControlAction.FLATTEN if request.flatten else ControlAction.STOP
        with self._lock:
            self._requests.append(
                ControlRequest(action=action, source=f"{request.requested_by} ({self._stop_file.name})")
            )

    def _serve(self, request: ControlRequest) -> None:
        engine = self._engine
        # Already stopping: only a flatten after a plain stop still has something to do.
        upgrade = request.action is ControlAction.FLATTEN and (
            self._stopping is None or self._stopping.action is ControlAction.STOP
        )
        if request.action is not ControlAction.RESUME and self._stopping is not None and not upgrade:
            return
        engine.hooks.control_requested(request)
        if request.action is ControlAction.RESUME:
            engine.notify(
                RESUME_REQUESTED,
                request.describe(),
                Severity.INFO,
                {"source": request.source, "reason": request.reason},
            )
            return
        self._stopping = request
        open_orders = engine.open_orders()
        positions = engine.ledger.positions() if request.action is ControlAction.FLATTEN else []
        plan = f"cancelling {len(open_orders)} open order(s)"
        if request.action is ControlAction.FLATTEN:
            plan += f", closing {len(positions)} position(s)"
        engine.notify(
            STOP_REQUESTED,
            f"{request.describe()}; {plan}, then stopping",
            Severity.WARNING,
            {
                "action": request.action.value,
                "source": request.source,
                "reason": request.reason,
                "open_orders": len(open_orders),
                "positions": {p.symbol: str(p.quantity) for p in positions},
            },
        )
        for order in open_orders:
            engine.cancel(order.client_order_id)
        if request.action is ControlAction.FLATTEN:
            for position in positions:
                self._close_position(position, request)
        if engine.run.mode is RunMode.LIVE:
            self._settle(request.action is ControlAction.FLATTEN)

    def _close_position(self, position: Position, request: ControlRequest) -> None:
        engine = self._engine
        side = Side.SELL if position.quantity > 0 else Side.BUY
        intent = OrderIntent(
            symbol=position.symbol,
            side=side,
            quantity=abs(position.quantity),
            reduce_only=True,
            tag=f"flatten ({request.source})",
        )
        try:
            market_price: Decimal | None = engine.price(position.symbol)
        except KeyError:
            market_price = None
        if engine.submit_intent(self._strategy, intent, market_price) is None:
            engine.notify(
                EventKind.ERROR,
                f"flatten could not close {position.quantity} {position.symbol}: the closing order was blocked "
                "(see the risk verdicts of the run); close it by hand",
                Severity.ERROR,
                {"symbol": position.symbol, "quantity": str(position.quantity)},
            )

    def _settle(self, flatten: bool) -> None:
        """Live: wait (bounded) for the venue to confirm the cancels and the closing fills."""
        engine = self._engine
        deadline = time.monotonic() + self._settle_seconds
        while engine.open_orders() or (flatten and engine.ledger.positions()):
            if time.monotonic() >= deadline:
                engine.notify(
                    EventKind.ERROR,
                    f"after {self._settle_seconds:.0f} s, {len(engine.open_orders())} order(s) are still open and "
                    f"{len(engine.ledger.positions()) if flatten else 'some'} position(s) still held by this run's "
                    "account; check the exchange by hand",
                    Severity.ERROR,
                    {},
                )
                return
            try:
                engine.drain()
            except ExchangeError as error:
                log.warning("waiting for the exchange to confirm the stop: %s", error)
            time.sleep(0.2)

    def _daily_summary(self, day: date) -> None:
        start, end = self._day_start_equity, self._last_equity
        change = end - start
        percent = (change / start * 100) if start else Decimal(0)
        orders, fills, rejections = (now - then for now, then in zip(self._last_counts, self._day_counts, strict=True))
        quote = self._engine.quote_currency
        positions = {p.symbol: str(p.quantity) for p in self._engine.ledger.positions()}
        self._engine.notify(
            EventKind.DAILY_SUMMARY,
            f"{day.isoformat()}: equity {end:,.2f} {quote} ({percent:+.2f}%, {change:+,.2f}); "
            f"{orders} order(s), {fills} fill(s), {rejections} risk rejection(s)",
            Severity.INFO,
            {
                "day": day.isoformat(),
                "start_equity": str(start),
                "end_equity": str(end),
                "change": str(change),
                "change_pct": float(percent),
                "orders": orders,
                "fills": fills,
                "risk_rejections": rejections,
                "positions": positions,
                "quote_currency": quote,
            },
        )
