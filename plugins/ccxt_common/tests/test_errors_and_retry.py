"""ccxt's errors become the kernel's, with the venue's reason and no secret; retries wait as they must."""

from __future__ import annotations

from collections.abc import Iterator

import ccxt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tradekit_ccxt.errors import map_ccxt_error, retry_after, venue_reason
from tradekit_ccxt.retry import RetryPolicy, call_with_retry

from tradekit import errors, secrets


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    secrets.forget_all()


@pytest.mark.parametrize(
    ("raised", "operation", "expected", "retryable"),
    [
        (ccxt.RateLimitExceeded("binance 429"), "fetch_bars", errors.RateLimited, True),
        (ccxt.DDoSProtection("binance 418"), "fetch_bars", errors.RateLimited, True),
        (ccxt.RequestTimeout("binance GET https://x"), "fetch_order", errors.ExchangeUnavailable, True),
        (ccxt.ExchangeNotAvailable("binance 503"), "submit_order", errors.ExchangeUnavailable, True),
        (ccxt.NetworkError("connection reset"), "submit_order", errors.ExchangeUnavailable, True),
        (ccxt.BadResponse("not JSON"), "submit_order", errors.ExchangeUnavailable, True),
        (ccxt.AuthenticationError("bad key"), "balances", errors.AuthenticationFailed, False),
        (ccxt.PermissionDenied("no trading permission"), "submit_order", errors.AuthenticationFailed, False),
        (ccxt.InsufficientFunds("no money"), "submit_order", errors.InsufficientFunds, False),
        (ccxt.OrderNotFound("gone"), "cancel_order", errors.OrderNotFound, False),
        (ccxt.InvalidOrder("tick"), "submit_order", errors.InvalidOrder, False),
        (ccxt.BadSymbol("no market"), "submit_order", errors.InvalidOrder, False),
        (ccxt.ExchangeError("odd"), "submit_order", errors.OrderRejected, False),
        (ccxt.ExchangeError("odd"), "balances", errors.ExchangeError, False),
    ],
)
def test_each_ccxt_error_maps_to_the_kernel_error_the_engine_retries_by(
    raised: Exception, operation: str, expected: type[errors.ExchangeError], retryable: bool
) -> None:
    mapped = map_ccxt_error(raised, venue="venue", operation=operation)
    assert type(mapped) is expected
    assert mapped.retryable is retryable
    assert str(mapped).startswith(f"venue {operation}")


def test_a_rejection_carries_the_venues_own_reason_from_the_json_reply() -> None:
    raised = ccxt.InsufficientFunds(
        'binance {"code":-2010,"msg":"Account has insufficient balance for requested action."}'
    )
    mapped = map_ccxt_error(raised, venue="binance", operation="submit_order")
    assert mapped.venue_message == "Account has insufficient balance for requested action. (code -2010)"
    assert "insufficient balance" in str(mapped)


def test_a_hyperliquid_status_error_is_found_inside_the_nested_reply() -> None:
    body = (
        '{"status":"ok","response":{"type":"order","data":{"statuses":'
        '[{"error":"Insufficient margin to place order. asset=0"}]}}}'
    )
    assert venue_reason(f"hyperliquid {body}") == "Insufficient margin to place order. asset=0"


def test_rate_limit_errors_carry_the_retry_after_header_in_seconds() -> None:
    mapped = map_ccxt_error(
        ccxt.DDoSProtection("418"), venue="binance", operation="fetch_bars", headers={"Retry-After": "120"}
    )
    assert isinstance(mapped, errors.RateLimited)
    assert mapped.retry_after == 120
    assert "wait 120 s" in str(mapped)


def test_retry_after_reads_seconds_and_http_dates_and_ignores_garbage() -> None:
    assert retry_after({"retry-after": "2.5"}) == 2.5
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0) == pytest.approx(10.0)
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after(None) is None


def test_messages_lose_query_strings_and_registered_secrets() -> None:
    secrets.register_secret("s3cr3t-api-key-value")
    raised = ccxt.AuthenticationError(
        "binance GET https://api.binance.com/api/v3/account?timestamp=1&signature=abcdef key s3cr3t-api-key-value"
    )
    text = str(map_ccxt_error(raised, venue="binance", operation="balances"))
    assert "s3cr3t-api-key-value" not in text
    assert "signature=" not in text
    assert "https://api.binance.com/api/v3/account?…" in text


def test_retries_retryable_errors_until_one_succeeds_waiting_longer_each_time() -> None:
    waits: list[float] = []
    outcomes = iter([errors.ExchangeUnavailable("503"), errors.ExchangeUnavailable("503"), "ok"])

    def action() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert call_with_retry("read", action, RetryPolicy(attempts=4, base_delay=1.0), sleep=waits.append) == "ok"
    assert len(waits) == 2
    assert 1.0 <= waits[0] <= 1.25
    assert 2.0 <= waits[1] <= 2.5


def test_an_error_that_may_not_be_retried_is_raised_at_once() -> None:
    calls = 0

    def action() -> None:
        nonlocal calls
        calls += 1
        raise errors.InvalidOrder("tick")

    with pytest.raises(errors.InvalidOrder):
        call_with_retry("read", action, RetryPolicy(attempts=5), sleep=lambda _: None)
    assert calls == 1


def test_gives_up_after_the_last_attempt_with_the_last_error() -> None:
    calls = 0

    def action() -> None:
        nonlocal calls
        calls += 1
        raise errors.ExchangeUnavailable(f"503 #{calls}")

    with pytest.raises(errors.ExchangeUnavailable, match="503 #3"):
        call_with_retry("read", action, RetryPolicy(attempts=3), sleep=lambda _: None)


def test_a_venues_retry_after_is_waited_in_full_and_shared() -> None:
    waits: list[float] = []
    paused: list[float] = []
    outcomes = iter([errors.RateLimited("429", retry_after=90.0), "ok"])

    def action() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    policy = RetryPolicy(attempts=3, base_delay=0.5, max_delay=5.0)
    call_with_retry("read", action, policy, sleep=waits.append, on_rate_limit=paused.append)
    assert waits == [90.0]
    assert paused == [90.0]


@given(
    failure=st.integers(min_value=1, max_value=40),
    asked=st.none() | st.floats(min_value=0, max_value=3600),
    jitter=st.floats(min_value=0, max_value=1),
)
def test_backoff_is_capped_grows_with_failures_and_never_undercuts_retry_after(
    failure: int, asked: float | None, jitter: float
) -> None:
    policy = RetryPolicy(attempts=50, base_delay=0.5, max_delay=30.0)
    wait = policy.delay(failure, asked, jitter)
    if asked is not None:
        assert wait >= asked
        return
    assert 0 < wait <= 30.0
    if failure > 1:
        assert wait >= policy.delay(failure - 1, None, jitter)
