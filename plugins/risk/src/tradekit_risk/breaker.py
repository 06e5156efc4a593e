"""The circuit breaker's state machine, apart from the engine: fed bars, trades and errors in time order.

States: CLOSED (entries pass), OPEN (entries blocked, exits pass) and HALF_OPEN
(after a cooldown: one trial trade may open; its result closes the breaker or trips it
again). Bars arrive as arrays (open times, the account's equity at each close, the
largest one-bar move), so a backtest pays numpy work per bar and Python work only per
trip; trades and exchange errors arrive one by one, in between.

Times are integer nanoseconds of the run's clock: the open time of the bar being
decided on, as the engine's ``now``. Thresholds are fractions (0.1 is 10%).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

DAY_NS = 86_400 * 1_000_000_000
MINUTE_NS = 60 * 1_000_000_000


class BreakerState(StrEnum):
    """Where the breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Trigger(StrEnum):
    """What tripped the breaker."""

    DRAWDOWN = "drawdown"
    DAILY_LOSS = "daily_loss"
    LOSING_STREAK = "losing_streak"
    EXCHANGE_ERRORS = "exchange_errors"
    BAR_MOVE = "bar_move"
    TRIAL_LOST = "trial_lost"


@dataclass(frozen=True)
class Limits:
    """The breaker's thresholds; None switches a trigger off."""

    max_drawdown: float | None = 0.10
    max_daily_loss: float | None = 0.05
    max_daily_loss_amount: float | None = None
    max_losing_streak: int | None = 5
    max_exchange_errors: int | None = 5
    error_window_ns: int = 5 * MINUTE_NS
    max_bar_move: float | None = 0.03
    cooldown_ns: int | None = 60 * MINUTE_NS
    half_open: bool = True
    daily_loss_until_next_day: bool = True


@dataclass(frozen=True)
class Transition:
    """A change of state, for the notifier event: ``kind`` is ``tripped``, ``half_open`` or ``reset``."""

    kind: str
    at_ns: int
    cause: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


def when(at_ns: int | None) -> str:
    """``2024-08-05 01:10 UTC`` for a time in nanoseconds."""
    if at_ns is None:
        return "-"
    return datetime.fromtimestamp(at_ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(at_ns: int | None) -> str | None:
    """ISO 8601 for a time in nanoseconds (None stays None)."""
    return None if at_ns is None else datetime.fromtimestamp(at_ns / 1e9, tz=UTC).isoformat()


class Breaker:
    """The circuit breaker's state and every rule about moving between states.

    Each method returns the transitions it caused, oldest first. A trip while
    already OPEN is not a new trip (the first reason stands). Reopening after
    a cooldown starts the trigger that tripped afresh, so the same old loss
    cannot trip it again at once: after a drawdown trip the equity then is the
    new peak, after a daily-loss trip the day's new start, after a losing
    streak the count is zero, after exchange errors the window is empty. The
    other triggers keep counting (a drawdown from the run's high still counts
    after a losing-streak trip). A reset by hand starts every trigger afresh.
    """

    def __init__(self, limits: Limits, start_equity: float) -> None:
        self.limits = limits
        self.state = BreakerState.CLOSED
        self.peak = start_equity
        self.day: int | None = None
        self.day_start = start_equity
        self.last_equity = start_equity
        self.last_ns: int | None = None
        self.streak = 0
        self.errors: deque[int] = deque()
        self.until_ns: int | None = None
        self.trip: Transition | None = None
        self.trial_committed = False
        self.trips = 0

    # -- what the rule asks -----------------------------------------------------------------------

    def allows_entry(self) -> tuple[bool, str]:
        """Whether a new entry may pass now, and why not."""
        if self.state is BreakerState.OPEN:
            assert self.trip is not None
            until = f"until {when(self.until_ns)}" if self.until_ns is not None else "until it is reset by hand"
            return (
                False,
                f"circuit breaker open since {when(self.trip.at_ns)} ({self.trip.message}); entries blocked {until}",
            )
        if self.state is BreakerState.HALF_OPEN and self.trial_committed:
            return False, "circuit breaker half-open: the trial trade is still open; new entries wait for its result"
        return True, ""

    def describe(self) -> str:
        """The state in a few words, for status commands."""
        if self.state is BreakerState.CLOSED:
            return "closed (entries allowed)"
        if self.state is BreakerState.HALF_OPEN:
            return "half-open: " + ("trial trade open" if self.trial_committed else "one trial entry allowed")
        return self.allows_entry()[1]

    # -- what happens -------------------------------------------------------------------------------

    def bars(
        self,
        ts: NDArray[np.int64],
        equity: NDArray[np.float64],
        move: NDArray[np.float64] | None = None,
        move_detail: Callable[[int], str] | None = None,
    ) -> list[Transition]:
        """Closed bars, oldest first: open times, equity at each close, the largest one-bar move (fraction)."""
        out: list[Transition] = []
        n = len(ts)
        i = 0
        while i < n:
            if self.state is BreakerState.OPEN:
                if self.until_ns is None:
                    self._follow(ts, equity, i, n)
                    break
                j = i + int(np.searchsorted(ts[i:], self.until_ns, side="left"))
                if j >= n:
                    self._follow(ts, equity, i, n)
                    break
                self._follow(ts, equity, i, j + 1)
                out.append(self._reopen(int(ts[j]), "cooldown", f"cooldown over at {when(int(ts[j]))}"))
                i = j + 1
                continue
            hit = self._first_trip(ts, equity, move, move_detail, i)
            if hit is None:
                self._follow(ts, equity, i, n)
                break
            j, trigger, message, data = hit
            self._follow(ts, equity, i, j + 1)
            out.append(self._trip(trigger, int(ts[j]), message, data))
            i = j + 1
        return out

    def trade_closed(self, at_ns: int, pnl: float) -> list[Transition]:
        """A round trip closed with ``pnl`` (net of fees)."""
        self.streak = self.streak + 1 if pnl < 0 else 0
        if self.state is BreakerState.HALF_OPEN and self.trial_committed:
            if pnl >= 0:
                return [self._close(at_ns, "trial_won", f"the trial trade made {pnl:,.2f}")]
            return [
                self._trip(
                    Trigger.TRIAL_LOST,
                    at_ns,
                    f"the half-open trial trade lost {-pnl:,.2f}",
                    {"pnl": pnl},
                )
            ]
        limit = self.limits.max_losing_streak
        if self.state is not BreakerState.OPEN and limit is not None and self.streak >= limit:
            return [
                self._trip(
                    Trigger.LOSING_STREAK,
                    at_ns,
                    f"{self.streak} losing trades in a row (limit {limit}), the last {pnl:,.2f}",
                    {"value": self.streak, "limit": limit, "last_pnl": pnl},
                )
            ]
        return []

    def exchange_error(self, at_ns: int, what: str) -> list[Transition]:
        """One failed call to the exchange (``what`` names it, for the message)."""
        window = self.limits.error_window_ns
        self.errors.append(at_ns)
        while self.errors and self.errors[0] < at_ns - window:
            self.errors.popleft()
        limit = self.limits.max_exchange_errors
        if self.state is BreakerState.OPEN or limit is None or len(self.errors) < limit:
            return []
        minutes = window / MINUTE_NS
        return [
            self._trip(
                Trigger.EXCHANGE_ERRORS,
                at_ns,
                f"{len(self.errors)} exchange errors in {minutes:g} min (limit {limit}), the last: {what}",
                {"value": len(self.errors), "limit": limit, "window_minutes": minutes, "last_error": what},
            )
        ]

    def commit_trial(self) -> None:
        """A half-open entry filled: that trade is the trial; other entries wait for its result."""
        if self.state is BreakerState.HALF_OPEN:
            self.trial_committed = True

    def reset_by_hand(self, at_ns: int, source: str) -> list[Transition]:
        """Close the breaker now, whatever its state (a reset by hand); no transition if it was closed."""
        if self.state is BreakerState.CLOSED:
            return []
        return [self._close(at_ns, "by_hand", f"reset by hand ({source})")]

    # -- inside ---------------------------------------------------------------------------------------

    def _first_trip(
        self,
        ts: NDArray[np.int64],
        equity: NDArray[np.float64],
        move: NDArray[np.float64] | None,
        move_detail: Callable[[int], str] | None,
        start: int,
    ) -> tuple[int, Trigger, str, dict[str, Any]] | None:
        """The first bar from ``start`` on which a bar trigger fires, with its reason; None if none does."""
        limits = self.limits
        seg_ts = ts[start:]
        seg_eq = equity[start:]
        count = len(seg_ts)
        peak = np.maximum.accumulate(np.maximum(seg_eq, self.peak))
        days = seg_ts // DAY_NS
        previous_equity = np.concatenate(([self.last_equity], seg_eq[:-1]))
        previous_day = np.concatenate(([self.day if self.day is not None else days[0]], days[:-1]))
        # The day starts at the equity of the last close before it (the previous day's last bar).
        marks = np.where(days != previous_day, np.arange(count), -1)
        latest = np.maximum.accumulate(marks)
        day_start = np.where(latest >= 0, previous_equity[np.maximum(latest, 0)], self.day_start)
        checks: list[tuple[Trigger, NDArray[np.bool_]]] = []
        drawdown = 1.0 - seg_eq / peak
        if limits.max_drawdown is not None:
            checks.append((Trigger.DRAWDOWN, drawdown > limits.max_drawdown))
        loss = day_start - seg_eq
        if limits.max_daily_loss is not None:
            checks.append((Trigger.DAILY_LOSS, loss > limits.max_daily_loss * day_start))
        if limits.max_daily_loss_amount is not None:
            checks.append((Trigger.DAILY_LOSS, loss > limits.max_daily_loss_amount))
        seg_move = move[start:] if move is not None else None
        if limits.max_bar_move is not None and seg_move is not None:
            checks.append((Trigger.BAR_MOVE, seg_move > limits.max_bar_move))
        if not checks:
            return None
        fired = np.logical_or.reduce([mask for _, mask in checks])
        if not fired.any():
            return None
        k = int(np.argmax(fired))
        trigger = next(t for t, mask in checks if mask[k])
        j = start + k
        at = when(int(ts[j]))
        if trigger is Trigger.DRAWDOWN:
            message = (
                f"drawdown {drawdown[k] * 100:.2f}% from the peak {peak[k]:,.2f} to {seg_eq[k]:,.2f} "
                f"(limit {limits.max_drawdown * 100 if limits.max_drawdown else 0:g}%) at {at}"
            )
            data = {"value_pct": round(float(drawdown[k]) * 100, 4), "peak": float(peak[k])}
        elif trigger is Trigger.DAILY_LOSS:
            limit_text = " / ".join(
                text
                for text in (
                    f"{limits.max_daily_loss * 100:g}%" if limits.max_daily_loss is not None else "",
                    f"{limits.max_daily_loss_amount:,.2f}" if limits.max_daily_loss_amount is not None else "",
                )
                if text
            )
            percent = loss[k] / day_start[k] * 100 if day_start[k] else 0.0
            message = (
                f"daily loss {loss[k]:,.2f} ({percent:.2f}%) since the day's start at {day_start[k]:,.2f} "
                f"(limit {limit_text}) at {at}"
            )
            data = {"value": float(loss[k]), "value_pct": round(float(percent), 4), "day_start": float(day_start[k])}
        else:
            assert seg_move is not None and limits.max_bar_move is not None
            detail = f" ({move_detail(j)})" if move_detail is not None else ""
            message = (
                f"a {seg_move[k] * 100:.2f}% move in one bar{detail} (limit {limits.max_bar_move * 100:g}%) at {at}"
            )
            data = {"value_pct": round(float(seg_move[k]) * 100, 4)}
        data["equity"] = float(seg_eq[k])
        return j, trigger, message, data

    def _follow(self, ts: NDArray[np.int64], equity: NDArray[np.float64], start: int, stop: int) -> None:
        """Carry the peak, the day's start and the last equity through bars ``start..stop-1``."""
        if stop <= start:
            return
        seg_ts = ts[start:stop]
        seg_eq = equity[start:stop]
        self.peak = max(self.peak, float(seg_eq.max()))
        days = seg_ts // DAY_NS
        if self.day is None:
            self.day = int(days[0])
        last_day = int(days[-1])
        if last_day != self.day:
            first_of_day = int(np.searchsorted(days, last_day, side="left"))
            self.day_start = float(seg_eq[first_of_day - 1]) if first_of_day > 0 else self.last_equity
            self.day = last_day
        self.last_equity = float(seg_eq[-1])
        self.last_ns = int(seg_ts[-1])

    def _rebase(self, at_ns: int, trigger: str | None) -> None:
        """Start ``trigger`` (every trigger when None) afresh from the equity now."""
        if trigger in (None, Trigger.DRAWDOWN):
            self.peak = self.last_equity
        if trigger in (None, Trigger.DAILY_LOSS):
            self.day_start = self.last_equity
            self.day = at_ns // DAY_NS
        if trigger in (None, Trigger.LOSING_STREAK):
            self.streak = 0
        if trigger in (None, Trigger.EXCHANGE_ERRORS):
            self.errors.clear()
        self.trial_committed = False

    def _trip(self, trigger: Trigger, at_ns: int, message: str, data: dict[str, Any]) -> Transition:
        limits = self.limits
        until = None if limits.cooldown_ns is None else at_ns + limits.cooldown_ns
        if trigger is Trigger.DAILY_LOSS and limits.daily_loss_until_next_day and until is not None:
            until = max(until, (at_ns // DAY_NS + 1) * DAY_NS)
        self.state = BreakerState.OPEN
        self.until_ns = until
        self.trial_committed = False
        self.trips += 1
        blocked = f"entries blocked until {when(until)}" if until is not None else "entries blocked until reset by hand"
        transition = Transition(
            kind="tripped",
            at_ns=at_ns,
            cause=trigger.value,
            message=message,
            data={
                "trigger": trigger.value,
                "at": iso(at_ns),
                "until": iso(until),
                "blocked": blocked,
                **data,
            },
        )
        self.trip = transition
        return transition

    def _reopen(self, at_ns: int, cause: str, message: str) -> Transition:
        self._rebase(at_ns, self.trip.cause if self.trip is not None else None)
        self.until_ns = None
        if self.limits.half_open:
            self.state = BreakerState.HALF_OPEN
            return Transition(
                kind="half_open",
                at_ns=at_ns,
                cause=cause,
                message=f"{message}: half-open, one trial entry allowed",
                data={"at": iso(at_ns), "equity": self.last_equity},
            )
        return self._close(at_ns, cause, message)

    def _close(self, at_ns: int, cause: str, message: str) -> Transition:
        if cause == "by_hand":
            self._rebase(at_ns, None)
        self.trial_committed = False
        self.state = BreakerState.CLOSED
        self.until_ns = None
        return Transition(
            kind="reset",
            at_ns=at_ns,
            cause=cause,
            message=f"{message}: closed, entries allowed",
            data={"at": iso(at_ns), "cause": cause, "equity": self.last_equity},
        )
