"""The circuit breaker's state machine on hand-made equity paths: each trigger, cooldowns, half-open, resets."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from tradekit_risk.breaker import DAY_NS, MINUTE_NS, Breaker, BreakerState, Limits

T0 = int(datetime(2024, 8, 5, 0, 0, tzinfo=UTC).timestamp()) * 1_000_000_000
ONLY_DRAWDOWN = Limits(
    max_drawdown=0.10,
    max_daily_loss=None,
    max_losing_streak=None,
    max_exchange_errors=None,
    max_bar_move=None,
)


def minutes(*offsets: int, start: int = T0) -> np.ndarray:
    return np.array([start + k * MINUTE_NS for k in offsets], dtype=np.int64)


def path(*equity: float, start: int = T0) -> tuple[np.ndarray, np.ndarray]:
    """One bar a minute from ``start``, with these equities at the closes."""
    return minutes(*range(len(equity)), start=start), np.array(equity, dtype=np.float64)


def test_a_drawdown_beyond_the_limit_from_the_peak_trips_on_that_bar_and_not_at_the_limit() -> None:
    breaker = Breaker(ONLY_DRAWDOWN, 100.0)
    ts, equity = path(105, 110, 99, 98.9, 97)  # 99 is exactly 10% below 110: not beyond it

    [trip] = breaker.bars(ts, equity)

    assert (trip.kind, trip.cause, trip.at_ns) == ("tripped", "drawdown", int(ts[3]))
    assert trip.data["value_pct"] == pytest.approx(10.0909, abs=1e-3) and trip.data["peak"] == 110
    assert "drawdown 10.09% from the peak 110.00 to 98.90 (limit 10%)" in trip.message
    assert breaker.state is BreakerState.OPEN
    assert breaker.allows_entry()[0] is False


def test_a_flat_or_rising_path_never_trips() -> None:
    breaker = Breaker(Limits(), 100.0)
    ts, equity = path(*np.linspace(100, 150, 500))
    assert breaker.bars(ts, equity, np.zeros(500)) == []
    assert breaker.state is BreakerState.CLOSED and breaker.peak == 150


def test_a_daily_loss_beyond_the_limit_trips_and_lasts_until_the_next_utc_day() -> None:
    limits = replace(ONLY_DRAWDOWN, max_drawdown=None, max_daily_loss=0.05)
    breaker = Breaker(limits, 100.0)
    ten_am = T0 + 10 * 60 * MINUTE_NS
    ts, equity = path(99, 97, 95.5, 94.9, start=ten_am)

    [trip] = breaker.bars(ts, equity)

    assert trip.cause == "daily_loss" and trip.at_ns == int(ts[3])
    assert "daily loss 5.10 (5.10%) since the day's start at 100.00 (limit 5%)" in trip.message
    assert breaker.until_ns == T0 + DAY_NS, "a 60-minute cooldown is stretched to the next midnight"


def test_the_day_starts_at_the_last_close_before_midnight() -> None:
    limits = replace(ONLY_DRAWDOWN, max_drawdown=None, max_daily_loss=0.05)
    breaker = Breaker(limits, 100.0)
    late = T0 + DAY_NS - 3 * MINUTE_NS
    ts, equity = path(97, 96, 95.2, 93, 91, 90.4, start=late)  # midnight falls between 95.2 and 93

    # 100 -> 91 is 9% over two days, but no day lost 5%: the new day starts at 95.2.
    assert breaker.bars(ts[:5], equity[:5]) == []
    [trip] = breaker.bars(ts[5:], equity[5:])

    assert trip.at_ns == int(ts[5]) and trip.data["day_start"] == 95.2


def test_a_daily_loss_in_money_trips_too() -> None:
    limits = replace(ONLY_DRAWDOWN, max_drawdown=None, max_daily_loss=None, max_daily_loss_amount=250.0)
    breaker = Breaker(limits, 10_000.0)
    ts, equity = path(9_900, 9_760, 9_749)

    [trip] = breaker.bars(ts, equity)

    assert trip.cause == "daily_loss" and trip.at_ns == int(ts[2]) and trip.data["value"] == 251


def test_losing_trades_in_a_row_trip_and_a_win_starts_the_count_again() -> None:
    limits = replace(ONLY_DRAWDOWN, max_drawdown=None, max_losing_streak=3)
    breaker = Breaker(limits, 100.0)
    for pnl in (-1.0, -2.0, 0.5, -1.0, -1.0):
        assert breaker.trade_closed(T0, pnl) == []
    [trip] = breaker.trade_closed(T0 + MINUTE_NS, -3.0)
    assert trip.cause == "losing_streak" and trip.data["value"] == 3
    assert "3 losing trades in a row (limit 3), the last -3.00" in trip.message


def test_exchange_errors_trip_only_when_enough_fall_inside_the_window() -> None:
    limits = replace(ONLY_DRAWDOWN, max_drawdown=None, max_exchange_errors=3, error_window_ns=5 * MINUTE_NS)
    breaker = Breaker(limits, 100.0)
    assert breaker.exchange_error(T0, "fetch_bars: timeout") == []
    assert breaker.exchange_error(T0 + 4 * MINUTE_NS, "fetch_bars: timeout") == []
    # The first one is now more than 5 minutes old: two in the window.
    assert breaker.exchange_error(T0 + 6 * MINUTE_NS, "submit_order: 502") == []
    [trip] = breaker.exchange_error(T0 + 7 * MINUTE_NS, "submit_order: 502")
    assert trip.cause == "exchange_errors" and trip.data["value"] == 3
    assert "3 exchange errors in 5 min (limit 3), the last: submit_order: 502" in trip.message


def test_a_price_move_in_one_bar_beyond_the_limit_trips_with_the_detail() -> None:
    limits = replace(ONLY_DRAWDOWN, max_drawdown=None, max_bar_move=0.03)
    breaker = Breaker(limits, 100.0)
    ts, equity = path(100, 100, 100, 100)
    move = np.array([0.01, 0.03, 0.0301, 0.0])

    [trip] = breaker.bars(ts, equity, move, lambda j: f"bar {j}")

    assert trip.cause == "bar_move" and trip.at_ns == int(ts[2])
    assert "a 3.01% move in one bar (bar 2) (limit 3%)" in trip.message


def test_after_the_cooldown_it_half_opens_and_a_winning_trial_closes_it() -> None:
    breaker = Breaker(ONLY_DRAWDOWN, 100.0)
    ts, equity = path(*([100] * 5 + [89] + [89] * 70))
    events = breaker.bars(ts, equity)

    trip, half_open = events
    assert trip.at_ns == int(ts[5]) and half_open.kind == "half_open"
    assert half_open.at_ns == int(ts[5]) + 60 * MINUTE_NS, "reopens on the first bar at or after the cooldown's end"
    assert breaker.allows_entry() == (True, "")
    breaker.commit_trial()
    allowed, why = breaker.allows_entry()
    assert not allowed and "trial trade is still open" in why
    [reset] = breaker.trade_closed(int(ts[-1]), 3.0)
    assert (reset.kind, reset.cause, breaker.state) == ("reset", "trial_won", BreakerState.CLOSED)


def test_a_losing_trial_trips_it_again() -> None:
    breaker = Breaker(ONLY_DRAWDOWN, 100.0)
    ts, equity = path(*([100, 89] + [89] * 61))
    breaker.bars(ts, equity)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.commit_trial()
    [trip] = breaker.trade_closed(int(ts[-1]), -0.5)
    assert (trip.cause, breaker.state) == ("trial_lost", BreakerState.OPEN)


def test_without_half_open_the_cooldown_closes_it_directly() -> None:
    breaker = Breaker(replace(ONLY_DRAWDOWN, half_open=False), 100.0)
    ts, equity = path(*([100, 89] + [89] * 61))
    kinds = [t.kind for t in breaker.bars(ts, equity)]
    assert kinds == ["tripped", "reset"] and breaker.state is BreakerState.CLOSED


def test_without_a_cooldown_only_a_reset_by_hand_closes_it() -> None:
    breaker = Breaker(replace(ONLY_DRAWDOWN, cooldown_ns=None), 100.0)
    ts, equity = path(*([100, 89] + [89] * 600))
    [trip] = breaker.bars(ts, equity)
    assert trip.data["until"] is None
    assert breaker.state is BreakerState.OPEN and "until it is reset by hand" in breaker.allows_entry()[1]
    [reset] = breaker.reset_by_hand(int(ts[-1]), "telegram chat 42")
    assert (reset.cause, breaker.state) == ("by_hand", BreakerState.CLOSED)
    assert "reset by hand (telegram chat 42)" in reset.message


def test_reopening_after_a_drawdown_starts_the_peak_again_so_the_old_loss_does_not_trip_it_twice() -> None:
    breaker = Breaker(replace(ONLY_DRAWDOWN, half_open=False), 100.0)
    # Trip at 89, reopen an hour later at 89: the peak is then 89, so 85 (4.5% below) does not trip...
    ts, equity = path(*([100, 89] + [89] * 60 + [85] * 5 + [80]))
    transitions = breaker.bars(ts, equity)
    # ...and 80, 10.1% below 89, does.
    assert [(t.kind, t.cause) for t in transitions] == [
        ("tripped", "drawdown"),
        ("reset", "cooldown"),
        ("tripped", "drawdown"),
    ]
    assert transitions[-1].at_ns == int(ts[-1]) and transitions[-1].data["peak"] == 89


def test_a_losing_streak_trip_keeps_the_drawdown_measured_from_the_run_high() -> None:
    limits = replace(ONLY_DRAWDOWN, max_losing_streak=2, half_open=False)
    breaker = Breaker(limits, 100.0)
    breaker.trade_closed(T0, -1.0)
    [streak] = breaker.trade_closed(T0, -1.0)
    ts, equity = path(*([96] * 61 + [89.9]), start=T0 + MINUTE_NS)
    transitions = breaker.bars(ts, equity)
    assert streak.cause == "losing_streak"
    assert [(t.kind, t.cause) for t in transitions] == [("reset", "cooldown"), ("tripped", "drawdown")]
    assert transitions[-1].data["peak"] == 100


def test_a_trip_while_open_is_not_a_second_trip() -> None:
    limits = replace(ONLY_DRAWDOWN, max_losing_streak=1)
    breaker = Breaker(limits, 100.0)
    ts, equity = path(100, 85, 80)
    [trip] = breaker.bars(ts, equity)
    assert breaker.trade_closed(int(ts[-1]), -5.0) == []
    assert breaker.trip is trip and breaker.trips == 1


# --- properties of every path --------------------------------------------------------------------


class BreakerMachine(RuleBasedStateMachine):
    """Random bars, trades, errors and resets; the breaker's promises hold after every step."""

    @initialize(
        cooldown=st.one_of(st.none(), st.integers(1, 120)),
        half_open=st.booleans(),
        streak=st.integers(1, 4),
    )
    def start(self, cooldown: int | None, half_open: bool, streak: int) -> None:
        self.limits = Limits(
            max_drawdown=0.08,
            max_daily_loss=0.05,
            max_losing_streak=streak,
            max_exchange_errors=3,
            error_window_ns=10 * MINUTE_NS,
            max_bar_move=0.03,
            cooldown_ns=None if cooldown is None else cooldown * MINUTE_NS,
            half_open=half_open,
        )
        self.breaker = Breaker(self.limits, 1_000.0)
        self.now = T0
        self.equity = 1_000.0
        self.transitions: list[str] = []
        self.times: list[int] = []

    def _take(self, transitions: list) -> None:  # type: ignore[type-arg]
        for t in transitions:
            self.transitions.append(t.kind)
            self.times.append(t.at_ns)

    @rule(
        steps=st.lists(st.floats(-0.04, 0.04), min_size=1, max_size=40),
        moves=st.floats(0, 0.05),
        gap=st.integers(1, 240),
    )
    def bars(self, steps: list[float], moves: float, gap: int) -> None:
        equity = self.equity * np.cumprod(1 + np.array(steps))
        ts = self.now + gap * MINUTE_NS * np.arange(1, len(steps) + 1, dtype=np.int64)
        move = np.full(len(steps), moves)
        self._take(self.breaker.bars(ts, equity, move))
        self.now, self.equity = int(ts[-1]), float(equity[-1])

    @rule(pnl=st.floats(-50, 50))
    def trade(self, pnl: float) -> None:
        self._take(self.breaker.trade_closed(self.now, pnl))

    @rule()
    def error(self) -> None:
        self._take(self.breaker.exchange_error(self.now, "timeout"))

    @rule()
    def trial_fills(self) -> None:
        self.breaker.commit_trial()

    @rule()
    def by_hand(self) -> None:
        self._take(self.breaker.reset_by_hand(self.now, "test"))

    @invariant()
    def entries_are_blocked_exactly_while_open_or_during_a_trial(self) -> None:
        allowed, why = self.breaker.allows_entry()
        state = self.breaker.state
        if state is BreakerState.OPEN:
            assert not allowed and why
        elif state is BreakerState.CLOSED:
            assert allowed
        else:
            assert allowed is not self.breaker.trial_committed

    @invariant()
    def a_cooldown_is_never_overstayed(self) -> None:
        breaker = self.breaker
        if breaker.state is BreakerState.OPEN and breaker.until_ns is not None and breaker.last_ns is not None:
            assert breaker.last_ns < breaker.until_ns, "a bar after the cooldown was seen and it stayed open"

    @invariant()
    def transitions_follow_the_state_diagram_in_time_order(self) -> None:
        assert self.times == sorted(self.times)
        allowed = {
            "tripped": ({"closed", "half_open"}, "open"),
            "half_open": ({"open"}, "half_open"),
            "reset": ({"open", "half_open"}, "closed"),
        }
        state = "closed"
        for kind in self.transitions:
            sources, target = allowed[kind]
            assert state in sources, f"{kind} from {state}"
            state = target
        assert state == self.breaker.state.value


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
