"""``exposure_limits``: position, total and leverage caps (shrink to fit or reject), resting orders, minimum sizes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from tradekit_risk.exposure_limits import ExposureLimits, ExposureLimitsSettings

from tradekit.domain.events import RiskAction
from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import Order, OrderIntent, OrderStatus, OrderType, Side
from tradekit.domain.portfolio import Position
from tradekit.domain.run import RiskContext

D = Decimal
NOW = datetime(2024, 8, 5, tzinfo=UTC)


def instrument(symbol: str) -> Instrument:
    return Instrument(symbol=symbol, base=symbol.split("/")[0], quote="USDT", tick_size=D("0.01"), lot_size=D("0.001"))


def resting(symbol: str, side: Side, quantity: str, price: str, *, reduce_only: bool = False) -> Order:
    order = Order.from_intent(
        OrderIntent(
            symbol=symbol,
            side=side,
            quantity=D(quantity),
            type=OrderType.LIMIT,
            price=D(price),
            reduce_only=reduce_only,
        ),
        f"id-{symbol}-{side}-{quantity}-{price}",
        created_at=NOW,
    )
    order.transition(OrderStatus.ACCEPTED, at=NOW)
    return order


def context(
    held: dict[str, str] | None = None,
    *,
    equity: str = "10000",
    orders: tuple[Order, ...] = (),
    prices: dict[str, str] | None = None,
) -> RiskContext:
    prices = prices or {"BTC/USDT": "100", "ETH/USDT": "10"}
    return RiskContext(
        timestamp=NOW,
        equity=D(equity),
        quote_currency="USDT",
        cash={"USDT": D(equity)},
        positions={s: Position(symbol=s, quantity=D(q), average_price=D(prices[s])) for s, q in (held or {}).items()},
        open_orders=orders,
        prices={s: D(p) for s, p in prices.items()},
        instruments={s: instrument(s) for s in prices},
    )


def limits(**settings: Any) -> ExposureLimits:
    return ExposureLimits(ExposureLimitsSettings(**settings))


def buy(quantity: str, symbol: str = "BTC/USDT", **extra: Any) -> OrderIntent:
    return OrderIntent(symbol=symbol, side=Side.BUY, quantity=D(quantity), **extra)


def test_an_entry_over_the_position_limit_is_shrunk_to_fit() -> None:
    verdict = limits(max_position_notional="2000").check(buy("30"), context({"BTC/USDT": "5"}))
    assert verdict.action is RiskAction.RESIZE and verdict.quantity == D("15.000")
    assert "would go over the position limit 2,000.00 of BTC/USDT; resized to 15.000" in verdict.reason


def test_without_resizing_it_is_rejected_naming_the_limit() -> None:
    verdict = limits(max_position_notional="2000", resize=False).check(buy("30"), context({"BTC/USDT": "5"}))
    assert verdict.action is RiskAction.REJECT and "the position limit 2,000.00 of BTC/USDT" in verdict.reason


def test_a_per_symbol_override_wins_over_the_general_limit() -> None:
    rule = limits(max_position_notional="2000", max_position_notional_by_symbol={"BTC/USDT": "500"})
    verdict = rule.check(buy("10"), context())
    assert verdict.action is RiskAction.RESIZE and verdict.quantity == D("5.000")


def test_same_side_resting_orders_count_as_if_they_had_filled() -> None:
    pending = (resting("BTC/USDT", Side.BUY, "10", "95"),)
    verdict = limits(max_position_notional="2000").check(buy("15"), context(orders=pending))
    assert verdict.action is RiskAction.RESIZE and verdict.quantity == D("10.000")


def test_the_total_and_the_leverage_caps_count_the_other_positions() -> None:
    held = {"ETH/USDT": "300"}  # 3,000 of ETH
    total = limits(max_total_notional="5000").check(buy("50"), context(held))
    assert total.action is RiskAction.RESIZE and total.quantity == D("20.000")
    leverage = limits(max_leverage="0.5").check(buy("50"), context(held))
    assert leverage.action is RiskAction.RESIZE and leverage.quantity == D("20.000")
    assert "max_leverage 0.5 x equity 10,000.00 = 5,000.00 (other positions 3,000.00)" in leverage.reason


def test_too_many_resting_orders_refuse_another_resting_entry_but_not_a_market_one_or_an_exit() -> None:
    orders = (resting("BTC/USDT", Side.BUY, "1", "90"), resting("BTC/USDT", Side.SELL, "1", "120", reduce_only=True))
    rule = limits(max_open_orders=1)
    limit_buy = buy("1", type=OrderType.LIMIT, price=D(95))
    assert rule.check(limit_buy, context({"BTC/USDT": "1"}, orders=orders)).action is RiskAction.REJECT
    assert rule.check(buy("1"), context({"BTC/USDT": "1"}, orders=orders)).action is RiskAction.ACCEPT
    exit_order = OrderIntent(
        symbol="BTC/USDT", side=Side.SELL, quantity=D(1), type=OrderType.LIMIT, price=D(130), reduce_only=True
    )
    assert rule.check(exit_order, context({"BTC/USDT": "1"}, orders=orders)).action is RiskAction.ACCEPT


def test_orders_below_the_minimum_size_are_refused_and_a_resize_below_it_too() -> None:
    rule = limits(min_order_notional="50", max_position_notional="1030")
    small = rule.check(buy("0.4"), context())
    assert small.action is RiskAction.REJECT and "order value 40.00 is below min_order_notional 50.00" in small.reason
    squeezed = rule.check(buy("5"), context({"BTC/USDT": "10"}))
    assert squeezed.action is RiskAction.REJECT and "what fits (0.300) cannot be sent" in squeezed.reason


def test_exits_are_never_limited() -> None:
    rule = limits(max_position_notional="10", min_order_quantity="100", max_leverage="0.0001")
    sell = OrderIntent(symbol="BTC/USDT", side=Side.SELL, quantity=D(50), reduce_only=False)
    assert rule.check(sell, context({"BTC/USDT": "50"})).action is RiskAction.ACCEPT


@given(
    limit=st.decimals(D("10"), D("100000"), places=2),
    held=st.decimals(D("-500"), D("500"), places=3),
    asked=st.decimals(D("0.001"), D("1000"), places=3),
    side=st.sampled_from([Side.BUY, Side.SELL]),
)
def test_whatever_passes_keeps_the_position_within_the_limit_or_only_shrinks_it(
    limit: Decimal, held: Decimal, asked: Decimal, side: Side
) -> None:
    verdict = limits(max_position_notional=limit).check(
        OrderIntent(symbol="BTC/USDT", side=side, quantity=asked), context({"BTC/USDT": str(held)})
    )
    if verdict.action is RiskAction.REJECT:
        return
    sent = asked if verdict.action is RiskAction.ACCEPT else verdict.quantity
    assert sent is not None and 0 < sent <= asked
    after = held + side.sign * sent
    assert abs(after) * 100 <= limit or abs(after) < abs(held), f"{held} -> {after} with limit {limit}"


def test_in_the_engine_a_rejected_entry_never_reaches_the_venue(kit: Any) -> None:
    data = kit.bars([100.0] * 10)
    run = kit.run(data, {2: [kit.buy("1")], 3: [kit.buy("9")]}, [limits(max_position_notional="150", resize=False)])
    assert [o.quantity for o in run.broker.submitted] == [D("1")]
    assert run.strategy.returned[3] == [None] and run.venue.ledger.quantity("BTC/USDT") == D(1)
