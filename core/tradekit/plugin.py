"""Base classes of the five plugin kinds: exchange, strategy, risk, notifier, model.

A plugin is a class, published under an entry point in the group of its kind
(``tradekit.exchanges``, ``tradekit.strategies``, ``tradekit.risk``,
``tradekit.notifiers``, ``tradekit.models``); the entry-point name is what the
user types. The class declares its settings as a pydantic model in
``Settings``; tradekit validates the user's config against it before anything
runs and passes the result to ``__init__``.

Methods marked **required** must be overridden; **optional** ones have a
working default. Behaviour is called directly on the plugin (fast); events
that several plugins may hear arrive through the hooks of
:mod:`tradekit.hookspecs`, which any plugin may also implement with
``@hookimpl``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from tradekit.domain.events import NotifierEvent, RiskVerdict
from tradekit.domain.orders import OrderType, TriggerDirection
from tradekit.hookspecs import hookimpl

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from tradekit.domain.bars import BarSeries
    from tradekit.domain.instruments import Instrument
    from tradekit.domain.orders import Fill, Order, OrderIntent, OrderUpdate
    from tradekit.domain.portfolio import Balance, Position
    from tradekit.domain.run import RiskContext
    from tradekit.indicators_incremental import Indicators
    from tradekit.report.strategy_report import StrategyReport

KINDS: tuple[str, ...] = ("exchange", "strategy", "risk", "notifier", "model")


class PluginSettings(BaseModel):
    """Base of every plugin's settings model: unknown keys are refused, so typos are caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoSettings(PluginSettings):
    """For plugins that take no settings."""


class Plugin:
    """What every plugin kind shares: a name, a kind and a settings model."""

    kind: ClassVar[str] = ""
    Settings: ClassVar[type[PluginSettings]] = NoSettings

    def __init__(self, settings: PluginSettings | None = None, *, name: str | None = None) -> None:
        self.settings = settings if settings is not None else self.Settings()
        self.name = name or type(self).__name__.lower()
        self.log = logging.getLogger(f"tradekit.plugin.{self.name}")


# --- exchange ----------------------------------------------------------------


@dataclass(frozen=True)
class Capabilities:
    """What an exchange plugin supports; ``tradekit plugins info`` shows it."""

    order_types: frozenset[OrderType] = frozenset({OrderType.MARKET, OrderType.LIMIT})
    trigger_directions: frozenset[TriggerDirection] = frozenset()
    post_only: bool = False
    reduce_only: bool = False
    cancel: bool = True
    client_order_id: bool = True
    positions: bool = False
    testnet: bool = False
    simulated: bool = False
    timeframes: tuple[str, ...] = ("1m", "5m", "15m", "1h", "4h", "1d")
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly view, for listings."""
        return {
            "order_types": sorted(t.value for t in self.order_types),
            "trigger_directions": sorted(d.value for d in self.trigger_directions),
            "post_only": self.post_only,
            "reduce_only": self.reduce_only,
            "cancel": self.cancel,
            "client_order_id": self.client_order_id,
            "positions": self.positions,
            "testnet": self.testnet,
            "simulated": self.simulated,
            "timeframes": list(self.timeframes),
            **self.extra,
        }


#: Everything an exchange can claim, on a simulated venue: the kernel's own venue takes every order type
#: and trigger direction, post-only and reduce-only orders, and keeps positions. A run whose loop was not
#: told its exchange's capabilities assumes these; the paper and fake exchanges claim them (each with its
#: own ``timeframes``, through :func:`dataclasses.replace`).
SIMULATED_VENUE = Capabilities(
    order_types=frozenset(OrderType),
    trigger_directions=frozenset(TriggerDirection),
    post_only=True,
    reduce_only=True,
    positions=True,
    simulated=True,
)


class Exchange(Plugin):
    """A venue: where market data comes from and where orders go.

    Orders are sent with their client order id already set; the exchange must
    carry it to the venue (in the venue's format) so an order can always be
    looked up after a lost reply. What the venue says about orders later
    (acknowledgements, fills, cancels) is returned by :meth:`poll_events`.

    Required: :meth:`instruments`, :meth:`submit_order`, :meth:`cancel_order`,
    :meth:`fetch_order`, :meth:`open_orders`, :meth:`balances`,
    :meth:`poll_events`, :meth:`fetch_bars`.
    Optional: :meth:`connect`, :meth:`close`, :meth:`positions`,
    :meth:`latest_price`, :meth:`fees`, :meth:`default_symbols`, :meth:`use_data`;
    :meth:`resume_order` for a venue that live runs are taken up on after a restart.
    """

    kind = "exchange"
    capabilities: ClassVar[Capabilities] = Capabilities()

    def connect(self) -> None:
        """Optional. Open connections and log in; called once before anything else."""

    def close(self) -> None:
        """Optional. Release connections; called once at the end of a run."""

    def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        """Required. The venue's rules (tick, lot, minimums) for ``symbols``."""
        raise NotImplementedError

    def submit_order(self, order: Order) -> None:
        """Required. Send ``order``; raise an :class:`~tradekit.errors.ExchangeError` if refused."""
        raise NotImplementedError

    def cancel_order(self, order: Order) -> None:
        """Required. Ask the venue to cancel ``order``; the result arrives as an update."""
        raise NotImplementedError

    def fetch_order(self, client_order_id: str, symbol: str) -> Order | None:
        """Required. The venue's view of one order, or None if it does not know it."""
        raise NotImplementedError

    def resume_order(self, order: Order, fills: Sequence[Fill]) -> Order | None:
        """Recommended for a live venue. Take up an order of a run that died and was started again.

        ``order`` is the journal's record of it (its status and filled
        quantity as the dead run last heard them) and ``fills`` the fills the
        journal booked for it. Return the venue's view of the order (None: the
        venue does not know it) and from then on report through
        :meth:`poll_events` every fill of it that is not among ``fills`` (by
        the venue's own id for the fill: those made while no process was
        watching too), then how it ended, as for an order sent by this process.

        The default only looks the order up with :meth:`fetch_order`, which
        cannot tell which of the venue's fills were booked: a resumed run then
        cannot book fills made while it was down, and says so (see
        :func:`follows_resumed_orders`).
        """
        return self.fetch_order(order.client_order_id, order.symbol)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Required. Every resting order (of ``symbol``, or all)."""
        raise NotImplementedError

    def balances(self) -> dict[str, Balance]:
        """Required. Cash per currency."""
        raise NotImplementedError

    def positions(self) -> dict[str, Position]:
        """Optional. Open positions (derivatives venues); spot venues may leave it empty."""
        return {}

    def poll_events(self) -> list[OrderUpdate | Fill]:
        """Required. Order updates and fills since the last call, oldest first."""
        raise NotImplementedError

    def fetch_bars(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int | None = None
    ) -> BarSeries:
        """Required. Closed candles of ``symbol`` from ``since`` (oldest first)."""
        raise NotImplementedError

    def latest_price(self, symbol: str) -> Decimal | None:
        """Optional. The last traded price, if the venue offers it cheaply."""
        return None

    def fees(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        """Optional. ``(maker, taker)`` fee rates of ``symbol``, for simulated fills; None if unknown."""
        return None

    def default_symbols(self) -> tuple[str, ...]:
        """Optional. Symbols to trade when the user names none (none by default)."""
        return ()

    def use_data(self, data: dict[str, BarSeries]) -> None:
        """Optional. A backtest tells the exchange which bars it will simulate on."""

    def fetch_history(self, symbol: str, timeframe: str, start: datetime | None, end: datetime | None) -> BarSeries:
        """Optional. Every closed candle in ``[start, end)`` for a backtest; by default :meth:`fetch_bars`."""
        return self.fetch_bars(symbol, timeframe, since=start)

    def market_ended(self, symbol: str, timeframe: str) -> bool:
        """Optional. Whether a simulated market has shown its last bar (a run then stops); real ones never end."""
        return False


def follows_resumed_orders(exchange: Exchange) -> bool:
    """Whether ``exchange`` reports the fills an order made while its run was down (it has its own resume_order)."""
    return type(exchange).resume_order is not Exchange.resume_order


# --- strategy ------------------------------------------------------------------


class StrategyContext(Protocol):
    """What the engine offers a strategy while it runs; the same in every mode.

    ``history()`` returns the bars up to and including the current one and
    nothing later: a strategy cannot see the future through it.
    """

    @property
    def index(self) -> int:
        """The number of the current bar in the run (0-based)."""
        ...

    @property
    def now(self) -> datetime:
        """The open time of the current bar."""
        ...

    @property
    def symbols(self) -> tuple[str, ...]:
        """The run's symbols, in config order."""
        ...

    @property
    def capabilities(self) -> Capabilities:
        """What the run's exchange takes (order types, post-only, reduce-only...), to shape orders by.

        A backtest or dry run fills on the simulated venue but answers with the
        named exchange's capabilities, so a strategy sends there what it would
        send live.
        """
        ...

    def close(self, symbol: str | None = None) -> float:
        """The current bar's close (of the first symbol by default)."""
        ...

    def history(self, symbol: str | None = None) -> BarSeries:
        """The bars so far, the current one last."""
        ...

    def instrument(self, symbol: str | None = None) -> Instrument:
        """The venue's rules for ``symbol``."""
        ...

    def position(self, symbol: str | None = None) -> Decimal:
        """The signed quantity held."""
        ...

    def cash(self) -> Decimal:
        """Free cash in the run's quote currency."""
        ...

    def equity(self) -> Decimal:
        """Cash plus positions at the current close."""
        ...

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """This run's resting orders."""
        ...

    def submit(self, intent: OrderIntent) -> str | None:
        """Send an intent through risk to the exchange; its client order id, or None if vetoed."""
        ...

    def cancel(self, client_order_id: str) -> None:
        """Cancel a resting order of this run."""
        ...

    def save_state(self, state: dict[str, Any]) -> None:
        """Journal the strategy's state (JSON-serialisable) so a restart can rebuild it."""
        ...

    def wake_when(
        self,
        symbol: str | None = None,
        *,
        above: Decimal | float | None = None,
        below: Decimal | float | None = None,
    ) -> None:
        """A price alert: call :meth:`Strategy.on_bar` on the first later bar that reaches a price.

        A backtest that skips idle bars (see :meth:`Strategy.wakeups`) then also
        visits the first bar after the current one whose high is at or above
        ``above`` or whose low is at or below ``below``, as it does for a
        resting order. One alert per symbol (the first symbol by default): each
        call replaces the last one, a call with neither price clears it, and it
        stays set, waking every bar that reaches it, until then. A live run
        visits every bar anyway, so there it changes nothing.
        """
        ...


class Strategy(Plugin):
    """Decides what to trade.

    Required: :meth:`on_bar`.
    Optional: :meth:`indicators`, :attr:`warmup`, :meth:`prepare`, :meth:`wakeups`, :meth:`on_start`,
    :meth:`on_order_update`, :meth:`on_fill`, :meth:`on_stop`, :meth:`restore`,
    :meth:`report`, :meth:`status`.
    """

    kind = "strategy"

    def indicators(self) -> Indicators | None:
        """Optional. The indicators :meth:`on_bar` reads, declared (see :mod:`tradekit.indicators_incremental`).

        Declaring them gives the default :attr:`warmup`: the bars they need
        together before each has a value. None (the default) declares nothing.
        """
        return None

    @property
    def warmup(self) -> int:
        """Optional. Bars of history needed before the first decision.

        The engine calls :meth:`on_bar` first on the bar where this many bars
        have been seen, in a backtest and live alike, and a live run fetches at
        least this much history before it starts. By default, what the
        declared :meth:`indicators` need (0 when none are declared).
        """
        declared = self.indicators()
        return declared.warmup if declared is not None else 0

    def on_start(self, ctx: StrategyContext) -> None:
        """Optional. Called once before the first bar."""

    def on_bar(self, ctx: StrategyContext) -> None:
        """Required. Called when a bar closes (once per time step for all symbols)."""
        raise NotImplementedError

    def prepare(self, data: dict[str, BarSeries]) -> None:
        """Optional. A backtest hands over its whole series once, before the first bar.

        A strategy may compute its indicators over the whole arrays here and
        read them by ``ctx.index`` in :meth:`on_bar`, instead of recomputing
        them from ``ctx.history()`` on every bar (a live run never calls this,
        so :meth:`on_bar` must still work without it). Every value at index
        ``i`` must use only bars up to ``i``; test that both ways decide alike
        (``tests/engine/test_sma_cross_correctness.py`` does it for ``sma_cross``).
        """

    def wakeups(self, data: dict[str, BarSeries]) -> NDArray[np.bool_] | None:
        """Optional. A backtest shortcut: the bars on which :meth:`on_bar` may act.

        Return a boolean array as long as the data, True where the strategy
        could do something, computed only from bars up to each index (no
        lookahead). The engine then calls :meth:`on_bar` only on those bars,
        on bars where one of the strategy's resting orders may trigger, and on
        bars that reach a price alert set with ``ctx.wake_when`` (a strategy
        that decides only on fills and alerts returns an array of False).
        ``None`` (the default) means every bar. A strategy whose ``on_bar``
        acts on a bar this array marks False is wrong; test it by running
        both ways and compare.
        """
        return None

    def on_order_update(self, ctx: StrategyContext, order: Order) -> None:
        """Optional. One of this strategy's orders changed state."""

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        """Optional. One of this strategy's orders filled (partly)."""

    def on_stop(self, ctx: StrategyContext) -> None:
        """Optional. Called once after the last bar."""

    def report(self) -> StrategyReport | None:
        """Optional. What the strategy adds to its backtest report, asked once after :meth:`on_stop`.

        Return a :class:`~tradekit.report.strategy_report.StrategyReport`:
        tables of its own (one row per cycle, say), a summary, and timelines
        of categories by bar index (its phase over time, given by the bar of
        each change). ``tradekit backtest`` prints the tables, puts the report
        in ``--json`` and in the journal's stored report, and the HTML report
        colours the equity curve by the first timeline and draws each in a
        panel. None (the default) adds nothing.
        """
        return None

    def status(self) -> str | dict[str, str] | None:
        """Optional. A short status for the live display of ``tradekit run``, asked after each bar.

        A line of text, or a few named fields (``{"phase": "ADVANCE", ...}``)
        shown beside the run's own figures; keep it cheap, it is called on
        every bar. None (the default) shows nothing.
        """
        return None

    def restore(self, state: dict[str, Any], open_orders: list[Order]) -> None:
        """Optional. Rebuild from the last journaled state and the venue's open orders.

        Called instead of :meth:`on_start` when ``tradekit run`` takes up a run
        that died (see :mod:`tradekit.session.resume`). ``state`` is the last
        dict given to ``ctx.save_state`` (``{}`` if none was), ``open_orders``
        this strategy's orders still working at the venue now. An order the
        state names that is not among them is no longer working: a fill that
        happened while the run was down follows through :meth:`on_fill`;
        otherwise (cancelled, rejected, never acknowledged) it is gone, and
        the strategy places again what it needs. Save every change with
        ``ctx.save_state`` so that nothing needed here is missing.
        """


# --- risk ------------------------------------------------------------------------


class RiskRule(Plugin):
    """Judges every order intent before it is sent.

    Required: :meth:`check`. A rule that raises blocks the order (fail closed).
    Optional: any other hook (``tradekit_fill`` to count losses, for instance).
    """

    kind = "risk"

    def check(self, intent: OrderIntent, context: RiskContext) -> RiskVerdict | None:
        """Required. Accept, resize or reject ``intent``; None is no opinion."""
        raise NotImplementedError

    @hookimpl
    def tradekit_risk_check(self, intent: OrderIntent, context: RiskContext) -> RiskVerdict | None:
        """Routes the risk hook to :meth:`check`."""
        return self.check(intent, context)


# --- notifier ------------------------------------------------------------------


class NotifierSettings(PluginSettings):
    """Settings every notifier has: which event kinds it sends (all when empty)."""

    events: tuple[str, ...] = ()


class Notifier(Plugin):
    """Tells people what happens.

    Required: :meth:`send`. It must not block the engine: queue and return.
    Optional: :meth:`close` (flush what is queued).
    A notifier that raises is logged and trading goes on (fail open).
    """

    kind = "notifier"
    Settings: ClassVar[type[PluginSettings]] = NotifierSettings

    def wants(self, event: NotifierEvent) -> bool:
        """Whether the settings' ``events`` filter lets ``event`` through."""
        wanted = getattr(self.settings, "events", ())
        return not wanted or event.kind in wanted

    def send(self, event: NotifierEvent) -> None:
        """Required. Deliver (or queue) one event."""
        raise NotImplementedError

    def close(self) -> None:
        """Optional. Flush and release resources at the end of a run."""

    @hookimpl
    def tradekit_notify(self, event: NotifierEvent) -> None:
        """Routes the notify hook to :meth:`send`, after the event filter."""
        if self.wants(event):
            self.send(event)


# --- model -----------------------------------------------------------------------


class Model(Plugin):
    """Turns features of the market into a prediction a strategy uses.

    Required: :meth:`fit`, :meth:`predict`, :meth:`save`, :meth:`load`.
    Optional: :attr:`features` (names of the features it needs), :attr:`metadata`,
    :meth:`score`, :meth:`read_metadata` (``tradekit model train`` and ``tradekit model info`` use them).
    """

    kind = "model"
    features: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: PluginSettings | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        #: Optional. What :meth:`save` writes beside the model (features, training window, horizon,
        #: data hash, library versions, metrics): :meth:`fit` and :meth:`load` fill it, and
        #: ``tradekit model train`` adds ``window`` and ``walk_forward`` to it before saving.
        self.metadata: dict[str, Any] = {}

    def fit(self, data: BarSeries, horizon: int) -> dict[str, Any]:
        """Required. Train on ``data``; returns metrics."""
        raise NotImplementedError

    def predict(self, data: BarSeries) -> NDArray[np.float64]:
        """Required. One prediction per bar, each from bars up to it only."""
        raise NotImplementedError

    def save(self, path: Path) -> None:
        """Required. Write the trained model and its metadata to ``path``."""
        raise NotImplementedError

    @classmethod
    def load(cls, path: Path) -> Model:
        """Required. Read a model written by :meth:`save`; refuse a mismatched one."""
        raise NotImplementedError

    def score(self, data: BarSeries, predictions: NDArray[np.float64], horizon: int) -> dict[str, float]:
        """Optional. How ``predictions``, one per bar of ``data`` and made out of sample, turned out.

        ``tradekit model train`` calls it on each walk-forward test window, with
        the ``horizon`` the model was fit for, and prints one column per key.
        Bars whose outcome lies beyond ``data`` are left out. By default nothing
        is scored (an empty dict).
        """
        return {}

    @classmethod
    def read_metadata(cls, path: Path) -> dict[str, Any] | None:
        """Optional. The metadata of an artifact this class wrote, without loading the model; None if not one.

        ``tradekit model info`` asks each installed model in turn; raise a
        :class:`~tradekit.errors.UserError` for a file that is this class's but
        cannot be used. By default None (this class cannot tell without loading).
        """
        return None


#: The base class of each kind, by kind name.
BASE_CLASSES: dict[str, type[Plugin]] = {
    "exchange": Exchange,
    "strategy": Strategy,
    "risk": RiskRule,
    "notifier": Notifier,
    "model": Model,
}
