"""The example plugin's own tests: run by its author with the package installed."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pytest

from tradekit.domain import BarSeries, EventKind, NotifierEvent
from tradekit.registry import Registry
from tradekit_plugin_example.notifier import JsonLinesNotifier, JsonLinesSettings
from tradekit_plugin_example.strategy import ChannelBreakout, ChannelBreakoutSettings


def test_entry_points_make_both_plugins_discoverable() -> None:
    registry = Registry()
    assert registry.load_class("strategy", "channel_breakout") is ChannelBreakout
    assert registry.load_class("notifier", "jsonl") is JsonLinesNotifier
    assert registry.find("strategy", "channel_breakout").distribution == "tradekit-plugin-example"


def test_settings_refuse_a_channel_shorter_than_two_bars() -> None:
    with pytest.raises(ValueError, match="entry_bars"):
        ChannelBreakoutSettings(entry_bars=1)


def test_notifier_writes_only_the_events_asked_for(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "events.jsonl"
    notifier = JsonLinesNotifier(JsonLinesSettings(path=path, events=("order_filled",)), name="jsonl")
    notifier.tradekit_notify(NotifierEvent(kind=EventKind.ORDER_FILLED, message="filled", data={"price": "1.5"}))
    notifier.tradekit_notify(NotifierEvent(kind=EventKind.RUN_STARTED, message="started"))
    notifier.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["kind"] for line in lines] == ["order_filled"]
    assert lines[0]["data"] == {"price": "1.5"}


class _FakeContext:
    """Just enough of a StrategyContext to drive on_bar by hand."""

    def __init__(self, series: BarSeries) -> None:
        self.series = series
        self.index = 0
        self.held = Decimal(0)
        self.submitted: list = []  # type: ignore[type-arg]
        self.symbols = (series.symbol,)

    def history(self, symbol=None):  # type: ignore[no-untyped-def]
        return self.series.slice(0, self.index + 1)

    def position(self, symbol=None):  # type: ignore[no-untyped-def]
        return self.held

    def cash(self) -> Decimal:
        return Decimal(10_000)

    def instrument(self, symbol=None):  # type: ignore[no-untyped-def]
        from tradekit.domain import Instrument

        return Instrument(symbol="X/USD", base="X", quote="USD", tick_size=Decimal("0.01"), lot_size=Decimal("0.001"))

    def submit(self, intent):  # type: ignore[no-untyped-def]
        self.submitted.append((self.index, intent))
        self.held += intent.quantity if intent.side.value == "buy" else -intent.quantity
        return "id"


def test_strategy_enters_on_a_break_above_the_channel_and_exits_below() -> None:
    # Flat at 100 for 5 bars, a jump to 110 (entry), flat, then a drop to 90 (exit).
    closes = np.array([100.0] * 5 + [110.0, 110.0, 110.0, 90.0])
    series = BarSeries(
        symbol="X/USD",
        timeframe="1h",
        timestamps=np.arange(len(closes), dtype=np.int64) * 3_600_000_000_000,
        open=closes,
        high=closes,
        low=closes,
        close=closes,
        volume=np.ones(len(closes)),
    )
    strategy = ChannelBreakout(ChannelBreakoutSettings(entry_bars=3, exit_bars=2), name="channel_breakout")
    ctx = _FakeContext(series)
    for index in range(strategy.warmup - 1, len(closes)):
        ctx.index = index
        strategy.on_bar(ctx)  # type: ignore[arg-type]
    assert [(i, intent.side.value) for i, intent in ctx.submitted] == [(5, "buy"), (8, "sell")]
    assert ctx.submitted[1][1].reduce_only
    assert ctx.held == 0
