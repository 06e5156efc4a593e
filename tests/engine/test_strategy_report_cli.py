"""A strategy's own report and status reach the user: backtest tables, --json and journal; the run display."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tradekit.journal import Journal
from tradekit.plugin import Strategy, StrategyContext
from tradekit.report import ReportTable, StrategyReport, Timeline


class Reporting(Strategy):
    """Counts bars; reports a table of them and a timeline of even and odd stretches; shows the count live."""

    def __init__(self, settings: Any = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self.bars = 0

    def on_bar(self, ctx: StrategyContext) -> None:
        self.bars += 1

    def report(self) -> StrategyReport:
        return StrategyReport(
            tables=(ReportTable("Counted", ("what", "how many"), (("bars", self.bars),)),),
            timelines=(Timeline("half", ((0, "first"), (self.bars // 2, "second"))),),
            summary={"bars seen": self.bars},
        )

    def status(self) -> dict[str, str]:
        return {"counted": f"{self.bars} bars"}


class BrokenStatus(Reporting):
    """A status that raises: the run must go on."""

    def status(self) -> dict[str, str]:
        raise RuntimeError("no status today")


def test_a_backtest_prints_stores_and_outputs_the_strategy_report(
    tradekit: Callable[..., Any], install_plugins: Callable[..., None], workdir: Path
) -> None:
    install_plugins(strategy={"reporting": Reporting})
    printed = tradekit("backtest", "--strategy", "reporting", "--no-files")
    assert printed.exit_code == 0, printed.stderr
    assert "Counted" in printed.stdout and "bars seen" in printed.stdout
    as_json = tradekit("backtest", "--strategy", "reporting", "--no-files", "--json")
    output = json.loads(as_json.stdout)
    report = output["strategy_report"]
    assert report["tables"][0]["rows"] == [["bars", output["bars"]]]
    assert report["timelines"][0]["changes"] == [[0, "first"], [output["bars"] // 2, "second"]]
    with Journal(workdir / "tradekit-journal.sqlite3") as journal:
        assert journal.report(output["run_id"])["strategy"] == report


def test_a_strategy_without_a_report_adds_nothing(tradekit: Callable[..., Any]) -> None:
    output = json.loads(tradekit("backtest", "--strategy", "sma_cross", "--no-files", "--json").stdout)
    assert output["strategy_report"] is None


def test_the_html_report_draws_the_strategys_timeline(
    tradekit: Callable[..., Any], install_plugins: Callable[..., None], workdir: Path
) -> None:
    install_plugins(strategy={"reporting": Reporting})
    assert tradekit("backtest", "--strategy", "reporting", "--output", "out").exit_code == 0
    (page,) = (workdir / "out").glob("*/report.html")
    assert "Equity: first" in page.read_text() and "Equity: second" in page.read_text()


def test_a_run_shows_the_strategy_status_beside_its_figures(
    tradekit: Callable[..., Any], install_plugins: Callable[..., None]
) -> None:
    install_plugins(strategy={"reporting": Reporting})
    result = tradekit("run", "--strategy", "reporting", "--exchange", "paper", "--max-bars", "500")
    assert result.exit_code == 0, result.stderr
    line = next(line for line in result.stderr.splitlines() if line.startswith("bar 500:"))
    assert "; counted 500 bars" in line


def test_a_status_that_fails_is_shown_as_the_error_and_the_run_goes_on(
    tradekit: Callable[..., Any], install_plugins: Callable[..., None]
) -> None:
    install_plugins(strategy={"broken": BrokenStatus})
    result = tradekit("run", "--strategy", "broken", "--exchange", "paper", "--max-bars", "500")
    assert result.exit_code == 0, result.stderr
    assert "status status() failed: RuntimeError: no status today" in result.stderr
    assert "reached --max-bars 500" in result.stdout
