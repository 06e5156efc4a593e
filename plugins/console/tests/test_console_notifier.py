"""``console``: one line per event, text shown as written (no markup), the event filter, and the conformance suite."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from tradekit_console.notifier import ConsoleNotifier, ConsoleSettings

from tradekit.domain.events import NotifierEvent, Severity
from tradekit.registry import Registry
from tradekit.testing.conformance import NotifierConformance

MOMENT = datetime(2024, 8, 5, 1, 10, tzinfo=UTC)


def event(kind: str, message: str, **data: Any) -> NotifierEvent:
    return NotifierEvent(kind=kind, message=message, severity=Severity.WARNING, data=data, timestamp=MOMENT)


def test_each_event_is_one_line_with_time_kind_and_message_and_markup_is_shown_as_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    notifier = ConsoleNotifier(ConsoleSettings(show_data=True, color=False))
    notifier.tradekit_notify(event("circuit_breaker_tripped", "drawdown [bold]10.27%[/bold] > 10%", trigger="drawdown"))
    notifier.close()
    line = capsys.readouterr().err
    assert line.startswith("2024-08-05 01:10:00 circuit_breaker_tripped")
    assert "drawdown [bold]10.27%[/bold] > 10%" in line and "[trigger=drawdown]" in line
    assert line.count("\n") == 1


def test_only_the_kinds_asked_for_are_printed_and_stdout_can_be_chosen(capsys: pytest.CaptureFixture[str]) -> None:
    notifier = ConsoleNotifier(ConsoleSettings(events=("order_filled",), stream="stdout", color=False))
    notifier.tradekit_notify(event("run_started", "started"))
    notifier.tradekit_notify(event("order_filled", "filled buy 1 BTC/USDT at 50000"))
    captured = capsys.readouterr()
    assert captured.err == "" and "filled buy 1 BTC/USDT at 50000" in captured.out and "started" not in captured.out


def test_it_is_found_by_name() -> None:
    assert Registry().load_class("notifier", "console") is ConsoleNotifier


class TestConsoleConformance(NotifierConformance):
    plugin = ConsoleNotifier
    plugin_name = "console"
    settings: ClassVar[Mapping[str, Any]] = {"color": False}
