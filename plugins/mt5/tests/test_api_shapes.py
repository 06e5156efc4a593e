"""The connector's numbers are MetaQuotes' constants, and the fake module offers what the package documents."""

from __future__ import annotations

import importlib
import importlib.util
import inspect

import pytest
from tradekit_mt5 import bars, codes, requests, symbols
from tradekit_mt5.testing import FUNCTIONS, FakeSymbol, FakeTerminal, bars_near
from tradekit_mt5.testing import constants as mt5
from tradekit_mt5.testing.records import RATES_DTYPE

DOCUMENTED = {name: getattr(mt5, name) for name in dir(mt5) if name.isupper()}


def test_every_documented_return_code_has_an_outcome_and_no_other_does() -> None:
    documented = {value for name, value in DOCUMENTED.items() if name.startswith("TRADE_RETCODE_")}
    assert set(codes.RETCODES) == documented
    assert {mt5.TRADE_RETCODE_PLACED, mt5.TRADE_RETCODE_DONE, mt5.TRADE_RETCODE_DONE_PARTIAL} == codes.SUCCESS
    assert {mt5.TRADE_RETCODE_REQUOTE, mt5.TRADE_RETCODE_PRICE_CHANGED} == codes.PRICE_MOVED
    assert {v for n, v in DOCUMENTED.items() if n.startswith("RES_E_INTERNAL_FAIL")} == codes.IPC_FAILURES


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (requests.ACTION_DEAL, "TRADE_ACTION_DEAL"),
        (requests.ACTION_PENDING, "TRADE_ACTION_PENDING"),
        (requests.ACTION_SLTP, "TRADE_ACTION_SLTP"),
        (requests.ACTION_MODIFY, "TRADE_ACTION_MODIFY"),
        (requests.ACTION_REMOVE, "TRADE_ACTION_REMOVE"),
        (requests.BUY, "ORDER_TYPE_BUY"),
        (requests.SELL, "ORDER_TYPE_SELL"),
        (requests.BUY_LIMIT, "ORDER_TYPE_BUY_LIMIT"),
        (requests.SELL_LIMIT, "ORDER_TYPE_SELL_LIMIT"),
        (requests.BUY_STOP, "ORDER_TYPE_BUY_STOP"),
        (requests.SELL_STOP, "ORDER_TYPE_SELL_STOP"),
        (requests.BUY_STOP_LIMIT, "ORDER_TYPE_BUY_STOP_LIMIT"),
        (requests.SELL_STOP_LIMIT, "ORDER_TYPE_SELL_STOP_LIMIT"),
        (requests.TIME_GTC, "ORDER_TIME_GTC"),
        (requests.STATE_CANCELED, "ORDER_STATE_CANCELED"),
        (requests.STATE_PARTIAL, "ORDER_STATE_PARTIAL"),
        (requests.STATE_FILLED, "ORDER_STATE_FILLED"),
        (requests.STATE_REJECTED, "ORDER_STATE_REJECTED"),
        (requests.STATE_EXPIRED, "ORDER_STATE_EXPIRED"),
        (requests.POSITION_BUY, "POSITION_TYPE_BUY"),
        (requests.POSITION_SELL, "POSITION_TYPE_SELL"),
        (requests.MARGIN_HEDGING, "ACCOUNT_MARGIN_MODE_RETAIL_HEDGING"),
        (symbols.FILLING_FOK, "ORDER_FILLING_FOK"),
        (symbols.FILLING_IOC, "ORDER_FILLING_IOC"),
        (symbols.FILLING_RETURN, "ORDER_FILLING_RETURN"),
        (symbols.EXECUTION_REQUEST, "SYMBOL_TRADE_EXECUTION_REQUEST"),
        (symbols.EXECUTION_INSTANT, "SYMBOL_TRADE_EXECUTION_INSTANT"),
        (symbols.EXECUTION_MARKET, "SYMBOL_TRADE_EXECUTION_MARKET"),
        (symbols.EXECUTION_EXCHANGE, "SYMBOL_TRADE_EXECUTION_EXCHANGE"),
        (symbols.CHART_MODE_LAST, "SYMBOL_CHART_MODE_LAST"),
        (codes.AUTH_FAILED, "RES_E_AUTH_FAILED"),
        (codes.AUTO_TRADING_DISABLED, "RES_E_AUTO_TRADING_DISABLED"),
        (codes.INVALID_PARAMS, "RES_E_INVALID_PARAMS"),
    ],
)
def test_the_connectors_numbers_are_the_documented_constants(ours: int, theirs: str) -> None:
    assert ours == DOCUMENTED[theirs]


def test_every_timeframe_is_a_documented_one() -> None:
    assert set(bars.TIMEFRAMES.values()) <= {v for n, v in DOCUMENTED.items() if n.startswith("TIMEFRAME_")}
    assert bars.TIMEFRAMES["1h"] == mt5.TIMEFRAME_H1 and bars.TIMEFRAMES["1M"] == mt5.TIMEFRAME_MN1
    assert bars.RATES_DTYPE == RATES_DTYPE


def test_the_fake_module_has_every_documented_function_and_constant() -> None:
    module = FakeTerminal({"EURUSD": (FakeSymbol(), bars_near(1.10, 50))}).module()
    for name in FUNCTIONS:
        assert callable(getattr(module, name)), name
    for name, value in DOCUMENTED.items():
        assert getattr(module, name) == value


@pytest.mark.skipif(importlib.util.find_spec("mt5linux") is None, reason="mt5linux is not installed here")
def test_the_fake_matches_the_installed_mt5linux_bridge() -> None:  # pragma: no cover - only where it is installed
    bridge = importlib.import_module("mt5linux").MetaTrader5
    for name in FUNCTIONS:
        assert inspect.isfunction(getattr(bridge, name)), name
    for name, value in DOCUMENTED.items():
        assert getattr(bridge, name) == value, name
