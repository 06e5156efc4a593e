"""``circuit_breaker``: stop opening positions when the account or the market misbehaves.

It trips on any of: a drawdown of the account's equity from its peak, a loss since the
start of the UTC day, losing trades in a row, exchange errors piling up in a window, a
price move in one bar. While tripped it rejects every new entry and lets exits through;
after a cooldown it half-opens (one trial entry, at a reduced size) or closes, and a
``resume`` request (``/resume`` on Telegram) resets it by hand. Every trip and reset is a
notifier event with the reason and the numbers.

The equity it watches is marked at every bar's close, from the bars the run has seen and
the fills it made, so a drawdown between two orders is not missed; it is worked out when
the rule is next asked (an order, a fill, a heartbeat of a live run, the end of the run),
vectorised over the bars since, so a backtest pays nothing per bar. A trip found late
still carries the time of the bar it happened on.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from tradekit.control import ControlAction, ControlRequest, RunControl
from tradekit.domain.events import RiskVerdict, Severity
from tradekit.domain.orders import Fill, OrderIntent
from tradekit.domain.portfolio import Position
from tradekit.domain.run import RiskContext, RunInfo, RunSummary
from tradekit.hookspecs import hookimpl
from tradekit.plugin import PluginSettings, RiskRule
from tradekit.secrets import redact
from tradekit_risk.breaker import MINUTE_NS, Breaker, BreakerState, Limits, Transition
from tradekit_risk.intents import is_exit
from tradekit_risk.trades import TradeTracker

log = logging.getLogger("tradekit.plugin.circuit_breaker")

#: Notifier event kinds, one per transition.
TRIPPED = "circuit_breaker_tripped"
HALF_OPEN = "circuit_breaker_half_open"
RESET = "circuit_breaker_reset"
_KINDS = {"tripped": TRIPPED, "half_open": HALF_OPEN, "reset": RESET}
_END = 2**62  # later than any bar: "every bar seen so far"


class CircuitBreakerSettings(PluginSettings):
    """Settings of ``circuit_breaker``; ``false`` switches a trigger off (TOML has no null)."""

    max_drawdown_pct: float | None = Field(
        default=10.0, gt=0, lt=100, description="Trip when equity falls this many % below its peak."
    )
    max_daily_loss_pct: float | None = Field(
        default=5.0, gt=0, lt=100, description="Trip when equity falls this many % below the UTC day's start."
    )
    max_daily_loss: Decimal | None = Field(
        default=None, gt=0, description="Trip when equity falls this much (quote currency) below the day's start."
    )
    max_losing_streak: int | None = Field(default=5, ge=1, description="Trip after this many losing trades in a row.")
    max_exchange_errors: int | None = Field(
        default=5, ge=1, description="Trip after this many exchange errors within `exchange_error_window_minutes`."
    )
    exchange_error_window_minutes: float = Field(default=5.0, gt=0, description="The window errors are counted in.")
    max_bar_move_pct: float | None = Field(
        default=3.0, gt=0, description="Trip when one bar moves this many % from the previous close (high or low)."
    )
    cooldown_minutes: float | None = Field(
        default=60.0, gt=0, description="Minutes (run clock) before a trip reopens; false: only a reset by hand."
    )
    half_open: bool = Field(default=True, description="After the cooldown allow one trial trade before closing.")
    half_open_size: Decimal = Field(
        default=Decimal("0.5"), gt=0, le=1, description="Share of the asked quantity the trial entry may have."
    )
    daily_loss_until_next_day: bool = Field(
        default=True, description="A daily-loss trip lasts at least until the next UTC day starts."
    )

    @field_validator(
        "max_drawdown_pct",
        "max_daily_loss_pct",
        "max_daily_loss",
        "max_losing_streak",
        "max_exchange_errors",
        "max_bar_move_pct",
        "cooldown_minutes",
        mode="before",
    )
    @classmethod
    def _false_is_off(cls, value: Any) -> Any:
        return None if value is False else value

    def limits(self) -> Limits:
        """The thresholds as the state machine takes them (fractions, nanoseconds)."""
        return Limits(
            max_drawdown=None if self.max_drawdown_pct is None else self.max_drawdown_pct / 100,
            max_daily_loss=None if self.max_daily_loss_pct is None else self.max_daily_loss_pct / 100,
            max_daily_loss_amount=None if self.max_daily_loss is None else float(self.max_daily_loss),
            max_losing_streak=self.max_losing_streak,
            max_exchange_errors=self.max_exchange_errors,
            error_window_ns=int(self.exchange_error_window_minutes * MINUTE_NS),
            max_bar_move=None if self.max_bar_move_pct is None else self.max_bar_move_pct / 100,
            cooldown_ns=None if self.cooldown_minutes is None else int(self.cooldown_minutes * MINUTE_NS),
            half_open=self.half_open,
            daily_loss_until_next_day=self.daily_loss_until_next_day,
        )


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1_000


class CircuitBreaker(RiskRule):
    """Blocks new entries while tripped; exits always pass. See the module docstring."""

    Settings = CircuitBreakerSettings
    settings: CircuitBreakerSettings

    def __init__(self, settings: CircuitBreakerSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name or "circuit_breaker")
        self.control: RunControl | None = None
        self.breaker: Breaker | None = None
        #: Every transition so far, oldest first (also sent as notifier events).
        self.transitions: list[Transition] = []
        self._symbols: tuple[str, ...] = ()
        self._quote: str | None = None
        self._cash = 0.0
        self._held: dict[str, float] = {}
        self._cursor: int | None = None
        self._trades = TradeTracker()

    # -- hooks ----------------------------------------------------------------------------------

    @hookimpl
    def tradekit_run_started(self, run: RunInfo, control: RunControl | None) -> None:
        """Keep the run's control and start the book from its account."""
        self.control = control
        self._symbols = run.symbols
        if control is not None:
            account = control.account()
            self._start(account.quote_currency, account.cash, {p.symbol: p.quantity for p in account.positions})
            self.breaker = Breaker(self.settings.limits(), float(account.equity))
            self._publish()

    def check(self, intent: OrderIntent, context: RiskContext) -> RiskVerdict | None:
        """Refuse an entry while tripped (or while a half-open trial is open); exits always pass."""
        now = _ns(context.timestamp)
        if self.breaker is None:
            # Driven without a session: the account the rule is shown is all there is.
            self._start(context.quote_currency, context.cash, {s: p.quantity for s, p in context.positions.items()})
            self.breaker = Breaker(self.settings.limits(), float(context.equity))
            self._symbols = self._symbols or tuple(context.prices) or (intent.symbol,)
        self._advance(now, context)
        # What the engine says is the truth: start from it for the bars to come.
        self._start(context.quote_currency, context.cash, {s: p.quantity for s, p in context.positions.items()})
        if is_exit(intent, context):
            return RiskVerdict.accept(self.name)
        allowed, why = self.breaker.allows_entry()
        if not allowed:
            return RiskVerdict.reject(self.name, why)
        if self.breaker.state is BreakerState.HALF_OPEN and self.settings.half_open_size < 1:
            instrument = context.instruments.get(intent.symbol)
            wanted = intent.quantity * self.settings.half_open_size
            quantity = instrument.round_quantity(wanted) if instrument is not None else wanted
            if quantity <= 0:
                return RiskVerdict.reject(
                    self.name,
                    f"circuit breaker half-open: the trial entry of {intent.quantity} {intent.symbol} at "
                    f"{float(self.settings.half_open_size) * 100:g}% rounds to nothing",
                )
            return RiskVerdict.resize(
                self.name,
                quantity,
                f"circuit breaker half-open: trial entry at {float(self.settings.half_open_size) * 100:g}% of "
                f"{intent.quantity}",
            )
        return RiskVerdict.accept(self.name)

    @hookimpl
    def tradekit_fill(self, fill: Fill, position: Position) -> None:
        """Book the fill, count the trade it closed, and note a half-open trial that began."""
        if self.breaker is None:
            return
        now = _ns(fill.timestamp)
        self._advance(now - 1)  # the bars before this one were held with the old book
        signed = float(fill.quantity) * fill.side.sign
        before = float(position.quantity) - signed
        fee = float(fill.fee) if fill.fee_currency in ("", self._quote) else 0.0
        self._cash -= signed * float(fill.price) + fee
        self._held[fill.symbol] = float(position.quantity)
        self._advance(now)
        closed = self._trades.on_fill(fill, position)
        if closed is not None:
            self._record(self.breaker.trade_closed(now, float(closed.pnl)))
        if abs(float(position.quantity)) > abs(before):
            self.breaker.commit_trial()
            self._publish()

    @hookimpl
    def tradekit_exchange_error(self, exchange: str, operation: str, error: Exception) -> None:
        """Count a failed exchange call in the error window."""
        if self.breaker is None:
            return
        now = self._now()
        self._advance(now)
        what = redact(f"{exchange} {operation}: {type(error).__name__}: {error}")[:300]
        self._record(self.breaker.exchange_error(now, what))

    @hookimpl
    def tradekit_control_requested(self, request: ControlRequest) -> None:
        """A resume request resets the breaker by hand."""
        if request.action is ControlAction.RESUME:
            self.reset(request.source)

    @hookimpl
    def tradekit_heartbeat(self, now: datetime) -> None:
        """Live time passes: work out the bars since the last look (trips and cooldowns are told at once)."""
        if self.breaker is not None:
            self._advance(_ns(now))

    @hookimpl
    def tradekit_run_stopped(self, run: RunInfo, summary: RunSummary) -> None:
        """Work out the bars since the last look, so a trip after the last order is still told."""
        if self.breaker is not None:
            self._advance(_END)

    def reset(self, source: str = "by hand") -> None:
        """Close the breaker now (a reset by hand)."""
        if self.breaker is None:
            return
        now = self._now()
        self._advance(now)
        self._record(self.breaker.reset_by_hand(now, source))

    # -- inside ---------------------------------------------------------------------------------

    def _start(self, quote: str, cash: dict[str, Decimal], held: dict[str, Decimal]) -> None:
        self._quote = quote
        self._trades.quote_currency = quote
        self._cash = float(cash.get(quote, Decimal(0)))
        self._held = {symbol: float(quantity) for symbol, quantity in held.items()}

    def _now(self) -> int:
        if self.control is not None and self.control.now is not None:
            return _ns(self.control.now)
        return _ns(datetime.now(UTC))

    def _advance(self, until_ns: int, context: RiskContext | None = None) -> None:
        """Feed the state machine every closed bar up to ``until_ns`` it has not seen."""
        assert self.breaker is not None
        control = self.control
        now = control.now if control is not None else None
        # The bars never go past the run's clock: nothing new to read since the last look.
        if now is not None and self._cursor is not None and min(until_ns, _ns(now)) <= self._cursor:
            return
        first = control.history(self._symbols[0]) if control is not None and self._symbols else None
        if first is not None and len(first):
            ts = first.timestamps
            # Asked three times an order (check, and around each fill): most often there is nothing new.
            if self._cursor is not None and (ts[-1] <= self._cursor or until_ns <= self._cursor):
                return
            start = 0 if self._cursor is None else int(np.searchsorted(ts, self._cursor, side="right"))
            stop = int(np.searchsorted(ts, until_ns, side="right"))
            if stop <= start:
                return
            assert control is not None
            histories = [first, *(control.history(s) for s in self._symbols[1:])]
            equity = np.full(stop - start, self._cash)
            # Per symbol: the previous close, the bar's high and low (the largest move from it, either way).
            moves: list[tuple[str, Any, Any, Any]] = []
            for symbol, series in zip(self._symbols, histories, strict=True):
                if series is None or len(series) < stop:
                    continue  # a symbol with no bars here yet (the loops align symbols, so not in practice)
                equity += self._held.get(symbol, 0.0) * series.close[start:stop]
                previous = series.close[start - 1] if start > 0 else series.open[0]
                reference = np.concatenate(([previous], series.close[start : stop - 1]))
                moves.append((symbol, reference, series.high[start:stop], series.low[start:stop]))
            move = np.zeros(stop - start)
            for _, reference, high, low in moves:
                move = np.maximum(move, np.maximum(high / reference - 1.0, 1.0 - low / reference))

            def detail(k: int) -> str:
                def size(m: tuple[str, Any, Any, Any]) -> float:
                    return float(max(m[2][k] / m[1][k] - 1.0, 1.0 - m[3][k] / m[1][k]))

                symbol, reference, high, low = max(moves, key=size)
                if high[k] / reference[k] - 1.0 >= 1.0 - low[k] / reference[k]:
                    return f"{symbol} up from {reference[k]:,.2f} to {high[k]:,.2f}"
                return f"{symbol} down from {reference[k]:,.2f} to {low[k]:,.2f}"

            transitions = self.breaker.bars(ts[start:stop], equity, move, detail)
            self._cursor = int(ts[stop - 1])
        elif context is not None and (self._cursor is None or until_ns > self._cursor):
            # No bars to read (an engine without a run control): judge the account at this moment only.
            transitions = self.breaker.bars(
                np.array([until_ns], dtype=np.int64), np.array([float(context.equity)]), None, None
            )
            self._cursor = until_ns
        else:
            return
        self._record(transitions)

    def _record(self, transitions: list[Transition]) -> None:
        for transition in transitions:
            self.transitions.append(transition)
            kind = _KINDS[transition.kind]
            if transition.kind == "tripped":
                message = f"circuit breaker tripped: {transition.message}; {transition.data['blocked']}"
                severity = Severity.WARNING
            elif transition.kind == "half_open":
                message = f"circuit breaker {transition.message}"
                severity = Severity.INFO
            else:
                message = f"circuit breaker reset: {transition.message}"
                severity = Severity.INFO
            data = {"rule": self.name, "transition": transition.kind, "cause": transition.cause, **transition.data}
            if self.control is not None:
                self.control.emit(kind, message, severity, data)
            else:
                log.warning("%s", message)
        if transitions:
            self._publish()

    def _publish(self) -> None:
        if self.control is not None and self.breaker is not None:
            self.control.set_status(self.name, self.breaker.describe())
