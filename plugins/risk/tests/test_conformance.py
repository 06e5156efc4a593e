"""Each rule against the kernel's risk-rule conformance suite (verdicts, fail closed, settings)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tradekit_risk.circuit_breaker import CircuitBreaker
from tradekit_risk.exposure_limits import ExposureLimits
from tradekit_risk.kill_switch import KillSwitch
from tradekit_risk.position_sizing import PositionSizing

from tradekit.testing.conformance import RiskRuleConformance


class TestCircuitBreakerConformance(RiskRuleConformance):
    plugin = CircuitBreaker
    plugin_name = "circuit_breaker"
    settings: ClassVar[Mapping[str, Any]] = {"max_drawdown_pct": 10, "cooldown_minutes": 30}


class TestPositionSizingConformance(RiskRuleConformance):
    plugin = PositionSizing
    plugin_name = "position_sizing"
    settings: ClassVar[Mapping[str, Any]] = {"method": "fixed_fraction", "fraction": 0.05}


class TestExposureLimitsConformance(RiskRuleConformance):
    plugin = ExposureLimits
    plugin_name = "exposure_limits"
    settings: ClassVar[Mapping[str, Any]] = {"max_position_notional": 20_000, "max_leverage": 1, "max_open_orders": 3}


class TestKillSwitchConformance(RiskRuleConformance):
    plugin = KillSwitch
    plugin_name = "kill_switch"
    settings: ClassVar[Mapping[str, Any]] = {"file": "tradekit.kill"}
