"""Errors of the kernel.

Two families matter to a user:

* :class:`UserError` and its subclasses are mistakes a user can make (a bad
  config value, an unknown plugin name, a malformed data file). The CLI prints
  their message, without a traceback, and exits with their ``exit_code``.
* :class:`ExchangeError` and its subclasses are what an exchange plugin raises
  when the venue refuses or fails. Connectors map their client library's errors
  onto these so the engine can decide what may be retried.
"""

from __future__ import annotations


class TradekitError(Exception):
    """Base of every error the kernel defines."""


class UserError(TradekitError):
    """A mistake the user can fix; shown as a message, never as a traceback.

    ``exit_code`` follows the convention of command-line tools: 2 for bad
    usage or configuration, 1 for anything else a user can fix.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\n{self.hint}"


class ConfigError(UserError):
    """A configuration value, CLI argument or plugin setting was refused."""

    exit_code = 2


class UnknownPluginError(UserError):
    """A plugin name that no installed distribution provides."""

    exit_code = 2


class DuplicatePluginError(UserError):
    """Two distributions claim the same plugin name in one group."""

    exit_code = 2


class PluginLoadError(UserError):
    """A plugin that is installed but could not be imported or created."""

    exit_code = 1


class DataError(UserError):
    """A market-data file that cannot be used: names the file, row and problem."""

    exit_code = 2


class InvalidTransitionError(TradekitError):
    """An order was asked to move to a state its lifecycle does not allow."""


class ExchangeError(TradekitError):
    """Base of the errors an exchange plugin raises.

    ``retryable`` tells the engine whether the same request may be tried
    again. Order submission is never blindly retried: the engine first looks
    the order up by its client order id.
    """

    retryable: bool = False

    def __init__(self, message: str, *, venue_message: str | None = None) -> None:
        super().__init__(message)
        self.venue_message = venue_message


class ExchangeUnavailable(ExchangeError):
    """Network failure, timeout or a 5xx answer: the request may be retried."""

    retryable = True


class RateLimited(ExchangeError):
    """The venue asked us to slow down; ``retry_after`` is in seconds if it said."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, venue_message: str | None = None) -> None:
        super().__init__(message, venue_message=venue_message)
        self.retry_after = retry_after


class AuthenticationFailed(ExchangeError):
    """Credentials missing, wrong, or without the needed permission."""


class OrderRejected(ExchangeError):
    """The venue refused an order; ``venue_message`` carries its reason."""


class InsufficientFunds(OrderRejected):
    """Not enough free balance or margin for the order."""


class InvalidOrder(OrderRejected):
    """The order breaks a venue rule: tick, lot, minimum notional, post-only..."""


class OrderStateUnknown(ExchangeError):
    """A submission failed and the order could not be looked up either: it may or may not rest.

    The engine keeps such an order as sent (NEW) and reconciles it from the
    venue's later reports; it is never resent blindly nor reported as refused.
    """


class OrderNotFound(ExchangeError):
    """The venue does not know the order asked for."""
