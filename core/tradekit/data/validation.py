"""Checks on a bar series: refused problems (:func:`validate_bars`) and reported gaps (:func:`find_gaps`).

Every check is a numpy mask over all rows, so a million bars take milliseconds.
A refused series raises :class:`~tradekit.errors.DataError` naming the file, the
row as the user sees it in that file (1-based data row, header and banner lines
not counted), the bar's time, the values and the problem, and how many rows
share it. Missing bars are not an error: exchanges have outages and stock
markets close at weekends, so gaps are listed in the :class:`ValidationReport`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tradekit.data.timeframes import MONTH, describe_duration, timeframe_to_ns
from tradekit.domain.bars import BarSeries
from tradekit.errors import DataError

FILE_ROW_ORDER = "file_row_order"
"""Key of ``BarSeries.metadata`` set to ``"descending"`` when the loader reversed a newest-first file.

Messages then count rows as they appear in the file, not in the reversed series.
"""

# Calendar months are counted with the mean Gregorian month, so that spacings of
# 28 to 31 days are one month and a missing month is always noticed.
_MEAN_MONTH_NS = int(30.436875 * 86_400 * 1_000_000_000)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PRICE_COLUMNS = ("open", "high", "low", "close")


def format_timestamp(ns: int) -> str:
    """``2024-01-01 00:16 UTC`` for an int64 nanosecond timestamp (seconds shown only when not zero)."""
    moment = _EPOCH + timedelta(microseconds=int(ns) // 1000)
    text = moment.strftime("%Y-%m-%d %H:%M:%S" if moment.second or moment.microsecond else "%Y-%m-%d %H:%M")
    return f"{text} UTC"


@dataclass(frozen=True)
class Gap:
    """Bars missing between two consecutive bars of a series.

    ``start`` is the open time of the last bar before the gap and ``end`` the
    open time of the first bar after it (int64 ns UTC), as exchanges report
    outages ("04:00 → 08:45"). ``index`` is the position of the bar after the
    gap in the series; ``missing_bars`` how many bars of the timeframe fit between.
    """

    start: int
    end: int
    missing_bars: int
    index: int

    @property
    def duration_ns(self) -> int:
        """Time from the bar before the gap to the bar after it."""
        return self.end - self.start

    def __str__(self) -> str:
        return (
            f"{format_timestamp(self.start)} → {format_timestamp(self.end)} "
            f"({self.missing_bars} bar{'s' if self.missing_bars != 1 else ''} missing, "
            f"{describe_duration(self.duration_ns)} between bars)"
        )


@dataclass(frozen=True)
class ValidationReport:
    """What :func:`validate_bars` found in a series that passed: its size, time span and gaps."""

    source: str
    timeframe: str
    rows: int
    first: int
    last: int
    gaps: tuple[Gap, ...]

    @property
    def missing_bars(self) -> int:
        """Bars missing across all gaps."""
        return sum(gap.missing_bars for gap in self.gaps)

    @property
    def first_datetime(self) -> datetime:
        """Open time of the first bar."""
        return _EPOCH + timedelta(microseconds=self.first // 1000)

    @property
    def last_datetime(self) -> datetime:
        """Open time of the last bar."""
        return _EPOCH + timedelta(microseconds=self.last // 1000)

    def __str__(self) -> str:
        longest = max(self.gaps, key=lambda gap: gap.duration_ns, default=None)
        gaps = "no gaps" if longest is None else f"{len(self.gaps)} gaps, longest {longest}"
        return (
            f"{self.source}: {self.rows} bars of {self.timeframe}, "
            f"{format_timestamp(self.first)} → {format_timestamp(self.last)}, {gaps}"
        )


def find_gaps(series: BarSeries, timeframe: str | None = None) -> list[Gap]:
    """Every place where at least one bar of ``timeframe`` (default: the series') is missing.

    A gap is a spacing longer than one bar; it counts ``ceil(spacing / bar) - 1``
    missing bars. For ``1M`` the spacing is counted in calendar months (28 to 31
    days is one month), so month-end bars show no gaps. Decreasing or repeated
    timestamps are not gaps; :func:`validate_bars` refuses them.
    """
    bar_ns = timeframe_to_ns(timeframe or series.timeframe)
    timestamps = np.asarray(series.timestamps, dtype=np.int64)
    spacing = np.diff(timestamps)
    if (timeframe or series.timeframe) == MONTH:
        missing = np.rint(spacing / _MEAN_MONTH_NS).astype(np.int64) - 1
    else:
        missing = -(-spacing // bar_ns) - 1
    after = np.flatnonzero(missing > 0) + 1
    return [
        Gap(start=start, end=end, missing_bars=count, index=index)
        for start, end, count, index in zip(
            timestamps[after - 1].tolist(),
            timestamps[after].tolist(),
            missing[after - 1].tolist(),
            after.tolist(),
            strict=True,
        )
    ]


def validate_bars(series: BarSeries, path: Path | str | None = None) -> ValidationReport:
    """Check ``series`` and report its span and gaps; raise :class:`DataError` on the first problem.

    Refused: no rows, NaN or infinite values, prices at or below zero, negative
    volume, timestamps out of ascending order or repeated, ``high`` below
    ``max(open, close)``, ``low`` above ``min(open, close)``. ``path`` (default:
    the series' ``source``) names the data in the message.
    """
    check_bars(series, path)
    timestamps = series.timestamps
    return ValidationReport(
        source=str(path) if path is not None else series.source,
        timeframe=series.timeframe,
        rows=len(series),
        first=int(timestamps[0]),
        last=int(timestamps[-1]),
        gaps=tuple(find_gaps(series)) if series.timeframe else (),
    )


def check_bars(series: BarSeries, path: Path | str | None = None) -> None:
    """The refusing half of :func:`validate_bars`: raise on the first problem, compute no gaps."""
    label = _label(series, path)
    rows = len(series)
    if rows == 0:
        raise DataError(
            f"{label} has no data rows",
            hint="check that the file is complete, or download the data again",
        )
    descending = series.metadata.get(FILE_ROW_ORDER) == "descending"

    def row(index: int) -> str:
        file_row = rows - index if descending else index + 1
        return f"row {file_row} ({format_timestamp(int(series.timestamps[index]))})"

    for problem in _PROBLEMS:
        found = problem(series)
        if found is None:
            continue
        mask, describe, remedy = found
        first = int(np.argmax(mask))
        count = int(np.count_nonzero(mask))
        others = count - 1
        also = ""
        if others:
            also = f"; {others} more {'rows have' if others > 1 else 'row has'} the same problem"
        raise DataError(f"{label}, {row(first)}: {describe(first, row)}{also}", hint=remedy)


def _label(series: BarSeries, path: Path | str | None) -> str:
    if path is not None:
        return f"data file {path}"
    if series.source:
        return f"data from {series.source}"
    return f"data for {series.symbol or 'an unnamed symbol'}"


def _value(number: float) -> str:
    return repr(float(number))


_Describe = Callable[[int, Callable[[int], str]], str]
_Found = tuple[NDArray[np.bool_], _Describe, str] | None


def _non_finite(series: BarSeries) -> _Found:
    columns = [(name, getattr(series, name)) for name in (*_PRICE_COLUMNS, "volume")]
    bad = [~np.isfinite(values) for _, values in columns]
    mask = np.logical_or.reduce(bad)
    if not mask.any():
        return None

    def describe(index: int, _row: Callable[[int], str]) -> str:
        name, values = next((name, values) for (name, values), flags in zip(columns, bad, strict=True) if flags[index])
        what = "empty or NaN" if np.isnan(values[index]) else "infinite"
        return f"{name} is {what}"

    return mask, describe, "fill in or remove the row; every price and volume must be a finite number"


def _non_positive(series: BarSeries) -> _Found:
    bad = [values <= 0 for values in (series.open, series.high, series.low, series.close)]
    mask = np.logical_or.reduce(bad)
    if not mask.any():
        return None

    def describe(index: int, _row: Callable[[int], str]) -> str:
        name = next(name for name, flags in zip(_PRICE_COLUMNS, bad, strict=True) if flags[index])
        return f"{name} {_value(getattr(series, name)[index])} is not a positive price"

    return mask, describe, "prices must be above zero; fix or remove the row"


def _negative_volume(series: BarSeries) -> _Found:
    mask = series.volume < 0
    if not mask.any():
        return None
    return (
        mask,
        lambda index, _row: f"volume {_value(series.volume[index])} is negative",
        "volume must be zero or more; fix or remove the row",
    )


def _unsorted(series: BarSeries) -> _Found:
    steps = np.diff(series.timestamps)
    backwards = steps < 0
    if not backwards.any():
        return None
    mask = np.zeros(len(series), dtype=np.bool_)
    if np.count_nonzero(backwards) * 2 > len(steps) and series.metadata.get(FILE_ROW_ORDER) != "descending":
        # A newest-first file with a few rows out of place: those rows are the problem, not the others.
        mask[1:] = ~backwards
        return (
            mask,
            lambda index, row: f"the file runs newest first, but this bar is not earlier than {row(index - 1)}",
            "a newest-first file is reversed on load only when every row is in order; "
            "check these rows and sort the file by time",
        )
    mask[1:] = backwards
    return (
        mask,
        lambda index, row: f"its time is earlier than the bar before it, {row(index - 1)}",
        "rows must be in ascending time order (a file entirely newest-first is reversed on load); "
        "sort the file by time",
    )


def _duplicated(series: BarSeries) -> _Found:
    mask = np.zeros(len(series), dtype=np.bool_)
    mask[1:] = series.timestamps[1:] == series.timestamps[:-1]
    if not mask.any():
        return None
    return (
        mask,
        lambda index, row: f"its timestamp repeats the one of {row(index - 1)}",
        "each bar must appear once; remove the duplicate rows",
    )


def _high_too_low(series: BarSeries) -> _Found:
    top = np.maximum(series.open, series.close)
    mask = series.high < top
    if not mask.any():
        return None
    return (
        mask,
        lambda index, _row: f"high {_value(series.high[index])} is below max(open, close) = {_value(top[index])}",
        "high must be at least the open and the close; fix the row or download the data again",
    )


def _low_too_high(series: BarSeries) -> _Found:
    bottom = np.minimum(series.open, series.close)
    mask = series.low > bottom
    if not mask.any():
        return None
    return (
        mask,
        lambda index, _row: f"low {_value(series.low[index])} is above min(open, close) = {_value(bottom[index])}",
        "low must be at most the open and the close; fix the row or download the data again",
    )


# Order matters: NaN compares false with everything, so it is caught before the
# price checks; ordering problems come before the per-bar OHLC checks.
_PROBLEMS: tuple[Callable[[BarSeries], _Found], ...] = (
    _non_finite,
    _non_positive,
    _negative_volume,
    _unsorted,
    _duplicated,
    _high_too_low,
    _low_too_high,
)
