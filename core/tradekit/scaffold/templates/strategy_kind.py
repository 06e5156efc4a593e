"""The template of a strategy plugin: a long-only dip buyer that works as generated."""

from __future__ import annotations

from tradekit.scaffold.templates import KindTemplate

SOURCE = '''\
"""``${name}``: a tradekit strategy.

It works as generated: it buys a dip below the recent average of closes and
sells when the close is back at the average. Replace :meth:`${class_name}.on_bar`
with your own idea; ``tests/test_conformance.py`` checks that it still keeps
the rules every strategy keeps (no lookahead, valid orders, same results on
the same data).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from pydantic import Field
from tradekit.domain import OrderIntent, Side
from tradekit.plugin import PluginSettings, Strategy, StrategyContext


class ${class_name}Settings(PluginSettings):
    """Settings of ``${name}``: the ``[plugins.strategy.${name}]`` table of tradekit.toml."""

    lookback: int = Field(default=20, ge=2, le=10_000, description="Bars in the average of closes.")
    dip_pct: float = Field(
        default=1.0,
        gt=0,
        lt=100,
        description="How far below the average, in percent, the close must fall to buy.",
    )
    fraction: Decimal = Field(
        default=Decimal("0.5"),
        gt=0,
        le=Decimal("0.99"),
        description="Share of free cash spent on a buy (at most 0.99: fees need room).",
    )


class ${class_name}(Strategy):
    """Long-only dip buyer on the first symbol of the run.

    Buys with a market order when the close falls ``dip_pct`` percent or more
    below the average of the last ``lookback`` closes (the current one
    included) while flat; sells the whole position when the close is back at
    or above that average. It keeps no state of its own: the position and the
    bars say everything, so a restarted run carries on where it was.
    """

    Settings = ${class_name}Settings
    settings: ${class_name}Settings

    @property
    def warmup(self) -> int:
        """The average needs ``lookback`` bars."""
        return self.settings.lookback

    def on_bar(self, ctx: StrategyContext) -> None:
        """Compare the close with the average of the last ``lookback`` closes, and trade."""
        # history() ends at the current bar: nothing here can see the future.
        closes = ctx.history().close
        lookback = self.settings.lookback
        if len(closes) < lookback or ctx.open_orders():
            return  # not enough bars yet, or an order of ours is still on its way
        average = float(np.mean(closes[-lookback:]))
        close = float(closes[-1])
        held = ctx.position()
        symbol = ctx.symbols[0]
        if held == 0 and close <= average * (1 - self.settings.dip_pct / 100):
            instrument = ctx.instrument()
            price = Decimal(repr(close))
            quantity = instrument.round_quantity(ctx.cash() * self.settings.fraction / price)
            # An order the venue would refuse (below its minimum size) is not sent at all.
            if quantity > 0 and instrument.quantity_problem(quantity, price) is None:
                ctx.submit(
                    OrderIntent(symbol=symbol, side=Side.BUY, quantity=quantity, tag=f"{self.name} dip")
                )
        elif held > 0 and close >= average:
            exit_order = OrderIntent(
                symbol=symbol, side=Side.SELL, quantity=held, reduce_only=True, tag=f"{self.name} exit"
            )
            ctx.submit(exit_order)
'''

BEHAVIOUR_TEST = '''\
"""What ``${name}`` does, bar by bar, and that tradekit finds it by its entry point."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from tradekit.domain import BarSeries, Instrument, OrderIntent, Side
from tradekit.registry import Registry

from ${package}.strategy import ${class_name}, ${class_name}Settings


class RecordingContext:
    """Just enough of a strategy context to drive ``on_bar`` by hand; orders fill at once."""

    def __init__(self, closes: list[float]) -> None:
        prices = np.array(closes, dtype=np.float64)
        self.series = BarSeries(
            symbol="TEST/USD",
            timeframe="1h",
            timestamps=np.arange(len(prices), dtype=np.int64) * 3_600_000_000_000,
            open=prices,
            high=prices,
            low=prices,
            close=prices,
            volume=np.ones(len(prices)),
        )
        self.symbols = ("TEST/USD",)
        self.index = 0
        self.held = Decimal(0)
        self.orders: list[tuple[int, OrderIntent]] = []

    def history(self, symbol: str | None = None) -> BarSeries:
        return self.series.slice(0, self.index + 1)

    def position(self, symbol: str | None = None) -> Decimal:
        return self.held

    def cash(self) -> Decimal:
        return Decimal(1000)

    def instrument(self, symbol: str | None = None) -> Instrument:
        return Instrument(
            symbol="TEST/USD", base="TEST", quote="USD", tick_size=Decimal("0.01"), lot_size=Decimal("0.1")
        )

    def open_orders(self, symbol: str | None = None) -> list[object]:
        return []

    def submit(self, intent: OrderIntent) -> str:
        self.orders.append((self.index, intent))
        self.held += intent.quantity * intent.side.sign
        return f"order-{len(self.orders)}"


def run(strategy: ${class_name}, closes: list[float]) -> RecordingContext:
    ctx = RecordingContext(closes)
    for index in range(len(closes)):
        ctx.index = index
        strategy.on_bar(ctx)  # type: ignore[arg-type]
    return ctx


def test_buys_the_dip_and_sells_back_at_the_average() -> None:
    settings = ${class_name}Settings(lookback=4, dip_pct=5, fraction=Decimal("0.5"))
    strategy = ${class_name}(settings)
    # Bar 4: the average of 100, 100, 100, 88 is 97; 88 is more than 5% below it: buy.
    # Bar 6: the average of 100, 88, 90, 99 is 94.25; 99 is above it: sell.
    ctx = run(strategy, [100, 100, 100, 100, 88, 90, 99, 99])

    assert [(index, intent.side) for index, intent in ctx.orders] == [(4, Side.BUY), (6, Side.SELL)]
    buy, sell = ctx.orders[0][1], ctx.orders[1][1]
    assert buy.quantity == Decimal("5.6")  # 1000 * 0.5 / 88 = 5.68..., rounded down to the lot of 0.1
    assert sell.quantity == buy.quantity and sell.reduce_only
    assert ctx.held == 0


def test_does_nothing_before_the_average_has_its_bars() -> None:
    strategy = ${class_name}(${class_name}Settings(lookback=10, dip_pct=1))
    ctx = run(strategy, [100, 100, 50, 50, 50])

    assert ctx.orders == []


def test_settings_refuse_an_average_of_one_bar() -> None:
    with pytest.raises(ValueError, match="lookback"):
        ${class_name}Settings(lookback=1)


def test_the_entry_point_finds_this_class() -> None:
    # Needs the distribution installed: python -m pip install -e ".[test]"
    assert Registry().load_class("strategy", "${name}") is ${class_name}
'''

TEMPLATE = KindTemplate(
    kind="strategy",
    suite="StrategyConformance",
    summary="A tradekit strategy that buys dips below the recent average and sells at the average.",
    source=SOURCE,
    behaviour_test=BEHAVIOUR_TEST,
    conformance_settings='{"lookback": 20, "dip_pct": 1.0}',
    settings_rows=(
        ("lookback", "20", "Bars in the average of closes (2 to 10000)."),
        ("dip_pct", "1.0", "How far below the average, in percent, the close must fall to buy."),
        ("fraction", "0.5", "Share of free cash spent on a buy (at most 0.99: fees need room)."),
    ),
    dependencies=("numpy>=1.26", "pydantic>=2.7"),
    usage="""\
Backtest it on tradekit's simulated market, or on your own data file:

```
tradekit backtest --strategy ${name}
tradekit backtest --strategy ${name} --param lookback=50 --param dip_pct=3 --data BTCUSDT-1h.csv
```

Then a dry run (live prices, simulated fills), and live trading on an exchange plugin:

```
tradekit run --strategy ${name} --max-bars 100
tradekit run --strategy ${name} --exchange <exchange> --symbol BTC/USDT --live
```""",
    try_command="tradekit backtest --strategy ${name}",
)
