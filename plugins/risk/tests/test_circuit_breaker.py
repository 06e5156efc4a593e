"""``circuit_breaker`` through the real engine: each trigger on hand-made bars, blocked entries, exits, events."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from tradekit_risk.breaker import BreakerState
from tradekit_risk.circuit_breaker import CircuitBreaker, CircuitBreakerSettings

from tradekit.control import ControlAction, ControlRequest
from tradekit.domain.events import RiskAction
from tradekit.errors import ExchangeUnavailable

D = Decimal
QUIET = {
    "max_drawdown_pct": None,
    "max_daily_loss_pct": None,
    "max_losing_streak": None,
    "max_exchange_errors": None,
    "max_bar_move_pct": None,
}


def breaker(**settings: Any) -> CircuitBreaker:
    """A breaker with every trigger off except those given."""
    return CircuitBreaker(CircuitBreakerSettings(**{**QUIET, **settings}))


def at(kit: Any, index: int) -> str:
    return (kit.T0 + timedelta(minutes=index)).isoformat()


def test_a_one_bar_crash_trips_it_blocks_the_next_entry_lets_the_exit_through_and_half_opens_later(kit: Any) -> None:
    low = [100.0] * 100
    low[10] = 96.0  # 4% below the previous close, within bar 10
    data = kit.bars([100.0] * 100, low=low)
    rule = breaker(max_bar_move_pct=3, cooldown_minutes=60, half_open_size="0.5")
    plan = {
        5: [kit.buy("1")],
        12: [kit.sell("1")],  # an exit: allowed while tripped
        13: [kit.buy("1")],  # an entry: blocked
        80: [kit.buy("1")],  # after the cooldown: a half-open trial at half size
    }

    run = kit.run(data, plan, [rule])

    [trip, half_open] = [e for e in run.listener.events if e.kind.startswith("circuit_breaker")]
    assert trip.kind == "circuit_breaker_tripped" and trip.data["trigger"] == "bar_move"
    assert trip.data["at"] == at(kit, 10), "the trip carries the bar it happened on, not when it was noticed"
    assert "a 4.00% move in one bar (BTC/USDT down from 100.00 to 96.00) (limit 3%)" in trip.message
    assert half_open.kind == "circuit_breaker_half_open" and half_open.data["at"] == at(kit, 70)
    assert run.strategy.returned[13] == [None]
    sent = [(o.side.value, o.quantity) for o in run.broker.submitted]
    assert sent == [("buy", D("1")), ("sell", D("1")), ("buy", D("0.500"))], "the blocked entry never reached the venue"
    assert run.engine.stats.risk_rejections == 1


def test_a_drawdown_of_the_marked_equity_trips_on_the_bar_it_happened_even_between_two_orders(kit: Any) -> None:
    # 1000 cash, all in at 100: equity is 10 x close. 90 is exactly 10% down; 89.9 is beyond.
    closes = [100.0] * 5 + [95.0, 91.0, 90.0, 89.9, 88.0] + [88.0] * 20
    data = kit.bars(closes)
    rule = breaker(max_drawdown_pct=10)
    run = kit.run(data, {1: [kit.buy("10")], 25: [kit.buy("0.1")]}, [rule], cash="1000")

    [trip] = [e for e in run.listener.events if e.kind == "circuit_breaker_tripped"]
    assert trip.data["trigger"] == "drawdown" and trip.data["at"] == at(kit, 8)
    assert trip.data["peak"] == pytest.approx(1000.0) and trip.data["equity"] == pytest.approx(899.0)
    assert run.strategy.returned[25] == [None]


def test_a_daily_loss_trips_and_blocks_entries_until_the_next_utc_day(kit: Any) -> None:
    start = kit.T0 + timedelta(hours=23)  # 23:00: the next day begins at bar 60
    closes = [100.0] * 10 + [98.0, 96.0, 94.0] + [94.0] * 80
    data = kit.bars(closes, start=start)
    rule = breaker(max_daily_loss_pct=5, cooldown_minutes=10, half_open=False)
    run = kit.run(data, {1: [kit.buy("10")], 30: [kit.buy("0.1")], 61: [kit.buy("0.1")]}, [rule], cash="1000")

    trip, reset = [e for e in run.listener.events if e.kind.startswith("circuit_breaker")]
    assert trip.data["trigger"] == "daily_loss" and trip.data["until"] == (start + timedelta(hours=1)).isoformat()
    assert reset.kind == "circuit_breaker_reset" and reset.data["at"] == (start + timedelta(hours=1)).isoformat()
    assert run.strategy.returned[30] == [None], "the 10-minute cooldown is stretched to midnight"
    assert run.strategy.returned[61][0] is not None


def test_losing_trades_in_a_row_fees_included_trip_it(kit: Any) -> None:
    closes = [100.0] * 40
    data = kit.bars(closes)
    # Flat prices: each round trip loses only its fees.
    plan = {i: [kit.buy("1")] for i in (2, 6, 10, 14)} | {i: [kit.sell("1")] for i in (4, 8, 12)}
    rule = breaker(max_losing_streak=3)
    run = kit.run(data, plan, [rule], fee="0.001")

    [trip] = [e for e in run.listener.events if e.kind == "circuit_breaker_tripped"]
    assert trip.data["trigger"] == "losing_streak" and trip.data["at"] == at(kit, 12)
    assert trip.data["last_pnl"] == pytest.approx(-0.2), "0.1 of fees on the way in and 0.1 out"
    assert run.strategy.returned[14] == [None]


def test_exchange_errors_piling_up_trip_it(kit: Any) -> None:
    data = kit.bars([100.0] * 10)
    rule = breaker(max_exchange_errors=3, exchange_error_window_minutes=5)
    run = kit.run(data, {}, [rule])
    for _ in range(3):
        run.engine.hooks.exchange_error("paper", "fetch_bars", ExchangeUnavailable("502 Bad Gateway"))

    [trip] = [e for e in run.listener.events if e.kind == "circuit_breaker_tripped"]
    assert trip.data["trigger"] == "exchange_errors"
    assert "3 exchange errors in 5 min (limit 3), the last: paper fetch_bars: ExchangeUnavailable" in trip.message


def test_a_resume_request_resets_it_by_hand(kit: Any) -> None:
    low = [100.0] * 20
    low[3] = 90.0
    data = kit.bars([100.0] * 20, low=low)
    rule = breaker(max_bar_move_pct=3, cooldown_minutes=None)
    run = kit.run(data, {5: [kit.buy("1")]}, [rule])
    assert rule.breaker is not None and rule.breaker.state is BreakerState.OPEN

    run.engine.hooks.control_requested(ControlRequest(action=ControlAction.RESUME, source="telegram chat 42"))

    assert rule.breaker.state is BreakerState.CLOSED
    reset = run.listener.events[-1]
    assert reset.kind == "circuit_breaker_reset" and "reset by hand (telegram chat 42)" in reset.message


def test_jumping_over_idle_bars_finds_the_same_trips_at_the_same_times(kit: Any) -> None:
    import numpy as np

    rng = np.random.default_rng(5)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.006, 3_000)))
    data = kit.bars(closes.round(2).tolist())
    plan = {i: [kit.buy("5")] for i in range(10, 3_000, 60)} | {i: [kit.sell("5")] for i in range(40, 3_000, 60)}

    def trips(skip: bool) -> list[tuple[str, Any]]:
        rule = CircuitBreaker(CircuitBreakerSettings(max_bar_move_pct=1.5, max_drawdown_pct=3, max_losing_streak=3))
        run = kit.run(data, plan, [rule], cash="1000", fee="0.001", skip_idle_bars=skip)
        return [(t.kind, t.at_ns) for t in rule.transitions], [o.client_order_id for o in run.broker.submitted]

    skipping, every_bar = trips(True), trips(False)
    assert len(skipping[0]) >= 4, "the path is meant to trip it several times"
    assert skipping == every_bar


def test_without_a_run_control_it_judges_the_account_it_is_shown(kit: Any) -> None:
    from datetime import UTC, datetime

    from tradekit.domain.portfolio import Position
    from tradekit.domain.run import RiskContext

    rule = breaker(max_drawdown_pct=10)

    def context(equity: str, minute: int) -> RiskContext:
        return RiskContext(
            timestamp=datetime(2024, 8, 5, 0, minute, tzinfo=UTC),
            equity=D(equity),
            quote_currency="USDT",
            cash={"USDT": D(equity)},
            positions={"BTC/USDT": Position(symbol="BTC/USDT", quantity=D(0))},
            open_orders=(),
            prices={"BTC/USDT": D(100)},
            instruments={"BTC/USDT": kit.instrument()},
        )

    entry = kit.buy("1")
    assert rule.check(entry, context("1000", 0)).action is RiskAction.ACCEPT
    assert rule.check(entry, context("1100", 1)).action is RiskAction.ACCEPT
    verdict = rule.check(entry, context("980", 2))
    assert verdict.action is RiskAction.REJECT and "drawdown 10.91% from the peak 1,100.00" in verdict.reason


def test_settings_refuse_a_drawdown_of_a_hundred_percent_or_more() -> None:
    with pytest.raises(ValueError, match="max_drawdown_pct"):
        CircuitBreakerSettings(max_drawdown_pct=100)


def test_false_switches_a_trigger_off_as_toml_has_no_null() -> None:
    settings = CircuitBreakerSettings.model_validate({"max_bar_move_pct": False, "cooldown_minutes": False})
    assert settings.max_bar_move_pct is None and settings.limits().cooldown_ns is None
    assert settings.max_drawdown_pct == 10.0
