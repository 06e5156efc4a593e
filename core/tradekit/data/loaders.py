"""Reading bars from files (freqtrade feather and JSON, Parquet, common CSV layouts) and writing Parquet.

The format comes from the extension (``.feather``/``.arrow``, ``.parquet``,
``.json``, ``.csv``/``.txt``/``.tsv``, each optionally ``.gz`` where the reader
allows it) or, for any other name, from the first bytes. Every file is turned
into one table of columns, and one path maps those columns onto a
:class:`~tradekit.domain.bars.BarSeries`, so all formats accept the same column
names (in any case) and give the same messages.

A file whose rows run entirely newest first (CryptoDataDownload exports) is
reversed on load and marked with ``metadata["file_row_order"] = "descending"``,
so messages still name rows as they appear in the file. A file otherwise out of
order is refused by validation. Anything unreadable raises
:class:`~tradekit.errors.DataError` naming the file and the accepted layouts,
never a pandas or pyarrow traceback.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tradekit.data.timeframes import TIMEFRAMES, infer_timeframe, timeframe_to_ns
from tradekit.data.validation import FILE_ROW_ORDER, check_bars
from tradekit.domain.bars import BarSeries, FloatArray, IntArray
from tradekit.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

ACCEPTED_LAYOUTS = (
    "accepted layouts: freqtrade .feather or .parquet with columns date, open, high, low, close, volume; "
    "freqtrade .json, a list of [open_time_ms, open, high, low, close, volume]; "
    ".csv with a header naming a time column (timestamp, date, time, datetime, open_time, or an unnamed "
    "first column) and open, high, low, close and optionally volume, in any case "
    "(backtesting.py, Yahoo Finance and CryptoDataDownload exports included); "
    "times as ISO 8601 text, epoch seconds or milliseconds; times without a zone are taken as UTC"
)

_EXTENSIONS = {
    ".feather": "feather",
    ".arrow": "feather",
    ".ipc": "feather",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
}
# Preferred time column names, best first; an unnamed first column (a saved pandas index) comes after.
_TIME_COLUMNS = ("date", "timestamp", "time", "datetime", "date_time", "open_time", "opentime", "unix")
_PRICE_COLUMNS = ("open", "high", "low", "close")
# Text time formats tried after ISO 8601, for exports that use their own.
_TIME_FORMATS = ("ISO8601", "%Y-%m-%d %I-%p", "%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M", "%Y.%m.%d")
_FILE_NAME = re.compile(r"(?P<body>[^-]+)-(?P<timeframe>\d+[smhdwM])(?:[-_].*)?")
_MAX_NS = np.iinfo(np.int64).max
_METADATA_PREFIX = "tradekit."


@dataclass
class _Table:
    """What a format reader hands on: the columns, and what the file itself says about them."""

    frame: pd.DataFrame
    kind: str
    stored: dict[str, str] = field(default_factory=dict)
    first_column_is_index: bool = False


def load_bars(
    path: Path | str, *, symbol: str | None = None, timeframe: str | None = None, validate: bool = True
) -> BarSeries:
    """Read one symbol's bars from ``path`` (format detected from the extension or the content).

    ``symbol`` and ``timeframe`` default to what the file says (Parquet written by
    :func:`write_parquet`), then to its freqtrade-style name (``BTC_USDT-1m.feather``,
    ``binance_BTC_USDT-1m_20250520-20250818.feather`` → ``BTC/USDT``, ``1m``),
    then to the file stem and the median spacing of the bars. With ``validate``
    the series is checked as by :func:`~tradekit.data.validate_bars`. Timestamps
    become int64 ns UTC, the other columns contiguous float64; a missing volume is zeros.
    """
    path = Path(path)
    if timeframe is not None:
        timeframe_to_ns(timeframe)
    table = _read(path)
    try:
        columns = _columns(table, path)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataError(f"data file {path} could not be read: {exc}", hint=ACCEPTED_LAYOUTS) from exc
    metadata = {"format": table.kind}
    stamps = columns["timestamps"]
    if len(stamps) >= 2:
        steps = np.diff(stamps)
        if bool(np.all(steps <= 0)) and bool(np.any(steps < 0)):
            columns = {name: np.ascontiguousarray(values[::-1]) for name, values in columns.items()}
            metadata[FILE_ROW_ORDER] = "descending"
    if "source" in table.stored:
        metadata["written_from"] = table.stored["source"]
    name_symbol, name_timeframe = symbol_and_timeframe_from_name(path)
    series = BarSeries(
        symbol=symbol or table.stored.get("symbol") or name_symbol or _symbol_column(table) or _stem(path),
        timeframe=timeframe or _known(table.stored.get("timeframe")) or name_timeframe or "",
        timestamps=columns["timestamps"],
        open=columns["open"],
        high=columns["high"],
        low=columns["low"],
        close=columns["close"],
        volume=columns["volume"],
        source=str(path),
        metadata=metadata,
    )
    if validate:
        check_bars(series, path)
    if not series.timeframe:
        series = replace(series, timeframe=infer_timeframe(series.timestamps, source=str(path)))
    return series


def write_parquet(series: BarSeries, path: Path | str) -> None:
    """Write ``series`` to ``path`` as Parquet that :func:`load_bars` reads back exactly.

    Columns ``date`` (timestamp[ns, UTC]), ``open``, ``high``, ``low``, ``close``,
    ``volume`` (float64); symbol, timeframe and source go in the file's metadata.
    """
    import pyarrow as pa
    import pyarrow.parquet as parquet

    path = Path(path)
    table = pa.table(
        {
            "date": pa.array(np.asarray(series.timestamps, dtype=np.int64), type=pa.timestamp("ns", tz="UTC")),
            **{name: pa.array(np.asarray(getattr(series, name), dtype=np.float64)) for name in _COLUMNS},
        }
    )
    stored = {"symbol": series.symbol, "timeframe": series.timeframe, "source": series.source}
    table = table.replace_schema_metadata(
        {f"{_METADATA_PREFIX}{key}".encode(): value.encode() for key, value in stored.items()}
    )
    try:
        parquet.write_table(table, path)
    except OSError as exc:
        raise DataError(
            f"cannot write data file {path}: {exc}", hint="check the folder exists and is writable"
        ) from exc


def symbol_and_timeframe_from_name(path: Path | str) -> tuple[str | None, str | None]:
    """Symbol and timeframe from a freqtrade-style file name, or ``(None, None)``.

    ``BTC_USDT-1m.feather`` → ``("BTC/USDT", "1m")``; ``BTC_USDT_USDT-1h-futures.feather``
    → ``("BTC/USDT:USDT", "1h")``; a leading lower-case source or exchange prefix
    and a trailing date range are dropped: ``binance_BTC_USDT-1m_20250520-20250818``
    → ``BTC/USDT``, ``backtestingpy_GOOG-1d_2004-2013`` → ``GOOG``.
    """
    match = _FILE_NAME.fullmatch(_stem(Path(path)))
    if match is None or match["timeframe"] not in TIMEFRAMES:
        return None, None
    parts = [part for part in match["body"].split("_") if part]
    if len(parts) > 1 and parts[0].islower() and any(char.isupper() for char in "".join(parts[1:])):
        parts = parts[1:]
    if len(parts) == 2:
        symbol = f"{parts[0]}/{parts[1]}"
    elif len(parts) == 3:
        symbol = f"{parts[0]}/{parts[1]}:{parts[2]}"
    else:
        symbol = "_".join(parts)
    return symbol, match["timeframe"]


_COLUMNS = ("open", "high", "low", "close", "volume")


def _known(timeframe: str | None) -> str | None:
    return timeframe if timeframe in TIMEFRAMES else None


def _stem(path: Path) -> str:
    name = path.name[: -len(".gz")] if path.name.lower().endswith(".gz") else path.name
    return Path(name).stem


def _format_of(path: Path) -> str:
    name = path.name.lower()
    extension = Path(name[: -len(".gz")] if name.endswith(".gz") else name).suffix
    if extension in _EXTENSIONS:
        return _EXTENSIONS[extension]
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith((b"ARROW1", b"FEA1")):
        return "feather"
    if head.lstrip()[:1] in (b"[", b"{"):
        return "json"
    if b"\x00" not in head:
        return "csv"
    raise DataError(
        f"data file {path} is not in a known format (extension {extension or 'none'})", hint=ACCEPTED_LAYOUTS
    )


def _read(path: Path) -> _Table:
    if not path.exists():
        raise DataError(f"data file {path} does not exist", hint="check the path and the file name")
    if not path.is_file():
        raise DataError(f"data file {path} is not a file", hint="give the path of one data file")
    if path.stat().st_size == 0:
        raise DataError(f"data file {path} is empty (0 bytes)", hint=ACCEPTED_LAYOUTS)
    import pyarrow as pa

    kind = _format_of(path)
    try:
        return _READERS[kind](path)
    except DataError:
        raise
    except (OSError, ValueError, TypeError, OverflowError, EOFError, pa.ArrowException) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"data file {path} is not a readable {kind} file: {detail}", hint=ACCEPTED_LAYOUTS) from exc


def _stored_metadata(raw: dict[bytes, bytes] | None) -> dict[str, str]:
    stored: dict[str, str] = {}
    for key, value in (raw or {}).items():
        name = key.decode("utf-8", "replace")
        if name.startswith(_METADATA_PREFIX) and value:
            stored[name[len(_METADATA_PREFIX) :]] = value.decode("utf-8", "replace")
    return stored


def _read_feather(path: Path) -> _Table:
    import pyarrow.feather as feather

    table = feather.read_table(path)
    return _Table(table.to_pandas(), "feather", _stored_metadata(table.schema.metadata))


def _read_parquet(path: Path) -> _Table:
    import pyarrow.parquet as parquet

    table = parquet.read_table(path)
    return _Table(table.to_pandas(), "parquet", _stored_metadata(table.schema.metadata))


def _read_json(path: Path) -> _Table:
    import pandas as pd

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        try:
            rows = json.load(handle)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"data file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
                hint=ACCEPTED_LAYOUTS,
            ) from exc
    if not isinstance(rows, list):
        raise DataError(
            f"data file {path} holds a JSON {type(rows).__name__}, expected a list of bars",
            hint=ACCEPTED_LAYOUTS,
        )
    if rows and all(isinstance(row, dict) for row in rows):
        return _Table(pd.DataFrame.from_records(rows), "json")
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, list) or len(row) < 5:
            raise DataError(
                f"data file {path}, row {number}: expected [open_time_ms, open, high, low, close, volume], "
                f"found {json.dumps(row)[:80]}",
                hint=ACCEPTED_LAYOUTS,
            )
    frame = pd.DataFrame(
        {
            "date": [row[0] for row in rows],
            **{name: [row[i] if i < len(row) else 0.0 for row in rows] for i, name in enumerate(_COLUMNS, 1)},
        }
    )
    return _Table(frame, "json")


def _read_csv(path: Path) -> _Table:
    import pandas as pd

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        head = handle.read(65_536)
    if b"\x00" in head:
        raise DataError(f"data file {path} is not a text (CSV) file: it contains binary bytes", hint=ACCEPTED_LAYOUTS)
    lines = head.decode("utf-8-sig", errors="replace").splitlines()[:10]
    for number, line in enumerate(lines):
        for separator in (",", ";", "\t", "|"):
            names = {part.strip().strip('"').lower() for part in line.split(separator)}
            if set(_PRICE_COLUMNS) <= names:
                frame = pd.read_csv(path, skiprows=number, sep=separator, encoding="utf-8-sig")
                first = str(frame.columns[0]).strip().lower()
                return _Table(frame, "csv", first_column_is_index=first == "" or first.startswith("unnamed: 0"))
    raise DataError(
        f"data file {path} has no header row naming open, high, low and close in its first {len(lines)} lines",
        hint=ACCEPTED_LAYOUTS,
    )


_READERS = {"feather": _read_feather, "parquet": _read_parquet, "json": _read_json, "csv": _read_csv}


def _columns(table: _Table, path: Path) -> dict[str, Any]:
    """The table's time, price and volume columns as int64 ns and contiguous float64 arrays."""
    import pandas as pd

    frame = table.frame
    names: dict[str, Any] = {}
    for column in frame.columns:
        names.setdefault(str(column).strip().lower(), column)
    missing = [name for name in _PRICE_COLUMNS if name not in names]
    if missing:
        raise DataError(
            f"data file {path} has no {', '.join(missing)} column(s); its columns are "
            f"{', '.join(str(column) for column in frame.columns) or 'none'}",
            hint=ACCEPTED_LAYOUTS,
        )
    time_name = next((names[name] for name in _TIME_COLUMNS if name in names), None)
    if time_name is not None:
        times = frame[time_name]
    elif table.first_column_is_index:
        times = frame[frame.columns[0]]
    elif isinstance(frame.index, pd.DatetimeIndex):
        times = frame.index.to_series()
    else:
        raise DataError(
            f"data file {path} has no time column (looked for {', '.join(_TIME_COLUMNS)} or an unnamed first column)",
            hint=ACCEPTED_LAYOUTS,
        )
    arrays: dict[str, Any] = {"timestamps": _timestamps(times, path)}
    for name in _PRICE_COLUMNS:
        arrays[name] = _numbers(frame[names[name]], name, path)
    volume = _volume_column(names)
    arrays["volume"] = (
        _numbers(frame[volume], "volume", path) if volume is not None else np.zeros(len(frame), dtype=np.float64)
    )
    return arrays


def _volume_column(names: dict[str, Any]) -> Any:
    """``volume``; but in CryptoDataDownload exports (a ``symbol`` column and ``volume_btc``-like
    columns) the first such column, which is in the base currency like every other source."""
    per_currency = [name for name in names if name.startswith(("volume_", "volume "))]
    if "symbol" in names and per_currency:
        return names[per_currency[0]]
    if "volume" in names:
        return names["volume"]
    return names[per_currency[0]] if per_currency else None


def _symbol_column(table: _Table) -> str | None:
    for column in table.frame.columns:
        if str(column).strip().lower() == "symbol" and len(table.frame):
            value = table.frame[column].iloc[0]
            return str(value).strip() if isinstance(value, str) and value.strip() else None
    return None


def _first_bad(mask: Any, values: Any, what: str, name: str, path: Path) -> DataError:
    index = int(np.argmax(np.asarray(mask)))
    value = values.iloc[index] if hasattr(values, "iloc") else values[index]
    shown = "empty" if value is None or (isinstance(value, float) and np.isnan(value)) else repr(value)
    count = int(np.count_nonzero(np.asarray(mask)))
    also = f"; {count - 1} more row(s) have the same problem" if count > 1 else ""
    return DataError(f"data file {path}, row {index + 1}: {name} is {shown}, {what}{also}", hint=ACCEPTED_LAYOUTS)


def _numbers(values: pd.Series, name: str, path: Path) -> FloatArray:
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    if not is_numeric_dtype(values) or is_bool_dtype(values):
        converted = pd.to_numeric(values, errors="coerce")
        text = values.astype("string").str.strip()
        unreadable = converted.isna() & values.notna() & (text != "")
        if unreadable.any():
            raise _first_bad(unreadable.to_numpy(dtype=bool), values, "which is not a number", name, path)
        values = converted
    return np.ascontiguousarray(values.to_numpy(dtype=np.float64, na_value=np.nan))


def _timestamps(values: pd.Series, path: Path) -> IntArray:
    """Times as int64 ns UTC: datetimes (naive ones taken as UTC), epoch numbers, or text."""
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

    if is_datetime64_any_dtype(values):
        return _datetimes_to_ns(pd.DatetimeIndex(values), values, path)
    if is_numeric_dtype(values) and not is_bool_dtype(values):
        return _epoch_to_ns(values, path)
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():
        return _epoch_to_ns(numbers, path)
    if 2 * int(numbers.notna().sum()) > len(values):
        # Mostly epoch numbers: blame the rows that are not numbers, not the first row no date format reads.
        raise _first_bad(
            numbers.isna().to_numpy(dtype=bool),
            values,
            "which is not a number, while most rows hold epoch times (seconds or milliseconds)",
            "the time",
            path,
        )
    best: pd.DatetimeIndex | None = None
    for time_format in _TIME_FORMATS:
        parsed = pd.DatetimeIndex(pd.to_datetime(values, format=time_format, utc=True, errors="coerce"))
        if not parsed.isna().any():
            return _datetimes_to_ns(parsed, values, path)
        if best is None or parsed.isna().sum() < best.isna().sum():
            best = parsed
    assert best is not None
    raise _first_bad(
        best.isna(),
        values,
        "which is not a date or time tradekit can read (ISO 8601 such as 2024-01-31 13:00:00, "
        "epoch seconds or milliseconds, or CryptoDataDownload's 2019-10-17 09-AM)",
        "the time",
        path,
    )


def _datetimes_to_ns(index: pd.DatetimeIndex, values: pd.Series, path: Path) -> IntArray:
    if index.isna().any():
        raise _first_bad(index.isna(), values, "which is not a date or time", "the time", path)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return np.ascontiguousarray(index.as_unit("ns").asi8, dtype=np.int64)


def _epoch_to_ns(values: pd.Series, path: Path) -> IntArray:
    """Epoch numbers by magnitude: below 1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds,
    else nanoseconds (so milliseconds before March 1973 would be read as seconds)."""
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(numbers)
    if missing.any():
        raise _first_bad(missing, values, "but every row needs a time", "the time", path)
    biggest = float(np.max(np.abs(numbers))) if len(numbers) else 0.0
    factor = 1_000_000_000 if biggest < 1e11 else 1_000_000 if biggest < 1e14 else 1_000 if biggest < 1e17 else 1
    too_big = np.abs(numbers) > _MAX_NS / factor
    if too_big.any():
        raise _first_bad(too_big, values, "which is out of range for an epoch time", "the time", path)
    if np.all(numbers == np.floor(numbers)):
        # Integral values stay exact in integer arithmetic; a float product would round large ns values.
        exact = values.to_numpy(dtype=np.int64) if values.dtype.kind in "iu" else numbers.astype(np.int64)
        return np.ascontiguousarray(exact * factor, dtype=np.int64)
    return np.ascontiguousarray(np.rint(numbers * factor), dtype=np.int64)
