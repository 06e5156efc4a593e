"""``console``: each event as one coloured line on the terminal.

Lines go to stderr by default, like ``tradekit run``'s status display, so stdout stays
clean for ``--json`` and pipes; while that display is live, rich prints the lines above
it. Printing a line is fast enough not to need a queue.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from tradekit.domain.events import NotifierEvent, Severity
from tradekit.plugin import Notifier, NotifierSettings

if TYPE_CHECKING:
    from rich.console import Console

_STYLES = {Severity.INFO: "cyan", Severity.WARNING: "yellow", Severity.ERROR: "bold red"}
_KIND_STYLES = {
    "order_filled": "green",
    "circuit_breaker_tripped": "bold magenta",
    "circuit_breaker_reset": "bold green",
    "kill_switch_engaged": "bold red",
}


class ConsoleSettings(NotifierSettings):
    """Settings of ``console``; ``events`` (inherited) filters event kinds (all when empty)."""

    stream: Literal["stderr", "stdout"] = Field(default="stderr", description="Where the lines go.")
    show_data: bool = Field(default=False, description="Also print each event's numbers (its data).")
    color: bool | None = Field(default=None, description="Force colours on or off; default: when a terminal.")


class ConsoleNotifier(Notifier):
    """Prints events as rich lines: time, kind, message (and the numbers, with ``show_data``)."""

    Settings = ConsoleSettings
    settings: ConsoleSettings

    def __init__(self, settings: ConsoleSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name or "console")
        self._console: Console | None = None
        self._lock = threading.Lock()

    def _output(self) -> Console:
        if self._console is None:
            from rich.console import Console

            stream = sys.stderr if self.settings.stream == "stderr" else sys.stdout
            color = self.settings.color
            self._console = Console(
                file=stream,
                highlight=False,
                soft_wrap=True,
                force_terminal=color if color else None,
                no_color=color is False,
            )
        return self._console

    def send(self, event: NotifierEvent) -> None:
        """Print one line for ``event`` (markup in the message is shown as text, never interpreted)."""
        from rich.text import Text

        style = _KIND_STYLES.get(event.kind, _STYLES.get(event.severity, ""))
        line = Text()
        line.append(event.timestamp.strftime("%Y-%m-%d %H:%M:%S "), style="dim")
        line.append(f"{event.kind:<26}", style=style)
        line.append(" ")
        line.append(event.message)
        if self.settings.show_data and event.data:
            details = ", ".join(f"{key}={value}" for key, value in event.data.items())
            line.append(f"  [{details}]", style="dim")
        with self._lock:
            self._output().print(line)

    def close(self) -> None:
        """Nothing is buffered beyond the stream's own flush."""
        with self._lock:
            if self._console is not None:
                self._console.file.flush()
