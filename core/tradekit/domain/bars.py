"""Bars (OHLCV candles): one at a time, or a whole series as numpy columns.

A backtest never builds a :class:`Bar` per candle: it reads the float64
columns of a :class:`BarSeries` directly. Timestamps are candle **open**
times, UTC, as int64 nanoseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class Bar(BaseModel):
    """One OHLCV candle; ``timestamp`` is its open time in UTC."""

    model_config = ConfigDict(frozen=True)

    symbol: str
    timestamp: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_from_timestamp = datetime.fromtimestamp


def ns_to_datetime(ns: int) -> datetime:
    """An int64 nanosecond timestamp as an aware UTC datetime (to the microsecond, truncated).

    Integer arithmetic: exact for any timestamp, where seconds as a float lose the microseconds of
    today's dates, and faster.
    """
    seconds, rest = divmod(ns, 1_000_000_000)
    if not rest and seconds >= 0:
        # Bars open on whole seconds: the C constructor, at half the cost of the sum below.
        return _from_timestamp(seconds, UTC)
    return _EPOCH + timedelta(microseconds=ns // 1000)


def datetime_to_ns(moment: datetime) -> int:
    """An aware datetime as int64 nanoseconds since the epoch, exactly (to the microsecond)."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


@dataclass(frozen=True)
class BarSeries:
    """Candles of one symbol as columns; all arrays have the same length.

    ``source`` names where the data came from (a file path, ``simulated:seed=7``,
    an exchange), for messages and reports.
    """

    symbol: str
    timeframe: str
    timestamps: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    source: str = ""
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.timestamps)
        for name in ("open", "high", "low", "close", "volume"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"column {name} has {len(getattr(self, name))} rows, expected {n}")

    def __len__(self) -> int:
        return len(self.timestamps)

    def slice(self, start: int, stop: int) -> BarSeries:
        """The bars ``start`` (inclusive) to ``stop`` (exclusive), as views, not copies."""
        return BarSeries(
            symbol=self.symbol,
            timeframe=self.timeframe,
            timestamps=self.timestamps[start:stop],
            open=self.open[start:stop],
            high=self.high[start:stop],
            low=self.low[start:stop],
            close=self.close[start:stop],
            volume=self.volume[start:stop],
            source=self.source,
            metadata=self.metadata,
        )

    def bar(self, index: int) -> Bar:
        """Candle ``index`` as a :class:`Bar` (for live code and messages, not hot loops)."""
        return Bar(
            symbol=self.symbol,
            timestamp=ns_to_datetime(int(self.timestamps[index])),
            open=Decimal(repr(float(self.open[index]))),
            high=Decimal(repr(float(self.high[index]))),
            low=Decimal(repr(float(self.low[index]))),
            close=Decimal(repr(float(self.close[index]))),
            volume=Decimal(repr(float(self.volume[index]))),
        )

    def datetime_at(self, index: int) -> datetime:
        """The open time of candle ``index``."""
        return ns_to_datetime(int(self.timestamps[index]))
