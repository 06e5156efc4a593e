"""docs/plugins/lifecycle.md draws the hooks in the order a real run fires them, and says which never fire.

A backtest runs a strategy that implements every hook and records each call:
on one bar it buys (filled at once), then saves its state; on another a risk
hook of its own rejects its sell; on a third the venue refuses an order off
the lot. What happens before the first bar and after the last must be what the
diagram draws there, and each bar's calls must follow the diagram's loop, in
order (a bar takes one branch of each ``alt``).
"""

from __future__ import annotations

import inspect
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tradekit import hookspecs
from tradekit.data import simulate_bars
from tradekit.domain import OrderIntent, RiskVerdict, Side
from tradekit.domain.run import RiskContext
from tradekit.hookspecs import hookimpl
from tradekit.plugin import Plugin, Strategy, StrategyContext
from tradekit.registry import Registry
from tradekit.session import run_backtest
from tradekit.settings import load_settings

LIFECYCLE = Path(__file__).resolve().parents[2] / "docs" / "plugins" / "lifecycle.md"
HOOKS = [name for name, value in vars(hookspecs).items() if name.startswith("tradekit_") and inspect.isfunction(value)]
NOT_FIRED = ("tradekit_model_loaded",)
# The part of a call the diagram names in brackets: an event's kind, an order's status.
TAGGED = {"tradekit_notify", "tradekit_order_updated", "tradekit_order_submitted"}

Call = tuple[str, str | None]
#: What the recorder saw in the last backtest, in order.
RECORDED: list[Call] = []


def _recording_method(hook: str) -> Any:
    parameters = list(inspect.signature(getattr(hookspecs, hook)).parameters)

    def record(self: Recorder, **arguments: Any) -> None:
        tag = None
        if "event" in arguments:
            tag = str(arguments["event"].kind)
        elif "order" in arguments:
            tag = arguments["order"].status.value
        RECORDED.append((hook, tag))

    # pluggy reads the argument names from the signature: give the method the hook's own.
    source = (
        f"def {hook}(self, {', '.join(parameters)}):\n    record(self, {', '.join(f'{p}={p}' for p in parameters)})\n"
    )
    namespace: dict[str, Any] = {"record": record}
    exec(source, namespace)
    return hookimpl(namespace[hook])


class Recorder(Strategy):
    """Buys on bar 5 and saves its state, has its own sell rejected on bar 8, sends an odd lot on bar 9."""

    def on_bar(self, ctx: StrategyContext) -> None:
        symbol = ctx.symbols[0]
        if ctx.index in (5, 8, 9):
            RECORDED.append(("on_bar", None))
        if ctx.index == 5:
            ctx.submit(OrderIntent(symbol=symbol, side=Side.BUY, quantity=Decimal("0.01")))
            ctx.save_state({"bought": "0.01"})
        elif ctx.index == 8:
            ctx.submit(OrderIntent(symbol=symbol, side=Side.SELL, quantity=Decimal("0.01")))
        elif ctx.index == 9:
            ctx.submit(OrderIntent(symbol=symbol, side=Side.BUY, quantity=Decimal("0.000001")))

    def on_stop(self, ctx: StrategyContext) -> None:
        RECORDED.append(("on_stop", None))


for _hook in HOOKS:
    setattr(Recorder, _hook, _recording_method(_hook))


def _risk_check(self: Recorder, intent: OrderIntent, context: RiskContext) -> RiskVerdict:
    RECORDED.append(("tradekit_risk_check", None))
    if intent.side is Side.SELL:
        return RiskVerdict.reject("recorder", "no selling in this test")
    return RiskVerdict.accept("recorder")


Recorder.tradekit_risk_check = hookimpl(_risk_check)  # type: ignore[attr-defined]


class OneStrategyRegistry(Registry):
    """The installed plugins, plus the recorder as the strategy ``recorder``."""

    def load_class(self, kind: str, name: str) -> type[Plugin]:
        if (kind, name) == ("strategy", "recorder"):
            return Recorder
        return super().load_class(kind, name)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> list[Call]:
    """The hook calls of one backtest of the recorder, with markers where each bar and the stop begin."""
    folder = tmp_path_factory.mktemp("lifecycle")
    settings = load_settings(
        None,
        {
            "strategy": "recorder",
            "journal": folder / "journal.sqlite3",
            "backtest": {"fill_at": "close", "skip_idle_bars": False},
        },
    )
    RECORDED.clear()
    run_backtest(
        settings,
        OneStrategyRegistry(strict=False),
        origin="test",
        data={"SIM/USDT": simulate_bars(seed=3, bars=12, timeframe="1h")},
    )
    return list(RECORDED)


def diagram() -> tuple[list[Call], list[Call], list[Call]]:
    """The hook arrows of the Mermaid diagram: before the loop, inside it, after it."""
    text = LIFECYCLE.read_text(encoding="utf-8")
    block = re.search(r"```mermaid\n(.*?)```", text, re.DOTALL)
    assert block is not None, "lifecycle.md has no mermaid diagram"
    parts: list[list[Call]] = [[], [], []]
    part, depth = 0, 0
    for raw in block.group(1).splitlines():
        line = raw.strip()
        word = line.split(" ", 1)[0]
        if word == "loop":
            part, depth = 1, 1
            continue
        if part == 1 and word in ("alt", "opt"):
            depth += 1
        elif part == 1 and word == "end":
            depth -= 1
            if depth == 0:
                part = 2
        arrow = re.search(r"->>Hooks: (tradekit_\w+)\(.*?\)(?: \[(?:kind |status )?([^\]]*)\])?$", line)
        if arrow:
            hook = arrow.group(1)
            parts[part].append((hook, arrow.group(2) if hook in TAGGED else None))
    return parts[0], parts[1], parts[2]


def hooks_only(calls: list[Call]) -> list[Call]:
    return [call for call in calls if call[0].startswith("tradekit_")]


def is_in_order(calls: list[Call], drawn: list[Call]) -> bool:
    """Whether ``calls`` appear in ``drawn`` in the same order (a subsequence)."""
    remaining = iter(drawn)
    return all(call in remaining for call in calls)


def test_the_diagram_draws_what_fires_before_the_first_bar_and_after_the_last(recorded: list[Call]) -> None:
    before, _, after = diagram()
    first_bar = recorded.index(("on_bar", None))
    stop = recorded.index(("on_stop", None))

    assert hooks_only(recorded[:first_bar]) == before
    assert hooks_only(recorded[stop:]) == after


def test_each_bar_fires_hooks_in_the_order_the_diagram_loop_draws(recorded: list[Call]) -> None:
    _, loop, _ = diagram()
    starts = [index for index, call in enumerate(recorded) if call[0] == "on_bar"]
    stop = recorded.index(("on_stop", None))
    bars = [hooks_only(recorded[start:end]) for start, end in zip(starts, [*starts[1:], stop], strict=True)]

    assert len(bars) == 3
    # Bought and filled at once, then the state saved.
    assert ("tradekit_fill", None) in bars[0] and ("tradekit_strategy_state_changed", None) in bars[0]
    assert ("tradekit_notify", "risk_rejected") in bars[1]
    assert ("tradekit_order_updated", "rejected") in bars[2]
    for number, calls in enumerate(bars):
        assert is_in_order(calls, loop), f"bar {number}: the calls {calls} are not in the diagram's order {loop}"


def test_the_hooks_the_page_says_never_fire_do_not_fire_in_a_run(recorded: list[Call]) -> None:
    page = LIFECYCLE.read_text(encoding="utf-8")
    section = page.split("## Hooks the kernel does not fire on its own", 1)
    assert len(section) == 2, "lifecycle.md lost its section on hooks that never fire"
    named = re.findall(r"^- `(tradekit_\w+)`", section[1], re.MULTILINE)

    assert sorted(named) == sorted(NOT_FIRED)
    fired = {hook for hook, _ in recorded}
    for hook in NOT_FIRED:
        assert hook not in fired, (
            f"{hook} fires now: move it out of lifecycle.md's section on hooks the kernel does not fire, "
            "into the diagram"
        )


def test_every_hook_of_the_contract_is_placed_on_the_page() -> None:
    before, loop, after = diagram()
    drawn = {hook for hook, _ in [*before, *loop, *after]}

    assert set(HOOKS) == drawn | set(NOT_FIRED)
