"""``jsonl``: a notifier that appends events to a JSON-lines file."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from pydantic import Field

from tradekit.domain import NotifierEvent
from tradekit.plugin import Notifier, NotifierSettings


class JsonLinesSettings(NotifierSettings):
    """Settings of ``jsonl``; ``events`` (inherited) filters event kinds."""

    path: Path = Field(default=Path("tradekit-events.jsonl"), description="File the events are appended to.")


class JsonLinesNotifier(Notifier):
    """Appends each event as one JSON object per line (kind, message, severity, data, timestamp)."""

    Settings = JsonLinesSettings
    settings: JsonLinesSettings

    def __init__(self, settings: JsonLinesSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self._lock = threading.Lock()
        self._handle = None

    def send(self, event: NotifierEvent) -> None:
        """Append one line; a local file write is fast enough not to need a queue."""
        line = json.dumps(event.model_dump(mode="json"), sort_keys=True)
        with self._lock:
            if self._handle is None:
                self.settings.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self.settings.path.open("a", encoding="utf-8")
            self._handle.write(line + "\n")
            self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
