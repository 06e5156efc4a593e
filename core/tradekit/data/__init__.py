"""Market data: loading bar files, validating them, finding gaps, and the seeded market simulator.

Importing this package is cheap: pandas and pyarrow are imported by the
functions that read or write files, when they are called.
"""

from tradekit.data.loaders import ACCEPTED_LAYOUTS, load_bars, symbol_and_timeframe_from_name, write_parquet
from tradekit.data.simulator import Regime, SimulatedMarket, simulate_bars, simulate_market
from tradekit.data.timeframes import TIMEFRAMES, infer_timeframe, timeframe_to_ns
from tradekit.data.validation import Gap, ValidationReport, find_gaps, format_timestamp, validate_bars

__all__ = [
    "ACCEPTED_LAYOUTS",
    "TIMEFRAMES",
    "Gap",
    "Regime",
    "SimulatedMarket",
    "ValidationReport",
    "find_gaps",
    "format_timestamp",
    "infer_timeframe",
    "load_bars",
    "simulate_bars",
    "simulate_market",
    "symbol_and_timeframe_from_name",
    "timeframe_to_ns",
    "validate_bars",
    "write_parquet",
]
