"""Every built-in plugin passes the conformance suite of its kind.

The kernel's ``paper`` exchange and ``sma_cross`` strategy, the test kit's
:class:`FakeExchange`, and the example distribution's ``channel_breakout``
strategy and ``jsonl`` notifier (loaded from its source folder without putting
that folder on ``sys.path``, whose ``.egg-info`` would make the registry of
every later test see the example as installed).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from tradekit.builtin_strategies import SmaCross
from tradekit.paper import PaperExchange
from tradekit.plugin import Notifier
from tradekit.testing import FakeExchange
from tradekit.testing.conformance import ExchangeConformance, NotifierConformance, StrategyConformance

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tradekit-plugin-example" / "src"


def load_example(module: str) -> ModuleType:
    """Import ``tradekit_plugin_example.<module>`` from the example's source under a private module name."""
    name = f"_tk_example_{module}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLE / "tradekit_plugin_example" / f"{module}.py")
        assert spec is not None and spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded  # pydantic resolves the settings' annotations through sys.modules
        spec.loader.exec_module(loaded)
    return sys.modules[name]


ChannelBreakout = load_example("strategy").ChannelBreakout
JsonLinesNotifier = load_example("notifier").JsonLinesNotifier


class TestPaperExchangeConformance(ExchangeConformance):
    plugin = PaperExchange
    plugin_name = "paper"


class TestFakeExchangeConformance(ExchangeConformance):
    """The fake moves its market when asked, so every order kind is also seen to fill or trigger."""

    plugin = FakeExchange
    plugin_name = "fake"


class TestFakeExchangeWithMinimumsConformance(ExchangeConformance):
    """Tick, lot and minimum notional other than the defaults: the suite sizes its orders from them."""

    plugin = FakeExchange
    settings: ClassVar[dict[str, Any]] = {
        "price": "27123.5",
        "tick_size": "0.5",
        "lot_size": "0.01",
        "min_notional": "50",
        "cash": "100000",
    }


class TestSmaCrossConformance(StrategyConformance):
    plugin = SmaCross
    plugin_name = "sma_cross"


class TestSmaCrossOnSimulatedBarsConformance(StrategyConformance):
    plugin = SmaCross
    settings: ClassVar[dict[str, Any]] = {"fast": 5, "slow": 20, "quantity": "0.5"}
    market = "simulated"
    timeframe = "15m"


class TestChannelBreakoutConformance(StrategyConformance):
    plugin = ChannelBreakout
    plugin_name = "channel_breakout"


class TestJsonLinesNotifierConformance(NotifierConformance):
    plugin = JsonLinesNotifier
    plugin_name = "jsonl"

    def delivered(self, notifier: Notifier) -> list[str]:
        """The lines of the file it appends to."""
        path: Path = notifier.settings.path  # type: ignore[attr-defined]
        return path.read_text(encoding="utf-8").splitlines()
