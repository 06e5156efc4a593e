"""The engine's fill log: every fill with its bar, kept so the garbage collector need not walk it."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from decimal import Decimal

from tradekit.domain.orders import Fill, Liquidity, Side
from tradekit.engine.fill_log import FillLog, FillRecord

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def make_fill(n: int) -> Fill:
    return Fill(
        fill_id=f"f-{n}",
        client_order_id=f"{n:032x}",
        symbol="BTC/USDT",
        side=Side.BUY if n % 2 else Side.SELL,
        quantity=Decimal("0.5"),
        price=Decimal("100.25") + n,
        fee=Decimal("0.01"),
        fee_currency="USDT",
        liquidity=Liquidity.MAKER,
        timestamp=T0,
    )


def test_the_log_gives_back_each_fill_as_it_was_with_its_bar() -> None:
    log = FillLog()
    fills = [make_fill(n) for n in range(3)]
    for index, fill in zip((4, 9, 9), fills, strict=True):
        log.append(index, fill)
    assert len(log) == 3
    assert log.fills() == fills
    assert log[1] == FillRecord(9, fills[1])
    assert [record.index for record in log] == [4, 9, 9]
    assert FillLog() == [] and log != []


def test_kept_fills_are_not_tracked_by_the_garbage_collector() -> None:
    log = FillLog()
    for n in range(100):
        log.append(n, make_fill(n))
    gc.collect()
    assert not any(gc.is_tracked(row) for row in log.rows())
