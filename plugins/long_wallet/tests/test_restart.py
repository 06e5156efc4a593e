"""A restart neither loses nor duplicates an order: in-process restores, and a paper run killed with SIGKILL.

The in-process tests hand :meth:`LongWallet.restore` a saved state and a list
of open orders that disagree with it, as a process that died between two
writes would leave them. The subprocess test runs ``tradekit run --strategy
long_wallet --exchange paper`` as a user would, kills it with SIGKILL in the
middle of a cycle, runs it again, and reads the journal.
"""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tradekit_long_wallet import LongWallet, LongWalletSettings
from tradekit_long_wallet.orders import parse_tag
from tradekit_long_wallet.window import Phase

from tradekit.domain.orders import OrderStatus
from tradekit.journal.codec import dump_payload, load_payload

D = Decimal
PLAIN = {"unit_size": "1", "position_value": "1000", "post_only": False, "maker": "0", "taker": "0"}
START = (100, 100, 100, 100)


def saved(state: dict[str, Any]) -> dict[str, Any]:
    """The state as the journal gives it back."""
    loaded: dict[str, Any] = load_payload(dump_payload(state, where="state", strict=True))
    return loaded


def resumed(backtest, ohlc, rows, after, state, open_orders, venue_changes=None):  # type: ignore[no-untyped-def]
    """Run ``rows[:after]``; then a new strategy, given ``state`` and ``open_orders``, runs the rest on that venue."""
    from tradekit.engine.backtest import run_backtest

    first = backtest(ohlc(*rows[:after]), **PLAIN)
    engine, venue = first.engine, first.venue
    if venue_changes is not None:
        venue_changes(engine, venue)
    successor = LongWallet(LongWalletSettings(**{k: v for k, v in PLAIN.items() if k not in ("maker", "taker")}))
    successor.restore(state, open_orders)
    for client_order_id, owner in list(engine.owners.items()):
        if owner is first.strategy:
            engine.owners[client_order_id] = successor
    bars = ohlc(*rows)
    rest = bars.slice(after - 1, len(bars))  # the last bar already seen, then the new ones
    run_backtest(engine, venue, successor, {rest.symbol: rest}, skip_idle_bars=False)
    return first, successor, engine, venue


def test_a_restore_from_an_up_to_date_state_keeps_every_order(backtest, ohlc) -> None:  # type: ignore[no-untyped-def]
    rows = [START, (100, 101.5, 100, 101.5), (101, 101, 99.9, 100.2), (100.2, 100.5, 100.1, 100.3)]
    first = backtest(ohlc(*rows[:3]), **PLAIN)
    state = saved(first.strategy.last_state)
    open_orders = [o.model_copy() for o in first.venue.open_orders()]
    _, successor, _engine, venue = resumed(backtest, ohlc, rows, 3, state, open_orders)
    assert successor.phase is Phase.RETRACEMENT
    assert {s.client_order_id for s in successor.window.values()} == {o.client_order_id for o in open_orders}
    assert {o.client_order_id for o in venue.open_orders()} == {o.client_order_id for o in open_orders}


def test_an_order_that_filled_before_the_state_was_saved_is_replaced_once(backtest, ohlc) -> None:  # type: ignore[no-untyped-def]
    # The state is from before the bar on which the stop at 100 fired: it names that stop as open.
    rows = [START, (100, 101.5, 100, 101.5), (101, 101, 99.9, 100.2), (100.2, 100.5, 100.1, 100.3)]
    before = backtest(ohlc(*rows[:2]), **PLAIN)
    stale = saved(before.strategy.last_state)
    after_fill = backtest(ohlc(*rows[:3]), **PLAIN)
    open_orders = [o.model_copy() for o in after_fill.venue.open_orders()]
    # Only the replacement buy the dead process had sent is unknown to the stale state: it is adopted.
    _, successor, engine, venue = resumed(backtest, ohlc, rows, 3, stale, open_orders)
    assert successor.phase is Phase.RETRACEMENT
    tags = sorted(o.tag for o in venue.open_orders())
    assert tags == sorted(["long_wallet c1 buy 1", *(f"long_wallet c1 stop {k}" for k in (-1, -2, -3))])
    # The buy the dead process had sent is the one resting now: adopted, not sent again.
    sent = next(o.client_order_id for o in open_orders if o.tag == "long_wallet c1 buy 1")
    assert sent in {o.client_order_id for o in venue.open_orders()}
    assert [o for o in engine.orders.values() if o.tag == "long_wallet c1 buy 1"] == [engine.orders.get(sent)]


def test_an_open_order_the_state_does_not_name_and_nothing_needs_is_cancelled(backtest, ohlc) -> None:  # type: ignore[no-untyped-def]
    rows = [START, (100, 100.5, 100, 100.3), (100.3, 100.5, 100.1, 100.3)]
    first = backtest(ohlc(*rows[:2]), **PLAIN)
    state = saved(first.strategy.last_state)
    # The dead process had also sent a second buy no slot needs (it never saved it).
    from tradekit.domain.orders import OrderIntent, OrderType, Side, TriggerDirection

    stray = OrderIntent(
        symbol="BTC/USDT",
        side=Side.BUY,
        quantity=D(1),
        type=OrderType.STOP,
        trigger_price=D(105),
        trigger_direction=TriggerDirection.RISING,
        tag="long_wallet c1 buy 5",
    )
    engine = first.engine
    stray_id = engine.submit_intent(first.strategy, stray, engine.price("BTC/USDT"))
    open_orders = [o.model_copy() for o in first.venue.open_orders()]
    _, _successor, engine, venue = resumed(backtest, ohlc, rows, 2, state, open_orders)
    assert stray_id is not None
    assert stray_id not in {o.client_order_id for o in venue.open_orders()}
    assert sorted(o.tag for o in venue.open_orders()) == sorted(f"long_wallet c1 stop {k}" for k in (-1, -2, -3, -4))


def test_an_order_gone_while_down_without_a_fill_is_placed_again(backtest, ohlc) -> None:  # type: ignore[no-untyped-def]
    rows = [START, (100, 100.5, 100, 100.3), (100.3, 100.5, 100.1, 100.3)]
    first = backtest(ohlc(*rows[:2]), **PLAIN)
    state = saved(first.strategy.last_state)
    gone = next(o for o in first.venue.open_orders() if o.tag == "long_wallet c1 stop -2")

    def cancel_at_the_venue(engine, venue):  # type: ignore[no-untyped-def]
        engine.cancel(gone.client_order_id)

    open_orders = [o.model_copy() for o in first.venue.open_orders() if o.client_order_id != gone.client_order_id]
    _, _successor, _engine, venue = resumed(backtest, ohlc, rows, 2, state, open_orders, cancel_at_the_venue)
    tags = sorted(o.tag for o in venue.open_orders())
    assert tags == sorted(f"long_wallet c1 stop {k}" for k in (-1, -2, -3, -4))
    assert gone.client_order_id not in {o.client_order_id for o in venue.open_orders()}


# --- a real process, killed -------------------------------------------------------------------------

CONFIG = """
strategy = "long_wallet"
exchange = "paper"
timeframe = "1m"

[plugins.exchange.paper]
bars = 4000
pace = 0.003
history = 100

[plugins.strategy.long_wallet]
unit_pct = "0.2"
position_value = "10000"
"""


def _tradekit(folder: Path, *args: str) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRADEKIT_")}
    environment["COLUMNS"] = "200"
    return subprocess.Popen(
        [sys.executable, "-m", "tradekit.cli.main", "run", "--poll-interval", "0", *args],
        cwd=folder,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _states(journal: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT state FROM strategy_states ORDER BY id").fetchall()
    return [load_payload(text) for (text,) in rows]


def _window(state: dict[str, Any]) -> dict[str, str]:
    """client order id -> 'kind level' of a saved state's window."""
    return {key: " ".join(text.split()[:2]) for key, text in state["window"].items() if not key.startswith("unplaced")}


def test_a_paper_run_killed_mid_cycle_and_restarted_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    from tradekit.journal import Journal

    (tmp_path / "tradekit.toml").write_text(CONFIG)
    journal_path = tmp_path / "tradekit-journal.sqlite3"
    first = _tradekit(tmp_path)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if first.poll() is not None:
                pytest.fail("the first run ended before it could be killed")
            if not journal_path.exists():
                continue
            try:
                states = _states(journal_path)
            except sqlite3.OperationalError:
                continue  # the schema is being made
            if len(states) > 60 and states[-1]["phase"] in (Phase.RETRACEMENT.value, Phase.RECOVER.value):
                break
        else:
            pytest.fail("the first run never reached a mixed phase")
        first.send_signal(signal.SIGKILL)
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate(timeout=10)  # reaps it and closes its pipes
    assert first.returncode == -signal.SIGKILL
    before_restart = _states(journal_path)
    at_kill = before_restart[-1]
    with Journal(journal_path) as journal:
        (run,) = journal.list_runs()
        open_at_kill = {o.client_order_id: o for o in journal.open_orders(run.run_id)}
    window_at_kill = _window(at_kill)
    assert len(window_at_kill) == 4
    assert set(window_at_kill) == set(open_at_kill), "the window at the kill is the open orders"

    second = _tradekit(tmp_path, "--max-bars", "300")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "resumed run" in out

    states = _states(journal_path)
    assert len(states) > len(before_restart), "the resumed run saved its state"
    with Journal(journal_path) as journal:
        runs = journal.list_runs()
        assert [r.run_id for r in runs] == [run.run_id], "the same run was taken up, no new one started"
        orders = {o.client_order_id: o for o in journal.orders(run.run_id)}
        histories = {cid: journal.order_history(run.run_id, cid) for cid in orders}
        open_now = {o.client_order_id: o for o in journal.open_orders(run.run_id)}
        final = journal.last_strategy_state(run.run_id, "long_wallet")
    assert final is not None
    # Not lost: every order open at the kill is still open, or ended by the strategy's own rules: filled, or
    # cancelled on its request when its slot moved; none was refused, expired or left behind.
    for client_order_id in window_at_kill:
        order = orders[client_order_id]
        assert order.status in (OrderStatus.ACCEPTED, OrderStatus.FILLED, OrderStatus.CANCELLED), order
        if order.status is OrderStatus.CANCELLED:
            assert order.reason == "cancelled on request"
    # Not duplicated: no two orders for one slot (one tag: cycle, kind, level) were ever working at once.
    working: dict[str, list[tuple[Any, Any]]] = {}
    for client_order_id, history in histories.items():
        tag = orders[client_order_id].tag
        accepted = next((moment for moment, status, _ in history if status is OrderStatus.ACCEPTED), None)
        if accepted is None or not tag.startswith("long_wallet") or "entry" in tag:
            continue
        ended = next((moment for moment, status, _ in history if status.is_terminal), None)
        working.setdefault(tag, []).append((accepted, ended))
    for tag, spans in working.items():
        spans.sort(key=lambda span: span[0])
        for (_, first_end), (second_start, _) in itertools.pairwise(spans):
            assert first_end is not None and first_end <= second_start, f"two orders for {tag} at once"
    # The window intact: at the end the open orders are the window, four of them, one per level.
    assert set(open_now) == set(_window(final))
    assert len(open_now) == 4
    assert len({o.tag for o in open_now.values()}) == 4
    assert all(parse_tag(o.tag) for o in open_now.values())
    assert not [o for o in orders.values() if o.reason and "duplicate" in o.reason]
    assert Decimal(final["account_position"]) == Decimal(final["held"])


def test_a_run_that_died_before_saving_anything_starts_afresh_or_from_its_filled_entry(backtest, ohlc) -> None:  # type: ignore[no-untyped-def]
    rows = [START, (100, 100.5, 100, 100.3), (100.3, 100.5, 100.1, 100.3)]
    # The entry had filled (the account holds 10): it is not bought again.
    first = backtest(ohlc(*rows[:2]), **PLAIN)
    open_orders = [o.model_copy() for o in first.venue.open_orders()]
    _, successor, engine, venue = resumed(backtest, ohlc, rows, 2, {}, open_orders)
    entries = [o for o in engine.orders.values() if o.tag == "long_wallet c1 entry"]
    assert len(entries) == 1
    assert successor.held == D(10) and successor.started
    assert sorted(o.tag for o in venue.open_orders()) == sorted(f"long_wallet c1 stop {k}" for k in (-1, -2, -3, -4))
