"""Bars and prices by Hyperliquid's websocket (ccxt.pro against the fake venue's ``/ws``), and REST when it fails."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from tradekit_ccxt.testing import bar_checks
from tradekit_ccxt.testing.bar_checks import rest_bars, same_bars, wait_for
from tradekit_ccxt.testing.cli import ExchangeCli, journal_counts, run_command
from tradekit_ccxt.testing.exchanges import Connections
from tradekit_hyperliquid import HyperliquidExchange, HyperliquidSettings
from tradekit_hyperliquid.fake_server import FakeHyperliquid

from tradekit.domain.bars import BarSeries

SYMBOL = "BTC/USDC:USDC"
CANDLES = ("candle", "BTC", "1m")


@pytest.fixture
def streaming(bars: BarSeries) -> Iterator[FakeHyperliquid]:
    """A fake Hyperliquid serving its websocket too; bars advance only when a test says so."""
    with FakeHyperliquid({SYMBOL: bars}, history=100, stream=True) as server:
        yield server


@pytest.fixture
def streamed(streaming: FakeHyperliquid) -> Iterator[Connections[HyperliquidExchange]]:
    """Exchanges on the fake venue with its websocket as ``ws_url``."""
    with Connections(
        HyperliquidExchange,
        "hyperliquid",
        lambda **overrides: HyperliquidSettings.model_validate(
            {
                "api_url": streaming.url,
                "ws_url": streaming.ws_url,
                "timeout": 1.0,
                "rate_limits": {"rest": 1_000_000},
                **overrides,
            }
        ),
    ) as make:
        yield make


def candle_requests(venue: FakeHyperliquid) -> int:
    return len(venue.matching(lambda r: r.path == "/info" and r.params.get("type") == "candleSnapshot"))


def advance_and_see(exchange: HyperliquidExchange, venue: FakeHyperliquid, limit: int = 30) -> BarSeries:
    """Reveal one bar on the venue and wait until the exchange serves it."""

    def reveal() -> int:
        venue.advance()
        return last_open_ms(venue)

    return bar_checks.advance_and_see(exchange, SYMBOL, reveal, limit)


def last_open_ms(venue: FakeHyperliquid) -> int:
    """When the last bar the venue revealed opens, in ms."""
    return venue.market.shift_ms + int(venue.market.bars[SYMBOL].timestamps[venue.market.revealed - 1]) // 10**6


def served_by(exchange: HyperliquidExchange, caplog: pytest.LogCaptureFixture, source: str) -> None:
    """Ask for bars until the exchange logs that ``source`` serves them."""
    bar_checks.served_by(exchange, caplog, SYMBOL, source)


def test_bars_arrive_by_websocket_and_match_the_rest_bars(
    streamed: Connections[HyperliquidExchange], streaming: FakeHyperliquid, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "tradekit.ccxt")
    exchange = streamed()
    exchange.fetch_bars(SYMBOL, "1m", limit=30)  # subscribes; served over REST until the first candle
    wait_for(lambda: streaming.stream is not None and streaming.stream.followers(CANDLES) > 0, "the subscription")
    advance_and_see(exchange, streaming)
    before = candle_requests(streaming)
    for _ in range(5):
        streamed_bars = advance_and_see(exchange, streaming)
    # Five new bars by websocket. At most one REST request: when the test asks in the instant between a
    # closed candle and the next forming one, the book may backfill that one bar over REST (about 1 run in 15).
    assert candle_requests(streaming) <= before + 1
    same_bars(streamed_bars, rest_bars(exchange, SYMBOL))
    assert "bars BTC/USDC:USDC 1m by websocket" in caplog.text
    # The candle still forming (pushed after each closed one) never reaches the engine.
    forming = (
        streaming.market.shift_ms + int(streaming.market.bars[SYMBOL].timestamps[streaming.market.revealed]) // 10**6
    )
    assert forming not in (streamed_bars.timestamps // 10**6).tolist()
    wait_for(lambda: exchange.latest_price(SYMBOL) == streaming.market.prices[SYMBOL], "the streamed price")


def test_a_dropped_stream_reconnects_resubscribes_and_the_missed_bars_are_backfilled(
    streamed: Connections[HyperliquidExchange], streaming: FakeHyperliquid, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "tradekit.ccxt")
    stream = streaming.stream
    assert stream is not None
    exchange = streamed()
    exchange.fetch_bars(SYMBOL, "1m", limit=30)
    wait_for(lambda: stream.followers(CANDLES) > 0, "the subscription")
    advance_and_see(exchange, streaming)
    served_by(exchange, caplog, "websocket")
    stream.refuse()
    stream.drop()
    for _ in range(4):
        streaming.advance()  # nobody follows: these bars are never pushed
    stream.refuse(False)
    wait_for(lambda: stream.followers(CANDLES) > 0, "the resubscription")
    # The venue pushes a candle only with a new bar. Asked for bars before that push arrives, the
    # connector would poll REST, which covers the missed bars itself and leaves nothing to backfill:
    # reveal the bar, wait until the stream is back, then ask.
    streaming.advance()
    wait_for(lambda: "back after" in caplog.text, "the stream to speak again")
    served = bar_checks.advance_and_see(exchange, SYMBOL, lambda: last_open_ms(streaming))
    same_bars(served, rest_bars(exchange, SYMBOL))
    subscriptions = [m for m in stream.received if (m.get("subscription") or {}).get("type") == "candle"]
    assert len(subscriptions) == 2 and stream.accepted >= 2
    assert "4 bars the websocket missed, backfilled over REST" in caplog.text
    steps = set((served.timestamps[1:] - served.timestamps[:-1]).tolist())
    assert steps == {60_000_000_000}


def test_with_the_stream_down_the_connector_polls_rest_and_says_so(
    streamed: Connections[HyperliquidExchange], streaming: FakeHyperliquid, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "tradekit.ccxt")
    stream = streaming.stream
    assert stream is not None
    exchange = streamed()
    exchange.fetch_bars(SYMBOL, "1m", limit=30)
    wait_for(lambda: stream.followers(CANDLES) > 0, "the subscription")
    advance_and_see(exchange, streaming)
    served_by(exchange, caplog, "websocket")
    stream.refuse()
    stream.drop()
    served_by(exchange, caplog, "REST polling: the websocket is down")
    before = candle_requests(streaming)
    streaming.advance()
    served = exchange.fetch_bars(SYMBOL, "1m", limit=30)
    assert candle_requests(streaming) == before + 1
    same_bars(served, rest_bars(exchange, SYMBOL))
    wait_for(lambda: stream.refused > 0, "a reconnection attempt")  # refused: still polling
    exchange.fetch_bars(SYMBOL, "1m", limit=30)
    assert candle_requests(streaming) == before + 3  # the two above and this one


def test_market_data_poll_never_opens_a_websocket(
    streamed: Connections[HyperliquidExchange], streaming: FakeHyperliquid
) -> None:
    exchange = streamed(market_data="poll")
    exchange.fetch_bars(SYMBOL, "1m", limit=10)
    exchange.latest_price(SYMBOL)
    assert streaming.stream is not None and streaming.stream.accepted == 0


def test_a_dry_run_of_sma_cross_takes_its_bars_from_the_websocket(bars: BarSeries, tmp_path: Path) -> None:
    with FakeHyperliquid({SYMBOL: bars}, history=100, stream=True, stream_every=0.05) as venue:
        settings = {"api_url": venue.url, "ws_url": venue.ws_url, "rate_limits": '{"rest": 1000000}'}
        tradekit = ExchangeCli(tmp_path, "hyperliquid", settings)
        result = tradekit(*run_command("hyperliquid", "sma_cross", "--param", "fast=3", "--param", "slow=8"))
        assert result.exit_code == 0, result.stderr
        assert "reached --max-bars 60" in result.stdout
        assert venue.stream is not None and venue.stream.accepted >= 1
        assert venue.stream.published >= 60
        # The history before the first candle, and a few backfills when the loop asks between a closed
        # candle and the next: polling the 60 new bars over REST would take 60 requests or more.
        assert candle_requests(venue) <= 10
        assert journal_counts(tmp_path)["fills"] > 0
        assert venue.actions == []
