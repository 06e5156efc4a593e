"""The simulator refuses runs whose timestamps would not fit in int64 nanoseconds instead of wrapping around."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from tradekit.data.simulator import simulate_bars
from tradekit.errors import ConfigError


def test_weekly_bars_past_2262_are_refused_naming_bars_timeframe_last_date_and_a_count_that_fits() -> None:
    with pytest.raises(ConfigError) as raised:
        simulate_bars(timeframe="1w", bars=20_000)
    message = str(raised.value)
    assert "bars=20000 of 1w" in message
    assert "would reach 2407-04-16" in message
    assert "2262-04-11" in message
    assert "use bars=12433 or fewer" in message


def test_the_largest_count_the_error_suggests_fits_and_ends_before_2262() -> None:
    bars = simulate_bars(timeframe="1M", bars=2_901, start=datetime(2024, 1, 1, tzinfo=UTC))
    assert bool(np.all(np.diff(bars.timestamps) > 0))
    assert bars.datetime_at(len(bars) - 1).year == 2262
    with pytest.raises(ConfigError, match=r"bars=2902 of 1M .* use bars=2901 or fewer"):
        simulate_bars(timeframe="1M", bars=2_902)


def test_a_count_far_beyond_any_calendar_is_refused_without_crashing_on_the_date() -> None:
    with pytest.raises(ConfigError, match="would reach beyond the year 9999"):
        simulate_bars(timeframe="1M", bars=10**9)


def test_a_start_before_1677_is_refused() -> None:
    with pytest.raises(ConfigError, match="start 1600-01-01T00:00:00\\+00:00 is before 1677-09-21"):
        simulate_bars(bars=10, start=datetime(1600, 1, 1))
