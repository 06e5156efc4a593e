"""The template of a notifier plugin: one readable line per event, to a file or standard error."""

from __future__ import annotations

from tradekit.scaffold.templates import KindTemplate

SOURCE = '''\
"""``${name}``: a tradekit notifier.

It works as generated: it writes one readable line per event to a file (or to
standard error), for the event kinds and severities you choose. To send
somewhere else (a chat, a webhook), replace :meth:`${class_name}.send`; if that
call is slow, queue the event and return at once, since the engine waits for
``send``. ``tests/test_conformance.py`` checks that it still keeps the rules
every notifier keeps.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from pydantic import Field
from tradekit.domain import NotifierEvent, Severity
from tradekit.plugin import Notifier, NotifierSettings

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class ${class_name}Settings(NotifierSettings):
    """Settings of ``${name}``: the ``[plugins.notifier.${name}]`` table of tradekit.toml.

    ``events`` (inherited) lists the event kinds to send; empty sends them all.
    """

    path: str = Field(
        default="tradekit-notifications.log",
        min_length=1,
        description='File the lines are appended to; "-" writes them to standard error.',
    )
    min_severity: Severity = Field(
        default=Severity.INFO, description="Send only events at least this severe: info, warning or error."
    )


class ${class_name}(Notifier):
    """Appends ``<time> <SEVERITY> <kind>: <message>`` for each event it lets through."""

    Settings = ${class_name}Settings
    settings: ${class_name}Settings

    def __init__(
        self,
        settings: ${class_name}Settings | None = None,
        *,
        name: str | None = None,
    ) -> None:
        super().__init__(settings, name=name)
        # Hooks may be called from more than one thread in a live run.
        self._lock = threading.Lock()
        self._stream: TextIO | None = None

    def wants(self, event: NotifierEvent) -> bool:
        """The ``events`` filter, and then ``min_severity``."""
        return super().wants(event) and _RANK[event.severity] >= _RANK[self.settings.min_severity]

    def send(self, event: NotifierEvent) -> None:
        """Write one line; a local write is quick enough not to need a queue."""
        message = " | ".join(event.message.splitlines())
        line = f"{event.timestamp.isoformat()} {event.severity.value.upper()} {event.kind}: {message}\\n"
        with self._lock:
            if self._stream is None:
                self._stream = self._open()
            self._stream.write(line)
            self._stream.flush()

    def close(self) -> None:
        """Close the file (standard error stays open)."""
        with self._lock:
            if self._stream is not None and self._stream is not sys.stderr:
                self._stream.close()
            self._stream = None

    def _open(self) -> TextIO:
        if self.settings.path == "-":
            return sys.stderr
        return open(self.settings.path, "a", encoding="utf-8")  # kept open until close()
'''

BEHAVIOUR_TEST = '''\
"""What ``${name}`` writes, and that tradekit finds it by its entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
from tradekit.domain import EventKind, NotifierEvent, Severity
from tradekit.registry import Registry

from ${package}.notifier import ${class_name}, ${class_name}Settings


def notify_all(notifier: ${class_name}, *events: NotifierEvent) -> None:
    # tradekit_notify is how the engine calls every notifier: it applies the filters, then send().
    for event in events:
        notifier.tradekit_notify(event)
    notifier.close()


def test_writes_one_line_per_event_with_its_severity_and_kind(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    notifier = ${class_name}(${class_name}Settings(path=str(path)))
    notify_all(
        notifier,
        NotifierEvent(kind=EventKind.ORDER_FILLED, message="filled buy 0.5 BTC/USDT at 42000"),
        NotifierEvent(kind=EventKind.ERROR, message="venue down\\nretrying", severity=Severity.ERROR),
    )

    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(" INFO order_filled: filled buy 0.5 BTC/USDT at 42000")
    assert lines[1].endswith(" ERROR error: venue down | retrying")


def test_sends_only_the_kinds_and_severities_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    settings = ${class_name}Settings(
        path=str(path),
        events=("order_filled", "error"),
        min_severity=Severity.WARNING,
    )
    notify_all(
        ${class_name}(settings),
        NotifierEvent(kind=EventKind.ORDER_FILLED, message="filled", severity=Severity.INFO),
        NotifierEvent(kind=EventKind.RUN_STARTED, message="started", severity=Severity.WARNING),
        NotifierEvent(kind=EventKind.ERROR, message="venue down", severity=Severity.ERROR),
    )

    assert [line.split(" ", 2)[2] for line in path.read_text(encoding="utf-8").splitlines()] == [
        "error: venue down"
    ]


def test_writes_to_standard_error_when_the_path_is_a_dash(capsys: pytest.CaptureFixture[str]) -> None:
    notify_all(
        ${class_name}(${class_name}Settings(path="-")),
        NotifierEvent(kind="custom", message="hello"),
    )

    assert capsys.readouterr().err.endswith(" INFO custom: hello\\n")


def test_settings_refuse_an_unknown_severity() -> None:
    with pytest.raises(ValueError, match="min_severity"):
        ${class_name}Settings.model_validate({"min_severity": "loud"})


def test_the_entry_point_finds_this_class() -> None:
    # Needs the distribution installed: python -m pip install -e ".[test]"
    assert Registry().load_class("notifier", "${name}") is ${class_name}
'''

TEMPLATE = KindTemplate(
    kind="notifier",
    suite="NotifierConformance",
    summary="A tradekit notifier that writes one readable line per event to a file or standard error.",
    source=SOURCE,
    behaviour_test=BEHAVIOUR_TEST,
    conformance_settings='{"path": "-", "min_severity": "info"}',
    settings_rows=(
        ("events", "[] (all)", 'Event kinds to send, e.g. `["order_filled", "error"]`; empty sends all.'),
        ("path", '"tradekit-notifications.log"', 'File the lines are appended to; `"-"` is standard error.'),
        ("min_severity", '"info"', "Send only events at least this severe: info, warning or error."),
    ),
    dependencies=("pydantic>=2.7",),
    usage="""\
Notifiers run only when your config names them. In `tradekit.toml`:

```toml
notifiers = ["${name}"]

[plugins.notifier.${name}]
path = "trading.log"
events = ["order_filled", "risk_rejected", "error", "run_stopped"]
```

Then every backtest and run tells it what happens:

```
tradekit backtest --strategy sma_cross
```""",
    try_command="TRADEKIT_NOTIFIERS=${name} tradekit backtest --strategy sma_cross",
)
