"""A bad value among epoch-number times is blamed on its own row, not on row 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradekit.data import load_bars
from tradekit.errors import DataError


def write_csv(path: Path, times: list[str]) -> Path:
    lines = ["time,open,high,low,close,volume"]
    lines += [f"{t},100,101,99,100.5,10" for t in times]
    path.write_text("\n".join(lines) + "\n")
    return path


def epoch_seconds(count: int) -> list[str]:
    return [str(1_704_067_200 + 3_600 * i) for i in range(count)]


def test_one_unreadable_value_in_an_epoch_time_column_is_reported_at_its_own_row(tmp_path: Path) -> None:
    times = epoch_seconds(100)
    times[41] = "17040x7200"
    with pytest.raises(DataError) as raised:
        load_bars(write_csv(tmp_path / "BTC_USDT-1h.csv", times))
    message = str(raised.value)
    assert "row 42: the time is '17040x7200'" in message
    assert "more row" not in message


def test_several_unreadable_epoch_times_name_the_first_and_count_the_others(tmp_path: Path) -> None:
    times = epoch_seconds(50)
    times[9] = "soon"
    times[30] = "later"
    with pytest.raises(DataError, match=r"row 10: the time is 'soon', .*; 1 more row\(s\) have the same problem"):
        load_bars(write_csv(tmp_path / "BTC_USDT-1h.csv", times))


def test_a_column_of_mostly_dates_still_blames_the_rows_that_are_not_dates(tmp_path: Path) -> None:
    times = [f"2024-01-01 {h:02d}:00:00" for h in range(24)]
    times[5] = "1704067200"
    with pytest.raises(DataError, match=r"row 6: the time is '1704067200'"):
        load_bars(write_csv(tmp_path / "BTC_USDT-1h.csv", times))
