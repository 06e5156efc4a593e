"""``position_sizing``: the arithmetic (hypothesis), and the rule resizing intents in the engine."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tradekit_risk.position_sizing import PositionSizing, PositionSizingSettings
from tradekit_risk.sizing import (
    average_true_range,
    capped_kelly,
    kelly_fraction,
    quantity_for_notional,
    volatility_target_quantity,
    win_rate_and_payoff,
)

from tradekit.domain.events import RiskAction
from tradekit.domain.orders import Fill, OrderIntent, Side
from tradekit.domain.portfolio import Position
from tradekit.domain.run import RiskContext
from tradekit.money import MONEY_CONTEXT

D = Decimal
money = st.decimals(min_value=D("0.01"), max_value=D("10000000"), places=2)
prices = st.decimals(min_value=D("0.0001"), max_value=D("1000000"), places=4)
lots = st.sampled_from([D("1"), D("0.1"), D("0.001"), D("0.00001"), D("0.00000001")])
fractions = st.decimals(min_value=D("0.0001"), max_value=D("1"), places=4)


@given(notional=money, price=prices, lot=lots)
def test_a_notional_buys_the_most_whole_lots_it_can_pay_for_and_never_more(
    notional: Decimal, price: Decimal, lot: Decimal
) -> None:
    quantity = quantity_for_notional(notional, price, lot)
    assert quantity >= 0 and quantity % lot == 0
    assert quantity * price <= notional
    assert (quantity + lot) * price > notional, "one more lot would still have fitted"


@given(equity=money, risk=fractions, atr=prices, multiple=st.decimals(D("0.5"), D("5"), places=2), lot=lots)
def test_a_volatility_target_loses_at_most_its_share_of_equity_over_the_adverse_move(
    equity: Decimal, risk: Decimal, atr: Decimal, multiple: Decimal, lot: Decimal
) -> None:
    quantity = volatility_target_quantity(equity, risk, atr, multiple, lot)
    loss = quantity * atr * multiple
    assert quantity % lot == 0
    assert loss <= equity * risk
    assert (quantity + lot) * atr * multiple > equity * risk


@given(
    win_rate=st.decimals(D("0.01"), D("0.99"), places=2),
    payoff=st.decimals(D("0.1"), D("10"), places=2),
    scale=st.decimals(D("0.1"), D("1"), places=2),
    cap=st.decimals(D("0.01"), D("1"), places=2),
)
def test_capped_kelly_is_scaled_kelly_never_above_the_cap_and_grows_with_the_win_rate(
    win_rate: Decimal, payoff: Decimal, scale: Decimal, cap: Decimal
) -> None:
    fraction = capped_kelly(win_rate, payoff, scale, cap)
    assert fraction <= cap
    assert fraction == min(MONEY_CONTEXT.multiply(kelly_fraction(win_rate, payoff), scale), cap)
    better = capped_kelly(min(win_rate + D("0.01"), D("1")), payoff, scale, cap)
    assert better >= fraction


def test_kelly_of_a_known_bet() -> None:
    # p = 0.6, b = 1: Kelly bets 20% of equity; no loss seen: bet the win rate.
    assert kelly_fraction(D("0.6"), D(1)) == D("0.2")
    assert kelly_fraction(D("0.6"), None) == D("0.6")
    assert win_rate_and_payoff([D(2), D(-1), D(4), D(-1)]) == (D("0.5"), D(3))


def test_the_average_true_range_uses_gaps_from_the_previous_close() -> None:
    high = np.array([10.0, 12.0, 11.0])
    low = np.array([9.0, 11.0, 10.0])
    close = np.array([9.5, 11.5, 10.5])
    # Bar 1: high 12 - previous close 9.5 = 2.5; bar 2: 11 - 10 = 1 vs |10 - 11.5| = 1.5.
    assert average_true_range(high, low, close, 2) == pytest.approx(2.0)
    assert average_true_range(high, low, close, 3) is None


# --- the rule ------------------------------------------------------------------------------------


def context(kit: Any, *, equity: str = "10000", held: str = "0", price: str = "100") -> RiskContext:
    return RiskContext(
        timestamp=datetime(2024, 8, 5, tzinfo=UTC),
        equity=D(equity),
        quote_currency="USDT",
        cash={"USDT": D(equity)},
        positions={"BTC/USDT": Position(symbol="BTC/USDT", quantity=D(held), average_price=D(price))},
        open_orders=(),
        prices={"BTC/USDT": D(price)},
        instruments={"BTC/USDT": kit.instrument()},
    )


def sizing(**settings: Any) -> PositionSizing:
    return PositionSizing(PositionSizingSettings(**settings))


def test_fixed_fraction_resizes_an_entry_to_its_share_of_equity(kit: Any) -> None:
    verdict = sizing(method="fixed_fraction", fraction="0.25").check(kit.buy("100"), context(kit))
    assert verdict.action is RiskAction.RESIZE and verdict.quantity == D("25.000")
    assert "fixed_fraction 0.25 of equity 10,000.00 = 2,500.00 at 100 = 25.000" in verdict.reason


def test_an_entry_smaller_than_the_size_is_left_alone_a_rule_never_grows_an_order(kit: Any) -> None:
    verdict = sizing(method="fixed_notional", notional="5000").check(kit.buy("3"), context(kit))
    assert verdict.action is RiskAction.ACCEPT


def test_an_addition_gets_only_what_the_position_lacks(kit: Any) -> None:
    verdict = sizing(method="fixed_quantity", quantity="5").check(kit.buy("4"), context(kit, held="3"))
    assert verdict.action is RiskAction.RESIZE and verdict.quantity == D("2.000")
    full = sizing(method="fixed_quantity", quantity="5").check(kit.buy("1"), context(kit, held="5"))
    assert full.action is RiskAction.REJECT and "nothing is left to add" in full.reason


def test_exits_are_never_resized(kit: Any) -> None:
    rule = sizing(method="fixed_quantity", quantity="0.1")
    assert rule.check(kit.sell("3"), context(kit, held="3")).action is RiskAction.ACCEPT
    assert rule.check(kit.sell("9", reduce_only=True), context(kit, held="3")).action is RiskAction.ACCEPT


def test_every_method_is_capped_at_the_equity_fraction(kit: Any) -> None:
    verdict = sizing(method="fixed_quantity", quantity="500", max_equity_fraction="1").check(
        kit.buy("500"), context(kit)
    )
    assert verdict.action is RiskAction.RESIZE and verdict.quantity == D("100.000")
    assert "capped at 1 of equity" in verdict.reason


def test_a_size_below_the_venue_minimum_is_rejected_with_the_numbers(kit: Any) -> None:
    verdict = sizing(method="fixed_notional", notional="0.05").check(kit.buy("1"), context(kit))
    assert verdict.action is RiskAction.REJECT
    assert "sized to 0.000" in verdict.reason


def test_volatility_target_sizes_from_the_run_s_bars(kit: Any) -> None:
    # Every bar ranges 2 around a flat 100: ATR 2; 1% of 10,000 over 2 ATRs = 100 / 4 = 25.
    closes = [100.0] * 40
    data = kit.bars(closes, high=[101.0] * 40, low=[99.0] * 40)
    rule = sizing(method="volatility_target", risk_fraction="0.01", atr_period=14, atr_multiple=2)
    run = kit.run(data, {20: [kit.buy("80")], 5: [kit.buy("1")]}, [rule])

    assert run.strategy.returned[5] == [None], "14 bars of ATR need 15 bars"
    assert [o.quantity for o in run.broker.submitted] == [D("25.000")]


def test_kelly_uses_the_prior_then_the_run_s_own_trades(kit: Any) -> None:
    rule = sizing(
        method="kelly", kelly_scale="1", kelly_cap="0.5", kelly_min_trades=2, kelly_win_rate="0.6", kelly_payoff="1"
    )
    first = rule.check(kit.buy("1000"), context(kit))
    assert first.action is RiskAction.RESIZE and first.quantity == D("20.000"), "20% of 10,000 at 100"
    assert "from the prior" in first.reason
    moment = datetime(2024, 8, 5, tzinfo=UTC)
    realized = D(0)  # the ledger's realized profit is cumulative over the run
    for _ in range(2):  # two losing round trips, bought at 100 and sold at 90: no edge left
        rule.tradekit_fill(
            Fill(
                fill_id="a",
                client_order_id="a",
                symbol="BTC/USDT",
                side=Side.BUY,
                quantity=D(1),
                price=D(100),
                timestamp=moment,
            ),
            Position(symbol="BTC/USDT", quantity=D(1), average_price=D(100), realized_pnl=realized),
        )
        realized -= 10
        rule.tradekit_fill(
            Fill(
                fill_id="b",
                client_order_id="b",
                symbol="BTC/USDT",
                side=Side.SELL,
                quantity=D(1),
                price=D(90),
                timestamp=moment,
            ),
            Position(symbol="BTC/USDT", quantity=D(0), realized_pnl=realized),
        )
    second = rule.check(kit.buy("1000"), context(kit))
    assert second.action is RiskAction.REJECT and "kelly: no edge (win rate 0.0%" in second.reason


def test_a_method_without_its_setting_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="fixed_quantity needs `quantity`"):
        PositionSizingSettings(method="fixed_quantity")


@given(
    fraction=st.decimals(D("0.01"), D("1"), places=2),
    held=st.decimals(D("0"), D("200"), places=3),
    asked=st.decimals(D("0.001"), D("500"), places=3),
)
def test_a_resize_never_grows_the_order_and_never_leaves_a_position_above_the_target(
    fraction: Decimal, held: Decimal, asked: Decimal
) -> None:
    from tradekit.domain.instruments import Instrument

    instrument = Instrument(symbol="BTC/USDT", base="BTC", quote="USDT", tick_size=D("0.01"), lot_size=D("0.001"))
    ctx = RiskContext(
        timestamp=datetime(2024, 8, 5, tzinfo=UTC),
        equity=D(10_000),
        quote_currency="USDT",
        cash={"USDT": D(10_000)},
        positions={"BTC/USDT": Position(symbol="BTC/USDT", quantity=held)},
        open_orders=(),
        prices={"BTC/USDT": D(100)},
        instruments={"BTC/USDT": instrument},
    )
    verdict = PositionSizing(PositionSizingSettings(method="fixed_fraction", fraction=fraction)).check(
        OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity=asked), ctx
    )
    target = D(10_000) * fraction / 100
    if verdict.action is RiskAction.RESIZE:
        assert verdict.quantity is not None and 0 < verdict.quantity < asked
        assert held + verdict.quantity <= target
    elif verdict.action is RiskAction.ACCEPT:
        assert held + asked <= target
    else:
        assert held + D("0.001") > target or "cannot be sent" in verdict.reason
