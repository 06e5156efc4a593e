"""The backtest asks the venue only whether a resting order wakes before the next wake-up, never beyond it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from tradekit.domain.bars import BarSeries
from tradekit.domain.orders import OrderIntent, OrderType, Side
from tradekit.plugin import Strategy, StrategyContext
from tradekit.sim import SimulatedVenue

D = Decimal
SYMBOL = "BTC/USDT"


class FarLimitEveryTenth(Strategy):
    """Rests one buy limit far below the market from the start and wakes on every tenth bar."""

    def __init__(self) -> None:
        super().__init__(name="far_limit")
        self.woken = 0

    def wakeups(self, data: dict[str, BarSeries]) -> Any:
        return np.arange(len(next(iter(data.values())))) % 10 == 0

    def on_start(self, ctx: StrategyContext) -> None:
        ctx.submit(OrderIntent(symbol=SYMBOL, side=Side.BUY, quantity=D("1"), type=OrderType.LIMIT, price=D("1")))

    def on_bar(self, ctx: StrategyContext) -> None:
        self.woken += 1


def test_every_trigger_scan_of_the_backtest_is_bounded_by_the_next_wake_up(
    make_rig: Any, random_walk: Any, monkeypatch: Any
) -> None:
    n = 2_000
    bars = random_walk(n, 7)
    rig = make_rig()
    asked: list[tuple[int, int | None]] = []
    original = SimulatedVenue.next_trigger_index

    def spy(self: SimulatedVenue, symbol: str, high: Any, low: Any, start: int, stop: int | None = None) -> Any:
        asked.append((start, stop))
        return original(self, symbol, high, low, start, stop)

    monkeypatch.setattr(SimulatedVenue, "next_trigger_index", spy)
    strategy = FarLimitEveryTenth()
    outcome = rig.run(strategy, {SYMBOL: bars})
    assert outcome.fills == []
    assert strategy.woken == n // 10
    assert len(asked) >= n // 10 - 1
    # Each scan after a visited bar ends at the next wake-up (or the end of the data), a few bars on.
    for start, stop in asked:
        assert stop is not None and start < stop <= min(start + 10, n), (start, stop)
