"""The fake venues' market: one account, resting and trigger orders, fills, and candles replayed from bars.

Both fake servers keep their state here and only translate the wire format.
Prices move through :meth:`FakeMarket.set_price` (a test moving the market)
or :meth:`FakeMarket.reveal` (the next candle of the replayed bars: the price
walks open, low or high, high or low, close, and every order that the walk
crosses triggers or fills). Market orders fill at once at the current price;
``partial_next`` makes the next taking order fill only a fraction (the rest
rests, or is cancelled for IOC), ``reject_next`` refuses the next order with
the venue's message.

The candles: the bars given are replayed one at a time. ``revealed`` of them
are visible; each candle request may reveal one more
(``reveal_on_candles``), so a dry run sees bars "close" as fast as it polls.
Their timestamps are the bars' own, shifted so the last bar of the series
closes one bar before the server started: every visible candle is closed.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from decimal import Decimal

from tradekit.domain.bars import BarSeries
from tradekit.money import round_to_step, to_decimal


class Refused(Exception):
    """The fake venue refuses an order; the message is the venue's (the fake server puts it on the wire)."""

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class FakeOrder:
    """One order at the fake venue."""

    oid: int
    client_id: str | None
    symbol: str
    side: str
    kind: str
    quantity: Decimal
    price: Decimal | None
    trigger: Decimal | None = None
    trigger_above: bool | None = None
    trigger_kind: str = ""
    tif: str = "gtc"
    post_only: bool = False
    reduce_only: bool = False
    status: str = "open"
    filled: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)
    created_ms: int = 0
    updated_ms: int = 0
    triggered: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def remaining(self) -> Decimal:
        """What is still to fill."""
        return self.quantity - self.filled

    @property
    def average(self) -> Decimal | None:
        """The average fill price, None before the first fill."""
        return self.notional / self.filled if self.filled else None


@dataclass
class FakeTrade:
    """One execution of a fake order."""

    tid: int
    oid: int
    client_id: str | None
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    maker: bool
    time_ms: int
    start_position: Decimal = Decimal(0)


def now_ms() -> int:
    """Wall-clock milliseconds."""
    return int(time.time() * 1000)


class FakeMarket:
    """The fake venue's state: prices, the account, the orders and the trades."""

    def __init__(
        self,
        bars: dict[str, BarSeries],
        *,
        cash: dict[str, Decimal] | None = None,
        fee_rate: Decimal = Decimal("0.0004"),
        history: int = 200,
        reveal_on_candles: bool = False,
        spot: bool = True,
        ticks: dict[str, Decimal] | None = None,
        lots: dict[str, Decimal] | None = None,
    ) -> None:
        self.bars = bars
        self.ticks = dict(ticks or {})
        self.lots = dict(lots or {})
        self.balances: dict[str, Decimal] = dict(cash or {})
        self.positions: dict[str, Decimal] = {}
        self.entry: dict[str, Decimal] = {}
        self.fee_rate = fee_rate
        self.spot = spot
        self.orders: dict[int, FakeOrder] = {}
        self.by_client: dict[str, int] = {}
        self.trades: list[FakeTrade] = []
        self.partial_next: Decimal | None = None
        self.reject_next: tuple[str, str] | None = None
        self.reveal_on_candles = reveal_on_candles
        self.orders_received = 0
        self.duplicates_refused = 0
        self._ids = itertools.count(1_000_000_001)
        self._tids = itertools.count(500_000_000_001)
        first = next(iter(bars.values()))
        self.revealed = min(history, len(first))
        step = int(first.timestamps[1] - first.timestamps[0]) if len(first) > 1 else 60_000_000_000
        self.step_ms = step // 1_000_000
        # Shift so that the last bar of the series closes one step before now: all visible candles are closed.
        self.shift_ms = (now_ms() - 2 * self.step_ms) - int(first.timestamps[-1]) // 1_000_000
        self.prices: dict[str, Decimal] = {}
        for symbol, series in bars.items():
            self.prices[symbol] = self.on_tick(symbol, float(series.close[self.revealed - 1]))

    def on_tick(self, symbol: str, price: float) -> Decimal:
        """``price`` (from a bar) as the venue would quote it: on the symbol's tick."""
        tick = self.ticks.get(symbol)
        value = to_decimal(price)
        return round_to_step(value, tick) if tick is not None else value

    # -- candles ----------------------------------------------------------------------------------

    def candles(
        self, symbol: str, start_ms: int | None, end_ms: int | None, limit: int | None
    ) -> list[tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]]:
        """``(open_ms, open, high, low, close, volume)`` of the visible bars in ``[start_ms, end_ms]``, on the tick.

        Asked for a range beyond the visible bars (a client asking for "the
        latest" by the wall clock), it answers with the latest visible bars of
        the range's length: the fake's clock lags the wall clock.
        """
        series = self.bars[symbol]
        if self.reveal_on_candles:
            self.reveal()
        visible = self.revealed
        times = [int(t) // 1_000_000 + self.shift_ms for t in series.timestamps[:visible]]
        last = times[-1] if times else 0
        if start_ms is not None and start_ms > last:
            span = max(((end_ms or start_ms) - start_ms) // self.step_ms, 1)
            index = list(range(max(visible - span, 0), visible))
        else:
            index = [
                i
                for i in range(visible)
                if (start_ms is None or times[i] >= start_ms) and (end_ms is None or times[i] <= end_ms)
            ]

        def quoted(values: object, i: int) -> Decimal:
            return self.on_tick(symbol, float(values[i]))  # type: ignore[index]

        rows = [
            (
                times[i],
                quoted(series.open, i),
                quoted(series.high, i),
                quoted(series.low, i),
                quoted(series.close, i),
                to_decimal(float(series.volume[i])),
            )
            for i in index
        ]
        return rows[:limit] if limit is not None else rows

    def reveal(self) -> bool:
        """Make the next bar visible and walk the price through it; False at the end of the bars."""
        first = next(iter(self.bars.values()))
        if self.revealed >= len(first):
            return False
        index = self.revealed
        self.revealed += 1
        for symbol, series in self.bars.items():
            o, h, low, c = (
                self.on_tick(symbol, float(getattr(series, n)[index])) for n in ("open", "high", "low", "close")
            )
            path = (o, low, h, c) if c >= o else (o, h, low, c)
            for price in path:
                self.set_price(symbol, price)
        return True

    # -- orders ---------------------------------------------------------------------------------------

    def place(self, order: FakeOrder) -> FakeOrder:
        """Accept (and maybe fill) ``order``, or raise :class:`Refused` with the venue's reason."""
        self.orders_received += 1
        if order.client_id is not None and order.client_id in self.by_client:
            self.duplicates_refused += 1
            raise Refused("duplicate client order id", "duplicate")
        if self.reject_next is not None:
            message, kind = self.reject_next
            self.reject_next = None
            raise Refused(message, kind)
        price = self.prices[order.symbol]
        held = self.positions.get(order.symbol, Decimal(0))
        if order.reduce_only:
            reduces = (held > 0 and order.side == "sell") or (held < 0 and order.side == "buy")
            if not reduces or order.quantity > abs(held):
                raise Refused("reduce only order would increase position", "reduce_only")
        self._check_funds(order, price)
        order.oid = next(self._ids)
        order.created_ms = order.updated_ms = now_ms()
        if order.post_only and order.trigger is None and self._crosses(order, price):
            raise Refused("post only order would immediately match", "post_only")
        self.orders[order.oid] = order
        if order.client_id is not None:
            self.by_client[order.client_id] = order.oid
        if order.trigger is None:
            self._match(order, price, taker=True)
        return order

    def trade_elsewhere(self, symbol: str, count: int, quantity: Decimal) -> None:
        """``count`` market orders of this account sent by another client, buys and sells in turn: a busy account."""
        for i in range(count):
            side = "buy" if i % 2 == 0 else "sell"
            self.place(FakeOrder(0, None, symbol, side, "market", quantity, None))

    def backdate(self, ms: int) -> None:
        """Everything so far happened ``ms`` earlier: orders' and trades' times move back (a long outage, in tests)."""
        for order in self.orders.values():
            order.created_ms -= ms
            order.updated_ms -= ms
        for trade in self.trades:
            trade.time_ms -= ms

    def _check_funds(self, order: FakeOrder, price: Decimal) -> None:
        quote = self._quote(order.symbol)
        value = order.quantity * (order.price or order.trigger or price)
        if order.side == "buy" and value > self.balances.get(quote, Decimal(0)) * (1 if self.spot else 50):
            raise Refused("insufficient balance", "funds")
        if self.spot and order.side == "sell" and not order.reduce_only:
            base = order.symbol.split("/")[0]
            if order.quantity > self.balances.get(base, Decimal(0)):
                raise Refused("insufficient balance", "funds")

    @staticmethod
    def _quote(symbol: str) -> str:
        return symbol.split("/")[1].split(":")[0]

    def _crosses(self, order: FakeOrder, price: Decimal) -> bool:
        if order.kind == "market":
            return True
        assert order.price is not None
        return order.price >= price if order.side == "buy" else order.price <= price

    def _match(self, order: FakeOrder, price: Decimal, *, taker: bool) -> None:
        if order.status != "open" or not self._crosses(order, price):
            if order.status == "open" and order.tif in ("ioc", "fok"):
                self._finish(order, "canceled")
            return
        quantity = order.remaining
        if taker and self.partial_next is not None:
            lot = self.lots.get(order.symbol, Decimal("1e-8"))
            quantity = round_to_step(order.remaining * self.partial_next, lot, "down")
            self.partial_next = None
        fill_price = price if order.kind == "market" or taker else order.price
        assert fill_price is not None
        if quantity > 0:
            self._trade(order, quantity, fill_price, maker=not taker)
        if order.remaining > 0 and order.tif in ("ioc", "fok"):
            self._finish(order, "canceled")

    def _trade(self, order: FakeOrder, quantity: Decimal, price: Decimal, *, maker: bool) -> None:
        fee = (quantity * price * self.fee_rate).quantize(Decimal("1e-8"))
        sign = 1 if order.side == "buy" else -1
        quote = self._quote(order.symbol)
        base = order.symbol.split("/")[0]
        held = self.positions.get(order.symbol, Decimal(0))
        self.trades.append(
            FakeTrade(
                next(self._tids),
                order.oid,
                order.client_id,
                order.symbol,
                order.side,
                quantity,
                price,
                fee,
                maker,
                now_ms(),
                held,
            )
        )
        if self.spot:
            self.balances[quote] = self.balances.get(quote, Decimal(0)) - sign * quantity * price - fee
            self.balances[base] = self.balances.get(base, Decimal(0)) + sign * quantity
        else:
            self.balances[quote] = self.balances.get(quote, Decimal(0)) - fee
            if held == 0 or (held > 0) == (sign > 0):
                total = abs(held) + quantity
                self.entry[order.symbol] = (self.entry.get(order.symbol, price) * abs(held) + price * quantity) / total
            else:
                closed = min(quantity, abs(held))
                self.balances[quote] += (price - self.entry.get(order.symbol, price)) * closed * (1 if held > 0 else -1)
        self.positions[order.symbol] = held + sign * quantity
        order.filled += quantity
        order.notional += quantity * price
        order.updated_ms = now_ms()
        if order.remaining == 0:
            order.status = "filled"

    def _finish(self, order: FakeOrder, status: str) -> None:
        order.status = status
        order.updated_ms = now_ms()

    def cancel(self, oid: int) -> bool:
        """Cancel a resting order; False when it is not open."""
        order = self.orders.get(oid)
        if order is None or order.status != "open":
            return False
        self._finish(order, "canceled")
        return True

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Move ``symbol`` to ``price``: triggers fire, crossed limits fill (as makers, at their price)."""
        self.prices[symbol] = price
        for order in list(self.orders.values()):
            if order.symbol != symbol or order.status != "open":
                continue
            if order.trigger is not None and not order.triggered:
                fired = price >= order.trigger if order.trigger_above else price <= order.trigger
                if not fired:
                    continue
                order.triggered = True
                self._match(order, price, taker=True)
                continue
            if order.kind == "limit":
                self._match(order, price, taker=False)

    def open_orders(self, symbol: str | None = None) -> list[FakeOrder]:
        """Resting orders (of ``symbol``), oldest first."""
        return [o for o in self.orders.values() if o.status == "open" and (symbol is None or o.symbol == symbol)]

    def find(self, oid: int | None = None, client_id: str | None = None) -> FakeOrder | None:
        """An order by the venue's id or the client's."""
        if client_id is not None:
            oid = self.by_client.get(client_id)
        return self.orders.get(oid) if oid is not None else None
