"""A live run on a venue holding what its journal does not explain: reported, and it waits for adopt/cancel/abort."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from tradekit_ccxt.testing.cli import ExchangeCli, journal_rows, run_command
from tradekit_ccxt.testing.exchanges import resting_price
from tradekit_hyperliquid import HyperliquidExchange
from tradekit_hyperliquid.fake_server import FakeHyperliquid

from tradekit.domain.bars import BarSeries
from tradekit.domain.orders import Fill, Order, OrderType
from tradekit.testing.cli import CliResult

SYMBOL = "BTC/USDC:USDC"
WALLET = "0x" + "ab" * 20
PRIVATE_KEY = "0x" + "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"
STRANGER = "0x" + "5e" * 16  # an order placed by someone else: by hand, another bot


@pytest.fixture
def live_venue(bars: BarSeries) -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid({SYMBOL: bars}, history=100, reveal_on_candles=True) as server:
        yield server


@pytest.fixture
def tradekit(live_venue: FakeHyperliquid, tmp_path: Path) -> Callable[..., CliResult]:
    """A three-bar live ``sma_cross`` run on the fake venue with the test wallet; arguments are added to it."""
    cli = ExchangeCli(
        tmp_path,
        "hyperliquid",
        {
            "api_url": live_venue.url,
            "wallet_address": WALLET,
            "private_key": PRIVATE_KEY,
            "rate_limits": '{"rest": 1000000}',
        },
    )
    return lambda *args: cli(*run_command("hyperliquid", "sma_cross", "--live", "--yes", *args, max_bars=3))


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


@pytest.mark.usefixtures("stranger")
def test_without_an_answer_the_live_run_does_not_start_and_says_what_it_found(
    tradekit: Callable[..., CliResult], live_venue: FakeHyperliquid, tmp_path: Path
) -> None:
    result = tradekit()  # stdin is no terminal: nobody can answer
    assert result.exit_code == 1
    assert f"unknown open order {STRANGER[2:]}" in result.stderr
    assert "unexplained position in BTC/USDC:USDC: the venue holds 0.02" in result.stderr
    assert "--on-mismatch adopt" in result.stderr
    assert live_venue.action_types() == []  # nothing touched
    assert journal_rows(tmp_path, "SELECT count(*) FROM runs") == [(0,)]


@pytest.mark.usefixtures("stranger")
def test_cancel_cancels_the_unknown_orders_and_starts(
    tradekit: Callable[..., CliResult], live_venue: FakeHyperliquid, tmp_path: Path
) -> None:
    result = tradekit("--on-mismatch", "cancel")
    assert result.exit_code == 0, result.stderr
    assert live_venue.actions[0] == {"type": "cancelByCloid", "cancels": [{"asset": 0, "cloid": STRANGER}]}
    assert live_venue.market.find(client_id=STRANGER).status == "canceled"
    events = journal_rows(tmp_path, "SELECT message FROM events WHERE kind = 'reconciliation'")
    assert "cancelled unknown order" in events[0][0]


@pytest.mark.usefixtures("stranger")
def test_adopt_takes_the_orders_and_the_position_into_the_run(
    tradekit: Callable[..., CliResult], live_venue: FakeHyperliquid, tmp_path: Path
) -> None:
    result = tradekit("--on-mismatch", "adopt")
    assert result.exit_code == 0, result.stderr
    orders = [row[0] for row in journal_rows(tmp_path, "SELECT client_order_id FROM orders")]
    assert STRANGER[2:] in orders
    fills = journal_rows(tmp_path, "SELECT fill_id, quantity FROM fills")
    assert any(fill_id.startswith("adopted:BTC/USDC:USDC:") and quantity == "0.02" for fill_id, quantity in fills)
    assert "cancelByCloid" not in live_venue.action_types()


def test_a_venue_holding_only_what_the_journal_explains_starts_without_asking(
    tradekit: Callable[..., CliResult],
) -> None:
    result = tradekit()
    assert result.exit_code == 0, result.stderr
    assert "does not explain" not in result.stderr


def test_an_adopted_order_is_followed_by_its_client_order_id_and_its_fills_booked(
    connect: Callable[..., HyperliquidExchange], venue: FakeHyperliquid, make_order: Callable[..., Order]
) -> None:
    placing = connect()
    price = resting_price(placing, SYMBOL)
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
    price = resting_price(exchange, SYMBOL)
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
