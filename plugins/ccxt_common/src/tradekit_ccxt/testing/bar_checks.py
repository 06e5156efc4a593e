"""Checks on the bars a connector serves while its fake venue streams them, shared by the connectors' tests.

A connector's bars come by websocket, by REST, or by REST while the websocket
is down; these helpers reveal bars on a fake venue, wait until the connector
serves them, and compare them with what REST serves. What is specific to a
venue (how to reveal a bar and when it opens) is passed in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

    from tradekit.domain.bars import BarSeries
    from tradekit_ccxt.exchange import CcxtExchange


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def advance_and_see(exchange: CcxtExchange, symbol: str, reveal: Callable[[], int], limit: int = 30) -> BarSeries:
    """Reveal one bar (``reveal`` does it on the venue and returns its open in ms); wait until it is served."""
    expected = reveal()
    latest: list[BarSeries] = []

    def served() -> bool:
        latest[:] = [exchange.fetch_bars(symbol, "1m", limit=limit)]
        return len(latest[0]) > 0 and int(latest[0].timestamps[-1]) // 10**6 == expected

    wait_for(served, "the revealed bar to arrive")
    return latest[0]


def served_by(exchange: CcxtExchange, caplog: pytest.LogCaptureFixture, symbol: str, source: str) -> None:
    """Ask for 1m bars of ``symbol`` until the exchange logs that ``source`` serves them."""

    def logged() -> bool:
        exchange.fetch_bars(symbol, "1m", limit=30)
        return f"bars {symbol} 1m by {source}" in caplog.text

    wait_for(logged, f"bars by {source}")


def rest_bars(exchange: CcxtExchange, symbol: str, limit: int = 30) -> BarSeries:
    """The latest ``limit`` 1m bars of ``symbol`` over REST, whatever the websocket serves."""
    return exchange._series(symbol, "1m", exchange._polled_bars(symbol, "1m", None, limit))


def same_bars(left: BarSeries, right: BarSeries) -> None:
    """Assert two bar series hold the same times and values."""
    assert left.timestamps.tolist() == right.timestamps.tolist()
    for column in ("open", "high", "low", "close", "volume"):
        assert getattr(left, column).tolist() == getattr(right, column).tolist(), column
