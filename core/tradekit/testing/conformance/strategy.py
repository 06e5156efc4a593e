"""``StrategyConformance``: what every strategy plugin must do, checked through the real engine."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

import pytest

from tradekit.plugin import Strategy
from tradekit.testing.conformance.base import PluginConformance, rule, violated

if TYPE_CHECKING:
    from tradekit.domain.bars import BarSeries
    from tradekit.domain.instruments import Instrument
    from tradekit.testing.harness import Decision, StrategyRun


def first_difference(left: Sequence[Decision], right: Sequence[Decision]) -> int | None:
    """The position of the first decision two runs disagree on (by time and content), or None."""
    for position, (a, b) in enumerate(zip(left, right, strict=False)):
        if a.key != b.key:
            return position
    if len(left) != len(right):
        return min(len(left), len(right))
    return None


def describe_difference(left: Sequence[Decision], right: Sequence[Decision], names: tuple[str, str]) -> str:
    """Where two decision lists part, in words."""
    position = first_difference(left, right)
    assert position is not None
    a = str(left[position]) if position < len(left) else "(no more decisions)"
    b = str(right[position]) if position < len(right) else "(no more decisions)"
    return f"decision {position + 1}: {names[0]}: {a}; {names[1]}: {b}"


class StrategyConformance(PluginConformance):
    """The rules every strategy follows, checked by running it with the engine on the paper venue.

    Set :attr:`plugin` and :attr:`settings`; optionally:

    * ``symbols``: the run's symbols (default ``("BTC/USDT",)``);
    * ``timeframe`` (default ``"1h"``) and ``bar_count`` (default 1500): the bars it runs on;
    * ``market``: ``"auto"`` (real Binance bars from the project's ``shared/data`` folder or
      ``$TRADEKIT_TEST_DATA`` when found, the seeded simulator otherwise; every message names
      which), ``"simulated"``, or the path of a bar file;
    * ``cash`` (default 100000), ``lot_size`` (default ``"0.0001"``), ``tick_size`` (default: the
      data's precision), ``min_notional`` (default 0): the paper venue's account and rules;
    * ``cut_points``: how many bars, spread over the run, the lookahead and restart rules cut at (default 3);
    * ``bars(self)``: the bars, as ``{symbol: BarSeries}``, to override all of the above;
    * ``make_strategy(self)``: build the strategy (default ``plugin(settings)``).

    Rules: ``strategy.deterministic``, ``strategy.no-lookahead``, ``strategy.valid-intents``,
    ``strategy.survives-restart``, ``strategy.wakeups``, ``strategy.live-matches-backtest``,
    ``strategy.settings-validated``.
    """

    kind = "strategy"
    plugin: ClassVar[type[Strategy]]
    symbols: ClassVar[tuple[str, ...]] = ("BTC/USDT",)
    timeframe: ClassVar[str] = "1h"
    bar_count: ClassVar[int] = 1_500
    market: ClassVar[str] = "auto"
    cash: ClassVar[Decimal | str] = Decimal(100_000)
    lot_size: ClassVar[Decimal | str] = Decimal("0.0001")
    tick_size: ClassVar[Decimal | str | None] = None
    min_notional: ClassVar[Decimal | str] = Decimal(0)
    cut_points: ClassVar[int] = 3

    def make_strategy(self) -> Strategy:
        """A fresh strategy with :attr:`settings`."""
        return self.plugin(self.plugin_settings(), name=self.plugin_name)

    def bars(self) -> dict[str, BarSeries]:
        """The bars every rule runs on (see the class docstring)."""
        from tradekit.testing.bars import conformance_market

        return conformance_market(self.symbols, timeframe=self.timeframe, bars=self.bar_count, market=self.market)

    # -- running --------------------------------------------------------------------------------------

    def _data(self) -> tuple[dict[str, BarSeries], dict[str, Instrument], str]:
        from tradekit.testing.harness import paper_instruments

        data = self.bars()
        tick = Decimal(str(self.tick_size)) if self.tick_size is not None else None
        instruments = paper_instruments(
            data, tick_size=tick, lot_size=Decimal(str(self.lot_size)), min_notional=Decimal(str(self.min_notional))
        )
        first = next(iter(data.values()))
        where = f"{len(first)} {first.timeframe} bars of {', '.join(data)} from {first.source or 'unnamed data'}"
        return data, instruments, where

    def _backtest(
        self, data: dict[str, BarSeries], instruments: dict[str, Instrument], *, skip_idle_bars: bool = True
    ) -> StrategyRun:
        from tradekit.testing.harness import backtest

        return backtest(
            self.make_strategy(),
            data,
            instruments,
            cash=Decimal(str(self.cash)),
            skip_idle_bars=skip_idle_bars,
        )

    def _cuts(self, run: StrategyRun | None, length: int) -> list[int]:
        """Bars to cut at.

        With a ``run``: bars it decided on, spread over the run (a peek at the
        next bar changes those decisions first), topped up with evenly spread
        bars. Without: evenly spread bars only (a restart right after a decision
        hides a lost counter whose period divides the gap; between decisions it shows).
        """
        even = [length * (k + 1) // (self.cut_points + 1) for k in range(self.cut_points)]
        if run is None:
            return even
        decided = sorted({decision.index for decision in run.decisions if 0 < decision.index < length - 2})
        if len(decided) >= self.cut_points:
            step = len(decided) / self.cut_points
            return [decided[int(step * k + step / 2)] for k in range(self.cut_points)]
        return sorted({*decided, *even})

    # -- rules ------------------------------------------------------------------------------------------

    @rule("strategy.deterministic")
    def test_deterministic(self) -> None:
        """Two fresh instances on the same bars decide exactly alike."""
        data, instruments, where = self._data()
        first = self._backtest(data, instruments)
        second = self._backtest(data, instruments)
        if first_difference(first.decisions, second.decisions) is not None:
            violated(
                "strategy.deterministic",
                f"two runs on the same {where} decided differently: "
                f"{describe_difference(first.decisions, second.decisions, ('first run', 'second run'))}. "
                "Seed any randomness from the settings, and keep no state outside the instance",
            )

    @rule("strategy.no-lookahead")
    def test_no_lookahead(self) -> None:
        """Altering only the bars after bar k changes no decision made up to bar k."""
        from tradekit.testing.bars import mirror_after

        data, instruments, where = self._data()
        base = self._backtest(data, instruments)
        length = len(next(iter(data.values())))
        for cut in self._cuts(base, length):
            altered = {symbol: mirror_after(series, cut) for symbol, series in data.items()}
            other = self._backtest(altered, instruments)
            before = [d for d in base.decisions if d.index <= cut]
            after = [d for d in other.decisions if d.index <= cut]
            if first_difference(before, after) is not None:
                violated(
                    "strategy.no-lookahead",
                    f"decisions up to bar {cut} changed when only bars after {cut} were altered (prices mirrored "
                    f"around bar {cut}'s close) on {where}: "
                    f"{describe_difference(before, after, ('original bars', 'altered bars'))}. A decision may "
                    "use bars up to its own only: check prepare(), wakeups() and anything that reads the data "
                    "beyond ctx.history()",
                )

    @rule("strategy.valid-intents")
    def test_valid_intents(self) -> None:
        """Every intent names a symbol of the run, a positive quantity on the lot and prices on the tick."""
        data, instruments, where = self._data()
        run = self._backtest(data, instruments)
        if not run.intents:
            violated(
                "strategy.valid-intents",
                f"the strategy sent no intent on {where}, so nothing it decides could be checked; give the "
                "suite settings or bars() under which it trades",
            )
        for index, intent in run.intents:
            instrument = instruments.get(intent.symbol)
            at = f"bar {index}: {intent.side.value} {intent.quantity} {intent.symbol} ({intent.type.value})"
            if instrument is None:
                violated("strategy.valid-intents", f"{at}: {intent.symbol!r} is not a symbol of the run ({where})")
            problems = [instrument.quantity_problem(intent.quantity, None)]
            problems += [instrument.price_problem(p) for p in (intent.price, intent.trigger_price) if p is not None]
            for problem in problems:
                if problem is not None:
                    violated(
                        "strategy.valid-intents",
                        f"{at}: {problem}; round with ctx.instrument().round_quantity() / round_price() ({where})",
                    )
        refused = run.rejected
        if refused:
            order = refused[0]
            violated(
                "strategy.valid-intents",
                f"the venue refused {len(refused)} order(s); the first, {order.side.value} {order.quantity} "
                f"{order.symbol} ({order.type.value}, tag {order.tag!r}): {order.reason} ({where})",
            )
        if run.engine.stats.errors:
            violated(
                "strategy.valid-intents",
                f"the engine counted {run.engine.stats.errors} error(s) in the strategy's orders (a client order "
                f"id sent twice, say); see the log ({where})",
            )

    @rule("strategy.survives-restart")
    def test_survives_restart(self) -> None:
        """Stopped after bar k and rebuilt from its saved state and open orders, it decides as if never stopped."""
        from tradekit.testing.harness import replay_live

        data, instruments, where = self._data()
        cash = Decimal(str(self.cash))
        whole = replay_live(self.make_strategy, data, instruments, cash=cash)
        length = len(next(iter(data.values())))
        for cut in self._cuts(None, length):
            restarted = replay_live(self.make_strategy, data, instruments, cash=cash, restart_after=cut)
            moment = next(iter(data.values())).datetime_at(cut)
            expected = [d for d in whole.decisions if d.time > moment]
            actual = [d for d in restarted.decisions if d.time > moment]
            if first_difference(expected, actual) is not None:
                saved = "no state saved" if not restarted.states else f"last saved state {restarted.states[-1]!r}"
                violated(
                    "strategy.survives-restart",
                    f"after a restart following bar {cut} ({saved}), decisions differ from a run that never "
                    f"stopped, on {where}: {describe_difference(expected, actual, ('never stopped', 'restarted'))}. "
                    "Save what on_bar needs with ctx.save_state() and rebuild it in restore(state, open_orders)",
                )

    @rule("strategy.wakeups")
    def test_wakeups(self) -> None:
        """Visiting only the bars wakeups() marks decides exactly as visiting every bar."""
        data, instruments, where = self._data()
        if self.make_strategy().wakeups(data) is None:
            pytest.skip("the strategy does not implement wakeups(): every bar is visited")
        shortcut = self._backtest(data, instruments)
        every = self._backtest(data, instruments, skip_idle_bars=False)
        if first_difference(every.decisions, shortcut.decisions) is not None:
            violated(
                "strategy.wakeups",
                f"wakeups() left out a bar on which the strategy acts, on {where}: "
                f"{describe_difference(every.decisions, shortcut.decisions, ('every bar', 'wake-up bars'))}",
            )

    @rule("strategy.live-matches-backtest")
    def test_live_matches_backtest(self) -> None:
        """Fed one bar at a time by the live loop (no prepare(), no wakeups()) it decides as in a backtest."""
        from tradekit.testing.harness import first_live_bar, replay_live

        data, instruments, where = self._data()
        backtested = self._backtest(data, instruments)
        live = replay_live(self.make_strategy, data, instruments, cash=Decimal(str(self.cash)))
        series = next(iter(data.values()))
        start, end = series.datetime_at(first_live_bar(self.make_strategy())), series.datetime_at(len(series) - 1)
        # The live loop never calls on_stop: decisions on the last bar are left out.
        expected = [d for d in backtested.decisions if start <= d.time < end]
        actual = [d for d in live.decisions if start <= d.time < end]
        if first_difference(expected, actual) is not None:
            violated(
                "strategy.live-matches-backtest",
                f"fed bar by bar as in a live run, the strategy decided differently than in a backtest on {where}: "
                f"{describe_difference(expected, actual, ('backtest', 'live'))}. on_bar must decide alike with "
                "and without prepare() (a live run never calls it)",
            )

    @rule("strategy.settings-validated")
    def test_settings_validated(self) -> None:
        """Unknown settings are refused, naming the key; the plugin keeps its name and settings."""
        self.check_settings("strategy.settings-validated")
