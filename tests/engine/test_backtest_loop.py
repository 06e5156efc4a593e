"""The backtest loop: when fills happen, what a strategy may see, which bars it visits, and the equity curve."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from tradekit.domain.bars import BarSeries
from tradekit.domain.orders import Fill, Order, OrderIntent, OrderType, Side, TriggerDirection
from tradekit.journal import Journal
from tradekit.plugin import Strategy, StrategyContext
from tradekit.registry import Registry
from tradekit.session import run_backtest
from tradekit.settings import load_settings

D = Decimal
SYMBOL = "BTC/USDT"


def bar_index(bars: BarSeries, fill: Fill) -> int:
    """The bar a fill happened on, found from its timestamp."""
    stamp = int(fill.timestamp.timestamp()) * 1_000_000_000
    [index] = np.flatnonzero(bars.timestamps == stamp)
    return int(index)


class MarketBuy(Strategy):
    """Buys 1 at market on bar ``at``."""

    def __init__(self, at: int) -> None:
        super().__init__(name="market_buy")
        self.at = at
        self.fills: list[Fill] = []

    def on_bar(self, ctx: StrategyContext) -> None:
        if ctx.index == self.at:
            ctx.submit(OrderIntent(symbol=SYMBOL, side=Side.BUY, quantity=D("1")))

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        self.fills.append(fill)


@pytest.mark.parametrize(("fill_at_close", "bar", "price"), [(True, 2, "101.5"), (False, 3, "101.25")])
def test_a_market_order_fills_at_the_close_of_its_bar_or_the_open_of_the_next(
    make_rig: Any, make_bars: Any, fill_at_close: bool, bar: int, price: str
) -> None:
    bars = make_bars([100.0, 100.5, 101.5, 102.0, 102.5], open=[100.0, 100.25, 100.5, 101.25, 102.0])
    rig = make_rig()
    strategy = MarketBuy(at=2)
    outcome = rig.run(strategy, {SYMBOL: bars}, fill_at_close=fill_at_close)
    [fill] = strategy.fills
    assert (bar_index(bars, fill), fill.price) == (bar, D(price))
    assert outcome.in_market.tolist() == [i >= bar for i in range(5)]
    assert outcome.equity[bar - 1] == 10_000.0


class Watcher(Strategy):
    """Records what it sees on every call; optionally wakes only on some bars."""

    def __init__(self, warmup: int = 0, wake_every: int | None = None) -> None:
        super().__init__(name="watcher")
        self._warmup = warmup
        self.wake_every = wake_every
        self.seen: list[tuple[int, int, int, int]] = []

    @property
    def warmup(self) -> int:
        return self._warmup

    def wakeups(self, data: dict[str, BarSeries]) -> Any:
        if self.wake_every is None:
            return None
        return np.arange(len(next(iter(data.values())))) % self.wake_every == 0

    def on_bar(self, ctx: StrategyContext) -> None:
        history = ctx.history()
        now_ns = int(ctx.now.timestamp()) * 1_000_000_000
        self.seen.append((ctx.index, len(history), int(history.timestamps[-1]), now_ns))


@pytest.mark.parametrize("skip_idle_bars", [True, False])
def test_warmup_holds_back_the_first_call_until_enough_bars_are_seen(
    make_rig: Any, random_walk: Any, skip_idle_bars: bool
) -> None:
    bars = random_walk(40, seed=1)
    strategy = Watcher(warmup=7)
    make_rig().run(strategy, {SYMBOL: bars}, skip_idle_bars=skip_idle_bars)
    indices = [index for index, *_ in strategy.seen]
    assert indices == list(range(6, 40))
    assert strategy.seen[0][1] == 7


@pytest.mark.parametrize(("skip_idle_bars", "wake_every"), [(False, None), (True, None), (True, 5)])
def test_history_never_holds_a_bar_after_the_current_one(
    make_rig: Any, random_walk: Any, skip_idle_bars: bool, wake_every: int | None
) -> None:
    bars = random_walk(60, seed=2)
    strategy = Watcher(warmup=3, wake_every=wake_every)
    make_rig().run(strategy, {SYMBOL: bars}, skip_idle_bars=skip_idle_bars)
    assert strategy.seen
    for index, length, last, now in strategy.seen:
        assert length == index + 1
        assert last == now == int(bars.timestamps[index])
    visited = [index for index, *_ in strategy.seen]
    assert visited == (list(range(2, 60)) if wake_every is None else [2, *range(5, 60, 5)])


class Ladder(Strategy):
    """Every ``every`` bars: cancels what rests and lays a ladder of buy limits, a buy stop and exits.

    Each buy that fills gets a take-profit sell limit at once (from ``on_fill``),
    so orders rest, trigger and fill between the bars the strategy wakes on.
    """

    every = 50

    def __init__(self) -> None:
        super().__init__(name="ladder")

    def wakeups(self, data: dict[str, BarSeries]) -> Any:
        return np.arange(len(next(iter(data.values())))) % self.every == 0

    def on_bar(self, ctx: StrategyContext) -> None:
        if ctx.index % self.every:
            return
        for order in ctx.open_orders():
            ctx.cancel(order.client_order_id)
        instrument = ctx.instrument()
        price = D(repr(ctx.close()))

        def at(factor: str) -> Decimal:
            return instrument.round_price(price * D(factor))

        for factor in ("0.995", "0.99", "0.98"):
            ctx.submit(
                OrderIntent(symbol=SYMBOL, side=Side.BUY, quantity=D("1"), type=OrderType.LIMIT, price=at(factor))
            )
        ctx.submit(
            OrderIntent(
                symbol=SYMBOL,
                side=Side.BUY,
                quantity=D("0.5"),
                type=OrderType.STOP,
                trigger_price=at("1.01"),
                trigger_direction=TriggerDirection.RISING,
            )
        )
        held = ctx.position()
        if held > 0:
            half = instrument.round_quantity(held / 2)
            if half > 0:
                ctx.submit(
                    OrderIntent(symbol=SYMBOL, side=Side.SELL, quantity=half, type=OrderType.LIMIT, price=at("1.008"))
                )
            ctx.submit(
                OrderIntent(
                    symbol=SYMBOL,
                    side=Side.SELL,
                    quantity=held - half,
                    type=OrderType.STOP,
                    trigger_price=at("0.985"),
                    trigger_direction=TriggerDirection.FALLING,
                )
            )

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        if fill.side is Side.BUY:
            take_profit = ctx.instrument().round_price(fill.price * D("1.004"))
            ctx.submit(
                OrderIntent(
                    symbol=SYMBOL, side=Side.SELL, quantity=fill.quantity, type=OrderType.LIMIT, price=take_profit
                )
            )


def test_jumping_over_idle_bars_gives_the_fills_and_equity_of_visiting_every_bar(
    make_rig: Any, random_walk: Any
) -> None:
    bars = random_walk(3_000, seed=11)
    runs = {}
    for skip in (True, False):
        rig = make_rig()
        runs[skip] = (rig.run(Ladder(), {SYMBOL: bars}, skip_idle_bars=skip), rig)
    (fast, fast_rig), (full, full_rig) = runs[True], runs[False]
    assert len(fast.fills) > 100, "the ladder trades a lot: the comparison means something"
    assert fast.fills == full.fills
    assert np.array_equal(fast.equity, full.equity)
    assert fast_rig.engine.ledger.cash == full_rig.engine.ledger.cash
    assert full.visited_bars == 3_000
    assert fast.visited_bars < 3_000 * 0.8


def test_the_equity_curve_is_cash_plus_positions_at_every_close(make_rig: Any, random_walk: Any) -> None:
    bars = random_walk(1_500, seed=5)
    rig = make_rig(maker="0.0003", taker="0.0011")
    outcome = rig.run(Ladder(), {SYMBOL: bars})
    assert len(outcome.fills) > 50
    # Rebuilt here in Decimal, bar by bar, from the fills alone.
    by_bar: dict[int, list[Fill]] = {}
    for fill in outcome.fills:
        by_bar.setdefault(bar_index(bars, fill), []).append(fill)
    cash, held = D("10000"), D(0)
    expected, exposed = [], []
    for i, close in enumerate(bars.close):
        for fill in by_bar.get(i, []):
            cash -= fill.side.sign * fill.quantity * fill.price + fill.fee
            held += fill.side.sign * fill.quantity
        expected.append(float(cash + held * D(repr(float(close)))))
        exposed.append(held != 0)
    assert np.allclose(outcome.equity, expected, rtol=0, atol=1e-6)
    assert outcome.in_market.tolist() == exposed
    assert cash == rig.engine.ledger.cash["USDT"] == rig.venue.ledger.cash["USDT"]
    assert outcome.fees_paid == sum((fill.fee for fill in outcome.fills), D(0)) > 0


class RestsFromTheStart(Strategy):
    """Places a buy limit in ``on_start`` (on the first bar's close) and waits ``warmup`` bars to decide."""

    def __init__(self) -> None:
        super().__init__(name="rests_from_the_start")
        self.fills: list[Fill] = []

    @property
    def warmup(self) -> int:
        return 6

    def wakeups(self, data: dict[str, BarSeries]) -> Any:
        return np.zeros(len(next(iter(data.values()))), dtype=bool)

    def on_start(self, ctx: StrategyContext) -> None:
        ctx.submit(OrderIntent(symbol=SYMBOL, side=Side.BUY, quantity=D("1"), type=OrderType.LIMIT, price=D("99")))

    def on_bar(self, ctx: StrategyContext) -> None:
        pass

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        self.fills.append(fill)


@pytest.mark.parametrize("skip_idle_bars", [True, False])
def test_an_order_placed_on_start_meets_only_the_bars_after_it(
    make_rig: Any, make_bars: Any, skip_idle_bars: bool
) -> None:
    # Bar 0 dipped to 98 before closing at 100, where the order was placed; bar 3 is the first to reach 99.
    bars = make_bars(
        [100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0],
        low=[98.0, 99.5, 99.5, 98.5, 98.0, 99.5, 99.5, 99.5],
        high=[100.5] * 8,
    )
    strategy = RestsFromTheStart()
    make_rig().run(strategy, {SYMBOL: bars}, skip_idle_bars=skip_idle_bars)
    [fill] = strategy.fills
    assert (bar_index(bars, fill), fill.price) == (3, D("99"))


# --- through the session ----------------------------------------------------------------------------


def write_csv(path: Path, minutes: list[int], closes: list[float]) -> None:
    rows = ["date,open,high,low,close,volume"]
    for minute, close in zip(minutes, closes, strict=True):
        rows.append(f"2024-03-01T00:{minute:02d}:00Z,{close},{close + 0.5},{close - 0.5},{close},10")
    path.write_text("\n".join(rows) + "\n")


def test_two_symbols_with_different_bar_times_are_aligned_and_both_prices_reach_the_strategy(
    install_plugins: Any, tmp_path: Path
) -> None:
    class Pair(Strategy):
        seen: ClassVar[list[tuple[int, float, float]]] = []

        def on_bar(self, ctx: StrategyContext) -> None:
            minute = ctx.now.minute
            self.seen.append((minute, ctx.close("AAA/USDT"), ctx.close("BBB/USDT")))
            if ctx.index == 2:
                for symbol in ctx.symbols:
                    ctx.submit(OrderIntent(symbol=symbol, side=Side.BUY, quantity=D("1")))

    install_plugins(strategy={"tk_pair": Pair})
    a_minutes = [0, 1, 2, 4, 5, 6, 7, 8, 9]
    b_minutes = [1, 2, 3, 4, 5, 7, 8, 9, 10]
    write_csv(tmp_path / "AAA_USDT-1m.csv", a_minutes, [10.0 + m for m in a_minutes])
    write_csv(tmp_path / "BBB_USDT-1m.csv", b_minutes, [200.0 + 2 * m for m in b_minutes])
    settings = load_settings(
        None, {"strategy": "tk_pair", "journal": tmp_path / "journal.sqlite3", "backtest": {"fee": "0"}}
    )
    result = run_backtest(
        settings,
        Registry(),
        origin="test",
        data_paths=[tmp_path / "AAA_USDT-1m.csv", tmp_path / "BBB_USDT-1m.csv"],
    )
    common = [1, 2, 4, 5, 7, 8, 9]
    assert list(result.data) == ["AAA/USDT", "BBB/USDT"]
    assert all(len(series) == len(common) for series in result.data.values())
    assert Pair.seen == [(m, 10.0 + m, 200.0 + 2 * m) for m in common]
    prices = {fill.symbol: fill.price for fill in result.outcome.fills}
    assert prices == {"AAA/USDT": D("14"), "BBB/USDT": D("208")}


def test_a_strategy_that_raises_ends_the_backtest_journaled_as_an_error(
    install_plugins: Any, make_bars: Any, tmp_path: Path
) -> None:
    class Fragile(Strategy):
        def on_bar(self, ctx: StrategyContext) -> None:
            if ctx.index == 1:
                ctx.submit(OrderIntent(symbol=SYMBOL, side=Side.BUY, quantity=D("1")))
            if ctx.index == 3:
                raise ZeroDivisionError("no volatility on bar 3")

    install_plugins(strategy={"tk_fragile": Fragile})
    settings = load_settings(None, {"strategy": "tk_fragile", "journal": tmp_path / "journal.sqlite3"})
    bars = make_bars([100.25, 100.5, 101.75, 101.25, 102.0])
    with pytest.raises(ZeroDivisionError, match="no volatility"):
        run_backtest(settings, Registry(), origin="test", data={SYMBOL: bars})
    with Journal(settings.journal) as journal:
        [run] = journal.list_runs()
        fills = journal.fills(run.run_id)
    assert run.finished
    assert run.end_reason == "error: ZeroDivisionError: no volatility on bar 3"
    assert len(fills) == 1 and run.fills == 1


def test_a_backtest_journals_every_order_at_its_end_unless_asked_not_to(tmp_path: Path) -> None:
    """Orders, their transitions, fills and positions reach the journal; journal_orders=false keeps only the run."""
    from tradekit.journal import Journal
    from tradekit.registry import Registry
    from tradekit.session import run_backtest
    from tradekit.settings import load_settings

    def backtest(journal_orders: bool):  # type: ignore[no-untyped-def]
        settings = load_settings(
            None,
            {
                "strategy": "sma_cross",
                "journal": tmp_path / f"journal-{journal_orders}.sqlite3",
                "backtest": {"journal_orders": journal_orders},
                "plugins": {"exchange": {"paper": {"bars": 3000}}},
            },
        )
        result = run_backtest(settings, Registry(), origin="test")
        with Journal(settings.journal) as journal:
            run = journal.get_run(result.run.run_id)
            return result, run, journal.orders(run.run_id), journal.fills(run.run_id), journal.report(run.run_id)

    full, run, orders, fills, report = backtest(True)
    assert full.engine_stats.orders > 10
    assert len(orders) == full.engine_stats.orders
    assert len(fills) == full.engine_stats.fills
    assert {order.status.value for order in orders} == {"filled"}
    history = Journal(tmp_path / "journal-True.sqlite3")
    with history:
        states = [status.value for _, status, _ in history.order_history(run.run_id, orders[0].client_order_id)]
    assert states == ["new", "accepted", "filled"]
    assert report is not None and "stats" in report

    lean, lean_run, lean_orders, lean_fills, lean_report = backtest(False)
    assert (lean_orders, lean_fills) == ([], [])
    assert lean_run.ended_at is not None and lean_report is not None
    assert lean.trades == full.trades


def test_a_long_backtest_journals_in_batches_and_forgets_finished_orders_without_losing_any(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written a few order states at a time and keeping one finished order, the journal still has them all."""
    import tradekit.engine.backtest as backtest_loop
    import tradekit.engine.recording as recording
    from tradekit.journal import Journal
    from tradekit.registry import Registry
    from tradekit.session import run_backtest
    from tradekit.settings import load_settings

    def backtest(name: str):  # type: ignore[no-untyped-def]
        settings = load_settings(
            None,
            {
                "strategy": "sma_cross",
                "journal": tmp_path / f"{name}.sqlite3",
                "plugins": {"exchange": {"paper": {"bars": 3000}}},
            },
        )
        result = run_backtest(settings, Registry(), origin="test")
        with Journal(settings.journal) as journal:
            run_id = result.run.run_id
            orders = journal.orders(run_id)
            histories = [
                [status.value for _, status, _ in journal.order_history(run_id, o.client_order_id)] for o in orders
            ]
            return result, orders, histories, journal.fills(run_id)

    reference, ref_orders, ref_histories, ref_fills = backtest("whole")
    monkeypatch.setattr(recording, "DEFERRED_BATCH", 7)
    monkeypatch.setattr(backtest_loop, "BACKTEST_KEEP_FINISHED", 1)
    batched, orders, histories, fills = backtest("batched")
    assert reference.engine_stats.orders > 20
    assert len(orders) == len(ref_orders) == batched.engine_stats.orders
    assert [(o.side, o.status, o.filled_quantity, o.average_fill_price) for o in orders] == [
        (o.side, o.status, o.filled_quantity, o.average_fill_price) for o in ref_orders
    ]
    assert histories == ref_histories and all(h == ["new", "accepted", "filled"] for h in histories)
    assert [(f.price, f.quantity) for f in fills] == [(f.price, f.quantity) for f in ref_fills]
    assert batched.trades == reference.trades


def test_a_backtest_collects_garbage_less_often_while_it_runs_and_restores_the_setting_even_when_it_fails() -> None:
    import gc

    from tradekit.engine.backtest import BACKTEST_GC_THRESHOLD, fewer_collections

    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    seen: list[tuple[tuple[int, ...], int]] = []

    @fewer_collections()
    def failing_run() -> None:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        raise RuntimeError("the strategy failed")

    with pytest.raises(RuntimeError, match="the strategy failed"):
        failing_run()

    # What existed before the run was frozen while it ran, and is not any more.
    [(threshold, frozen)] = seen
    assert threshold == (max(before[0], BACKTEST_GC_THRESHOLD), *before[1:])
    assert frozen > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_backtest_leaves_objects_frozen_by_someone_else_frozen() -> None:
    import gc

    from tradekit.engine.backtest import fewer_collections

    gc.freeze()
    try:
        frozen = gc.get_freeze_count()

        @fewer_collections()
        def run() -> int:
            return gc.get_freeze_count()

        assert run() == frozen
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


class QuietBuyer(Strategy):
    """Buys 1 at market on bar 1 and implements neither on_fill nor on_order_update."""

    def on_bar(self, ctx: StrategyContext) -> None:
        if ctx.index == 1:
            ctx.submit(OrderIntent(symbol=SYMBOL, side=Side.BUY, quantity=D("1")))


def test_callbacks_set_on_a_strategy_instance_are_called_like_overridden_ones(make_rig: Any, make_bars: Any) -> None:
    # The engine skips the base class's empty callbacks; one set on the instance is not the base class's.
    bars = make_bars([100.0, 100.5, 101.5, 102.0])
    strategy = QuietBuyer(name="quiet")
    fills: list[Fill] = []
    updates: list[str] = []
    strategy.on_fill = lambda ctx, fill: fills.append(fill)  # type: ignore[method-assign]
    strategy.on_order_update = lambda ctx, order: updates.append(order.status.value)  # type: ignore[method-assign]
    make_rig().run(strategy, {SYMBOL: bars})
    assert [fill.price for fill in fills] == [D("100.5")]
    assert updates == ["accepted", "filled"]


class Alternator(Strategy):
    """Buys or sells a little of each symbol in turn, every few bars, so both positions move apart."""

    def on_bar(self, ctx: StrategyContext) -> None:
        symbol = ctx.symbols[ctx.index % 2]
        if ctx.index % 3 == 0:
            ctx.submit(OrderIntent(symbol=symbol, side=Side.BUY, quantity=D("0.01")))
        elif ctx.index % 7 == 0 and ctx.position(symbol) > 0:
            ctx.submit(OrderIntent(symbol=symbol, side=Side.SELL, quantity=ctx.position(symbol)))


def test_the_equity_curve_of_two_symbols_marks_each_position_at_its_own_close(make_rig: Any, random_walk: Any) -> None:
    symbols = ("BTC/USDT", "ETH/USDT")
    data = {symbol: random_walk(600, seed=seed, symbol=symbol) for seed, symbol in enumerate(symbols, start=3)}
    outcome = make_rig(symbols, taker="0.001").run(Alternator(name="alternator"), data)
    assert {fill.symbol for fill in outcome.fills} == set(symbols)
    # Rebuilt here in Decimal, bar by bar, from the fills alone.
    by_bar: dict[int, list[Fill]] = {}
    for fill in outcome.fills:
        by_bar.setdefault(bar_index(data[fill.symbol], fill), []).append(fill)
    cash, held = D("10000"), dict.fromkeys(symbols, D(0))
    expected, exposed = [], []
    for i in range(600):
        for fill in by_bar.get(i, []):
            cash -= fill.side.sign * fill.quantity * fill.price + fill.fee
            held[fill.symbol] += fill.side.sign * fill.quantity
        expected.append(float(cash + sum(held[s] * D(repr(float(data[s].close[i]))) for s in symbols)))
        exposed.append(any(held.values()))
    assert np.allclose(outcome.equity, expected, rtol=0, atol=1e-6)
    assert outcome.in_market.tolist() == exposed
    assert exposed.count(True) > 100


class Staircase(Strategy):
    """On the first bar: ``count`` buy limits one tick apart below the market, and a sell limit above."""

    count = 100

    def __init__(self) -> None:
        super().__init__(name="staircase")
        self.updates: list[tuple[str, str]] = []

    def on_bar(self, ctx: StrategyContext) -> None:
        if ctx.index:
            return
        for step in range(self.count):
            price = D("99.00") - D("0.01") * step
            ctx.submit(OrderIntent(symbol=SYMBOL, side=Side.BUY, quantity=D("0.01"), type=OrderType.LIMIT, price=price))

    def on_order_update(self, ctx: StrategyContext, order: Order) -> None:
        self.updates.append((order.client_order_id, order.status.value))


def test_orders_filled_together_are_all_booked_by_an_engine_that_keeps_one_finished_order(
    make_rig: Any, make_bars: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A backtest keeps few finished orders (BACKTEST_KEEP_FINISHED): events drained with its last still find one."""
    # Bar 1 falls through every level at once: a hundred orders fill in one walk of the venue.
    bars = make_bars([100.0, 90.0, 91.0], low=[100.0, 90.0, 91.0], high=[100.0, 100.0, 91.0])
    lean, whole = make_rig(keep_finished=1), make_rig()
    outcomes = []
    for rig in (lean, whole):
        strategy = Staircase()
        with caplog.at_level("WARNING", logger="tradekit.engine"):
            outcome = rig.run(strategy, {SYMBOL: bars}, skip_idle_bars=False)
        outcomes.append((outcome, strategy.updates, rig.engine.stats))
    assert caplog.records == []  # no update or fill for an order the engine forgot
    (lean_outcome, lean_updates, lean_stats), (outcome, updates, stats) = outcomes
    assert lean_stats.fills == stats.fills == Staircase.count and lean_stats.errors == stats.errors == 0
    assert [fill.client_order_id for fill in lean_outcome.fills] == [fill.client_order_id for fill in outcome.fills]
    assert lean_updates == updates and sum(status == "filled" for _, status in updates) == Staircase.count
    assert lean.engine.ledger.quantity(SYMBOL) == D("1.00")
    assert len(lean.engine.orders) == 1 and len(whole.engine.orders) == Staircase.count
