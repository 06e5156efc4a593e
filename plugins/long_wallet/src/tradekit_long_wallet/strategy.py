"""``long_wallet``: the ladder of :mod:`tradekit_long_wallet.ladder`, wired to the engine.

The engine's callbacks, the checks and the entry on start, the restart's helpers
(:mod:`tradekit_long_wallet.restart`), the report, the live status, and the price
alerts that let a backtest skip the bars where nothing can happen.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from tradekit.domain.orders import Fill, Order, OrderStatus
from tradekit.errors import ConfigError
from tradekit.plugin import Capabilities, Strategy, StrategyContext
from tradekit_long_wallet.ladder import ZERO, Ladder, Outcome, Placement, log
from tradekit_long_wallet.orders import Kind, OrderStyle, market_intent, tag
from tradekit_long_wallet.reporting import build_report, describe_window
from tradekit_long_wallet.restart import Reconciler
from tradekit_long_wallet.settings import LongWalletSettings, uses_post_only, venue_problems
from tradekit_long_wallet.window import Phase, Slot

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tradekit.domain.bars import BarSeries
    from tradekit.report.strategy_report import StrategyReport

__all__ = ["LongWallet", "Outcome", "Placement"]


class LongWallet(Ladder, Strategy):
    """A long-only trend-following ladder of ``window_size`` resting orders that compounds cycle after cycle.

    See :mod:`tradekit_long_wallet.ladder` for how bars, gaps and money are
    handled, and the plugin's README for the order kinds each venue receives.
    """

    Settings = LongWalletSettings
    settings: LongWalletSettings

    def __init__(self, settings: LongWalletSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name or "long_wallet")
        self._reset_ladder()
        self._restart: Reconciler | None = None

    # -- the engine's calls -------------------------------------------------------------------------

    def wakeups(self, data: dict[str, BarSeries]) -> NDArray[np.bool_]:
        """No bar is due by itself: it acts on fills and on the price alerts it sets (``ctx.wake_when``)."""
        return np.zeros(len(next(iter(data.values()))), dtype=bool)

    def on_start(self, ctx: StrategyContext) -> None:
        """Check the settings against the venue, then buy ``position_value`` at market (rule 1)."""
        if self._restart is not None or self.started or self.entry_id is not None:
            return  # restored from a saved state: the run goes on from there
        self.configure(ctx)
        self._act(ctx, lambda: self.start(ctx))

    def on_bar(self, ctx: StrategyContext) -> None:
        """Act on what happened since the last bar, then on the bar's close (see the module docstring)."""
        self._act(ctx, lambda: self._step(ctx))

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        """Note the fee of a fill (quote and base apart), for the wallet."""
        quote, base = self._fees.get(fill.client_order_id, (ZERO, ZERO))
        if self.instrument is not None and fill.fee_currency == self.instrument.base:
            base += fill.fee
        else:
            quote += fill.fee
        self._fees[fill.client_order_id] = (quote, base)

    def on_order_update(self, ctx: StrategyContext, order: Order) -> None:
        """Note an order that finished; it is acted on at the next bar (at once if we sent it just now)."""
        if not order.status.is_terminal:
            return
        outcome = Outcome(
            order.client_order_id, order.status, order.filled_quantity, order.filled_notional, order.reason
        )
        if self._busy:
            self._nested.append(outcome)
        else:
            self._inbox.append(outcome)

    def restore(self, state: dict[str, Any], open_orders: list[Order]) -> None:
        """Rebuild the ladder from the last saved state; settle the open orders at the next bar.

        See :mod:`tradekit_long_wallet.restart` for what is done with orders
        the state names that are no longer open, and with open orders it does
        not name.
        """
        self._restart = Reconciler.from_state(self, state, open_orders)

    def report(self) -> StrategyReport:
        """Per cycle: number, start and end, values, growth, round trips, fees; the phase over time."""
        summary: dict[str, Any] = {
            "cycles completed": len(self.cycles),
            "cumulative growth %": ((self.growth - 1) * 100).quantize(Decimal("0.01")),
            "phase now": self.phase.value if self.phase else "not started",
            "anchor": self.anchor,
            "unit": self.unit,
            "window now": describe_window(list(self.window.values()), self._level_price),
            "orders": self.style.describe(),
        }
        if self.refused:
            summary["refused"] = self.refused
        return build_report(self.cycles, self.current, self.phase_changes, summary)

    def status(self) -> dict[str, str]:
        """Phase, cycle, anchor and unit, and the window now."""
        if self.phase is None:
            return {"phase": "starting" if not self.refused else f"stopped: {self.refused}"}
        return {
            "phase": self.phase.value,
            "cycle": f"{self.cycle} (growth {(self.growth - 1) * 100:.2f}% so far)",
            "anchor / unit": f"{self.anchor} / {self.unit}",
            "wallet": f"{self.held} {self._instrument.base} + {self.cash:.2f} {self._instrument.quote}",
            "window": describe_window(list(self.window.values()), self._level_price),
        }

    # -- setting up -------------------------------------------------------------------------------------

    def configure(self, ctx: StrategyContext) -> None:
        """Settle the symbol, its instrument and the order kinds for this venue (on start, or after a restore)."""
        symbol = self.settings.symbol or ctx.symbols[0]
        if symbol not in ctx.symbols:
            raise ConfigError(
                f"long_wallet symbol {symbol!r} is not one of the run's symbols ({', '.join(ctx.symbols)}); "
                "set symbol to one of them or run with --symbol"
            )
        self.symbol = symbol
        self.instrument = ctx.instrument(symbol)
        capabilities: Capabilities = ctx.capabilities
        tolerance = self.settings.trigger_tolerance
        if tolerance:
            tolerance = self.instrument.round_price(tolerance, "up")
        self.style = OrderStyle.for_venue(
            capabilities, self.instrument, post_only=uses_post_only(self.settings, capabilities), tolerance=tolerance
        )

    # -- one bar --------------------------------------------------------------------------------------

    def _act(self, ctx: StrategyContext, action: Any) -> None:
        """Run ``action`` and then every outcome it and the bar produced, in order; save what changed."""
        self._busy = True
        try:
            action()
            self._drain_nested()
            self._after(ctx)
        finally:
            self._busy = False

    def _step(self, ctx: StrategyContext) -> None:
        if self._restart is not None:
            restart, self._restart = self._restart, None
            self.configure(ctx)
            self._settle_outcomes(ctx)  # what the venue reported since the restore, first
            restart.settle(ctx)
            try:
                self._step_on(ctx)
            finally:
                self._cancel_orphans(ctx)
            return
        self._step_on(ctx)

    def _step_on(self, ctx: StrategyContext) -> None:
        self._settle_outcomes(ctx)
        if not self.started:
            return
        self._place_missing(ctx)
        self._chase(ctx)
        # Orders sent at the market settle at once and may change the window again: judge until it is still.
        for _ in range(4 * self.settings.window_size):
            self._settle_outcomes(ctx)
            self._judge_phase(ctx)
            self._trail(ctx)
            if not self._nested and not self._inbox:
                break

    # -- start ----------------------------------------------------------------------------------------

    def start(self, ctx: StrategyContext) -> None:
        """Refuse settings this venue cannot run (before any order), then buy ``position_value`` at market."""
        price = self._price(ctx)
        problems = venue_problems(self.settings, self._instrument, ctx.capabilities, price, ctx.cash())
        if problems:
            raise ConfigError("long_wallet settings refused: " + "; ".join(problems))
        quantity = self._instrument.round_quantity(self.settings.position_value / price)
        intent = market_intent(self.symbol, Kind.BUY, quantity, self.style, tag(self.cycle, "entry"))
        self.entry_id = ctx.submit(intent)
        self._dirty = True
        if self.entry_id is None:
            self.refused = "the entry order was blocked by a risk rule"
            log.error("long_wallet: %s; the strategy stays idle", self.refused)
        self._settle_outcomes(ctx)

    # -- for the restart (tradekit_long_wallet.restart) -----------------------------------------------

    def track(self, slot: Slot) -> None:
        """Know ``slot`` by its client order id."""
        assert slot.client_order_id is not None
        self._by_id[slot.client_order_id] = slot

    def slot_of(self, client_order_id: str) -> Slot | None:
        """The window slot whose order this is, if any."""
        return self._by_id.get(client_order_id)

    def forget(self, client_order_id: str) -> None:
        """The slot's order is gone: the slot stays in the window without an order."""
        slot = self._by_id.pop(client_order_id, None)
        if slot is not None:
            slot.client_order_id = None
            slot.market = False
        self._dirty = True

    def fill_price_of(self, slot: Slot) -> Decimal:
        """Where a resting order of ``slot`` fills when the price reaches it (a maker buy one tick below)."""
        price = self._level_price(slot.level)
        if slot.kind is Kind.BUY and self.style.post_only and not slot.market:
            return price - self._instrument.tick_size
        return price

    def market_price(self, ctx: StrategyContext) -> Decimal:
        """The current close on the tick."""
        return self._price(ctx)

    def note_outcome(
        self, client_order_id: str, status: OrderStatus, quantity: Decimal, notional: Decimal, reason: str
    ) -> None:
        """An outcome learnt otherwise than from the engine (the restart's reading of the position)."""
        self._inbox.append(Outcome(client_order_id, status, quantity, notional, reason))
        self._dirty = True

    def offer_orphans(self, orders: list[Order]) -> None:
        """Open orders of ours the saved state does not name: adopted by tag on this bar, else cancelled."""
        self._orphans = {order.tag: order for order in orders}

    def _cancel_orphans(self, ctx: StrategyContext) -> None:
        for order in self._orphans.values():
            log.warning(
                "long_wallet: cancelling %s (%s), an order the saved state does not name",
                order.client_order_id,
                order.tag,
            )
            ctx.cancel(order.client_order_id)
        self._orphans = {}

    def cancelling_ids(self) -> set[str]:
        """Orders we asked to cancel whose end has not been reported yet."""
        return set(self._cancelled)

    # -- after each action ------------------------------------------------------------------------------

    def _after(self, ctx: StrategyContext) -> None:
        # The alerts follow from the state alone, and stay set until replaced: only a change moves them.
        if self._dirty:
            self._dirty = False
            if self.started:
                self._alert(ctx)
            from tradekit_long_wallet.state import state_of

            ctx.save_state(state_of(self, ctx))

    def _alert(self, ctx: StrategyContext) -> None:
        """The next prices that can change the window without an order filling (a backtest wakes on them).

        The close decides, on the tick: a close that rounds up to a level may
        come from a high half a tick below it, so the alerts sit half a tick early.
        """
        half_tick = self._instrument.tick_size / 2
        above: list[Decimal] = []
        below: list[Decimal] = []
        if any(slot.client_order_id is None and slot.retry for slot in self.window.values()):
            above.append(ZERO)  # an order to place again: the next bar
        if self.phase is Phase.ADVANCE:
            above.append(self._level_price(self.highest + 1) - half_tick)
        elif self.phase is Phase.DECLINE:
            below.append(self._level_price(self.lowest) - half_tick)
        if self.style.post_only:
            above.extend(
                self._level_price(slot.level + 1) - half_tick
                for slot in self.window.values()
                if slot.kind is Kind.BUY and slot.client_order_id and not slot.market
            )
        ctx.wake_when(self.symbol, above=min(above) if above else None, below=max(below) if below else None)
