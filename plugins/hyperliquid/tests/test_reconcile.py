"""A live run on a venue holding what its journal does not explain: reported, and it waits for adopt/cancel/abort."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from tradekit_hyperliquid import HyperliquidExchange
from tradekit_hyperliquid.fake_server import FakeHyperliquid

from tradekit.domain.bars import BarSeries
from tradekit.domain.orders import Fill, Order, OrderType

SYMBOL = "BTC/USDC:USDC"
WALLET = "0x" + "ab" * 20
PRIVATE_KEY = "0x" + "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"
ENV = "TRADEKIT_PLUGINS__EXCHANGE__HYPERLIQUID__"
STRANGER = "0x" + "5e" * 16  # an order placed by someone else: by hand, another bot


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def live_venue(bars: BarSeries) -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid({SYMBOL: bars}, history=100, reveal_on_candles=True) as server:
        yield server


@pytest.fixture
def tradekit(
    live_venue: FakeHyperliquid, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    from tradekit.cli.main import main

    monkeypatch.chdir(tmp_path)
    for name, value in {
        "API_URL": live_venue.url,
        "WALLET_ADDRESS": WALLET,
        "PRIVATE_KEY": PRIVATE_KEY,
        "RATE_LIMITS": '{"rest": 1000000}',
    }.items():
        monkeypatch.setenv(f"{ENV}{name}", value)
    root = logging.getLogger()

    def run(*args: str) -> Result:
        handlers, level = list(root.handlers), root.level
        capsys.readouterr()
        try:
            code = main(
                [
                    "run",
                    "--strategy",
                    "sma_cross",
                    "--exchange",
                    "hyperliquid",
                    "--timeframe",
                    "1m",
                    "--max-bars",
                    "3",
                    "--poll-interval",
                    "0",
                    "--live",
                    "--yes",
                    *args,
                ]
            )
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


@pytest.fixture
def stranger(live_venue: FakeHyperliquid) -> Iterator[None]:
    """A resting buy someone else placed, and a position nobody's journal explains."""
    from tradekit_ccxt.testing import FakeOrder

    market = live_venue.market
    price = market.prices[SYMBOL] - 500
    market.place(
        FakeOrder(
            oid=0, client_id=STRANGER, symbol=SYMBOL, side="buy", kind="limit", quantity=Decimal("0.01"), price=price
        )
    )
    market.positions[SYMBOL] = Decimal("0.02")
    market.entry[SYMBOL] = market.prices[SYMBOL]
    yield


def journal_rows(tmp_path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(tmp_path / "tradekit-journal.sqlite3") as connection:
        return connection.execute(sql).fetchall()


@pytest.mark.usefixtures("stranger")
def test_without_an_answer_the_live_run_does_not_start_and_says_what_it_found(
    tradekit: Callable[..., Result], live_venue: FakeHyperliquid, tmp_path: Path
) -> None:
    result = tradekit()  # stdin is no terminal: nobody can answer
    assert result.code == 1
    assert f"unknown open order {STRANGER[2:]}" in result.err
    assert "unexplained position in BTC/USDC:USDC: the venue holds 0.02" in result.err
    assert "--on-mismatch adopt" in result.err
    assert live_venue.action_types() == []  # nothing touched
    assert journal_rows(tmp_path, "SELECT count(*) FROM runs") == [(0,)]


@pytest.mark.usefixtures("stranger")
def test_cancel_cancels_the_unknown_orders_and_starts(
    tradekit: Callable[..., Result], live_venue: FakeHyperliquid, tmp_path: Path
) -> None:
    result = tradekit("--on-mismatch", "cancel")
    assert result.code == 0, result.err
    assert live_venue.actions[0] == {"type": "cancelByCloid", "cancels": [{"asset": 0, "cloid": STRANGER}]}
    assert live_venue.market.find(client_id=STRANGER).status == "canceled"
    events = journal_rows(tmp_path, "SELECT message FROM events WHERE kind = 'reconciliation'")
    assert "cancelled unknown order" in events[0][0]


@pytest.mark.usefixtures("stranger")
def test_adopt_takes_the_orders_and_the_position_into_the_run(
    tradekit: Callable[..., Result], live_venue: FakeHyperliquid, tmp_path: Path
) -> None:
    result = tradekit("--on-mismatch", "adopt")
    assert result.code == 0, result.err
    orders = [row[0] for row in journal_rows(tmp_path, "SELECT client_order_id FROM orders")]
    assert STRANGER[2:] in orders
    fills = journal_rows(tmp_path, "SELECT fill_id, quantity FROM fills")
    assert any(fill_id.startswith("adopted:BTC/USDC:USDC:") and quantity == "0.02" for fill_id, quantity in fills)
    assert "cancelByCloid" not in live_venue.action_types()


def test_a_venue_holding_only_what_the_journal_explains_starts_without_asking(
    tradekit: Callable[..., Result],
) -> None:
    result = tradekit()
    assert result.code == 0, result.err
    assert "does not explain" not in result.err


def test_an_adopted_order_is_followed_by_its_client_order_id_and_its_fills_booked(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    placing = connect()
    price = placing.instruments([SYMBOL])[SYMBOL].round_price(placing.latest_price(SYMBOL) * Decimal("0.9"))
    order = make_order(type=OrderType.LIMIT, price=price)
    placing.submit_order(order)
    restarted = connect()  # a new process: it knows nothing of the order
    assert restarted.poll_events() == []
    view = restarted.fetch_order(order.client_order_id, SYMBOL)
    assert view is not None and view.status.is_open
    venue.set_price(SYMBOL, price - 1)
    fills = [e for e in restarted.poll_events() if isinstance(e, Fill)]
    assert [(f.client_order_id, f.quantity) for f in fills] == [(order.client_order_id, Decimal("0.01"))]


def test_open_orders_of_another_tradekit_run_in_the_journal_are_left_to_it(
    connect: Callable[..., HyperliquidExchange],
    venue: FakeHyperliquid,
    make_order: Callable[..., Order],
    tmp_path: Path,
) -> None:
    import uuid
    from datetime import UTC, datetime

    from tradekit.domain.run import RunInfo, RunMode
    from tradekit.journal import Journal
    from tradekit.session.reconcile import find_discrepancies

    exchange = connect()
    price = exchange.instruments([SYMBOL])[SYMBOL].round_price(exchange.latest_price(SYMBOL) * Decimal("0.9"))
    other_run = uuid.uuid4().hex
    theirs = make_order(type=OrderType.LIMIT, price=price).model_copy(
        update={"client_order_id": f"{other_run[:12]}{1:020x}"}
    )
    stranger = make_order(type=OrderType.LIMIT, price=price)
    with Journal(tmp_path / "journal.sqlite3") as journal:
        journal.start_run(
            RunInfo(
                run_id=other_run,
                mode=RunMode.LIVE,
                exchange="hyperliquid",
                strategies=("long_wallet",),
                symbols=(SYMBOL,),
                started_at=datetime.now(UTC),
            ),
            {},
        )
        journal.record_order(other_run, theirs)
        exchange.submit_order(theirs)
        exchange.submit_order(stranger)
        found = find_discrepancies(exchange, journal, (SYMBOL,), None)
    assert [o.client_order_id for o in found.other_runs[other_run]] == [theirs.client_order_id]
    assert [o.client_order_id for o in found.unknown_orders] == [stranger.client_order_id]
    assert "left to that run" in found.describe()
