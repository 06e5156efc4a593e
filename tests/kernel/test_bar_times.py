"""Bar timestamps (int64 nanoseconds, UTC) as datetimes and back, exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from tradekit.domain.bars import datetime_to_ns, ns_to_datetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# From year 1 to 9999, to the nanosecond: what a datetime can hold.
LOWEST = (datetime(1, 1, 2, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1) * 1000
HIGHEST = (datetime(9999, 12, 30, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1) * 1000


@given(st.integers(LOWEST, HIGHEST) | st.integers(LOWEST // 10**9, HIGHEST // 10**9).map(lambda s: s * 10**9))
@example(0)
@example(-1)
@example(1_747_699_200_000_000_000)
@example(-86_400_000_000_000)
def test_a_bar_time_is_the_utc_datetime_it_counts_to_truncated_to_the_microsecond(ns: int) -> None:
    moment = ns_to_datetime(ns)
    assert moment == EPOCH + timedelta(microseconds=ns // 1000)
    assert moment.tzinfo is UTC
    assert datetime_to_ns(moment) == ns // 1000 * 1000
