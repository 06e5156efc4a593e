"""``telegram``: tradekit's events as Telegram messages, and commands back from the chats you allow.

Configure (``tradekit.toml``)::

    notifiers = ["telegram"]

    [plugins.notifier.telegram]
    chat_ids = [123456789]
    # the token is a secret: better in the environment,
    # TRADEKIT_PLUGINS__NOTIFIER__TELEGRAM__BOT_TOKEN=123456:ABC...

Events go through a queue and a thread of their own (:mod:`tradekit_telegram.outbox`), so
the engine never waits on Telegram; commands come by long polling in another thread
(:mod:`tradekit_telegram.commands`) in dry and live runs.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from tradekit.control import RunControl
from tradekit.domain.events import NotifierEvent, Severity
from tradekit.domain.run import RunInfo
from tradekit.hookspecs import hookimpl
from tradekit.plugin import Notifier, NotifierSettings
from tradekit.secrets import register_secret
from tradekit_telegram.client import BotApi
from tradekit_telegram.commands import CommandPoller
from tradekit_telegram.formatting import format_event
from tradekit_telegram.outbox import Outbox

#: What is sent unless ``events`` says otherwise: the issue's list, without every risk rejection.
DEFAULT_EVENTS: tuple[str, ...] = (
    "run_started",
    "run_stopped",
    "order_placed",
    "order_filled",
    "order_cancelled",
    "order_rejected",
    "error",
    "daily_summary",
    "circuit_breaker_tripped",
    "circuit_breaker_half_open",
    "circuit_breaker_reset",
    "kill_switch_engaged",
    "stop_requested",
    "resume_requested",
)


class TelegramSettings(NotifierSettings):
    """Settings of ``telegram``."""

    bot_token: SecretStr = Field(description="The bot's token from @BotFather (a secret: use the environment).")
    chat_ids: tuple[int, ...] = Field(min_length=1, description="Chats the events are sent to.")
    command_chat_ids: tuple[int, ...] | None = Field(
        default=None, description="Chats whose commands are obeyed; default: chat_ids."
    )
    commands: bool = Field(default=True, description="Answer commands (dry and live runs only).")
    events: tuple[str, ...] = Field(
        default=DEFAULT_EVENTS, description="Event kinds to send; an empty list sends every kind."
    )
    base_url: str = Field(default="https://api.telegram.org", description="The Bot API's address.")
    quiet_info: bool = Field(default=False, description="Send info events without a notification sound.")
    queue_size: int = Field(default=500, ge=1, description="Messages kept while Telegram is unreachable.")
    min_interval_seconds: float = Field(default=1.0, ge=0, description="Least time between two messages to a chat.")
    retry_seconds: float = Field(default=1.0, gt=0, description="First pause after a failure (it doubles, to 60 s).")
    request_timeout_seconds: float = Field(default=10.0, gt=0, description="Timeout of one API call.")
    poll_timeout_seconds: int = Field(default=25, ge=0, le=50, description="Long-poll length of getUpdates.")
    flush_timeout_seconds: float = Field(default=10.0, ge=0, description="At the end, time to send what is queued.")
    confirm_seconds: float = Field(default=60.0, gt=0, description="Time to /confirm a /flatten.")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"base_url must start with https:// (or http:// for a local test server), was {value!r}")
        return value.rstrip("/")


class TelegramNotifier(Notifier):
    """Sends events to Telegram chats and obeys their commands; see the module docstring."""

    Settings = TelegramSettings
    settings: TelegramSettings

    def __init__(self, settings: TelegramSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name or "telegram")
        token = self.settings.bot_token.get_secret_value()
        register_secret(token)
        self.api = BotApi(token, self.settings.base_url, timeout=self.settings.request_timeout_seconds)
        self.outbox = Outbox(
            self.api,
            capacity=self.settings.queue_size,
            min_interval=self.settings.min_interval_seconds,
            retry_seconds=self.settings.retry_seconds,
        )
        self.commands: CommandPoller | None = None

    def __repr__(self) -> str:
        return f"TelegramNotifier(name={self.name!r}, chat_ids={self.settings.chat_ids!r})"

    @hookimpl
    def tradekit_run_started(self, run: RunInfo, control: RunControl | None) -> None:
        """Start answering commands, in dry and live runs (a backtest takes none)."""
        settings = self.settings
        if not settings.commands or control is None or not control.accepts_requests or self.commands is not None:
            return
        allowed = settings.command_chat_ids if settings.command_chat_ids is not None else settings.chat_ids
        self.commands = CommandPoller(
            self.api,
            control,
            frozenset(allowed),
            lambda chat_id, text: self.outbox.put(chat_id, text),
            poll_timeout=settings.poll_timeout_seconds,
            confirm_seconds=settings.confirm_seconds,
            retry_seconds=settings.retry_seconds,
        )
        self.commands.start()

    def send(self, event: NotifierEvent) -> None:
        """Queue the event for every chat; returns at once."""
        text = format_event(event)
        silent = self.settings.quiet_info and event.severity is Severity.INFO
        for chat_id in self.settings.chat_ids:
            self.outbox.put(chat_id, text, silent=silent)

    def close(self) -> None:
        """Stop answering commands, send what is queued (within ``flush_timeout_seconds``), close the connections."""
        if self.commands is not None:
            self.commands.stop(timeout=1.0)
        self.outbox.close(self.settings.flush_timeout_seconds)
        self.api.close()
