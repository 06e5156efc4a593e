"""The kit's fixtures and helpers do what a plugin author relies on them for."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradekit.domain import Fill, Order, OrderIntent, OrderStatus, OrderType, OrderUpdate, RiskVerdict, Side
from tradekit.domain.orders import TriggerDirection
from tradekit.engine.brokers import ExchangeBroker
from tradekit.errors import ExchangeUnavailable, InsufficientFunds, InvalidOrder, OrderRejected
from tradekit.hooks import HookFacade, combine_verdicts
from tradekit.plugin import RiskRule, Strategy
from tradekit.registry import Registry
from tradekit.testing import FakeExchange, FakeExchangeSettings, make_bars, mirror_after, price_path
from tradekit.testing.bars import conformance_market

D = Decimal
NOW = datetime(2024, 1, 1, tzinfo=UTC)


def order(
    side: Side, kind: OrderType = OrderType.MARKET, quantity: str = "0.5", number: int = 1, **fields: Any
) -> Order:
    """An order of BTC/USDT with a 32-hex client order id."""
    intent = OrderIntent(symbol=fields.pop("symbol", "BTC/USDT"), side=side, type=kind, quantity=D(quantity), **fields)
    return Order.from_intent(intent, f"{number:032x}", created_at=NOW)


class BuyOnceStrategy(Strategy):
    """Buys 0.01 on bar 50 and sells it on bar 150."""

    def on_bar(self, ctx: Any) -> None:
        if ctx.index == 50:
            ctx.submit(OrderIntent(symbol=ctx.symbols[0], side=Side.BUY, quantity=D("0.01")))
        elif ctx.index == 150:
            ctx.submit(OrderIntent(symbol=ctx.symbols[0], side=Side.SELL, quantity=D("0.01")))


class RejectEverything(RiskRule):
    """Rejects every intent."""

    def check(self, intent: OrderIntent, context: Any) -> RiskVerdict:
        return RiskVerdict.reject(self.name, "nothing may trade")


# --- tk_plugin_manager and tk_register ------------------------------------------------------------


def test_the_plugin_manager_knows_every_hook_and_no_plugin(tk_plugin_manager: Any) -> None:
    assert tk_plugin_manager.get_plugins() == set()
    assert tk_plugin_manager.hook.tradekit_risk_check.spec is not None
    assert tk_plugin_manager.hook.tradekit_notify.get_hookimpls() == []


def test_a_registered_risk_rule_judges_through_the_hook_facade(tk_register: Any, tk_plugin_manager: Any) -> None:
    rule = tk_register(RejectEverything, "no_trading")
    verdicts = HookFacade(tk_plugin_manager).risk_check(
        OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity=D(1)),
        None,  # type: ignore[arg-type]
    )
    assert rule.name == "no_trading"
    assert [v.rule for v in verdicts] == ["no_trading"]
    assert combine_verdicts(verdicts)[0].value == "reject"


def test_a_hook_only_object_is_registered_without_being_published(tk_register: Any, tk_plugin_manager: Any) -> None:
    from tradekit.hookspecs import hookimpl

    heard: list[str] = []

    class Observer:
        @hookimpl
        def tradekit_market_data_status(self, symbol: str, status: str, detail: str) -> None:
            heard.append(f"{symbol} {status}")

    tk_register(Observer(), "observer")
    HookFacade(tk_plugin_manager).market_data_status("BTC/USDT", "gap", "two bars missing")
    assert heard == ["BTC/USDT gap"]
    assert "observer" not in Registry().names("strategy")


def test_a_registered_strategy_class_is_found_by_name_by_the_registry_and_the_cli(
    tk_register: Any, tk_cli: Any
) -> None:
    tk_register(BuyOnceStrategy, "tk_buy_once")
    registry = Registry()
    assert registry.load_class("strategy", "tk_buy_once") is BuyOnceStrategy
    assert registry.find("strategy", "tk_buy_once").distribution == "tk-test-plugins"
    listed = tk_cli("plugins", "list")
    assert listed.exit_code == 0, listed.output
    assert "tk_buy_once" in listed.stdout
    result = tk_cli("backtest", "--strategy", "tk_buy_once", "--no-files", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["strategy"] == "tk_buy_once"
    assert report["orders"] == 2


def test_the_cli_reports_a_users_mistake_as_the_command_does(tk_cli: Any) -> None:
    result = tk_cli("backtest", "--strategy", "no_such_strategy", "--no-files")
    assert result.exit_code == 2
    assert "error: unknown strategy 'no_such_strategy'" in result.stderr
    assert result.exception is None


def test_the_cli_ignores_the_callers_tradekit_variables(tk_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEKIT_STRATEGY", "no_such_strategy")
    result = tk_cli("backtest", "--no-files", "--json")
    assert result.exit_code == 2
    assert "no strategy named" in result.stderr
    assert tk_cli("backtest", "--no-files", "--json", env={"TRADEKIT_STRATEGY": "sma_cross"}).exit_code == 0


# --- tk_fake_exchange ------------------------------------------------------------------------------------


def test_a_market_order_fills_at_the_current_price(tk_fake_exchange: FakeExchange) -> None:
    tk_fake_exchange.submit_order(order(Side.BUY, quantity="2"))
    events = tk_fake_exchange.poll_events()
    fills = [e for e in events if isinstance(e, Fill)]
    assert [(f.quantity, f.price) for f in fills] == [(D(2), D("100.00"))]
    assert tk_fake_exchange.positions()["BTC/USDT"].quantity == D(2)
    assert tk_fake_exchange.balances()["USDT"].total == D(10_000) - D(200) - D("0.4")


def test_resting_orders_fill_and_trigger_when_the_price_is_moved(tk_fake_exchange: FakeExchange) -> None:
    exchange = tk_fake_exchange
    exchange.submit_order(order(Side.BUY, OrderType.LIMIT, price=D(95), number=1))
    exchange.submit_order(
        order(
            Side.BUY,
            OrderType.STOP,
            trigger_price=D(104),
            trigger_direction=TriggerDirection.RISING,
            number=2,
        )
    )
    exchange.poll_events()
    exchange.set_price("BTC/USDT", 96)
    assert exchange.poll_events() == []
    exchange.set_price("BTC/USDT", 94)
    limit_fill = [e for e in exchange.poll_events() if isinstance(e, Fill)]
    assert [(f.client_order_id[-1], f.price, f.liquidity.value) for f in limit_fill] == [("1", D(95), "maker")]
    exchange.set_price("BTC/USDT", 105)
    stop_fill = [e for e in exchange.poll_events() if isinstance(e, Fill)]
    assert [(f.client_order_id[-1], f.price) for f in stop_fill] == [("2", D(104))]
    assert exchange.fetch_order(f"{2:032x}", "BTC/USDT").status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert len(exchange.fetch_bars("BTC/USDT", "1m")) == 4
    assert exchange.now == datetime(2024, 1, 1, 0, 3, tzinfo=UTC)


def test_feeding_bars_moves_the_market_and_the_clock(tk_fake_exchange: FakeExchange) -> None:
    bars = make_bars([100, 101, 99, 97], start=datetime(2024, 1, 1, 0, 1, tzinfo=UTC))
    tk_fake_exchange.submit_order(order(Side.BUY, OrderType.LIMIT, price=D(98)))
    tk_fake_exchange.feed(bars)
    assert tk_fake_exchange.price() == D(97)
    assert tk_fake_exchange.now == bars.datetime_at(3)
    assert tk_fake_exchange.fetch_order(f"{1:032x}", "BTC/USDT").status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert np.array_equal(tk_fake_exchange.fetch_bars("BTC/USDT", "1m", limit=4).close, bars.close)


def test_refusals_are_raised_as_the_kernels_errors(tk_fake_exchange: FakeExchange) -> None:
    with pytest.raises(InvalidOrder, match="does not list 'ETH/USDT'"):
        tk_fake_exchange.submit_order(order(Side.BUY, symbol="ETH/USDT"))
    with pytest.raises(InsufficientFunds) as refused:
        tk_fake_exchange.submit_order(order(Side.BUY, OrderType.LIMIT, quantity="1000", price=D(99), number=2))
    assert refused.value.venue_message is not None and refused.value.venue_message.startswith("insufficient USDT")
    with pytest.raises(InvalidOrder, match="tick"):
        tk_fake_exchange.submit_order(order(Side.BUY, OrderType.LIMIT, price=D("99.005"), number=3))
    assert tk_fake_exchange.poll_events() == [], "a refusal raised at once is not reported again as an event"


def test_injected_faults_hit_the_next_matching_call_once(tk_fake_exchange: FakeExchange) -> None:
    exchange = tk_fake_exchange
    exchange.fail_next("poll_events")
    assert exchange.open_orders() == []
    with pytest.raises(ExchangeUnavailable):
        exchange.poll_events()
    assert exchange.poll_events() == []
    exchange.reject_next("price band exceeded")
    with pytest.raises(OrderRejected) as rejected:
        exchange.submit_order(order(Side.BUY))
    assert rejected.value.venue_message == "price band exceeded"
    assert exchange.fetch_order(f"{1:032x}", "BTC/USDT") is None
    assert exchange.calls[-1] == "fetch_order"


def test_a_disconnected_exchange_fails_every_call_until_it_reconnects(tk_fake_exchange: FakeExchange) -> None:
    exchange = tk_fake_exchange
    exchange.submit_order(order(Side.BUY, OrderType.LIMIT, price=D(90)))
    exchange.disconnect()
    with pytest.raises(ExchangeUnavailable, match="disconnected"):
        exchange.open_orders()
    exchange.connect()
    assert [o.client_order_id for o in exchange.open_orders()] == [f"{1:032x}"]


def test_a_lost_reply_is_looked_up_by_the_engines_broker_not_sent_twice(tk_fake_exchange: FakeExchange) -> None:
    tk_fake_exchange.lose_reply_next()
    ExchangeBroker(tk_fake_exchange).submit(order(Side.BUY), NOW, None)
    assert tk_fake_exchange.calls.count("submit_order") == 1
    statuses = [e.status for e in tk_fake_exchange.poll_events() if isinstance(e, OrderUpdate)]
    assert statuses == [OrderStatus.ACCEPTED, OrderStatus.FILLED]


def test_the_same_script_gives_the_same_events() -> None:
    def script() -> list[Any]:
        exchange = FakeExchange(FakeExchangeSettings(price=D(250), lot_size=D("0.01")))
        exchange.submit_order(order(Side.BUY, OrderType.LIMIT, price=D(240)))
        exchange.feed(price_path("range", 60, seed=3, start_price=250.0, start=datetime(2024, 1, 1, 0, 1, tzinfo=UTC)))
        return exchange.poll_events()

    assert script() == script()


# --- bars ----------------------------------------------------------------------------------------------------


def test_make_bars_from_closes_opens_each_bar_at_the_previous_close() -> None:
    bars = make_bars([10, 12, 11], timeframe="1h", symbol="ETH/USDT")
    assert list(bars.open) == [10, 10, 12]
    assert list(bars.high) == [10, 12, 12]
    assert list(bars.low) == [10, 10, 11]
    assert bars.symbol == "ETH/USDT"
    assert int(bars.timestamps[1] - bars.timestamps[0]) == 3_600_000_000_000


def test_make_bars_refuses_a_row_whose_range_misses_its_body() -> None:
    with pytest.raises(ValueError, match="row 1 is not a valid bar"):
        make_bars([(10, 11, 9, 10), (10, 10.5, 9, 11)])


@pytest.mark.parametrize("kind", ["trend", "downtrend", "range", "spike", "crash", "flat", "market"])
def test_price_paths_are_seeded_valid_bars_on_the_tick(kind: str) -> None:
    first, again = price_path(kind, 300, seed=11), price_path(kind, 300, seed=11)
    assert np.array_equal(first.close, again.close)
    assert np.all(first.high >= np.maximum(first.open, first.close))
    assert np.all(first.low <= np.minimum(first.open, first.close))
    assert np.allclose(first.close * 100, np.round(first.close * 100))


def test_price_paths_have_the_shape_they_are_named_for() -> None:
    assert price_path("trend", 500).close[-1] > 130
    assert price_path("downtrend", 500).close[-1] < 75
    ranged = price_path("range", 500).close
    assert ranged.min() > 94 and ranged.max() < 106
    spike = price_path("spike", 500)
    assert spike.high[250] >= 1.09 * spike.close[249] and spike.high[251] < 1.02 * spike.close[249]
    crash = price_path("crash", 500).close
    assert crash[260:].mean() < 0.85 * crash[:240].mean()
    assert set(price_path("flat", 50).close) == {100.0}
    with pytest.raises(ValueError, match="unknown price path kind 'sideways'"):
        price_path("sideways")


def test_mirroring_after_a_bar_alters_only_the_bars_after_it() -> None:
    bars = price_path("trend", 200, seed=5)
    mirrored = mirror_after(bars, 120)
    for column in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(mirrored, column)[:121], getattr(bars, column)[:121])
    assert mirrored.close[-1] < bars.close[120] < bars.close[-1]
    assert np.all(mirrored.high >= np.maximum(mirrored.open, mirrored.close))
    assert np.all(mirrored.low <= np.minimum(mirrored.open, mirrored.close))


def test_the_conformance_market_says_where_its_bars_come_from(monkeypatch: pytest.MonkeyPatch) -> None:
    simulated = conformance_market(("BTC/USDT", "ETH/USDT"), market="simulated", bars=300)
    assert simulated["BTC/USDT"].source == "simulated:seed=7"
    assert np.array_equal(simulated["ETH/USDT"].timestamps, simulated["BTC/USDT"].timestamps)
    monkeypatch.setenv("TRADEKIT_TEST_DATA", "/nonexistent/bars.feather")
    with pytest.raises(FileNotFoundError, match="TRADEKIT_TEST_DATA"):
        conformance_market(("BTC/USDT",))


def test_the_conformance_market_uses_real_bars_when_they_are_found(tk_shared_data: Any) -> None:
    bars = conformance_market(("XBT/USD",), timeframe="1h", bars=500)["XBT/USD"]
    assert bars.source.endswith("binance_BTC_USDT-1h_20170817-20240421.feather")
    assert len(bars) == 500 and bars.symbol == "XBT/USD"


# --- the pytest plugin itself ----------------------------------------------------------------------------------


def test_the_pytest_plugin_imports_nothing_heavy() -> None:
    probe = (
        "import sys, tradekit.testing.pytest_plugin\n"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'plotly', 'pydantic', 'click', 'tradekit.plugin') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --- the fake exchange as a state machine -------------------------------------------------------------------

ACTIONS = st.sampled_from(["limit_buy", "stop_buy", "market_buy", "sell_held", "cancel_oldest", "move"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(ACTIONS, st.integers(min_value=80, max_value=120)), max_size=25))
def test_the_fake_exchanges_events_tell_a_legal_story_that_fetch_order_agrees_with(steps: list[Any]) -> None:
    exchange = FakeExchange()
    known: dict[str, Order] = {}
    for number, (action, level) in enumerate(steps, start=1):
        price = D(level)
        sent: Order | None = None
        if action == "limit_buy":
            sent = order(Side.BUY, OrderType.LIMIT, quantity="1", price=price, number=number)
        elif action == "stop_buy":
            direction = TriggerDirection.RISING if price > exchange.price() else TriggerDirection.FALLING
            sent = order(
                Side.BUY, OrderType.STOP, quantity="1", trigger_price=price, trigger_direction=direction, number=number
            )
        elif action == "market_buy":
            sent = order(Side.BUY, quantity="1", number=number)
        elif action == "sell_held":
            held = exchange.positions().get("BTC/USDT")
            if held is not None and held.quantity > 0:
                sent = order(Side.SELL, quantity=str(held.quantity), number=number)
        elif action == "cancel_oldest":
            resting = exchange.open_orders()
            if resting:
                exchange.cancel_order(resting[0])
        else:
            exchange.set_price("BTC/USDT", price)
        if sent is not None:
            try:
                exchange.submit_order(sent)
                known[sent.client_order_id] = sent.model_copy()
            except OrderRejected:
                pass  # refused at once (not enough cash): the venue never held it open, the engine never tracks it
        for event in exchange.poll_events():
            tracked = known[event.client_order_id]
            # Applied as the engine applies them: any illegal move raises InvalidTransitionError here.
            if isinstance(event, Fill):
                if tracked.status is OrderStatus.NEW:
                    tracked.transition(OrderStatus.ACCEPTED)
                tracked.record_fill(event.quantity, event.price, event.fee)
            elif event.status not in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, tracked.status):
                tracked.transition(event.status)
    for client_order_id, tracked in known.items():
        venue = exchange.fetch_order(client_order_id, "BTC/USDT")
        assert venue is not None
        assert (venue.status, venue.filled_quantity) == (tracked.status, tracked.filled_quantity)
