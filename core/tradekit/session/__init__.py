"""Setting up runs from settings: load the named plugins, validate everything, wire the engine.

:mod:`.plugins` loads and checks what a run names; :mod:`.backtest` and
:mod:`.live` run it.
"""

from tradekit.session.backtest import BacktestResult, load_backtest_data, run_backtest
from tradekit.session.live import LiveResult, describe_live_run, prepare_live, run_live
from tradekit.session.plugins import (
    RunPlugins,
    create_plugin,
    load_plugins,
    new_run_id,
    quote_of,
    simulated_venue,
)

__all__ = [
    "BacktestResult",
    "LiveResult",
    "RunPlugins",
    "create_plugin",
    "describe_live_run",
    "load_backtest_data",
    "load_plugins",
    "new_run_id",
    "prepare_live",
    "quote_of",
    "run_backtest",
    "run_live",
    "simulated_venue",
]
