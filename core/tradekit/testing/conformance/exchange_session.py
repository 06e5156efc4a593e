"""The exchange under test during one rule: the orders the suite sent and what the exchange said of them."""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import Fill, Order, OrderIntent, OrderStatus, OrderType, OrderUpdate, Side
from tradekit.errors import ExchangeError, InvalidTransitionError
from tradekit.money import to_decimal
from tradekit.testing.conformance.base import violated

if TYPE_CHECKING:
    from tradekit.plugin import Exchange
    from tradekit.testing.conformance.exchange import ExchangeConformance

OPEN = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})
REFUSED = frozenset({OrderStatus.REJECTED, OrderStatus.EXPIRED, OrderStatus.CANCELLED})


def describe_error(error: BaseException) -> str:
    """``Type: message``, for messages."""
    return f"{type(error).__name__}: {error}"


@dataclass
class Attempt:
    """What became of one order the suite sent: the exception ``submit_order`` raised, and what was reported."""

    order: Order
    error: Exception | None
    tracked: Order
    view: Order | None

    @property
    def refused(self) -> bool:
        """Refused the way the engine understands: a non-retryable ExchangeError, or reported REJECTED."""
        if isinstance(self.error, ExchangeError) and not self.error.retryable:
            return True
        return self.error is None and self.tracked.status is OrderStatus.REJECTED

    @property
    def accepted(self) -> bool:
        """The venue took the order (it rests, filled, or finished after being accepted)."""
        if self.error is not None:
            return False
        status = self.view.status if self.view is not None else self.tracked.status
        return status not in (OrderStatus.NEW, OrderStatus.REJECTED)

    def said(self) -> str:
        """What the exchange answered, in words, for messages."""
        if self.error is not None:
            return f"submit_order raised {describe_error(self.error)}"
        venue = f"; fetch_order says {self.view.status.value}" if self.view is not None else ""
        reason = f" ({self.tracked.reason})" if self.tracked.reason else ""
        return f"its events reported {self.tracked.status.value}{reason}{venue}"


class ExchangeSession:
    """One exchange under test, connected, with the orders the suite sent and the events it reported."""

    def __init__(self, suite: ExchangeConformance, exchange: Exchange) -> None:
        self.suite = suite
        self.exchange = exchange
        self.capabilities = type(exchange).capabilities
        self.symbol = suite.symbol or next(iter(exchange.default_symbols()), "")
        if not self.symbol:
            pytest.fail(
                f"{type(suite).__name__}: {type(exchange).__name__} names no default symbol; set `symbol = ...`",
                pytrace=False,
            )
        instruments = exchange.instruments([self.symbol])
        instrument = instruments.get(self.symbol)
        if not isinstance(instrument, Instrument) or instrument.symbol != self.symbol:
            violated(
                suite.current_rule,
                f"instruments([{self.symbol!r}]) returned {instruments!r}: expected {{symbol: Instrument}} for it",
            )
        self.instrument = instrument
        self.away = Decimal(str(suite.away))
        self.reference = self._reference_price()
        self.quantity = self._quantity()
        # Client order ids of 32 hex digits, as the engine makes them: fit every venue's format.
        self._ids = uuid.uuid4().hex[:12]
        self._sequence = 0
        self.events: list[OrderUpdate | Fill] = []
        self.sent: list[Order] = []

    # -- prices and sizes -----------------------------------------------------------------------

    def _reference_price(self) -> Decimal:
        latest = self.exchange.latest_price(self.symbol)
        if latest is None:
            timeframe = self.suite.timeframe or (self.capabilities.timeframes or ("1m",))[0]
            bars = self.exchange.fetch_bars(self.symbol, timeframe, limit=1)
            if not len(bars):
                pytest.fail(
                    f"{type(self.suite).__name__}: {self.symbol} has no price (latest_price is None and "
                    "fetch_bars returned no bar); give the exchange a market first",
                    pytrace=False,
                )
            latest = to_decimal(float(bars.close[-1]))
        return self.instrument.round_price(latest)

    def _quantity(self) -> Decimal:
        instrument = self.instrument
        if self.suite.quantity is not None:
            return Decimal(str(self.suite.quantity))
        quantity = instrument.lot_size
        if instrument.min_quantity > quantity:
            quantity = instrument.round_quantity(instrument.min_quantity, "up")
        if instrument.min_notional > 0:
            quantity = max(quantity, instrument.round_quantity(instrument.min_notional * 2 / self.below(), "up"))
        return quantity

    @property
    def tick(self) -> Decimal:
        """The instrument's price step."""
        return self.instrument.tick_size

    def below(self) -> Decimal:
        """A price ``away`` below the market, on the tick: a buy limit there rests."""
        return max(self.instrument.round_price(self.reference * (1 - self.away), "down"), self.tick)

    def above(self) -> Decimal:
        """A price ``away`` above the market, on the tick: a buy stop there rests."""
        return self.instrument.round_price(self.reference * (1 + self.away), "up")

    # -- orders -------------------------------------------------------------------------------------

    def order(self, side: Side, kind: OrderType, **fields: Any) -> Order:
        """A new order of this session (its own client order id), ``quantity`` by default the session's."""
        self._sequence += 1
        fields.setdefault("quantity", self.quantity)
        symbol = fields.pop("symbol", self.symbol)
        intent = OrderIntent(symbol=symbol, side=side, type=kind, **fields)
        client_order_id = f"{self._ids}{self._sequence:020x}"
        return Order.from_intent(intent, client_order_id, created_at=datetime.now(UTC))

    def attempt(self, order: Order, until: frozenset[OrderStatus] = OPEN | REFUSED) -> Attempt:
        """Send ``order``, then watch its events (up to ``event_timeout``) until its status is in ``until``."""
        self.sent.append(order)
        error: Exception | None = None
        try:
            self.exchange.submit_order(order.model_copy())
        except Exception as raised:
            error = raised
        view = self.settle(order, until | {OrderStatus.FILLED}) if error is None else None
        return Attempt(order, error, self.tracked(order), view)

    def settle(self, order: Order, until: frozenset[OrderStatus]) -> Order | None:
        """Poll events and look the order up until the venue has it in ``until`` or time is up."""
        deadline = time.monotonic() + self.suite.event_timeout
        while True:
            self.poll()
            view = self.exchange.fetch_order(order.client_order_id, order.symbol)
            tracked = self.tracked(order)
            if (view is not None and view.status in until and tracked.status is view.status) or (
                view is None and tracked.status in until
            ):
                return view
            if time.monotonic() >= deadline:
                return view
            time.sleep(0.05)

    def poll(self) -> None:
        """Collect what ``poll_events`` reports; anything but OrderUpdate and Fill breaks the contract."""
        events = self.exchange.poll_events()
        for event in events:
            if not isinstance(event, OrderUpdate | Fill):
                violated(
                    self.suite.current_rule,
                    f"poll_events returned a {type(event).__name__}; it may return only OrderUpdate and Fill",
                )
        self.events.extend(events)

    def tracked(self, order: Order) -> Order:
        """``order`` as the engine would know it from the events so far (their lifecycle is checked)."""
        known = order.model_copy()
        for event in self.events:
            if event.client_order_id != order.client_order_id:
                continue
            try:
                if isinstance(event, Fill):
                    self._check_fill(order, event)
                    if known.status is OrderStatus.NEW:
                        known.transition(OrderStatus.ACCEPTED, at=event.timestamp)
                    known.record_fill(event.quantity, event.price, event.fee, at=event.timestamp)
                elif event.status not in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, known.status):
                    known.transition(event.status, at=event.timestamp, reason=event.reason)
            except InvalidTransitionError as error:
                violated(
                    self.suite.current_rule,
                    f"the events of order {order.client_order_id} ({order.type.value} {order.side.value}) describe "
                    f"an impossible lifecycle: {error}; events so far: {self._history(order)}",
                )
        return known

    def _history(self, order: Order) -> str:
        steps = []
        for event in self.events:
            if event.client_order_id == order.client_order_id:
                steps.append(f"fill {event.quantity}@{event.price}" if isinstance(event, Fill) else event.status.value)
        return ", ".join(steps) or "(none)"

    def _check_fill(self, order: Order, fill: Fill) -> None:
        rule_id = self.suite.current_rule
        if fill.symbol != order.symbol or fill.side is not order.side:
            violated(rule_id, f"a fill of order {order.client_order_id} is a {fill.side.value} of {fill.symbol}")
        if (problem := self.instrument.price_problem(fill.price)) is not None:
            violated(rule_id, f"fill {fill.fill_id} of order {order.client_order_id}: {problem}")
        if (problem := self.instrument.quantity_problem(fill.quantity, None)) is not None:
            violated(rule_id, f"fill {fill.fill_id} of order {order.client_order_id}: {problem}")

    def fills(self, order: Order) -> list[Fill]:
        """The fills reported for ``order``."""
        return [e for e in self.events if isinstance(e, Fill) and e.client_order_id == order.client_order_id]

    def open_ids(self) -> set[str]:
        """Client order ids of the venue's resting orders of the session's symbol."""
        return {o.client_order_id for o in self.exchange.open_orders(self.symbol)}

    def move(self, price: Decimal) -> bool:
        """Move the market to ``price`` through the suite's :meth:`~ExchangeConformance.move_price`."""
        return self.suite.move_price(self.exchange, self.symbol, price)

    def cleanup(self) -> None:
        """Cancel what the suite left resting and close the exchange.

        Errors here are not reported: the rule already has its verdict, and a
        cleanup failure would only hide it.
        """
        with contextlib.suppress(Exception):
            self.exchange.connect()
            resting = {o.client_order_id for o in self.sent}
            for order in self.exchange.open_orders(self.symbol):
                if order.client_order_id in resting and self.capabilities.cancel:
                    self.exchange.cancel_order(order)
        with contextlib.suppress(Exception):
            self.exchange.close()
