"""The events made from polling a venue always form a lifecycle the engine accepts, each fill once."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from tradekit_ccxt.orders import order_from_ccxt, status_of, trigger_direction_of
from tradekit_ccxt.tracking import OrderTracker

from tradekit.domain.orders import Fill, Order, OrderIntent, OrderStatus, OrderType, OrderUpdate, Side

NOW = datetime(2024, 1, 1, tzinfo=UTC)
QUANTITY = Decimal(10)

# One step of what polling may show: an acknowledgement, a trade (id, units), or the venue's view of the order.
step = st.one_of(
    st.tuples(st.just("ack")),
    st.tuples(st.just("fill"), st.integers(0, 6), st.integers(1, 4)),
    st.tuples(st.just("view"), st.sampled_from(["open", "canceled", "expired", "rejected", "closed"])),
)


def sent() -> Order:
    intent = OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity=QUANTITY, type=OrderType.LIMIT, price=Decimal(1))
    return Order.from_intent(intent, "a" * 32)


def replay(events: list[OrderUpdate | Fill]) -> Order:
    """What the engine does with the events (core.Engine._apply_update/_apply_fill); raises on an illegal move."""
    order = sent()
    for event in events:
        if isinstance(event, Fill):
            if order.status is OrderStatus.NEW:
                order.transition(OrderStatus.ACCEPTED)
            order.record_fill(event.quantity, event.price, event.fee)
        elif event.status not in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, order.status):
            order.transition(event.status, reason=event.reason)
    return order


@given(st.lists(step, max_size=25))
def test_any_sequence_of_venue_observations_gives_a_legal_lifecycle_with_each_fill_once(steps: list[tuple]) -> None:
    tracker = OrderTracker()
    tracked = tracker.track(sent(), "a" * 32, 0)
    venue_filled = Decimal(0)
    seen_ids: set[int] = set()
    venue_done = False
    events: list[OrderUpdate | Fill] = []
    for item in steps:
        if venue_done:
            break
        if item[0] == "ack":
            tracker.acknowledge(tracked, NOW, "42")
        elif item[0] == "fill":
            _, trade_id, units = item
            if trade_id not in seen_ids:
                if venue_filled + units > QUANTITY:
                    continue  # a venue never fills more than the order
                seen_ids.add(trade_id)
                venue_filled += units
            fill = Fill(
                fill_id=str(trade_id),
                client_order_id="a" * 32,
                symbol="BTC/USDT",
                side=Side.BUY,
                quantity=Decimal(units),
                price=Decimal(1),
                timestamp=NOW,
            )
            tracker.add_fill(tracked, fill)
        else:
            status = item[1]
            if status == "closed" and venue_filled < QUANTITY:
                status = "canceled"  # "closed" short of the amount is how ccxt reports a cancelled remainder
            data = {"id": "42", "status": status, "filled": str(venue_filled), "amount": str(QUANTITY)}
            view = order_from_ccxt(data, "a" * 32, sent=tracked.order)
            tracker.settle(tracked, view, NOW)
            venue_done = status != "open" and tracked.filled >= venue_filled
        events.extend(tracker.drain())
    final = replay(events)
    fills = [e for e in events if isinstance(e, Fill)]
    assert len({f.fill_id for f in fills}) == len(fills)
    assert final.filled_quantity == sum((f.quantity for f in fills), Decimal(0)) <= QUANTITY
    terminal = [e for e in events if isinstance(e, OrderUpdate) and e.status.is_terminal]
    assert len(terminal) <= 1
    if terminal:
        # A cancel or expiry is told only once every fill the venue counted has been told.
        assert final.filled_quantity == venue_filled or terminal[0].status is OrderStatus.REJECTED


def test_a_venue_status_maps_to_tradekits_including_a_partly_filled_open_order() -> None:
    assert status_of({"status": "open", "filled": 0, "amount": 1}) is OrderStatus.ACCEPTED
    assert status_of({"status": "open", "filled": 0.5, "amount": 1}) is OrderStatus.PARTIALLY_FILLED
    assert status_of({"status": "closed", "filled": 1, "amount": 1}) is OrderStatus.FILLED
    assert status_of({"status": "closed", "filled": 0.5, "amount": 1}) is OrderStatus.CANCELLED
    assert status_of({"status": "canceled"}) is OrderStatus.CANCELLED
    assert status_of({"status": "expired"}) is OrderStatus.EXPIRED
    assert status_of({"status": "rejected"}) is OrderStatus.REJECTED


def test_a_stop_loss_waits_against_the_position_and_a_take_profit_with_it() -> None:
    from tradekit.domain.orders import TriggerDirection

    assert trigger_direction_of({"stopLossPrice": 90}, Side.SELL) is TriggerDirection.FALLING
    assert trigger_direction_of({"stopLossPrice": 110}, Side.BUY) is TriggerDirection.RISING
    assert trigger_direction_of({"takeProfitPrice": 110}, Side.SELL) is TriggerDirection.RISING
    assert trigger_direction_of({"takeProfitPrice": 90}, Side.BUY) is TriggerDirection.FALLING
    assert trigger_direction_of({"price": 100}, Side.BUY) is None


def test_an_order_this_process_did_not_send_is_read_whole_from_the_venue() -> None:
    data = {
        "id": "7",
        "symbol": "ETH/USDC:USDC",
        "side": "sell",
        "type": "limit",
        "amount": 2.5,
        "price": 2000.5,
        "triggerPrice": 1900.0,
        "stopLossPrice": 1900.0,
        "status": "open",
        "filled": 0.5,
        "postOnly": False,
        "reduceOnly": True,
        "timeInForce": "GTC",
    }
    order = order_from_ccxt(data, "b" * 32)
    assert (order.type, order.quantity, order.price, order.trigger_price) == (
        OrderType.STOP_LIMIT,
        Decimal("2.5"),
        Decimal("2000.5"),
        Decimal("1900.0"),
    )
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.filled_quantity == Decimal("0.5")
    assert order.reduce_only and order.exchange_order_id == "7"
