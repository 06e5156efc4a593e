"""``telegram`` against the kernel's notifier conformance suite, its HTTP transport pointed at the suite's server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tradekit_telegram.notifier import TelegramNotifier

from tradekit.testing.conformance import NotifierConformance


class TestTelegramConformance(NotifierConformance):
    plugin = TelegramNotifier
    plugin_name = "telegram"
    settings: ClassVar[Mapping[str, Any]] = {
        "bot_token": "123:conformance-token",
        "chat_ids": [42],
        "min_interval_seconds": 0,
        "retry_seconds": 0.1,
        "events": ["error"],
    }

    def transport_settings(self, url: str) -> Mapping[str, Any]:
        return {"base_url": url}
