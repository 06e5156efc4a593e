"""The ladder's arithmetic on its own: units, levels, phases, trailing targets, stop sizes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tradekit_long_wallet.orders import Kind, parse_tag, tag
from tradekit_long_wallet.window import Phase, level_price, phase_after, stop_quantities, trail, unit_of

D = Decimal


@pytest.mark.parametrize(
    ("price", "unit"),
    [
        ("100", 0),
        ("100.99", 0),
        ("101", 1),
        ("99.99", -1),
        ("99.5", -1),  # truncation would say 0: -0.5 and +0.5 units would share unit 0
        ("99", -1),
        ("98.99", -2),
        ("100.5", 0),
    ],
)
def test_a_price_is_in_the_unit_floor_gives_not_truncation(price: str, unit: int) -> None:
    assert unit_of(D(price), D(100), D(1)) == unit


def test_a_level_is_the_anchor_plus_whole_units() -> None:
    assert level_price(-3, D("2500.50"), D("25.25")) == D("2424.75")
    assert unit_of(level_price(7, D(100), D("0.5")), D(100), D("0.5")) == 7


@pytest.mark.parametrize(
    ("previous", "kinds", "expected"),
    [
        (Phase.ADVANCE, {Kind.STOP}, (Phase.ADVANCE, False)),
        (Phase.ADVANCE, {Kind.STOP, Kind.BUY}, (Phase.RETRACEMENT, False)),
        (Phase.ADVANCE, {Kind.BUY}, (Phase.DECLINE, False)),
        (Phase.RETRACEMENT, {Kind.STOP, Kind.BUY}, (Phase.RETRACEMENT, False)),
        (Phase.RETRACEMENT, {Kind.BUY}, (Phase.DECLINE, False)),
        (Phase.RETRACEMENT, {Kind.STOP}, (Phase.ADVANCE, True)),
        (Phase.DECLINE, {Kind.BUY}, (Phase.DECLINE, False)),
        (Phase.DECLINE, {Kind.STOP, Kind.BUY}, (Phase.RECOVER, False)),
        (Phase.RECOVER, {Kind.STOP, Kind.BUY}, (Phase.RECOVER, False)),
        (Phase.RECOVER, {Kind.BUY}, (Phase.DECLINE, False)),
        (Phase.RECOVER, {Kind.STOP}, (Phase.ADVANCE, True)),
        (Phase.DECLINE, {Kind.STOP}, (Phase.ADVANCE, True)),  # a window of one: its buy fired
    ],
)
def test_the_phase_follows_from_the_window_and_where_it_came_from(
    previous: Phase, kinds: set[Kind], expected: tuple[Phase, bool]
) -> None:
    assert phase_after(previous, kinds) == expected


def test_trailing_up_one_unit_cancels_the_lowest_stop_and_adds_one_above() -> None:
    assert trail([-4, -3, -2, -1], range(-3, 1)) == ([-4], [0])


def test_trailing_several_units_at_once_replaces_as_many_stops() -> None:
    assert trail([-4, -3, -2, -1], range(2, 6)) == ([-4, -3, -2, -1], [2, 3, 4, 5])
    assert trail([-4, -3, -2, -1], range(-2, 2)) == ([-4, -3], [0, 1])


def test_trailing_down_cancels_the_highest_buys() -> None:
    # The decline began with buys at lowest+2 .. lowest+5; one unit lower they become u+1 .. u+4.
    assert trail([-3, -2, -1, 0], range(-5, -1)) == ([-1, 0], [-5, -4])


@pytest.mark.parametrize("held", ["10", "9.999", "0.007", "1234.5678", "3.001"])
def test_cycle_stops_sell_all_that_is_held_but_less_than_a_lot(held: str) -> None:
    lot = D("0.001")
    quantities = stop_quantities(D(held), 4, lot)
    assert len(quantities) == 4
    assert sum(quantities) <= D(held)
    assert D(held) - sum(quantities) < lot
    assert all(q % lot == 0 for q in quantities)
    assert quantities[:3] == [quantities[0]] * 3  # the fragment; the lowest takes the rest
    assert quantities[3] >= quantities[0]


def test_tags_name_cycle_kind_and_level_and_read_back() -> None:
    assert tag(3, Kind.STOP, -2) == "long_wallet c3 stop -2"
    assert parse_tag(tag(3, Kind.STOP, -2)) == (3, "stop", -2)
    assert parse_tag(tag(1, "entry")) == (1, "entry", None)
    assert parse_tag("sma_cross entry") is None
    assert parse_tag("long_wallet cX stop 1") is None
