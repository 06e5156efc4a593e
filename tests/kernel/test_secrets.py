"""Secrets never reach the screen, the logs, the journal or a notification.

The end-to-end tests install a fake notifier whose ``bot_token`` is a
``SecretStr`` and which tries its best to leak it: it logs it, writes its
settings to a file, and raises an error quoting it. A known token is given in
the config file or in ``TRADEKIT_PLUGINS__NOTIFIER__FAKE__BOT_TOKEN``; it must
appear in no output and in no file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretBytes, SecretStr

from tradekit import secrets
from tradekit.domain.events import NotifierEvent, RiskAction
from tradekit.hooks import HookFacade, new_plugin_manager
from tradekit.hookspecs import hookimpl
from tradekit.secrets import (
    MASK,
    RedactingFilter,
    install_logging_filter,
    redact,
    redact_data,
    register_model_secrets,
    register_secret,
)

SECRET = "tk-SECRET-123456789"
SHORT_SECRET = "tk-SECRET-12"  # refused by the notifier's min_length, so never registered as a secret

# --- unit tests ------------------------------------------------------------------------------------


def test_redact_hides_every_registered_secret_wherever_it_appears() -> None:
    register_secret(SECRET)
    register_secret("second-secret-value")

    text = f"GET https://api.example/bot{SECRET}/send failed; key=second-secret-value; again {SECRET}"

    assert redact(text) == f"GET https://api.example/bot{MASK}/send failed; key={MASK}; again {MASK}"


def test_values_too_short_to_be_keys_are_not_registered() -> None:
    register_secret("ab")
    register_secret("12345")
    assert redact("ab 12345 abc") == "ab 12345 abc"


def test_forget_all_drops_every_secret() -> None:
    register_secret(SECRET)
    secrets.forget_all()
    assert redact(SECRET) == SECRET


def test_redact_data_scrubs_strings_inside_nested_structures_and_keeps_other_values() -> None:
    register_secret(SECRET)
    data = {"message": f"token {SECRET}", "items": [SECRET, 3, {"deep": (SECRET, 1.5)}], "count": 2}

    assert redact_data(data) == {
        "message": f"token {MASK}",
        "items": [MASK, 3, {"deep": (MASK, 1.5)}],
        "count": 2,
    }


def test_register_model_secrets_finds_secret_fields_at_any_depth() -> None:
    class Inner(BaseModel):
        passphrase: SecretBytes

    class Outer(BaseModel):
        api_key: SecretStr
        accounts: list[Inner]
        extra: dict[str, SecretStr]
        label: str

    register_model_secrets(
        Outer(
            api_key=SecretStr("key-0123456789"),
            accounts=[Inner(passphrase=SecretBytes(b"pass-0123456789"))],
            extra={"other": SecretStr("other-0123456789")},
            label="not-a-secret-label",
        )
    )

    assert redact("key-0123456789 pass-0123456789 other-0123456789") == f"{MASK} {MASK} {MASK}"
    assert redact("not-a-secret-label") == "not-a-secret-label"


def log_record(message: str, *args: Any) -> logging.LogRecord:
    return logging.LogRecord("tradekit.plugin.fake", logging.WARNING, __file__, 1, message, args, None)


def test_the_logging_filter_scrubs_the_formatted_message_and_the_exception_text() -> None:
    register_secret(SECRET)
    record = log_record("connecting with token %s to chat %d", SECRET, 42)
    record.exc_text = f"Traceback ...\nValueError: bad token {SECRET}"

    assert RedactingFilter().filter(record) is True

    assert record.getMessage() == f"connecting with token {MASK} to chat 42"
    assert record.exc_text == f"Traceback ...\nValueError: bad token {MASK}"


def test_the_logging_filter_leaves_records_alone_when_no_secret_is_known() -> None:
    record = log_record("price %s", "42000.5")
    RedactingFilter().filter(record)
    assert record.msg == "price %s"
    assert record.args == ("42000.5",)


def test_install_logging_filter_adds_one_filter_to_every_handler_once() -> None:
    logger = logging.getLogger("tradekit.tests.install_filter")
    handlers = [logging.NullHandler(), logging.NullHandler()]
    for handler in handlers:
        logger.addHandler(handler)
    try:
        install_logging_filter(logger)
        install_logging_filter(logger)
        for handler in handlers:
            assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    finally:
        for handler in handlers:
            logger.removeHandler(handler)


def test_notifiers_receive_events_with_secrets_scrubbed(samples: Any) -> None:
    received: list[NotifierEvent] = []

    class Keeps:
        @hookimpl
        def tradekit_notify(self, event: NotifierEvent) -> None:
            received.append(event)

    register_secret(SECRET)
    pm = new_plugin_manager()
    pm.register(Keeps(), name="keeps")

    HookFacade(pm).notify(
        NotifierEvent(kind="error", message=f"venue said: bad key {SECRET}", data={"url": f"/bot{SECRET}/x", "n": 1})
    )

    (event,) = received
    assert event.message == f"venue said: bad key {MASK}"
    assert event.data == {"url": f"/bot{MASK}/x", "n": 1}


def test_a_failing_notifiers_logged_error_is_scrubbed(samples: Any, caplog: pytest.LogCaptureFixture) -> None:
    class Leaks:
        @hookimpl
        def tradekit_notify(self, event: NotifierEvent) -> None:
            raise ConnectionError(f"401 for https://api.example/bot{SECRET}/send")

    register_secret(SECRET)
    pm = new_plugin_manager()
    pm.register(Leaks(), name="leaks")
    with caplog.at_level(logging.ERROR, logger="tradekit.hooks"):
        HookFacade(pm).notify(samples.event)

    assert SECRET not in caplog.text
    assert f"bot{MASK}/send" in caplog.text


def test_a_failing_risk_rules_reason_is_scrubbed(samples: Any) -> None:
    class Leaks:
        @hookimpl
        def tradekit_risk_check(self) -> None:
            raise PermissionError(f"account endpoint refused key {SECRET}")

    register_secret(SECRET)
    pm = new_plugin_manager()
    pm.register(Leaks(), name="leaks")

    (verdict,) = HookFacade(pm).risk_check(samples.intent, samples.context)

    assert verdict.action is RiskAction.REJECT
    assert SECRET not in verdict.reason
    assert f"refused key {MASK}" in verdict.reason


# --- end to end: the tradekit command with a notifier that tries to leak its token -------------------------

FAKE_NOTIFIER = '''
    import os
    import pathlib

    from pydantic import Field, SecretStr, model_validator

    from tradekit.plugin import Notifier, NotifierSettings


    class FakeSettings(NotifierSettings):
        """Settings of the fake notifier."""

        bot_token: SecretStr = Field(min_length=16, description="The bot's API token.")
        chat_id: int = Field(default=1, description="The chat to post to.")

        @model_validator(mode="after")
        def _positive_chat(self):
            if self.chat_id <= 0:
                raise ValueError(f"chat_id must be positive, was {self.chat_id}")
            return self


    class FakeNotifier(Notifier):
        """Writes what it is sent, and its settings, to $TK_NOTIFY_OUT; leaks its token wherever it can."""

        Settings = FakeSettings

        def __init__(self, settings=None, *, name=None):
            super().__init__(settings, name=name)
            token = self.settings.bot_token.get_secret_value()
            self.out = pathlib.Path(os.environ["TK_NOTIFY_OUT"])
            self.out.write_text(f"created with {self.settings!r}\\n")
            self.log.warning("connecting to the chat with token %s", token)
            self.log.debug("debug: the token is " + token)

        def send(self, event):
            with self.out.open("a") as handle:
                handle.write(f"{event!r}\\n{self.settings!r}\\n")
            if event.kind == "run_started":
                token = self.settings.bot_token.get_secret_value()
                raise ConnectionError(f"401 from https://api.example/bot{token}/sendMessage")
'''

SMALL_MARKET = "[plugins.exchange.paper]\nbars = 300\n"


class SecretRun:
    """One command's outputs and every file it left behind."""

    def __init__(self, process: Any, folder: Path) -> None:
        self.code = process.returncode
        self.stdout = process.stdout
        self.stderr = process.stderr
        self.files = {path: path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def leaky_cli(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., SecretRun]:
    """Run ``tradekit`` with the fake notifier installed, each run in its own folder."""
    import subprocess
    import sys
    import textwrap

    base = tmp_path_factory.mktemp("secrets")
    site = base / "site"
    dist_info = site / "tradekit_fake_notifier-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: tradekit-fake-notifier\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text("[tradekit.notifiers]\nfake = fake_notifier:FakeNotifier\n")
    (site / "fake_notifier.py").write_text(textwrap.dedent(FAKE_NOTIFIER))
    counter = iter(range(1000))

    def run(*args: str, config: str | None = None, env: dict[str, str] | None = None) -> SecretRun:
        import os

        folder = base / f"run-{next(counter)}"
        folder.mkdir()
        options: list[str] = []
        if config is not None:
            (folder / "tradekit.toml").write_text(config)
            options = ["--config", str(folder / "tradekit.toml")]
        environment = {key: value for key, value in os.environ.items() if not key.startswith("TRADEKIT_")}
        environment.update(
            PYTHONPATH=str(site),
            XDG_CACHE_HOME=str(base / "cache"),
            COLUMNS="250",
            PYTHONDONTWRITEBYTECODE="1",
            TK_NOTIFY_OUT=str(folder / "notifier-out.txt"),
        )
        environment.update(env or {})
        process = subprocess.run(
            [sys.executable, "-m", "tradekit.cli.main", *options, *args],
            cwd=folder,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return SecretRun(process, folder)

    return run


def assert_no_secret_anywhere(run: SecretRun) -> None:
    for secret in (SECRET, SHORT_SECRET):
        assert secret not in run.stdout
        assert secret not in run.stderr
        for path, content in run.files.items():
            if path.name == "tradekit.toml":
                continue  # the user's own config file holds it, of course
            assert secret.encode() not in content, f"{secret} leaked into {path.name}"
    assert "Traceback" not in run.stderr


NOTIFIER_CONFIG = 'strategy = "sma_cross"\nnotifiers = ["fake"]\n' + SMALL_MARKET


def test_plugins_info_shows_the_secret_setting_without_a_value(leaky_cli: Callable[..., SecretRun]) -> None:
    run = leaky_cli(
        "plugins",
        "info",
        "fake",
        config=NOTIFIER_CONFIG + f'[plugins.notifier.fake]\nbot_token = "{SECRET}"\n',
        env={"TRADEKIT_PLUGINS__NOTIFIER__FAKE__BOT_TOKEN": SECRET},
    )

    assert run.code == 0, run.stderr
    token_row = next(line for line in run.stdout.splitlines() if "bot_token" in line)
    assert "(secret)" in token_row and "(required)" in token_row
    assert_no_secret_anywhere(run)


@pytest.mark.parametrize(
    ("table", "env", "expected"),
    [
        pytest.param(
            f'bot_token = "{SECRET}"\nchat_id = -1\n',
            {},
            "chat_id must be positive, was -1",
            id="model-validator-secret-in-file",
        ),
        pytest.param(
            "chat_id = -1\n",
            {"TRADEKIT_PLUGINS__NOTIFIER__FAKE__BOT_TOKEN": SECRET},
            "chat_id must be positive, was -1",
            id="model-validator-secret-in-env",
        ),
        pytest.param(
            f'bot_token = "{SECRET}"\nchat_id = "general"\n',
            {},
            "plugins.notifier.fake.chat_id: got 'general'",
            id="other-field-bad",
        ),
        pytest.param(
            f'bot_token = "{SHORT_SECRET}"\n',
            {},
            "plugins.notifier.fake.bot_token: got ***",
            id="secret-itself-bad-in-file",
        ),
        pytest.param(
            "chat_id = 7\n",
            {"TRADEKIT_PLUGINS__NOTIFIER__FAKE__BOT_TOKEN": SHORT_SECRET},
            "plugins.notifier.fake.bot_token: got ***",
            id="secret-itself-bad-in-env",
        ),
        pytest.param("chat_id = 7\n", {}, "plugins.notifier.fake.bot_token: missing", id="secret-missing"),
    ],
)
def test_settings_errors_of_a_plugin_never_echo_its_secret(
    leaky_cli: Callable[..., SecretRun], table: str, env: dict[str, str], expected: str
) -> None:
    run = leaky_cli("backtest", "--no-files", config=NOTIFIER_CONFIG + "[plugins.notifier.fake]\n" + table, env=env)

    assert run.code == 2, run.stderr
    assert expected in run.stderr
    assert_no_secret_anywhere(run)
    assert "notifier-out.txt" not in {path.name for path in run.files}  # refused before the plugin was created


@pytest.mark.parametrize("source", ["file", "env"])
def test_a_plugin_that_logs_and_raises_with_its_token_leaks_it_nowhere(
    leaky_cli: Callable[..., SecretRun], source: str
) -> None:
    table = "[plugins.notifier.fake]\nchat_id = 7\n"
    env: dict[str, str] = {}
    if source == "file":
        table += f'bot_token = "{SECRET}"\n'
    else:
        env["TRADEKIT_PLUGINS__NOTIFIER__FAKE__BOT_TOKEN"] = SECRET

    run = leaky_cli("-vv", "backtest", "--no-files", config=NOTIFIER_CONFIG + table, env=env)

    assert_no_secret_anywhere(run)
    # The plugin did run and did try: its log lines are there, scrubbed.
    assert f"connecting to the chat with token {MASK}" in run.stderr
    assert f"debug: the token is {MASK}" in run.stderr
    written = {path.name: content for path, content in run.files.items()}
    assert b"bot_token=SecretStr('**********')" in written["notifier-out.txt"]
    if b"run_started" in written["notifier-out.txt"]:
        # The backtest ran far enough to notify: the notifier's error quoting the token was logged, scrubbed.
        assert f"bot{MASK}/sendMessage" in run.stderr
