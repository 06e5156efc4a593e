"""What the terminal answers, as the kernel's :mod:`tradekit.errors`.

Two kinds of answer exist. ``order_send`` and ``order_check`` return a
result whose ``retcode`` is one of MetaTrader 5's trade server return codes
(``TRADE_RETCODE_*``, 10004 to 10046); every other function returns None on
failure and leaves a ``(code, message)`` pair for ``last_error()`` (the
``RES_*`` codes: -1 to -8, and -10000 to -10005 when the terminal itself
cannot be reached). The numbers are MetaQuotes' (the MetaTrader5 package's
constants, as its documentation lists them); they are the same for every
broker, so they are written here once instead of being looked up at run time.

=========================================================  ===========================================
result                                                      tradekit
=========================================================  ===========================================
10008 placed, 10009 done, 10010 done partially              success
10004 requote, 10020 price changed                          sent again at the new price within
                                                            ``deviation``; beyond it ``OrderRejected``
10012 timeout, 10031 no connection, 10011 processing        ``ExchangeUnavailable`` (the order is looked
error, 10028 locked                                         up by its tag before any resend)
10024 too many requests                                     ``RateLimited``
10019 no money                                              ``InsufficientFunds``
10013-10016, 10022, 10030, 10034, 10035, 10038, 10042-46    ``InvalidOrder`` (volume, price, stops,
                                                            filling, expiration...)
10026/10027 AutoTrading disabled, 10018 market closed,      ``OrderRejected`` with the broker's words
10017 trade disabled, 10006 rejected and the rest           and what to do
-6 authorization failed                                     ``AuthenticationFailed``
-10000 to -10005 (no IPC connection, timeout...)            ``ExchangeUnavailable``; the next call
                                                            reconnects
-2 invalid parameters                                       ``InvalidOrder`` (placing) / ``ExchangeError``
=========================================================  ===========================================
"""

from __future__ import annotations

from dataclasses import dataclass

from tradekit import errors
from tradekit.secrets import redact

PLACED = 10008
DONE = 10009
DONE_PARTIAL = 10010
REQUOTE = 10004
PRICE_CHANGED = 10020
#: The codes of a request the trade server carried out.
SUCCESS = frozenset({PLACED, DONE, DONE_PARTIAL})
#: ``order_check``'s "the request would pass": 0 (some builds answer "done").
CHECK_PASSED = frozenset({0, DONE})
#: Answers after which the same market order may be sent again at a fresh price.
PRICE_MOVED = frozenset({REQUOTE, PRICE_CHANGED})

AUTH_FAILED = -6
AUTO_TRADING_DISABLED = -8
INVALID_PARAMS = -2
NOT_FOUND = -4
#: ``last_error`` codes of a terminal that cannot be reached (RES_E_INTERNAL_FAIL_*).
IPC_FAILURES = frozenset({-10000, -10001, -10002, -10003, -10004, -10005})

_ALGO_TRADING = (
    "turn on Algo Trading in the terminal (the toolbar button, and Tools > Options > Expert Advisors > "
    "Allow algorithmic trading)"
)


@dataclass(frozen=True)
class Outcome:
    """How tradekit reads one trade server return code."""

    name: str
    error: type[errors.ExchangeError] | None
    hint: str = ""


#: Operations that place an order: a refusal there is the order's (OrderRejected and its kinds).
_PLACING = frozenset({"submit_order", "order_check"})
_INVALID = errors.InvalidOrder
_REJECTED = errors.OrderRejected
_UNAVAILABLE = errors.ExchangeUnavailable

#: Every TRADE_RETCODE_* value MetaQuotes documents, with what it means for tradekit.
RETCODES: dict[int, Outcome] = {
    10004: Outcome("requote", _REJECTED, "the price moved beyond the deviation setting"),
    10006: Outcome("request rejected", _REJECTED),
    10007: Outcome("request canceled by trader", _REJECTED),
    10008: Outcome("order placed", None),
    10009: Outcome("request completed", None),
    10010: Outcome("only part of the request was completed", None),
    10011: Outcome("request processing error", _UNAVAILABLE),
    10012: Outcome("request canceled by timeout", _UNAVAILABLE),
    10013: Outcome("invalid request", _INVALID),
    10014: Outcome(
        "invalid volume", _INVALID, "the volume must lie within the symbol's minimum and maximum, in its steps"
    ),
    10015: Outcome(
        "invalid price",
        _INVALID,
        "buy limits go below the ask, sell limits above the bid, buy stops above the ask, sell stops below "
        "the bid; a stop-limit's limit lies at or beyond its stop on the passive side",
    ),
    10016: Outcome("invalid stops", _INVALID, "stop loss and take profit must lie on the losing and winning side"),
    10017: Outcome("trade is disabled", _REJECTED, "the broker does not allow trading this symbol now"),
    10018: Outcome("market is closed", _REJECTED, "orders are taken during the symbol's trading sessions"),
    10019: Outcome("there is not enough money to complete the request", errors.InsufficientFunds),
    10020: Outcome("prices changed", _REJECTED, "the price moved beyond the deviation setting"),
    10021: Outcome("there are no quotes to process the request", _REJECTED),
    10022: Outcome("invalid order expiration date", _INVALID),
    10023: Outcome("order state changed", _REJECTED),
    10024: Outcome("too frequent requests", errors.RateLimited),
    10025: Outcome("no changes in request", _REJECTED),
    10026: Outcome("autotrading disabled by server", _REJECTED, "the broker disabled algorithmic trading"),
    10027: Outcome("autotrading disabled by client terminal", _REJECTED, _ALGO_TRADING),
    10028: Outcome("request locked for processing", _UNAVAILABLE),
    10029: Outcome("order or position frozen", _REJECTED, "the price is within the symbol's freeze level"),
    10030: Outcome("invalid order filling type", _INVALID, "the symbol does not allow this filling policy"),
    10031: Outcome("no connection with the trade server", _UNAVAILABLE),
    10032: Outcome("operation is allowed only for live accounts", _REJECTED),
    10033: Outcome("the number of pending orders has reached the limit", _REJECTED),
    10034: Outcome("the volume of orders and positions for the symbol has reached the limit", _INVALID),
    10035: Outcome("incorrect or prohibited order type", _INVALID),
    10036: Outcome("position with the specified identifier has already been closed", _REJECTED),
    10038: Outcome("a close volume exceeds the current position volume", _INVALID),
    10039: Outcome("a close order already exists for the position", _REJECTED),
    10040: Outcome("the number of open positions has reached the limit", _REJECTED),
    10041: Outcome("the pending order activation request is rejected, the order is canceled", _REJECTED),
    10042: Outcome("only long positions are allowed", _INVALID),
    10043: Outcome("only short positions are allowed", _INVALID),
    10044: Outcome("only position closing is allowed", _INVALID),
    10045: Outcome("position closing is allowed only by FIFO rule", _INVALID),
    10046: Outcome("opposite positions on a single symbol are disabled", _INVALID),
}


def result_error(retcode: int, comment: str, *, venue: str, operation: str) -> errors.ExchangeError:
    """The kernel's error for a trade request the server did not carry out (``retcode`` not a success).

    The message carries the broker's own words (the result's ``comment``)
    and, where there is one, what to do about it.
    """
    outcome = RETCODES.get(retcode, Outcome(f"return code {retcode}", _REJECTED))
    said = redact(comment.strip()) or outcome.name
    hint = f"; {outcome.hint}" if outcome.hint else ""
    message = f"{venue} {operation}: {said} (retcode {retcode}, {outcome.name}){hint}"
    kind = outcome.error or _REJECTED
    if kind is errors.RateLimited:
        return errors.RateLimited(message, venue_message=said)
    if operation not in _PLACING and issubclass(kind, errors.OrderRejected):
        kind = errors.ExchangeError  # modifying or cancelling: nothing was placed to be refused
    return kind(message, venue_message=said)


def call_error(code: int, message: str, *, venue: str, operation: str) -> errors.ExchangeError:
    """The kernel's error for a function that returned None, from ``last_error()``'s ``(code, message)``."""
    said = redact(str(message).strip()) or "no message"
    prefix = f"{venue} {operation}: {said} (last_error {code})"
    if code in IPC_FAILURES:
        return errors.ExchangeUnavailable(
            f"{prefix}; the terminal cannot be reached: is it running and logged in?", venue_message=said
        )
    if code == AUTH_FAILED:
        return errors.AuthenticationFailed(f"{prefix}; check login, password and server", venue_message=said)
    if code == AUTO_TRADING_DISABLED:
        return errors.OrderRejected(f"{prefix}; {_ALGO_TRADING}", venue_message=said)
    if code == INVALID_PARAMS and operation in _PLACING:
        return errors.InvalidOrder(prefix, venue_message=said)
    if code in (-1, -3) and operation in _PLACING:
        # A generic failure says nothing of whether the order reached the server: look it up first.
        return errors.ExchangeUnavailable(prefix, venue_message=said)
    return errors.ExchangeError(prefix, venue_message=said)
