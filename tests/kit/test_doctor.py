"""``tradekit plugins doctor``: per installed plugin, whether it loads, its hooks, its settings, its capabilities.

The command runs in a fresh interpreter, as a user runs it, seeing only the
kernel's built-ins (``paper``, ``sma_cross``) and fake installed distributions
(plugins installed in the development environment are hidden from it): one
whose import fails, one with a misspelled and an unmarked hook, an exchange
declaring its capabilities, a risk rule and a notifier that needs a secret token.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tradekit.domain import OrderType
from tradekit.plugin import Capabilities

BROKEN = 'raise RuntimeError("broken_venue cannot start: its SDK is missing")\n'

TYPO_HOOKS = """
    from tradekit.hookspecs import hookimpl
    from tradekit.plugin import Strategy


    class TypoHooks(Strategy):
        '''A strategy whose author misspelled one hook and forgot @hookimpl on another.'''

        def on_bar(self, ctx):
            pass

        @hookimpl
        def tradekit_fil(self, fill):
            pass

        def tradekit_run_started(self, run):
            pass
"""

VENUE = """
    from tradekit.domain import OrderType
    from tradekit.plugin import Capabilities, Exchange


    class DemoVenue(Exchange):
        '''An exchange that only takes market orders, on a testnet.'''

        capabilities = Capabilities(order_types=frozenset({OrderType.MARKET}), testnet=True, timeframes=("1h",))
"""

CAP = """
    from pydantic import Field

    from tradekit.hookspecs import hookimpl
    from tradekit.plugin import PluginSettings, RiskRule


    class CapSettings(PluginSettings):
        limit: int = Field(default=5, gt=0)


    class Cap(RiskRule):
        '''Counts fills too.'''

        Settings = CapSettings

        def check(self, intent, context):
            return None

        @hookimpl
        def tradekit_fill(self, fill):
            pass
"""

NEEDS_TOKEN = """
    from pydantic import SecretStr

    from tradekit.plugin import Notifier, NotifierSettings


    class TokenSettings(NotifierSettings):
        token: SecretStr
        chat: int = 0


    class NeedsToken(Notifier):
        '''Needs a token before it can send anything.'''

        Settings = TokenSettings

        def send(self, event):
            pass
"""


def install_healthy(kit: Any, site: Path) -> None:
    kit.write_distribution(
        site,
        "tk-doc-venue",
        "1.2",
        {"tradekit.exchanges": {"demo_venue": "tk_doc_venue:DemoVenue"}},
        {"tk_doc_venue.py": VENUE},
    )
    kit.write_distribution(
        site, "tk-doc-risk", "0.3", {"tradekit.risk": {"cap": "tk_doc_risk:Cap"}}, {"tk_doc_risk.py": CAP}
    )
    kit.write_distribution(
        site,
        "tk-doc-notifier",
        "2.0",
        {"tradekit.notifiers": {"needs_token": "tk_doc_notifier:NeedsToken"}},
        {"tk_doc_notifier.py": NEEDS_TOKEN},
    )


class Doctor:
    """Runs ``tradekit plugins doctor`` against one folder of installed distributions."""

    def __init__(self, kit: Any, site: Path, work: Path) -> None:
        self.kit, self.site, self.work = kit, site, work
        # The same command with the same config gives the same answer: run it once per module.
        self._runs: dict[tuple[tuple[str, ...], str | None], subprocess.CompletedProcess[str]] = {}

    def __call__(self, *args: str, config: str | None = None) -> subprocess.CompletedProcess[str]:
        if (args, config) not in self._runs:
            if config is not None:
                (self.work / "tradekit.toml").write_text(config)
            else:
                (self.work / "tradekit.toml").unlink(missing_ok=True)
            self._runs[(args, config)] = self.kit.tradekit_isolated(self.site, self.work, "plugins", "doctor", *args)
        return self._runs[(args, config)]

    def json(
        self, *args: str, config: str | None = None
    ) -> tuple[int, dict[tuple[str, str], dict[str, Any]], dict[str, Any]]:
        ran = self(*args, "--json", config=config)
        assert "Traceback" not in ran.stderr, ran.stderr
        report = json.loads(ran.stdout)
        return ran.returncode, {(row["kind"], row["name"]): row for row in report["plugins"]}, report


@pytest.fixture(scope="module")
def doctor_all(kit: Any, tmp_path_factory: pytest.TempPathFactory) -> Doctor:
    """The healthy fakes, plus one that fails to import and one with hook mistakes."""
    site, work = tmp_path_factory.mktemp("doctor-site"), tmp_path_factory.mktemp("doctor-work")
    install_healthy(kit, site)
    kit.write_distribution(
        site,
        "tk-doc-broken",
        "1.0",
        {"tradekit.exchanges": {"broken_venue": "tk_doc_broken:Venue"}},
        {"tk_doc_broken.py": BROKEN},
    )
    kit.write_distribution(
        site,
        "tk-doc-typo",
        "0.1",
        {"tradekit.strategies": {"typo_hooks": "tk_doc_typo:TypoHooks"}},
        {"tk_doc_typo.py": TYPO_HOOKS},
    )
    return Doctor(kit, site, work)


@pytest.fixture(scope="module")
def doctor_healthy(kit: Any, tmp_path_factory: pytest.TempPathFactory) -> Doctor:
    """Only plugins that load and hook in correctly."""
    site, work = tmp_path_factory.mktemp("doctor-healthy-site"), tmp_path_factory.mktemp("doctor-healthy-work")
    install_healthy(kit, site)
    return Doctor(kit, site, work)


GOOD_CONFIG = (
    'risk = ["cap"]\nnotifiers = ["needs_token"]\n'
    "[plugins.risk.cap]\nlimit = 3\n"
    '[plugins.notifier.needs_token]\ntoken = "t0ken-value"\n'
)


def test_a_plugin_that_fails_to_import_is_reported_with_its_error_and_exits_1(doctor_all: Doctor) -> None:
    code, rows, _ = doctor_all.json(config=GOOD_CONFIG)

    assert code == 1
    broken = rows[("exchange", "broken_venue")]
    assert broken["loads"] is False and broken["ok"] is False
    assert broken["distribution"] == "tk-doc-broken" and broken["version"] == "1.0"
    assert "RuntimeError: broken_venue cannot start: its SDK is missing" in broken["error"]
    assert broken["settings"] == "not checked"
    # The others are still checked.
    assert rows[("exchange", "paper")]["loads"] and rows[("strategy", "sma_cross")]["loads"]


def test_an_environment_where_every_plugin_loads_and_validates_exits_0(doctor_healthy: Doctor) -> None:
    code, rows, report = doctor_healthy.json(config=GOOD_CONFIG)

    assert code == 0, report
    assert rows[("risk", "cap")]["settings"] == "valid"
    assert rows[("notifier", "needs_token")]["settings"] == "valid"
    assert rows[("exchange", "paper")]["settings"] == "defaults"
    assert all(row["ok"] for row in rows.values())
    assert report["config"] == "tradekit.toml" and report["config_error"] is None


def test_hooks_are_listed_by_their_pluggy_names(doctor_healthy: Doctor) -> None:
    _, rows, _ = doctor_healthy.json(config=GOOD_CONFIG)

    assert rows[("risk", "cap")]["hooks"] == ["tradekit_fill", "tradekit_risk_check"]
    assert rows[("notifier", "needs_token")]["hooks"] == ["tradekit_notify"]
    assert rows[("strategy", "sma_cross")]["hooks"] == []


def test_a_misspelled_hook_is_a_problem_and_an_unmarked_one_a_warning(doctor_all: Doctor) -> None:
    code, rows, _ = doctor_all.json(config=GOOD_CONFIG)

    typo = rows[("strategy", "typo_hooks")]
    assert code == 1
    assert typo["loads"] is True and typo["ok"] is False
    assert typo["hook_problems"] == [
        "tradekit_fil is not a tradekit hook, and a run refuses it; did you mean tradekit_fill?"
    ]
    assert typo["hook_warnings"] == ["tradekit_run_started has no @hookimpl, so it is never called"]
    assert typo["hooks"] == []


def test_an_exchange_shows_the_capabilities_it_declares(doctor_healthy: Doctor) -> None:
    _, rows, _ = doctor_healthy.json(config=GOOD_CONFIG)

    expected = Capabilities(order_types=frozenset({OrderType.MARKET}), testnet=True, timeframes=("1h",)).describe()
    assert rows[("exchange", "demo_venue")]["capabilities"] == expected
    assert rows[("exchange", "paper")]["capabilities"]["simulated"] is True
    assert rows[("risk", "cap")]["capabilities"] is None


def test_settings_the_config_gets_wrong_are_invalid_named_by_key_without_showing_secrets(
    doctor_healthy: Doctor,
) -> None:
    config = GOOD_CONFIG.replace("limit = 3", "limit = -1") + 'chat = "not-a-number"\n'

    code, rows, report = doctor_healthy.json(config=config)

    assert code == 1
    cap = rows[("risk", "cap")]
    assert cap["settings"] == "invalid" and not cap["ok"]
    assert "plugins.risk.cap.limit: got -1" in cap["settings_message"]
    token = rows[("notifier", "needs_token")]
    assert token["settings"] == "invalid"
    assert "plugins.notifier.needs_token.chat: got 'not-a-number'" in token["settings_message"]
    assert "t0ken-value" not in json.dumps(report)


def test_a_plugin_the_config_does_not_use_may_lack_its_required_settings(doctor_healthy: Doctor) -> None:
    code, rows, _ = doctor_healthy.json(config=None)

    token = rows[("notifier", "needs_token")]
    assert code == 0
    assert token["settings"] == "needs settings" and token["ok"]
    assert "plugins.notifier.needs_token.token: missing" in token["settings_message"]


def test_a_config_that_does_not_load_is_reported_and_its_plugin_tables_still_checked(doctor_healthy: Doctor) -> None:
    code, rows, report = doctor_healthy.json(config="timeframe = 5\n[plugins.risk.cap]\nlimit = 0\n")

    assert code == 1
    assert "timeframe" in report["config_error"]
    assert rows[("risk", "cap")]["settings"] == "invalid"


def test_config_option_chooses_the_file_and_tables_of_missing_plugins_are_noted(
    doctor_healthy: Doctor, tmp_path: Path
) -> None:
    other = tmp_path / "other.toml"
    other.write_text("[plugins.risk.capp]\nlimit = 3\n[plugins.risk.cap]\nlimit = 4\n")

    code, rows, report = doctor_healthy.json("--config", str(other), config=None)

    assert code == 0
    assert rows[("risk", "cap")]["settings"] == "valid"
    assert report["config"] == str(other)
    assert report["notes"] == [
        "[plugins.risk.capp] is ignored: unknown risk rule 'capp'; did you mean 'cap'? installed: cap"
    ]


def test_kind_limits_the_report_to_one_kind(doctor_healthy: Doctor) -> None:
    _, rows, _ = doctor_healthy.json("--kind", "exchange", config=None)

    assert {kind for kind, _ in rows} == {"exchange"}
    assert {("exchange", "paper"), ("exchange", "demo_venue")} <= set(rows)


def test_the_table_shows_each_plugin_and_spells_out_every_problem_below_it(doctor_all: Doctor) -> None:
    ran = doctor_all(config=GOOD_CONFIG.replace("limit = 3", "limit = -1"))

    assert ran.returncode == 1
    assert "Traceback" not in ran.stdout + ran.stderr
    out = ran.stdout
    for header in ("kind", "name", "distribution", "loads", "settings", "hooks", "capabilities"):
        assert header in out
    broken_row = next(line for line in out.splitlines() if "broken_venue" in line and "│" in line)
    assert " no " in broken_row
    assert "exchange broken_venue does not load: RuntimeError: broken_venue cannot start" in out
    assert "strategy typo_hooks: tradekit_fil is not a tradekit hook" in out
    assert "risk cap settings invalid: plugins.risk.cap.limit: got -1" in out
    assert "3 of " in out and "plugins need attention" in out
