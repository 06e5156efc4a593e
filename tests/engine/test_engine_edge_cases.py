"""The awkward cases: reused ids, late fills, greedy resizes, lagging symbols, flaky venues."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tradekit.domain.bars import BarSeries
from tradekit.domain.events import RiskVerdict
from tradekit.domain.orders import Fill, Liquidity, OrderIntent, OrderStatus, OrderType, OrderUpdate, Side
from tradekit.errors import ExchangeUnavailable
from tradekit.plugin import RiskRule, Strategy, StrategyContext

D = Decimal


class OneShot(Strategy):
    """Submits the given intents on its first bar; records what it got back."""

    def __init__(self, intents: list[OrderIntent]) -> None:
        super().__init__(name="one_shot")
        self.intents = intents
        self.ids: list[str | None] = []

    def on_bar(self, ctx: StrategyContext) -> None:
        if ctx.index == 0:
            self.ids = [ctx.submit(intent) for intent in self.intents]


def limit_buy(price: str, client_order_id: str | None = None, quantity: str = "1") -> OrderIntent:
    return OrderIntent(
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=D(quantity),
        price=D(price),
        client_order_id=client_order_id,
    )


def test_an_intent_reusing_a_resting_orders_client_order_id_is_dropped(make_rig: Any, make_bars: Any) -> None:
    rig = make_rig()
    same = "ab" * 16
    strategy = OneShot([limit_buy("90", same), limit_buy("80", same)])
    rig.run(strategy, {"BTC/USDT": make_bars([100.0, 100.0, 100.0])})
    assert strategy.ids == [same, None]
    resting = rig.engine.open_orders()
    assert [(o.client_order_id, o.price) for o in resting] == [(same, D("90"))]
    assert rig.engine.stats.errors == 1


def test_a_risk_rule_cannot_enlarge_an_order(make_rig: Any, make_bars: Any) -> None:
    class Greedy(RiskRule):
        def check(self, intent: OrderIntent, context: Any) -> RiskVerdict:
            return RiskVerdict.resize(self.name, intent.quantity * 3, "more, please")

    rig = make_rig(plugins=(Greedy(name="greedy"),))
    strategy = OneShot([limit_buy("90", quantity="2")])
    rig.run(strategy, {"BTC/USDT": make_bars([100.0, 100.0])})
    (order,) = rig.engine.orders.values()
    assert order.quantity == D("2")


class _Broker:
    """A broker whose events the test writes by hand (a venue's messages arriving in an awkward order)."""

    name = "scripted"

    def __init__(self) -> None:
        self.events: list[Any] = []

    def submit(self, order: Any, now: datetime, market_price: Any) -> None:
        self.events.append(
            OrderUpdate(client_order_id=order.client_order_id, status=OrderStatus.ACCEPTED, timestamp=now)
        )

    def cancel(self, order: Any, now: datetime) -> None: ...

    def poll_events(self) -> list[Any]:
        events, self.events = self.events, []
        return events

    def open_orders(self, symbol: str | None = None) -> list[Any]:
        return []

    def fetch_order(self, client_order_id: str, symbol: str) -> Any:
        return None


def test_a_fill_arriving_after_a_cancel_is_booked_not_fatal(make_rig: Any) -> None:
    rig = make_rig()
    engine = rig.engine
    broker = _Broker()
    engine.broker = broker
    now = datetime(2024, 1, 1, tzinfo=UTC)
    engine.now = now
    engine.set_close("BTC/USDT", 100.0)
    strategy = OneShot([])
    engine.contexts[id(strategy)] = None  # OneShot's callbacks do not read their context
    client_order_id = engine.submit_intent(strategy, limit_buy("99"), D("100"))
    assert client_order_id is not None
    broker.events = [
        OrderUpdate(client_order_id=client_order_id, status=OrderStatus.CANCELLED, timestamp=now),
        Fill(
            fill_id="late-1",
            client_order_id=client_order_id,
            symbol="BTC/USDT",
            side=Side.BUY,
            quantity=D("1"),
            price=D("99"),
            fee=D(0),
            liquidity=Liquidity.MAKER,
            timestamp=now,
        ),
    ]
    engine.drain()
    assert engine.orders[client_order_id].status is OrderStatus.CANCELLED
    assert engine.ledger.quantity("BTC/USDT") == D("1")
    assert engine.ledger.cash["USDT"] == D("10000") - D("99")
    assert engine.stats.errors == 1


def test_symbols_of_a_dry_run_advance_together_on_common_bar_times(tmp_path: Path) -> None:
    from tradekit.registry import Registry
    from tradekit.session import prepare_live, run_live
    from tradekit.settings import load_settings

    seen: list[tuple[int, ...]] = []

    class Watch(Strategy):
        def on_bar(self, ctx: StrategyContext) -> None:
            seen.append(tuple(int(ctx.history(s).timestamps[-1]) for s in ctx.symbols))

    settings = load_settings(
        None,
        {"strategy": "sma_cross", "symbols": ["SIM/USDT", "ALT/USDT"], "journal": tmp_path / "j.sqlite3"},
    )
    plugins, symbols = prepare_live(settings, Registry(), origin="test", live=False)
    plugins.strategy = Watch(name="watch")
    run_live(settings, plugins, symbols, live=False, max_bars=40, poll_interval=0)
    assert len(seen) == 40
    assert all(len(set(times)) == 1 for times in seen), "every symbol's current bar is the same moment"
    closes = {s: plugins.exchange.fetch_history(s, "1m", None, None).close[:100] for s in symbols}
    assert not np.array_equal(closes["SIM/USDT"], closes["ALT/USDT"]), "each symbol has its own market"


def test_a_dry_run_rides_out_a_retryable_exchange_error(tmp_path: Path) -> None:
    from tradekit.registry import Registry
    from tradekit.session import prepare_live, run_live
    from tradekit.settings import load_settings

    settings = load_settings(None, {"strategy": "sma_cross", "journal": tmp_path / "j.sqlite3"})
    plugins, symbols = prepare_live(settings, Registry(), origin="test", live=False)
    exchange = plugins.exchange
    real_fetch = exchange.fetch_bars
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> BarSeries:
        calls["n"] += 1
        if calls["n"] in (3, 4):
            raise ExchangeUnavailable("timed out talking to the venue")
        return real_fetch(*args, **kwargs)

    exchange.fetch_bars = flaky  # type: ignore[method-assign]
    errors: list[str] = []
    original_error = plugins.hooks.exchange_error
    plugins.hooks.exchange_error = lambda name, operation, error: errors.append(f"{operation}: {error}")  # type: ignore[method-assign]
    result = run_live(settings, plugins, symbols, live=False, max_bars=20, poll_interval=0)
    plugins.hooks.exchange_error = original_error  # type: ignore[method-assign]
    assert result.bars == 20
    assert errors == ["fetch_bars: timed out talking to the venue"] * 2


def test_the_journal_holds_no_secret_of_a_plugin_the_run_did_not_load(tmp_path: Path) -> None:
    from tradekit.registry import Registry
    from tradekit.session import run_backtest
    from tradekit.settings import load_settings

    secret = "0xNOT-LOADED-PRIVATE-KEY-123456789"
    journal = tmp_path / "journal.sqlite3"
    settings = load_settings(
        None,
        {
            "strategy": "sma_cross",
            "journal": journal,
            "plugins": {"exchange": {"paper": {"bars": 500}, "hyperliquid": {"private_key": secret}}},
        },
    )
    run_backtest(settings, Registry(), origin="test")
    written = b"".join(path.read_bytes() for path in tmp_path.glob("journal.sqlite3*"))
    assert secret.encode() not in written
    assert b'"bars":500' in written.replace(b" ", b""), "the loaded plugin's settings are journaled"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--from", "2024-01-02", "--to", "2024-01-01"], {}, "--to 2024-01-01 must be after --from 2024-01-02"),
        ([], {"TRADEKIT_NOTIFIERS": "jsonl,jsonl"}, "`notifiers` names jsonl more than once"),
    ],
)
def test_contradictory_options_are_refused_before_anything_runs(
    tradekit: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = tradekit("backtest", "--strategy", "sma_cross", "--no-files", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_data_files_of_different_timeframes_are_not_traded_together(
    tradekit: Callable[..., Any], workdir: Path
) -> None:
    minutes = np.arange(60, dtype=np.int64) * 60
    for name, step in (("AAA_USDT-1m.csv", 1), ("BBB_USDT-5m.csv", 5)):
        rows = ["timestamp,open,high,low,close,volume"]
        rows += [f"{int(t) * step},100,101,99,100,1" for t in minutes]
        (workdir / name).write_text("\n".join(rows) + "\n")
    result = tradekit(
        "backtest", "--strategy", "sma_cross", "--no-files", "--data", "AAA_USDT-1m.csv", "--data", "BBB_USDT-5m.csv"
    )
    assert result.exit_code == 2
    assert "need bars of one timeframe; got AAA/USDT 1m, BBB/USDT 5m" in result.stderr


def test_an_id_is_refused_as_reused_even_after_its_finished_order_was_forgotten(
    make_rig: Any, make_bars: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tradekit.domain.order_memory.DEFAULT_KEEP_FINISHED", 0)
    same = "cd" * 16

    class Twice(Strategy):
        def __init__(self) -> None:
            super().__init__(name="twice")
            self.ids: list[str | None] = []

        def on_bar(self, ctx: StrategyContext) -> None:
            if ctx.index < 2:
                intent = OrderIntent(
                    symbol="BTC/USDT", side=Side.BUY, type=OrderType.MARKET, quantity=D("1"), client_order_id=same
                )
                self.ids.append(ctx.submit(intent))

    rig = make_rig()
    strategy = Twice()
    rig.run(strategy, {"BTC/USDT": make_bars([100.0, 100.0, 100.0])})
    assert strategy.ids == [same, None]
    assert same not in rig.engine.orders  # finished and forgotten: nothing kept to look up
    assert rig.engine.stats.errors == 1 and rig.engine.stats.fills == 1
    assert rig.venue.fetch_order(same) is None
