"""Validation refuses bad bars naming file, row, time, values and problem; gaps are only reported."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradekit.data import (
    TIMEFRAMES,
    find_gaps,
    infer_timeframe,
    load_bars,
    timeframe_to_ns,
    validate_bars,
)
from tradekit.domain.bars import BarSeries
from tradekit.errors import ConfigError, DataError

MINUTE_MS = 60_000
START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC
DAY_NS = 86_400 * 10**9
VALID = "1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M"

Row = list[float]


def good_rows(count: int = 20) -> list[Row]:
    """One-minute bars from 2024-01-01 00:00 UTC: [open_time_ms, open, high, low, close, volume]."""
    return [[START_MS + i * MINUTE_MS, 101.0, 102.0, 100.0, 100.8, 5.0] for i in range(count)]


def write_rows(folder: Path, file_format: str, rows: list[Row]) -> Path:
    """Write ``rows`` as a freqtrade-style file of ``file_format`` (csv, json, feather or parquet)."""
    import pandas as pd

    path = folder / f"bad_bars.{file_format}"
    if file_format == "json":
        path.write_text(json.dumps([[int(row[0]), *row[1:]] for row in rows]))
        return path
    frame = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "volume"])
    frame["date"] = pd.to_datetime(frame["date"].astype("int64"), unit="ms", utc=True)
    if file_format == "csv":
        frame["date"] = frame["date"].dt.strftime("%Y-%m-%d %H:%M:%S")
        frame.to_csv(path, index=False)
    elif file_format == "feather":
        frame.to_feather(path)
    else:
        frame.to_parquet(path)
    return path


def corrupt(change: str) -> list[Row]:
    """Twenty good bars with one problem at row 17 (00:16 UTC), and a second one at row 19 for some."""
    rows = good_rows()
    if change == "high below":
        rows[16][2] = 100.5
    elif change == "low above":
        rows[16][3] = 100.9
        rows[18][3] = 101.5
    elif change == "nan":
        rows[16][4] = math.nan
    elif change == "infinite":
        rows[16][2] = math.inf
    elif change == "non-positive":
        rows[16][3] = 0.0
        rows[18][1] = -1.0
    elif change == "negative volume":
        rows[16][5] = -2.0
    elif change == "duplicate":
        rows[16][0] = rows[15][0]
    elif change == "unsorted":
        rows[15][0], rows[16][0] = rows[16][0], rows[15][0]
    return rows


ROW_17 = "row 17 (2024-01-01 00:16 UTC): "
ROW_17_AT_0015 = "row 17 (2024-01-01 00:15 UTC): "
PROBLEMS = [
    ("high below", ROW_17 + "high 100.5 is below max(open, close) = 101.0"),
    ("low above", ROW_17 + "low 100.9 is above min(open, close) = 100.8; 1 more row has the same problem"),
    ("nan", ROW_17 + "close is empty or NaN"),
    ("infinite", ROW_17 + "high is infinite"),
    ("non-positive", ROW_17 + "low 0.0 is not a positive price; 1 more row has the same problem"),
    ("negative volume", ROW_17 + "volume -2.0 is negative"),
    ("duplicate", ROW_17_AT_0015 + "its timestamp repeats the one of row 16 (2024-01-01 00:15 UTC)"),
    (
        "unsorted",
        ROW_17_AT_0015 + "its time is earlier than the bar before it, row 16 (2024-01-01 00:16 UTC)",
    ),
]


@pytest.mark.parametrize("file_format", ["csv", "json", "feather", "parquet"])
@pytest.mark.parametrize(("change", "expected"), PROBLEMS, ids=[change for change, _ in PROBLEMS])
def test_a_bad_bar_is_refused_naming_the_file_row_time_values_and_problem(
    tmp_path: Path, file_format: str, change: str, expected: str
) -> None:
    path = write_rows(tmp_path, file_format, corrupt(change))
    with pytest.raises(DataError) as raised:
        load_bars(path, symbol="TEST/USDT")
    assert raised.value.message.startswith(f"data file {path}, {expected}")
    assert raised.value.hint  # says what to do


@pytest.mark.parametrize("file_format", ["csv", "json", "feather", "parquet"])
def test_a_file_with_no_bars_is_refused(tmp_path: Path, file_format: str) -> None:
    path = write_rows(tmp_path, file_format, [])
    with pytest.raises(DataError, match=r"bad_bars\.\w+ has no data rows"):
        load_bars(path, timeframe="1m")


def test_the_same_problem_on_many_rows_is_counted() -> None:
    series = series_of(good_rows(1_000))
    series.high[[3, 500, 900]] = 50.0
    expected = r"row 4 \(2024-01-01 00:03 UTC\): high 50\.0 .*; 2 more rows have the same problem"
    with pytest.raises(DataError, match=expected):
        validate_bars(series, "big.csv")


def test_rows_of_a_reversed_newest_first_file_are_named_as_in_the_file(tmp_path: Path) -> None:
    rows = good_rows(10)[::-1]  # newest first, like a CryptoDataDownload export
    rows[2][2] = 99.0  # file row 3 is the bar of 00:07
    path = write_rows(tmp_path, "csv", rows)
    with pytest.raises(DataError, match=r"row 3 \(2024-01-01 00:07 UTC\): high 99\.0 is below"):
        load_bars(path)


def test_in_memory_series_is_named_by_its_source() -> None:
    series = series_of(corrupt("high below"))
    with pytest.raises(DataError, match=r"^data from test-source, row 17 "):
        validate_bars(series)


def test_validation_without_loading_checks_nothing_and_keeps_file_order(tmp_path: Path) -> None:
    path = write_rows(tmp_path, "json", corrupt("unsorted"))
    series = load_bars(path, validate=False, timeframe="1m")
    assert series.timestamps[16] < series.timestamps[15]


def test_report_holds_rows_span_and_gaps() -> None:
    rows = [row for index, row in enumerate(good_rows(30)) if index not in (5, 6, 7, 20)]
    report = validate_bars(series_of(rows), "gappy.csv")
    last_ms = START_MS + 29 * MINUTE_MS
    assert (report.rows, report.first, report.last) == (26, START_MS * 10**6, last_ms * 10**6)
    assert [(gap.missing_bars, gap.index) for gap in report.gaps] == [(3, 5), (1, 17)]
    assert report.missing_bars == 4
    assert str(report.gaps[0]) == ("2024-01-01 00:04 UTC → 2024-01-01 00:08 UTC (3 bars missing, 4m between bars)")
    assert report.source == "gappy.csv"


def test_gaps_count_whole_missing_bars_for_a_given_timeframe() -> None:
    stamps = np.array([0, 5, 10, 25, 27], dtype=np.int64) * 60 * 10**9
    series = BarSeries("X", "5m", stamps, *(np.ones(5) for _ in range(5)))
    assert [(gap.index, gap.missing_bars) for gap in find_gaps(series)] == [(3, 2)]
    by_minute = [(gap.index, gap.missing_bars) for gap in find_gaps(series, "1m")]
    assert by_minute == [(1, 4), (2, 4), (3, 14), (4, 1)]


def test_month_end_bars_have_no_gaps_but_a_missing_month_is_one() -> None:
    days = np.array(["2023-01-31", "2023-02-28", "2023-03-31", "2023-05-31", "2023-06-30", "2023-07-31"])
    stamps = days.astype("datetime64[ns]").astype(np.int64)
    series = BarSeries("X", "1M", stamps, *(np.ones(6) for _ in range(5)))
    assert [(gap.index, gap.missing_bars) for gap in find_gaps(series)] == [(3, 1)]


def test_timeframes_have_their_lengths_and_a_month_is_30_days() -> None:
    assert timeframe_to_ns("1s") == 10**9
    assert timeframe_to_ns("15m") == 15 * 60 * 10**9
    assert timeframe_to_ns("4h") == 4 * 3_600 * 10**9
    assert timeframe_to_ns("1w") == 7 * DAY_NS
    assert timeframe_to_ns("1M") == 30 * DAY_NS
    assert " ".join(TIMEFRAMES) == VALID


@pytest.mark.parametrize("bad", ["", "1y", "60m", "1 h", "4H"])
def test_an_unknown_timeframe_is_a_config_error_naming_it_and_the_valid_ones(bad: str) -> None:
    with pytest.raises(ConfigError) as raised:
        timeframe_to_ns(bad)
    assert f"unknown timeframe {bad!r}" in raised.value.message
    assert raised.value.hint == "valid timeframes: " + VALID.replace(" ", ", ")


def test_timeframe_is_inferred_from_the_median_spacing() -> None:
    weekdays = np.array([d for d in range(40) if (d + 3) % 7 < 5], dtype=np.int64) * DAY_NS
    assert infer_timeframe(weekdays) == "1d"
    assert infer_timeframe(np.arange(0, 100, 4, dtype=np.int64) * 3_600 * 10**9) == "4h"
    month_ends = np.array(["2023-01-31", "2023-02-28", "2023-03-31", "2023-04-30"], dtype="datetime64[ns]")
    assert infer_timeframe(month_ends.astype(np.int64)) == "1M"


def test_timeframe_cannot_be_inferred_from_one_bar_or_an_odd_spacing() -> None:
    with pytest.raises(DataError, match=r"data file one\.csv: it has 1 bar\(s\), at least 2 are needed"):
        infer_timeframe(np.array([0], dtype=np.int64), source="one.csv")
    with pytest.raises(DataError, match=r"median spacing of its bars, 7m, is not a known timeframe"):
        infer_timeframe(np.arange(0, 70, 7, dtype=np.int64) * 60 * 10**9)


def test_a_problem_in_the_last_of_a_million_rows_is_found() -> None:
    count = 1_000_000
    series = series_of([[START_MS, 101.0, 102.0, 100.0, 100.8, 5.0]] * 1, count=count)
    series.low[count - 1] = 101.0
    with pytest.raises(DataError, match=r"row 1000000 \(2025-11-25 10:39 UTC\): low 101\.0 is above"):
        validate_bars(series, "big.feather")


@settings(max_examples=60, deadline=None)
@given(
    prices=st.lists(st.tuples(*(st.floats(0.01, 1e6, allow_nan=False) for _ in range(4))), min_size=1, max_size=40),
    data=st.data(),
)
def test_validation_refuses_exactly_the_rows_whose_high_or_low_do_not_bound_open_and_close(
    prices: list[tuple[float, float, float, float]], data: st.DataObject
) -> None:
    open_, close, a, b = (np.array(column) for column in zip(*prices, strict=True))
    high, low = np.maximum.reduce([open_, close, a]), np.minimum.reduce([open_, close, b])
    series = series_of([[START_MS, 0, 0, 0, 0, 0]], count=len(prices))
    series.open[:], series.close[:], series.high[:], series.low[:] = open_, close, high, low
    assert validate_bars(series, "ok.csv").rows == len(prices)
    broken = data.draw(st.integers(0, len(prices) - 1))
    series.high[broken] = np.nextafter(max(open_[broken], close[broken]), 0.0)
    with pytest.raises(DataError, match=rf"row {broken + 1} \(.*high .* is below max\(open, close\)"):
        validate_bars(series, "broken.csv")


def series_of(rows: list[Row], *, count: int | None = None) -> BarSeries:
    """A one-minute series from rows, or ``count`` copies of the first row one minute apart."""
    table = np.array(rows, dtype=np.float64).reshape(-1, 6)
    if count is not None:
        table = np.repeat(table[:1], count, axis=0)
        table[:, 0] = START_MS + np.arange(count) * MINUTE_MS
    columns = [np.ascontiguousarray(table[:, i]) for i in range(1, 6)]
    return BarSeries("TEST/USDT", "1m", table[:, 0].astype(np.int64) * 10**6, *columns, source="test-source")
