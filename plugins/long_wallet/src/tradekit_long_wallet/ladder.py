"""The ladder itself: its window, wallet and phases, and the rules that move them, bar by bar.

:class:`Ladder` holds the state the specification names (phase, anchor, unit,
window, fragments, cycle) and carries out rules 2 to 6 on order outcomes and
on the close; :class:`~tradekit_long_wallet.strategy.LongWallet` wires it to the
engine (callbacks, start, restart, report).

How a bar is handled
    Order outcomes (a fill, a refusal) are only noted when they arrive; the
    strategy acts once per bar, in :meth:`LongWallet.on_bar`, after the venue
    has walked the bar: first every outcome, in the order the price path met
    the orders (each filled order replaced, rule 4), then the phase (RESET
    when the window is all stops again after a mixed phase, DECLINE when it is
    all buys), then trailing (rules 2 and 3) on the bar's close. The price
    "is in" a unit by its close: a decision is made on the close, and a stop
    placed from a wick's high could sit above the market.

Gaps and turns within a bar
    A bar that passes several levels fills every order it meets; each is
    replaced in turn. A replacement whose level the close has already passed
    goes out at the market (its trigger would have fired at once). When one
    bar crosses a level both ways, a replacement can land on a level the
    bar's earlier replacement holds: the two trade places (the stop one level
    down, the buy one level up), so the window keeps its shape, stops below
    one empty level and buys above it.

Money
    The wallet is what the strategy owns: the asset it bought (``held``) and
    the cash its sales brought in less what its buys spent (``cash``). A stop
    sells a fixed quantity: at a cycle's start the position split in
    ``window_size`` fragments (the lowest stop takes the remainder, rounded
    down to the lot); a stop that replaces a buy sells what that buy bought.
    So the stops together never sell more than is held, and once all have
    fired nothing is left but less than one lot. A buy spends
    ``cash_fragment`` (the wallet's value at the cycle's start over
    ``window_size``) or, if less, the wallet's cash not promised to the other
    buys, but never less than what the stop it replaces brought in; that,
    divided by the most it may pay per unit and the fee rate seen so far, is
    its quantity, rounded down to the lot.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from tradekit.domain.orders import Order, OrderStatus, OrderType
from tradekit.money import to_decimal
from tradekit.plugin import StrategyContext
from tradekit_long_wallet.orders import Kind, OrderStyle, highest_fill_price, market_intent, resting_intent, tag
from tradekit_long_wallet.reporting import CycleRecord
from tradekit_long_wallet.settings import LongWalletSettings, unit_for
from tradekit_long_wallet.window import Phase, Slot, level_price, phase_after, stop_quantities, trail, unit_of

if TYPE_CHECKING:
    from tradekit.domain.instruments import Instrument

log = logging.getLogger("tradekit.plugin.long_wallet")

ZERO = Decimal(0)


@dataclass(frozen=True)
class Outcome:
    """What became of one order, noted when the engine told it and acted on at the next bar."""

    client_order_id: str
    status: OrderStatus
    quantity: Decimal
    notional: Decimal
    reason: str | None


@dataclass(frozen=True)
class Placement:
    """An order as it was placed, with the market then: what the invariant tests read."""

    index: int
    kind: Kind
    level: int
    price: Decimal
    market: Decimal
    at_market: bool


class Ladder:
    """The ladder's state and rules; see the module docstring. Mixed into the strategy class."""

    settings: LongWalletSettings
    #: Keep every placement (for tests that check the invariants); off in normal runs.
    record_placements = False

    def _reset_ladder(self) -> None:
        """Start empty: no symbol yet, no window, cycle 1."""
        self.symbol = ""
        self.instrument: Instrument | None = None
        self.style = OrderStyle(post_only=False, tolerance=ZERO, stop_limit=False, reduce_only=False)
        self.started = False
        self.entry_id: str | None = None
        self.refused: str | None = None
        self.phase: Phase | None = None
        self.anchor = ZERO
        self.unit = ZERO
        self.cycle = 1
        self.growth = Decimal(1)
        self.highest = 0
        self.lowest = 0
        self.held = ZERO
        self.cash = ZERO
        self.cash_fragment = ZERO
        self.fee_rate = ZERO
        self.expected_position = ZERO
        self.window: dict[int, Slot] = {}
        self.current: CycleRecord | None = None
        # Kept in memory for the report (a backtest), not in the saved state.
        self.cycles: list[CycleRecord] = []
        self.phase_changes: list[tuple[int, str]] = []
        self.placements: list[Placement] = []
        self._by_id: dict[str, Slot] = {}
        self._cancelled: dict[str, Slot] = {}
        self._fees: dict[str, tuple[Decimal, Decimal]] = {}
        self._inbox: deque[Outcome] = deque()
        self._nested: list[Outcome] = []
        self._busy = False
        self._dirty = False
        # After a restart: open orders of ours the saved state does not name, by tag, until the first bar ends.
        self._orphans: dict[str, Order] = {}
        self._close = float("nan")
        self._close_price = ZERO

    @property
    def _instrument(self) -> Instrument:
        assert self.instrument is not None, "configured on start or restore"
        return self.instrument

    def _price(self, ctx: StrategyContext) -> Decimal:
        """The current close on the tick, as the venue sees the market (worked out once per bar)."""
        close = ctx.close(self.symbol)
        if close != self._close:
            self._close = close
            self._close_price = self._instrument.round_price(to_decimal(close))
        return self._close_price

    def _level_price(self, level: int) -> Decimal:
        return level_price(level, self.anchor, self.unit)

    def _drain_nested(self) -> None:
        # Outcomes of orders we just sent come before the bar's later ones: they happened at once.
        if self._nested:
            self._inbox.extendleft(reversed(self._nested))
            self._nested.clear()

    def _settle_outcomes(self, ctx: StrategyContext) -> None:
        self._drain_nested()
        while self._inbox:
            self._settle(ctx, self._inbox.popleft())
            self._drain_nested()

    def _settle(self, ctx: StrategyContext, outcome: Outcome) -> None:
        client_order_id = outcome.client_order_id
        quote_fee, base_fee = self._fees.pop(client_order_id, (ZERO, ZERO))
        if client_order_id == self.entry_id:
            self._entry_settled(ctx, outcome, quote_fee, base_fee)
            return
        cancelled = self._cancelled.pop(client_order_id, None)
        if cancelled is not None:
            if outcome.quantity > 0:
                # It filled before our cancel reached it: the money moved, so the wallet books it.
                log.warning("order %s filled %s before it was cancelled", client_order_id, outcome.quantity)
                self._book(cancelled.kind, outcome, quote_fee, base_fee)
            return
        slot = self._by_id.pop(client_order_id, None)
        if slot is None:
            return
        self._dirty = True
        if outcome.quantity > 0:
            self._fired(ctx, slot, outcome, quote_fee, base_fee)
            return
        # Refused or ended by the venue: the slot keeps its place without an order and is placed again next bar.
        slot.client_order_id = None
        slot.market = False
        slot.note = f"{outcome.status.value}: {outcome.reason or 'no reason given'}"
        log.warning("long_wallet %s at level %d: %s", slot.kind.value, slot.level, slot.note)

    def _book(self, kind: Kind, outcome: Outcome, quote_fee: Decimal, base_fee: Decimal) -> Decimal:
        """Move the wallet by a fill of ``outcome``; what it bought or sold, net of a fee in the asset."""
        price = outcome.notional / outcome.quantity
        if outcome.notional:
            self.fee_rate = max(self.fee_rate, quote_fee / outcome.notional)
        if self.current is not None:
            self.current.fees += quote_fee + base_fee * price
        if kind is Kind.STOP:
            self.held -= outcome.quantity
            self.cash += outcome.notional - quote_fee
            self.expected_position -= outcome.quantity
            return outcome.quantity
        got = outcome.quantity - base_fee
        self.held += got
        self.cash -= outcome.notional + quote_fee
        self.expected_position += got
        return got

    def _fired(self, ctx: StrategyContext, slot: Slot, outcome: Outcome, quote_fee: Decimal, base_fee: Decimal) -> None:
        """Rule 4: a stop at k becomes a buy at k+1; a buy at k a stop at k-1, selling what it bought."""
        del self.window[slot.level]
        traded = self._book(slot.kind, outcome, quote_fee, base_fee)
        if outcome.status is not OrderStatus.FILLED:
            log.warning("long_wallet %s at level %d filled %s of it only", slot.kind.value, slot.level, traded)
        if slot.kind is Kind.STOP:
            proceeds = outcome.notional - quote_fee
            replacement = Slot(Kind.BUY, slot.level + 1, ZERO, budget=self._free_budget(proceeds))
        else:
            assert self.current is not None
            self.current.round_trips += 1
            replacement = Slot(Kind.STOP, slot.level - 1, self._instrument.round_quantity(traded))
        self._insert(ctx, replacement)

    def _insert(self, ctx: StrategyContext, slot: Slot) -> None:
        """Put ``slot`` in the window and place it; on a level taken by the other kind the two trade places.

        A slot on that level whose own order filled in the same bar is acted on
        first (its outcome is further down the bar's list): it leaves the level.
        """
        taken = self.window.get(slot.level)
        while taken is not None and taken.client_order_id is not None:
            pending = self._take_pending(taken.client_order_id)
            if pending is None:
                break
            self._settle(ctx, pending)
            self._drain_nested()
            taken = self.window.get(slot.level)
        if taken is not None and taken.kind is not slot.kind:
            self._cancel(ctx, taken)
            step = -1 if slot.kind is Kind.STOP else 1
            slot.level += step
            taken.level -= step
            taken.client_order_id = None
            for moved in (taken, slot):
                self._put(ctx, moved)
            return
        self._put(ctx, slot)

    def _put(self, ctx: StrategyContext, slot: Slot) -> None:
        step = -1 if slot.kind is Kind.STOP else 1
        while slot.level in self.window:  # a level already held: the nearest free one on the slot's side
            slot.level += step
        self.window[slot.level] = slot
        self._place(ctx, slot)

    def _take_pending(self, client_order_id: str) -> Outcome | None:
        for position, outcome in enumerate(self._inbox):
            if outcome.client_order_id == client_order_id:
                del self._inbox[position]
                return outcome
        return None

    def _free_budget(self, proceeds: Decimal = ZERO) -> Decimal:
        """``cash_fragment``, or the wallet's cash not promised to other buys if less, but never less than
        ``proceeds`` (what the stop being replaced brought in) up to ``cash_fragment``."""
        promised = sum((s.budget for s in self.window.values() if s.kind is Kind.BUY), ZERO)
        return max(min(self.cash_fragment, max(self.cash - promised, proceeds)), ZERO)

    def _place(self, ctx: StrategyContext, slot: Slot) -> None:
        """Send the order of ``slot``: resting at its level, or at the market if the close passed it."""
        self._dirty = True
        instrument = self._instrument
        price = self._level_price(slot.level)
        market = self._price(ctx)
        at_market = market <= price if slot.kind is Kind.STOP else market >= price
        if slot.kind is Kind.BUY:
            pays = market if at_market else highest_fill_price(Kind.BUY, price, self.style)
            slot.quantity = instrument.round_quantity(slot.budget / (pays * (1 + self.fee_rate)))
        problem = instrument.quantity_problem(slot.quantity, market if at_market else price)
        if problem is not None or price <= 0:
            # Not placeable as it stands, and retrying will not change that: it waits without an order.
            slot.client_order_id = None
            slot.retry = False
            slot.note = problem or f"level price {price} is not positive"
            log.warning("long_wallet %s at level %d has no order: %s", slot.kind.value, slot.level, slot.note)
            return
        order_tag = tag(self.cycle, slot.kind, slot.level)
        orphan = self._orphans.pop(order_tag, None)
        if orphan is not None:
            # After a restart: the dead process had sent this very order before it could save it.
            log.warning("long_wallet: adopting %s (%s), sent before the restart", orphan.client_order_id, order_tag)
            slot.client_order_id, slot.quantity, slot.note = orphan.client_order_id, orphan.quantity, ""
            slot.market = orphan.type is OrderType.MARKET
            self._by_id[orphan.client_order_id] = slot
            return
        if at_market:
            intent = market_intent(self.symbol, slot.kind, slot.quantity, self.style, order_tag)
        else:
            intent = resting_intent(
                self.symbol, slot.kind, price, slot.quantity, self.style, instrument.tick_size, order_tag
            )
        if self.record_placements:
            self.placements.append(Placement(ctx.index, slot.kind, slot.level, price, market, at_market))
        client_order_id = ctx.submit(intent)
        slot.retry = True
        slot.market = at_market
        slot.client_order_id = client_order_id
        slot.note = "" if client_order_id is not None else "blocked by a risk rule"
        if client_order_id is not None:
            self._by_id[client_order_id] = slot

    def _cancel(self, ctx: StrategyContext, slot: Slot) -> None:
        self._dirty = True
        self.window.pop(slot.level, None)
        if slot.client_order_id is None:
            return
        self._by_id.pop(slot.client_order_id, None)
        self._cancelled[slot.client_order_id] = slot
        ctx.cancel(slot.client_order_id)

    def _chase(self, ctx: StrategyContext) -> None:
        """A post-only buy the price ran a whole unit past without trading back to it is bought at the market.

        It rests as a bid one tick below its level once the price reaches the
        level; in a rally it would never fill, and the ladder must not miss a
        recovery for a maker fee.
        """
        if not self.style.post_only:
            return
        price = self._price(ctx)
        for slot in sorted(self.window.values(), key=lambda s: s.level):
            resting_buy = slot.kind is Kind.BUY and slot.client_order_id is not None and not slot.market
            if resting_buy and price >= self._level_price(slot.level + 1):
                old = slot.client_order_id
                assert old is not None
                self._by_id.pop(old, None)
                self._cancelled[old] = Slot(slot.kind, slot.level, slot.quantity, slot.budget, old)
                ctx.cancel(old)
                slot.client_order_id = None
                self._place(ctx, slot)

    def _place_missing(self, ctx: StrategyContext) -> None:
        if all(slot.client_order_id is not None or not slot.retry for slot in self.window.values()):
            return
        for slot in sorted(self.window.values(), key=lambda s: s.level):
            if slot.client_order_id is None and slot.retry:
                if slot.kind is Kind.BUY and not slot.budget:
                    slot.budget = self._free_budget()
                self._place(ctx, slot)

    # -- phases ------------------------------------------------------------------------------------------

    def _set_phase(self, ctx: StrategyContext, phase: Phase) -> None:
        if phase is not self.phase:
            self.phase = phase
            self._dirty = True
            if self.phase_changes and self.phase_changes[-1][0] == ctx.index:
                self.phase_changes[-1] = (ctx.index, phase.value)
            else:
                self.phase_changes.append((ctx.index, phase.value))

    def _settling(self) -> bool:
        """Whether an order sent at the market has yet to fill (it waits for the next open): it settles first."""
        return any(slot.market and slot.client_order_id for slot in self.window.values())

    def _judge_phase(self, ctx: StrategyContext) -> None:
        if self.phase is None:
            return
        kinds = {slot.kind for slot in self.window.values()}
        phase, reset = phase_after(self.phase, kinds)
        if reset:
            if not self._settling():  # a RESET waits until orders sent at the market have filled
                self._reset(ctx)
            return
        if phase is Phase.DECLINE and self.phase is not Phase.DECLINE:
            self.lowest = unit_of(self._price(ctx), self.anchor, self.unit)
        self._set_phase(ctx, phase)

    def _reset(self, ctx: StrategyContext) -> None:
        """Rule 6: close the cycle, compound, re-anchor at the price and place the stops afresh."""
        price = self._price(ctx)
        value = self.held * price + self.cash
        record = self.current
        assert record is not None
        record.end_index, record.end_time, record.end_value = ctx.index, ctx.now, value
        stops = sum((s.quantity for s in self.window.values()), ZERO)
        record.dust = self.held - stops
        if record.start_value:
            self.growth *= value / record.start_value
        self.cycles.append(record)
        for slot in list(self.window.values()):
            self._cancel(ctx, slot)
        self.cycle += 1
        self._start_cycle(ctx, price, value)

    def _start_cycle(self, ctx: StrategyContext, anchor: Decimal, value: Decimal) -> None:
        self.anchor = anchor
        self.unit = unit_for(self.settings, anchor, self._instrument)
        self.highest = 0
        self.cash_fragment = value / self.settings.window_size
        self.current = CycleRecord(self.cycle, ctx.index, ctx.now, value)
        self._set_phase(ctx, Phase.ADVANCE)
        quantities = stop_quantities(self.held, self.settings.window_size, self._instrument.lot_size)
        for number, quantity in enumerate(quantities, start=1):
            self._put(ctx, Slot(Kind.STOP, -number, quantity))

    def _trail(self, ctx: StrategyContext) -> None:
        """Rules 2 and 3: stops follow a new high unit in ADVANCE, buys a new low unit in DECLINE."""
        if self._settling():
            return
        size = self.settings.window_size
        unit = unit_of(self._price(ctx), self.anchor, self.unit)
        if self.phase is Phase.ADVANCE and unit > self.highest:
            self.highest = unit
            self._move(ctx, Kind.STOP, range(unit - size, unit))
        elif self.phase is Phase.DECLINE and unit < self.lowest:
            self.lowest = unit
            self._move(ctx, Kind.BUY, range(unit + 1, unit + size + 1))

    def _move(self, ctx: StrategyContext, kind: Kind, target: range) -> None:
        cancel, add = trail(sorted(level for level, slot in self.window.items() if slot.kind is kind), target)
        freed = [self.window[level] for level in cancel]
        for slot in freed:
            self._cancel(ctx, slot)
        for level, old in zip(add, freed, strict=False):
            self._put(ctx, Slot(kind, level, old.quantity, budget=old.budget))

    def _entry_settled(self, ctx: StrategyContext, outcome: Outcome, quote_fee: Decimal, base_fee: Decimal) -> None:
        self._dirty = True
        self.entry_id = None
        if outcome.quantity <= 0:
            self.refused = f"the entry order was {outcome.status.value}: {outcome.reason or 'no reason given'}"
            log.error("long_wallet: %s; the strategy stays idle", self.refused)
            return
        self.started = True
        got = outcome.quantity - base_fee
        # The wallet is what the entry bought: its cost is the first cycle's starting value.
        self.held, self.cash = got, ZERO
        self.expected_position += got
        if outcome.notional:
            self.fee_rate = max(self.fee_rate, quote_fee / outcome.notional)
        anchor = self._instrument.round_price(outcome.notional / outcome.quantity)
        self._start_cycle(ctx, anchor, outcome.notional + quote_fee)
        assert self.current is not None
        self.current.fees = quote_fee + base_fee * anchor
