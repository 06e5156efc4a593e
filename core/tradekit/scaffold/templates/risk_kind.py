"""The template of a risk plugin: a cap on the value of the position an order leaves."""

from __future__ import annotations

from tradekit.scaffold.templates import KindTemplate

SOURCE = '''\
"""``${name}``: a tradekit risk rule.

It works as generated: it caps the value of the position in one symbol that
an order may leave behind, long or short. An order that would go past the cap
is shrunk to what fits (or rejected, with ``resize = false``); an order that
only reduces a position always passes, so a rule can never trap you in a trade.
Change :meth:`${class_name}.check` to your own limit; ``tests/test_conformance.py``
checks that it still keeps the rules every risk rule keeps.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from tradekit.domain import OrderIntent, RiskVerdict
from tradekit.domain.run import RiskContext
from tradekit.plugin import PluginSettings, RiskRule


class ${class_name}Settings(PluginSettings):
    """Settings of ``${name}``: the ``[plugins.risk.${name}]`` table of tradekit.toml."""

    max_position_value: Decimal = Field(
        default=Decimal(10_000),
        gt=0,
        description="Largest value, in the quote currency, of the position in one symbol an order may leave.",
    )
    resize: bool = Field(
        default=True, description="Shrink an order that would pass the cap to what fits; false rejects it."
    )


class ${class_name}(RiskRule):
    """Caps the value of each symbol's position at ``max_position_value``.

    The value is the position after the order (held plus the order, signed)
    times the order's price: its limit price, else its trigger price, else the
    symbol's latest price. With no price to value it by, the order is rejected:
    a risk rule that cannot tell fails closed.
    """

    Settings = ${class_name}Settings
    settings: ${class_name}Settings

    def check(self, intent: OrderIntent, context: RiskContext) -> RiskVerdict | None:
        """Accept, shrink or reject ``intent`` so the position it leaves stays within the cap."""
        position = context.positions.get(intent.symbol)
        held = position.quantity if position is not None else Decimal(0)
        after = held + intent.quantity * intent.side.sign
        if abs(after) <= abs(held) and after * held >= 0:
            return RiskVerdict.accept(self.name)  # it only reduces the position
        price = intent.price or intent.trigger_price or context.prices.get(intent.symbol)
        if price is None:
            return RiskVerdict.reject(
                self.name, f"no price for {intent.symbol} to value the order by; it is blocked"
            )
        limit = self.settings.max_position_value
        if abs(after) * price <= limit:
            return RiskVerdict.accept(self.name)
        reason = (
            f"{intent.side.value} {intent.quantity} {intent.symbol} at {price} would leave a position worth "
            f"{abs(after) * price} {context.quote_currency}, above max_position_value {limit}"
        )
        # The largest quantity in the order's direction that keeps |held + side * q| * price within the cap.
        fits = limit / price - held * intent.side.sign
        instrument = context.instruments.get(intent.symbol)
        if instrument is not None:
            fits = instrument.round_quantity(fits)
        if self.settings.resize and fits > 0:
            return RiskVerdict.resize(self.name, fits, f"{reason}; resized to {fits}")
        return RiskVerdict.reject(self.name, reason)
'''

BEHAVIOUR_TEST = '''\
"""What ``${name}`` decides about orders, and that tradekit finds it by its entry point."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from tradekit.domain import Instrument, OrderIntent, OrderType, Position, RiskAction, Side
from tradekit.domain.run import RiskContext
from tradekit.registry import Registry

from ${package}.risk import ${class_name}, ${class_name}Settings

SYMBOL = "BTC/USDT"


def context(held: str = "0", price: str = "100") -> RiskContext:
    """An account holding ``held`` of BTC/USDT, whose latest price is ``price``."""
    positions = {SYMBOL: Position(symbol=SYMBOL, quantity=Decimal(held))} if Decimal(held) else {}
    return RiskContext(
        timestamp=datetime(2024, 1, 1, tzinfo=UTC),
        equity=Decimal(100_000),
        quote_currency="USDT",
        cash={"USDT": Decimal(100_000)},
        positions=positions,
        open_orders=(),
        prices={SYMBOL: Decimal(price)},
        instruments={
            SYMBOL: Instrument(
                symbol=SYMBOL, base="BTC", quote="USDT", tick_size=Decimal("0.01"), lot_size=Decimal("0.001")
            )
        },
    )


def order(side: Side, quantity: str, price: str | None = None) -> OrderIntent:
    if price is None:
        return OrderIntent(symbol=SYMBOL, side=side, quantity=Decimal(quantity))
    return OrderIntent(
        symbol=SYMBOL, side=side, quantity=Decimal(quantity), type=OrderType.LIMIT, price=Decimal(price)
    )


def rule(**settings: object) -> ${class_name}:
    return ${class_name}(${class_name}Settings.model_validate({"max_position_value": "1000", **settings}))


def test_accepts_an_order_that_stays_within_the_cap() -> None:
    verdict = rule().check(order(Side.BUY, "9"), context(price="100"))

    assert verdict is not None and verdict.action is RiskAction.ACCEPT


def test_shrinks_an_order_to_what_fits_under_the_cap() -> None:
    # Holding 4 at 100 (400); the cap of 1000 leaves room for 6 more.
    verdict = rule().check(order(Side.BUY, "10"), context(held="4", price="100"))

    assert verdict is not None and verdict.action is RiskAction.RESIZE
    assert verdict.quantity == Decimal("6")
    assert "max_position_value 1000" in verdict.reason


def test_values_a_limit_order_at_its_own_price() -> None:
    verdict = rule().check(order(Side.BUY, "10", price="150"), context(price="100"))

    assert verdict is not None and verdict.quantity == Decimal("6.666")  # 1000 / 150, down to the lot


def test_rejects_instead_of_shrinking_when_resize_is_off() -> None:
    verdict = rule(resize=False).check(order(Side.BUY, "11"), context(price="100"))

    assert verdict is not None and verdict.action is RiskAction.REJECT
    assert "worth 1100 USDT, above max_position_value 1000" in verdict.reason


def test_caps_a_short_the_same_way() -> None:
    # Holding 2 long; selling 20 would leave 18 short (1800): at most 12 may be sold (10 short).
    verdict = rule().check(order(Side.SELL, "20"), context(held="2", price="100"))

    assert verdict is not None and verdict.quantity == Decimal("12")


def test_always_lets_a_position_be_reduced_even_above_the_cap() -> None:
    verdict = rule().check(order(Side.SELL, "5"), context(held="50", price="100"))

    assert verdict is not None and verdict.action is RiskAction.ACCEPT


def test_settings_refuse_a_cap_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="max_position_value"):
        ${class_name}Settings.model_validate({"max_position_value": "0"})


def test_the_entry_point_finds_this_class() -> None:
    # Needs the distribution installed: python -m pip install -e ".[test]"
    assert Registry().load_class("risk", "${name}") is ${class_name}
'''

TEMPLATE = KindTemplate(
    kind="risk",
    suite="RiskRuleConformance",
    summary="A tradekit risk rule that caps the value of the position an order leaves in one symbol.",
    source=SOURCE,
    behaviour_test=BEHAVIOUR_TEST,
    conformance_settings='{"max_position_value": "5000"}',
    settings_rows=(
        ("max_position_value", "10000", "Largest value, in the quote currency, of one symbol's position."),
        ("resize", "true", "Shrink an order that would pass the cap to what fits; false rejects it."),
    ),
    dependencies=("pydantic>=2.7",),
    usage="""\
Risk rules run only when your config names them, in the order named. Every rule judges every order;
any rejection blocks it and the smallest resize wins. In `tradekit.toml`:

```toml
risk = ["${name}"]

[plugins.risk.${name}]
max_position_value = 2500
```

Then every backtest and run uses it:

```
tradekit backtest --strategy sma_cross
```""",
    try_command="TRADEKIT_RISK=${name} tradekit backtest --strategy sma_cross",
)
