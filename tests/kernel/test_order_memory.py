"""OrderMemory: open orders always, the latest finished ones, and every id ever used."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradekit.domain.order_memory import OrderMemory
from tradekit.domain.orders import Order, OrderIntent, OrderType, Side

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def order(n: int) -> Order:
    intent = OrderIntent(symbol="BTC/USDT", side=Side.BUY, type=OrderType.MARKET, quantity=Decimal("1"))
    return Order.from_intent(intent, f"{n:032x}", created_at=T0)


def test_open_orders_are_kept_however_many_finish() -> None:
    memory = OrderMemory(keep_finished=2)
    first = order(0)
    memory.add(first)
    for n in range(1, 6):
        memory.add(order(n))
        memory.finished(f"{n:032x}")
    assert memory[first.client_order_id] is first
    assert list(memory.unfinished()) == [first]


def test_only_the_latest_finished_orders_are_kept_and_the_forgotten_id_is_reported() -> None:
    memory = OrderMemory(keep_finished=2)
    forgotten = []
    for n in range(4):
        memory.add(order(n))
        forgotten.append(memory.finished(f"{n:032x}"))
    assert forgotten == [None, None, f"{0:032x}", f"{1:032x}"]
    assert sorted(memory) == [f"{2:032x}", f"{3:032x}"]
    assert len(memory) == 2
    assert memory.get(f"{0:032x}") is None
    with pytest.raises(KeyError):
        memory[f"{1:032x}"]


def test_every_id_ever_added_counts_as_used_even_once_forgotten() -> None:
    memory = OrderMemory(keep_finished=0)
    memory.add(order(7))
    memory.finished(f"{7:032x}")
    assert f"{7:032x}" not in memory
    assert memory.used(f"{7:032x}")
    assert not memory.used(f"{8:032x}")


def test_finishing_an_unknown_or_already_finished_order_changes_nothing() -> None:
    memory = OrderMemory(keep_finished=5)
    memory.add(order(1))
    assert memory.finished(f"{1:032x}") is None
    assert memory.finished(f"{1:032x}") is None
    assert memory.finished("nope") is None
    assert len(memory) == 1


def test_a_negative_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="keep_finished must be zero or more, was -1"):
        OrderMemory(keep_finished=-1)
