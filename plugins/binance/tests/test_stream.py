"""Bars and prices by Binance's market streams (ccxt.pro against the fake's ``/ws`` and ``/market/ws``), and REST.

Spot and USD-M futures go through the same code (``watch_ohlcv``/``watch_ticker`` of
ccxt's ``binance`` client, the connector's stream and bar book); what differs is
the path ccxt opens and the ticker's fields, so the basic path runs on both and
the faults on spot.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tradekit_binance import BinanceExchange, BinanceSettings
from tradekit_binance.fake_server import FakeBinance
from tradekit_ccxt.testing import bar_checks
from tradekit_ccxt.testing.bar_checks import rest_bars, same_bars, wait_for
from tradekit_ccxt.testing.cli import ExchangeCli, journal_counts, run_command
from tradekit_ccxt.testing.exchanges import Connections

from tradekit.domain.bars import BarSeries

SPOT, FUTURES = "BTC/USDT", "BTC/USDT:USDT"
SYMBOLS = {"spot": SPOT, "usdm": FUTURES}
KLINES = "btcusdt@kline_1m"
#: Where ccxt opens each market's streams (``<base>/<stream index>``): spot's ``/ws``, fstream's ``/market/ws``.
PATHS = {"spot": "/ws", "usdm": "/market/ws"}


@pytest.fixture
def streaming(spot_bars: BarSeries, futures_bars: BarSeries) -> Iterator[FakeBinance]:
    """A fake Binance serving its market streams too; bars advance only when a test says so."""
    with FakeBinance(spot={SPOT: spot_bars}, futures={FUTURES: futures_bars}, history=100, stream=True) as server:
        yield server


@pytest.fixture
def streamed(streaming: FakeBinance) -> Iterator[Connections[BinanceExchange]]:
    """Exchanges on the fake venue with its market streams as ``ws_url`` (spot unless ``market="usdm"``)."""
    with Connections(
        BinanceExchange,
        "binance",
        lambda **overrides: BinanceSettings.model_validate(
            {
                "api_url": streaming.url,
                "ws_url": streaming.ws_url,
                "timeout": 1.0,
                "rate_limits": {"spot": 1_000_000, "usdm": 1_000_000},
                **overrides,
            }
        ),
    ) as make:
        yield make


def followers(venue: FakeBinance, market: str, stream: str = KLINES) -> int:
    assert venue.stream is not None
    return venue.stream.followers((market, stream, False))


def kline_requests(venue: FakeBinance) -> int:
    return len(venue.matching(lambda r: r.path.endswith("/klines")))


def open_ms(venue: FakeBinance, market: str, index: int) -> int:
    chosen = venue.markets()[market]
    return chosen.shift_ms + int(chosen.bars[SYMBOLS[market]].timestamps[index]) // 10**6


def advance_and_see(exchange: BinanceExchange, venue: FakeBinance, market: str = "spot") -> BarSeries:
    """Reveal one bar on the venue and wait until the exchange serves it."""

    def reveal() -> int:
        venue.advance(market)
        return open_ms(venue, market, venue.markets()[market].revealed - 1)

    return bar_checks.advance_and_see(exchange, SYMBOLS[market], reveal)


def served_by(exchange: BinanceExchange, caplog: pytest.LogCaptureFixture, source: str, symbol: str = SPOT) -> None:
    """Ask for bars until the exchange logs that ``source`` serves them."""
    bar_checks.served_by(exchange, caplog, symbol, source)


@pytest.mark.parametrize("market", ["spot", "usdm"])
def test_closed_bars_arrive_by_websocket_match_the_rest_bars_and_the_forming_candle_is_never_served(
    streamed: Connections[BinanceExchange],
    streaming: FakeBinance,
    caplog: pytest.LogCaptureFixture,
    market: str,
) -> None:
    caplog.set_level(logging.INFO, "tradekit.ccxt")
    symbol = SYMBOLS[market]
    exchange = streamed(market=market)
    exchange.fetch_bars(symbol, "1m", limit=30)  # subscribes; served over REST until the first candle
    wait_for(lambda: followers(streaming, market) > 0, "the kline subscription")
    advance_and_see(exchange, streaming, market)
    before = kline_requests(streaming)
    for _ in range(5):
        streamed_bars = advance_and_see(exchange, streaming, market)
    # Five new bars by websocket. At most one REST request: when the test asks in the instant between a
    # closed candle and the next forming one, the book may backfill that one bar over REST.
    assert kline_requests(streaming) <= before + 1
    same_bars(streamed_bars, rest_bars(exchange, symbol))
    assert f"bars {symbol} 1m by websocket" in caplog.text
    # The candle still forming (pushed after each closed one) never reaches the engine.
    forming = open_ms(streaming, market, streaming.markets()[market].revealed)
    assert exchange._stream is not None and forming in exchange._stream.snapshot(("bars", symbol, "1m")).candles
    assert forming not in (streamed_bars.timestamps // 10**6).tolist()
    assert streaming.stream is not None
    assert {c.path.rsplit("/", 1)[0] for c in streaming.stream.connections} == {PATHS[market]}
    subscriptions = [m for m in streaming.stream.received if m.get("method") == "SUBSCRIBE"]
    assert {"method": "SUBSCRIBE", "params": [KLINES], "id": subscriptions[0]["id"]} in subscriptions
    price = streaming.markets()[market].prices[symbol]
    wait_for(
        lambda: exchange.latest_price(symbol) == price and f"price {symbol} by websocket" in caplog.text,
        "the streamed price",
    )
    assert followers(streaming, market, "btcusdt@miniTicker") == 1  # what ccxt's watch_ticker follows


def test_a_dropped_stream_reconnects_resubscribes_and_the_missed_bars_are_backfilled(
    streamed: Connections[BinanceExchange], streaming: FakeBinance, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "tradekit.ccxt")
    stream = streaming.stream
    assert stream is not None
    exchange = streamed()
    exchange.fetch_bars(SPOT, "1m", limit=30)
    wait_for(lambda: followers(streaming, "spot") > 0, "the subscription")
    advance_and_see(exchange, streaming)
    served_by(exchange, caplog, "websocket")
    stream.refuse()
    stream.drop()
    for _ in range(4):
        streaming.advance("spot")  # nobody follows: these bars are never pushed
    stream.refuse(False)
    wait_for(lambda: followers(streaming, "spot") > 0, "the resubscription")
    # Asked for bars before the stream speaks again (the venue pushes the forming candle on subscription),
    # the connector would poll REST, which covers the missed bars itself and leaves nothing to backfill.
    wait_for(lambda: "back after" in caplog.text, "the stream to speak again")
    served = advance_and_see(exchange, streaming)
    same_bars(served, rest_bars(exchange, SPOT))
    subscriptions = [m for m in stream.received if m.get("method") == "SUBSCRIBE" and m.get("params") == [KLINES]]
    assert len(subscriptions) == 2 and stream.accepted >= 2
    assert "4 bars the websocket missed, backfilled over REST" in caplog.text
    steps = set((served.timestamps[1:] - served.timestamps[:-1]).tolist())
    assert steps == {60_000_000_000}


def test_with_the_stream_refused_the_connector_polls_rest_and_says_so(
    streamed: Connections[BinanceExchange], streaming: FakeBinance, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "tradekit.ccxt")
    stream = streaming.stream
    assert stream is not None
    exchange = streamed()
    exchange.fetch_bars(SPOT, "1m", limit=30)
    wait_for(lambda: followers(streaming, "spot") > 0, "the subscription")
    advance_and_see(exchange, streaming)
    served_by(exchange, caplog, "websocket")
    stream.refuse()
    stream.drop()
    served_by(exchange, caplog, "REST polling: the websocket is down")
    before = kline_requests(streaming)
    streaming.advance("spot")
    served = exchange.fetch_bars(SPOT, "1m", limit=30)
    assert kline_requests(streaming) == before + 1
    same_bars(served, rest_bars(exchange, SPOT))
    wait_for(lambda: stream.refused > 0, "a reconnection attempt")  # refused: still polling
    exchange.fetch_bars(SPOT, "1m", limit=30)
    assert kline_requests(streaming) == before + 3  # the two above and this one


def test_failed_reconnections_drop_only_the_candle_that_was_forming(
    streamed: Connections[BinanceExchange], streaming: FakeBinance
) -> None:
    stream = streaming.stream
    assert stream is not None
    exchange = streamed()
    exchange.fetch_bars(SPOT, "1m", limit=30)
    market_stream = exchange._stream
    assert market_stream is not None
    market_stream.backoff = 0.01  # many attempts in little time
    key = ("bars", SPOT, "1m")
    wait_for(lambda: followers(streaming, "spot") > 0, "the subscription")
    for _ in range(5):
        streaming.advance("spot")
    wait_for(lambda: len(market_stream.snapshot(key).candles) == 6, "5 closed candles and the forming one")
    received = sorted(market_stream.snapshot(key).candles)
    stream.refuse()
    stream.drop()
    wait_for(lambda: stream.refused >= 4, "four refused attempts")
    assert sorted(market_stream.snapshot(key).candles) == received[:-1]
    stream.refuse(False)


def test_market_data_poll_never_opens_a_websocket(
    streamed: Connections[BinanceExchange], streaming: FakeBinance
) -> None:
    exchange = streamed(market_data="poll")
    exchange.fetch_bars(SPOT, "1m", limit=10)
    exchange.latest_price(SPOT)
    assert streaming.stream is not None and streaming.stream.accepted == 0


def test_the_fake_speaks_binance_stream_protocol_raw_and_combined(streaming: FakeBinance) -> None:
    """What ccxt does not use but Binance answers: combined payloads, listing, properties, unknown methods."""

    async def talk(path: str, *messages: dict[str, Any], pushes: int = 0) -> list[Any]:
        async with aiohttp.ClientSession() as session, session.ws_connect(streaming.ws_url + path) as socket:
            replies = []
            for message in messages:
                await socket.send_str(json.dumps(message))
                replies.append(json.loads((await socket.receive(timeout=5)).data))
            for _ in range(pushes):
                replies.append(json.loads((await socket.receive(timeout=5)).data))
            return replies

    subscribe = {"method": "SUBSCRIBE", "params": [KLINES], "id": 7}
    result, forming = asyncio.run(talk("/stream", subscribe, pushes=1))
    assert result == {"result": None, "id": 7}
    assert forming["stream"] == KLINES and forming["data"]["e"] == "kline" and forming["data"]["k"]["x"] is False
    assert set(forming["data"]["k"]) == set("tTsifLochlvnxqVQB")
    listed, unknown, combined = asyncio.run(
        talk(
            "/ws/0",
            {"method": "LIST_SUBSCRIPTIONS", "id": 1},
            {"method": "PING", "id": 2},
            {"method": "GET_PROPERTY", "params": ["combined"], "id": 3},
        )
    )
    assert listed == {"result": [], "id": 1}
    assert unknown["code"] == 2 and "unknown variant PING" in unknown["msg"]
    assert combined == {"result": False, "id": 3}
    ticker = {"method": "SUBSCRIBE", "params": ["btcusdt@ticker"], "id": 4}
    spot_ticker = asyncio.run(talk("/ws/1", ticker, pushes=1))[1]
    futures_ticker = asyncio.run(talk("/market/ws/1", ticker, pushes=1))[1]
    assert spot_ticker["e"] == futures_ticker["e"] == "24hrTicker"
    assert {"b", "a", "x"} <= set(spot_ticker) and not {"b", "a", "x"} & set(futures_ticker)
    assert float(futures_ticker["c"]) == float(streaming.markets()["usdm"].prices[FUTURES])


@pytest.mark.slow
def test_a_dry_run_of_sma_cross_on_binance_takes_its_bars_from_the_websocket(
    spot_bars: BarSeries, tmp_path: Path
) -> None:
    with FakeBinance(spot={SPOT: spot_bars}, history=100, stream=True, stream_every=0.05) as venue:
        settings = {
            "api_url": venue.url,
            "ws_url": venue.ws_url,
            "rate_limits": '{"spot": 1000000, "usdm": 1000000}',
            "market": "spot",
        }
        tradekit = ExchangeCli(tmp_path, "binance", settings)
        result = tradekit(*run_command("binance", "sma_cross", "--param", "fast=3", "--param", "slow=8"))
        assert result.exit_code == 0, result.stderr
        assert "reached --max-bars 60" in result.stdout
        assert venue.stream is not None and venue.stream.accepted >= 1
        assert venue.stream.published >= 60
        # The history before the first candle, and a few backfills when the loop asks between a closed
        # candle and the next: polling the 60 new bars over REST would take 60 requests or more.
        assert kline_requests(venue) <= 10
        assert journal_counts(tmp_path)["fills"] > 0
        assert venue.client_ids_placed() == []
