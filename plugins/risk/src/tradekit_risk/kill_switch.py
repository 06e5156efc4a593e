"""``kill_switch``: once pulled, no new entry passes, and the run cancels, (flattens,) and stops.

Three ways to pull it, all ending in the kernel's stop request (cancel every open order,
close every position when asked, end the run):

* ``tradekit stop [--flatten]`` from another terminal;
* a Telegram command (``/stop``, ``/flatten``) through the ``telegram`` notifier;
* the file named by the ``file`` setting appearing (a watchdog, a deploy script, ``touch``).

The kernel serves stop requests in every dry and live run, with or without this rule. The
rule adds the file, and the latch: from the moment a stop is asked, by any of the three,
every new entry is refused, even one a strategy sends before the loop gets to stop. Its
file is never removed by the run: while it exists, a restarted run refuses entries and
stops again; remove it to trade again. Backtests take no stop requests: there the file,
if present, only makes every entry be refused.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import Field

from tradekit.control import ControlAction, ControlRequest, RunControl
from tradekit.domain.events import RiskVerdict, Severity
from tradekit.domain.orders import OrderIntent
from tradekit.domain.run import RiskContext, RunInfo
from tradekit.hookspecs import hookimpl
from tradekit.plugin import PluginSettings, RiskRule
from tradekit_risk.intents import is_exit

#: The notifier event kind sent when the switch is pulled.
ENGAGED = "kill_switch_engaged"


class KillSwitchSettings(PluginSettings):
    """Settings of ``kill_switch``."""

    file: Path | None = Field(
        default=None, description="A file whose existence pulls the switch (checked every loop pass and order)."
    )
    flatten: bool = Field(default=False, description="When the file pulls it: also close every position.")


class KillSwitch(RiskRule):
    """Refuses every entry once a stop was asked; pulls the stop when its file appears."""

    Settings = KillSwitchSettings
    settings: KillSwitchSettings

    def __init__(self, settings: KillSwitchSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name or "kill_switch")
        self.control: RunControl | None = None
        #: Why the switch is pulled, once it is.
        self.engaged: str | None = None

    @hookimpl
    def tradekit_run_started(self, run: RunInfo, control: RunControl | None) -> None:
        """Keep the control; a file already present pulls the switch before the first bar."""
        self.control = control
        self._look_at_file()

    @hookimpl
    def tradekit_heartbeat(self, now: datetime) -> None:
        """Look for the file once per pass of a live loop."""
        self._look_at_file()

    @hookimpl
    def tradekit_control_requested(self, request: ControlRequest) -> None:
        """Any stop or flatten request latches the switch; a resume cannot undo it (the run is stopping)."""
        if request.action is ControlAction.RESUME:
            if self.engaged is not None:
                self.log.warning("resume from %s ignored: the kill switch is pulled (%s)", request.source, self.engaged)
            return
        self._engage(request.describe(), request=None)

    def check(self, intent: OrderIntent, context: RiskContext) -> RiskVerdict | None:
        """Refuse entries once pulled; exits always pass (closing is what a kill switch wants)."""
        self._look_at_file()
        if self.engaged is None or is_exit(intent, context):
            return RiskVerdict.accept(self.name)
        return RiskVerdict.reject(self.name, f"kill switch pulled ({self.engaged}): no new entries")

    def _look_at_file(self) -> None:
        path = self.settings.file
        if self.engaged is not None or path is None or not path.exists():
            return
        action = ControlAction.FLATTEN if self.settings.flatten else ControlAction.STOP
        self._engage(
            f"file {path} exists" + (" (flatten)" if self.settings.flatten else ""),
            request=action,
        )

    def _engage(self, why: str, *, request: ControlAction | None) -> None:
        if self.engaged is not None:
            return
        self.engaged = why
        control = self.control
        stops = control is not None and control.accepts_requests
        message = f"kill switch pulled: {why}; no new entries" + (
            ", the run stops" if stops or request is None else " (a backtest does not stop)"
        )
        self.log.warning("%s", message)
        if control is None:
            return
        control.emit(ENGAGED, message, Severity.WARNING, {"reason": why, "rule": self.name})
        control.set_status(self.name, f"pulled: {why}")
        if request is not None and stops:
            control.request(request, source=f"kill_switch ({why})")
