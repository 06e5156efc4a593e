"""The kernel's conformance suite for strategy plugins, run against each strategy of this distribution.

``StrategyConformance`` (``tradekit.testing.conformance``) checks, through the
engine on the paper venue: deterministic decisions, no lookahead, valid
intents, surviving a restart, ``wakeups()`` leaving out no acting bar, a live
run deciding as the backtest, and validated settings.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tradekit_strategies.breakout import Breakout
from tradekit_strategies.mean_reversion import MeanReversion
from tradekit_strategies.momentum import Momentum
from tradekit_strategies.pairs import Pairs
from tradekit_strategies.volatility_expansion import VolatilityExpansion

from tradekit.domain.bars import BarSeries
from tradekit.testing.conformance import StrategyConformance
from tradekit.testing.real_data import shared_data_file

PAIR_FILES = ("binance_BTC_USDT-5m_20201201-20210717.json", "binance_ETH_USDT-5m_20201201-20210717.json")


class TestMomentumConformance(StrategyConformance):
    plugin = Momentum
    plugin_name = "momentum"


class TestMeanReversionConformance(StrategyConformance):
    plugin = MeanReversion
    plugin_name = "mean_reversion"


class TestBreakoutConformance(StrategyConformance):
    plugin = Breakout
    plugin_name = "breakout"


class TestVolatilityExpansionConformance(StrategyConformance):
    plugin = VolatilityExpansion
    plugin_name = "volatility_expansion"


class TestPairsConformance(StrategyConformance):
    """On 2,000 aligned 5m bars of BTC and ETH from the same period (spot: the cheap leg is bought)."""

    plugin = Pairs
    plugin_name = "pairs"
    settings: ClassVar[dict[str, Any]] = {"lookback": 144}
    symbols = ("BTC/USDT", "ETH/USDT")
    timeframe = "5m"

    def bars(self) -> dict[str, BarSeries]:
        """BTC and ETH 5m bars of the same times, from the project's real data."""
        from tradekit.data import load_bars
        from tradekit.engine.backtest import align

        btc, eth = (load_bars(shared_data_file(name)) for name in PAIR_FILES)
        aligned = align({btc.symbol: btc, eth.symbol: eth})
        return {symbol: series.slice(20_000, 22_000) for symbol, series in aligned.items()}
