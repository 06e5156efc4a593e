"""Backtest statistics from an equity curve, vectorised with numpy.

Every statistic is computed from the per-bar equity curve (one value per bar,
marked to the bar's close) and the list of round-trip trades. The formulas are
the usual ones and are written out on :class:`BacktestStats`. Nothing here
loops over bars in Python: a 1,000,000-bar curve takes milliseconds.

Ratios that cannot be computed (a Sharpe ratio of a flat curve, a profit
factor without trades) are ``nan``, never an exception; a profit factor without
a losing trade is ``inf``. :func:`format_number` and friends render them as
"n/a" and "∞".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tradekit.domain.bars import FloatArray, IntArray
from tradekit.report.trades import Trade

BoolArray = NDArray[np.bool_]

NS_PER_DAY = 86_400 * 1_000_000_000
#: Crypto trades every day of the year, so a year of bars is 365 days of them
#: (for markets that close at weekends, pass ``periods_per_year`` explicitly,
#: e.g. 252 for daily stock bars).
NS_PER_TRADING_YEAR = 365 * NS_PER_DAY
#: Calendar years for CAGR, leap years included.
NS_PER_CALENDAR_YEAR = 365.25 * NS_PER_DAY

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns_to_utc(ns: int) -> datetime:
    """An int64 nanosecond timestamp as an aware UTC datetime, exact to the microsecond."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def periods_per_year(timestamps: IntArray) -> float:
    """How many bars make a year, from the median spacing of ``timestamps`` (ns).

    Years are 365 days because crypto markets trade every day: 1d bars give
    365, 1h bars 8760, 1m bars 525,600. The median ignores the odd gap in the
    data. Raises ``ValueError`` when there are fewer than two timestamps or
    they do not increase; pass ``periods_per_year`` to :func:`compute_stats`
    explicitly then.
    """
    ts = np.asarray(timestamps, dtype=np.int64)
    if len(ts) < 2:
        raise ValueError(f"cannot infer the bar spacing from {len(ts)} timestamp(s); give periods_per_year explicitly")
    return _periods_per_year_from_steps(np.diff(ts))


def _periods_per_year_from_steps(steps: IntArray) -> float:
    """:func:`periods_per_year` from the differences of at least two timestamps."""
    spacing = float(np.median(steps))
    if spacing <= 0:
        raise ValueError(f"timestamps must increase to infer the bar spacing, median spacing was {spacing} ns")
    return NS_PER_TRADING_YEAR / spacing


def _check_equity(equity: FloatArray) -> FloatArray:
    eq = np.asarray(equity, dtype=np.float64)
    if eq.ndim != 1 or len(eq) == 0:
        raise ValueError(f"the equity curve must be a non-empty 1-D array, had shape {eq.shape}")
    finite = np.isfinite(eq)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"the equity curve must be finite; bar {bad} is {eq[bad]}")
    if eq[0] <= 0:
        raise ValueError(f"the equity curve must start positive, it starts at {eq[0]}")
    return eq


def _underwater_spans(equity: FloatArray, peak: FloatArray) -> tuple[IntArray, IntArray]:
    """Start (peak) and end (recovery, or last bar) indices of every stretch below a peak.

    ``peak`` is the running peak, ``np.maximum.accumulate(equity)``: the caller
    needs it too, and it is one of the longer passes over a long curve.
    """
    n = len(equity)
    at_peak = equity >= peak
    peaks = np.flatnonzero(at_peak)  # never empty: the first bar is its own peak
    recoveries = np.flatnonzero(at_peak[1:] & ~at_peak[:-1]) + 1
    # Each stretch starts at the last peak before its recovery: a search among the peaks rather
    # than a running maximum over every bar.
    starts = peaks[np.searchsorted(peaks, recoveries - 1, side="right") - 1]
    ends = recoveries
    if not at_peak[-1]:
        starts = np.append(starts, peaks[-1])
        ends = np.append(ends, n - 1)
    return starts.astype(np.int64), ends.astype(np.int64)


def drawdown(equity: FloatArray) -> tuple[FloatArray, float, int]:
    """The drawdown series, the maximum drawdown and its duration in bars.

    The series is ``equity / running peak - 1``, a fraction, ``<= 0``; the
    maximum drawdown is its minimum (``-0.25`` for a 25 % fall). The duration
    is the longest number of bars from a peak to the bar that first regains it,
    or to the last bar when it never is regained. The curve must be finite
    and start positive (``ValueError`` otherwise).
    """
    eq = _check_equity(equity)
    peak = np.maximum.accumulate(eq)
    series = eq / peak - 1.0
    starts, ends = _underwater_spans(eq, peak)
    duration = int((ends - starts).max()) if len(starts) else 0
    return series, float(series.min()), duration


@dataclass(frozen=True)
class BacktestStats:
    """The summary of a backtest. Percentages are in percent (``12.5`` is 12.5 %).

    Returns ``r`` are the per-bar simple returns of the equity curve,
    ``r[i] = equity[i] / equity[i-1] - 1``; ``ppy`` is the number of bars per
    year (see :func:`periods_per_year`).

    * ``start``, ``end``: open times of the first and last bar (UTC).
    * ``bars``: number of bars.
    * ``start_equity``, ``end_equity``: first and last value of the equity curve.
    * ``total_return_pct``: ``(end_equity / start_equity - 1) * 100``.
    * ``cagr_pct``: ``((end_equity / start_equity) ** (1 / years) - 1) * 100`` with
      ``years = (end - start) / 365.25 days``; ``nan`` for a single bar, ``-100``
      when the account is wiped out; meaningless (huge) over very short runs.
    * ``sharpe``: ``mean(r) / std(r, ddof=1) * sqrt(ppy)``, risk-free rate zero;
      ``nan`` with fewer than two returns or when ``std`` is zero.
    * ``sortino``: ``mean(r) / sqrt(mean(min(r, 0) ** 2)) * sqrt(ppy)``, the
      downside deviation taken over all returns; ``inf`` when no return is
      negative and the mean is positive, ``nan`` when both are zero.
    * ``calmar``: ``cagr_pct / |max_drawdown_pct|``; ``nan`` without a drawdown.
    * ``max_drawdown_pct``: ``min(equity / running peak - 1) * 100``, ``<= 0``.
    * ``max_drawdown_duration``: the longest time from a peak of the equity curve
      to the bar that first regains it, or to the last bar if it never does.
    * ``profit_factor``: gross profit / gross loss of closed trades (``pnl`` after
      fees); ``inf`` when no closed trade lost, ``nan`` without closed trades.
    * ``win_rate_pct``: closed trades with ``pnl > 0`` / closed trades * 100;
      ``nan`` without closed trades.
    * ``trades``: number of round trips, including one still open at the end.
    * ``exposure_pct``: share of bars with a position, * 100.
    * ``fees_paid``: every fee paid in the run, in the quote currency.
    * ``buy_and_hold_return_pct``: ``(close[-1] / close[0] - 1) * 100``.
    """

    start: datetime
    end: datetime
    bars: int
    start_equity: float
    end_equity: float
    total_return_pct: float
    cagr_pct: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown_pct: float
    max_drawdown_duration: timedelta
    profit_factor: float
    win_rate_pct: float
    trades: int
    exposure_pct: float
    fees_paid: Decimal
    buy_and_hold_return_pct: float

    def as_dict(self) -> dict[str, Any]:
        """The stats as plain JSON values, keyed by field name.

        Times are ISO 8601 strings, ``max_drawdown_duration`` is in seconds
        (a float), ``fees_paid`` is ``str(Decimal)``. JSON has no NaN or
        infinity: ``nan`` becomes ``null`` and ``±inf`` the strings ``"inf"``
        and ``"-inf"``, so ``json.dumps(..., allow_nan=False)`` works.
        """
        out: dict[str, Any] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, datetime):
                out[field.name] = value.isoformat()
            elif isinstance(value, timedelta):
                out[field.name] = value.total_seconds()
            elif isinstance(value, Decimal):
                out[field.name] = str(value)
            elif isinstance(value, float) and not math.isfinite(value):
                out[field.name] = None if math.isnan(value) else ("inf" if value > 0 else "-inf")
            else:
                out[field.name] = value
        return out

    def display_rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs formatted for people, in reading order; what reports show."""
        return [
            ("Start", format_datetime(self.start)),
            ("End", format_datetime(self.end)),
            ("Duration", format_duration(self.end - self.start)),
            ("Bars", f"{self.bars:,}"),
            ("Start equity", format_money(self.start_equity)),
            ("End equity", format_money(self.end_equity)),
            ("Total return", format_percent(self.total_return_pct)),
            ("Buy & hold return", format_percent(self.buy_and_hold_return_pct)),
            ("CAGR", format_percent(self.cagr_pct)),
            ("Sharpe ratio", format_number(self.sharpe)),
            ("Sortino ratio", format_number(self.sortino)),
            ("Calmar ratio", format_number(self.calmar)),
            ("Max drawdown", format_percent(self.max_drawdown_pct)),
            ("Max drawdown duration", format_duration(self.max_drawdown_duration)),
            ("Trades", f"{self.trades:,}"),
            ("Win rate", format_percent(self.win_rate_pct)),
            ("Profit factor", format_number(self.profit_factor)),
            ("Exposure", format_percent(self.exposure_pct)),
            ("Fees paid", format_money(self.fees_paid)),
        ]


def _not_finite(value: float) -> str | None:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return None


def format_number(value: float) -> str:
    """A ratio with two decimals and thousands separators; "n/a" for nan, "∞" for inf."""
    return _not_finite(value) or f"{value:,.2f}"


def format_percent(value: float) -> str:
    """A percentage (already times 100) with two decimals: ``12.345`` -> ``"12.35%"``."""
    text = _not_finite(value)
    return text if text is not None else f"{value:,.2f}%"


def format_money(value: float | Decimal) -> str:
    """An amount with thousands separators and two decimals; small amounts keep their digits.

    ``1234567.891`` -> ``"1,234,567.89"``; ``0.00042`` -> ``"0.00042"`` rather than ``"0.00"``.
    """
    magnitude = abs(float(value))
    if not math.isfinite(magnitude):
        return _not_finite(float(value)) or "n/a"
    if magnitude == 0 or magnitude >= 0.01:
        return f"{value:,.2f}"
    text = f"{value:.8f}".rstrip("0")
    return f"{value:.2e}" if text.endswith(".") else text


_QUANTITY_STEP = Decimal("1e-8")


def format_decimal(value: Decimal) -> str:
    """A price or quantity in fixed point with thousands separators, at most eight decimals.

    Exchange values keep every digit they have (``"0.00100"``); an average price
    with thirty decimals is rounded to eight for reading.
    """
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -8:
        value = value.quantize(_QUANTITY_STEP).normalize()
    return f"{value:,f}"


def format_duration(value: timedelta) -> str:
    """A duration as days, hours, minutes and seconds, largest units first: ``"3d 4h 5m"``."""
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")) if n]
    return sign + (" ".join(parts[:3]) if parts else "0s")


def format_datetime(value: datetime) -> str:
    """A UTC time to the minute (seconds when present): ``"2024-03-01 00:00 UTC"``."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC" if value.second else "%Y-%m-%d %H:%M UTC")


def _cagr_pct(start_equity: float, end_equity: float, years: float) -> float:
    if years <= 0:
        return math.nan
    if end_equity <= 0:
        return -100.0
    log_growth = math.log(end_equity / start_equity) / years
    # exp overflows a float past ~709; such a growth rate is infinite for any purpose.
    return math.expm1(log_growth) * 100.0 if log_growth < 700 else math.inf


def _sharpe_sortino(returns: FloatArray, ppy: float) -> tuple[float, float]:
    if len(returns) == 0 or not np.isfinite(returns).all() or not math.isfinite(ppy):
        return math.nan, math.nan
    mean = float(returns.mean())
    scale = math.sqrt(ppy)
    sharpe = math.nan
    if len(returns) >= 2:
        std = float(returns.std(ddof=1))
        # A constant growth rate leaves rounding noise in std (1e-13 of the mean);
        # that is no variability, and a Sharpe ratio of 1e14 would be a lie.
        if std > 1e-9 * abs(mean) and std > 0:
            sharpe = mean / std * scale
    downside = math.sqrt(float(np.square(np.minimum(returns, 0.0)).mean()))
    if downside == 0:
        return sharpe, (math.inf if mean > 0 else math.nan)
    sortino = mean / downside * scale
    return sharpe, sortino


def _trade_stats(trades: Sequence[Trade]) -> tuple[float, float]:
    """Profit factor and win rate (percent) of the closed trades."""
    pnls = [float(trade.pnl) for trade in trades if trade.exit_time is not None]
    if not pnls:
        return math.nan, math.nan
    profits = [p for p in pnls if p > 0]
    # Summed in trade order by the built-in sum, as ever: another order (numpy's pairwise sum)
    # could change the last bits of the profit factor.
    gross_profit = sum(profits)
    gross_loss = -sum([p for p in pnls if p < 0])
    if gross_loss > 0:
        profit_factor = gross_profit / gross_loss
    else:
        profit_factor = math.inf if gross_profit > 0 else math.nan
    win_rate = len(profits) / len(pnls) * 100.0
    return profit_factor, win_rate


def compute_stats(
    timestamps: IntArray,
    equity: FloatArray,
    *,
    trades: Sequence[Trade],
    fees_paid: Decimal,
    in_market: BoolArray,
    close: FloatArray,
    periods_per_year: float | None = None,
) -> BacktestStats:
    """Compute :class:`BacktestStats` for one run; the formulas are on that class.

    ``timestamps`` (int64 ns, bar open times), ``equity`` (per bar),
    ``in_market`` (True where a position was held) and ``close`` (the traded
    symbol's close, for buy and hold) have one value per bar.
    ``periods_per_year`` defaults to the one inferred from the bar spacing
    (365-day years; pass 252 for daily stock bars). Raises ``ValueError`` for
    mismatched lengths, timestamps that go backwards or an equity curve that
    is empty, not finite or does not start positive.
    """
    ts = np.asarray(timestamps, dtype=np.int64)
    eq = _check_equity(equity)
    market = np.asarray(in_market, dtype=np.bool_)
    closes = np.asarray(close, dtype=np.float64)
    n = len(eq)
    lengths = {"timestamps": len(ts), "in_market": len(market), "close": len(closes)}
    for name, length in lengths.items():
        if length != n:
            raise ValueError(f"{name} has {length} values but the equity curve has {n}; they must match")
    steps = np.diff(ts)
    if n > 1 and bool((steps < 0).any()):
        bad = int(np.flatnonzero(steps < 0)[0]) + 1
        raise ValueError(f"timestamps must not go backwards; bar {bad} is earlier than bar {bad - 1}")

    if periods_per_year is None:
        ppy = _periods_per_year_from_steps(steps) if n >= 2 else math.nan
    elif periods_per_year > 0:
        ppy = float(periods_per_year)
    else:
        raise ValueError(f"periods_per_year must be positive, was {periods_per_year}")

    start_equity, end_equity = float(eq[0]), float(eq[-1])
    # Zero equity makes the next return undefined (0/0); the ratios then become nan.
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = eq[1:] / eq[:-1] - 1.0
    sharpe, sortino = _sharpe_sortino(returns, ppy)

    peak = np.maximum.accumulate(eq)
    series = eq / peak - 1.0
    max_drawdown_pct = float(series.min()) * 100.0
    starts, ends = _underwater_spans(eq, peak)
    longest_ns = int((ts[ends] - ts[starts]).max()) if len(starts) else 0

    cagr_pct = _cagr_pct(start_equity, end_equity, float(ts[-1] - ts[0]) / NS_PER_CALENDAR_YEAR)
    calmar = cagr_pct / abs(max_drawdown_pct) if max_drawdown_pct < 0 else math.nan
    profit_factor, win_rate = _trade_stats(trades)
    first_close, last_close = float(closes[0]), float(closes[-1])
    buy_and_hold = (last_close / first_close - 1.0) * 100.0 if first_close > 0 else math.nan

    return BacktestStats(
        start=ns_to_utc(int(ts[0])),
        end=ns_to_utc(int(ts[-1])),
        bars=n,
        start_equity=start_equity,
        end_equity=end_equity,
        total_return_pct=(end_equity / start_equity - 1.0) * 100.0,
        cagr_pct=cagr_pct,
        sharpe=sharpe,
        sortino=sortino,
        calmar=calmar,
        max_drawdown_pct=max_drawdown_pct,
        max_drawdown_duration=timedelta(microseconds=longest_ns // 1000),
        profit_factor=profit_factor,
        win_rate_pct=win_rate,
        trades=len(trades),
        exposure_pct=float(market.mean()) * 100.0,
        fees_paid=fees_paid,
        buy_and_hold_return_pct=buy_and_hold,
    )
