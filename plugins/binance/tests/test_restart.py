"""An order of a live run that died, taken up by the next process: fills made while down are booked once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tradekit_binance import BinanceExchange
from tradekit_binance.fake_server import FakeBinance
from tradekit_ccxt.testing.market import FakeMarket
from tradekit_ccxt.testing.restart import (
    check_cancelled_while_down_after_an_unseen_fill,
    check_filled_while_down,
    check_partly_booked_then_filled_while_down,
)

from tradekit.domain.orders import Order

SYMBOLS = ("BTC/USDT", "BTC/USDT:USDT")


def market_of(venue: FakeBinance, symbol: str) -> FakeMarket:
    market = venue.futures if ":" in symbol else venue.spot
    assert market is not None
    return market


def on(connect: Callable[..., BinanceExchange], symbol: str) -> Callable[[], BinanceExchange]:
    """Exchanges of the symbol's market (spot, or USD-M futures)."""
    return lambda: connect(market="usdm" if ":" in symbol else "spot")


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_an_order_filled_while_the_run_was_down_reports_its_fill_once(
    connect: Callable[..., BinanceExchange], venue: FakeBinance, make_order: Callable[..., Order], symbol: str
) -> None:
    check_filled_while_down(on(connect, symbol), venue, make_order, symbol)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_a_fill_booked_before_the_death_is_not_reported_again(
    connect: Callable[..., BinanceExchange], venue: FakeBinance, make_order: Callable[..., Order], symbol: str
) -> None:
    check_partly_booked_then_filled_while_down(on(connect, symbol), venue, market_of(venue, symbol), make_order, symbol)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_an_order_cancelled_while_down_reports_its_unseen_fill_before_its_end(
    connect: Callable[..., BinanceExchange], venue: FakeBinance, make_order: Callable[..., Order], symbol: str
) -> None:
    check_cancelled_while_down_after_an_unseen_fill(on(connect, symbol), market_of(venue, symbol), make_order, symbol)
