"""``pairs``: statistical arbitrage on two symbols, from a rolling hedge ratio and the spread's z-score."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, model_validator

from tradekit.domain.instruments import InstrumentKind
from tradekit.domain.orders import OrderIntent, Side
from tradekit.errors import ConfigError
from tradekit.indicators_incremental import HedgeRatio, Indicators, Log, Previous, SpreadZScore
from tradekit.money import to_decimal
from tradekit.plugin import PluginSettings, StrategyContext
from tradekit_strategies.base import Signals, SignalStrategy, fraction_field

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tradekit.domain.bars import BarSeries
    from tradekit.indicators import FloatArray


class PairsSettings(PluginSettings):
    """Parameters of ``pairs``."""

    lookback: int = Field(
        default=288, ge=3, description="Bars of the rolling regression (hedge ratio) and of the spread's z-score."
    )
    entry_z: float = Field(default=2.0, gt=0, description="Enter when the spread's z-score crosses beyond ±entry_z.")
    exit_z: float = Field(
        default=0.0, ge=0, description="Exit when the z-score is back within ±exit_z (0: at the mean); below entry_z."
    )
    stop_z: float | None = Field(
        default=None, gt=0, description="Exit at a loss when the z-score reaches ±stop_z; unset: no stop."
    )
    mode: Literal["auto", "long_only", "long_short"] = Field(
        default="auto",
        description="long_short: buy one leg and sell the other short (needs instruments that can go short); "
        "long_only: buy only the cheap leg (spot); auto: long_short when both instruments can go short.",
    )
    quantity: Decimal | None = Field(
        default=None, gt=0, description="Fixed quantity of the leg bought (or of the first symbol's leg, long/short)."
    )
    fraction: Decimal = fraction_field()

    @model_validator(mode="after")
    def _levels_ordered(self) -> PairsSettings:
        if self.exit_z >= self.entry_z:
            raise ValueError(f"exit_z ({self.exit_z}) must be below entry_z ({self.entry_z})")
        if self.stop_z is not None and self.stop_z <= self.entry_z:
            raise ValueError(f"stop_z ({self.stop_z}) must be above entry_z ({self.entry_z})")
        return self


class Pairs(SignalStrategy):
    """Statistical arbitrage between the run's first two symbols, A and B.

    Over the last ``lookback`` bars, a least-squares fit of ``log(A)`` on
    ``log(B)`` gives the hedge ratio ``beta`` and the spread's residuals; ``z``
    is the current residual in standard deviations of the window's residuals.
    ``z`` far below 0 means A is cheap against B; far above, A is rich.

    * Enters when ``z`` crosses beyond ``entry_z``: down through ``-entry_z``
      (A cheap) or up through ``+entry_z`` (A rich).
    * Exits when ``z`` is back within ``exit_z`` of 0 (by default at the mean),
      or, with ``stop_z`` set, when it reaches ``±stop_z``.

    How it trades depends on ``mode``:

    * ``long_short`` (instruments that can be sold short, e.g. perpetuals):
      A cheap buys A and hedges with ``beta`` times its value in B, sold (or
      bought when ``beta < 0``); A rich does the opposite. ``fraction`` of free
      cash is split between the legs, ``1 : |beta|``. Exits close both legs; a
      leg left alone (its partner's order refused) is closed at the next decision.
    * ``long_only`` (spot, where the venue refuses short sales): A cheap buys
      A; A rich buys B, the cheap leg then. Exits sell what was bought.
    * ``auto`` (default): ``long_short`` when both instruments can go short,
      otherwise ``long_only``.
    """

    Settings = PairsSettings
    settings: PairsSettings

    def __init__(self, settings: PairsSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self._two_sided: bool | None = None

    # -- indicators and rules --------------------------------------------------------------------

    def declare(self) -> Indicators:
        """Log prices, the hedge ratio, the spread's z-score and its value on the bar before."""
        lookback = self.settings.lookback
        return Indicators(
            log_a=Log("a"),
            log_b=Log("b"),
            beta=HedgeRatio(lookback, y="log_a", x="log_b"),
            z=SpreadZScore(lookback, y="log_a", x="log_b"),
            previous_z=Previous("z"),
        )

    def columns(self, data: Mapping[str, BarSeries]) -> tuple[NDArray[np.int64], dict[str, FloatArray]]:
        """The closes of the first two symbols, as ``a`` and ``b``."""
        a, b = _legs(tuple(data))
        return data[a].timestamps, {"a": data[a].close, "b": data[b].close}

    def signals(self, values: Mapping[str, FloatArray]) -> Signals:
        """Entries on crossings beyond ±entry_z; exits back within ±exit_z or at ±stop_z."""
        z, previous = values["z"], values["previous_z"]
        entry_z, exit_z, stop_z = self.settings.entry_z, self.settings.exit_z, self.settings.stop_z
        # "Not beyond on the bar before" rather than "inside": a bar without a z-score counts as inside.
        a_cheap = (z <= -entry_z) & ~(previous <= -entry_z)
        a_rich = (z >= entry_z) & ~(previous >= entry_z)
        exit_a_cheap = z >= -exit_z
        exit_a_rich = z <= exit_z
        if stop_z is not None:
            exit_a_cheap |= z <= -stop_z
            exit_a_rich |= z >= stop_z
        return {"a_cheap": a_cheap, "a_rich": a_rich, "exit_a_cheap": exit_a_cheap, "exit_a_rich": exit_a_rich}

    # -- trading ----------------------------------------------------------------------------------

    def on_start(self, ctx: StrategyContext) -> None:
        """Check the run has two symbols and decide whether the legs may go short."""
        a, b = _legs(ctx.symbols)
        spot = [symbol for symbol in (a, b) if ctx.instrument(symbol).kind is InstrumentKind.SPOT]
        if self.settings.mode == "long_short" and spot:
            raise ConfigError(
                f"pairs mode long_short sells one leg short, but {', '.join(spot)} "
                f"{'is' if len(spot) == 1 else 'are'} spot on this exchange, "
                "which cannot go short; set mode to long_only (or auto), or trade instruments that can go short "
                "(perpetuals)"
            )
        self._two_sided = self.settings.mode == "long_short" or (self.settings.mode == "auto" and not spot)

    def prepare(self, data: dict[str, BarSeries]) -> None:
        """Refuse a run without two symbols before computing anything."""
        _legs(tuple(data))
        super().prepare(data)

    def act(self, ctx: StrategyContext, values: Mapping[str, float], signals: Mapping[str, bool]) -> None:
        """Open, close or unwind the legs, as in the class docstring."""
        a, b = ctx.symbols[0], ctx.symbols[1]
        if self.in_flight(ctx, a) or self.in_flight(ctx, b):
            return
        if self._two_sided:
            self._act_long_short(ctx, a, b, values, signals)
        else:
            self._act_long_only(ctx, a, b, signals)

    def _act_long_only(self, ctx: StrategyContext, a: str, b: str, signals: Mapping[str, bool]) -> None:
        held_a, held_b = ctx.position(a), ctx.position(b)
        if held_a > 0 and signals["exit_a_cheap"]:
            self.sell(ctx, a, held_a, "pairs exit", reduce_only=True)
        if held_b > 0 and signals["exit_a_rich"]:
            self.sell(ctx, b, held_b, "pairs exit", reduce_only=True)
        if held_a > 0 or held_b > 0:
            return
        cheap = a if signals["a_cheap"] else b if signals["a_rich"] else None
        if cheap is not None:
            quantity = self.entry_quantity(ctx, cheap)
            if quantity > 0:
                self.buy(ctx, cheap, quantity, "pairs entry")

    def _act_long_short(
        self, ctx: StrategyContext, a: str, b: str, values: Mapping[str, float], signals: Mapping[str, bool]
    ) -> None:
        held_a, held_b = ctx.position(a), ctx.position(b)
        if held_a == 0 and held_b == 0:
            direction = 1 if signals["a_cheap"] else -1 if signals["a_rich"] else 0
            if direction:
                self._open(ctx, a, b, direction, values["beta"])
            return
        leaving = held_a == 0 or held_b == 0  # a leg alone: unwind it
        leaving |= held_a > 0 and signals["exit_a_cheap"]
        leaving |= held_a < 0 and signals["exit_a_rich"]
        if leaving:
            for symbol, held in ((a, held_a), (b, held_b)):
                if held > 0:
                    self.sell(ctx, symbol, held, "pairs exit", reduce_only=True)
                elif held < 0:
                    self._cover(ctx, symbol, -held)

    def _open(self, ctx: StrategyContext, a: str, b: str, direction: int, beta: float) -> None:
        if not np.isfinite(beta) or beta == 0:
            return
        instrument_a, instrument_b = ctx.instrument(a), ctx.instrument(b)
        price_a = instrument_a.round_price(to_decimal(ctx.close(a)))
        price_b = instrument_b.round_price(to_decimal(ctx.close(b)))
        ratio = to_decimal(abs(beta))
        if self.settings.quantity is not None:
            quantity_a = instrument_a.round_quantity(self.settings.quantity)
        else:
            quantity_a = instrument_a.round_quantity(ctx.cash() * self.settings.fraction / (1 + ratio) / price_a)
        quantity_b = instrument_b.round_quantity(quantity_a * price_a * ratio / price_b)
        if (
            quantity_a <= 0
            or quantity_b <= 0
            or instrument_a.quantity_problem(quantity_a, price_a) is not None
            or instrument_b.quantity_problem(quantity_b, price_b) is not None
        ):
            return
        side_b_buys = (direction > 0) != (beta > 0)  # long spread sells beta of B; a negative beta flips it
        if direction > 0:
            self.buy(ctx, a, quantity_a, "pairs entry")
        else:
            self.sell(ctx, a, quantity_a, "pairs entry", reduce_only=False)
        if side_b_buys:
            self.buy(ctx, b, quantity_b, "pairs hedge")
        else:
            self.sell(ctx, b, quantity_b, "pairs hedge", reduce_only=False)

    def _cover(self, ctx: StrategyContext, symbol: str, quantity: Decimal) -> None:
        """A reduce-only market buy that closes a short leg."""
        ctx.submit(OrderIntent(symbol=symbol, side=Side.BUY, quantity=quantity, reduce_only=True, tag="pairs exit"))


def _legs(symbols: tuple[str, ...]) -> tuple[str, str]:
    """The two symbols a pairs run trades: the first two, refused when there are fewer."""
    if len(symbols) < 2:
        raise ConfigError(
            f"pairs trades two symbols, but the run has {len(symbols)}: {', '.join(symbols) or 'none'}; "
            "give two (--data A.feather --data B.feather, or --symbol A --symbol B)"
        )
    return symbols[0], symbols[1]
