"""The breaker's defaults on the real 2024-08-05 crash, run as a user would: ``tradekit backtest`` then ``report``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tradekit.journal import Journal


def test_sma_cross_on_the_crash_trips_on_the_crash_bars_and_the_report_shows_every_verdict(
    tk_data_file: Any, tk_cli: Any, tmp_path: Path
) -> None:
    data = tk_data_file("binance_BTC_USDT-1m_20240726-20240825.feather")
    (tmp_path / "tradekit.toml").write_text('risk = ["circuit_breaker"]\n')

    def tradekit(*args: str) -> tuple[int, str]:
        result = tk_cli(*args, cwd=tmp_path, env={"COLUMNS": "250"})
        assert result.exception is None, result.output
        return result.exit_code, result.stdout

    code, _ = tradekit("backtest", "--strategy", "sma_cross", "--data", str(data))
    assert code == 0

    with Journal(tmp_path / "tradekit-journal.sqlite3") as journal:
        [run] = journal.list_runs()
        events = journal.events(run.run_id)
        verdicts = journal.risk_verdicts(run.run_id)
    trips = {(e.data["at"], e.data["trigger"]) for e in events if e.kind == "circuit_breaker_tripped"}
    assert {
        ("2024-08-05T01:10:00+00:00", "bar_move"),
        ("2024-08-05T11:02:00+00:00", "drawdown"),
        ("2024-08-05T14:00:00+00:00", "bar_move"),
        ("2024-08-05T17:20:00+00:00", "daily_loss"),
    } <= trips
    blocked = [v for check in verdicts for v in check["verdicts"] if v.action.value == "reject"]
    assert blocked and all("circuit breaker open since" in v.reason or "half-open" in v.reason for v in blocked)

    code, out = tradekit("report", run.run_id[:12])
    assert code == 0
    assert "risk verdicts" in out and "circuit_breaker" in out
    assert f"{len(blocked):,}" in out
    code, out = tradekit("report", run.run_id[:12], "--json")
    risk = json.loads(out)["risk"]
    assert risk["decisions"]["reject"] == len(blocked) and risk["rules"][0]["rule"] == "circuit_breaker"
