"""The run journal keeps every record of a run exactly, survives a crash, and never stores a secret."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradekit import secrets
from tradekit.domain import (
    ALLOWED_TRANSITIONS,
    EventKind,
    Fill,
    Liquidity,
    NotifierEvent,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Position,
    RiskVerdict,
    Severity,
    Side,
    TriggerDirection,
)
from tradekit.domain.run import RunInfo, RunMode, RunSummary
from tradekit.errors import UserError
from tradekit.journal import Journal, RunRecord
from tradekit.journal import connection as journal_connection

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
SECRET = "sk-live-9f8e7d6c5b4a-TOPSECRET"


def run_info(
    run_id: str = "run-1",
    *,
    mode: RunMode = RunMode.DRY_RUN,
    exchange: str = "binance",
    strategies: tuple[str, ...] = ("sma_cross",),
    symbols: tuple[str, ...] = ("BTC/USDT", "ETH/USDT"),
    started_at: datetime | None = T0,
) -> RunInfo:
    return RunInfo(
        run_id=run_id,
        mode=mode,
        exchange=exchange,
        strategies=strategies,
        symbols=symbols,
        risk_rules=("max_position",),
        notifiers=("telegram",),
        started_at=started_at,
    )


def summary(run_id: str = "run-1", equity: str = "10123.4500") -> RunSummary:
    return RunSummary(
        run_id=run_id,
        reason="end of data",
        ended_at=T0 + timedelta(days=1),
        equity=Decimal(equity),
        orders=3,
        fills=2,
        stats={"sharpe": 1.25, "max_drawdown": Decimal("-0.0420")},
    )


def limit_order(client_order_id: str, *, price: str = "43000.50", quantity: str = "0.00100000") -> Order:
    return Order(
        client_order_id=client_order_id,
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal(quantity),
        price=Decimal(price),
        created_at=T0,
        tag="ladder level 3",
    )


def fill_of(order: Order, fill_id: str, quantity: str, price: str, *, fee: str = "0.0000043") -> Fill:
    return Fill(
        fill_id=fill_id,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        quantity=Decimal(quantity),
        price=Decimal(price),
        fee=Decimal(fee),
        fee_currency="BTC",
        liquidity=Liquidity.MAKER,
        timestamp=T0 + timedelta(minutes=5),
    )


def journal_bytes(path: Path) -> bytes:
    """The database file and its write-ahead log, as stored on disk."""
    data = b""
    for suffix in ("", "-wal"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            data += part.read_bytes()
    return data


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal" / "runs.sqlite"


@pytest.fixture
def forget_secrets() -> Iterator[None]:
    yield
    secrets.forget_all()


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "batched"])
def test_every_record_kind_round_trips_exactly_after_reopening(path: Path, durable: bool) -> None:
    stop = Order(
        client_order_id="stop-1",
        symbol="ETH/USDT",
        side=Side.SELL,
        type=OrderType.STOP_LIMIT,
        quantity=Decimal("1E+2"),
        price=Decimal("2999.990"),
        trigger_price=Decimal("3000.00000000"),
        trigger_direction=TriggerDirection.FALLING,
        reduce_only=True,
        created_at=datetime(2024, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
    )
    stop.transition(OrderStatus.ACCEPTED, at=T0 + timedelta(seconds=1))
    stop.exchange_order_id = "venue-77"
    limit = limit_order("limit-1")
    limit.transition(OrderStatus.ACCEPTED, at=T0)
    first = fill_of(limit, "fill-1", "0.00040000", "43000.50")
    second = fill_of(limit, "fill-2", "0.0006", "42999.125")
    for fill in (first, second):
        limit.record_fill(fill.quantity, fill.price, fill.fee, at=fill.timestamp)
    position = Position(
        symbol="BTC/USDT",
        quantity=Decimal("0.00100000"),
        average_price=Decimal("42999.8250"),
        realized_pnl=Decimal("-0.000"),
    )
    state: dict[str, Any] = {
        "levels": [Decimal("42000.0"), Decimal("41000.00")],
        "anchor": Decimal("0.1") + Decimal("0.2"),
        "last_bar": T0,
        "naive": datetime(2024, 1, 1, 9, 30),
        "pair": (1, "two"),
        "flags": {"armed": True, "ratio": 0.5, "missing": None},
        "$decimal": "a key that looks like a tag",
        "nested": {"$datetime": "a lone tag-like key"},
    }
    intent = OrderIntent(
        symbol="BTC/USDT",
        side=Side.BUY,
        quantity=Decimal("0.50"),
        type=OrderType.LIMIT,
        price=Decimal("43000.5"),
        client_order_id="limit-1",
        tag="entry",
    )
    verdicts = [
        RiskVerdict.accept("kill_switch"),
        RiskVerdict.resize("max_position", Decimal("0.00100000"), "max position 0.001 BTC, asked 0.50"),
    ]
    event = NotifierEvent(
        kind=EventKind.ORDER_FILLED,
        message="bought 0.001 BTC at 42999.825",
        severity=Severity.WARNING,
        data={"price": Decimal("42999.8250"), "at": T0, "fills": ["fill-1", "fill-2"]},
        timestamp=T0 + timedelta(minutes=6),
        run_id="run-1",
    )
    report = {"total_return": Decimal("0.012345"), "trades": 2, "curve": [[T0, Decimal("10000")]]}
    config = {"exchange": {"name": "binance", "api_key": "**********"}, "risk": {"max": "0.001"}}

    with Journal(path, durable=durable) as journal:
        journal.start_run(run_info(), config)
        journal.record_order("run-1", stop)
        journal.record_order("run-1", limit)
        for fill in (first, second):
            journal.record_fill("run-1", fill)
        journal.record_position("run-1", position, T0 + timedelta(minutes=5))
        journal.record_strategy_state("run-1", "sma_cross", state, T0 + timedelta(minutes=5))
        journal.record_risk_verdicts("run-1", intent, verdicts, "resized", T0, "limit-1")
        journal.record_event("run-1", event)
        journal.store_report("run-1", report)
        journal.finish_run("run-1", summary())

    with Journal(path, create=False) as journal:
        assert journal.orders("run-1") == [stop, limit]
        stored_stop = journal.orders("run-1")[0]
        assert str(stored_stop.quantity) == "1E+2"
        assert str(stored_stop.trigger_price) == "3000.00000000"
        assert stored_stop.created_at is not None and stored_stop.created_at.utcoffset() == timedelta(0)
        assert journal.fills("run-1") == [first, second]
        assert [str(f.price) for f in journal.fills("run-1")] == ["43000.50", "42999.125"]
        assert journal.positions("run-1") == {"BTC/USDT": position}
        assert journal.position_history("run-1") == [(T0 + timedelta(minutes=5), position)]
        restored = journal.last_strategy_state("run-1", "sma_cross")
        assert restored == {**state, "pair": [1, "two"]}
        assert restored is not None
        assert str(restored["anchor"]) == "0.3"
        assert str(restored["levels"][1]) == "41000.00"
        assert restored["naive"].tzinfo is None
        assert journal.risk_verdicts("run-1") == [
            {
                "timestamp": T0,
                "decision": "resized",
                "client_order_id": "limit-1",
                "intent": intent,
                "verdicts": verdicts,
            }
        ]
        assert journal.events("run-1") == [event]
        assert journal.report("run-1") == report
        record = journal.get_run("run-1")
        assert record == RunRecord(
            run_id="run-1",
            mode=RunMode.DRY_RUN,
            exchange="binance",
            strategies=("sma_cross",),
            symbols=("BTC/USDT", "ETH/USDT"),
            started_at=T0,
            ended_at=T0 + timedelta(days=1),
            end_reason="end of data",
            orders=2,
            fills=2,
            equity=Decimal("10123.4500"),
            config=config,
            risk_rules=("max_position",),
            notifiers=("telegram",),
            stats={"sharpe": 1.25, "max_drawdown": Decimal("-0.0420")},
        )
        assert str(record.equity) == "10123.4500"


def test_decimals_of_any_size_and_exponent_come_back_with_the_same_digits(path: Path) -> None:
    positive = st.decimals(min_value=Decimal("1E-18"), max_value=Decimal("1E+12"), places=None).filter(
        lambda d: d.is_finite()
    )
    signed = st.decimals(allow_nan=False, allow_infinity=False)
    counter = iter(range(10**9))

    with Journal(path, durable=False) as journal:
        journal.start_run(run_info(), {})

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(quantity=positive, price=positive, fee=signed, pnl=signed)
        def round_trip(quantity: Decimal, price: Decimal, fee: Decimal, pnl: Decimal) -> None:
            number = next(counter)
            fill = Fill(
                fill_id=f"f{number}",
                client_order_id="o",
                symbol="BTC/USDT",
                side=Side.SELL,
                quantity=quantity,
                price=price,
                fee=fee,
                timestamp=T0,
            )
            journal.record_fill("run-1", fill)
            journal.record_position("run-1", Position(symbol=f"S{number}", realized_pnl=pnl), T0)
            journal.record_strategy_state("run-1", "s", {"value": pnl, "list": [fee]}, T0)
            stored = journal.fills("run-1")[-1]
            assert stored == fill
            assert (str(stored.quantity), str(stored.price), str(stored.fee)) == (
                str(quantity),
                str(price),
                str(fee),
            )
            assert str(journal.positions("run-1")[f"S{number}"].realized_pnl) == str(pnl)
            state = journal.last_strategy_state("run-1", "s")
            assert state is not None
            assert (str(state["value"]), str(state["list"][0])) == (str(pnl), str(fee))

        round_trip()


def test_order_history_keeps_every_transition_in_order(path: Path) -> None:
    order = limit_order("o-1", quantity="1.0")
    moments = [T0 + timedelta(seconds=i) for i in range(5)]
    with Journal(path) as journal:
        journal.start_run(run_info(), {})
        journal.record_order("run-1", order)
        order.transition(OrderStatus.ACCEPTED, at=moments[1], reason="acknowledged")
        journal.record_order("run-1", order)
        journal.record_order("run-1", order)  # no transition: adds nothing
        order.record_fill(Decimal("0.3"), Decimal("100"), Decimal(0), at=moments[2])
        journal.record_order("run-1", order)
        order.record_fill(Decimal("0.3"), Decimal("101"), Decimal(0), at=moments[3])
        journal.record_order("run-1", order)
        order.transition(OrderStatus.CANCELLED, at=moments[4], reason="user cancelled")
        journal.record_order("run-1", order)

        assert journal.order_history("run-1", "o-1") == [
            (T0, OrderStatus.NEW, None),
            (moments[1], OrderStatus.ACCEPTED, "acknowledged"),
            (moments[2], OrderStatus.PARTIALLY_FILLED, "acknowledged"),
            (moments[3], OrderStatus.PARTIALLY_FILLED, "acknowledged"),
            (moments[4], OrderStatus.CANCELLED, "user cancelled"),
        ]
        assert journal.orders("run-1") == [order]
        assert journal.order_history("run-1", "unknown") == []


@st.composite
def order_walks(draw: st.DrawFn) -> list[tuple[OrderStatus, Decimal]]:
    """A random lifecycle along ALLOWED_TRANSITIONS: (status, fill quantity or 0) steps."""
    steps: list[tuple[OrderStatus, Decimal]] = []
    status = OrderStatus.NEW
    remaining = Decimal(10)
    while not status.is_terminal and len(steps) < 12:
        choices = sorted(ALLOWED_TRANSITIONS[status])
        if remaining <= 1:
            choices = [c for c in choices if c is not OrderStatus.PARTIALLY_FILLED]
        status = draw(st.sampled_from(choices))
        quantity = Decimal(0)
        if status is OrderStatus.PARTIALLY_FILLED:
            quantity = Decimal(draw(st.integers(min_value=1, max_value=int(remaining) - 1)))
        elif status is OrderStatus.FILLED:
            quantity = remaining
        remaining -= quantity
        steps.append((status, quantity))
    return steps


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "batched"])
def test_any_lifecycle_is_journaled_as_exactly_its_transitions(path: Path, durable: bool) -> None:
    counter = iter(range(10**9))
    with Journal(path, durable=durable) as journal:
        journal.start_run(run_info(), {})

        @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(walk=order_walks(), repeats=st.lists(st.booleans(), min_size=12, max_size=12))
        def check(walk: list[tuple[OrderStatus, Decimal]], repeats: list[bool]) -> None:
            order = limit_order(f"walk-{next(counter)}", quantity="10")
            journal.record_order("run-1", order)
            expected = [(T0, OrderStatus.NEW, None)]
            for step, ((status, quantity), repeat) in enumerate(zip(walk, repeats, strict=False)):
                at = T0 + timedelta(seconds=step + 1)
                if quantity:
                    order.record_fill(quantity, Decimal("100.5"), Decimal(0), at=at)
                else:
                    order.transition(status, at=at, reason=f"step {step}")
                journal.record_order("run-1", order)
                if repeat:  # the engine re-recording an unchanged order adds nothing
                    journal.record_order("run-1", order)
                expected.append((at, status, order.reason))
            assert journal.order_history("run-1", order.client_order_id) == expected
            assert journal.orders("run-1")[-1] == order

        check()


def test_a_fill_recorded_twice_is_kept_once(path: Path) -> None:
    order = limit_order("o-1")
    fill = fill_of(order, "venue-fill-9", "0.0005", "43000.50")
    with Journal(path) as journal:
        journal.start_run(run_info(), {})
        journal.record_fill("run-1", fill)
        journal.record_fill("run-1", fill)
        # A restart re-fetching fills from the venue may see the same id again: the first one stands.
        journal.record_fill("run-1", fill.model_copy(update={"price": Decimal("1")}))
        assert journal.fills("run-1") == [fill]
        assert journal.get_run("run-1").fills == 1


def test_open_orders_after_a_crash_are_exactly_those_left_open(path: Path) -> None:
    new = limit_order("never-acknowledged")
    accepted = limit_order("resting")
    accepted.transition(OrderStatus.ACCEPTED, at=T0)
    partial = limit_order("half-filled", quantity="1.0")
    partial.transition(OrderStatus.ACCEPTED, at=T0)
    partial.record_fill(Decimal("0.5"), Decimal("100"), Decimal(0), at=T0)
    filled = limit_order("done")
    filled.transition(OrderStatus.ACCEPTED, at=T0)
    filled.record_fill(filled.quantity, Decimal("100"), Decimal(0), at=T0)
    cancelled = limit_order("cancelled")
    cancelled.transition(OrderStatus.ACCEPTED, at=T0)
    cancelled.transition(OrderStatus.CANCELLED, at=T0)
    rejected = limit_order("rejected")
    rejected.transition(OrderStatus.REJECTED, at=T0, reason="insufficient funds")

    journal = Journal(path)
    journal.start_run(run_info(), {})
    for order in (new, accepted, partial, filled, cancelled, rejected):
        journal.record_order("run-1", order)
    journal.record_strategy_state("run-1", "sma_cross", {"grid": [Decimal("100.0")]}, T0)
    journal.close()  # the run dies here: no finish_run

    with Journal(path) as reopened:
        assert reopened.open_orders("run-1") == [new, accepted, partial]
        resumable = reopened.latest_resumable_run("sma_cross", "binance", ("ETH/USDT", "BTC/USDT"))
        assert resumable is not None and resumable.run_id == "run-1"
        assert resumable.ended_at is None and not resumable.finished
        assert reopened.last_strategy_state("run-1", "sma_cross") == {"grid": [Decimal("100.0")]}


def test_a_killed_process_loses_no_durable_record(path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os
        from datetime import UTC, datetime
        from decimal import Decimal
        from pathlib import Path
        from tradekit.domain import Order, OrderStatus, OrderType, Side
        from tradekit.domain.run import RunInfo, RunMode
        from tradekit.journal import Journal

        journal = Journal(Path({str(path)!r}))
        journal.start_run(RunInfo("live-1", RunMode.LIVE, "binance", ("grid",), ("BTC/USDT",)), {{}})
        for number in range(3):
            order = Order(client_order_id=f"grid-{{number}}", symbol="BTC/USDT", side=Side.BUY,
                          type=OrderType.LIMIT, quantity=Decimal("0.001"), price=Decimal("40000.0"))
            journal.record_order("live-1", order)
            if number:
                order.transition(OrderStatus.ACCEPTED, at=datetime.now(UTC))
                journal.record_order("live-1", order)
        os._exit(9)  # no close, no finish_run, no interpreter clean-up
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 9, result.stderr

    with Journal(path) as journal:
        orders = journal.open_orders("live-1")
        assert [(o.client_order_id, o.status) for o in orders] == [
            ("grid-0", OrderStatus.NEW),
            ("grid-1", OrderStatus.ACCEPTED),
            ("grid-2", OrderStatus.ACCEPTED),
        ]
        resumable = journal.latest_resumable_run("grid", "binance", ("BTC/USDT",), mode=RunMode.LIVE)
        assert resumable is not None and resumable.run_id == "live-1"


def test_latest_resumable_run_is_the_newest_unfinished_run_of_that_strategy_exchange_and_symbols(
    path: Path,
) -> None:
    with Journal(path) as journal:
        for run_id, hours, kwargs in [
            ("old-unfinished", 0, {}),
            ("target", 1, {}),
            ("finished-later", 2, {}),
            ("other-exchange", 3, {"exchange": "hyperliquid"}),
            ("other-symbols", 4, {"symbols": ("BTC/USDT",)}),
            ("other-strategy", 5, {"strategies": ("rsi",)}),
            ("a-backtest", 6, {"mode": RunMode.BACKTEST}),
        ]:
            journal.start_run(run_info(run_id, started_at=T0 + timedelta(hours=hours), **kwargs), {})
        journal.finish_run("finished-later", summary("finished-later"))

        found = journal.latest_resumable_run("sma_cross", "binance", ("ETH/USDT", "BTC/USDT"))
        assert found is not None and found.run_id == "target"
        assert journal.latest_resumable_run("sma_cross", "binance", ("SOL/USDT",)) is None
        assert journal.latest_resumable_run("sma_cross", "binance", ("BTC/USDT", "ETH/USDT"), mode=RunMode.LIVE) is None
        backtest = journal.latest_resumable_run("sma_cross", "binance", ("BTC/USDT", "ETH/USDT"), mode=RunMode.BACKTEST)
        assert backtest is not None and backtest.run_id == "a-backtest"

        journal.finish_run("target", summary("target"))
        found = journal.latest_resumable_run("sma_cross", "binance", ("BTC/USDT", "ETH/USDT"))
        assert found is not None and found.run_id == "old-unfinished"


def test_list_runs_is_newest_first_with_counts(path: Path) -> None:
    with Journal(path) as journal:
        for number in range(4):
            journal.start_run(run_info(f"run-{number}", started_at=T0 + timedelta(hours=number)), {})
        journal.record_order("run-2", limit_order("a"))
        journal.record_order("run-2", limit_order("b"))
        journal.record_fill("run-2", fill_of(limit_order("a"), "f", "0.0001", "1"))
        runs = journal.list_runs(limit=3)
        assert [run.run_id for run in runs] == ["run-3", "run-2", "run-1"]
        assert (runs[1].orders, runs[1].fills, runs[1].equity, runs[1].ended_at) == (2, 1, None, None)


def test_get_run_finds_an_exact_id_or_a_unique_prefix_and_explains_otherwise(path: Path) -> None:
    with Journal(path) as journal:
        for run_id in ("20240301-a1b2", "20240301-a1c3", "20240302-ffff", "2024"):
            journal.start_run(run_info(run_id), {})

        assert journal.get_run("20240302").run_id == "20240302-ffff"
        assert journal.get_run("20240301-a1b").run_id == "20240301-a1b2"
        assert journal.get_run("2024").run_id == "2024"  # exact beats prefix

        with pytest.raises(UserError) as ambiguous:
            journal.get_run("20240301-a1")
        message = str(ambiguous.value)
        assert "matches 2 runs" in message
        assert "20240301-a1b2" in message and "20240301-a1c3" in message
        assert "more characters" in message

        with pytest.raises(UserError) as unknown:
            journal.get_run("1999")
        assert "no run '1999'" in str(unknown.value)
        assert str(path) in str(unknown.value)
        assert "tradekit runs" in str(unknown.value)

        with pytest.raises(UserError, match="no run '2024_'"):
            journal.get_run("2024_")  # no SQL wildcard sneaks in


def test_a_registered_secret_never_reaches_the_database_file(path: Path, forget_secrets: None) -> None:
    secrets.register_secret(SECRET)
    order = limit_order("o-1")
    order = order.model_copy(update={"tag": f"signed with {SECRET}"})
    order.transition(OrderStatus.REJECTED, at=T0, reason=f"venue said: bad key {SECRET}")
    config = {
        "exchange": {"name": "binance", "api_key": "**********", "url": f"wss://x/?token={SECRET}"},
        "notes": [SECRET, {"nested": f"..{SECRET}.."}],
    }
    event = NotifierEvent(
        kind=EventKind.ERROR,
        message=f"request https://api/?key={SECRET} failed",
        data={"echo": SECRET, SECRET: "as a key"},
        timestamp=T0,
    )
    with Journal(path) as journal:
        journal.start_run(run_info(), config)
        journal.record_order("run-1", order)
        journal.record_event("run-1", event)
        journal.record_strategy_state("run-1", "sma_cross", {"token": SECRET}, T0)
        journal.record_risk_verdicts(
            "run-1",
            OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity=Decimal(1), tag=SECRET),
            [RiskVerdict.reject("max_position", f"limit from {SECRET}")],
            "rejected",
            T0,
            None,
        )
        journal.finish_run("run-1", summary())
        while_open = journal_bytes(path)
        assert Path(f"{path}-wal").stat().st_size > 0  # so the check below does look at a live log

        stored = journal.orders("run-1")[0]
        assert stored.tag == "signed with ***"
        assert stored.reason == "venue said: bad key ***"
        assert journal.events("run-1")[0].message == "request https://api/?key=*** failed"
        assert journal.get_run("run-1").config["exchange"]["url"] == "wss://x/?token=***"

    secret_bytes = SECRET.encode()
    assert secret_bytes not in while_open
    assert secret_bytes not in journal_bytes(path)
    assert b"signed with ***" in journal_bytes(path)  # the redacted text is there, so the check looked


def test_a_file_of_random_bytes_is_refused_with_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "not-a-journal.sqlite"
    path.write_bytes(random.Random(1).randbytes(16_384))
    with pytest.raises(UserError) as refused:
        Journal(path)
    message = str(refused.value)
    assert str(path) in message
    assert "not a readable SQLite database" in message
    assert "Move the file aside" in message
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_a_damaged_journal_is_refused_with_a_user_error(path: Path) -> None:
    with Journal(path) as journal:
        journal.start_run(run_info(), {})
        for number in range(200):
            journal.record_order("run-1", limit_order(f"o-{number}"))
    data = bytearray(path.read_bytes())
    page = 4096
    data[page:] = random.Random(2).randbytes(len(data) - page)  # keep the header page, ruin the rest
    path.write_bytes(bytes(data))

    with pytest.raises(UserError, match="not a readable SQLite database"), Journal(path) as journal:
        journal.list_runs()
        journal.orders("run-1")


def test_other_unusable_paths_are_refused_with_user_errors(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE photos (id INTEGER)")
    connection.close()
    with pytest.raises(UserError, match="not a tradekit run journal"):
        Journal(other)

    with pytest.raises(UserError, match="is a folder"):
        Journal(tmp_path)

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot create the folder"):
        Journal(blocker / "sub" / "journal.sqlite")

    with pytest.raises(UserError, match="there is no run journal at"):
        Journal(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()


def test_a_journal_from_a_newer_tradekit_is_refused(path: Path) -> None:
    Journal(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO schema_version (version, applied_at) VALUES (99, 'later')")
    connection.close()
    with pytest.raises(UserError, match=r"newer tradekit .*schema version 99"):
        Journal(path)


def test_parent_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "journal.sqlite"
    with Journal(path) as journal:
        journal.start_run(run_info(), {})
    assert path.is_file()


def test_a_durable_write_is_visible_to_another_connection_at_once(path: Path) -> None:
    order = limit_order("o-1")
    with Journal(path, durable=True) as writer, Journal(path, create=False) as reader:
        writer.start_run(run_info(), {})
        writer.record_order("run-1", order)
        assert reader.orders("run-1") == [order]
        writer.record_fill("run-1", fill_of(order, "f-1", "0.0001", "43000.50"))
        assert len(reader.fills("run-1")) == 1
        with sqlite3.connect(path) as raw:
            assert raw.execute("SELECT count(*) FROM order_updates").fetchone() == (1,)
        raw.close()


def test_a_batched_write_is_visible_to_another_connection_after_flush(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_connection, "BATCH_SECONDS", 3600.0)
    order = limit_order("o-1")
    with Journal(path, durable=False) as writer, Journal(path, create=False) as reader:
        writer.start_run(run_info(), {})
        assert [run.run_id for run in reader.list_runs()] == ["run-1"]  # a run start is committed at once
        writer.record_order("run-1", order)
        writer.record_fill("run-1", fill_of(order, "f-1", "0.0001", "43000.50"))
        assert reader.orders("run-1") == []
        assert reader.fills("run-1") == []
        assert writer.orders("run-1") == [order]  # the writer itself always sees its records
        writer.record_fill("run-1", fill_of(order, "f-2", "0.0001", "43000.50"))
        writer.flush()
        assert reader.orders("run-1") == [order]
        assert len(reader.fills("run-1")) == 2


def test_a_batch_commits_by_itself_once_it_is_full(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_connection, "BATCH_SECONDS", 3600.0)
    monkeypatch.setattr(journal_connection, "BATCH_ROWS", 10)
    order = limit_order("o-1")
    with Journal(path, durable=False) as writer, Journal(path, create=False) as reader:
        writer.start_run(run_info(), {})
        for number in range(9):
            writer.record_fill("run-1", fill_of(order, f"f-{number}", "0.0001", "1"))
        assert reader.fills("run-1") == []
        writer.record_fill("run-1", fill_of(order, "f-9", "0.0001", "1"))
        assert len(reader.fills("run-1")) == 10


def test_a_batch_commits_by_itself_once_it_is_old(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_connection, "BATCH_SECONDS", 0.0)
    order = limit_order("o-1")
    with Journal(path, durable=False) as writer, Journal(path, create=False) as reader:
        writer.start_run(run_info(), {})
        writer.record_fill("run-1", fill_of(order, "f-1", "0.0001", "1"))
        assert len(reader.fills("run-1")) == 1


def test_records_for_a_run_never_started_are_refused(path: Path) -> None:
    with Journal(path) as journal:
        with pytest.raises(ValueError, match=r"run ghost was never started .* call start_run first"):
            journal.record_order("ghost", limit_order("o-1"))
        with pytest.raises(ValueError, match="never started"):
            journal.finish_run("ghost", summary("ghost"))
        assert journal.list_runs() == []


def test_strategy_state_that_could_not_come_back_exactly_is_refused(path: Path) -> None:
    with Journal(path) as journal:
        journal.start_run(run_info(), {})
        with pytest.raises(TypeError, match=r"state of strategy grid\.levels\[1\] is a set"):
            journal.record_strategy_state("run-1", "grid", {"levels": [1, {2, 3}]}, T0)
        with pytest.raises(TypeError, match="key 3 is a int"):
            journal.record_strategy_state("run-1", "grid", {3: "three"}, T0)
        assert journal.last_strategy_state("run-1", "grid") is None
        journal.record_strategy_state("run-1", "grid", {"step": 1}, T0)
        journal.record_strategy_state("run-1", "grid", {"step": 2}, T0)
        assert journal.last_strategy_state("run-1", "grid") == {"step": 2}


def test_a_report_of_numpy_statistics_and_odd_values_is_kept_readable(path: Path) -> None:
    report = {
        "sharpe": np.float64(1.5),
        "trades": np.int64(12),
        "profitable": np.bool_(True),
        "equity": np.array([1.0, 2.5]),
        "symbols": {"BTC/USDT"},
        "by_hour": {9: Decimal("0.10")},
    }
    with Journal(path, durable=False) as journal:
        journal.start_run(run_info(mode=RunMode.BACKTEST), {})
        assert journal.report("run-1") is None
        journal.store_report("run-1", report)
        stored = journal.report("run-1")
    assert stored == {
        "sharpe": 1.5,
        "trades": 12,
        "profitable": True,
        "equity": [1.0, 2.5],
        "symbols": ["BTC/USDT"],
        "by_hour": {"9": Decimal("0.10")},
    }
    assert stored is not None and type(stored["trades"]) is int


def test_starting_an_unfinished_run_again_resumes_it_and_a_finished_one_is_refused(path: Path) -> None:
    with Journal(path) as journal:
        journal.start_run(run_info(), {"version": 1})
        journal.record_order("run-1", limit_order("o-1"))
        journal.start_run(run_info(started_at=T0 + timedelta(hours=5)), {"version": 2})
        record = journal.get_run("run-1")
        assert (record.started_at, record.config, record.orders) == (T0, {"version": 2}, 1)

        with pytest.raises(UserError, match="is a dry_run run, not a live run"):
            journal.start_run(run_info(mode=RunMode.LIVE), {})
        journal.finish_run("run-1", summary())
        with pytest.raises(UserError, match="already finished"):
            journal.start_run(run_info(), {})


def test_a_closed_journal_says_so(path: Path) -> None:
    journal = Journal(path)
    journal.close()
    journal.close()
    with pytest.raises(RuntimeError, match="is closed"):
        journal.list_runs()


def test_journal_files_are_in_wal_mode(path: Path) -> None:
    Journal(path).close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    raw.close()
    assert os.path.getsize(path) > 0


def test_an_atomic_block_is_invisible_to_readers_until_it_ends_and_then_whole(path: Path) -> None:
    """A dry run's bar: another process sees none of its records, then all of them."""
    with Journal(path) as journal:
        journal.start_run(run_info(), config={})
        with journal.atomic():
            journal.record_strategy_state("run-1", "sma_cross", {"step": 1}, T0)
            with journal.atomic():  # nested: still held
                journal.record_strategy_state("run-1", "sma_cross", {"step": 2}, T0)
            with sqlite3.connect(path) as reader:
                assert reader.execute("SELECT count(*) FROM strategy_states").fetchone() == (0,)
        with sqlite3.connect(path) as reader:
            assert reader.execute("SELECT count(*) FROM strategy_states").fetchone() == (2,)
        assert journal.last_activity("run-1") == T0
