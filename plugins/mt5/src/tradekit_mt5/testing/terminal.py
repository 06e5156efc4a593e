"""A fake MetaTrader 5 terminal behind the ``MetaTrader5`` package's API, and behind an mt5linux bridge.

:meth:`FakeTerminal.module` is a module with the package's functions and
constants; put in ``sys.modules["MetaTrader5"]`` (:meth:`FakeTerminal.install`)
it is what ``import MetaTrader5`` finds, so the connector runs unmodified.
:meth:`FakeTerminal.bridge_module` stands in for ``mt5linux`` the same way:
its ``MetaTrader5(host, port)`` object forwards to the same terminal, or
refuses the connection when the bridge is "not started".

What the functions take and return follows MetaQuotes' documentation: the
arguments (positional and named as documented), None on failure with the
reason in ``last_error()``, named tuples (:mod:`~tradekit_mt5.testing.records`),
numpy rates arrays, and the trade server's return codes
(:mod:`~tradekit_mt5.testing.server`). Tests drive the market
(:meth:`FakeTerminal.advance`, :meth:`FakeTerminal.set_price`), break things
(:meth:`FakeTerminal.drop`, :meth:`FakeTerminal.stop`, ``server.faults``) and
read what was asked (``calls``).
"""

from __future__ import annotations

import contextlib
import sys
import time
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from tradekit.domain.bars import BarSeries
from tradekit_mt5.testing import constants as mt5
from tradekit_mt5.testing.market import FakeSymbol, Market
from tradekit_mt5.testing.records import TerminalInfo, make
from tradekit_mt5.testing.server import FakeAccount, TradeServer

#: The functions the MetaTrader5 package documents, in its documentation's order.
FUNCTIONS: tuple[str, ...] = (
    "initialize",
    "login",
    "shutdown",
    "version",
    "last_error",
    "account_info",
    "terminal_info",
    "symbols_total",
    "symbols_get",
    "symbol_info",
    "symbol_info_tick",
    "symbol_select",
    "copy_rates_from",
    "copy_rates_from_pos",
    "copy_rates_range",
    "orders_total",
    "orders_get",
    "order_calc_margin",
    "order_check",
    "order_send",
    "positions_total",
    "positions_get",
    "history_orders_total",
    "history_orders_get",
    "history_deals_total",
    "history_deals_get",
)
_NO_IPC = (mt5.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
_NOT_FOUND = (mt5.RES_E_INTERNAL_FAIL_INIT, "IPC initialize failed, MetaTrader 5 x64 not found")
_AUTH = (mt5.RES_E_AUTH_FAILED, "Terminal: Authorization failed")
_CALL_FAILED = (mt5.RES_E_FAIL, "Terminal: Call failed")
_COMMENT = (mt5.RES_E_INVALID_PARAMS, 'Invalid "comment" argument')
_OK = (mt5.RES_S_OK, "Success")


def _seconds(moment: Any) -> float:
    """A date argument (a datetime, naive taken as UTC, or seconds since 1970) in seconds."""
    if isinstance(moment, datetime):
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return float(moment)


class FakeTerminal:
    """A MetaTrader 5 terminal logged in to one account at a fake broker; see the module doc.

    ``symbols`` maps each symbol to its rules and the bars it replays;
    ``history`` bars of each are closed at the start. With
    ``advance_on_rates`` every ``copy_rates_from_pos`` of the first symbol
    asking from position 1 (the latest closed bars, as a live run polls)
    first closes the forming bar, so a run's bars close as fast as it polls.
    """

    def __init__(
        self,
        symbols: dict[str, tuple[FakeSymbol, BarSeries]],
        *,
        account: FakeAccount | None = None,
        history: int = 100,
        advance_on_rates: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.markets = {name: Market(symbol, bars, history) for name, (symbol, bars) in symbols.items()}
        self.account = account or FakeAccount()
        self.server = TradeServer(self.account, self.markets, clock)
        self.clock = clock
        self.advance_on_rates = advance_on_rates
        self.running = True
        self.bridge_running = True
        self.connected = False
        self.selected: set[str] = set()
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.bridge_connections: list[tuple[str, int]] = []
        self.lose_replies = 0
        self._failing: dict[str, tuple[int, str]] = {}
        self._error: tuple[int, str] = _OK

    # -- driving the market ----------------------------------------------------------------------------------

    def advance(self, bars: int = 1) -> None:
        """Close ``bars`` bars of every symbol, triggering what each bar's range reaches."""
        for _ in range(bars):
            for name, market in self.markets.items():
                closed = market.advance()
                if closed is not None:
                    self.server.on_prices(name, *closed)
                    bid = market.bid
                    self.server.on_prices(name, bid, bid, bid)

    def set_price(self, symbol: str, price: float) -> None:
        """Move the bid of ``symbol`` to ``price`` now, triggering what it reaches."""
        market = self.markets[symbol]
        market.set_bid(price)
        self.server.on_prices(symbol, market.bid, market.bid, market.bid)

    @property
    def algo_trading(self) -> bool:
        """The terminal's Algo Trading button."""
        return self.server.algo_trading

    @algo_trading.setter
    def algo_trading(self, on: bool) -> None:
        self.server.algo_trading = on

    # -- breaking things ---------------------------------------------------------------------------------------

    def drop(self) -> None:
        """The IPC connection breaks (the terminal restarted): calls fail until ``initialize`` again."""
        self.connected = False

    def stop(self) -> None:
        """The terminal is closed: ``initialize`` fails until :meth:`start`."""
        self.running = False
        self.connected = False

    def start(self) -> None:
        """The terminal runs again."""
        self.running = True

    def fail_next(self, name: str, code: int, message: str) -> None:
        """The next call of the function ``name`` returns None, with ``(code, message)`` in ``last_error()``."""
        self._failing[name] = (code, message)

    def called(self, name: str) -> int:
        """How many times the API function ``name`` was called."""
        return sum(1 for call in self.calls if call[0] == name)

    # -- the package's functions ------------------------------------------------------------------------------

    def _fail(self, error: tuple[int, str]) -> None:
        self._error = error

    def _ready(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        self.calls.append((name, args, kwargs))
        if not self.connected:
            self._fail(_NO_IPC)
            return False
        failing = self._failing.pop(name, None)
        if failing is not None:
            self._fail(failing)
            return False
        self._error = _OK
        return True

    def initialize(self, path: str | None = None, **kwargs: Any) -> bool:
        """Connect to the terminal (starting it), logging in when ``login`` is given."""
        self.calls.append(("initialize", (path,) if path else (), kwargs))
        if not self.running:
            self._fail(_NOT_FOUND)
            return False
        if "login" in kwargs and not self._credentials_ok(kwargs):
            self._fail(_AUTH)
            return False
        self.connected = True
        self._error = _OK
        return True

    def _credentials_ok(self, kwargs: dict[str, Any]) -> bool:
        a = self.account
        return (
            int(kwargs["login"]) == a.login
            and kwargs.get("password", a.password) == a.password
            and kwargs.get("server", a.server) == a.server
        )

    def login(self, login: int, **kwargs: Any) -> bool:
        """Log in to ``login`` on the connected terminal."""
        if not self._ready("login", (login,), kwargs):
            return False
        if not self._credentials_ok({"login": login, **kwargs}):
            self._fail(_AUTH)
            return False
        return True

    def shutdown(self) -> None:
        """Close the connection to the terminal."""
        self.calls.append(("shutdown", (), {}))
        self.connected = False

    def version(self) -> tuple[int, int, str] | None:
        """The terminal's version, build and release date."""
        if not self._ready("version", (), {}):
            return None
        return (500, 4150, "20 Dec 2023")

    def last_error(self) -> tuple[int, str]:
        """The last error's code and description."""
        return self._error

    def account_info(self) -> Any:
        """The account's figures."""
        return self.server.account_info() if self._ready("account_info", (), {}) else None

    def terminal_info(self) -> Any:
        """The terminal's state and settings."""
        if not self._ready("terminal_info", (), {}):
            return None
        return make(
            TerminalInfo,
            connected=True,
            trade_allowed=self.server.algo_trading,
            build=4150,
            maxbars=100_000,
            codepage=1252,
            company=self.account.company,
            name="MetaTrader 5",
            language="English",
            path="C:\\Program Files\\MetaTrader 5",
        )

    def symbols_total(self) -> int | None:
        """How many symbols the terminal lists."""
        return len(self.markets) if self._ready("symbols_total", (), {}) else None

    def symbols_get(self, group: str | None = None) -> tuple[Any, ...] | None:
        """Every symbol (``group`` masks are not modelled: every symbol is returned)."""
        if not self._ready("symbols_get", (), {"group": group}):
            return None
        now = self.clock()
        return tuple(m.info(name in self.selected, now) for name, m in self.markets.items())

    def symbol_info(self, symbol: str) -> Any:
        """One symbol's properties, or None."""
        if not self._ready("symbol_info", (symbol,), {}):
            return None
        market = self.markets.get(symbol)
        if market is None:
            self._fail(_CALL_FAILED)
            return None
        return market.info(symbol in self.selected, self.clock())

    def symbol_info_tick(self, symbol: str) -> Any:
        """The last tick of ``symbol``, or None."""
        if not self._ready("symbol_info_tick", (symbol,), {}):
            return None
        market = self.markets.get(symbol)
        if market is None:
            self._fail(_CALL_FAILED)
            return None
        return market.tick_info(self.clock())

    def symbol_select(self, symbol: str, enable: bool = True) -> bool:
        """Show (or hide) ``symbol`` in Market Watch."""
        if not self._ready("symbol_select", (symbol, enable), {}):
            return False
        if symbol not in self.markets:
            self._fail(_CALL_FAILED)
            return False
        if enable:
            self.selected.add(symbol)
        else:
            self.selected.discard(symbol)
        return True

    def _rates(self, name: str, symbol: str, timeframe: int, args: tuple[Any, ...]) -> Any:
        if not self._ready(name, (symbol, timeframe, *args), {}):
            return None
        market = self.markets.get(symbol)
        if market is None:
            self._fail(_CALL_FAILED)
            return None
        return market.rates(int(timeframe))

    def copy_rates_from(self, symbol: str, timeframe: int, date_from: Any, count: int) -> Any:
        """``count`` bars opened at or before ``date_from``, the last one the latest of them."""
        rates = self._rates("copy_rates_from", symbol, timeframe, (date_from, count))
        if rates is None:
            return None
        chosen = rates[rates["time"] <= _seconds(date_from)]
        return chosen[-int(count) :] if count else chosen[:0]

    def copy_rates_from_pos(self, symbol: str, timeframe: int, start_pos: int, count: int) -> Any:
        """``count`` bars ending ``start_pos`` bars before the forming one (position 0)."""
        if self.advance_on_rates and start_pos >= 1 and symbol == next(iter(self.markets)):
            self.advance()
        rates = self._rates("copy_rates_from_pos", symbol, timeframe, (start_pos, count))
        if rates is None:
            return None
        end = len(rates) - int(start_pos)
        return rates[max(end - int(count), 0) : max(end, 0)]

    def copy_rates_range(self, symbol: str, timeframe: int, date_from: Any, date_to: Any) -> Any:
        """The bars opened within ``[date_from, date_to]``."""
        rates = self._rates("copy_rates_range", symbol, timeframe, (date_from, date_to))
        if rates is None:
            return None
        times = rates["time"]
        return rates[(times >= _seconds(date_from)) & (times <= _seconds(date_to))]

    def orders_total(self) -> int | None:
        """How many orders are working."""
        return len(self.server.orders) if self._ready("orders_total", (), {}) else None

    def orders_get(self, symbol: str | None = None, group: str | None = None, ticket: int | None = None) -> Any:
        """Working orders (of ``symbol``, or by ``ticket``)."""
        if not self._ready("orders_get", (), {"symbol": symbol, "group": group, "ticket": ticket}):
            return None
        return self.server.order_records(symbol=symbol, ticket=ticket)

    def order_calc_margin(self, action: int, symbol: str, volume: float, price: float) -> float | None:
        """The margin ``volume`` lots of ``symbol`` at ``price`` need, in the account currency."""
        if not self._ready("order_calc_margin", (action, symbol, volume, price), {}):
            return None
        return self.server.margin(symbol, float(volume), float(price))

    def order_check(self, request: dict[str, Any]) -> Any:
        """What sending ``request`` would meet."""
        if not self._ready("order_check", (dict(request),), {}):
            return None
        if len(str(request.get("comment") or "")) > 31:
            self._fail(_COMMENT)
            return None
        return self.server.check(request)

    def order_send(self, request: dict[str, Any]) -> Any:
        """Send ``request`` to the trade server."""
        if not self._ready("order_send", (dict(request),), {}):
            return None
        if len(str(request.get("comment") or "")) > 31:
            self._fail(_COMMENT)
            return None
        result = self.server.send(request)
        if self.lose_replies:
            self.lose_replies -= 1
            self.connected = False  # the request went through; its answer is lost with the connection
            self._fail(_NO_IPC)
            return None
        return result

    def positions_total(self) -> int | None:
        """How many positions are open."""
        return len(self.server.positions) if self._ready("positions_total", (), {}) else None

    def positions_get(self, symbol: str | None = None, group: str | None = None, ticket: int | None = None) -> Any:
        """Open positions (of ``symbol``, or by ``ticket``)."""
        if not self._ready("positions_get", (), {"symbol": symbol, "group": group, "ticket": ticket}):
            return None
        return self.server.position_records(symbol=symbol, ticket=ticket)

    def _span(self, args: tuple[Any, ...]) -> tuple[float, float]:
        if len(args) >= 2:
            return _seconds(args[0]), _seconds(args[1])
        return float("-inf"), float("inf")

    def history_orders_total(self, date_from: Any, date_to: Any) -> int | None:
        """How many orders the history holds between the dates."""
        found = self.history_orders_get(date_from, date_to)
        return None if found is None else len(found)

    def history_orders_get(
        self, *args: Any, group: str | None = None, ticket: int | None = None, position: int | None = None
    ) -> Any:
        """Finished orders: between two dates, or by ``ticket``, or by ``position``."""
        if not self._ready("history_orders_get", args, {"group": group, "ticket": ticket, "position": position}):
            return None
        start, end = self._span(args)
        return self.server.history_records(start=start, end=end, ticket=ticket, position=position)

    def history_deals_total(self, date_from: Any, date_to: Any) -> int | None:
        """How many deals the history holds between the dates."""
        found = self.history_deals_get(date_from, date_to)
        return None if found is None else len(found)

    def history_deals_get(
        self, *args: Any, group: str | None = None, ticket: int | None = None, position: int | None = None
    ) -> Any:
        """Deals: between two dates, or of the order ``ticket``, or of ``position``."""
        if not self._ready("history_deals_get", args, {"group": group, "ticket": ticket, "position": position}):
            return None
        start, end = self._span(args)
        return self.server.deal_records(start=start, end=end, order=ticket, position=position)

    # -- standing in for the packages --------------------------------------------------------------------------

    def module(self) -> types.ModuleType:
        """A ``MetaTrader5`` module: the package's functions (bound to this terminal) and constants."""
        module = types.ModuleType("MetaTrader5", "A fake MetaTrader 5 terminal (tradekit_mt5.testing).")
        _fill(module, self)
        module.__version__ = "5.0.4424"  # type: ignore[attr-defined]
        module.__author__ = "tradekit_mt5.testing"  # type: ignore[attr-defined]
        return module

    def bridge_module(self) -> types.ModuleType:
        """An ``mt5linux`` module whose ``MetaTrader5(host, port, timeout)`` connects to this terminal."""
        terminal = self

        class MetaTrader5:
            """mt5linux's client: the package's functions and constants, over a connection to the bridge."""

            def __init__(self, host: str = "0.0.0.0", port: int = 18812, timeout: int = 300) -> None:
                if not terminal.bridge_running:
                    raise ConnectionRefusedError(111, "Connection refused")
                terminal.bridge_connections.append((host, port))
                _fill(self, terminal, bridged=True)

        module = types.ModuleType("mt5linux", "A fake mt5linux bridge (tradekit_mt5.testing).")
        module.MetaTrader5 = MetaTrader5  # type: ignore[attr-defined]
        return module

    def install(self, monkeypatch: Any, *, bridge: bool = False) -> None:
        """Make ``import MetaTrader5`` (or, with ``bridge``, ``import mt5linux`` only) find this terminal."""
        if bridge:
            monkeypatch.delitem(sys.modules, "MetaTrader5", raising=False)
            monkeypatch.setitem(sys.modules, "mt5linux", self.bridge_module())
        else:
            monkeypatch.setitem(sys.modules, "MetaTrader5", self.module())

    @contextlib.contextmanager
    def installed(self) -> Iterator[types.ModuleType]:
        """:meth:`install` outside pytest: ``import MetaTrader5`` finds this terminal inside the block."""
        previous = sys.modules.get("MetaTrader5")
        module = self.module()
        sys.modules["MetaTrader5"] = module
        try:
            yield module
        finally:
            if previous is None:
                sys.modules.pop("MetaTrader5", None)
            else:
                sys.modules["MetaTrader5"] = previous


def _fill(target: Any, terminal: FakeTerminal, *, bridged: bool = False) -> None:
    for name in dir(mt5):
        if name.isupper():
            setattr(target, name, getattr(mt5, name))
    for name in FUNCTIONS:
        function = getattr(terminal, name)
        setattr(target, name, _over_bridge(terminal, function) if bridged else function)


def _over_bridge(terminal: FakeTerminal, function: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        if not terminal.bridge_running:
            raise EOFError("connection closed by peer")  # what RPyC raises when the server went away
        return function(*args, **kwargs)

    return call
