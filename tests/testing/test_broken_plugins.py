"""A plugin that breaks a rule fails its conformance suite, with a message that starts with the rule's id.

The broken plugins and their suites are written to a folder and run by pytest in
a fresh interpreter, exactly as a plugin author's test module would be (one run
for all of them, to pay for the interpreter once). Each expectation names the
test that must fail and the rule id its message must start with; the rules each
plugin keeps must still pass, so a failure points at the broken rule only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PLUGINS = '''
from __future__ import annotations

import json
import random
import time
import urllib.request
from decimal import Decimal

import numpy as np
from pydantic import BaseModel, SecretStr

from tradekit.domain import OrderIntent, RiskVerdict, Side
from tradekit.plugin import Model, Notifier, NotifierSettings, RiskRule, Strategy
from tradekit.testing import FakeExchange


class PeekingStrategy(Strategy):
    """Buys when the NEXT close is higher: prepare() hands it the whole series, and it reads ahead."""

    warmup = 2

    def prepare(self, data):
        self.closes = next(iter(data.values())).close

    def on_bar(self, ctx):
        i = ctx.index
        if i + 1 >= len(self.closes):
            return
        rising = self.closes[i + 1] > self.closes[i]
        held = ctx.position()
        if rising and held == 0:
            ctx.submit(OrderIntent(symbol=ctx.symbols[0], side=Side.BUY, quantity=Decimal("0.1")))
        elif not rising and held > 0:
            ctx.submit(OrderIntent(symbol=ctx.symbols[0], side=Side.SELL, quantity=held))


class ForgetfulStrategy(Strategy):
    """Trades every 40th bar it sees, counting in memory it never saves: a restart loses the count."""

    warmup = 2

    def __init__(self, settings=None, *, name=None):
        super().__init__(settings, name=name)
        self.seen = 0

    def on_bar(self, ctx):
        self.seen += 1
        if self.seen % 40 == 0:
            side = Side.BUY if ctx.position() == 0 else Side.SELL
            ctx.submit(OrderIntent(symbol=ctx.symbols[0], side=side, quantity=Decimal("0.1")))


class CoinFlipStrategy(Strategy):
    """Decides by an unseeded coin."""

    warmup = 2

    def on_bar(self, ctx):
        if random.random() < 0.05:
            side = Side.BUY if ctx.position() == 0 else Side.SELL
            ctx.submit(OrderIntent(symbol=ctx.symbols[0], side=side, quantity=Decimal("0.1")))


class UnroundedStrategy(Strategy):
    """Buys a third of its cash whenever it is flat, without rounding the quantity to the lot."""

    warmup = 2

    def on_bar(self, ctx):
        if ctx.position() == 0:
            quantity = ctx.cash() / 3 / Decimal(repr(ctx.close()))
            ctx.submit(OrderIntent(symbol=ctx.symbols[0], side=Side.BUY, quantity=quantity))


class SwallowingRule(RiskRule):
    """Caps the position at 1, but swallows any error of its own and lets the order through."""

    def check(self, intent, context):
        try:
            held = context.positions.get(intent.symbol)
            after = (held.quantity if held else 0) + intent.quantity * intent.side.sign
            if abs(after) > 1:
                return RiskVerdict.reject(self.name, f"position would be {after}, above 1")
            return None
        except Exception:
            return None


class LooseSettings(BaseModel):
    limit: int = 3


class LooseSettingsRule(RiskRule):
    """Its settings model is a plain pydantic model: unknown keys are ignored."""

    Settings = LooseSettings  # type: ignore[assignment]

    def check(self, intent, context):
        return None


class MisRoundingExchange(FakeExchange):
    """Says it rounds prices to the nearest tick, but truncates them."""

    def submit_order(self, order):
        instrument = self.venue.instruments.get(order.symbol)
        if instrument is not None and order.price is not None:
            order = order.model_copy(update={"price": instrument.round_price(order.price, "down")})
        super().submit_order(order)


class RepeatingExchange(FakeExchange):
    """Taking an order up after a restart, reports the journal's fills of it again."""

    def resume_order(self, order, fills):
        self._pending.extend(fills)
        return super().resume_order(order, fills)


class HttpSettings(NotifierSettings):
    url: str = "http://127.0.0.1:9"
    token: SecretStr = SecretStr("")


class BlockingNotifier(Notifier):
    """Posts each event synchronously: the engine waits for the network."""

    Settings = HttpSettings

    def send(self, event):
        body = json.dumps({"text": event.message}).encode()
        urllib.request.urlopen(urllib.request.Request(self.settings.url + "/send", data=body), timeout=5).read()


class LeakyNotifier(Notifier):
    """Prints each event with its bot token in front."""

    Settings = HttpSettings

    def send(self, event):
        print(f"[bot {self.settings.token.get_secret_value()}] {event.message}")


class TomorrowModel(Model):
    """Predicts the next bar's return, by reading it."""

    def fit(self, data, horizon):
        return {}

    def predict(self, data):
        close = data.close
        ahead = np.append(close[1:], close[-1])
        return np.log(ahead / close)

    def save(self, path):
        path.write_text("{}")

    @classmethod
    def load(cls, path):
        return cls()
'''

SUITES = """
from tradekit.testing.conformance import (
    ExchangeConformance,
    ModelConformance,
    NotifierConformance,
    RiskRuleConformance,
    StrategyConformance,
)

import broken_plugins as broken


class TestPeeking(StrategyConformance):
    plugin = broken.PeekingStrategy


class TestForgetful(StrategyConformance):
    plugin = broken.ForgetfulStrategy


class TestCoinFlip(StrategyConformance):
    plugin = broken.CoinFlipStrategy


class TestUnrounded(StrategyConformance):
    plugin = broken.UnroundedStrategy


class TestSwallowing(RiskRuleConformance):
    plugin = broken.SwallowingRule


class TestLooseSettings(RiskRuleConformance):
    plugin = broken.LooseSettingsRule


class TestMisRounding(ExchangeConformance):
    plugin = broken.MisRoundingExchange
    off_tick = "nearest"


class TestRepeating(ExchangeConformance):
    plugin = broken.RepeatingExchange


class TestBlocking(NotifierConformance):
    plugin = broken.BlockingNotifier

    def transport_settings(self, url):
        return {"url": url}


class TestLeaky(NotifierConformance):
    plugin = broken.LeakyNotifier


class TestTomorrow(ModelConformance):
    plugin = broken.TomorrowModel


def test_the_kit_fixtures_reach_a_plugin_authors_tests(tk_fake_exchange, tk_plugin_manager, tk_cli):
    assert tk_fake_exchange.price() == 100
    assert tk_plugin_manager.hook.tradekit_risk_check.get_hookimpls() == []
    assert tk_cli("--help").exit_code == 0


def test_a_registered_plugin_is_listed_during_its_test(tk_register):
    from tradekit.registry import Registry

    tk_register(broken.SwallowingRule, "tk_swallowing")
    assert "tk_swallowing" in Registry().names("risk")


def test_a_registered_plugin_is_gone_after_its_test():
    from tradekit.registry import Registry

    assert "tk_swallowing" not in Registry().names("risk")
"""

#: (test that must fail, the rule id its message starts with).
BROKEN_RULES = [
    ("TestPeeking::test_no_lookahead", "strategy.no-lookahead"),
    ("TestForgetful::test_survives_restart", "strategy.survives-restart"),
    ("TestCoinFlip::test_deterministic", "strategy.deterministic"),
    ("TestUnrounded::test_valid_intents", "strategy.valid-intents"),
    ("TestSwallowing::test_fail_closed", "risk.fail-closed"),
    ("TestLooseSettings::test_settings_validated", "risk.settings-validated"),
    ("TestMisRounding::test_rounding", "exchange.rounding"),
    ("TestRepeating::test_resume", "exchange.resume"),
    ("TestBlocking::test_never_blocks", "notifier.never-blocks"),
    ("TestLeaky::test_no_secrets", "notifier.no-secrets"),
    ("TestTomorrow::test_no_lookahead", "model.no-lookahead"),
]

#: Rules the same plugins keep: they must pass, so the suite blames only what is broken.
KEPT_RULES = [
    "TestPeeking::test_deterministic",
    "TestPeeking::test_valid_intents",
    "TestForgetful::test_no_lookahead",
    "TestForgetful::test_deterministic",
    "TestUnrounded::test_no_lookahead",
    "TestUnrounded::test_survives_restart",
    "TestSwallowing::test_returns_verdict",
    "TestSwallowing::test_settings_validated",
    "TestLooseSettings::test_returns_verdict",
    "TestMisRounding::test_order_kind_limit",
    "TestMisRounding::test_error_mapping",
    "TestRepeating::test_order_kind_limit",
    "TestRepeating::test_reconnect",
    "TestBlocking::test_no_secrets",
    "TestBlocking::test_survives_failure",
    "TestLeaky::test_never_blocks",
    "TestTomorrow::test_shape",
    "TestTomorrow::test_deterministic",
    "TestTomorrow::test_save_load",
    "test_the_kit_fixtures_reach_a_plugin_authors_tests",
    "test_a_registered_plugin_is_listed_during_its_test",
    "test_a_registered_plugin_is_gone_after_its_test",
]


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory: pytest.TempPathFactory, subprocess_pytest: Callable[..., Any]) -> Any:
    """One pytest run over every broken plugin's suite, in a fresh interpreter."""
    folder: Path = tmp_path_factory.mktemp("broken-plugins")
    return subprocess_pytest(folder, {"broken_plugins.py": PLUGINS, "test_broken_suites.py": SUITES})


@pytest.mark.parametrize(("test_id", "rule_id"), BROKEN_RULES, ids=[rule for _, rule in BROKEN_RULES])
def test_a_broken_rule_fails_with_its_id_first_in_the_message(broken_run: Any, test_id: str, rule_id: str) -> None:
    outcome = broken_run.of(test_id)
    assert outcome.outcome == "failed", f"{test_id} {outcome.outcome}: {outcome.message}\n{broken_run.output}"
    assert outcome.message.startswith(f"AssertionError: [{rule_id}] "), outcome.message


def test_rules_a_broken_plugin_keeps_still_pass(broken_run: Any) -> None:
    wrong = {test_id: broken_run.of(test_id) for test_id in KEPT_RULES if broken_run.of(test_id).outcome != "passed"}
    assert not wrong, f"{wrong}\n{broken_run.output}"


def test_a_leaked_secret_is_masked_in_the_failure_message(broken_run: Any) -> None:
    message = broken_run.of("TestLeaky::test_no_secrets").message
    assert "its secret setting 'token'" in message
    assert "tkSecret" not in message, "the failure message itself must not print the secret"
