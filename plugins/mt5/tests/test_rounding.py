"""Volumes on the symbol's step within its minimum and maximum, prices on its tick and digits; units and lots."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tradekit_mt5 import MT5Exchange
from tradekit_mt5.symbols import SymbolSpec
from tradekit_mt5.testing import FakeSymbol, FakeTerminal, bars_near
from tradekit_mt5.testing import constants as mt5

from tradekit.domain.instruments import InstrumentKind
from tradekit.domain.orders import Fill, Order, OrderType
from tradekit.errors import InvalidOrder

GOLD = FakeSymbol(
    name="XAUUSD",
    base="XAU",
    digits=2,
    contract_size=100.0,
    volume_min=0.01,
    volume_max=50.0,
    volume_step=0.01,
    calc_mode=mt5.SYMBOL_CALC_MODE_CFD,
)
INDEX = FakeSymbol(
    name="US500",
    base="US500",
    digits=2,
    tick_size=0.25,
    contract_size=1.0,
    volume_min=0.1,
    volume_max=1000.0,
    volume_step=0.1,
    calc_mode=mt5.SYMBOL_CALC_MODE_CFDINDEX,
)


@pytest.mark.parametrize(
    ("symbol", "kind", "tick", "lot", "minimum"),
    [
        (FakeSymbol(), InstrumentKind.FX, "0.00001", "1000", "1000"),
        (GOLD, InstrumentKind.CFD, "0.01", "1", "1"),
        (INDEX, InstrumentKind.CFD, "0.25", "0.1", "0.1"),
    ],
)
def test_a_symbols_rules_become_an_instrument_in_units_of_the_base(
    symbol: FakeSymbol,
    kind: InstrumentKind,
    tick: str,
    lot: str,
    minimum: str,
    new_terminal: Callable[..., FakeTerminal],
    connect: Callable[..., MT5Exchange],
) -> None:
    new_terminal(symbol, bars=bars_near(1.1 if symbol.digits == 5 else 2000.0, 600))
    instrument = connect().instruments([symbol.name])[symbol.name]
    assert (instrument.kind, instrument.base, instrument.quote) == (kind, symbol.base, "USD")
    assert (str(instrument.tick_size), str(instrument.lot_size), str(instrument.min_quantity)) == (tick, lot, minimum)
    assert instrument.max_leverage == Decimal(100)


def test_orders_off_the_tick_or_the_lot_or_beyond_the_volume_limits_are_refused_before_sending(
    new_terminal: Callable[..., FakeTerminal], connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    terminal = new_terminal(INDEX, bars=bars_near(5000.0, 600))
    exchange = connect()
    bid = Decimal(repr(terminal.markets["US500"].bid))
    cases = [
        (make_order(symbol="US500", quantity=Decimal("0.15")), "not a multiple of the lot size 0.1"),
        (make_order(symbol="US500", quantity=Decimal("0.05")), "not a multiple of the lot size 0.1"),
        (make_order(symbol="US500", quantity=Decimal("1000.1")), "above the symbol's maximum of 1000 lots"),
        (
            make_order(symbol="US500", type=OrderType.LIMIT, price=bid - Decimal("10.10"), quantity=Decimal("1")),
            "not a multiple of the tick size 0.25",
        ),
    ]
    for order, reason in cases:
        with pytest.raises(InvalidOrder, match=reason):
            exchange.submit_order(order)
    assert terminal.called("order_check") == terminal.called("order_send") == 0
    below_minimum = FakeSymbol(name="EURUSD", volume_min=0.1)
    new_terminal(below_minimum)
    with pytest.raises(InvalidOrder, match="below the minimum 10000"):
        connect().submit_order(make_order(quantity=Decimal("1000")))


def test_a_quantity_is_sent_in_lots_and_its_fill_read_back_in_units(
    new_terminal: Callable[..., FakeTerminal], connect: Callable[..., MT5Exchange], make_order: Callable[..., Order]
) -> None:
    terminal = new_terminal(GOLD, bars=bars_near(2000.0, 600))
    exchange = connect()
    order = make_order(symbol="XAUUSD", quantity=Decimal("37"))
    exchange.submit_order(order)
    assert terminal.server.sent[-1]["volume"] == 0.37
    fills = [e for e in exchange.poll_events() if isinstance(e, Fill)]
    assert [(f.quantity, f.price.as_tuple().exponent) for f in fills] == [(Decimal("37"), -2)]


def _spec(contract: str, step: str, digits: int) -> SymbolSpec:
    info = SimpleNamespace(
        name="X",
        currency_base="X",
        currency_profit="USD",
        currency_margin="X",
        digits=digits,
        trade_tick_size=10.0**-digits,
        trade_contract_size=float(contract),
        volume_min=float(step),
        volume_max=100_000.0,
        volume_step=float(step),
        filling_mode=1,
        trade_exemode=2,
        trade_mode=4,
        trade_calc_mode=0,
        chart_mode=0,
        trade_stops_level=0,
        point=10.0**-digits,
    )
    return SymbolSpec.from_info(info)


@given(
    contract=st.sampled_from(["1", "10", "100", "1000", "100000", "0.1"]),
    step=st.sampled_from(["0.01", "0.1", "1", "0.001", "0.05"]),
    steps=st.integers(min_value=1, max_value=10_000_000),
)
def test_every_quantity_on_the_lot_is_an_exact_volume_and_comes_back_unchanged(
    contract: str, step: str, steps: int
) -> None:
    spec = _spec(contract, step, 5)
    quantity = spec.lot_size * steps
    volume = spec.volume(quantity)
    assert Decimal(repr(volume)) == Decimal(step) * steps  # the float the terminal gets has no binary noise
    assert spec.quantity(volume) == quantity


@given(digits=st.integers(min_value=0, max_value=6), ticks=st.integers(min_value=1, max_value=10**9))
def test_a_price_the_terminal_reports_as_a_float_is_exact_on_the_tick(digits: int, ticks: int) -> None:
    spec = _spec("1", "1", digits)
    value = ticks * 10.0**-digits  # the float the terminal holds, noise included
    price = spec.price(value)
    assert price == Decimal(ticks).scaleb(-digits) and price.as_tuple().exponent == -digits
