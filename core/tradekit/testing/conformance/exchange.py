"""``ExchangeConformance``: what every exchange plugin must do, for each capability it declares."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from tradekit.domain.orders import (
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TriggerDirection,
)
from tradekit.errors import ExchangeError, InsufficientFunds, OrderNotFound, OrderRejected
from tradekit.money import Rounding
from tradekit.plugin import Exchange
from tradekit.testing.conformance.base import PluginConformance, rule, violated
from tradekit.testing.conformance.exchange_session import (
    OPEN,
    REFUSED,
    Attempt,
    ExchangeSession,
    describe_error,
)

_MODES: tuple[str, ...] = ("nearest", "down", "up")


class ExchangeConformance(PluginConformance):
    """The rules every exchange plugin follows, checked for what its :class:`~tradekit.plugin.Capabilities` claims.

    Set :attr:`plugin` and :attr:`settings`; optionally:

    * ``symbol``: the symbol to trade (default: the exchange's first default symbol);
    * ``quantity``: the size of the suite's orders (default: the smallest the instrument takes);
    * ``unknown_symbol``: a symbol the venue does not list (default ``"TKNOSUCH/USDT"``);
    * ``away``: how far from the market resting orders are placed (default 0.1, 10 %);
    * ``event_timeout``: seconds to wait for an asynchronous venue's events (default 0: poll once);
    * ``off_tick`` / ``off_lot``: what the exchange does with a price off the tick or a quantity off
      the lot: ``"refuse"`` (default) or the rounding mode it applies (``"nearest"``, ``"down"``, ``"up"``);
    * ``timeframe``: the bars asked for a reference price when ``latest_price`` gives none;
    * ``stop_limit_beyond_trigger``: where a rising buy stop-limit's limit sits: past its trigger
      (default True, a chase with a cap) or at it (False: venues such as MetaTrader 5 take a buy
      stop-limit's limit only at or below its stop);
    * ``make_exchange(self)``: build the exchange (e.g. pointed at your fake server); default
      ``plugin(settings)``, then ``connect()`` is called;
    * ``move_price(self, exchange, symbol, price) -> bool``: move the market so resting orders can be
      seen to fill or trigger; default False (the suite then checks they rest and cancel), True for
      :class:`~tradekit.testing.FakeExchange`.

    Rules (each skipped, with the reason, when the capability is not claimed):
    ``exchange.order-kind.<market|limit|stop|stop-limit|post-only|reduce-only>``, ``exchange.cancel``,
    ``exchange.client-order-id``, ``exchange.rounding``, ``exchange.error-mapping``,
    ``exchange.reconnect``, ``exchange.resume``, ``exchange.settings-validated``.
    """

    kind = "exchange"
    plugin: ClassVar[type[Exchange]]
    symbol: ClassVar[str | None] = None
    quantity: ClassVar[Decimal | str | None] = None
    unknown_symbol: ClassVar[str] = "TKNOSUCH/USDT"
    away: ClassVar[Decimal | str | float] = Decimal("0.1")
    event_timeout: ClassVar[float] = 0.0
    off_tick: ClassVar[str] = "refuse"
    off_lot: ClassVar[str] = "refuse"
    timeframe: ClassVar[str | None] = None
    stop_limit_beyond_trigger: ClassVar[bool] = True

    def make_exchange(self) -> Exchange:
        """The exchange under test, created with :attr:`settings` (override to point it at a fake server)."""
        settings = self.plugin_settings()
        return self.plugin(settings, name=self.plugin_name)

    def move_price(self, exchange: Exchange, symbol: str, price: Decimal) -> bool:
        """Move ``symbol``'s market to ``price``; False when the suite cannot (it then skips those checks)."""
        from tradekit.testing.fake_exchange import FakeExchange

        if isinstance(exchange, FakeExchange):
            exchange.set_price(symbol, price)
            return True
        return False

    @pytest.fixture
    def tk_exchange(self, request: pytest.FixtureRequest) -> Iterator[ExchangeSession]:
        """A connected exchange for one rule, cleaned up (orders cancelled, closed) afterwards."""
        self.current_rule = getattr(request.function, "rule_id", self.current_rule or "exchange")
        exchange = self.make_exchange()
        exchange.connect()
        session = ExchangeSession(self, exchange)
        yield session
        session.cleanup()

    def _needs(self, session: ExchangeSession, *order_types: OrderType) -> None:
        claimed = session.capabilities.order_types
        missing = [t.value for t in order_types if t not in claimed]
        if missing:
            pytest.skip(f"{self.plugin.__name__} does not claim {', '.join(missing)} orders (Capabilities)")

    def _expect_fill(self, session: ExchangeSession, order: Order, attempt: Attempt, what: str) -> None:
        view = session.settle(order, frozenset({OrderStatus.FILLED}))
        tracked = session.tracked(order)
        if tracked.status is not OrderStatus.FILLED:
            violated(
                self.current_rule,
                f"{what} should have filled; its events reported {tracked.status.value} "
                f"(fetch_order: {view.status.value if view else None}); events: {session._history(order)}",
            )
        if view is not None and view.status is not OrderStatus.FILLED:
            violated(self.current_rule, f"{what} filled by its events, but fetch_order says {view.status.value}")

    def _expect_resting(self, session: ExchangeSession, attempt: Attempt, what: str) -> None:
        if attempt.error is not None or attempt.tracked.status is not OrderStatus.ACCEPTED:
            violated(self.current_rule, f"{what} should rest (ACCEPTED, unfilled); {attempt.said()}")
        if attempt.view is None or attempt.view.status is not OrderStatus.ACCEPTED:
            violated(
                self.current_rule,
                f"{what} was acknowledged, but fetch_order gives {attempt.view!r}; it must return the resting order",
            )
        if attempt.order.client_order_id not in session.open_ids():
            violated(self.current_rule, f"{what} rests, but open_orders({session.symbol!r}) does not list it")

    def _expect_never_fills(self, session: ExchangeSession, attempt: Attempt, what: str) -> None:
        if attempt.error is not None and not (isinstance(attempt.error, ExchangeError) and not attempt.error.retryable):
            violated(
                self.current_rule,
                f"{what} raised {describe_error(attempt.error)}; refuse with tradekit.errors.OrderRejected (or a "
                "subclass), or report it REJECTED",
            )
        if session.fills(attempt.order) or attempt.tracked.status is OrderStatus.FILLED:
            violated(self.current_rule, f"{what} filled ({session._history(attempt.order)}); it must never fill")

    def _finish(self, session: ExchangeSession, order: Order, what: str) -> None:
        """Cancel a resting order and see it reported CANCELLED (when the exchange can cancel)."""
        if not session.capabilities.cancel:
            return
        session.exchange.cancel_order(order.model_copy())
        session.settle(order, frozenset({OrderStatus.CANCELLED}))
        tracked = session.tracked(order)
        if tracked.status is not OrderStatus.CANCELLED:
            violated(
                self.current_rule,
                f"{what} was cancelled, but its events reported {tracked.status.value} ({session._history(order)})",
            )

    # -- order kinds --------------------------------------------------------------------------------

    @rule("exchange.order-kind.market")
    def test_order_kind_market(self, tk_exchange: ExchangeSession) -> None:
        """A market buy fills completely, reported through poll_events with legal transitions."""
        session = tk_exchange
        self._needs(session, OrderType.MARKET)
        order = session.order(Side.BUY, OrderType.MARKET)
        attempt = session.attempt(order, frozenset({OrderStatus.FILLED}) | REFUSED)
        if attempt.error is not None or attempt.refused:
            violated(
                self.current_rule, f"a market buy of {order.quantity} {order.symbol} was refused: {attempt.said()}"
            )
        self._expect_fill(session, order, attempt, f"a market buy of {order.quantity} {order.symbol}")

    @rule("exchange.order-kind.limit")
    def test_order_kind_limit(self, tk_exchange: ExchangeSession) -> None:
        """A buy limit below the market rests (listed, fetchable); it fills when the market reaches it."""
        session = tk_exchange
        self._needs(session, OrderType.LIMIT)
        price = session.below()
        order = session.order(Side.BUY, OrderType.LIMIT, price=price)
        what = f"a buy limit at {price} (market {session.reference})"
        attempt = session.attempt(order)
        self._expect_resting(session, attempt, what)
        if session.move(price - session.tick):
            self._expect_fill(session, order, attempt, f"{what}, after the market fell to {price - session.tick}")
            worst = max(fill.price for fill in session.fills(order))
            if worst > price:
                violated(self.current_rule, f"{what} filled at {worst}, above its limit")
        else:
            self._finish(session, order, what)

    def _trigger(self, session: ExchangeSession) -> tuple[TriggerDirection, Decimal, Decimal]:
        """The direction of the suite's buy stops, their trigger, and the price that sets them off."""
        directions = session.capabilities.trigger_directions
        if TriggerDirection.RISING in directions:
            trigger = session.above()
            return TriggerDirection.RISING, trigger, trigger + session.tick
        if TriggerDirection.FALLING in directions:
            trigger = session.below()
            return TriggerDirection.FALLING, trigger, trigger - session.tick
        violated(
            self.current_rule,
            f"{self.plugin.__name__} claims stop orders but no trigger direction (Capabilities.trigger_directions)",
        )

    @rule("exchange.order-kind.stop")
    def test_order_kind_stop(self, tk_exchange: ExchangeSession) -> None:
        """A buy stop away from the market rests untriggered; it fills once the market crosses its trigger."""
        session = tk_exchange
        self._needs(session, OrderType.STOP)
        direction, trigger, through = self._trigger(session)
        order = session.order(Side.BUY, OrderType.STOP, trigger_price=trigger, trigger_direction=direction)
        what = f"a buy stop triggered {direction.value} at {trigger} (market {session.reference})"
        attempt = session.attempt(order)
        self._expect_resting(session, attempt, what)
        if session.move(through):
            self._expect_fill(session, order, attempt, f"{what}, after the market moved to {through}")
        else:
            self._finish(session, order, what)

    @rule("exchange.order-kind.stop-limit")
    def test_order_kind_stop_limit(self, tk_exchange: ExchangeSession) -> None:
        """A buy stop-limit rests untriggered; once triggered it fills no worse than its limit."""
        session = tk_exchange
        self._needs(session, OrderType.STOP_LIMIT)
        direction, trigger, through = self._trigger(session)
        limit = (
            session.instrument.round_price(trigger * (1 + session.away / 2), "up")
            if direction is TriggerDirection.RISING and self.stop_limit_beyond_trigger
            else trigger
        )
        order = session.order(
            Side.BUY, OrderType.STOP_LIMIT, price=limit, trigger_price=trigger, trigger_direction=direction
        )
        what = f"a buy stop-limit triggered {direction.value} at {trigger}, limit {limit} (market {session.reference})"
        attempt = session.attempt(order)
        self._expect_resting(session, attempt, what)
        pullback = direction is TriggerDirection.RISING and not self.stop_limit_beyond_trigger
        # With its limit at the trigger, the buy placed when the stop fires fills when the market comes back.
        if session.move(through) and (not pullback or session.move(limit)):
            moved = f"{through}, then back to {limit}" if pullback else f"{through}"
            self._expect_fill(session, order, attempt, f"{what}, after the market moved to {moved}")
            worst = max(fill.price for fill in session.fills(order))
            if worst > limit:
                violated(self.current_rule, f"{what} filled at {worst}, above its limit")
        else:
            self._finish(session, order, what)

    @rule("exchange.order-kind.post-only")
    def test_order_kind_post_only(self, tk_exchange: ExchangeSession) -> None:
        """A post-only limit that would rest rests; one that would take liquidity is refused, never filled."""
        session = tk_exchange
        if not session.capabilities.post_only:
            pytest.skip(f"{self.plugin.__name__} does not claim post-only orders (Capabilities.post_only)")
        self._needs(session, OrderType.LIMIT)
        resting = session.order(Side.BUY, OrderType.LIMIT, price=session.below(), post_only=True)
        attempt = session.attempt(resting)
        self._expect_resting(session, attempt, f"a post-only buy limit at {session.below()}")
        taking = session.order(Side.BUY, OrderType.LIMIT, price=session.above(), post_only=True)
        what = f"a post-only buy limit at {session.above()}, above the market at {session.reference}"
        attempt = session.attempt(taking)
        self._expect_never_fills(session, attempt, what)
        final = attempt.view.status if attempt.view is not None else attempt.tracked.status
        if attempt.error is None and final not in REFUSED:
            violated(self.current_rule, f"{what} would take liquidity but was not refused: {attempt.said()}")

    @rule("exchange.order-kind.reduce-only")
    def test_order_kind_reduce_only(self, tk_exchange: ExchangeSession) -> None:
        """With nothing held, a reduce-only sell is refused (or ends unfilled): it never opens a position."""
        session = tk_exchange
        if not session.capabilities.reduce_only:
            pytest.skip(f"{self.plugin.__name__} does not claim reduce-only orders (Capabilities.reduce_only)")
        if OrderType.MARKET in session.capabilities.order_types:
            order = session.order(Side.SELL, OrderType.MARKET, reduce_only=True)
        else:
            self._needs(session, OrderType.LIMIT)
            order = session.order(Side.SELL, OrderType.LIMIT, price=session.below(), reduce_only=True)
        what = f"a reduce-only {order.type.value} sell of {order.quantity} {order.symbol} with nothing held"
        attempt = session.attempt(order, frozenset({OrderStatus.FILLED}) | REFUSED)
        self._expect_never_fills(session, attempt, what)
        final = attempt.view.status if attempt.view is not None else attempt.tracked.status
        if attempt.error is None and final not in REFUSED:
            violated(self.current_rule, f"{what} was not refused: {attempt.said()}")

    # -- orders by id ---------------------------------------------------------------------------------

    @rule("exchange.cancel")
    def test_cancel(self, tk_exchange: ExchangeSession) -> None:
        """A resting order cancels (reported CANCELLED, gone from open_orders); cancelling it again is harmless."""
        session = tk_exchange
        if not session.capabilities.cancel:
            pytest.skip(f"{self.plugin.__name__} does not claim cancelling (Capabilities.cancel)")
        self._needs(session, OrderType.LIMIT)
        order = session.order(Side.BUY, OrderType.LIMIT, price=session.below())
        what = f"a buy limit at {session.below()}"
        self._expect_resting(session, session.attempt(order), what)
        self._finish(session, order, what)
        if order.client_order_id in session.open_ids():
            violated(self.current_rule, f"{what} was cancelled, but open_orders still lists it")
        try:
            session.exchange.cancel_order(order.model_copy())
        except OrderNotFound:
            pass
        except Exception as error:
            violated(
                self.current_rule,
                f"cancelling an order that is already cancelled raised {describe_error(error)}; raise "
                "tradekit.errors.OrderNotFound (or do nothing)",
            )

    @rule("exchange.client-order-id")
    def test_client_order_id(self, tk_exchange: ExchangeSession) -> None:
        """The client order id is kept on the order: fetch_order and open_orders find the order by it."""
        session = tk_exchange
        if not session.capabilities.client_order_id:
            pytest.skip(f"{self.plugin.__name__} does not claim client order ids (Capabilities.client_order_id)")
        self._needs(session, OrderType.LIMIT)
        order = session.order(Side.BUY, OrderType.LIMIT, price=session.below())
        attempt = session.attempt(order)
        self._expect_resting(session, attempt, f"a buy limit at {session.below()}")
        view = attempt.view
        assert view is not None
        for name in ("client_order_id", "symbol", "side", "type", "quantity", "price"):
            if getattr(view, name) != getattr(order, name):
                violated(
                    self.current_rule,
                    f"fetch_order({order.client_order_id!r}) returned an order whose {name} is "
                    f"{getattr(view, name)!r}, but {getattr(order, name)!r} was sent",
                )
        unknown = f"{uuid.uuid4().hex}"
        try:
            missing = session.exchange.fetch_order(unknown, session.symbol)
        except Exception as error:
            violated(
                self.current_rule,
                f"fetch_order of an id the venue never saw raised {describe_error(error)}; return None (the engine "
                "looks an order up after a lost reply and sends it again only when the venue says None)",
            )
        if missing is not None:
            violated(self.current_rule, f"fetch_order of an id the venue never saw returned {missing!r}, not None")

    # -- rules of the venue ----------------------------------------------------------------------------

    def _off_step(self, session: ExchangeSession, *, price: bool) -> None:
        declared = self.off_tick if price else self.off_lot
        if declared != "refuse" and declared not in _MODES:
            pytest.fail(
                f"{type(self).__name__}: off_{'tick' if price else 'lot'} must be 'refuse' or one of "
                f"{', '.join(_MODES)}; was {declared!r}",
                pytrace=False,
            )
        instrument = session.instrument
        step = instrument.tick_size if price else instrument.lot_size
        for fraction in (Decimal("0.4"), Decimal("0.6")):
            if price:
                value = session.below() + step * fraction
                order = session.order(Side.BUY, OrderType.LIMIT, price=value)
            else:
                value = session.quantity + step * fraction
                order = session.order(Side.BUY, OrderType.LIMIT, price=session.below(), quantity=value)
            what = (
                f"a buy limit at {value}, off the tick {step} of {session.symbol}"
                if price
                else f"a buy limit of {value} {session.symbol}, off the lot {step}"
            )
            attempt = session.attempt(order)
            if attempt.error is not None and not attempt.refused:
                violated(
                    self.current_rule,
                    f"{what}: submit_order raised {describe_error(attempt.error)}; refuse with "
                    "tradekit.errors.InvalidOrder (not retryable), or round as declared",
                )
            held = (attempt.view.price if price else attempt.view.quantity) if attempt.view is not None else None
            if declared == "refuse":
                if attempt.accepted:
                    violated(
                        self.current_rule,
                        f"{what} was accepted (the venue holds it at {held}); refuse it with InvalidOrder, or "
                        f"declare off_{'tick' if price else 'lot'} = '<rounding mode>' if the exchange rounds",
                    )
                continue
            mode: Rounding = declared  # type: ignore[assignment]
            expected = instrument.round_price(value, mode) if price else instrument.round_quantity(value, mode)
            if not attempt.accepted:
                violated(
                    self.current_rule,
                    f"{what} was refused ({attempt.said()}), but off_{'tick' if price else 'lot'} = {declared!r} "
                    f"declares it is rounded to {expected}",
                )
            if held != expected:
                violated(
                    self.current_rule,
                    f"{what} was rounded to {held}, but off_{'tick' if price else 'lot'} = {declared!r} "
                    f"declares {expected}: the venue holds a price or size nobody asked for",
                )

    @rule("exchange.rounding")
    def test_rounding(self, tk_exchange: ExchangeSession) -> None:
        """An order off the tick or the lot is refused, or rounded exactly as declared, never mis-rounded."""
        self._needs(tk_exchange, OrderType.LIMIT)
        self._off_step(tk_exchange, price=True)
        self._off_step(tk_exchange, price=False)

    @rule("exchange.error-mapping")
    def test_error_mapping(self, tk_exchange: ExchangeSession) -> None:
        """An unknown symbol and a lack of funds are refused as the kernel's OrderRejected family, with a reason."""
        session = tk_exchange
        kind = OrderType.LIMIT if OrderType.LIMIT in session.capabilities.order_types else OrderType.MARKET
        extra: dict[str, Any] = {"price": session.below()} if kind is OrderType.LIMIT else {}
        bad = session.order(Side.BUY, kind, symbol=self.unknown_symbol, **extra)
        attempt = session.attempt(bad)
        what = f"an order for {self.unknown_symbol!r}, a symbol {self.plugin.__name__} does not list"
        self._expect_refusal(attempt, what, OrderRejected)
        balances = session.exchange.balances()
        quote = balances.get(session.instrument.quote)
        free = quote.free if quote is not None else Decimal(0)
        price = session.below()
        size = session.instrument.round_quantity((free + 1_000_000) * 10 / price, "up")
        rich = (
            session.order(Side.BUY, OrderType.LIMIT, price=price, quantity=size)
            if kind is OrderType.LIMIT
            else (session.order(Side.BUY, OrderType.MARKET, quantity=size))
        )
        what = f"a buy of {size} {session.symbol} at {price} with {free} {session.instrument.quote} free"
        self._expect_refusal(session.attempt(rich), what, InsufficientFunds)

    def _expect_refusal(self, attempt: Attempt, what: str, error_type: type[ExchangeError]) -> None:
        error = attempt.error
        if error is None:
            if attempt.tracked.status is OrderStatus.REJECTED and attempt.tracked.reason:
                return
            violated(
                self.current_rule,
                f"{what} should be refused (raise {error_type.__name__}, or report REJECTED with a reason); "
                f"{attempt.said()}",
            )
        if not isinstance(error, ExchangeError):
            violated(
                self.current_rule,
                f"{what} raised {describe_error(error)}; map it to tradekit.errors.{error_type.__name__} with the "
                "venue's message",
            )
        if error.retryable or not isinstance(error, error_type):
            violated(
                self.current_rule,
                f"{what} raised {describe_error(error)}; expected tradekit.errors.{error_type.__name__} (not "
                "retryable: the engine would look the order up and send it again)",
            )
        if not str(error).strip():
            violated(self.current_rule, f"{what} raised {type(error).__name__} with an empty message")

    @rule("exchange.reconnect")
    def test_reconnect(self, tk_exchange: ExchangeSession) -> None:
        """After close() and connect() the exchange works again and still shows the resting orders."""
        session = tk_exchange
        self._needs(session, OrderType.LIMIT)
        first = session.order(Side.BUY, OrderType.LIMIT, price=session.below())
        self._expect_resting(session, session.attempt(first), f"a buy limit at {session.below()}")
        session.exchange.close()
        session.exchange.connect()
        if first.client_order_id not in session.open_ids():
            violated(self.current_rule, "after close() and connect(), open_orders no longer lists the resting order")
        view = session.exchange.fetch_order(first.client_order_id, session.symbol)
        if view is None or view.status not in OPEN:
            violated(
                self.current_rule, f"after close() and connect(), fetch_order gives {view!r} for the resting order"
            )
        second = session.order(Side.BUY, OrderType.LIMIT, price=session.below())
        self._expect_resting(session, session.attempt(second), "a buy limit sent after reconnecting")
        self._finish(session, first, "the order placed before reconnecting")

    # -- a run taken up after a restart ---------------------------------------------------------------

    def _connected(self) -> ExchangeSession:
        """A new instance of the exchange, connected, as a restarted process makes one."""
        exchange = self.make_exchange()
        exchange.connect()
        return ExchangeSession(self, exchange)

    def _another(self, session: ExchangeSession, order: Order) -> ExchangeSession | None:
        """A second exchange on the same venue (as a restarted process makes), or None: each instance is a venue."""
        other = self._connected()
        if order.client_order_id in other.open_ids():
            return other
        other.cleanup()
        return None

    def _resume(self, taker: ExchangeSession, record: Order, fills: list[Fill], what: str) -> Order | None:
        try:
            return taker.exchange.resume_order(record.model_copy(), list(fills))
        except Exception as error:
            violated(
                self.current_rule,
                f"resume_order of {what} raised {describe_error(error)}; return the venue's view of the order, "
                "or None when the venue does not know it",
            )

    @rule("exchange.resume")
    def test_resume(self, tk_exchange: ExchangeSession) -> None:
        """resume_order takes up an order the journal holds: the venue's view, then each fill once, none journaled.

        A second instance of the exchange takes the order up, as a restarted
        process would, when it sees the first one's orders (a shared venue);
        otherwise the same instance does.
        """
        session = tk_exchange
        self._needs(session, OrderType.LIMIT)
        price = session.below()
        order = session.order(Side.BUY, OrderType.LIMIT, price=price)
        what = f"a buy limit at {price} (market {session.reference})"
        self._expect_resting(session, session.attempt(order), what)
        taker = self._another(session, order)
        try:
            self._check_resume(session, taker or session, order, what, shared=taker is not None)
        finally:
            if taker is not None:
                taker.cleanup()

    def _check_resume(
        self, session: ExchangeSession, taker: ExchangeSession, order: Order, what: str, *, shared: bool
    ) -> None:
        record = session.tracked(order)  # as the journal of the run that died holds it: accepted, unfilled
        view = self._resume(taker, record, [], what)
        if view is None or view.status not in OPEN or view.client_order_id != order.client_order_id:
            violated(
                self.current_rule,
                f"resume_order of {what}, resting, returned {view!r}; return the venue's view of it (ACCEPTED)",
            )
        unsent = session.order(Side.BUY, OrderType.LIMIT, price=session.below())
        if (unknown := self._resume(taker, unsent, [], "an order never sent")) is not None:
            violated(self.current_rule, f"resume_order of an order never sent returned {unknown!r}, not None")
        assert order.price is not None
        if not session.move(order.price - session.tick):
            return  # the market cannot be moved: the order is checked to be taken up, not to fill
        taker.settle(order, frozenset({OrderStatus.FILLED}))
        fills = taker.fills(order)
        filled = sum((fill.quantity for fill in fills), Decimal(0))
        if filled != order.quantity or len({fill.fill_id for fill in fills}) != len(fills):
            violated(
                self.current_rule,
                f"{what}, taken up by resume_order, filled when the market fell through its limit; poll_events "
                f"reported {taker._history(order)} (fill ids {[f.fill_id for f in fills]}): report each fill once, "
                f"{order.quantity} in all",
            )
        # Taken up again (another restart), its fill journaled: nothing more is reported.
        again = self._connected() if shared else taker
        before = len(again.fills(order))
        try:
            self._resume(again, taker.tracked(order), fills, f"{what}, filled and its fill journaled")
            again.poll()
            if len(again.fills(order)) != before:
                violated(
                    self.current_rule,
                    f"resume_order of {what}, filled and its fill journaled, reported it again: "
                    f"{again._history(order)}; a fill among the journal's is never reported again",
                )
        finally:
            if again is not taker:
                again.cleanup()

    @rule("exchange.settings-validated")
    def test_settings_validated(self) -> None:
        """Unknown settings are refused, naming the key; the plugin keeps its name and settings."""
        self.check_settings("exchange.settings-validated")
