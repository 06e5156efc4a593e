"""The filling policy is read from the symbol (its filling flags and execution mode), never assumed."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from tradekit_mt5 import MT5Exchange
from tradekit_mt5.testing import FakeSymbol, FakeTerminal
from tradekit_mt5.testing import constants as mt5

from tradekit.domain.orders import Fill, Order, OrderType, Side, TimeInForce, TriggerDirection
from tradekit.errors import InvalidOrder

SYMBOL = "EURUSD"


MARKET_EXECUTION = mt5.SYMBOL_TRADE_EXECUTION_MARKET
EXCHANGE_EXECUTION = mt5.SYMBOL_TRADE_EXECUTION_EXCHANGE
INSTANT_EXECUTION = mt5.SYMBOL_TRADE_EXECUTION_INSTANT


@pytest.mark.parametrize(
    ("flags", "execution", "time_in_force", "expected"),
    [
        (1, MARKET_EXECUTION, TimeInForce.GTC, mt5.ORDER_FILLING_FOK),  # FOK only
        (2, MARKET_EXECUTION, TimeInForce.GTC, mt5.ORDER_FILLING_IOC),  # IOC only
        (3, MARKET_EXECUTION, TimeInForce.GTC, mt5.ORDER_FILLING_FOK),  # both: all or nothing first
        (3, MARKET_EXECUTION, TimeInForce.IOC, mt5.ORDER_FILLING_IOC),
        (0, EXCHANGE_EXECUTION, TimeInForce.GTC, mt5.ORDER_FILLING_RETURN),  # exchange execution: "return"
        (0, INSTANT_EXECUTION, TimeInForce.GTC, mt5.ORDER_FILLING_FOK),  # instant execution fills or kills
    ],
)
def test_a_market_order_is_sent_with_the_filling_policy_the_symbol_allows(
    flags: int,
    execution: int,
    time_in_force: TimeInForce,
    expected: int,
    new_terminal: Callable[..., FakeTerminal],
    connect: Callable[..., MT5Exchange],
    make_order: Callable[..., Order],
) -> None:
    terminal = new_terminal(FakeSymbol(filling_mode=flags, execution=execution))
    exchange = connect()
    exchange.submit_order(make_order(time_in_force=time_in_force))
    assert terminal.server.sent[-1]["type_filling"] == expected
    assert exchange.positions()[SYMBOL].quantity == Decimal("10000")


@pytest.mark.parametrize(
    ("flags", "time_in_force", "says"),
    [
        (2, TimeInForce.FOK, "immediate or cancel"),
        (1, TimeInForce.IOC, "fill or kill"),
        (0, TimeInForce.GTC, "none"),
    ],
)
def test_a_market_order_the_symbols_policies_cannot_fill_is_refused_before_sending(
    flags: int,
    time_in_force: TimeInForce,
    says: str,
    new_terminal: Callable[..., FakeTerminal],
    connect: Callable[..., MT5Exchange],
    make_order: Callable[..., Order],
) -> None:
    terminal = new_terminal(FakeSymbol(filling_mode=flags, execution=MARKET_EXECUTION))
    exchange = connect()
    with pytest.raises(InvalidOrder, match=f"filling policies for market orders are {says}"):
        exchange.submit_order(make_order(time_in_force=time_in_force))
    assert terminal.called("order_check") == terminal.called("order_send") == 0


def test_limits_rest_with_return_and_stops_take_the_market_policy(
    new_terminal: Callable[..., FakeTerminal], connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    terminal = new_terminal(FakeSymbol(filling_mode=2, execution=MARKET_EXECUTION))
    exchange = connect()
    bid = Decimal(repr(terminal.markets[SYMBOL].bid))
    exchange.submit_order(make_order(type=OrderType.LIMIT, price=bid - Decimal("0.005")))
    assert terminal.server.sent[-1]["type_filling"] == mt5.ORDER_FILLING_RETURN
    stop = make_order(
        side=Side.SELL,
        type=OrderType.STOP,
        trigger_price=bid - Decimal("0.005"),
        trigger_direction=TriggerDirection.FALLING,
    )
    exchange.submit_order(stop)
    assert terminal.server.sent[-1]["type_filling"] == mt5.ORDER_FILLING_IOC


def test_an_ioc_market_order_the_market_fills_in_part_reports_the_part_then_cancels_the_rest(
    new_terminal: Callable[..., FakeTerminal], connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    new_terminal(FakeSymbol(filling_mode=2, liquidity=0.3))
    exchange = connect()
    order = make_order(quantity=Decimal("50000"), time_in_force=TimeInForce.IOC)
    exchange.submit_order(order)  # TRADE_RETCODE_DONE_PARTIAL is a success
    events = exchange.poll_events()
    assert [f"fill {e.quantity}" if isinstance(e, Fill) else e.status for e in events] == [
        "accepted",
        "fill 30000",
        "cancelled",
    ]
