"""``kill_switch``: its file stops a dry run (cancel, flatten, stop); once pulled no entry passes."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from tradekit_risk.kill_switch import KillSwitch, KillSwitchSettings

from tradekit.control import ControlAction, ControlRequest
from tradekit.domain.orders import OrderType, Side
from tradekit.journal import Journal
from tradekit.registry import Registry
from tradekit.session import prepare_live, run_live
from tradekit.settings import load_settings

D = Decimal


def test_its_file_refuses_every_entry_of_a_backtest_but_exits_pass(kit: Any, tmp_path: Path) -> None:
    kill = tmp_path / "KILL"
    kill.touch()
    rule = KillSwitch(KillSwitchSettings(file=kill))
    data = kit.bars([100.0] * 20)
    run = kit.run(data, {2: [kit.buy("1")]}, [rule])

    assert run.strategy.returned[2] == [None] and run.broker.submitted == []
    [engaged] = [e for e in run.listener.events if e.kind == "kill_switch_engaged"]
    assert f"kill switch pulled: file {kill} exists; no new entries (a backtest does not stop)" == engaged.message


def test_any_stop_request_latches_it_so_entries_are_refused_until_the_run_ends(kit: Any) -> None:
    rule = KillSwitch()
    data = kit.bars([100.0] * 20)
    run = kit.run(data, {}, [rule])
    run.engine.hooks.control_requested(ControlRequest(action=ControlAction.STOP, source="telegram chat 42"))
    run.engine.hooks.control_requested(ControlRequest(action=ControlAction.RESUME, source="telegram chat 42"))

    context = run.engine.risk_context()
    refused = rule.check(kit.buy("1"), context)
    assert refused is not None and refused.action.value == "reject"
    assert "kill switch pulled (stop requested by telegram chat 42)" in refused.reason
    assert rule.check(kit.sell("1", reduce_only=True), context).action.value == "accept"


def test_its_file_appearing_in_a_dry_run_cancels_flattens_and_stops_it(tmp_path: Path) -> None:
    kill = tmp_path / "KILL"
    journal = tmp_path / "journal.sqlite3"
    settings = load_settings(
        None,
        {
            "strategy": "sma_cross",
            "journal": journal,
            "risk": ["kill_switch"],
            "plugins": {
                "exchange": {"paper": {"history": 60, "bars": 5_000}},
                "risk": {"kill_switch": {"file": str(kill), "flatten": True}},
            },
        },
    )
    plugins, symbols = prepare_live(settings, Registry(), origin="test", live=False)
    seen: dict[str, Any] = {}

    def pull_when_holding(engine: Any, status: Any) -> None:
        if "bar" not in seen and engine.ledger.quantity(symbols[0]) > 0:
            seen["bar"] = status.bars
            seen["held"] = engine.ledger.quantity(symbols[0])
            kill.touch()

    result = run_live(settings, plugins, symbols, live=False, max_bars=4_000, poll_interval=0, on_bar=pull_when_holding)

    assert "bar" in seen, "sma_cross never held a position on the paper market"
    assert result.reason.startswith("flatten requested by kill_switch (file ")
    assert result.position == {symbols[0]: D(0)} and result.bars <= seen["bar"] + 2
    with Journal(journal, create=False) as opened:
        [record] = opened.list_runs()
        assert record.end_reason == result.reason
        last = opened.orders(record.run_id)[-1]
        assert (last.side, last.type, last.reduce_only, last.quantity) == (
            Side.SELL,
            OrderType.MARKET,
            True,
            seen["held"],
        )
        assert last.tag.startswith("flatten (kill_switch")
        kinds = [e.kind for e in opened.events(record.run_id)]
    assert kinds.index("kill_switch_engaged") < kinds.index("stop_requested") < kinds.index("run_stopped")
