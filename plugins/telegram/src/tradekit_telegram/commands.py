"""Commands from Telegram chats, by long-polling ``getUpdates`` in a thread of their own.

``/status``, ``/balance``, ``/positions`` answer from the running engine's account;
``/stop`` cancels every open order and ends the run; ``/flatten`` asks for a
``/confirm`` within ``confirm_seconds``, then also closes every position; ``/resume``
resets what risk rules paused (a tripped circuit breaker). Only chats listed in the
settings are obeyed: a message from any other chat is refused without an answer (so a
stranger learns nothing) and logged with its chat id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from tradekit.control import ControlAction, RunControl
from tradekit_telegram.client import BotApi, TelegramError
from tradekit_telegram.formatting import escape, format_balance, format_positions, format_status

log = logging.getLogger("tradekit.plugin.telegram")

HELP = (
    "<b>Commands</b>\n"
    "/status: the run and its account\n"
    "/balance: cash and equity\n"
    "/positions: open positions\n"
    "/stop: cancel every open order and stop the run\n"
    "/flatten: also close every position (asks to /confirm)\n"
    "/resume: reset a tripped circuit breaker\n"
    "/help: this list"
)


class CommandPoller:
    """Long-polls ``getUpdates`` and obeys the allowed chats' commands; see the module docstring."""

    def __init__(
        self,
        api: BotApi,
        control: RunControl,
        allowed_chat_ids: frozenset[int],
        reply: Callable[[int, str], None],
        *,
        poll_timeout: int = 25,
        confirm_seconds: float = 60.0,
        answer_timeout: float = 15.0,
        retry_seconds: float = 1.0,
    ) -> None:
        self.api = api
        self.control = control
        self.allowed = allowed_chat_ids
        self.reply = reply
        self.poll_timeout = poll_timeout
        self.confirm_seconds = confirm_seconds
        self.answer_timeout = answer_timeout
        self.retry_seconds = retry_seconds
        #: Commands obeyed and refused (chat id, text), for tests and the end-of-run log.
        self.obeyed: list[tuple[int, str]] = []
        self.refused: list[tuple[int, str]] = []
        self._offset: int | None = None
        self._flatten_asked: dict[int, float] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tradekit-telegram-commands", daemon=True)

    def start(self) -> None:
        """Start polling in the background."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling (the long poll in flight is abandoned, not awaited past ``timeout``)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- polling ----------------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            params: dict[str, Any] = {"timeout": self.poll_timeout, "allowed_updates": ["message"]}
            if self._offset is not None:
                params["offset"] = self._offset
            try:
                updates = self.api.call("getUpdates", params, timeout=self.poll_timeout + 10)
            except TelegramError as error:
                failures += 1
                if error.status == 401:
                    log.error("telegram: the bot token was refused (401); commands are off for this run")
                    return
                wait = error.retry_after or min(self.retry_seconds * 2 ** min(failures, 6), 60.0)
                if error.status == 409:
                    log.error("telegram: %s; is another process polling this bot? retrying in %.0f s", error, wait)
                else:
                    log.warning("telegram: polling for commands failed: %s; retrying in %.1f s", error, wait)
                self._stopping.wait(wait)
                continue
            failures = 0
            for update in updates if isinstance(updates, list) else []:
                if not isinstance(update, dict) or "update_id" not in update:
                    continue
                self._offset = int(update["update_id"]) + 1
                try:
                    self.handle(update)
                except Exception as error:  # one odd update must not end command handling
                    log.error(
                        "telegram: handling update %s failed: %s: %s", update["update_id"], type(error).__name__, error
                    )

    # -- one update ----------------------------------------------------------------------------------

    def handle(self, update: dict[str, Any]) -> None:
        """Obey (or refuse) the command in one update."""
        message = update.get("message")
        if not isinstance(message, dict):
            return
        chat = message.get("chat") or {}
        chat_id = chat.get("id")
        text = str(message.get("text") or "").strip()
        if not isinstance(chat_id, int) or not text:
            return
        if chat_id not in self.allowed:
            self.refused.append((chat_id, text))
            sender = (message.get("from") or {}).get("username") or (message.get("from") or {}).get("id")
            log.warning(
                "telegram: refused %r from chat %s (user %s): not one of the configured chat ids",
                text[:40],
                chat_id,
                sender,
            )
            return
        command, _, argument = text.partition(" ")
        command = command.split("@", 1)[0].lower()
        who = f"telegram chat {chat_id}"
        handler = {
            "/status": self._status,
            "/balance": self._balance,
            "/positions": self._positions,
            "/stop": self._stop,
            "/flatten": self._flatten,
            "/confirm": self._confirm,
            "/resume": self._resume,
            "/help": self._help,
            "/start": self._help,
        }.get(command)
        if handler is None:
            self.refused.append((chat_id, text))
            log.info("telegram: unknown command %r from chat %s", text[:40], chat_id)
            self.reply(chat_id, f"Unknown command <code>{escape(text[:40])}</code>.\n\n{HELP}")
            return
        self.obeyed.append((chat_id, command))
        log.info("telegram: %s from chat %s", command, chat_id)
        handler(chat_id, who, argument.strip())

    def _snapshot_or_say(self, chat_id: int) -> Any:
        snapshot = self.control.query_account(self.answer_timeout)
        if snapshot is None:
            self.reply(chat_id, "⌛ The run did not answer in time (it may be stopping); try again.")
        return snapshot

    def _status(self, chat_id: int, who: str, argument: str) -> None:
        snapshot = self._snapshot_or_say(chat_id)
        if snapshot is not None:
            self.reply(chat_id, format_status(snapshot))

    def _balance(self, chat_id: int, who: str, argument: str) -> None:
        snapshot = self._snapshot_or_say(chat_id)
        if snapshot is not None:
            self.reply(chat_id, format_balance(snapshot))

    def _positions(self, chat_id: int, who: str, argument: str) -> None:
        snapshot = self._snapshot_or_say(chat_id)
        if snapshot is not None:
            self.reply(chat_id, format_positions(snapshot))

    def _stop(self, chat_id: int, who: str, argument: str) -> None:
        if self.control.request(ControlAction.STOP, source=who, reason=argument):
            self.reply(chat_id, "⏹ Stop requested: cancelling every open order, then the run stops.")
        else:
            self.reply(chat_id, "This run takes no stop request (it has ended).")

    def _flatten(self, chat_id: int, who: str, argument: str) -> None:
        self._flatten_asked[chat_id] = time.monotonic()
        self.reply(
            chat_id,
            "⚠️ <b>Flatten</b> cancels every open order, closes every position at market and stops the run.\n"
            f"Send /confirm within {self.confirm_seconds:.0f} s to go ahead.",
        )

    def _confirm(self, chat_id: int, who: str, argument: str) -> None:
        asked = self._flatten_asked.pop(chat_id, None)
        if asked is None or time.monotonic() - asked > self.confirm_seconds:
            self.reply(
                chat_id,
                f"Nothing to confirm: send /flatten first (a confirmation is good for {self.confirm_seconds:.0f} s).",
            )
            return
        if self.control.request(ControlAction.FLATTEN, source=who, reason=argument):
            self.reply(chat_id, "⏹ Flatten requested: cancelling orders, closing positions, then the run stops.")
        else:
            self.reply(chat_id, "This run takes no flatten request (it has ended).")

    def _resume(self, chat_id: int, who: str, argument: str) -> None:
        if self.control.request(ControlAction.RESUME, source=who, reason=argument):
            self.reply(chat_id, "▶️ Resume requested: tripped risk rules reset (the circuit breaker closes).")
        else:
            self.reply(chat_id, "This run takes no resume request (it has ended).")

    def _help(self, chat_id: int, who: str, argument: str) -> None:
        self.reply(chat_id, HELP)
