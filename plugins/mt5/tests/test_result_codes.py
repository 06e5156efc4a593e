"""What the trade server answers, as tradekit's errors: success, requotes within the deviation, and refusals."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from tradekit_mt5 import MT5Exchange
from tradekit_mt5.testing import FakeAccount, FakeSymbol, FakeTerminal, Fault
from tradekit_mt5.testing import constants as mt5

from tradekit import errors
from tradekit.domain.orders import Fill, Order, OrderStatus, OrderType

SYMBOL = "EURUSD"


PIP = Decimal("0.0001")


@pytest.mark.parametrize(
    ("retcode", "error", "words"),
    [
        (mt5.TRADE_RETCODE_REJECT, errors.OrderRejected, "Request rejected"),
        (mt5.TRADE_RETCODE_INVALID, errors.InvalidOrder, "Invalid request"),
        (mt5.TRADE_RETCODE_INVALID_VOLUME, errors.InvalidOrder, "Invalid volume"),
        (mt5.TRADE_RETCODE_INVALID_PRICE, errors.InvalidOrder, "Invalid price"),
        (mt5.TRADE_RETCODE_INVALID_STOPS, errors.InvalidOrder, "Invalid stops"),
        (mt5.TRADE_RETCODE_INVALID_FILL, errors.InvalidOrder, "Unsupported filling mode"),
        (mt5.TRADE_RETCODE_TRADE_DISABLED, errors.OrderRejected, "Trade disabled"),
        (mt5.TRADE_RETCODE_MARKET_CLOSED, errors.OrderRejected, "Market closed"),
        (mt5.TRADE_RETCODE_NO_MONEY, errors.InsufficientFunds, "No money"),
        (mt5.TRADE_RETCODE_PRICE_OFF, errors.OrderRejected, "No prices"),
        (mt5.TRADE_RETCODE_SERVER_DISABLES_AT, errors.OrderRejected, "AutoTrading disabled by server"),
        (mt5.TRADE_RETCODE_CLIENT_DISABLES_AT, errors.OrderRejected, "turn on Algo Trading"),
        (mt5.TRADE_RETCODE_TIMEOUT, errors.ExchangeUnavailable, "Request canceled by timeout"),
        (mt5.TRADE_RETCODE_CONNECTION, errors.ExchangeUnavailable, "No connection"),
        (mt5.TRADE_RETCODE_ERROR, errors.ExchangeUnavailable, "Request processing error"),
        (mt5.TRADE_RETCODE_TOO_MANY_REQUESTS, errors.RateLimited, "Too many requests"),
    ],
)
def test_a_refusal_of_order_send_is_the_kernels_error_with_the_brokers_words(
    retcode: int,
    error: type[errors.ExchangeError],
    words: str,
    terminal: FakeTerminal,
    connect: Callable[..., MT5Exchange],
    make_order: Callable[..., Order],
) -> None:
    exchange = connect()
    terminal.server.faults.append(Fault(retcode))
    with pytest.raises(errors.ExchangeError, match=words) as raised:
        exchange.submit_order(make_order())
    assert type(raised.value) is error
    assert f"retcode {retcode}" in str(raised.value) and raised.value.venue_message
    assert terminal.positions_get() == () and terminal.server.deals == []


def test_done_and_placed_are_both_success(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    terminal.server.pending_retcode = mt5.TRADE_RETCODE_PLACED
    order = make_order(type=OrderType.LIMIT, price=Decimal(repr(terminal.markets[SYMBOL].bid)) - 50 * PIP)
    exchange.submit_order(order)
    assert [getattr(e, "status", None) for e in exchange.poll_events()] == [OrderStatus.ACCEPTED]
    terminal.server.pending_retcode = mt5.TRADE_RETCODE_DONE
    other = make_order(type=OrderType.LIMIT, price=Decimal(repr(terminal.markets[SYMBOL].bid)) - 60 * PIP)
    exchange.submit_order(other)
    assert len(terminal.orders_get(symbol=SYMBOL)) == 2


@pytest.mark.parametrize("retcode", [mt5.TRADE_RETCODE_REQUOTE, mt5.TRADE_RETCODE_PRICE_CHANGED])
def test_a_requote_within_the_deviation_is_sent_again_at_the_new_price(
    retcode: int,
    new_terminal: Callable[..., FakeTerminal],
    connect: Callable[..., MT5Exchange],
    make_order: Callable[..., Order],
) -> None:
    terminal = new_terminal(FakeSymbol(execution=mt5.SYMBOL_TRADE_EXECUTION_INSTANT))
    exchange = connect(deviation=20)
    first_ask = terminal.markets[SYMBOL].ask
    terminal.server.faults.append(Fault(retcode, move=15))  # the price moves 15 points as the request arrives
    order = make_order()
    exchange.submit_order(order)
    sends = [request for request in terminal.server.sent]
    assert [s["price"] for s in sends] == [first_ask, terminal.markets[SYMBOL].ask]
    assert round((sends[1]["price"] - sends[0]["price"]) / 0.00001) == 15
    (fill,) = [e for e in exchange.poll_events() if isinstance(e, Fill)]
    assert float(fill.price) == sends[1]["price"]


def test_a_requote_beyond_the_deviation_is_refused_and_not_sent_again(
    new_terminal: Callable[..., FakeTerminal], connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    terminal = new_terminal(FakeSymbol(execution=mt5.SYMBOL_TRADE_EXECUTION_INSTANT))
    exchange = connect(deviation=20)
    terminal.server.faults.append(Fault(mt5.TRADE_RETCODE_REQUOTE, move=35))
    with pytest.raises(errors.OrderRejected, match=r"moved 35 points .* beyond the deviation of 20 points"):
        exchange.submit_order(make_order())
    assert len(terminal.server.sent) == 1 and terminal.positions_get() == ()


def test_requotes_are_sent_again_at_most_requote_retries_times(
    new_terminal: Callable[..., FakeTerminal], connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    terminal = new_terminal(FakeSymbol(execution=mt5.SYMBOL_TRADE_EXECUTION_INSTANT))
    exchange = connect(deviation=50, requote_retries=2)
    terminal.server.faults.extend(Fault(mt5.TRADE_RETCODE_REQUOTE, move=5) for _ in range(3))
    with pytest.raises(errors.OrderRejected, match="retcode 10004"):
        exchange.submit_order(make_order())
    assert len(terminal.server.sent) == 3


def test_order_check_comes_before_order_send_and_its_refusal_sends_nothing(
    new_terminal: Callable[..., FakeTerminal], connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    terminal = new_terminal(account=FakeAccount(balance=100.0))
    exchange = connect()
    exchange.submit_order(make_order(quantity=Decimal("1000")))
    trading = [name for name, _, _ in terminal.calls if name in ("order_check", "order_send")]
    assert trading == ["order_check", "order_send"]
    with pytest.raises(errors.InsufficientFunds, match="No money"):
        exchange.submit_order(make_order(quantity=Decimal("1000000")))
    assert terminal.called("order_send") == 1


def test_with_check_orders_off_the_server_alone_judges(
    new_terminal: Callable[..., FakeTerminal], connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    terminal = new_terminal(account=FakeAccount(balance=100.0))
    exchange = connect(check_orders=False)
    with pytest.raises(errors.InsufficientFunds):
        exchange.submit_order(make_order(quantity=Decimal("1000000")))
    assert terminal.called("order_check") == 0 and terminal.called("order_send") == 1


def test_algo_trading_off_in_the_terminal_says_how_to_turn_it_on(
    terminal: FakeTerminal, connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    exchange = connect()
    terminal.algo_trading = False
    with pytest.raises(errors.OrderRejected, match=r"retcode 10027.*Allow algorithmic trading"):
        exchange.submit_order(make_order())


def test_a_closed_market_refuses_with_market_closed(
    new_terminal: Callable[..., FakeTerminal], connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    new_terminal(FakeSymbol(session_open=False))
    exchange = connect()
    with pytest.raises(errors.OrderRejected, match=r"Market closed .*trading sessions"):
        exchange.submit_order(make_order())


@pytest.mark.parametrize(
    ("code", "message", "error"),
    [
        (mt5.RES_E_INVALID_PARAMS, 'Invalid "comment" argument', errors.InvalidOrder),
        (mt5.RES_E_AUTO_TRADING_DISABLED, "AutoTrading disabled", errors.OrderRejected),
        (mt5.RES_E_FAIL, "Terminal: Call failed", errors.ExchangeUnavailable),
    ],
)
def test_an_order_send_that_returns_none_is_read_from_last_error(
    code: int,
    message: str,
    error: type[errors.ExchangeError],
    terminal: FakeTerminal,
    connect: Callable[..., MT5Exchange],
    make_order: Callable[..., Order],
) -> None:
    exchange = connect()
    terminal.fail_next("order_send", code, message)
    with pytest.raises(errors.ExchangeError, match=f"last_error {code}") as raised:
        exchange.submit_order(make_order())
    assert type(raised.value) is error and message in str(raised.value)
