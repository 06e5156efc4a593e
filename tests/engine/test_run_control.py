"""Steering a running run: ``tradekit stop``, requests from other threads, daily summaries, broken rules told."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from tradekit.control import ControlAction, ControlRequest, RunControl
from tradekit.domain.events import EventKind, NotifierEvent, RiskVerdict
from tradekit.domain.orders import Fill, OrderIntent, OrderStatus, OrderType, Side
from tradekit.domain.run import RunInfo
from tradekit.hookspecs import hookimpl
from tradekit.journal import Journal
from tradekit.plugin import RiskRule, Strategy, StrategyContext
from tradekit.registry import Registry
from tradekit.session import prepare_live, run_live
from tradekit.settings import load_settings
from tradekit.stop_requests import StopRequest, stop_request_path, write_stop_request

D = Decimal


class Holder(Strategy):
    """Buys 1 on its first bar and rests a limit buy far below; then waits."""

    bought: ClassVar[threading.Event] = threading.Event()

    def on_bar(self, ctx: StrategyContext) -> None:
        if ctx.position() == 0 and not ctx.open_orders():
            symbol = ctx.symbols[0]
            ctx.submit(OrderIntent(symbol=symbol, side=Side.BUY, quantity=D(1)))
            floor = ctx.instrument().round_price(D(repr(ctx.close())) / 2)
            ctx.submit(OrderIntent(symbol=symbol, side=Side.BUY, quantity=D(1), type=OrderType.LIMIT, price=floor))

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        Holder.bought.set()


def dry_run_settings(journal: Path, strategy: str, **extra: Any) -> Any:
    return load_settings(
        None,
        {
            "strategy": strategy,
            "journal": journal,
            "plugins": {"exchange": {"paper": {"history": 50, "bars": 50_000, "pace": 0.002}}},
            **extra,
        },
    )


def test_tradekit_stop_flatten_cancels_the_orders_closes_the_position_and_ends_a_running_dry_run(
    install_plugins: Any, tradekit: Any, workdir: Path
) -> None:
    install_plugins(strategy={"tk_holder": Holder})
    Holder.bought.clear()
    journal = workdir / "journal.sqlite3"
    settings = dry_run_settings(journal, "tk_holder")
    plugins, symbols = prepare_live(settings, Registry(), origin="test", live=False)
    outcome: dict[str, Any] = {}
    runner = threading.Thread(
        target=lambda: outcome.setdefault(
            "result", run_live(settings, plugins, symbols, live=False, max_bars=None, poll_interval=0.002)
        ),
        daemon=True,
    )
    runner.start()
    assert Holder.bought.wait(20), "the run never bought"

    done = tradekit("stop", "--flatten", "--journal", str(journal), "--wait", "20")
    runner.join(20)

    assert done.exit_code == 0, done.stderr
    assert "asked 1 run(s) to cancel their orders, close their positions and stop" in done.stderr
    result = outcome["result"]
    assert result.reason == f"flatten requested by tradekit stop --flatten ({journal.name}.stop)"
    assert result.position == {symbols[0]: D(0)}
    with Journal(journal, create=False) as opened:
        [run] = opened.list_runs()
        orders = opened.orders(run.run_id)
        events = [e.kind for e in opened.events(run.run_id)]
    statuses = [(o.type, o.side, o.status, o.reduce_only) for o in orders]
    assert statuses == [
        (OrderType.MARKET, Side.BUY, OrderStatus.FILLED, False),
        (OrderType.LIMIT, Side.BUY, OrderStatus.CANCELLED, False),
        (OrderType.MARKET, Side.SELL, OrderStatus.FILLED, True),
    ]
    assert "stop_requested" in events and run.end_reason == result.reason


def test_tradekit_stop_with_no_running_run_says_so(tradekit: Any, workdir: Path) -> None:
    assert tradekit("backtest", "--strategy", "sma_cross").exit_code == 0
    done = tradekit("stop")
    assert done.exit_code == 1
    assert "no unfinished dry or live run in the journal" in done.stderr


class Remote(RiskRule):
    """Keeps the run's control; hears control requests and heartbeats, on whichever thread they come."""

    def __init__(self, settings: Any = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name or "remote")
        self.control: RunControl | None = None
        self.requests: list[tuple[ControlAction, int]] = []
        self.heartbeats = 0

    @hookimpl
    def tradekit_run_started(self, run: RunInfo, control: RunControl | None) -> None:
        self.control = control

    @hookimpl
    def tradekit_control_requested(self, request: ControlRequest) -> None:
        self.requests.append((request.action, threading.get_ident()))

    @hookimpl
    def tradekit_heartbeat(self, now: datetime) -> None:
        self.heartbeats += 1

    def check(self, intent: OrderIntent, context: Any) -> RiskVerdict | None:
        return None


class Ears:
    """Hears every notifier event."""

    def __init__(self) -> None:
        self.name = "ears"
        self.kind = "notifier"
        self.heard: list[NotifierEvent] = []

    @hookimpl
    def tradekit_notify(self, event: NotifierEvent) -> None:
        self.heard.append(event)


def control_on(
    make_rig: Any, *, accepts: bool = True, stop_file: Path | None = None, ears: Ears | None = None
) -> tuple[Any, Remote]:
    remote = Remote()
    rig = make_rig(plugins=(remote,) + ((ears,) if ears is not None else ()))
    rig.engine.now = datetime(2024, 1, 2, tzinfo=UTC)
    control = RunControl(rig.engine, Holder(), accepts_requests=accepts, stop_file=stop_file)
    rig.engine.hooks.run_started(rig.engine.run, control)
    return rig, remote


def test_requests_and_events_from_other_threads_are_served_on_the_engine_thread(make_rig: Any) -> None:
    ears = Ears()
    rig, remote = control_on(make_rig, ears=ears)
    control = remote.control
    assert control is not None
    heard = ears.heard
    answers: list[Any] = []

    def elsewhere() -> None:
        control.request(ControlAction.RESUME, source="telegram chat 42", reason="all good")
        control.emit("custom_kind", "said from another thread")
        answers.append(control.query_account(timeout=5))

    other = threading.Thread(target=elsewhere)
    other.start()
    deadline = time.monotonic() + 5
    while other.is_alive() and time.monotonic() < deadline:
        assert control.service() is False
        time.sleep(0.01)
    other.join()

    assert remote.requests == [(ControlAction.RESUME, threading.get_ident())]
    assert [e.kind for e in heard] == ["custom_kind", "resume_requested"]
    assert heard[1].message == "resume requested by telegram chat 42: all good"
    [snapshot] = answers
    assert snapshot is not None and snapshot.equity == D(10_000) and snapshot.run.run_id == rig.engine.run.run_id
    assert remote.heartbeats > 0


def test_a_stop_request_file_older_than_the_run_or_for_another_run_is_not_served(make_rig: Any, tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    path = stop_request_path(journal)
    write_stop_request(journal, StopRequest(requested_at=datetime.now(UTC) - timedelta(seconds=5)))
    rig, remote = control_on(make_rig, stop_file=path)
    control = remote.control
    assert control is not None
    assert control.service() is False, "written before the run started"
    write_stop_request(journal, StopRequest(requested_at=datetime.now(UTC), run="ffffffff"))
    assert control.service() is False, "for another run"
    write_stop_request(journal, StopRequest(requested_at=datetime.now(UTC), run=rig.engine.run.run_id[:8]))
    assert control.service() is True
    assert control.stop_reason == f"stop requested by tradekit stop ({path.name})"
    assert remote.requests and remote.requests[0][0] is ControlAction.STOP


def test_a_backtest_takes_no_requests(make_rig: Any) -> None:
    _, remote = control_on(make_rig, accepts=False)
    assert remote.control is not None
    assert remote.control.request(ControlAction.STOP, source="test") is False
    assert remote.control.query_account(timeout=0.1) is None


def test_a_dry_run_sends_a_daily_summary_when_the_utc_day_ends(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    settings = load_settings(
        None,
        {
            "strategy": "sma_cross",
            "journal": journal,
            "plugins": {"exchange": {"paper": {"history": 100, "bars": 3_000}}},
        },
    )
    plugins, symbols = prepare_live(settings, Registry(), origin="test", live=False)
    run_live(settings, plugins, symbols, live=False, max_bars=1_400, poll_interval=0)

    with Journal(journal, create=False) as opened:
        [run] = opened.list_runs()
        [summary] = [e for e in opened.events(run.run_id) if e.kind == EventKind.DAILY_SUMMARY]
        fills = [f for f in opened.fills(run.run_id) if f.timestamp.date().isoformat() == summary.data["day"]]
    assert summary.data["day"] == "2024-01-01" and summary.data["start_equity"] == "100000"
    assert summary.data["fills"] == len(fills) > 0
    assert summary.message.startswith("2024-01-01: equity ")


def test_a_rule_that_raises_is_told_to_the_notifiers_as_an_error(make_rig: Any, make_bars: Any) -> None:
    class Broken(RiskRule):
        def check(self, intent: OrderIntent, context: Any) -> RiskVerdict | None:
            raise ZeroDivisionError("equity is zero")

    heard: list[NotifierEvent] = []

    class Ears:
        @hookimpl
        def tradekit_notify(self, event: NotifierEvent) -> None:
            heard.append(event)

    rig = make_rig(plugins=(Broken(name="broken"),))
    rig.engine.hooks.pm.register(Ears(), name="ears")
    rig.engine.now = datetime(2024, 1, 2, tzinfo=UTC)
    rig.engine.set_close("BTC/USDT", 100.0)
    verdicts = rig.engine.hooks.risk_check(
        OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity=D(1)), rig.engine.risk_context()
    )

    assert [v.action.value for v in verdicts] == ["reject"]
    [error] = heard
    assert error.kind == EventKind.ERROR and error.data["rule"] == "broken"
    assert "risk rule broken raised ZeroDivisionError: equity is zero" in error.message
