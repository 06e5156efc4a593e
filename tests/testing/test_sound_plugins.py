"""The suites of the kinds the kernel ships no plugin of (risk, notifier, model) accept sound plugins.

Each plugin here is written the way the suites' docstrings ask: a risk rule that
lets its errors propagate, a network notifier that queues and delivers from a
worker (checked against the suite's slow and failing local server), and a model
that predicts from past bars only.
"""

from __future__ import annotations

import json
import queue
import threading
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, SecretStr

from tradekit.domain import BarSeries, NotifierEvent, OrderIntent, RiskVerdict
from tradekit.domain.run import RiskContext
from tradekit.plugin import Model, Notifier, NotifierSettings, PluginSettings, RiskRule
from tradekit.testing.conformance import ModelConformance, NotifierConformance, RiskRuleConformance


class MaxPositionSettings(PluginSettings):
    """Settings of :class:`MaxPosition`."""

    max_position: Decimal = Field(default=Decimal(1), gt=0)


class MaxPosition(RiskRule):
    """Rejects intents that would take a position beyond ``max_position``; errors propagate (fail closed)."""

    Settings = MaxPositionSettings
    settings: MaxPositionSettings

    def check(self, intent: OrderIntent, context: RiskContext) -> RiskVerdict | None:
        held = context.positions.get(intent.symbol)
        after = (held.quantity if held else Decimal(0)) + intent.quantity * intent.side.sign
        if abs(after) > self.settings.max_position:
            return RiskVerdict.reject(self.name, f"position would be {after}, above {self.settings.max_position}")
        return None


class WebhookSettings(NotifierSettings):
    """Settings of :class:`QueuedWebhook`."""

    url: str = "https://hooks.example.invalid"
    token: SecretStr = SecretStr("")


class QueuedWebhook(Notifier):
    """Posts events as JSON to ``url``/send from a worker thread; a failed post is logged and dropped."""

    Settings = WebhookSettings
    settings: WebhookSettings

    def __init__(self, settings: WebhookSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self._queue: queue.Queue[NotifierEvent | None] = queue.Queue()
        self._worker = threading.Thread(target=self._deliver, name=f"{self.name}-worker", daemon=True)
        self._worker.start()

    def _deliver(self) -> None:
        while (event := self._queue.get()) is not None:
            body = json.dumps({"text": event.message, "data": event.data}).encode()
            request = urllib.request.Request(
                f"{self.settings.url}/send",
                data=body,
                headers={"Authorization": f"Bearer {self.settings.token.get_secret_value()}"},
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    answer.read()
            except OSError as error:
                self.log.warning("delivery failed: %s", type(error).__name__)

    def send(self, event: NotifierEvent) -> None:
        """Queue the event."""
        self._queue.put(event)

    def close(self) -> None:
        """Deliver what is queued (for at most 5 s), then stop the worker."""
        self._queue.put(None)
        self._worker.join(timeout=5)


class MomentumSettings(PluginSettings):
    """Settings of :class:`Momentum`."""

    window: int = Field(default=12, ge=2)


class Momentum(Model):
    """Predicts the next return as the mean of the last ``window`` returns, scaled by their spread when fit."""

    Settings = MomentumSettings
    settings: MomentumSettings

    def __init__(self, settings: MomentumSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self.scale = 1.0

    def fit(self, data: BarSeries, horizon: int) -> dict[str, Any]:
        returns = np.diff(np.log(data.close))
        self.scale = float(np.std(returns)) or 1.0
        return {"scale": self.scale, "bars": len(data), "horizon": horizon}

    def predict(self, data: BarSeries) -> NDArray[np.float64]:
        returns = np.concatenate([[0.0], np.diff(np.log(data.close))])
        window = self.settings.window
        sums = np.convolve(returns, np.ones(window), mode="full")[: len(returns)]
        counts = np.minimum(np.arange(1, len(returns) + 1), window)
        return np.asarray(sums / counts / self.scale, dtype=np.float64)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"scale": self.scale, "settings": self.settings.model_dump()}))

    @classmethod
    def load(cls, path: Path) -> Momentum:
        stored = json.loads(path.read_text())
        model = cls(MomentumSettings(**stored["settings"]))
        model.scale = stored["scale"]
        return model


class TestMaxPositionConformance(RiskRuleConformance):
    plugin = MaxPosition
    settings: ClassVar[dict[str, Any]] = {"max_position": "2"}


class TestQueuedWebhookConformance(NotifierConformance):
    plugin = QueuedWebhook

    def transport_settings(self, url: str) -> dict[str, Any]:
        return {"url": url}


class TestMomentumConformance(ModelConformance):
    plugin = Momentum
    settings: ClassVar[dict[str, Any]] = {"window": 24}
