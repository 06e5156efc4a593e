"""The specification's invariants, checked on a running Long Wallet: what must hold after every bar.

:func:`problems_now` looks at the strategy and, through the context, at the
venue's open orders and the account, and returns what does not hold (empty
when all is well). :func:`placement_problems` checks the orders as they were
placed (kept when ``LongWallet.record_placements`` is on). The tests call both
after every bar; a cautious user may too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from tradekit_long_wallet.orders import TAG_PREFIX, Kind
from tradekit_long_wallet.window import Phase

if TYPE_CHECKING:
    from tradekit.plugin import StrategyContext
    from tradekit_long_wallet.strategy import LongWallet, Placement

ZERO = Decimal(0)


def problems_now(strategy: LongWallet, ctx: StrategyContext) -> list[str]:
    """What of the invariants does not hold now (after the strategy acted on the current bar)."""
    if not strategy.started or strategy.phase is None:
        return []
    problems: list[str] = []
    window = list(strategy.window.values())
    size = strategy.settings.window_size
    pending = [slot for slot in window if slot.market and slot.client_order_id]
    if len(window) != size:
        problems.append(f"the window holds {len(window)} orders, not {size}")
    without = [f"{slot.kind.value} {slot.level} ({slot.note})" for slot in window if slot.client_order_id is None]
    if without:
        problems.append(f"window slots without an order: {', '.join(without)}")
    ours = {
        order.client_order_id: order for order in ctx.open_orders(strategy.symbol) if order.tag.startswith(TAG_PREFIX)
    }
    named = {slot.client_order_id for slot in window if slot.client_order_id}
    if set(ours) != named:
        problems.append(
            f"open orders {sorted(ours)} are not the window's {sorted(named)}: "
            f"{len(set(ours) - named)} extra, {len(named - set(ours))} missing"
        )
    stops = [slot for slot in window if slot.kind is Kind.STOP]
    buys = [slot for slot in window if slot.kind is Kind.BUY]
    # Orders sent at the market wait for the next open when the backtest fills there: judged once they filled.
    if not pending and stops and buys and max(s.level for s in stops) >= min(b.level for b in buys):
        problems.append(f"stops reach above buys: {sorted((s.level, s.kind.value) for s in window)}")
    if not pending:
        kinds = {slot.kind for slot in window}
        if strategy.phase is Phase.ADVANCE:
            expected = set(range(strategy.highest - size, strategy.highest))
            if kinds != {Kind.STOP} or {s.level for s in window} != expected:
                problems.append(
                    f"ADVANCE with {sorted((s.level, s.kind.value) for s in window)}, not stops {sorted(expected)}"
                )
        elif strategy.phase is Phase.DECLINE and kinds != {Kind.BUY}:
            problems.append(f"DECLINE with stops in the window: {sorted((s.level, s.kind.value) for s in window)}")
        elif strategy.phase.mixed and len(kinds) != 2:
            problems.append(f"{strategy.phase.value} with only {[k.value for k in kinds]} in the window")
    held = strategy.held
    selling = sum((slot.quantity for slot in stops), ZERO)
    lot = strategy.instrument.lot_size if strategy.instrument is not None else ZERO
    if selling > held:
        problems.append(f"the stops sell {selling}, more than the {held} held")
    if ctx.position(strategy.symbol) != strategy.expected_position:
        problems.append(
            f"the account holds {ctx.position(strategy.symbol)}, the strategy counts {strategy.expected_position}"
        )
    if strategy.phase is Phase.ADVANCE and held - selling >= lot:
        problems.append(f"the stops leave {held - selling} unsold, a lot ({lot}) or more")
    for slot in window:
        order = ours.get(slot.client_order_id or "")
        if order is None:
            continue
        if slot.kind is Kind.STOP and strategy.style.reduce_only and not order.reduce_only:
            problems.append(f"stop {slot.level} is not reduce-only")
        if order.quantity != slot.quantity:
            problems.append(
                f"{slot.kind.value} {slot.level}: the order trades {order.quantity}, the slot {slot.quantity}"
            )
    return problems


def placement_problems(placements: list[Placement]) -> list[str]:
    """Resting orders placed on the wrong side of the market: a stop at or above it, a buy at or below it."""
    problems = []
    for placed in placements:
        if placed.at_market:
            continue
        if placed.kind is Kind.STOP and placed.price >= placed.market:
            problems.append(
                f"bar {placed.index}: stop {placed.level} at {placed.price} placed with the market at {placed.market}"
            )
        if placed.kind is Kind.BUY and placed.price <= placed.market:
            problems.append(
                f"bar {placed.index}: buy {placed.level} at {placed.price} placed with the market at {placed.market}"
            )
    return problems
