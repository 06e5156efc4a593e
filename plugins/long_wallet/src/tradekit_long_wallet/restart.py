"""Taking up a run again: the saved state, settled with the orders the venue still has.

:meth:`~tradekit_long_wallet.strategy.LongWallet.restore` puts the last saved
state back (:func:`~tradekit_long_wallet.state.load_state`); at the first bar
after it, :meth:`Reconciler.settle` makes the window agree with the venue:

* a window order still open is kept as it is;
* a window order that is not open any more and whose outcome arrived since
  (a fill while the run was down, reported by the venue) is acted on as
  usual, before anything else;
* a window order not open, with no outcome: the account's position says
  whether it filled. If the position moved by what some of those orders
  trade (a buy adds its quantity, a stop takes its quantity away), exactly
  those filled, at their level; otherwise none did. The ones that filled are
  replaced as any filled order is; the others are gone (cancelled or never
  arrived);
* an open order of this strategy that the state does not name (sent just
  before the process died, before the state was saved) is **adopted** when a
  gone window order of the same kind needs a place (it takes that slot, at its
  own level), or when the strategy, acting on this first bar, places an order
  with the same tag (cycle, kind and level): it is that order. Any other is
  cancelled once the bar is done, so no order is ever doubled;
* a gone window order that nothing adopted is placed again.

If the run died before the first state was saved, the first bar starts the
strategy as ``on_start`` would (checks, then the entry at market), unless the
account already holds the symbol: then the entry had filled, and that
position, at the price then, starts the first cycle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import combinations
from typing import TYPE_CHECKING, Any

from tradekit.domain.orders import Order, OrderStatus
from tradekit_long_wallet.orders import Kind, parse_tag
from tradekit_long_wallet.state import load_state

if TYPE_CHECKING:
    from tradekit.plugin import StrategyContext
    from tradekit_long_wallet.strategy import LongWallet

log = logging.getLogger("tradekit.plugin.long_wallet")

#: The entry of a run that died before saving any state, when the position it left is taken as the start.
ADOPTED_ENTRY = "adopted-entry"


@dataclass
class Reconciler:
    """What a restore found, kept until the first bar lets the strategy act on it."""

    strategy: LongWallet
    fresh: bool
    #: Window orders (by client order id) the venue did not list as open.
    unconfirmed: set[str] = field(default_factory=set)
    #: Open orders of this strategy that the state does not name.
    orphans: list[Order] = field(default_factory=list)
    cancelling: set[str] = field(default_factory=set)

    @classmethod
    def from_state(cls, strategy: LongWallet, state: dict[str, Any], open_orders: list[Order]) -> Reconciler:
        """Load ``state`` into ``strategy`` and note how it differs from ``open_orders``."""
        if not state:
            return cls(strategy, fresh=True, orphans=[o for o in open_orders if parse_tag(o.tag)])
        load_state(strategy, state)
        open_ids = {order.client_order_id for order in open_orders}
        named = {slot.client_order_id for slot in strategy.window.values() if slot.client_order_id}
        cancelling = {str(i) for i in state.get("cancelling", ())}
        if strategy.entry_id is not None:
            named.add(strategy.entry_id)
        for slot in strategy.window.values():
            if slot.client_order_id is not None:
                strategy.track(slot)
        orphans = [o for o in open_orders if parse_tag(o.tag) and o.client_order_id not in named | cancelling]
        return cls(
            strategy,
            fresh=False,
            unconfirmed=named - open_ids,
            orphans=orphans,
            cancelling=cancelling & open_ids,
        )

    def settle(self, ctx: StrategyContext) -> None:
        """Make the window agree with the venue (see the module docstring); orders go out from here."""
        strategy = self.strategy
        if self.fresh:
            for order in self.orphans:
                ctx.cancel(order.client_order_id)
            held = ctx.position(strategy.symbol)
            if held > 0:
                # The entry filled, but the process died before it saved anything: that position is the start.
                price = strategy.market_price(ctx)
                log.warning("long_wallet: taking the %s held as the entry, at %s (no state was saved)", held, price)
                strategy.entry_id = ADOPTED_ENTRY
                strategy.note_outcome(ADOPTED_ENTRY, OrderStatus.FILLED, held, held * price, "held at restart")
            else:
                strategy.start(ctx)
            return
        for client_order_id in self.cancelling:
            ctx.cancel(client_order_id)
        if strategy.entry_id is not None and strategy.entry_id in self.unconfirmed:
            self._settle_entry(ctx)
            return
        # Outcomes that arrived since the restore were acted on already; what is left has none.
        waiting = [cid for cid in self.unconfirmed if strategy.slot_of(cid) is not None]
        filled = self._filled(ctx, waiting)
        for client_order_id in waiting:
            slot = strategy.slot_of(client_order_id)
            assert slot is not None
            if client_order_id in filled:
                price = strategy.fill_price_of(slot)
                log.warning(
                    "long_wallet: %s at level %d filled while the run was down (from the position); booked at %s",
                    slot.kind.value,
                    slot.level,
                    price,
                )
                strategy.note_outcome(
                    client_order_id, OrderStatus.FILLED, slot.quantity, slot.quantity * price, "filled while down"
                )
            else:
                self._adopt_or_replace(ctx, client_order_id)
        # The rest may be what a replacement placed from here needs (the dead process had sent it already).
        strategy.offer_orphans(self.orphans)

    def _filled(self, ctx: StrategyContext, waiting: list[str]) -> set[str]:
        """Which of ``waiting`` filled: the one set whose quantities explain the position's change, if any."""
        strategy = self.strategy
        delta = ctx.position(strategy.symbol) - strategy.expected_position
        if not waiting or delta == 0:
            return set()
        signed: dict[str, Decimal] = {}
        for client_order_id in waiting:
            slot = strategy.slot_of(client_order_id)
            assert slot is not None
            signed[client_order_id] = slot.quantity if slot.kind is Kind.BUY else -slot.quantity
        for size in range(1, len(waiting) + 1):
            for chosen in combinations(sorted(waiting), size):
                if sum((signed[c] for c in chosen), Decimal(0)) == delta:
                    return set(chosen)
        log.error(
            "long_wallet: the position moved by %s while the run was down, which no set of its orders explains; "
            "it counts none as filled",
            delta,
        )
        return set()

    def _adopt_or_replace(self, ctx: StrategyContext, client_order_id: str) -> None:
        strategy = self.strategy
        slot = strategy.slot_of(client_order_id)
        assert slot is not None
        strategy.forget(client_order_id)
        for position, order in enumerate(self.orphans):
            parsed = parse_tag(order.tag)
            if parsed is None or parsed[0] != strategy.cycle or parsed[1] != slot.kind.value or parsed[2] is None:
                continue
            level = parsed[2]
            if level != slot.level and level in strategy.window:
                continue
            del self.orphans[position]
            log.warning(
                "long_wallet: adopting %s (%s) for the %s at level %d",
                order.client_order_id,
                order.tag,
                slot.kind.value,
                slot.level,
            )
            strategy.window.pop(slot.level, None)
            slot.level = level
            slot.quantity = order.quantity
            slot.client_order_id = order.client_order_id
            strategy.window[level] = slot
            strategy.track(slot)
            return
        slot.note = "gone while the run was down; placed again"

    def _settle_entry(self, ctx: StrategyContext) -> None:
        strategy = self.strategy
        entry = strategy.entry_id
        assert entry is not None
        held = ctx.position(strategy.symbol) - strategy.expected_position
        for order in self.orphans:
            ctx.cancel(order.client_order_id)
        if held > 0:
            price = strategy.market_price(ctx)
            log.warning("long_wallet: the entry filled while the run was down; its price is taken as %s", price)
            strategy.note_outcome(entry, OrderStatus.FILLED, held, held * price, "filled while down")
        else:
            strategy.entry_id = None
            strategy.start(ctx)
