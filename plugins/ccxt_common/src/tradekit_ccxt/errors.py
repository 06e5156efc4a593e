"""ccxt's exceptions as the kernel's :mod:`tradekit.errors`, with the venue's own reason and no secrets.

ccxt raises one exception hierarchy for every venue; the engine decides what
to retry from the kernel's (``ExchangeError.retryable``). The mapping:

=======================================================  ==========================================
ccxt                                                     tradekit
=======================================================  ==========================================
``RateLimitExceeded``, ``DDoSProtection`` (429, 418)     :class:`~tradekit.errors.RateLimited`
                                                         with the reply's ``Retry-After``
``RequestTimeout``, ``NetworkError``, ``BadResponse``    :class:`~tradekit.errors.ExchangeUnavailable`
(timeouts, 5xx, cut connections, malformed replies)
``AuthenticationError`` and subclasses                   :class:`~tradekit.errors.AuthenticationFailed`
``InsufficientFunds``                                    :class:`~tradekit.errors.InsufficientFunds`
``OrderNotFound``                                        :class:`~tradekit.errors.OrderNotFound`
``InvalidOrder``, ``BadSymbol``, ``BadRequest``...       :class:`~tradekit.errors.InvalidOrder`
any other ``ExchangeError`` while placing an order       :class:`~tradekit.errors.OrderRejected`
any other ``ExchangeError``                              :class:`~tradekit.errors.ExchangeError`
=======================================================  ==========================================

ccxt puts the request's URL and the venue's reply into its messages; a
message is cut to the venue's reason where it can be found, its query string
dropped, and every registered secret masked (:func:`tradekit.secrets.redact`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from tradekit import errors
from tradekit.secrets import redact

# Query strings of signed requests (timestamp, signature) say nothing a user needs.
_QUERY = re.compile(r"(https?://[^\s?]+)\?\S*")
_REASON_KEYS = ("msg", "message", "error", "response", "reason")


def retry_after(headers: Mapping[str, Any] | None, now: float | None = None) -> float | None:
    """Seconds to wait from a reply's ``Retry-After`` header (seconds or an HTTP date), or None."""
    if not headers:
        return None
    value = None
    for key, item in headers.items():
        if str(key).lower() == "retry-after":
            value = str(item).strip()
            break
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - (time.time() if now is None else now), 0.0)


def venue_reason(message: str) -> str:
    """The venue's own words inside a ccxt message (``binance {"code":-2010,"msg":"..."}``), else the message."""
    start = message.find("{")
    if start >= 0:
        try:
            payload = json.loads(message[start:])
        except ValueError:
            payload = None
        found = _reason_in(payload)
        if found:
            return found
    return message


def _reason_in(payload: Any) -> str | None:
    if isinstance(payload, dict):
        for key in _REASON_KEYS:
            value = payload.get(key)
            if isinstance(value, str) and value:
                code = payload.get("code")
                return f"{value} (code {code})" if code is not None and key == "msg" else value
            nested = _reason_in(value)
            if nested:
                return nested
        for value in payload.values():
            nested = _reason_in(value)
            if nested:
                return nested
    if isinstance(payload, list):
        for item in payload:
            nested = _reason_in(item)
            if nested:
                return nested
    return None


def clean(message: str) -> str:
    """A ccxt message fit to show: query strings dropped, secrets masked."""
    return redact(_QUERY.sub(r"\1?…", message))


def map_ccxt_error(
    error: Exception,
    *,
    venue: str,
    operation: str,
    headers: Mapping[str, Any] | None = None,
    status: int | None = None,
    client_id: str | None = None,
) -> errors.ExchangeError:
    """The kernel's error for a ccxt exception raised by ``operation`` on ``venue``.

    ``headers`` and ``status`` are the reply's, when one came: a 429 or 418
    is a rate limit (with ``Retry-After``) and a 5xx an unavailable venue,
    whatever the venue's parser made of the body. An exception that is not
    ccxt's is returned as a non-retryable :class:`~tradekit.errors.ExchangeError`
    naming its type; callers decide whether to raise it. ``client_id``, ccxt's
    id of the venue, is dropped from the front of its messages.
    """
    import ccxt

    raw = str(error) or type(error).__name__
    if client_id and raw.startswith(f"{client_id} "):
        raw = raw[len(client_id) + 1 :]
    reason = clean(venue_reason(raw))
    detail = clean(raw)
    prefix = f"{venue} {operation}"
    placing = operation == "submit_order"
    if status in (418, 429) or isinstance(error, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
        wait = retry_after(headers)
        told = f"; it asks to wait {wait:g} s" if wait is not None else ""
        return errors.RateLimited(
            f"{prefix}: rate limited by the venue{told} ({reason})", retry_after=wait, venue_message=reason
        )
    if isinstance(error, ccxt.RequestTimeout):
        return errors.ExchangeUnavailable(f"{prefix}: timed out ({detail})", venue_message=reason)
    if (status is not None and status >= 500) or isinstance(error, (ccxt.NetworkError, ccxt.BadResponse)):
        return errors.ExchangeUnavailable(f"{prefix}: the venue did not answer usably ({detail})", venue_message=reason)
    if isinstance(error, ccxt.AuthenticationError):
        return errors.AuthenticationFailed(
            f"{prefix}: the venue refused the credentials ({reason}); check the key, its permissions "
            "and the IP allow-list",
            venue_message=reason,
        )
    if isinstance(error, ccxt.InsufficientFunds):
        return errors.InsufficientFunds(f"{prefix}: insufficient funds: {reason}", venue_message=reason)
    if isinstance(error, ccxt.OrderNotFound):
        return errors.OrderNotFound(f"{prefix}: order not found: {reason}", venue_message=reason)
    if isinstance(error, (ccxt.InvalidOrder, ccxt.BadRequest, ccxt.ArgumentsRequired, ccxt.OperationRejected)):
        kind = errors.InvalidOrder if placing else errors.ExchangeError
        return kind(f"{prefix}: refused: {reason}", venue_message=reason)
    if isinstance(error, ccxt.BaseError):
        kind = errors.OrderRejected if placing else errors.ExchangeError
        return kind(f"{prefix}: {reason}", venue_message=reason)
    return errors.ExchangeError(f"{prefix}: unexpected {type(error).__name__}: {clean(raw)}")
