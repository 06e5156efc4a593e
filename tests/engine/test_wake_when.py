"""Price alerts (``ctx.wake_when``): a backtest that skips idle bars still visits the bars that reach them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tradekit.domain.bars import BarSeries
from tradekit.plugin import Strategy, StrategyContext


class Alerting(Strategy):
    """Sets the alerts a script says, on the bar the script names, and notes every bar it is shown."""

    def __init__(self, script: dict[int, dict[str, Any]] | None = None) -> None:
        super().__init__(name="alerting")
        self.script = script or {}
        self.visited: list[int] = []

    def wakeups(self, data: dict[str, BarSeries]) -> Any:
        return np.zeros(len(next(iter(data.values()))), dtype=bool)

    def on_start(self, ctx: StrategyContext) -> None:
        if -1 in self.script:
            ctx.wake_when(**self.script[-1])

    def on_bar(self, ctx: StrategyContext) -> None:
        self.visited.append(ctx.index)
        if ctx.index in self.script:
            ctx.wake_when(**self.script[ctx.index])


def _visits(
    make_rig: Callable[..., Any], bars: BarSeries, script: dict[int, dict[str, Any]], **options: Any
) -> list[int]:
    strategy = Alerting(script)
    make_rig().run(strategy, {bars.symbol: bars}, **options)
    return strategy.visited


def test_an_alert_above_wakes_every_later_bar_whose_high_reaches_it(make_rig, make_bars) -> None:
    bars = make_bars([100, 101, 102, 105, 103, 104, 110, 100])
    # Highs default to the body's top: 100, 101, 102, 105, 105, 104, 110, 110. The alert stays set.
    assert _visits(make_rig, bars, {-1: {"above": 105}}) == [0, 3, 4, 6, 7]


def test_an_alert_below_wakes_every_later_bar_whose_low_reaches_it(make_rig, make_bars) -> None:
    bars = make_bars([100, 99, 98, 97, 96, 99, 95, 99])
    # Lows: 100, 99, 98, 97, 96, 96, 95, 95.
    assert _visits(make_rig, bars, {-1: {"below": 96.5}}) == [0, 4, 5, 6, 7]


def test_a_wick_reaching_the_alert_wakes_the_bar_even_if_it_closes_back(make_rig, make_bars) -> None:
    bars = make_bars([100, 100, 100, 100, 100], high=[100, 100, 100, 103, 100])
    assert _visits(make_rig, bars, {-1: {"above": 102}}) == [0, 3]


def test_a_new_alert_replaces_the_last_and_an_empty_call_clears_it(make_rig, make_bars) -> None:
    # Highs: 100, 110, 110, 110, 110, 120, 120, 120, 100, 100.
    bars = make_bars([100, 110, 100, 110, 100, 120, 100, 120, 100, 95])
    # Bar 1 reaches 105 and replaces it by 115: bars 2 to 4 (highs 110) do not wake; bar 5 (120) does and clears.
    assert _visits(make_rig, bars, {-1: {"above": 105}, 1: {"above": 115}, 5: {}}) == [0, 1, 5]


def test_without_skipping_every_bar_is_visited_alert_or_not(make_rig, make_bars) -> None:
    bars = make_bars([100, 100, 100, 100, 103, 100])
    assert _visits(make_rig, bars, {-1: {"above": 102}}, skip_idle_bars=False) == [0, 1, 2, 3, 4, 5]


def test_alerts_decide_nothing_a_visit_of_every_bar_would_not(make_rig, random_walk) -> None:
    bars = random_walk(3_000, seed=11)

    class Follow(Alerting):
        """Keeps an alert one step above and below the close and notes the closes it acts on."""

        def __init__(self) -> None:
            super().__init__()
            self.acted: list[int] = []
            self.level = 0

        def on_start(self, ctx: StrategyContext) -> None:
            self.level = int(ctx.close() // 2)
            ctx.wake_when(above=2 * (self.level + 1), below=2 * self.level - 0.01)

        def on_bar(self, ctx: StrategyContext) -> None:
            level = int(ctx.close() // 2)
            if level != self.level:
                self.level = level
                self.acted.append(ctx.index)
                ctx.wake_when(above=2 * (level + 1), below=2 * level - 0.01)

    skipping, every = Follow(), Follow()
    make_rig().run(skipping, {bars.symbol: bars})
    make_rig().run(every, {bars.symbol: bars}, skip_idle_bars=False)
    assert skipping.acted == every.acted
    assert len(skipping.acted) > 10


def test_an_alert_for_a_symbol_outside_the_run_is_refused(make_rig, make_bars) -> None:
    bars = make_bars([100, 101, 102])
    with pytest.raises(ValueError, match="ETH/USDT"):
        _visits(make_rig, bars, {-1: {"symbol": "ETH/USDT", "above": 1}})
