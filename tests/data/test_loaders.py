"""Loading bar files: the real files in ../shared/data, each layout and format, and unreadable files."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tradekit.data import (
    ACCEPTED_LAYOUTS,
    find_gaps,
    load_bars,
    simulate_bars,
    symbol_and_timeframe_from_name,
    validate_bars,
    write_parquet,
)
from tradekit.domain.bars import BarSeries
from tradekit.errors import ConfigError, DataError

DataFile = Callable[[str], Path]
HOUR_NS = 3_600 * 10**9
DAY_NS = 24 * HOUR_NS


def ns(text: str) -> int:
    """An ISO time, taken as UTC, as int64 nanoseconds."""
    moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(moment.timestamp()) * 10**9


def assert_columns_are_numpy(series: BarSeries) -> None:
    assert series.timestamps.dtype == np.int64 and series.timestamps.flags.c_contiguous
    for name in ("open", "high", "low", "close", "volume"):
        column = getattr(series, name)
        assert column.dtype == np.float64 and column.flags.c_contiguous, name


# The summary table of ../shared/data/README.md: file, symbol, timeframe, rows, first bar, last bar, gaps
# ("-" where the README gives no count: trading days only, weekends, irregular no-trade minutes).
README_TABLE = """
binance_BTC_USDT-1m_20250520-20250818.feather BTC/USDT 1m 130708 2025-05-20T00:00 2025-08-18T18:27 0
binance_BTC_USDT-1m_20240726-20240825.feather BTC/USDT 1m 43209 2024-07-26T14:15 2024-08-25T14:23 0
binance_BTC_USDT-5m_20240301-20250702.feather BTC/USDT 5m 140614 2024-03-01T00:00 2025-07-02T05:45 0
binance_BTC_USDT-5m_20201201-20210717.json BTC/USDT 5m 65741 2020-12-01T00:00 2021-07-17T21:05 6
binance_ETH_USDT-5m_20201201-20210717.json ETH/USDT 5m 65742 2020-12-01T00:00 2021-07-17T21:10 6
binance_BTC_USDT-1h_20170817-20240421.feather BTC/USDT 1h 58419 2017-08-17T04:00 2024-04-21T14:00 28
backtestingpy_BTCUSD-1M_2012-2024.csv BTCUSD 1M 156 2012-01-31T00:00 2024-12-31T00:00 0
freqtrade_UNITTEST_BTC-1m.json UNITTEST/BTC 1m 13681 2017-11-04T23:02 2017-11-14T22:59 -
yahoo_ORCL-1d_1995-2014.csv ORCL 1d 5036 1995-01-03T00:00 2014-12-31T00:00 -
backtestingpy_GOOG-1d_2004-2013.csv GOOG 1d 2148 2004-08-19T00:00 2013-03-01T00:00 -
backtestingpy_EURUSD-1h_2017-2018.csv EURUSD 1h 5000 2017-04-19T09:00 2018-02-07T15:00 -
"""
REAL_FILES = [line.split() for line in README_TABLE.strip().splitlines()]


@pytest.mark.parametrize(
    ("name", "symbol", "timeframe", "rows", "first", "last", "gaps"),
    REAL_FILES,
    ids=[row[0] for row in REAL_FILES],
)
def test_real_file_loads_with_the_rows_span_and_gaps_of_its_readme(
    tk_data_file: DataFile,
    name: str,
    symbol: str,
    timeframe: str,
    rows: str,
    first: str,
    last: str,
    gaps: str,
) -> None:
    path = tk_data_file(name)
    series = load_bars(path)
    report = validate_bars(series, path)
    assert (series.symbol, series.timeframe, len(series)) == (symbol, timeframe, int(rows))
    assert (report.first, report.last, report.rows) == (ns(first), ns(last), int(rows))
    assert series.source == str(path)
    assert_columns_are_numpy(series)
    if gaps != "-":
        assert len(report.gaps) == int(gaps)


def test_binance_5m_json_gaps_are_the_outages_with_the_longest_on_2021_04_25(tk_data_file: DataFile) -> None:
    for name in ("binance_BTC_USDT-5m_20201201-20210717.json", "binance_ETH_USDT-5m_20201201-20210717.json"):
        gaps = find_gaps(load_bars(tk_data_file(name)))
        longest = max(gaps, key=lambda gap: gap.duration_ns)
        assert (longest.start, longest.end) == (ns("2021-04-25 04:00"), ns("2021-04-25 08:45"))
        assert longest.missing_bars == 56  # 4h45m between bar opens is 57 steps of 5m


def test_binance_1h_feather_longest_outage_is_34_hours(tk_data_file: DataFile) -> None:
    gaps = find_gaps(load_bars(tk_data_file("binance_BTC_USDT-1h_20170817-20240421.feather")))
    assert max(gap.duration_ns for gap in gaps) == 34 * HOUR_NS


def test_freqtrade_unittest_file_reports_its_irregular_no_trade_minutes(tk_data_file: DataFile) -> None:
    report = validate_bars(load_bars(tk_data_file("freqtrade_UNITTEST_BTC-1m.json")))
    # The README calls these "538 irregular steps": 538 gaps that together miss 717 minutes.
    assert len(report.gaps) == 538
    assert report.missing_bars == len(range(report.first, report.last + 1, 60 * 10**9)) - report.rows


def test_stock_daily_files_have_only_weekend_and_holiday_gaps(tk_data_file: DataFile) -> None:
    for name in ("yahoo_ORCL-1d_1995-2014.csv", "backtestingpy_GOOG-1d_2004-2013.csv"):
        series = load_bars(tk_data_file(name))
        weekdays = (series.timestamps // DAY_NS + 3) % 7  # 1970-01-01 was a Thursday; 0 is Monday
        assert not np.any(weekdays >= 5)
        assert max(gap.duration_ns for gap in find_gaps(series)) <= 7 * DAY_NS  # 2001-09-11 closed markets


def test_eurusd_gaps_are_weekends_starting_friday_evening(tk_data_file: DataFile) -> None:
    gaps = find_gaps(load_bars(tk_data_file("backtestingpy_EURUSD-1h_2017-2018.csv")))
    assert gaps
    assert all((gap.start // DAY_NS + 3) % 7 == 4 for gap in gaps)


def test_yahoo_file_uses_close_not_adjusted_close(tk_data_file: DataFile) -> None:
    series = load_bars(tk_data_file("yahoo_ORCL-1d_1995-2014.csv"))
    # First line: 1995-01-03,2.179012,2.191358,2.117284,2.117284,1.883304,36301200
    assert (series.open[0], series.close[0], series.volume[0]) == (2.179012, 2.117284, 36301200.0)


def test_cryptodatadownload_file_is_refused_at_the_rows_that_break_its_newest_first_order(
    tk_data_file: DataFile,
) -> None:
    path = tk_data_file("coinbase_BTCUSD-1h_20170701-20191017_cryptodatadownload.csv")
    with pytest.raises(DataError) as raised:
        load_bars(path)
    message = str(raised.value)
    assert path.name in message
    assert "row 16899 (2017-11-12 08:00 UTC)" in message
    assert "not earlier than row 16898 (2017-11-12 03:00 UTC)" in message
    assert "4 more rows have the same problem" in message


def test_cryptodatadownload_file_without_validation_holds_the_readme_span(tk_data_file: DataFile) -> None:
    series = load_bars(tk_data_file("coinbase_BTCUSD-1h_20170701-20191017_cryptodatadownload.csv"), validate=False)
    assert (series.symbol, series.timeframe, len(series)) == ("BTCUSD", "1h", 20_111)
    ordered = np.sort(series.timestamps)
    assert (ordered[0], ordered[-1]) == (ns("2017-07-01 11:00"), ns("2019-10-17 09:00"))
    assert np.all(np.diff(ordered) == HOUR_NS)  # no gap and no repeated hour once sorted
    # Line 3 of the file: 2019-10-17 09-AM,BTCUSD,8051,8056.83,8021.23,8035.88,61.25,492394.56
    assert (series.timestamps[0], series.close[0], series.volume[0]) == (
        ns("2019-10-17 09:00"),
        8035.88,
        61.25,
    )


@pytest.mark.parametrize(
    ("file_name", "symbol", "timeframe"),
    [
        ("BTC_USDT-1m.feather", "BTC/USDT", "1m"),
        ("binance_BTC_USDT-1m_20250520-20250818.feather", "BTC/USDT", "1m"),
        ("backtestingpy_GOOG-1d_2004-2013.csv", "GOOG", "1d"),
        ("backtestingpy_BTCUSD-1M_2012-2024.csv", "BTCUSD", "1M"),
        ("freqtrade_UNITTEST_BTC-1m.json", "UNITTEST/BTC", "1m"),
        ("BTC_USDT_USDT-1h-futures.feather", "BTC/USDT:USDT", "1h"),
        ("ETH_BTC-5m.json.gz", "ETH/BTC", "5m"),
        ("prices.csv", None, None),
        ("BTC_USDT-7m.csv", None, None),
    ],
)
def test_symbol_and_timeframe_come_from_freqtrade_style_file_names(
    file_name: str, symbol: str | None, timeframe: str | None
) -> None:
    assert symbol_and_timeframe_from_name(Path("/data") / file_name) == (symbol, timeframe)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_plain_csv_with_upper_case_header_and_epoch_seconds(tmp_path: Path) -> None:
    path = write(
        tmp_path / "prices.csv",
        "TIMESTAMP,OPEN,HIGH,LOW,CLOSE,VOLUME\n1704067200,1,2,0.5,1.5,7\n1704070800,1.5,2,1,1.2,3\n",
    )
    series = load_bars(path)
    assert (series.symbol, series.timeframe) == ("prices", "1h")
    assert series.timestamps.tolist() == [ns("2024-01-01 00:00"), ns("2024-01-01 01:00")]
    assert series.volume.tolist() == [7.0, 3.0]
    assert_columns_are_numpy(series)


def test_csv_with_epoch_milliseconds_semicolons_and_no_volume(tmp_path: Path) -> None:
    path = write(
        tmp_path / "eth.csv",
        "time;open;high;low;close\n1704067200000;1;2;0.5;1.5\n1704067500000;1;2;0.5;1.5\n",
    )
    series = load_bars(path, symbol="ETH/USDT")
    assert (series.symbol, series.timeframe) == ("ETH/USDT", "5m")
    assert series.timestamps[1] == ns("2024-01-01 00:05")
    assert series.volume.tolist() == [0.0, 0.0]


def test_csv_times_with_an_offset_are_converted_to_utc_and_naive_ones_taken_as_utc(tmp_path: Path) -> None:
    text = "Date,Open,High,Low,Close,Volume\n2024-01-01T02:00:00+02:00,1,2,0.5,1.5,1\n2024-01-01 01:00,1,2,0.5,1.5,1\n"
    series = load_bars(write(tmp_path / "mixed.csv", text), timeframe="1h")
    assert series.timestamps.tolist() == [ns("2024-01-01 00:00"), ns("2024-01-01 01:00")]


def test_backtesting_py_csv_reads_the_unnamed_index_column(tmp_path: Path) -> None:
    text = (
        ",Open,High,Low,Close,Volume\n"
        "2013-02-28,801.1,806.99,801.03,801.2,2265800\n"
        "2013-03-01,797.8,807.14,796.15,806.19,2175400\n"
    )
    series = load_bars(write(tmp_path / "GOOG.csv", text))
    assert (series.symbol, series.timeframe) == ("GOOG", "1d")
    assert series.close.tolist() == [801.2, 806.19]


def test_newest_first_csv_is_reversed_and_marked(tmp_path: Path) -> None:
    text = (
        "Timestamps are UTC timezone,https://www.CryptoDataDownload.com\n"
        "date,symbol,open,high,low,close,volume_btc,volume\n"
        "2019-10-17 01-PM,BTCUSD,3,4,2,3.5,30,105\n"
        "2019-10-17 12-PM,BTCUSD,2,3,1,3,20,60\n"
        "2019-10-17 11-AM,BTCUSD,1,2,0.5,2,10,20\n"
    )
    series = load_bars(write(tmp_path / "export.csv", text))
    assert series.timestamps.tolist() == [
        ns("2019-10-17 11:00"),
        ns("2019-10-17 12:00"),
        ns("2019-10-17 13:00"),
    ]
    assert series.close.tolist() == [2.0, 3.0, 3.5]
    assert series.volume.tolist() == [10.0, 20.0, 30.0]  # the base-currency column, like every other source
    assert series.metadata["file_row_order"] == "descending"
    assert (series.symbol, series.timeframe) == ("BTCUSD", "1h")


def test_freqtrade_json_and_feather_read_the_same_bars(tmp_path: Path) -> None:
    import pandas as pd

    rows = [[1_606_780_800_000 + i * 300_000, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 10.0 * i] for i in range(4)]
    json_series = load_bars(write(tmp_path / "BTC_USDT-5m.json", json.dumps(rows)))
    frame = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "volume"])
    frame["date"] = pd.to_datetime(frame["date"], unit="ms", utc=True)
    frame.to_feather(tmp_path / "BTC_USDT-5m.feather")
    feather_series = load_bars(tmp_path / "BTC_USDT-5m.feather")
    for series in (json_series, feather_series):
        assert (series.symbol, series.timeframe) == ("BTC/USDT", "5m")
        assert series.timestamps[0] == ns("2020-12-01 00:00")
        assert series.close.tolist() == [100.5, 101.5, 102.5, 103.5]
        assert_columns_are_numpy(series)


def test_gzipped_json_and_csv_load(tmp_path: Path) -> None:
    import gzip

    rows = [[1_704_067_200_000 + i * 3_600_000, 1.0, 2.0, 0.5, 1.5, 3.0] for i in range(3)]
    with gzip.open(tmp_path / "SOL_USDT-1h.json.gz", "wt") as handle:
        json.dump(rows, handle)
    with gzip.open(tmp_path / "SOL_USDT-1h.csv.gz", "wt") as handle:
        handle.write("date,open,high,low,close,volume\n")
        handle.writelines(f"{row[0]},1,2,0.5,1.5,3\n" for row in rows)
    for name in ("SOL_USDT-1h.json.gz", "SOL_USDT-1h.csv.gz"):
        series = load_bars(tmp_path / name)
        assert (series.symbol, series.timeframe, len(series)) == ("SOL/USDT", "1h", 3)
        assert series.timestamps[2] == ns("2024-01-01 02:00")


def test_parquet_with_an_epoch_timestamp_column_loads(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {"Timestamp": [1_704_067_200_000, 1_704_067_260_000], "Open": [1.0, 1.0], "High": [2.0, 2.0]}
        | {"Low": [0.5, 0.5], "Close": [1.5, 1.5]}
    )
    frame.to_parquet(tmp_path / "sol.parquet")
    series = load_bars(tmp_path / "sol.parquet")
    assert (series.symbol, series.timeframe, len(series)) == ("sol", "1m", 2)


def test_parquet_round_trip_is_exact(tmp_path: Path) -> None:
    original = simulate_bars(seed=11, bars=5_000, timeframe="15m", symbol="ETH/USDC")
    write_parquet(original, tmp_path / "anything.parquet")
    loaded = load_bars(tmp_path / "anything.parquet")
    assert (loaded.symbol, loaded.timeframe) == ("ETH/USDC", "15m")
    assert loaded.metadata["written_from"] == "simulated:seed=11"
    for name in ("timestamps", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(loaded, name), getattr(original, name)), name
    assert_columns_are_numpy(loaded)


def test_parquet_round_trip_of_a_real_file_is_exact(tk_data_file: DataFile, tmp_path: Path) -> None:
    original = load_bars(tk_data_file("binance_BTC_USDT-1h_20170817-20240421.feather"))
    write_parquet(original, tmp_path / "copy.parquet")
    loaded = load_bars(tmp_path / "copy.parquet")
    assert (loaded.symbol, loaded.timeframe) == (original.symbol, original.timeframe)
    for name in ("timestamps", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(loaded, name), getattr(original, name)), name


def test_a_file_without_a_known_extension_is_recognised_by_content(tmp_path: Path) -> None:
    write_parquet(simulate_bars(bars=10), tmp_path / "bars.dat")
    assert len(load_bars(tmp_path / "bars.dat")) == 10
    write(tmp_path / "bars.export", "date,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n2024-01-02,1,2,0.5,1.5\n")
    assert load_bars(tmp_path / "bars.export").timeframe == "1d"


def test_a_bad_timeframe_argument_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "date,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n")
    with pytest.raises(ConfigError, match=r"unknown timeframe '1H' \(did you mean '1h'"):
        load_bars(path, timeframe="1H")


def test_timeframe_not_given_and_not_inferable_says_what_to_pass(tmp_path: Path) -> None:
    path = write(
        tmp_path / "odd.csv",
        "date,open,high,low,close\n2024-01-01 00:00,1,2,0.5,1.5\n2024-01-01 00:07,1,2,0.5,1.5\n",
    )
    with pytest.raises(DataError, match=r"odd.csv: the median spacing of its bars, 7m, is not a known timeframe"):
        load_bars(path)
    assert load_bars(path, timeframe="1m").timeframe == "1m"


UNREADABLE = [
    ("garbage.feather", None, "is not a readable feather file"),
    ("garbage.parquet", None, "is not a readable parquet file"),
    ("garbage.json", None, "is not a readable json file"),
    ("garbage.csv", None, "is not a text (CSV) file"),
    ("garbage.bin", None, "is not in a known format"),
    ("broken.json", "[[1704067200000, 1, 2, 0.5", "is not valid JSON (line 1, column 27"),
    ("dict.json", '{"open": 1}', "holds a JSON dict, expected a list of bars"),
    (
        "short.json",
        "[[1704067200000, 1, 2]]",
        "row 1: expected [open_time_ms, open, high, low, close, volume]",
    ),
    (
        "columns.csv",
        "date,price,size\n2024-01-01,1,2\n",
        "has no header row naming open, high, low and close",
    ),
    ("notime.csv", "open,high,low,close\n1,2,0.5,1.5\n", "has no time column (looked for date, timestamp"),
    (
        "dates.csv",
        "date,open,high,low,close\n2024-01-01,1,2,0.5,1.5\nlast tuesday,1,2,0.5,1.5\n",
        "row 2: the time is 'last tuesday', which is not a date",
    ),
    (
        "text.csv",
        "date,open,high,low,close\n2024-01-01,1,2,0.5,abc\n",
        "row 1: close is 'abc', which is not a number",
    ),
    ("empty.csv", "", "is empty (0 bytes)"),
]


@pytest.mark.parametrize(("file_name", "content", "expected"), UNREADABLE)
def test_an_unreadable_file_is_a_data_error_naming_it_and_what_was_expected(
    tmp_path: Path, file_name: str, content: str | None, expected: str
) -> None:
    path = tmp_path / file_name
    if content is None:
        path.write_bytes(np.random.default_rng(3).integers(0, 256, 3_000, dtype=np.uint8).tobytes())
    else:
        write(path, content)
    with pytest.raises(DataError) as raised:
        load_bars(path)
    assert raised.value.message.startswith(f"data file {path}")
    assert expected in raised.value.message
    assert raised.value.hint is not None


def test_missing_price_columns_are_named_with_the_columns_found_and_the_accepted_layouts(
    tmp_path: Path,
) -> None:
    import pandas as pd

    pd.DataFrame({"date": pd.to_datetime(["2024-01-01"], utc=True), "open": [1.0], "close": [1.0]}).to_feather(
        tmp_path / "thin.feather"
    )
    with pytest.raises(DataError) as raised:
        load_bars(tmp_path / "thin.feather")
    assert "thin.feather has no high, low column(s); its columns are date, open, close" in raised.value.message
    assert raised.value.hint == ACCEPTED_LAYOUTS


def test_missing_file_and_folder_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nothere\.feather does not exist"):
        load_bars(tmp_path / "nothere.feather")
    with pytest.raises(DataError, match="is not a file"):
        load_bars(tmp_path)


def test_utc_days_and_timestamps_agree(tmp_path: Path) -> None:
    start = datetime(2024, 3, 1, tzinfo=UTC)
    lines = ["date,open,high,low,close"] + [f"{(start + timedelta(days=i)).date()},1,2,0.5,1.5" for i in range(3)]
    series = load_bars(write(tmp_path / "days.csv", "\n".join(lines) + "\n"))
    assert series.datetime_at(2) == datetime(2024, 3, 3, tzinfo=UTC)
