"""A small client of the Telegram Bot API: one method call is one HTTPS POST with a JSON body.

The bot token is part of every URL (``/bot<token>/<method>``), and httpx puts
URLs into its exception messages and its ``httpx`` log lines. So: the token is
registered with :mod:`tradekit.secrets`, a filter scrubs it from the ``httpx``
and ``httpcore`` loggers, and every httpx error is turned into a
:class:`TelegramError` whose text never holds it (raised ``from None``, so no
chained traceback shows the original either).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from tradekit.secrets import MASK, redact, register_secret

log = logging.getLogger("tradekit.plugin.telegram")

#: Loggers of the HTTP stack whose records may carry a URL.
HTTP_LOGGERS = ("httpx", "httpcore", "httpcore.http11", "httpcore.connection", "httpcore.proxy")


class TelegramError(Exception):
    """A Bot API call failed.

    ``status`` is the HTTP status (None when no answer came), ``description``
    Telegram's words, ``retry_after`` the seconds a 429 asks to wait.
    ``retryable`` is True for network failures, 429 and 5xx: the same call may
    succeed later; any other failure would fail again.
    """

    def __init__(
        self,
        method: str,
        description: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.method = method
        self.description = description
        self.status = status
        self.retry_after = retry_after
        where = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"Telegram {method} failed ({where}): {description}")

    @property
    def retryable(self) -> bool:
        """Whether trying again later may succeed."""
        return self.status is None or self.status == 429 or self.status >= 500


class _ScrubToken(logging.Filter):
    """Removes the bot token from records of the HTTP stack's loggers."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg = message.replace(self.token, MASK)
            record.args = None
        return True


class BotApi:
    """Calls Bot API methods; see the module docstring for how the token is kept out of sight."""

    def __init__(self, token: str, base_url: str = "https://api.telegram.org", *, timeout: float = 10.0) -> None:
        if not token.strip():
            raise ValueError("the bot token is empty: set bot_token (from @BotFather)")
        self._token = token
        register_secret(token)
        self._filter = _ScrubToken(token)
        for name in HTTP_LOGGERS:
            logging.getLogger(name).addFilter(self._filter)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._client = httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"BotApi(base_url={self.base_url!r}, token={MASK!r})"

    def _scrub(self, text: str) -> str:
        return redact(text.replace(self._token, MASK))

    def call(self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None) -> Any:
        """Call ``method`` with ``params``; its ``result``, or :class:`TelegramError`."""
        url = f"{self.base_url}/bot{self._token}/{method}"
        try:
            response = self._client.post(url, json=params or {}, timeout=timeout or self.timeout)
        except httpx.HTTPError as error:
            # The exception's text and its request both hold the URL: neither leaves this method.
            raise TelegramError(method, self._scrub(f"{type(error).__name__}: {error}")) from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise TelegramError(
                method,
                self._scrub(f"the answer is not Bot API JSON: {response.text[:200]!r}"),
                status=response.status_code,
            )
        if payload.get("ok") is True and response.status_code < 400:
            return payload.get("result")
        parameters = payload.get("parameters") or {}
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        if retry_after is None and response.status_code == 429:
            retry_after = _seconds(response.headers.get("Retry-After"))
        status = payload.get("error_code") or response.status_code
        raise TelegramError(
            method,
            self._scrub(str(payload.get("description") or "no description")),
            status=int(status) if isinstance(status, int) or str(status).isdigit() else response.status_code,
            retry_after=float(retry_after) if isinstance(retry_after, (int, float)) else None,
        )

    def close(self) -> None:
        """Close the connection pool and detach the log filter."""
        self._client.close()
        for name in HTTP_LOGGERS:
            logging.getLogger(name).removeFilter(self._filter)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
