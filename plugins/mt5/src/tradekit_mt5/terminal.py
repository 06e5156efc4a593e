"""Reaching the terminal: MetaQuotes' ``MetaTrader5`` package, or the ``mt5linux`` bridge; logged in; back after a drop.

The ``MetaTrader5`` package talks to a terminal on the same Windows machine;
it has no wheel for any other system. On Linux and macOS the terminal runs
under Wine with a Windows Python that has the package, and ``mt5linux`` (the
1.0.x line, a plain RPyC client) forwards every call to it: the same
functions, arguments and constants, so everything past :func:`load_api`
is the same for both.

A terminal that drops (closed, restarted, the bridge stopped) answers None
with an IPC error in ``last_error()``, or the bridge's socket breaks: the call
raises :class:`~tradekit.errors.ExchangeUnavailable` and the next one
connects and logs in again. Reads are retried that way; orders never are
(the engine looks an order up by its tag before it sends it again).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from tradekit.errors import AuthenticationFailed, ConfigError, ExchangeError, ExchangeUnavailable
from tradekit_mt5.codes import AUTH_FAILED, IPC_FAILURES, call_error
from tradekit_mt5.settings import MT5Settings, is_loopback

log = logging.getLogger("tradekit.mt5")

NATIVE = "MetaTrader5"
BRIDGE = "mt5linux"
BRIDGE_RANGE = "mt5linux>=1.0,<1.1"
START_BRIDGE = "wine python -m mt5linux --host 127.0.0.1 -p {port}"


def _importable(name: str) -> bool:
    """Whether ``name`` can be imported (already imported counts: a test's stand-in, for instance)."""
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def missing_api() -> str | None:
    """What to install, in words, when neither the MetaTrader5 package nor the mt5linux bridge is there; else None."""
    if _importable(NATIVE) or _importable(BRIDGE):
        return None
    return install_message()


def install_message(platform: str | None = None) -> str:
    """How to get the terminal's Python API on ``platform`` (this one by default)."""
    platform = platform or sys.platform
    if platform == "win32":
        return (
            'the MetaTrader5 package is not installed; install it with `pip install "tradekit[mt5]"` (or '
            "`pip install MetaTrader5`), then start the MetaTrader 5 terminal and log in to your account"
        )
    system = {"darwin": "macOS", "linux": "Linux"}.get(platform, platform)
    return (
        f"MetaTrader 5's Python package runs on Windows only; on {system} tradekit reaches a terminal running "
        f'under Wine through the mt5linux bridge, which is not installed: `pip install "tradekit[mt5]"` (or '
        f'`pip install "{BRIDGE_RANGE}"`). Then, under Wine, run the terminal, log in, and start the bridge '
        f"with `{START_BRIDGE.format(port=18812)}` (see the tradekit-mt5 README)"
    )


def load_api(settings: MT5Settings) -> tuple[Any, str]:
    """The terminal's API (the MetaTrader5 module, or an mt5linux connection) and how it is reached, in words."""
    if settings.bridge in ("auto", "metatrader5") and _importable(NATIVE):
        return importlib.import_module(NATIVE), "the MetaTrader5 package"
    if settings.bridge == "metatrader5":
        raise ConfigError(f'bridge = "metatrader5", but {install_message("win32")}')
    if not _importable(BRIDGE):
        raise ConfigError(install_message())
    if not is_loopback(settings.bridge_host):
        log.warning(
            "the mt5linux bridge at %s is not on this machine (allow_remote_bridge = true); it has no "
            "authentication: make sure only you can reach its port",
            settings.bridge_host,
        )
    where = f"{settings.bridge_host}:{settings.bridge_port}"
    module = importlib.import_module(BRIDGE)
    try:
        api = module.MetaTrader5(host=settings.bridge_host, port=settings.bridge_port, timeout=int(settings.timeout))
    except ImportError as error:
        raise ExchangeUnavailable(
            f"the mt5linux bridge at {where} answers, but its Windows Python cannot import MetaTrader5 ({error}); "
            "install it there: `wine python -m pip install MetaTrader5`"
        ) from None
    except (OSError, EOFError) as error:
        raise ExchangeUnavailable(
            f"no mt5linux bridge answers at {where} ({error}); under Wine, start the terminal, log in, and run "
            f"`{START_BRIDGE.format(port=settings.bridge_port)}`"
        ) from None
    return api, f"the mt5linux bridge at {where}"


class Terminal:
    """The connected terminal: every API call goes through :meth:`call` (once) or :meth:`read` (retried)."""

    def __init__(self, settings: MT5Settings, *, venue: str = "mt5") -> None:
        self.settings = settings
        self.venue = venue
        self.how = ""
        self.account: Any = None
        self.sleep: Callable[[float], None] = time.sleep
        self._api: Any = None
        self._lost = False
        self._warned_trading = False

    # -- connecting ---------------------------------------------------------------------------------

    @property
    def api(self) -> Any:
        """The API, connected and logged in (connecting first when needed)."""
        if self._api is None or self._lost:
            self._open()
        return self._api

    def connect(self) -> None:
        """Connect and log in now (retried like a read): the terminal must answer and hold the account."""
        self._retried("connect", lambda: self.api)

    def close(self) -> None:
        """Shut the connection to the terminal down (a later call connects again)."""
        api, self._api = self._api, None
        if api is not None:
            try:
                api.shutdown()
            except (OSError, EOFError) as error:
                log.debug("shutting the terminal connection down failed: %s", error)

    def _open(self) -> None:
        previous, self._api = self._api, None
        if previous is not None:
            log.warning("connecting to the MetaTrader 5 terminal again after it dropped")
            with contextlib.suppress(OSError, EOFError):  # the old connection is gone already
                previous.shutdown()
        api, how = load_api(self.settings)
        self.how = how
        settings = self.settings
        args: tuple[Any, ...] = (settings.terminal_path,) if settings.terminal_path else ()
        kwargs: dict[str, Any] = {"timeout": int(settings.timeout * 1000)}
        if settings.login is not None:
            kwargs["login"] = settings.login
            if settings.password is not None:
                kwargs["password"] = settings.password.get_secret_value()
            if settings.server:
                kwargs["server"] = settings.server
        try:
            ready = api.initialize(*args, **kwargs)
            if not ready:
                code, message = api.last_error()
                raise self._start_error(int(code), str(message))
            account = api.account_info()
            info = api.terminal_info()
        except (OSError, EOFError) as error:
            raise ExchangeUnavailable(f"{self.venue} connect: {how} stopped answering ({error})") from None
        if account is None:
            raise AuthenticationFailed(
                f"{self.venue} connect: the terminal is logged in to no account; log in there, or set login, "
                "password and server in [plugins.exchange.mt5]"
            )
        if settings.login is not None and int(account.login) != settings.login:
            raise AuthenticationFailed(
                f"{self.venue} connect: the terminal holds account {account.login}, not login {settings.login}"
            )
        if info is not None and not info.connected:
            raise ExchangeUnavailable(
                f"{self.venue} connect: the terminal is not connected to the broker's trade server "
                f"{account.server}; check its network connection"
            )
        if info is not None and not info.trade_allowed and not self._warned_trading:
            self._warned_trading = True
            log.warning("Algo Trading is off in the terminal: orders will be refused (retcode 10027) until it is on")
        self.account = account
        self._api, self._lost = api, False
        log.info("connected to account %s on %s through %s", account.login, account.server, how)

    def _start_error(self, code: int, message: str) -> ExchangeError:
        if code == AUTH_FAILED:
            login = self.settings.login
            return AuthenticationFailed(
                f"{self.venue} connect: the terminal refused login {login} on server {self.settings.server} "
                f"({message}); check login, password and server",
                venue_message=message,
            )
        if code in IPC_FAILURES:
            path = f" at {self.settings.terminal_path}" if self.settings.terminal_path else ""
            return ExchangeUnavailable(
                f"{self.venue} connect: {self.how} found no running MetaTrader 5 terminal{path} ({message}, "
                f"last_error {code}); start the terminal and log in (set terminal_path if several are installed)",
                venue_message=message,
            )
        return call_error(code, message, venue=self.venue, operation="connect")

    # -- calls ---------------------------------------------------------------------------------------

    def call(self, operation: str, function: str, *args: Any, missing_ok: bool = False, **kwargs: Any) -> Any:
        """Call ``function`` once; its None answer becomes the mapped ``last_error()`` (or None with ``missing_ok``).

        A dropped terminal or bridge raises ExchangeUnavailable and marks the
        connection lost, so the next call connects again.
        """
        api = self.api
        try:
            result = getattr(api, function)(*args, **kwargs)
            if result is not None:
                return result
            code, message = api.last_error()
        except (OSError, EOFError) as error:
            self._lost = True
            raise ExchangeUnavailable(
                f"{self.venue} {operation}: {self.how} stopped answering ({error}); it is connected again on the "
                "next call"
            ) from None
        if int(code) in IPC_FAILURES:
            self._lost = True
        elif missing_ok:
            return None
        raise call_error(int(code), str(message), venue=self.venue, operation=operation)

    def read(self, operation: str, function: str, *args: Any, missing_ok: bool = False, **kwargs: Any) -> Any:
        """:meth:`call`, tried again (reconnecting) while the terminal is unavailable, up to ``retries`` times."""
        return self._retried(operation, lambda: self.call(operation, function, *args, missing_ok=missing_ok, **kwargs))

    def _retried(self, operation: str, action: Callable[[], Any]) -> Any:
        attempts = self.settings.retries
        for attempt in range(1, attempts + 1):
            try:
                return action()
            except ExchangeError as error:
                if not error.retryable or attempt >= attempts:
                    raise
                wait = min(0.5 * 2 ** (attempt - 1), 10.0)
                log.warning("%s failed (%s); try %d of %d in %.1f s", operation, error, attempt + 1, attempts, wait)
                self.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")
