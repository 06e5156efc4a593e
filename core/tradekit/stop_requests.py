"""The stop-request file: how ``tradekit stop`` reaches a run in another process.

``tradekit stop`` writes one small JSON file beside the journal
(``<journal>.stop``); every dry or live run on that journal looks at it once
per pass of its loop and serves a request written after it started. The file
is never deleted by a run: several runs may share a journal, and a request
older than a run's start is simply not for it, so a leftover file is harmless.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tradekit.errors import UserError


@dataclass(frozen=True)
class StopRequest:
    """One ``tradekit stop``: when it was asked, whether to flatten, and for which run (None: every run)."""

    requested_at: datetime
    flatten: bool = False
    run: str | None = None
    requested_by: str = "tradekit stop"

    def applies_to(self, run_id: str, started_at: datetime | None) -> bool:
        """Whether a run with this id that started at ``started_at`` must serve this request."""
        if self.run is not None and not run_id.startswith(self.run):
            return False
        return started_at is None or self.requested_at >= started_at


def stop_request_path(journal: Path) -> Path:
    """Where the stop request of the runs journaled in ``journal`` is written."""
    return journal.with_name(journal.name + ".stop")


def write_stop_request(journal: Path, request: StopRequest) -> Path:
    """Write ``request`` for the runs of ``journal`` (atomically: a run never reads half a file)."""
    path = stop_request_path(journal)
    payload = {
        "requested_at": request.requested_at.astimezone(UTC).isoformat(),
        "flatten": request.flatten,
        "run": request.run,
        "requested_by": request.requested_by,
    }
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        raise UserError(
            f"cannot write the stop request {path}: {error.strerror}",
            hint="check that the journal's folder is writable, or pass --journal PATH",
        ) from None
    return path


def read_stop_request(path: Path) -> StopRequest | None:
    """The request in ``path``, or None when there is none or it cannot be read.

    A malformed file is ignored rather than raised: it is read by running
    loops, which must not die of it; ``tradekit stop`` rewrites it whole.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        requested_at = datetime.fromisoformat(raw["requested_at"])
        if requested_at.tzinfo is None:
            requested_at = requested_at.replace(tzinfo=UTC)
        run = raw.get("run")
        return StopRequest(
            requested_at=requested_at,
            flatten=bool(raw.get("flatten", False)),
            run=str(run) if run else None,
            requested_by=str(raw.get("requested_by", "tradekit stop")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
