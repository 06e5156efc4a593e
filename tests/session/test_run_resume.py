"""A dry run killed with SIGKILL is taken up by the next `tradekit run`: nothing lost, nothing twice.

The strategy keeps a resting limit order almost all the time, so the kill
lands with orders open. The resumed run must carry on exactly as a run that
was never interrupted: the same orders (by sequence number), the same fills
at the same bar times and prices.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tradekit.journal import Journal

PLUGIN = textwrap.dedent(
    '''
    from decimal import Decimal

    from tradekit.domain.orders import OrderIntent, OrderType, Side
    from tradekit.plugin import Strategy


    class Ladder(Strategy):
        """Rests a limit buy 0.05% under the close when flat, a sell 0.05% over it when long; 5 bars at most."""

        def __init__(self, settings=None, *, name=None):
            super().__init__(settings, name=name or "ladder")
            self.placed = 0
            self.age = 0

        @property
        def warmup(self):
            return 50

        def on_bar(self, ctx):
            resting = ctx.open_orders()
            if resting:
                self.age += 1
                if self.age >= 5:  # not filled in 5 bars: cancel, place again on the next bar
                    for order in resting:
                        ctx.cancel(order.client_order_id)
                ctx.save_state({"placed": self.placed, "age": self.age})
                return
            self.age = 0
            close = Decimal(repr(ctx.close()))
            held = ctx.position()
            if held == 0:
                price = ctx.instrument().round_price(close * Decimal("0.9995"))
                intent = OrderIntent(symbol=ctx.symbols[0], side=Side.BUY, type=OrderType.LIMIT,
                                     quantity=Decimal("0.01"), price=price)
            else:
                price = ctx.instrument().round_price(close * Decimal("1.0005"))
                intent = OrderIntent(symbol=ctx.symbols[0], side=Side.SELL, type=OrderType.LIMIT,
                                     quantity=held, price=price)
            ctx.submit(intent)
            self.placed += 1
            ctx.save_state({"placed": self.placed, "age": self.age})

        def restore(self, state, open_orders):
            self.placed = state.get("placed", 0)
            self.age = state.get("age", 0)
    '''
)

CONFIG = """
journal = "{journal}"
[plugins.exchange.paper]
history = 100
pace = {pace}
bars = 30000
"""


@pytest.fixture
def plugin_site(tmp_path: Path) -> Path:
    """A folder with the Ladder strategy as an installed-looking distribution."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "tk_resume_plugin.py").write_text(PLUGIN)
    dist = site / "tk_resume_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tk-resume-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[tradekit.strategies]\nladder = tk_resume_plugin:Ladder\n")
    return site


def start(site: Path, folder: Path, pace: float, max_bars: int, *extra: str) -> subprocess.Popen[str]:
    folder.mkdir(exist_ok=True)
    config = folder / "tradekit.toml"
    config.write_text(CONFIG.format(journal=folder / "journal.sqlite3", pace=pace))
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}
    command = [sys.executable, "-m", "tradekit.cli.main", "--config", str(config), "run", "--strategy", "ladder"]
    command += ["--exchange", "paper", "--poll-interval", "0", "--max-bars", str(max_bars), *extra]
    return subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, f"exit {process.returncode}\n{out}\n{err}"
    return out + err


def kill_once_journaled(process: subprocess.Popen[str], journal: Path, orders: int) -> None:
    """SIGKILL ``process`` as soon as its journal holds ``orders`` orders (a minute at most)."""
    deadline = time.monotonic() + 60
    while orders_in(journal) < orders and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)  # reaps it and closes its pipes


def orders_in(journal: Path) -> int:
    if not journal.exists():
        return 0
    try:
        with sqlite3.connect(journal) as connection:
            return int(connection.execute("SELECT count(*) FROM orders").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not created yet


def fills_of(journal: Path) -> list[tuple[str, str, str, str, str]]:
    with Journal(journal, create=False) as opened:
        [run] = opened.list_runs()
        return [
            (f.client_order_id[12:], f.side.value, str(f.price), str(f.quantity), f.timestamp.isoformat())
            for f in opened.fills(run.run_id)
        ]


@pytest.mark.slow
def test_a_killed_dry_run_resumes_where_it_stood_and_matches_an_uninterrupted_run(
    tmp_path: Path, plugin_site: Path
) -> None:
    reference = tmp_path / "reference"
    finish(start(plugin_site, reference, 0, 700))
    expected = fills_of(reference / "journal.sqlite3")
    assert len(expected) > 20

    killed = tmp_path / "killed"
    journal = killed / "journal.sqlite3"
    # Unpaced, the paper market starts at the same bar as the reference's; the kill lands early in a long run.
    kill_once_journaled(start(plugin_site, killed, 0, 20_000), journal, 15)
    with Journal(journal, create=False) as opened:
        [dead] = opened.list_runs()
        assert dead.ended_at is None, "a killed run is not finished"
        open_before = [o.client_order_id for o in opened.open_orders(dead.run_id)]
        orders_before = len(opened.orders(dead.run_id))
    assert orders_before >= 15

    output = finish(start(plugin_site, killed, 0, 250))
    assert f"resumed run {dead.run_id[:12]}" in output
    with Journal(journal, create=False) as opened:
        [run] = opened.list_runs()  # the same run, not a second one
        assert run.run_id == dead.run_id and run.ended_at is not None
        orders = opened.orders(run.run_id)
        ids = [o.client_order_id for o in orders]
        assert len(ids) == len(set(ids)), "no client order id twice"
        # The orders open at the kill were taken up, not lost or sent again.
        for client_order_id in open_before:
            assert client_order_id in ids
    got = fills_of(journal)
    last = got[-1][4]
    assert got == [fill for fill in expected if fill[4] <= last]
    sequences = sorted(int(i[12:], 16) for i in ids)
    assert sequences == list(range(1, len(ids) + 1)), "order numbers continue without a gap or a repeat"


@pytest.mark.slow
def test_fresh_starts_a_new_run_and_closes_the_dead_one_as_abandoned(tmp_path: Path, plugin_site: Path) -> None:
    folder = tmp_path / "run"
    journal = folder / "journal.sqlite3"
    kill_once_journaled(start(plugin_site, folder, 0, 20_000), journal, 3)
    output = finish(start(plugin_site, folder, 0, 60, "--fresh"))
    assert "resumed" not in output
    with Journal(journal, create=False) as opened:
        runs = opened.list_runs()
    assert len(runs) == 2
    reasons = sorted(run.end_reason or "" for run in runs)
    assert reasons[0].startswith("abandoned: a fresh run was started")
