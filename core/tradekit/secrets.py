"""Keep secrets out of everything a run prints, logs, journals or notifies.

Plugin settings mark API keys, private keys and bot tokens as
``pydantic.SecretStr``; pydantic already shows those as ``'**********'``.
This module is the second wall: when a run's settings are loaded, every
secret value is registered here, and :func:`redact` replaces any occurrence of
one in a string (a venue's error message that echoes a URL with a token, for
instance). The logging filter and the notification path both use it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

MASK = "***"
# Very short values would mask innocent text ("1", "ab"); nobody's key is that short.
_MIN_SECRET_LENGTH = 6

_known: set[str] = set()


def register_secret(value: str) -> None:
    """Remember a secret value so :func:`redact` hides it."""
    if len(value) >= _MIN_SECRET_LENGTH:
        _known.add(value)


def register_model_secrets(model: BaseModel) -> None:
    """Register every ``SecretStr``/``SecretBytes`` value found in ``model``, nested included."""
    for value in _walk(model):
        if isinstance(value, SecretStr):
            register_secret(value.get_secret_value())
        elif isinstance(value, SecretBytes):
            register_secret(value.get_secret_value().decode("utf-8", "replace"))


def _walk(value: Any) -> Iterable[Any]:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            yield from _walk(item)
    else:
        yield value


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    if not _known:
        return text
    for secret in _known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_data(value: Any) -> Any:
    """Redact every string inside a JSON-like structure."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_data(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_data(v) for v in value)
    return value


def forget_all() -> None:
    """Drop every registered secret (between tests, or at the end of a run)."""
    _known.clear()


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs registered secrets from every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _known:
            record.msg = redact(record.getMessage())
            record.args = None
            if record.exc_text:
                record.exc_text = redact(record.exc_text)
        return True


def install_logging_filter(logger: logging.Logger | None = None) -> None:
    """Attach :class:`RedactingFilter` to every handler of ``logger`` (root by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
