"""A strategy declares its indicators; the engine feeds it enough history before its first decision.

:meth:`tradekit.plugin.Strategy.indicators` returns the declared set and the
default :attr:`~tradekit.plugin.Strategy.warmup` is what the set needs. Both
loops honour it: the backtest calls ``on_bar`` first on bar ``warmup - 1``,
and the live loop fetches at least that much history and holds back the first
decision until that many bars have been seen, however much history the
exchange had at the start.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from tradekit_strategies.breakout import Breakout
from tradekit_strategies.mean_reversion import MeanReversion
from tradekit_strategies.momentum import Momentum
from tradekit_strategies.pairs import Pairs
from tradekit_strategies.volatility_expansion import VolatilityExpansion

from tradekit.indicators_incremental import SMA, BarFeed, Indicators, Previous, StdDev
from tradekit.plugin import Strategy, StrategyContext


class Watcher(Strategy):
    """Declares SMA(10), the SMA of the bar before and StdDev(4); records what each on_bar call sees."""

    def __init__(self, settings: Any = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name or "watcher")
        self.declared = Indicators(sma=SMA(10), previous_sma=Previous("sma"), spread=StdDev(4))
        self.feed = BarFeed(self.declared)
        self.calls: list[tuple[datetime, int, dict[str, float]]] = []

    def indicators(self) -> Indicators:
        return self.declared

    def on_bar(self, ctx: StrategyContext) -> None:
        history = ctx.history()
        values = self.feed.update(history.timestamps, {"close": history.close})
        self.calls.append((ctx.now, len(history), values))


def test_the_default_warmup_is_what_the_declared_indicators_need() -> None:
    assert Watcher().warmup == 11  # SMA(10) from bar 9, its previous value from bar 10
    assert Strategy().warmup == 0  # nothing declared

    class Explicit(Watcher):
        @property
        def warmup(self) -> int:
            return 30

    assert Explicit().warmup == 30


@pytest.mark.parametrize(
    ("strategy", "warmup"),
    [
        (Momentum(), 200),  # SMA(200); the rate of change over 24 needs 25
        (MeanReversion(), 21),  # z-score over 20, and the one of the bar before
        (Breakout(), 21),  # highest high of the 20 bars before
        (VolatilityExpansion(), 145),  # 24 returns (25 bars), then the top of 120 volatilities before
        (Pairs(), 289),  # the regression over 288, and the z-score of the bar before
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Strategy) else str(value),
)
def test_each_strategy_declares_the_warmup_of_its_indicators(strategy: Strategy, warmup: int) -> None:
    assert strategy.warmup == warmup
    assert strategy.indicators() is not None and strategy.indicators().warmup == warmup


def test_backtest_decides_first_on_the_bar_where_the_warmup_is_complete(kit) -> None:
    watcher = Watcher()
    bars = kit.bars(100 + np.sin(np.arange(40.0)))
    kit.backtest(watcher, bars)
    when, seen, values = watcher.calls[0]
    assert (when, seen) == (bars.datetime_at(10), 11)
    assert not any(math.isnan(value) for value in values.values())
    assert [call[0] for call in watcher.calls] == [bars.datetime_at(i) for i in range(10, 40)]


@pytest.mark.parametrize("history", [3, 11, 25])
def test_live_run_fetches_the_warmup_and_holds_back_decisions_until_it_is_seen(kit, history: int) -> None:
    """However many bars the exchange has at the start, the first decision sees every indicator defined."""
    watcher = Watcher()
    bars = kit.bars(100 + np.sin(np.arange(40.0)))
    _, replay = kit.live(watcher, bars, first_bar=history)
    assert replay.asked[0] is not None and replay.asked[0] >= watcher.warmup
    when, seen, values = watcher.calls[0]
    # The first bar revealed as new is bar `history`; with less history than the warm-up, bar 10.
    assert when == bars.datetime_at(max(history, 10)) and seen >= watcher.warmup
    assert not any(math.isnan(value) for value in values.values())
    # The live values are the backtest's, bar for bar.
    backtested = Watcher()
    kit.backtest(backtested, bars, every_bar=True)
    expected = {call[0]: call[2] for call in backtested.calls}
    assert len(watcher.calls) == 40 - max(history, 10)
    for call_time, _, live_values in watcher.calls:
        assert live_values == expected[call_time]
