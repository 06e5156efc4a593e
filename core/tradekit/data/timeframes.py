"""Timeframe strings (``1m``, ``4h``, ``1d``...) and their length in nanoseconds.

The strings are the ones exchanges and freqtrade use. Case matters for one of
them: ``1m`` is a minute and ``1M`` a month. A month is taken as **30 days**
wherever a fixed spacing is needed (simulated bars, the length of a bar); gap
detection allows calendar months of 28 to 31 days (see :func:`~tradekit.data.find_gaps`).
"""

from __future__ import annotations

import numpy as np

from tradekit.domain.bars import IntArray
from tradekit.errors import ConfigError, DataError

_SECOND = 1_000_000_000
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR

TIMEFRAMES: dict[str, int] = {
    "1s": _SECOND,
    "1m": _MINUTE,
    "3m": 3 * _MINUTE,
    "5m": 5 * _MINUTE,
    "15m": 15 * _MINUTE,
    "30m": 30 * _MINUTE,
    "1h": _HOUR,
    "2h": 2 * _HOUR,
    "4h": 4 * _HOUR,
    "6h": 6 * _HOUR,
    "8h": 8 * _HOUR,
    "12h": 12 * _HOUR,
    "1d": _DAY,
    "3d": 3 * _DAY,
    "1w": 7 * _DAY,
    "1M": 30 * _DAY,
}
"""Every timeframe tradekit knows, shortest first, with its length in nanoseconds (``1M`` is 30 days)."""

MONTH = "1M"
# Calendar months run from 28 to 31 days; spacings in this range are one month.
_MONTH_SPACING = (28 * _DAY, 31 * _DAY)


def timeframe_to_ns(timeframe: str) -> int:
    """The length of one bar of ``timeframe`` in nanoseconds (``1M`` counts as 30 days).

    Raises :class:`~tradekit.errors.ConfigError` naming the value and the valid
    ones when ``timeframe`` is not one of :data:`TIMEFRAMES`.
    """
    try:
        return TIMEFRAMES[timeframe]
    except (KeyError, TypeError):
        hint = ""
        if isinstance(timeframe, str) and timeframe.lower() in TIMEFRAMES:
            hint = f" (did you mean {timeframe.lower()!r}? '1m' is a minute, '1M' a month)"
        raise ConfigError(
            f"unknown timeframe {timeframe!r}{hint}",
            hint=f"valid timeframes: {', '.join(TIMEFRAMES)}",
        ) from None


def describe_duration(ns: int) -> str:
    """A short human reading of a duration: ``5m``, ``4h45m``, ``2d3h``, ``90s``."""
    if ns % _SECOND:
        return f"{ns / _SECOND:g}s"
    seconds = ns // _SECOND
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{value}{unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if value]
    return "".join(parts) or "0s"


def infer_timeframe(timestamps: IntArray, *, source: str | None = None) -> str:
    """The timeframe whose length equals the median spacing of ``timestamps`` (int64 ns, ascending).

    The median ignores gaps and weekends, so daily stock data gives ``1d`` and
    hourly FX data ``1h``. A median spacing of 28 to 31 days gives ``1M``.
    Raises :class:`~tradekit.errors.DataError` when there are fewer than two
    bars, the timestamps do not increase, or the spacing is no known timeframe;
    ``source`` names the data in that message.
    """
    where = f"data file {source}" if source else "the data"
    if len(timestamps) < 2:
        raise DataError(
            f"cannot infer the timeframe of {where}: it has {len(timestamps)} bar(s), at least 2 are needed",
            hint="pass the timeframe explicitly (for example timeframe='1h')",
        )
    spacing = int(np.median(np.diff(np.asarray(timestamps, dtype=np.int64))))
    if spacing <= 0:
        raise DataError(
            f"cannot infer the timeframe of {where}: its timestamps do not increase",
            hint="sort the rows by time, or pass the timeframe explicitly",
        )
    for name, length in TIMEFRAMES.items():
        if name != MONTH and spacing == length:
            return name
    if _MONTH_SPACING[0] <= spacing <= _MONTH_SPACING[1]:
        return MONTH
    raise DataError(
        f"cannot infer the timeframe of {where}: the median spacing of its bars, "
        f"{describe_duration(spacing)}, is not a known timeframe",
        hint=f"pass the timeframe explicitly; valid timeframes: {', '.join(TIMEFRAMES)}",
    )
