"""Bad settings are refused before any order is sent, with a message naming the setting and its value."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError
from tradekit_long_wallet import LongWalletSettings

from tradekit.domain.orders import OrderType, TriggerDirection
from tradekit.errors import ConfigError
from tradekit.plugin import Capabilities

D = Decimal
START = [(100, 100, 100, 100)] * 3


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({"unit_size": "0"}, ["unit_size"]),
        ({"unit_size": "-5"}, ["unit_size"]),
        ({"unit_pct": "0"}, ["unit_pct"]),
        ({"position_value": "0"}, ["position_value"]),
        ({"position_value": "-100"}, ["position_value"]),
        ({"window_size": 0}, ["window_size"]),
        ({"unit_size": "5", "unit_pct": "1"}, ["unit_size", "unit_pct", "5", "1"]),
        ({"unit_pct": "30"}, ["unit_pct 30", "window_size 4"]),
        ({"trigger_tolerance": "-1"}, ["trigger_tolerance"]),
    ],
)
def test_sizes_that_make_no_sense_are_refused_by_the_settings_model(settings, names) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as refused:
        LongWalletSettings(**settings)
    for name in names:
        assert name in str(refused.value)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"unit_size": "0.005"}, "unit_size must be at least the tick size 0.01 of BTC/USDT, was 0.005"),
        ({"unit_size": None, "unit_pct": "0.001"}, "unit_pct 0.001 of the price 100.00 of BTC/USDT is 0.001"),
        ({"unit_size": "0.01", "post_only": True}, "at least two ticks (0.02) of BTC/USDT, was 0.01"),
        ({"unit_size": "30"}, "unit_size 30 times window_size 4 reaches the price 100.00"),
        ({"position_value": "200000"}, "position_value 200000 is more than the free cash 100000 USDT"),
        ({"position_value": "0.2"}, "position_value 0.2 buys 0.002 BTC at 100.00"),
        ({"position_value": "1000", "min_notional": "300"}, "notional 240.00000 is below the minimum 300 of BTC/USDT"),
        ({"trigger_tolerance": "0.001", "post_only": False}, "trigger_tolerance must be 0 or at least the tick"),
    ],
)
def test_settings_the_venue_cannot_run_are_refused_before_any_order(backtest, ohlc, options, expected) -> None:  # type: ignore[no-untyped-def]
    settings = {"unit_size": "1", "position_value": "1000", **options}
    with pytest.raises(ConfigError) as refused:
        backtest(ohlc(*START), **settings)
    assert expected in str(refused.value)


def test_nothing_is_sent_when_the_settings_are_refused(backtest, ohlc) -> None:  # type: ignore[no-untyped-def]
    from tradekit_long_wallet import LongWallet

    strategy = LongWallet(LongWalletSettings(unit_size="0.001"))
    with pytest.raises(ConfigError):
        backtest(ohlc(*START), strategy=strategy)
    assert strategy.entry_id is None and not strategy.window


def test_a_venue_without_stop_orders_is_refused(backtest, ohlc) -> None:  # type: ignore[no-untyped-def]
    limits_only = Capabilities(order_types=frozenset({OrderType.MARKET, OrderType.LIMIT}))
    with pytest.raises(ConfigError, match="trigger \\(stop\\) orders"):
        backtest(ohlc(*START), capabilities=limits_only, unit_size="1")


def test_post_only_asked_of_a_venue_without_it_is_refused(backtest, ohlc) -> None:  # type: ignore[no-untyped-def]
    plain = Capabilities(
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP}),
        trigger_directions=frozenset(TriggerDirection),
    )
    with pytest.raises(ConfigError, match="post_only is true but this exchange"):
        backtest(ohlc(*START), capabilities=plain, unit_size="1", post_only=True)


def test_on_a_venue_without_post_only_or_reduce_only_the_orders_go_without_them(backtest, ohlc) -> None:  # type: ignore[no-untyped-def]
    plain = Capabilities(
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP}),
        trigger_directions=frozenset(TriggerDirection),
    )
    rows = [(100, 100, 100, 100), (100, 101.5, 100, 101.5), (101, 101, 99.9, 100.2)]
    result = backtest(ohlc(*rows), capabilities=plain, unit_size="1", position_value="1000")
    assert result.problems == []
    stops = [o for o in result.orders() if o.side.value == "sell"]
    buys = [o for o in result.orders() if o.tag.startswith("long_wallet c1 buy")]
    assert stops and not any(o.reduce_only for o in stops)
    assert buys and all(o.type is OrderType.STOP and not o.post_only for o in buys)


def test_the_command_line_names_the_setting_and_sends_nothing(tradekit) -> None:  # type: ignore[no-untyped-def]
    result = tradekit("backtest", "--strategy", "long_wallet", "-p", "unit_size=0.001", "--no-files")
    assert result.exit_code != 0
    assert "unit_size must be at least the tick size 0.01 of SIM/USDT, was 0.001" in result.stderr
    assert "Traceback" not in result.stderr
    from tradekit.journal import Journal

    with Journal("tradekit-journal.sqlite3") as journal:
        (run,) = journal.list_runs()
        assert journal.orders(run.run_id) == []


def test_a_value_the_model_refuses_is_named_on_the_command_line(tradekit) -> None:  # type: ignore[no-untyped-def]
    result = tradekit("backtest", "--strategy", "long_wallet", "-p", "position_value=-5", "--no-files")
    assert result.exit_code != 0
    assert "position_value" in result.stderr and "-5" in result.stderr
