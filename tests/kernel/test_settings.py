"""Settings: a TOML file, TRADEKIT_* variables and command-line options, validated before anything runs.

The command-line tests call ``tradekit.cli.main.main`` in-process (what the
``tradekit`` script runs) from an empty folder; a refused setting must leave
that folder empty: no journal, no report.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field, SecretStr, model_validator

from tradekit.errors import ConfigError
from tradekit.plugin import PluginSettings
from tradekit.settings import Settings, load_settings, validate_plugin_settings

RunMain = Callable[..., Any]


def write_config(folder: Path, text: str, name: str = "tradekit.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def refused(result: Any) -> str:
    """Assert the command stopped on a user error before running; return its message."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    assert list(Path.cwd().iterdir()) == [], "nothing may be written when a setting is refused"
    return str(result.stderr)


@pytest.fixture
def config(tmp_path: Path) -> Callable[[str], str]:
    """Write a TOML file outside the working folder; returns its path for --config."""

    def write(text: str) -> str:
        return str(write_config(tmp_path, text, "config.toml"))

    return write


def test_a_bad_value_in_the_file_names_key_value_and_expectation(run_main: RunMain, config: Any) -> None:
    path = config('[backtest]\ncash = "abc"\n')

    message = refused(run_main("--config", path, "backtest", "--strategy", "sma_cross"))

    assert f"invalid configuration (from {path}" in message
    assert "backtest.cash: got 'abc'; expected a valid decimal" in message


def test_an_unknown_top_level_key_lists_the_valid_keys(run_main: RunMain, config: Any) -> None:
    message = refused(run_main("--config", config("stratgy = 'sma_cross'\n"), "backtest", "--strategy", "sma_cross"))

    valid = ", ".join(sorted(Settings.model_fields))
    assert f"stratgy: unknown setting; valid settings here: {valid}" in message
    assert "strategy" in valid


def test_an_unknown_key_in_a_nested_table_lists_that_tables_keys(run_main: RunMain, config: Any) -> None:
    message = refused(run_main("--config", config("[backtest]\nfees = 0.1\n"), "backtest", "--strategy", "sma_cross"))
    assert "backtest.fees: unknown setting; valid settings here: cash, fee, fill_at" in message


def test_a_bad_type_in_a_plugin_table_names_the_plugin_key_and_value(run_main: RunMain, config: Any) -> None:
    path = config('[plugins.strategy.sma_cross]\nfast = "ten"\n')

    message = refused(run_main("--config", path, "backtest", "--strategy", "sma_cross"))

    assert "plugins.strategy.sma_cross.fast: got 'ten'; expected a valid integer" in message


def test_an_unknown_plugin_setting_lists_the_plugins_settings(run_main: RunMain, config: Any) -> None:
    path = config("[plugins.strategy.sma_cross]\nfastt = 3\n")

    message = refused(run_main("--config", path, "backtest", "--strategy", "sma_cross"))

    assert "plugins.strategy.sma_cross.fastt: unknown setting; valid settings here: " in message
    assert "here: fast, fraction, quantity, slow" in message


def test_a_plugins_model_validator_message_is_shown_with_the_table(run_main: RunMain, config: Any) -> None:
    message = refused(
        run_main(
            "--config",
            config("[plugins.strategy.sma_cross]\nfast = 50\n"),
            "backtest",
            "--strategy",
            "sma_cross",
        )
    )
    assert "plugins.strategy.sma_cross: got {'fast': 50}" in message
    assert "fast (50) must be shorter than slow (30)" in message


def test_a_bad_strategy_parameter_on_the_command_line_is_refused_the_same_way(run_main: RunMain) -> None:
    message = refused(run_main("backtest", "--strategy", "sma_cross", "--param", "fast=ten"))
    assert "plugins.strategy.sma_cross.fast: got 'ten'; expected a valid integer" in message


def test_a_malformed_parameter_says_how_to_write_it(run_main: RunMain) -> None:
    message = refused(run_main("backtest", "--strategy", "sma_cross", "--param", "fast"))
    assert "--param 'fast' must look like key=value" in message


def test_a_table_for_a_plugin_that_is_not_installed_is_warned_about_not_refused(
    run_main: RunMain, config: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A config file serves several runs; a table for a plugin that is not installed is likely a typo."""
    path = config("[plugins.strategy.sma_crosss]\nfast = 5\n")

    result = run_main("--config", path, "backtest", "--strategy", "sma_cross", "--no-files")

    assert result.exit_code == 0
    assert "[plugins.strategy.sma_crosss] is ignored: unknown strategy 'sma_crosss'; did you mean 'sma_cross'?" in (
        caplog.text
    )


def test_a_toml_syntax_error_gives_the_file_and_the_line(run_main: RunMain, config: Any) -> None:
    path = config('strategy = "sma_cross"\ntimeframe = = "1h"\n')

    message = refused(run_main("--config", path, "backtest"))

    assert f"config file {path} is not valid TOML" in message
    assert "line 2" in message


def test_a_missing_config_file_is_refused(run_main: RunMain, tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    message = refused(run_main("--config", str(missing), "backtest", "--strategy", "sma_cross"))
    assert f"config file {missing} does not exist" in message


def test_a_missing_file_named_by_tradekit_config_is_refused(
    run_main: RunMain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEKIT_CONFIG", str(tmp_path / "gone.toml"))
    message = refused(run_main("backtest", "--strategy", "sma_cross"))
    assert "(from $TRADEKIT_CONFIG) does not exist" in message


def test_a_bad_environment_variable_names_key_value_and_expectation(
    run_main: RunMain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEKIT_BACKTEST__CASH", "-5")
    message = refused(run_main("backtest", "--strategy", "sma_cross"))
    assert "backtest.cash: got '-5'; expected greater than 0" in message


def test_unparseable_json_in_an_environment_variable_is_refused(
    run_main: RunMain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEKIT_BACKTEST", "{bad")
    message = refused(run_main("backtest", "--strategy", "sma_cross"))
    assert "invalid TRADEKIT_* environment variable" in message
    assert "backtest" in message


def test_a_bad_command_line_option_is_refused_like_a_bad_file_value(run_main: RunMain) -> None:
    message = refused(run_main("backtest", "--strategy", "sma_cross", "--cash", "lots"))
    assert "backtest.cash: got 'lots'" in message


def test_on_the_command_line_the_environment_overrides_the_file(
    run_main: RunMain, config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file's bad cash would be refused; the variable replaces it, so the next problem is reported.
    monkeypatch.setenv("TRADEKIT_BACKTEST__CASH", "500")
    message = refused(run_main("--config", config('[backtest]\ncash = "abc"\n'), "backtest", "--strategy", "nosuch"))
    assert "cash" not in message
    assert "unknown strategy 'nosuch'" in message


def test_on_the_command_line_options_override_the_environment(
    run_main: RunMain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEKIT_BACKTEST__CASH", "-5")
    message = refused(run_main("backtest", "--strategy", "nosuch", "--cash", "1000"))
    assert "cash" not in message
    assert "unknown strategy 'nosuch'" in message


# --- load_settings ---------------------------------------------------------------------------------


@pytest.fixture
def in_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_defaults_apply_when_nothing_is_configured(in_empty_folder: Path) -> None:
    settings = load_settings()
    assert settings.exchange == "paper"
    assert settings.strategy is None
    assert settings.risk == ()
    assert settings.backtest.cash == Decimal(100_000)


def test_the_environment_overrides_the_file_key_by_key(in_empty_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(
        in_empty_folder, 'exchange = "fromfile"\ntimeframe = "5m"\n[backtest]\ncash = 10\nfee = 0.002\n'
    )
    monkeypatch.setenv("TRADEKIT_EXCHANGE", "fromenv")
    monkeypatch.setenv("TRADEKIT_BACKTEST__CASH", "20")

    settings = load_settings(path)

    assert settings.exchange == "fromenv"
    assert settings.timeframe == "5m"  # not in the environment: the file's
    assert settings.backtest.cash == Decimal(20)
    assert settings.backtest.fee == Decimal("0.002")  # the rest of the file's table survives


def test_command_line_options_override_the_environment(in_empty_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEKIT_EXCHANGE", "fromenv")
    monkeypatch.setenv("TRADEKIT_BACKTEST__CASH", "20")

    settings = load_settings(overrides={"exchange": "fromcli", "backtest": {"cash": "30"}, "strategy": None})

    assert settings.exchange == "fromcli"
    assert settings.backtest.cash == Decimal(30)
    assert settings.strategy is None  # an option not given (None) overrides nothing


@pytest.mark.parametrize("value", ["a,b", " a , b ", '["a","b"]', '["a", "b"]'])
def test_a_list_from_the_environment_may_be_comma_separated_or_json(
    in_empty_folder: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TRADEKIT_RISK", value)
    assert load_settings().risk == ("a", "b")


def test_a_list_from_the_file_is_a_tuple(in_empty_folder: Path) -> None:
    path = write_config(in_empty_folder, 'risk = ["max_position", "daily_loss"]\nnotifiers = ["telegram"]\n')
    settings = load_settings(path)
    assert settings.risk == ("max_position", "daily_loss")
    assert settings.notifiers == ("telegram",)


def test_the_config_file_is_found_by_tradekit_config_then_in_the_working_folder(
    in_empty_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(in_empty_folder, 'timeframe = "1h"\n')
    assert load_settings().timeframe == "1h"
    elsewhere = write_config(tmp_path, 'timeframe = "4h"\n', "elsewhere.toml")
    monkeypatch.setenv("TRADEKIT_CONFIG", str(elsewhere))
    assert load_settings().timeframe == "4h"


def test_plugin_tables_may_come_from_nested_environment_variables(
    in_empty_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(in_empty_folder, "[plugins.strategy.sma_cross]\nfast = 5\n")
    monkeypatch.setenv("TRADEKIT_PLUGINS__STRATEGY__SMA_CROSS__SLOW", "60")
    assert load_settings(path).plugins.strategy == {"sma_cross": {"fast": 5, "slow": "60"}}


def test_load_settings_raises_a_config_error_with_exit_code_2(
    in_empty_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEKIT_BACKTEST__FILL_AT", "tomorrow")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert raised.value.exit_code == 2
    assert "backtest.fill_at: got 'tomorrow'; expected 'close' or 'next_open'" in str(raised.value)


# --- validate_plugin_settings -------------------------------------------------------------------


class WebhookSettings(PluginSettings):
    """A plugin's settings with a secret and a cross-field rule."""

    url: str = Field(min_length=8)
    token: SecretStr = Field(min_length=10)
    retries: int = Field(default=3, ge=0)

    @model_validator(mode="after")
    def _https(self) -> WebhookSettings:
        if not self.url.startswith("https://"):
            raise ValueError(f"url must start with https://, was {self.url}")
        return self


def validate(raw: dict[str, Any]) -> Any:
    return validate_plugin_settings(WebhookSettings, raw, kind="notifier", name="webhook", origin="my.toml")


def test_plugin_settings_are_validated_and_typed() -> None:
    settings = validate({"url": "https://example.org/hook", "token": "abcdefghijkl", "retries": "5"})
    assert settings.retries == 5
    assert settings.token.get_secret_value() == "abcdefghijkl"


def test_every_problem_of_a_plugin_table_is_listed_on_its_own_line() -> None:
    with pytest.raises(ConfigError) as raised:
        validate({"url": "x", "token": "abcdefghijkl", "retries": -1, "colour": "red"})
    lines = str(raised.value).splitlines()
    assert lines[0] == "invalid configuration (from my.toml, TRADEKIT_* environment variables or command-line options):"
    assert "  plugins.notifier.webhook.url: got 'x'; expected a valid value (string should have at least 8" in (
        "\n".join(lines)
    )
    assert any(line.startswith("  plugins.notifier.webhook.retries: got -1; expected greater than") for line in lines)
    assert any(
        "plugins.notifier.webhook.colour: unknown setting; valid settings here: retries, token, url" in line
        for line in lines
    )


def test_a_missing_required_plugin_setting_is_named_without_echoing_the_table() -> None:
    with pytest.raises(ConfigError) as raised:
        validate({"token": "abcdefghijkl"})
    assert "plugins.notifier.webhook.url: missing; this setting is required" in str(raised.value)
    assert "abcdefghijkl" not in str(raised.value)


def test_a_model_validator_error_shows_the_table_with_its_secrets_masked() -> None:
    with pytest.raises(ConfigError) as raised:
        validate({"url": "http://example.org/hook", "token": "abcdefghijkl"})
    message = str(raised.value)
    assert "plugins.notifier.webhook: got {'url': 'http://example.org/hook', 'token': '***'}" in message
    assert "url must start with https://, was http://example.org/hook" in message
    assert "abcdefghijkl" not in message


def test_a_refused_secret_is_shown_as_stars() -> None:
    with pytest.raises(ConfigError) as raised:
        validate({"url": "https://example.org/hook", "token": "short-tok"})
    assert "plugins.notifier.webhook.token: got ***; expected a valid value" in str(raised.value)
    assert "short-tok" not in str(raised.value)
