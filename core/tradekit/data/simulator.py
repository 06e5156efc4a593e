"""The built-in market: seeded, regime-switching bars for offline runs, tests and docs.

Not a plain random walk. The model, per bar:

* **Regimes** follow a Markov chain: uptrend, downtrend, range (mean-reverting)
  and volatility burst, each lasting a geometric number of bars (means 720, 480,
  900 and 90) before jumping to another regime with the probabilities in
  :data:`REGIMES`. Trends drift by a fraction of the bar's volatility; in a
  range the log price is an AR(1) around the price where the range began, so
  moves are undone over tens of bars; bursts triple the volatility.
* **Volatility clusters**: log volatility is an AR(1) (a stochastic-volatility
  model, persistence 0.985) times the regime's level. GARCH is the usual
  choice, but its recursion feeds each return back into the next variance and
  cannot be computed without a Python loop per bar; an AR(1) is a linear filter,
  computed here in blocks with numpy, and clusters volatility the same way.
* **Shocks** are Student-t (5 degrees of freedom) for fat tails, plus rare
  **jumps** of about five times the volatility, ten to twenty-five times likelier in bursts.
* **OHLC** are consistent: each bar opens exactly at the previous close (a
  market that trades around the clock), high and low extend beyond the open
  and close by half-normal excursions scaled by the bar's volatility, and
  prices are rounded to a tick of 0.01 (never below one tick).
* **Volume** grows with the bar's absolute return and carries log-normal noise.

Bars are ``timeframe`` apart (``1M`` is 30 days); the per-bar volatility is
0.06 % at ``1m`` and scales with the square root of the bar length, so every
timeframe looks like a liquid crypto market. The same seed gives the same
arrays for a given numpy version, on every platform (the generator is
``numpy.random.default_rng(seed)``; values are rounded to the tick, which hides
any last-bit difference in ``exp`` between platforms), and a longer run starts
with exactly the bars of a shorter one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from tradekit.data.timeframes import timeframe_to_ns
from tradekit.domain.bars import BarSeries, FloatArray
from tradekit.errors import ConfigError


class Regime(IntEnum):
    """The market regime of a simulated bar (the values stored in :attr:`SimulatedMarket.regimes`)."""

    UPTREND = 0
    DOWNTREND = 1
    RANGE = 2
    BURST = 3


@dataclass(frozen=True)
class RegimeModel:
    """How one regime behaves: mean length in bars, volatility level, drift, jumps, and what follows it.

    ``drift`` is the mean log return per bar as a multiple of the bar's volatility;
    ``following`` the probability of each regime (in :class:`Regime` order) when this one ends.
    """

    mean_bars: float
    volatility: float
    drift: float
    jump_probability: float
    following: tuple[float, float, float, float]


REGIMES: dict[Regime, RegimeModel] = {
    Regime.UPTREND: RegimeModel(720, 1.0, 0.06, 0.0003, (0.0, 0.25, 0.55, 0.20)),
    Regime.DOWNTREND: RegimeModel(480, 1.3, -0.069, 0.0005, (0.25, 0.0, 0.45, 0.30)),
    Regime.RANGE: RegimeModel(900, 0.7, 0.0, 0.0002, (0.40, 0.40, 0.0, 0.20)),
    Regime.BURST: RegimeModel(90, 3.0, 0.0, 0.005, (0.30, 0.30, 0.40, 0.0)),
}
"""The regime chain and each regime's behaviour.

Time shares come out near 29 % up, 20 % down, 48 % range and 3 % burst; the
drifts are set so that up and down trends cancel over a long run.
"""

_FIRST_REGIME = (0.30, 0.25, 0.40, 0.05)
_ONE_MINUTE_VOLATILITY = 0.0006
_VOLATILITY_PERSISTENCE = 0.985
_VOLATILITY_SPREAD = 0.35  # standard deviation of log volatility around its regime level
_RANGE_PERSISTENCE = 0.97  # AR(1) of the log price around the range's anchor: half-life of 23 bars
_STUDENT_DEGREES = 5.0
_JUMP_SIZE = 5.0
_EXCURSION = 0.5
_NOTIONAL_PER_MINUTE = 360_000.0  # mean traded value per minute, in quote currency
_VOLUME_NOISE = 0.8  # standard deviation of log volume around what the bar's move implies
_TICK = 0.01
_DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SimulatedMarket:
    """A simulated series with what produced it: the regime of every bar and its volatility.

    ``regimes`` holds :class:`Regime` values (int8), ``volatility`` the standard
    deviation of the bar's log return before jumps (float64); both align with ``bars``.
    """

    bars: BarSeries
    regimes: NDArray[np.int8]
    volatility: FloatArray
    seed: int

    def mask(self, regime: Regime) -> NDArray[np.bool_]:
        """True for the bars spent in ``regime``."""
        mask: NDArray[np.bool_] = self.regimes == regime
        return mask


def simulate_bars(
    *,
    seed: int = 7,
    bars: int = 10_000,
    timeframe: str = "1m",
    start_price: float = 30_000.0,
    symbol: str = "SIM/USDT",
    start: datetime | None = None,
) -> BarSeries:
    """``bars`` simulated bars of ``symbol`` (the embedded default market); see :func:`simulate_market`."""
    return simulate_market(
        seed=seed, bars=bars, timeframe=timeframe, start_price=start_price, symbol=symbol, start=start
    ).bars


def simulate_market(
    *,
    seed: int = 7,
    bars: int = 10_000,
    timeframe: str = "1m",
    start_price: float = 30_000.0,
    symbol: str = "SIM/USDT",
    start: datetime | None = None,
) -> SimulatedMarket:
    """Simulate ``bars`` bars from ``start`` (default 2024-01-01 00:00 UTC; naive means UTC).

    Deterministic per ``seed``; the series' source is ``simulated:seed=<seed>``.
    Raises :class:`~tradekit.errors.ConfigError` for a bad timeframe, a count
    below one, a price that is not positive, or bars that would run past
    2262-04-11 (the end of int64 nanosecond timestamps).
    """
    bar_ns = timeframe_to_ns(timeframe)
    if isinstance(bars, bool) or not isinstance(bars, int) or bars < 1:
        raise ConfigError(f"bars must be a whole number of at least 1, was {bars!r}")
    if not math.isfinite(start_price) or start_price < _TICK:
        raise ConfigError(f"start_price must be a finite price of at least one tick ({_TICK}), was {start_price!r}")
    first_ns = _first_timestamp_ns(start, bars, bar_ns, timeframe)
    # One stream per drawn array, each read from its start, so a longer run begins with the shorter one.
    streams = np.random.default_rng(seed).spawn(7)
    regime_rng, volatility_rng, shock_rng, jump_time_rng, jump_size_rng, excursion_rng, volume_rng = streams

    regimes = _regime_chain(regime_rng, bars)
    levels = np.array([REGIMES[regime].volatility for regime in Regime])
    drifts = np.array([REGIMES[regime].drift for regime in Regime])
    jump_odds = np.array([REGIMES[regime].jump_probability for regime in Regime])

    base = _ONE_MINUTE_VOLATILITY * math.sqrt(bar_ns / 60e9)
    persistence = _VOLATILITY_PERSISTENCE
    first_spread = volatility_rng.standard_normal() * _VOLATILITY_SPREAD
    spread_shocks = volatility_rng.standard_normal(bars) * _VOLATILITY_SPREAD * math.sqrt(1 - persistence**2)
    log_spread = _ar1(spread_shocks, persistence, start=first_spread)
    volatility = base * levels[regimes] * np.exp(log_spread)

    shocks = shock_rng.standard_t(_STUDENT_DEGREES, bars) / math.sqrt(_STUDENT_DEGREES / (_STUDENT_DEGREES - 2))
    jump_sizes = jump_size_rng.standard_normal(bars) * _JUMP_SIZE
    jumps = np.where(jump_time_rng.random(bars) < jump_odds[regimes], jump_sizes, 0.0)
    moves = volatility * (shocks + jumps)
    returns = drifts[regimes] * volatility + moves
    _revert_ranges(returns, moves, regimes)

    log_close = math.log(start_price) + np.cumsum(returns)
    close = _to_tick(np.exp(log_close))
    open_ = np.empty(bars)
    open_[0] = _to_tick(np.array([start_price]))[0]
    open_[1:] = close[:-1]
    up, down = np.abs(excursion_rng.standard_normal((bars, 2))).T * _EXCURSION * volatility
    high = _to_tick(np.maximum(open_, close) * np.exp(up))
    low = _to_tick(np.minimum(open_, close) * np.exp(-down))

    mean_volume = _NOTIONAL_PER_MINUTE * (bar_ns / 60e9) / start_price
    size = np.abs(np.log(close / open_)) / base
    volume = np.round(mean_volume * (0.4 + 0.6 * size) * np.exp(_VOLUME_NOISE * volume_rng.standard_normal(bars)), 6)

    series = BarSeries(
        symbol=symbol,
        timeframe=timeframe,
        timestamps=first_ns + np.arange(bars, dtype=np.int64) * bar_ns,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        source=f"simulated:seed={seed}",
        metadata={"model": "regime-switching stochastic volatility", "seed": str(seed)},
    )
    return SimulatedMarket(bars=series, regimes=regimes, volatility=volatility, seed=seed)


def _first_timestamp_ns(start: datetime | None, bars: int, bar_ns: int, timeframe: str) -> int:
    """The first bar's open in ns; ConfigError if the last one would not fit in int64 nanoseconds."""
    start_at = _DEFAULT_START if start is None else start
    if start_at.tzinfo is None:
        start_at = start_at.replace(tzinfo=UTC)
    first_ns = (int(start_at.timestamp()) * 1_000_000 + start_at.microsecond) * 1000
    last_ns = first_ns + (bars - 1) * bar_ns
    if first_ns < -(2**63):
        raise ConfigError(
            f"start {start_at.isoformat()} is before 1677-09-21, the first date int64 nanosecond "
            "timestamps can hold; start later"
        )
    if last_ns < 2**63:
        return first_ns
    # numpy would wrap around silently and the series would end centuries before it began.
    try:
        last = (start_at + timedelta(microseconds=(bars - 1) * bar_ns // 1000)).isoformat()
    except OverflowError:
        last = "beyond the year 9999"
    most = max((2**63 - 1 - first_ns) // bar_ns + 1, 0)
    raise ConfigError(
        f"bars={bars} of {timeframe} from {start_at.isoformat()} would reach {last}, past "
        f"2262-04-11, the last date int64 nanosecond timestamps can hold; use bars={most} or fewer, "
        "a shorter timeframe or an earlier start"
    )


def _regime_chain(rng: np.random.Generator, bars: int) -> NDArray[np.int8]:
    """Regime of every bar: geometric durations, then a draw of the next regime (a loop per spell)."""
    regimes = np.empty(bars, dtype=np.int8)
    current = Regime(int(rng.choice(len(Regime), p=_FIRST_REGIME)))
    position = 0
    while position < bars:
        model = REGIMES[current]
        length = int(rng.geometric(1.0 / model.mean_bars))
        regimes[position : position + length] = current
        position += length
        current = Regime(int(rng.choice(len(Regime), p=model.following)))
    return regimes


def _revert_ranges(returns: FloatArray, moves: FloatArray, regimes: NDArray[np.int8]) -> None:
    """In each range spell, make the log price an AR(1) around where the spell began (in place)."""
    in_range = np.concatenate(([False], regimes == Regime.RANGE, [False]))
    edges = np.flatnonzero(np.diff(in_range.astype(np.int8)))
    for begin, end in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        deviation = _ar1(moves[begin:end], _RANGE_PERSISTENCE, start=0.0)
        returns[begin:end] = np.diff(deviation, prepend=0.0)


def _ar1(shocks: FloatArray, persistence: float, *, start: float) -> FloatArray:
    """``x[t] = persistence * x[t-1] + shocks[t]`` with ``x[-1] = start``, without a loop per element.

    Within a block, ``x[j] = p**j * cumsum(shocks[i] * p**-i)``; blocks are short enough
    that ``p**-i`` stays below 1e6 (no loss of precision worth speaking of), and
    one scalar step per block carries the state across.
    """
    count = len(shocks)
    block = max(1, int(math.log(1e6) / -math.log(persistence)))
    blocks = -(-count // block)
    padded = np.zeros(blocks * block)
    padded[:count] = shocks
    steps = np.arange(block, dtype=np.float64)
    rise = persistence**steps
    within = np.cumsum(padded.reshape(blocks, block) * persistence**-steps, axis=1) * rise
    carried = np.empty(blocks)
    state = start
    for index in range(blocks):
        carried[index] = state
        state = persistence**block * state + float(within[index, -1])
    values = within + carried[:, None] * (rise * persistence)
    return np.ascontiguousarray(values.reshape(-1)[:count])


def _to_tick(prices: FloatArray) -> FloatArray:
    """Round to the 0.01 tick, never below one tick (rounding is monotone, so OHLC order is kept)."""
    return np.maximum(np.round(prices, 2), _TICK)
