"""Reaching the terminal: login, drops and restarts, lost replies, the mt5linux bridge, and what to install."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from tradekit_mt5 import MT5Exchange, MT5Settings
from tradekit_mt5 import terminal as terminal_module
from tradekit_mt5.terminal import install_message
from tradekit_mt5.testing import FakeTerminal, Fault
from tradekit_mt5.testing import constants as mt5

from tradekit import errors
from tradekit.domain.orders import Fill, Order, OrderStatus, OrderUpdate
from tradekit.engine.brokers import ExchangeBroker

SYMBOL = "EURUSD"


def test_login_uses_the_settings_and_a_wrong_password_is_an_authentication_error(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange]
) -> None:
    account = terminal.account
    connect(login=account.login, password=account.password, server=account.server)
    assert terminal.calls[0][2]["login"] == account.login
    with pytest.raises(errors.AuthenticationFailed, match=r"refused login 5012345 .*check login, password") as raised:
        connect(login=account.login, password="not-the-password", server=account.server)
    assert "not-the-password" not in str(raised.value)


def test_reads_ride_out_a_terminal_that_dropped_by_connecting_again(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], caplog: pytest.LogCaptureFixture
) -> None:
    exchange = connect()
    before = exchange.latest_price(SYMBOL)
    terminal.drop()
    with caplog.at_level(logging.WARNING, logger="tradekit.mt5"):
        assert exchange.latest_price(SYMBOL) == before
        assert exchange.fetch_bars(SYMBOL, "1m", limit=3).close.size == 3
    assert terminal.called("initialize") == 2
    assert "connecting to the MetaTrader 5 terminal again" in caplog.text


def test_a_closed_terminal_says_to_start_it_and_works_again_once_it_runs(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange]
) -> None:
    exchange = connect(retries=2)
    terminal.stop()
    with pytest.raises(errors.ExchangeUnavailable, match=r"found no running MetaTrader 5 terminal.*start the terminal"):
        exchange.balances()
    terminal.start()
    assert exchange.balances()["USD"].total == Decimal("10000.0")


def test_an_order_whose_reply_was_lost_is_found_by_its_tag_and_not_sent_twice(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    broker = ExchangeBroker(exchange)
    terminal.lose_replies = 1  # the deal is done, its answer lost with the connection
    order = make_order()
    broker.submit(order, order.created_at, None)  # type: ignore[arg-type]
    assert terminal.called("order_send") == 1
    fills = [e for e in exchange.poll_events() if isinstance(e, Fill)]
    assert [f.quantity for f in fills] == [Decimal("10000")]
    assert [p.volume for p in terminal.positions_get()] == [0.1]


def test_an_order_the_server_carried_out_but_answered_with_a_timeout_is_not_sent_again(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    broker = ExchangeBroker(exchange)
    terminal.server.faults.append(Fault(mt5.TRADE_RETCODE_TIMEOUT, executed=True))
    order = make_order()
    broker.submit(order, order.created_at, None)  # type: ignore[arg-type]
    assert terminal.called("order_send") == 1
    assert [f.quantity for f in exchange.poll_events() if isinstance(f, Fill)] == [Decimal("10000")]


def test_an_order_that_never_reached_the_terminal_is_sent_again_once(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    broker = ExchangeBroker(exchange)
    terminal.fail_next("order_send", -10004, "No IPC connection")  # refused before the server saw it
    order = make_order()
    broker.submit(order, order.created_at, None)  # type: ignore[arg-type]
    assert terminal.called("order_send") == 2
    assert [p.volume for p in terminal.positions_get()] == [0.1]


def test_an_order_that_never_reached_the_terminal_is_looked_for_a_while_then_given_up(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    terminal.fail_next("order_send", -10004, "No IPC connection")
    order = make_order()
    with pytest.raises(errors.ExchangeUnavailable):
        exchange.submit_order(order)
    assert exchange.poll_events() == []  # not found yet: it may still appear in the history
    tracked = exchange._tracker.get(order.client_order_id)
    assert tracked is not None
    tracked.since -= timedelta(minutes=5)
    (update,) = exchange.poll_events()
    assert isinstance(update, OrderUpdate)
    assert (update.status, update.reason) == (OrderStatus.REJECTED, "the terminal never received the order")
    looked = len(terminal.calls)
    assert exchange.poll_events() == [] and len(terminal.calls) == looked


def test_the_bridge_is_reached_on_localhost_and_a_broken_bridge_is_connected_again(
    terminal: FakeTerminal, monkeypatch: pytest.MonkeyPatch, connect: Callable[..., MT5Exchange]
) -> None:
    terminal.install(monkeypatch, bridge=True)
    exchange = connect()
    assert terminal.bridge_connections == [("127.0.0.1", 18812)]
    assert exchange.terminal.how == "the mt5linux bridge at 127.0.0.1:18812"
    terminal.bridge_running = False
    with pytest.raises(errors.ExchangeUnavailable, match=r"no mt5linux bridge answers at 127.0.0.1:18812"):
        exchange.latest_price(SYMBOL)
    terminal.bridge_running = True
    assert exchange.latest_price(SYMBOL) is not None
    assert len(terminal.bridge_connections) == 2


def test_a_bridge_not_started_says_how_to_start_it(terminal: FakeTerminal, monkeypatch: pytest.MonkeyPatch) -> None:
    terminal.install(monkeypatch, bridge=True)
    terminal.bridge_running = False
    exchange = MT5Exchange(MT5Settings(retries=1, bridge_port=18900), name="mt5")
    with pytest.raises(errors.ExchangeUnavailable, match=r"wine python -m mt5linux --host 127\.0\.0\.1 -p 18900"):
        exchange.connect()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.53"])
def test_the_bridge_may_listen_on_any_loopback_address(host: str) -> None:
    assert MT5Settings(bridge_host=host).bridge_host == host


@pytest.mark.parametrize("host", ["192.168.1.20", "0.0.0.0", "mt5.example.com"])
def test_a_bridge_elsewhere_is_refused_unless_the_user_insists(host: str) -> None:
    with pytest.raises(ValidationError, match=r"no authentication.*allow_remote_bridge = true"):
        MT5Settings(bridge_host=host)
    assert MT5Settings(bridge_host=host, allow_remote_bridge=True).bridge_host == host


def test_a_password_without_a_login_is_refused() -> None:
    with pytest.raises(ValidationError, match="need a login"):
        MT5Settings(password="secret-password")


@pytest.mark.parametrize(
    ("platform", "says"),
    [
        ("win32", "pip install MetaTrader5"),
        ("linux", "on Linux tradekit reaches a terminal running under Wine through the mt5linux bridge"),
        ("darwin", "on macOS"),
    ],
)
def test_the_install_message_names_what_this_platform_needs(platform: str, says: str) -> None:
    message = install_message(platform)
    assert says in message and "tradekit[mt5]" in message
    if platform != "win32":
        assert "mt5linux>=1.0,<1.1" in message and "wine python -m mt5linux --host 127.0.0.1 -p 18812" in message


def _no_terminal_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "MetaTrader5", raising=False)
    monkeypatch.delitem(sys.modules, "mt5linux", raising=False)
    monkeypatch.setattr(terminal_module, "_importable", lambda name: False)


def test_plugins_list_check_shows_what_to_install_without_the_package_or_the_bridge(
    monkeypatch: pytest.MonkeyPatch, tradekit: Callable[..., Any]
) -> None:
    _no_terminal_api(monkeypatch)
    result = tradekit("plugins", "list", "--kind", "exchange", "--check", "--json")
    rows = {row["name"]: row for row in json.loads(result.out)}
    assert rows["mt5"]["status"] == "error"
    assert "cannot reach a MetaTrader 5 terminal" in rows["mt5"]["error"]
    assert install_message() in rows["mt5"]["error"]
    assert rows["paper"]["status"] == "ok"  # one plugin's missing dependency breaks nothing else


def test_plugins_list_check_shows_mt5_healthy_once_the_api_is_there(
    terminal: FakeTerminal, tradekit: Callable[..., Any]
) -> None:
    result = tradekit("plugins", "list", "--kind", "exchange", "--check", "--json")
    assert {row["name"]: row["status"] for row in json.loads(result.out)}["mt5"] == "ok"


def test_a_run_on_mt5_without_the_api_stops_before_anything_with_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tradekit: Callable[..., Any]
) -> None:
    _no_terminal_api(monkeypatch)
    result = tradekit("run", "--strategy", "sma_cross", "--exchange", "mt5", "--max-bars", "1")
    assert result.code != 0
    assert "cannot reach a MetaTrader 5 terminal" in result.err and "pip install" in result.err


def test_asking_for_the_windows_package_where_it_is_missing_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _no_terminal_api(monkeypatch)
    exchange = MT5Exchange(MT5Settings(bridge="metatrader5", retries=1), name="mt5")
    with pytest.raises(errors.ConfigError, match='bridge = "metatrader5", but the MetaTrader5 package'):
        exchange.connect()
