"""The worked examples of docs/plugins show the code ``tradekit plugin new`` writes, and that code works.

Each page's listings must equal the scaffold's files (excerpts must appear in
them); then the plugin module listed on each page is imported from the page's
own text and put to work.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tradekit.data import simulate_bars
from tradekit.domain import (
    EventKind,
    Fill,
    Instrument,
    NotifierEvent,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    RiskAction,
    Side,
)
from tradekit.domain.run import RiskContext
from tradekit.plugin import BASE_CLASSES, Plugin
from tradekit.registry import Registry
from tradekit.scaffold import PluginName
from tradekit.scaffold.listings import Listing, listings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins"
PAGES = {
    "strategy": "dip_buyer",
    "risk": "position_cap",
    "notifier": "line_log",
    "exchange": "acme",
    "model": "ridge_returns",
}


def page_listings(kind: str) -> list[Listing]:
    return listings((DOCS / f"{kind}.md").read_text(encoding="utf-8"))


@pytest.fixture
def plugin_module(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ModuleType]:
    """The plugin module listed on the page of the kind given as the test's parameter, imported from the page."""
    kind = request.param
    name = PluginName.parse(PAGES[kind], kind)
    listing = next(item for item in page_listings(kind) if item.path.endswith(f"/{name.module}.py"))
    path = tmp_path / f"{name.package}_{name.module}.py"
    path.write_text(listing.code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"_worked_example_{name.package}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        plugin_class = getattr(module, name.class_name)
        assert issubclass(plugin_class, BASE_CLASSES[kind])
        yield module
    finally:
        del sys.modules[spec.name]


@pytest.mark.parametrize("kind", list(PAGES))
def test_each_page_lists_the_plugin_its_conformance_test_and_its_entry_point(kind: str) -> None:
    found = page_listings(kind)
    name = PluginName.parse(PAGES[kind], kind)

    assert {(item.mode, item.path) for item in found} == {
        ("listing", f"src/{name.package}/{name.module}.py"),
        ("listing", "tests/test_conformance.py"),
        ("excerpt", "pyproject.toml"),
    }
    assert all(item.name == PAGES[kind] and item.kind == kind for item in found)


@pytest.mark.parametrize("kind", list(PAGES))
def test_each_listing_is_what_the_scaffold_writes(kind: str) -> None:
    problems = [problem for item in page_listings(kind) if (problem := item.problem()) is not None]

    assert not problems, (
        f"docs/plugins/{kind}.md: {'; '.join(problems)}. "
        f"Refresh it with: python -m tradekit.scaffold.listings --write docs/plugins/{kind}.md"
    )


def test_a_drifted_listing_is_reported_by_page_and_file() -> None:
    page = (DOCS / "risk.md").read_text(encoding="utf-8").replace("fails closed", "fails open", 1)

    problems = [problem for item in listings(page) if (problem := item.problem()) is not None]

    assert problems == [
        "the listing of src/tradekit_position_cap/risk.py (position_cap, risk) differs from what the scaffold writes"
    ]


def test_a_listing_ruff_format_could_rewrite_is_reported() -> None:
    page = (DOCS / "model.md").read_text(encoding="utf-8").replace("<!-- fmt: off -->\n", "", 1)

    problems = [problem for item in listings(page) if (problem := item.problem()) is not None]

    assert problems == [
        "the listing of src/tradekit_ridge_returns/model.py is not preceded by <!-- fmt: off -->: "
        "ruff format would rewrite it"
    ]


class _Registry(Registry):
    """The installed plugins, plus one strategy class under the name ``dip_buyer``."""

    def __init__(self, strategy: type[Plugin]) -> None:
        super().__init__(strict=False)
        self.strategy = strategy

    def load_class(self, kind: str, name: str) -> type[Plugin]:
        return self.strategy if (kind, name) == ("strategy", "dip_buyer") else super().load_class(kind, name)


@pytest.mark.parametrize("plugin_module", ["strategy"], indirect=True)
def test_the_strategy_example_trades_in_a_backtest(plugin_module: ModuleType, tmp_path: Path) -> None:
    from tradekit.session import run_backtest
    from tradekit.settings import load_settings

    settings = load_settings(
        None,
        {
            "strategy": "dip_buyer",
            "journal": tmp_path / "journal.sqlite3",
            "plugins": {"strategy": {"dip_buyer": {"lookback": 24, "dip_pct": 1.0}}},
        },
    )
    data = {"BTC/USDT": simulate_bars(seed=11, bars=2000, timeframe="1h", symbol="BTC/USDT")}

    result = run_backtest(settings, _Registry(plugin_module.DipBuyerStrategy), origin="test", data=data)

    assert result.stats.trades > 0
    assert result.engine_stats.rejected == 0


@pytest.mark.parametrize("plugin_module", ["risk"], indirect=True)
def test_the_risk_example_shrinks_an_order_to_its_cap(plugin_module: ModuleType) -> None:
    rule = plugin_module.PositionCapRule(plugin_module.PositionCapRuleSettings(max_position_value=Decimal(500)))
    context = RiskContext(
        timestamp=datetime(2024, 1, 1, tzinfo=UTC),
        equity=Decimal(10_000),
        quote_currency="USDT",
        cash={"USDT": Decimal(10_000)},
        positions={"ETH/USDT": Position(symbol="ETH/USDT", quantity=Decimal("0.1"))},
        open_orders=(),
        prices={"ETH/USDT": Decimal(2000)},
        instruments={
            "ETH/USDT": Instrument(
                symbol="ETH/USDT", base="ETH", quote="USDT", tick_size=Decimal("0.01"), lot_size=Decimal("0.01")
            )
        },
    )

    verdict = rule.tradekit_risk_check(OrderIntent(symbol="ETH/USDT", side=Side.BUY, quantity=Decimal(1)), context)

    assert verdict.action is RiskAction.RESIZE
    assert verdict.quantity == Decimal("0.15")  # 500 / 2000 = 0.25, less the 0.1 held


@pytest.mark.parametrize("plugin_module", ["notifier"], indirect=True)
def test_the_notifier_example_writes_the_events_it_is_asked_for(plugin_module: ModuleType, tmp_path: Path) -> None:
    log = tmp_path / "trading.log"
    settings = plugin_module.LineLogNotifierSettings(path=str(log), events=("order_filled",))
    notifier = plugin_module.LineLogNotifier(settings, name="line_log")

    notifier.tradekit_notify(NotifierEvent(kind=EventKind.ORDER_FILLED, message="filled buy 1 ETH/USDT at 2000"))
    notifier.tradekit_notify(NotifierEvent(kind=EventKind.RUN_STARTED, message="started"))
    notifier.close()

    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and lines[0].endswith("INFO order_filled: filled buy 1 ETH/USDT at 2000")


@pytest.mark.parametrize("plugin_module", ["exchange"], indirect=True)
def test_the_exchange_example_fills_a_market_order_and_rests_a_limit(plugin_module: ModuleType) -> None:
    exchange: Any = plugin_module.AcmeExchange(plugin_module.AcmeExchangeSettings(), name="acme")
    exchange.connect()
    price = exchange.latest_price("BTC/USDT")

    def order(client_order_id: str, kind: OrderType, limit: Decimal | None = None) -> Order:
        return Order(
            client_order_id=client_order_id,
            symbol="BTC/USDT",
            side=Side.BUY,
            type=kind,
            quantity=Decimal("0.1"),
            price=limit,
        )

    exchange.submit_order(order("m-1", OrderType.MARKET))
    exchange.submit_order(order("l-1", OrderType.LIMIT, Decimal("100.00")))
    events = exchange.poll_events()

    fills = [event for event in events if isinstance(event, Fill)]
    assert [(fill.client_order_id, fill.price) for fill in fills] == [("m-1", price)]
    updates = [(event.client_order_id, event.status) for event in events if isinstance(event, OrderUpdate)]
    assert ("m-1", OrderStatus.ACCEPTED) in updates
    assert [status for client_order_id, status in updates if client_order_id == "l-1"] == [OrderStatus.ACCEPTED]
    assert [resting.client_order_id for resting in exchange.open_orders("BTC/USDT")] == ["l-1"]
    assert exchange.balances()["BTC"].total == Decimal("0.1")
    exchange.close()


@pytest.mark.parametrize("plugin_module", ["model"], indirect=True)
def test_the_model_example_fits_predicts_saves_and_loads(plugin_module: ModuleType, tmp_path: Path) -> None:
    bars = simulate_bars(seed=5, bars=1500, timeframe="1h")
    model = plugin_module.RidgeReturnsModel(plugin_module.RidgeReturnsModelSettings(lags=8), name="ridge_returns")

    metrics = model.fit(bars, horizon=3)
    model.save(tmp_path / "model.npz")
    loaded = plugin_module.RidgeReturnsModel.load(tmp_path / "model.npz")

    assert metrics["samples"] == 1500 - 8 - 3
    predictions = loaded.predict(bars)
    assert predictions.shape == (1500,) and np.isnan(predictions[:8]).all() and np.isfinite(predictions[8:]).all()
    np.testing.assert_array_equal(predictions, model.predict(bars))
    assert loaded.metadata["horizon"] == 3 and loaded.name == "ridge_returns"
