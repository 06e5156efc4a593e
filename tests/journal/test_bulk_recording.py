"""A backtest journaled in bulk, on the writer thread, holds exactly the rows that recording one by one holds."""

from __future__ import annotations

import json
import sqlite3
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradekit.domain.bars import BarSeries
from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import (
    Fill,
    Liquidity,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TriggerDirection,
)
from tradekit.domain.portfolio import Position
from tradekit.domain.run import RunInfo, RunMode
from tradekit.engine import recording
from tradekit.engine.backtest import run_backtest
from tradekit.engine.brokers import SimulatedBroker
from tradekit.engine.core import Engine
from tradekit.engine.recording import DeferredRecorder, DirectRecorder, Recorder
from tradekit.errors import UserError
from tradekit.hooks import HookFacade, new_plugin_manager
from tradekit.journal import Journal
from tradekit.journal.codec import model_json
from tradekit.journal.writer import BackgroundWriter
from tradekit.plugin import Strategy, StrategyContext
from tradekit.secrets import register_secret
from tradekit.sim import FeeSchedule, SimulatedVenue

D = Decimal
SYMBOL = "BTC/USDT"
RUN_ID = "0123456789abcdef" * 2
T0 = datetime(2024, 1, 1, tzinfo=UTC)
SECRET = "hunter2-api-token"
TABLES = {
    "orders": "rowid",
    "order_updates": "id",
    "fills": "rowid",
    "positions": "id",
}


@pytest.fixture(autouse=True)
def _clean_environment(tk_clean_environment: None) -> None:
    """No secret registered here outlives its test."""


Action = Any  # an OrderIntent to submit, a client order id to cancel, or a function of the context to either


class Script(Strategy):
    """On each bar, does what ``plan`` lists for it: submits intents, cancels client order ids."""

    def __init__(self, plan: dict[int, list[Action]]) -> None:
        super().__init__(name="script")
        self.plan = plan

    def on_bar(self, ctx: StrategyContext) -> None:
        for action in self.plan.get(ctx.index, []):
            if callable(action):
                action = action(ctx)
            if isinstance(action, str):
                ctx.cancel(action)
            else:
                ctx.submit(action)


def bars(n: int) -> BarSeries:
    """A seeded random walk around 100 on a 0.01 tick, with a small volume (so resting fills come in parts)."""
    rng = np.random.default_rng(7)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0.0, 0.004, n))), 2)
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.round(np.maximum(open_, close) * 1.003, 2)
    low = np.round(np.minimum(open_, close) * 0.997, 2)
    stamps = int(T0.timestamp()) * 1_000_000_000 + 60_000_000_000 * np.arange(n, dtype=np.int64)
    return BarSeries(
        symbol=SYMBOL,
        timeframe="1m",
        timestamps=stamps,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=np.full(n, 5.0),
        source="test",
    )


def intent(side: Side, quantity: str, **fields: Any) -> OrderIntent:
    return OrderIntent(symbol=SYMBOL, side=side, quantity=D(quantity), **fields)


def below_market(quantity: str, client_order_id: str) -> Action:
    """A buy limit a little under the close: it rests, then fills bar by bar, a volume cap at a time."""

    def make(ctx: StrategyContext) -> OrderIntent:
        price = ctx.instrument().round_price(D(str(ctx.close())) * D("0.998"))
        return intent(Side.BUY, quantity, type=OrderType.LIMIT, price=price, client_order_id=client_order_id)

    return make


def busy_plan(n: int) -> dict[int, list[Action]]:
    """Every kind of order life: filled at once, filled in parts over bars, resting then cancelled, expired
    (IOC, FOK), rejected with a reason, and a tag and an order id holding a secret."""
    plan: dict[int, list[Action]] = {}
    for i in range(1, n - 8, 8):
        plan.setdefault(i, []).append(intent(Side.BUY, "0.5", tag=f"entry {i} {SECRET}"))
        plan.setdefault(i + 1, []).append(intent(Side.SELL, "0.5", tag="exit"))
        plan.setdefault(i + 1, []).append(below_market("6", f"part-{i}"))
        # Far from the market: rests until cancelled.
        plan.setdefault(i + 2, []).append(
            intent(Side.BUY, "1", type=OrderType.LIMIT, price=D("1"), client_order_id=f"{SECRET}-{i}")
        )
        plan.setdefault(i + 6, []).append(f"{SECRET}-{i}")
        plan.setdefault(i + 6, []).append(f"part-{i}")
        # They arrive at the next bar, whose volume caps what fills: the rest expires (IOC), or all (FOK).
        for time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            plan.setdefault(i + 3, []).append(intent(Side.BUY, "6", time_in_force=time_in_force))
        # More than the cash buys: rejected, with the venue's reason.
        plan.setdefault(i + 5, []).append(intent(Side.BUY, "1000"))
        plan.setdefault(i + 5, []).append(
            intent(
                Side.SELL,
                "0.1",
                type=OrderType.STOP,
                trigger_price=D("1"),
                trigger_direction=TriggerDirection.FALLING,
                client_order_id=f"stop-{i}",
            )
        )
        plan.setdefault(i + 7, []).append(f"stop-{i}")
    return plan


def run_journaled(path: Path, recorder_for: Any, n: int = 120) -> None:
    """Run the busy script over ``n`` bars, its orders journaled by ``recorder_for(journal, run_id)``."""
    instruments = {
        SYMBOL: Instrument(symbol=SYMBOL, base="BTC", quote="USDT", tick_size=D("0.01"), lot_size=D("0.001"))
    }
    venue = SimulatedVenue(
        instruments, {"USDT": D("10000")}, FeeSchedule(maker=D("0.001"), taker=D("0.002")), volume_limit=D("0.5")
    )
    run = RunInfo(
        run_id=RUN_ID, mode=RunMode.BACKTEST, exchange="paper", strategies=("script",), symbols=(SYMBOL,), started_at=T0
    )
    with Journal(path, durable=False) as journal:
        journal.start_run(run, config={})
        recorder: Recorder = recorder_for(journal, RUN_ID)
        engine = Engine(
            run=run,
            broker=SimulatedBroker(venue),
            hooks=HookFacade(new_plugin_manager()),
            instruments=instruments,
            quote_currency="USDT",
            cash=D("10000"),
            journal=journal,
            recorder=recorder,
        )
        # Market orders arrive at the next bar's open, where its volume caps what they fill.
        run_backtest(engine, venue, Script(busy_plan(n)), {SYMBOL: bars(n)}, fill_at_close=False, skip_idle_bars=False)
        recorder.flush()


def table_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables orders are journaled in, in the order they were written (batches unpacked)."""
    with Journal(path) as journal:
        journal.unpack_batches()
    connection = sqlite3.connect(path)
    try:
        return {
            table: connection.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
            for table, order in TABLES.items()
        }
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("batch", "encoded_at_once"),
    [
        (8, 256),
        # Encoded 3 states at a time, 10 to a batch: an order's states (and so its snapshot) fall into
        # several encoded parts of one batch, whose latest snapshot is the one kept.
        (20, 3),
    ],
)
def test_a_backtest_journaled_in_bulk_holds_the_rows_recording_one_by_one_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int, encoded_at_once: int
) -> None:
    register_secret(SECRET)
    monkeypatch.setattr(recording, "ENCODED_AT_ONCE", encoded_at_once)
    run_journaled(tmp_path / "direct.sqlite", DirectRecorder)
    run_journaled(tmp_path / "bulk.sqlite", lambda journal, run_id: DeferredRecorder(journal, run_id, batch=batch))
    direct, bulk = table_rows(tmp_path / "direct.sqlite"), table_rows(tmp_path / "bulk.sqlite")

    # What the script was written to produce is there: every status, reasons, redacted ids and tags...
    updates = direct["order_updates"]
    assert {row[3] for row in updates} == {status.value for status in OrderStatus}
    assert all(row[5] for row in updates if row[3] in ("rejected", "expired", "cancelled"))
    assert SECRET not in repr(direct)
    assert any("***" in row[1] for row in direct["orders"]) and any("***" in row[9] for row in direct["orders"])
    # ...and the bulk journal holds the same rows, value for value, in the same order.
    for table in TABLES:
        assert bulk[table] == direct[table], table


def test_journaled_orders_read_back_as_the_orders_the_engine_had(tmp_path: Path) -> None:
    run_journaled(tmp_path / "bulk.sqlite", lambda journal, run_id: DeferredRecorder(journal, run_id, batch=8))
    with Journal(tmp_path / "bulk.sqlite") as journal:
        orders = journal.orders(RUN_ID)
        fills = journal.fills(RUN_ID)
        history = journal.order_history(RUN_ID, orders[0].client_order_id)
    assert len(orders) > 50 and len(fills) > 20
    assert [status for _, status, _ in history] == [OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert all(order.updated_at is not None and order.updated_at.tzinfo is not None for order in orders)


# --- one order, one fill, every value the journal may meet -------------------------------------------

texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None, min_value=D("1e-12"), max_value=D("1e12"))
zones = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30)), None])


@st.composite
def moments(draw: st.DrawFn) -> datetime:
    # Far enough from year 1 and year 9999 that a time zone cannot push them out of range.
    moment = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    zone = draw(zones)
    return moment if zone is None else moment.replace(tzinfo=zone)


@st.composite
def recorded(draw: st.DrawFn) -> tuple[Order, Fill, Position]:
    """An order in any state, a fill of it and a position, with any text, number and time in them."""
    order = Order(
        client_order_id=draw(texts.filter(bool)),
        symbol=draw(texts),
        side=draw(st.sampled_from(Side)),
        type=OrderType.LIMIT,
        quantity=draw(decimals),
        price=draw(decimals),
        time_in_force=draw(st.sampled_from(TimeInForce)),
        post_only=draw(st.booleans()),
        tag=draw(texts),
        status=draw(st.sampled_from(OrderStatus)),
        exchange_order_id=draw(st.none() | texts),
        filled_quantity=draw(decimals),
        average_fill_price=draw(st.none() | decimals),
        reason=draw(st.none() | texts),
        # The engine dates every order; an undated one is dated when it is written, which differs.
        created_at=draw(moments()),
        updated_at=draw(st.none() | moments()),
        triggered=draw(st.booleans()),
    )
    fill = Fill(
        fill_id=draw(texts),
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        quantity=draw(decimals),
        price=draw(decimals),
        fee=draw(decimals),
        fee_currency=draw(texts),
        liquidity=draw(st.sampled_from(Liquidity)),
        timestamp=draw(moments()),
    )
    position = Position(
        symbol=order.symbol, quantity=-draw(decimals), average_price=draw(decimals), realized_pnl=draw(decimals)
    )
    return order, fill, position


@pytest.fixture
def journals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A fresh pair of journals (one by one, in bulk) per call, the run started in both."""
    run = RunInfo(run_id=RUN_ID, mode=RunMode.BACKTEST, exchange="paper", strategies=(), symbols=(SYMBOL,))

    def pair() -> tuple[Path, Path]:
        folder = tmp_path_factory.mktemp("pair")
        paths = folder / "direct.sqlite", folder / "bulk.sqlite"
        for path in paths:
            with Journal(path, durable=False) as journal:
                journal.start_run(run, config={})
        return paths

    yield pair


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=recorded(), secret=st.sampled_from(["", SECRET]), spot=texts)
def test_any_order_fill_and_position_are_journaled_in_bulk_as_one_by_one(
    journals: Any, records: tuple[Order, Fill, Position], secret: str, spot: str
) -> None:
    order, fill, position = records
    if secret:
        register_secret(secret)
        # The secret shows up inside texts of the order and of the fill.
        order.__dict__["tag"] = spot + secret + spot
        order.__dict__["reason"] = secret
        fill = fill.model_copy(update={"fill_id": secret + spot, "fee_currency": spot + secret})
    assert_journaled_alike(journals(), order, fill, position)


def assert_journaled_alike(paths: tuple[Path, Path], order: Order, fill: Fill, position: Position) -> None:
    """Recording ``order``, then ``fill`` and ``position``, one by one and in bulk gives the same rows."""
    direct_path, bulk_path = paths
    for path, make in ((direct_path, DirectRecorder), (bulk_path, DeferredRecorder)):
        with Journal(path, durable=False) as journal:
            recorder = make(journal, RUN_ID)
            recorder.order(order)
            recorder.fill(fill, position)
            recorder.flush()
    assert table_rows(bulk_path) == table_rows(direct_path)


def test_texts_holding_a_nul_character_are_journaled_whole(journals: Any) -> None:
    """SQLite's JSON functions would cut such a text short: the batch is bound row by row instead."""
    order = Order(
        client_order_id="a\x00b",
        symbol=SYMBOL,
        side=Side.SELL,
        type=OrderType.MARKET,
        quantity=D("2"),
        status=OrderStatus.FILLED,
        filled_quantity=D("2"),
        reason="venue said \x00 and more",
        created_at=T0,
        updated_at=T0 + timedelta(seconds=1, microseconds=5),
    )
    fill = Fill(
        fill_id="f\x00",
        client_order_id=order.client_order_id,
        symbol=SYMBOL,
        side=Side.SELL,
        quantity=D("2"),
        price=D("101.5"),
        timestamp=T0,
    )
    assert_journaled_alike(journals(), order, fill, Position(symbol=SYMBOL, quantity=D("-2"), average_price=D("101.5")))
    with Journal(journals()[0]) as journal:
        assert journal.orders(RUN_ID) == []  # a fresh pair holds nothing: the rows above are the recorder's


def test_an_order_snapshot_is_the_text_model_json_writes(tmp_path: Path) -> None:
    """In a batch written in one call, or order by order: a secret, times not in UTC, escapes, a NUL."""
    register_secret(SECRET)
    moment = datetime(2024, 5, 6, 7, 8, 9, 120000, tzinfo=UTC)
    plain = Order(client_order_id="a", symbol=SYMBOL, side=Side.BUY, type=OrderType.MARKET, quantity=D("1.50"))
    secret = plain.model_copy(update={"client_order_id": "b", "tag": f"x{SECRET}", "created_at": moment})
    elsewhere = plain.model_copy(
        update={"client_order_id": "c", "updated_at": moment.astimezone(timezone(timedelta(hours=3)))}
    )
    quoted = plain.model_copy(update={"client_order_id": "d", "reason": 'say "no"\n\t\x1f é', "post_only": True})
    naive = plain.model_copy(update={"client_order_id": "e", "created_at": moment.replace(tzinfo=None)})
    nul = plain.model_copy(update={"client_order_id": "f", "reason": "\x00"})
    batches = ([plain], [plain, secret], [plain, elsewhere, quoted], [quoted, naive, secret], [plain, secret, nul])
    for number, orders in enumerate(batches):
        written = snapshots_written(tmp_path / f"{number}.sqlite", orders)
        assert written == [model_json(order) for order in orders], orders


def snapshots_written(path: Path, orders: list[Order]) -> list[str]:
    """The snapshots a backtest's recorder writes of ``orders`` into a new journal at ``path``."""
    run = RunInfo(run_id=RUN_ID, mode=RunMode.BACKTEST, exchange="paper", strategies=(), symbols=(SYMBOL,))
    with Journal(path, durable=False) as journal:
        journal.start_run(run, config={})
        recorder = DeferredRecorder(journal, RUN_ID)
        for order in orders:
            recorder.order(order)
        recorder.flush()
    return [row[9] for row in table_rows(path)["orders"]]


def odd(client_order_id: str, field: str, value: Any) -> Order:
    """An order whose instance dict holds ``value`` under ``field``, as code that bypasses validation may leave it."""
    order = Order(
        client_order_id=client_order_id, symbol=SYMBOL, side=Side.BUY, type=OrderType.MARKET, quantity=D("1.5")
    )
    order.__dict__[field] = value
    return order


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", 1.5),  # a float where a Decimal belongs
        ("quantity", 2),  # an int
        ("tag", OrderStatus.NEW),  # an enum member in a text field
        ("tag", b"bytes"),
        ("post_only", 1),  # an int in a bool field
        ("reason", D("3")),
        ("extra", "not a field"),  # a key the model does not have
    ],
)
def test_an_order_holding_a_value_of_another_type_is_written_as_model_json_writes_it(
    tmp_path: Path, field: str, value: Any
) -> None:
    """msgspec writes a batch of snapshots only when pydantic would write each value alike (see snapshots.py)."""
    plain = odd("plain", "tag", "")
    unusual = odd("unusual", field, value)
    with warnings.catch_warnings():
        # pydantic warns that it writes a value of an unexpected type: what the test is about.
        warnings.simplefilter("ignore", UserWarning)
        expected = [model_json(plain), model_json(unusual)]
        assert snapshots_written(tmp_path / "journal.sqlite", [plain, unusual]) == expected


def test_a_secret_written_escaped_in_json_is_redacted_from_every_text(journals: Any) -> None:
    """A secret holding a quote or a backslash is not found verbatim in a batch's JSON: still redacted."""
    secret = 'to"k\\en'
    register_secret(secret)
    order = Order(
        client_order_id=f"id-{secret}",
        symbol=SYMBOL,
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=D("1"),
        price=D("10"),
        tag=f"tag {secret}",
        status=OrderStatus.REJECTED,
        reason=f"venue echoed {secret}",
        created_at=T0,
        updated_at=T0,
    )
    fill = Fill(
        fill_id=secret,
        client_order_id=order.client_order_id,
        symbol=SYMBOL,
        side=Side.BUY,
        quantity=D("1"),
        price=D("10"),
        fee_currency=f"{secret}USDT",
        timestamp=T0,
    )
    paths = journals()
    assert_journaled_alike(paths, order, fill, Position(symbol=SYMBOL, quantity=D("1"), average_price=D("10")))
    rows = table_rows(paths[1])
    assert secret not in repr(rows) and '"' not in repr(rows["fills"])
    assert rows["order_updates"][0][5] == "venue echoed ***"


# --- batches, failures -------------------------------------------------------------------------------


@pytest.mark.parametrize("encoded_at_once", [3, 256])
def test_a_backtest_hands_its_records_to_the_writer_every_half_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoded_at_once: int
) -> None:
    """At most ``batch`` order states wait uncommitted: half being written, half being captured (and
    encoded a few at a time: 3 does not divide 5)."""
    monkeypatch.setattr(recording, "ENCODED_AT_ONCE", encoded_at_once)
    sizes: list[int] = []
    submit = BackgroundWriter.submit

    def counting(self: BackgroundWriter, batch: Any) -> None:
        sizes.append(len(json.loads(batch.states)))
        submit(self, batch)

    monkeypatch.setattr(BackgroundWriter, "submit", counting)
    run_journaled(tmp_path / "bulk.sqlite", lambda journal, run_id: DeferredRecorder(journal, run_id, batch=10))
    with Journal(tmp_path / "bulk.sqlite") as journal:
        states = sum(len(journal.order_history(RUN_ID, order.client_order_id)) for order in journal.orders(RUN_ID))
    assert sum(sizes) == states > 100
    # Every batch but the last (written by flush) holds exactly half of ``batch`` states.
    assert set(sizes[:-1]) == {5} and sizes[-1] <= 5


def test_a_journal_that_cannot_be_written_ends_the_backtest_with_its_error_and_keeps_earlier_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tradekit.journal.connection as connection

    path = tmp_path / "full.sqlite"
    opened = connection.open_journal_database

    def small_disk(path: Path, **options: Any) -> sqlite3.Connection:
        database = opened(path, **options)
        pages = database.execute("PRAGMA page_count").fetchone()[0]
        # Room for a few batches, then "database or disk is full".
        database.execute(f"PRAGMA max_page_count = {pages + 12}")
        return database

    monkeypatch.setattr(connection, "open_journal_database", small_disk)
    with pytest.raises(UserError, match=r"cannot write the run journal .*full.* while recording a backtest's orders"):
        run_journaled(path, lambda journal, run_id: DeferredRecorder(journal, run_id, batch=8), n=600)
    monkeypatch.undo()
    with Journal(path) as journal:
        orders = journal.orders(RUN_ID)
        histories = [journal.order_history(RUN_ID, order.client_order_id) for order in orders]
    assert orders, "the batches written before the failure stay"
    # Batches are whole: every order written has its history up to its state in the snapshot.
    assert all(history and history[-1][1] is order.status for order, history in zip(orders, histories, strict=True))


# --- batches committed as they are, unpacked when read -----------------------------------------------


def raw_counts(path: Path) -> dict[str, int]:
    """How many rows each table holds, read with plain SQL (no Journal, which would unpack first)."""
    connection = sqlite3.connect(path)
    try:
        return {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("record_batches", *TABLES)
        }
    finally:
        connection.close()


def test_a_backtest_commits_its_batches_as_they_are_and_the_first_read_unpacks_them(tmp_path: Path) -> None:
    path = tmp_path / "bulk.sqlite"
    run_journaled(path, lambda journal, run_id: DeferredRecorder(journal, run_id, batch=8))
    before = raw_counts(path)
    assert before["record_batches"] > 20
    assert [before[table] for table in TABLES] == [0, 0, 0, 0]

    with Journal(path) as journal:
        (record,) = journal.list_runs()
    after = raw_counts(path)
    assert after["record_batches"] == 0
    assert record.orders == after["orders"] > 50 and record.fills == after["fills"] > 20
    assert after["order_updates"] > after["orders"] and after["positions"] == after["fills"]
    # Read again: nothing is unpacked twice.
    with Journal(path) as journal:
        journal.unpack_batches()
    assert raw_counts(path) == after


def test_unpacking_tells_its_progress_batch_by_batch(tmp_path: Path) -> None:
    path = tmp_path / "bulk.sqlite"
    run_journaled(path, lambda journal, run_id: DeferredRecorder(journal, run_id, batch=8))
    seen: list[tuple[int, int]] = []
    with Journal(path) as journal:
        pending = journal.pending_batches()
        journal.unpack_batches(lambda done, total: seen.append((done, total)))
        assert journal.pending_batches() == 0
    assert pending > 20 and seen == [(done, pending) for done in range(1, pending + 1)]


class _MovedMeanwhile:
    """A connection that lets ``meanwhile()`` run just after it counted the batches to unpack.

    The count is read (the statement stepped) before ``meanwhile()`` runs, so what ``meanwhile()``
    commits does not change it (in WAL mode a reader blocks no writer).
    """

    def __init__(self, connection: sqlite3.Connection, meanwhile: Callable[[], None]) -> None:
        self.connection = connection
        self.meanwhile = meanwhile

    def execute(self, sql: str, *args: Any) -> Any:
        cursor = self.connection.execute(sql, *args)
        if sql.startswith("SELECT max(id), count(*) FROM record_batches"):
            self.meanwhile()
        return cursor


def unpack_while(path: Path, meanwhile: Callable[[], None]) -> int:
    """Unpack ``path``'s batches through a connection of its own, ``meanwhile()`` running once they are counted."""
    from tradekit.journal.bulk import unpack_batches

    connection = sqlite3.connect(path, isolation_level=None)
    try:
        return unpack_batches(_MovedMeanwhile(connection, meanwhile))  # type: ignore[arg-type]
    finally:
        connection.close()


def test_two_readers_unpacking_at_once_move_each_batch_once(tmp_path: Path) -> None:
    path = tmp_path / "bulk.sqlite"
    run_journaled(path, lambda journal, run_id: DeferredRecorder(journal, run_id, batch=8))
    run_journaled(tmp_path / "direct.sqlite", DirectRecorder)
    with Journal(path) as other:
        assert unpack_while(path, other.unpack_batches) == 0
    assert raw_counts(path)["record_batches"] == 0
    assert table_rows(path) == table_rows(tmp_path / "direct.sqlite")


def test_batches_committed_while_another_reader_unpacks_land_in_the_order_they_were_committed(
    tmp_path: Path,
) -> None:
    """A reader counts the batches; another empties the table; the backtest commits two more. Their ids
    are new (never those of batches gone), so the first reader leaves them, and they land in order."""
    path = tmp_path / "bulk.sqlite"
    run_journaled(path, lambda journal, run_id: DeferredRecorder(journal, run_id, batch=8))
    order = Order(
        client_order_id="late-one",
        symbol=SYMBOL,
        side=Side.BUY,
        type=OrderType.LIMIT,
        price=D("99"),
        quantity=D("1"),
        created_at=T0,
    )

    def meanwhile() -> None:
        with Journal(path) as other:
            other.unpack_batches()
            # A batch a state: the order accepted, then filled.
            recorder = DeferredRecorder(other, RUN_ID, batch=2)
            for status, filled in ((OrderStatus.ACCEPTED, "0"), (OrderStatus.FILLED, "1")):
                recorder.order(
                    order.model_copy(update={"status": status, "filled_quantity": D(filled), "updated_at": T0})
                )
            recorder.flush()
        assert raw_counts(path)["record_batches"] == 2

    assert unpack_while(path, meanwhile) == 0
    with Journal(path) as journal:
        (latest,) = [o for o in journal.orders(RUN_ID) if o.client_order_id == "late-one"]
        history = journal.order_history(RUN_ID, "late-one")
    assert latest.status is OrderStatus.FILLED
    assert [status for _, status, _ in history] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]


def test_a_read_that_cannot_unpack_says_why_and_reads_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bulk.sqlite"
    run_journaled(path, lambda journal, run_id: DeferredRecorder(journal, run_id, batch=8))
    run_journaled(tmp_path / "direct.sqlite", DirectRecorder)
    with Journal(path) as journal:
        pages = journal._connection.execute("PRAGMA page_count").fetchone()[0]
        journal._connection.execute(f"PRAGMA max_page_count = {pages}")  # a full disk
        with caplog.at_level("WARNING", logger="tradekit.journal.connection"):
            (record,) = journal.list_runs()
        with pytest.raises(
            UserError, match=r"cannot write the run journal .*full.* while unpacking a backtest's orders"
        ):
            journal.unpack_batches()
    assert record.run_id == RUN_ID
    assert "show fewer orders and fills until it can be written" in caplog.text
    assert "(database or disk is full) while unpacking a backtest's orders" in caplog.text
    # The batches that fitted moved whole, the rest wait; the next read that can write moves them.
    left = raw_counts(path)
    direct = table_rows(tmp_path / "direct.sqlite")
    assert left["record_batches"] > 0 and record.orders == left["orders"] < len(direct["orders"])
    assert table_rows(path) == direct


def test_a_read_while_another_process_holds_the_journal_says_so_and_reads_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bulk.sqlite"
    run_journaled(path, lambda journal, run_id: DeferredRecorder(journal, run_id, batch=8))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing
    try:
        with Journal(path) as journal:
            journal._connection.execute("PRAGMA busy_timeout = 50")
            with caplog.at_level("WARNING", logger="tradekit.journal.connection"):
                (record,) = journal.list_runs()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert record.run_id == RUN_ID and record.orders == 0
    assert "is locked by another process" in caplog.text and "while unpacking a backtest's orders" in caplog.text
    with Journal(path) as journal:
        assert len(journal.orders(RUN_ID)) > 50


def test_a_journal_another_process_upgraded_meanwhile_is_not_upgraded_twice(tmp_path: Path) -> None:
    from tradekit.journal.schema import SCHEMA_VERSION, _migrate

    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        # What a process that read version 1 before the other's upgrade committed goes on to do.
        _migrate(connection, path, 1)
        versions = [row[0] for row in connection.execute("SELECT version FROM schema_version")]
    finally:
        connection.close()
    assert versions == [SCHEMA_VERSION]


def test_a_journal_of_schema_version_1_is_upgraded_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    run_journaled(path, DirectRecorder)
    expected = table_rows(path)
    # As tradekit wrote it before batches were committed as they are.
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("DROP TABLE record_batches")
    connection.execute("UPDATE schema_version SET version = 1")
    connection.close()

    run = RunInfo(
        run_id="fedcba9876543210" * 2,
        mode=RunMode.BACKTEST,
        exchange="paper",
        strategies=("script",),
        symbols=(SYMBOL,),
        started_at=T0,
    )
    with Journal(path, durable=False) as journal:
        journal.start_run(run, config={})
        recorder = DeferredRecorder(journal, run.run_id, batch=8)
        recorder.order(
            Order(
                client_order_id="new-one",
                symbol=SYMBOL,
                side=Side.BUY,
                type=OrderType.MARKET,
                quantity=D("1"),
                created_at=T0,
            )
        )
        recorder.flush()
        assert [order.client_order_id for order in journal.orders(run.run_id)] == ["new-one"]
        assert len(journal.orders(RUN_ID)) == len(expected["orders"])
    connection = sqlite3.connect(path)
    versions = [row[0] for row in connection.execute("SELECT version FROM schema_version ORDER BY version")]
    connection.close()
    assert versions == [1, 2]
    assert table_rows(path)["fills"] == expected["fills"]
