"""Full backtests on every 1m and 5m file of ``../shared/data``: the invariants hold at every bar.

Each file runs twice through the real engine: visiting every bar, with the
invariants checked after each one, and skipping idle bars, which must give
the same fills. The unit is 0.5 % of the anchor, so the ladder trades often.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tradekit_long_wallet.invariants import placement_problems

from tradekit.data import load_bars

FILES = (
    "binance_BTC_USDT-1m_20250520-20250818.feather",
    "binance_BTC_USDT-1m_20240726-20240825.feather",
    "freqtrade_UNITTEST_BTC-1m.json",
    "binance_BTC_USDT-5m_20240301-20250702.feather",
    "binance_BTC_USDT-5m_20201201-20210717.json",
    "binance_ETH_USDT-5m_20201201-20210717.json",
)


@pytest.mark.slow
@pytest.mark.parametrize("name", FILES)
def test_a_full_backtest_keeps_the_invariants_at_every_bar(backtest, tk_data_file: Any, name: str) -> None:
    bars = load_bars(tk_data_file(name))
    price = Decimal(repr(float(bars.close[0])))
    # In the file's own quote currency: a position worth about 10 % of the cash, whatever the price level.
    cash = (price * 1000).normalize()
    options = {
        "unit_pct": "0.5",
        "position_value": str(price * 100),
        "cash": format(cash, "f"),
        "tick": None,
        "lot": "0.00001" if price > 1 else "1",
    }
    every = backtest(bars, skip_idle_bars=False, **options)
    assert every.problems == [], every.problems[:5]
    assert placement_problems(every.strategy.placements) == []
    assert every.engine.stats.rejected == 0
    assert every.strategy.cycles, "the ladder should complete cycles on months of real data"
    skipping = backtest(bars, skip_idle_bars=True, **options)
    assert [(f.timestamp, f.quantity, f.price) for f in skipping.outcome.fills] == [
        (f.timestamp, f.quantity, f.price) for f in every.outcome.fills
    ]
    assert skipping.outcome.visited_bars < len(bars)
