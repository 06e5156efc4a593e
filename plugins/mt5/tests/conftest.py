"""Fixtures of the MetaTrader 5 plugin's tests: a fake terminal standing in for ``MetaTrader5``, and exchanges on it.

The fake replays the kernel's seeded simulated market, scaled to EURUSD
prices (near 1.10); real EURUSD hours from the project's ``shared/data``
folder are used where a test asks for them (and the test is skipped, saying
why, where the folder is absent).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tradekit_mt5 import MT5Exchange, MT5Settings
from tradekit_mt5.testing import FakeAccount, FakeSymbol, FakeTerminal, bars_near

from tradekit import secrets
from tradekit.domain.bars import BarSeries
from tradekit.domain.orders import Order, OrderIntent, Side

SYMBOL = "EURUSD"
ENV = "TRADEKIT_PLUGINS__EXCHANGE__MT5__"


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    secrets.forget_all()


@pytest.fixture(scope="session")
def bars() -> BarSeries:
    """The market the default fake terminal replays."""
    return bars_near(1.10)


@pytest.fixture
def terminal(bars: BarSeries, monkeypatch: pytest.MonkeyPatch) -> FakeTerminal:
    """A fake terminal with EURUSD (spread 1 pip, netting account), importable as ``MetaTrader5``."""
    fake = FakeTerminal({SYMBOL: (FakeSymbol(), bars)})
    fake.install(monkeypatch)
    return fake


@pytest.fixture
def new_terminal(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeTerminal]:
    """``new_terminal(*symbols, account=None, bars=None, **options)``: a fake terminal installed as ``MetaTrader5``.

    Each symbol (EURUSD by default) replays ``bars`` (600 bars near 1.10 by default).
    """

    def make(
        *symbols: FakeSymbol, account: FakeAccount | None = None, bars: BarSeries | None = None, **options: Any
    ) -> FakeTerminal:
        series = bars if bars is not None else bars_near(1.10, 600)
        chosen = symbols or (FakeSymbol(),)
        fake = FakeTerminal({s.name: (s, replace(series, symbol=s.name)) for s in chosen}, account=account, **options)
        fake.install(monkeypatch)
        return fake

    return make


@pytest.fixture
def connect() -> Iterator[Callable[..., MT5Exchange]]:
    """Make connected exchanges on the installed fake terminal (closed afterwards); keywords are settings."""
    made: list[MT5Exchange] = []

    def make(**overrides: Any) -> MT5Exchange:
        settings = MT5Settings.model_validate({"refresh_interval": 0, **overrides})
        secrets.register_model_secrets(settings)
        exchange = MT5Exchange(settings, name="mt5")
        exchange.sleep = lambda seconds: None
        exchange.connect()
        made.append(exchange)
        return exchange

    yield make
    for exchange in made:
        exchange.close()


@pytest.fixture
def make_order() -> Callable[..., Order]:
    """Orders with fresh engine-style client order ids (32 hex digits); keywords are intent fields."""
    sequence = itertools.count(1)
    prefix = f"{time.time_ns():012x}"[-12:]

    def make(**fields: Any) -> Order:
        defaults: dict[str, Any] = {"symbol": SYMBOL, "side": Side.BUY, "quantity": Decimal("10000")}
        intent = OrderIntent(**{**defaults, **fields})
        return Order.from_intent(intent, f"{prefix}{next(sequence):020x}")

    return make


@dataclass
class Result:
    """What one ``tradekit`` command did."""

    code: int
    out: str
    err: str


@pytest.fixture
def tradekit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """Run the ``tradekit`` command in-process in a fresh folder (settings from TRADEKIT_* variables)."""
    from tradekit.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv(f"{ENV}REFRESH_INTERVAL", "0")
    root = logging.getLogger()

    def run(*args: str) -> Result:
        handlers, level = list(root.handlers), root.level
        capsys.readouterr()
        try:
            code = main(list(args))
            code = code if isinstance(code, int) else 0
        except SystemExit as done:
            code = int(done.code or 0)
        finally:
            for handler in root.handlers[:]:
                if handler not in handlers:
                    root.removeHandler(handler)
            root.setLevel(level)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
