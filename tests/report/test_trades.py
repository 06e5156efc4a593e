"""Round trips rebuilt from fills, and the trades CSV file."""

from __future__ import annotations

import decimal
import itertools
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tradekit.domain import Fill, Instrument, Ledger, Side
from tradekit.money import MONEY_CONTEXT
from tradekit.report import Trade, read_trades_csv, trades_from_executions, trades_from_fills, write_trades_csv
from tradekit.report.trades import TRADE_COLUMNS, Execution

T0 = datetime(2024, 1, 1, tzinfo=UTC)
_ids = itertools.count()


def fill(side: str, quantity: str, price: str, minute: int, fee: str = "0", symbol: str = "BTC/USDT") -> Fill:
    return Fill(
        fill_id=f"fill-{next(_ids)}",
        client_order_id=f"order-{minute}",
        symbol=symbol,
        side=Side(side),
        quantity=Decimal(quantity),
        price=Decimal(price),
        fee=Decimal(fee),
        timestamp=T0 + timedelta(minutes=minute),
    )


def exact_div(numerator: Decimal, denominator: Decimal) -> Decimal:
    return MONEY_CONTEXT.divide(numerator, denominator)


def test_a_long_round_trip_books_price_profit_minus_both_fees() -> None:
    [trade] = trades_from_fills([fill("buy", "1", "100", 0, fee="0.10"), fill("sell", "1", "110", 5, fee="0.11")])
    assert trade.symbol == "BTC/USDT"
    assert trade.direction == "long"
    assert (trade.entry_time, trade.exit_time) == (T0, T0 + timedelta(minutes=5))
    assert (trade.entry_price, trade.exit_price, trade.quantity) == (Decimal(100), Decimal(110), Decimal(1))
    assert trade.fees == Decimal("0.21")
    assert trade.pnl == Decimal("9.79")
    assert trade.return_pct == pytest.approx(9.79)
    assert (trade.entry_fills, trade.exit_fills) == (1, 1)
    assert not trade.is_open


def test_a_short_round_trip_profits_when_the_price_falls() -> None:
    [trade] = trades_from_fills([fill("sell", "2", "50", 0), fill("buy", "2", "45", 1)])
    assert trade.direction == "short"
    assert trade.pnl == Decimal(10)
    assert trade.return_pct == pytest.approx(10.0)


def test_partial_entries_and_exits_give_exact_average_prices_and_profit() -> None:
    trades = trades_from_fills(
        [
            fill("buy", "1", "100", 0, fee="0.01"),
            fill("buy", "2", "103", 1, fee="0.02"),
            fill("sell", "1", "105", 2, fee="0.03"),
            fill("sell", "0.5", "107", 3, fee="0.04"),
            fill("sell", "1.5", "101", 4, fee="0.05"),
        ]
    )
    [trade] = trades
    # Entries: 100 + 206 = 306 for 3 units; exits: 105 + 53.5 + 151.5 = 310.
    assert trade.entry_price == Decimal(102)
    assert trade.exit_price == exact_div(Decimal(310), Decimal(3))
    assert trade.quantity == Decimal(3)
    assert trade.fees == Decimal("0.15")
    assert trade.pnl == Decimal("3.85")  # 310 - 306 - 0.15, to the last digit
    assert (trade.entry_fills, trade.exit_fills) == (2, 3)
    assert trade.exit_time == T0 + timedelta(minutes=4)


def test_quantity_is_the_largest_size_reached_when_a_trade_scales_in_and_out() -> None:
    [trade] = trades_from_fills(
        [
            fill("buy", "2", "100", 0),
            fill("sell", "1", "110", 1),  # books +10 against the average 100
            fill("buy", "1", "120", 2),  # average of what is held: (100 + 120) / 2 = 110
            fill("sell", "2", "115", 3),  # books +10 against 110
        ]
    )
    assert trade.quantity == Decimal(2)
    assert trade.entry_price == exact_div(Decimal(320), Decimal(3))  # VWAP of all entries
    assert trade.pnl == Decimal(20)  # 110 + 230 - 200 - 120


def test_a_flip_closes_the_long_and_opens_a_short_at_the_same_fill_splitting_its_fee() -> None:
    long_trade, short_trade = trades_from_fills(
        [
            fill("buy", "1", "100", 0, fee="0.1"),
            fill("sell", "3", "110", 1, fee="0.3"),
            fill("buy", "2", "105", 2, fee="0.2"),
        ]
    )
    assert long_trade.direction == "long"
    assert long_trade.exit_time == T0 + timedelta(minutes=1)
    assert long_trade.fees == Decimal("0.2")
    assert long_trade.pnl == Decimal("9.8")
    assert (long_trade.entry_fills, long_trade.exit_fills) == (1, 1)

    assert short_trade.direction == "short"
    assert short_trade.entry_time == T0 + timedelta(minutes=1)
    assert short_trade.entry_price == Decimal(110)
    assert short_trade.quantity == Decimal(2)
    assert short_trade.fees == Decimal("0.4")
    assert short_trade.pnl == Decimal("9.6")  # (220 - 210) - 0.4
    assert (short_trade.entry_fills, short_trade.exit_fills) == (1, 1)


def test_a_trade_still_open_at_the_end_counts_only_realised_profit() -> None:
    [trade] = trades_from_fills([fill("buy", "2", "100", 0, fee="0.2"), fill("sell", "0.5", "120", 1, fee="0.1")])
    assert trade.is_open
    assert trade.exit_time is None
    assert trade.exit_price == Decimal(120)
    assert trade.quantity == Decimal(2)
    assert trade.pnl == Decimal("9.7")  # 0.5 * 20 realised, minus 0.3 fees; the open 1.5 is not counted
    assert (trade.entry_fills, trade.exit_fills) == (1, 1)


def test_a_position_never_reduced_is_an_open_trade_without_exit_price_losing_its_fee() -> None:
    [trade] = trades_from_fills([fill("sell", "1", "100", 0, fee="0.05")])
    assert trade.is_open and trade.exit_price is None
    assert trade.pnl == Decimal("-0.05")


def test_fees_turn_a_flat_price_round_trip_into_a_loss() -> None:
    [trade] = trades_from_fills([fill("buy", "4", "25", 0, fee="0.04"), fill("sell", "4", "25", 1, fee="0.04")])
    assert trade.pnl == Decimal("-0.08")
    assert trade.return_pct == pytest.approx(-0.08)


def test_symbols_are_followed_separately_and_fills_are_taken_in_time_order() -> None:
    trades = trades_from_fills(
        [
            fill("sell", "1", "2100", 3, symbol="ETH/USDT"),
            fill("buy", "1", "100", 0),
            fill("buy", "1", "2000", 1, symbol="ETH/USDT"),
            fill("sell", "1", "90", 2),
        ]
    )
    assert [(t.symbol, t.pnl) for t in trades] == [("BTC/USDT", Decimal(-10)), ("ETH/USDT", Decimal(100))]


def test_no_fills_give_no_trades() -> None:
    assert trades_from_fills([]) == []


_steps = st.tuples(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(min_value=1, max_value=500),  # quantity in lots of 0.001
    st.integers(min_value=1, max_value=10_000_000),  # price in ticks of 0.01
    st.integers(min_value=0, max_value=1_000),  # fee in 0.0001
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_steps, min_size=1, max_size=30))
def test_trades_agree_with_the_ledger_and_keep_every_fee(steps: list[tuple[Side, int, int, int]]) -> None:
    fills = [
        Fill(
            fill_id=f"f{i}",
            client_order_id=f"o{i}",
            symbol="BTC/USDT",
            side=side,
            quantity=Decimal(quantity) * Decimal("0.001"),
            price=Decimal(price) * Decimal("0.01"),
            fee=Decimal(fee) * Decimal("0.0001"),
            timestamp=T0 + timedelta(minutes=i),
        )
        for i, (side, quantity, price, fee) in enumerate(steps)
    ]
    instrument = Instrument(
        symbol="BTC/USDT", base="BTC", quote="USDT", tick_size=Decimal("0.01"), lot_size=Decimal("0.001")
    )
    ledger = Ledger(cash={"USDT": Decimal(0)}, instruments={"BTC/USDT": instrument})
    with decimal.localcontext(MONEY_CONTEXT):
        for each in fills:
            ledger.apply_fill(each)
    trades = trades_from_fills(fills)

    with decimal.localcontext(MONEY_CONTEXT):
        fees_of_trades = sum((t.fees for t in trades), Decimal(0))
        booked = sum((t.pnl + t.fees for t in trades), Decimal(0))
    # Every fee lands in one trade; a flip splits its fee by quantity (1/3 of a fee has no end,
    # so the parts agree to the 34 digits of the money context, not beyond).
    assert abs(fees_of_trades - sum((f.fee for f in fills), Decimal(0))) <= Decimal("1e-25")
    # Profit before fees is the ledger's realised profit (average-price accounting).
    assert abs(booked - ledger.position("BTC/USDT").realized_pnl) <= Decimal("1e-20")
    # Only the last trade may be open, and only if the ledger still holds something.
    assert all(not t.is_open for t in trades[:-1])
    assert trades[-1].is_open == (ledger.quantity("BTC/USDT") != 0)
    for trade in trades:
        assert trade.quantity > 0
        assert trade.entry_fills >= 1
        assert trade.is_open or (trade.exit_fills >= 1 and trade.exit_price is not None)
    # Back to flat: profit before fees is the cash that came back minus the cash paid (only a
    # split fee's 34th digit can differ).
    if ledger.quantity("BTC/USDT") == 0:
        cash_flow = sum((f.price * f.quantity * (-f.side.sign) for f in fills), Decimal(0))
        assert abs(booked - cash_flow) <= Decimal("1e-20")


def test_trades_csv_round_trips_exactly(tmp_path: Path) -> None:
    trades = trades_from_fills(
        [
            fill("buy", "0.00000001", "64123.45", 0, fee="0.00000064"),
            fill("sell", "0.00000001", "64200.10", 1),
            fill("sell", "3", "100", 2, fee="0.3", symbol="ETH/USDT"),
        ]
    )
    path = tmp_path / "trades.csv"
    write_trades_csv(trades, path)
    assert read_trades_csv(path) == trades

    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",")[:4] == ["symbol", "direction", "entry_time", "exit_time"]
    # Exact fixed-point decimals, never 1E-8; the open trade's exit cells are empty.
    assert ",0.00000001," in lines[1]
    assert "E-" not in lines[1]
    assert ",," in lines[2]


def test_reading_a_file_that_is_not_a_trades_file_names_the_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"columns .*entry_price.* are missing"):
        read_trades_csv(path)


# --- the rebuilding against a plain reference --------------------------------------------------------


class _ReferenceTrade:
    """Average-price accounting of one trade, written out plainly (what the rebuilding must equal)."""

    def __init__(self, symbol: str, sign: int, entry_time: datetime) -> None:
        self.symbol, self.sign, self.entry_time = symbol, sign, entry_time
        self.position = self.average = self.entry_quantity = self.entry_notional = Decimal(0)
        self.exit_quantity = self.exit_notional = self.realised = self.fees = self.largest = Decimal(0)
        self.entry_fills = self.exit_fills = 0

    def add(self, quantity: Decimal, price: Decimal, fee: Decimal) -> None:
        held = abs(self.position)
        self.average = price if not held else (self.average * held + price * quantity) / (held + quantity)
        self.position += self.sign * quantity
        self.entry_quantity += quantity
        self.entry_notional += price * quantity
        self.fees += fee
        self.largest = max(self.largest, abs(self.position))
        self.entry_fills += 1

    def reduce(self, quantity: Decimal, price: Decimal, fee: Decimal) -> None:
        self.realised += (price - self.average) * quantity * self.sign
        self.position -= self.sign * quantity
        self.exit_quantity += quantity
        self.exit_notional += price * quantity
        self.fees += fee
        self.exit_fills += 1

    def finish(self, exit_time: datetime | None) -> Trade:
        entry_price = self.entry_notional / self.entry_quantity
        gross = (self.exit_notional - self.entry_notional) * self.sign if exit_time else self.realised
        pnl = gross - self.fees
        return Trade(
            symbol=self.symbol,
            direction="long" if self.sign > 0 else "short",
            entry_time=self.entry_time,
            exit_time=exit_time,
            entry_price=entry_price,
            exit_price=self.exit_notional / self.exit_quantity if self.exit_quantity else None,
            quantity=self.largest,
            pnl=pnl,
            fees=self.fees,
            return_pct=float(pnl / (entry_price * self.largest)) * 100.0,
            entry_fills=self.entry_fills,
            exit_fills=self.exit_fills,
        )


def reference_trades(executions: list[Execution]) -> list[Trade]:
    """One pass over every fill in time order, one open trade per symbol in a dictionary."""
    open_trades: dict[str, _ReferenceTrade] = {}
    done: list[Trade] = []
    with decimal.localcontext(MONEY_CONTEXT):
        for symbol, is_buy, quantity, price, fee, timestamp in sorted(executions, key=lambda e: e[5]):
            sign = 1 if is_buy else -1
            current = open_trades.get(symbol)
            if current is None or current.sign == sign:
                if current is None:
                    current = open_trades[symbol] = _ReferenceTrade(symbol, sign, timestamp)
                current.add(quantity, price, fee)
                continue
            closing = min(quantity, abs(current.position))
            closing_fee = fee if closing == quantity else fee * closing / quantity
            current.reduce(closing, price, closing_fee)
            if current.position == 0:
                done.append(current.finish(timestamp))
                del open_trades[symbol]
                if quantity - closing > 0:
                    flipped = open_trades[symbol] = _ReferenceTrade(symbol, sign, timestamp)
                    flipped.add(quantity - closing, price, fee - closing_fee)
        done.extend(still_open.finish(None) for still_open in open_trades.values())
    return sorted(done, key=lambda trade: trade.entry_time)


def exactly(trade: Trade) -> list[tuple[str, type, str]]:
    """Every field with its type and its exact text: ``Decimal("1.0")`` and ``Decimal("1.00")`` differ here."""
    return [(name, type(value), repr(value)) for name, value in vars(trade).items()]


# Amounts written with different exponents ("2", "2.00", "2E+1"), since the rebuilt trades must keep
# the digits and the exponent of every Decimal, not only its value.
_amounts = st.builds(
    lambda units, exponent, padding: (
        Decimal(units).scaleb(exponent)
        if padding is None
        else Decimal(units).scaleb(exponent).quantize(Decimal(1).scaleb(exponent - padding))
    ),
    st.integers(min_value=1, max_value=5_000),
    st.integers(min_value=-4, max_value=1),
    st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
)
_executions = st.lists(
    st.tuples(
        st.sampled_from(["BTC/USDT", "ETH/USDT", "SOL/USDT"]),
        st.booleans(),
        # Often the same few sizes, so positions also close exactly and flip by whole amounts.
        st.one_of(st.sampled_from([Decimal(1), Decimal("1.00"), Decimal(2), Decimal("0.5")]), _amounts),
        _amounts,
        st.one_of(st.just(Decimal("0E-12")), st.just(Decimal(0)), _amounts),
        st.integers(min_value=0, max_value=40),  # few minutes for many fills: equal times happen
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(_executions)
# Back to the largest size with another exponent: the largest keeps the first one reached (as max does).
@example(
    [
        ("BTC/USDT", True, Decimal(1), Decimal(10), Decimal(0), 0),
        ("BTC/USDT", False, Decimal("0.5"), Decimal(11), Decimal(0), 1),
        ("BTC/USDT", True, Decimal("0.50"), Decimal(12), Decimal(0), 2),
        ("BTC/USDT", False, Decimal("1.000"), Decimal(13), Decimal("0.1"), 3),
    ]
)
def test_rebuilt_trades_equal_a_plain_reference_to_every_digit_exponent_and_order(
    drawn: list[tuple[str, bool, Decimal, Decimal, Decimal, int]],
) -> None:
    executions = [(s, buy, q, p, fee, T0 + timedelta(minutes=m)) for s, buy, q, p, fee, m in drawn]
    expected = reference_trades(executions)
    got = trades_from_executions(iter(executions))
    assert [exactly(trade) for trade in got] == [exactly(trade) for trade in expected]
    assert got == expected


def test_a_rebuilt_trade_is_the_frozen_dataclass_its_constructor_makes() -> None:
    [got] = trades_from_executions([("BTC/USDT", True, Decimal("1.50"), Decimal("100.0"), Decimal("0.01"), T0)])
    assert type(got) is Trade
    assert list(vars(got)) == list(TRADE_COLUMNS)
    assert exactly(got) == exactly(Trade(**vars(got)))
    with pytest.raises(FrozenInstanceError):
        got.pnl = Decimal(0)  # type: ignore[misc]
