"""Orders, their lifecycle, order intents and fills.

An :class:`OrderIntent` is what a strategy asks for; risk rules may resize or
veto it. The engine turns an accepted intent into an :class:`Order` with a
client order id and sends it. The order then moves through
:class:`OrderStatus` only along :data:`ALLOWED_TRANSITIONS`; any other move
raises :class:`~tradekit.errors.InvalidTransitionError`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradekit.errors import InvalidTransitionError
from tradekit.money import ZERO


class Side(StrEnum):
    """Buy or sell."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: how the order changes a position."""
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    """The four order kinds every exchange plugin is asked about."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TriggerDirection(StrEnum):
    """Which way the price must cross ``trigger_price`` for a stop to fire.

    ``FALLING``: fires when the price falls to or below the trigger (a sell stop
    below the market, a stop loss). ``RISING``: fires when it rises to or above
    it (a buy stop above the market, a stop entry).
    """

    RISING = "rising"
    FALLING = "falling"


class TimeInForce(StrEnum):
    """How long an order rests."""

    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(StrEnum):
    """Where an order is in its lifecycle."""

    NEW = "new"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        """True for states an order never leaves."""
        return self in TERMINAL_STATUSES

    @property
    def is_open(self) -> bool:
        """True while the order may still fill."""
        return self in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)


TERMINAL_STATUSES = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED})

#: Every move an order may make. A venue acknowledges an order (ACCEPTED) or
#: refuses it (REJECTED) before anything else can happen to it.
ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.NEW: frozenset({OrderStatus.ACCEPTED, OrderStatus.REJECTED}),
    OrderStatus.ACCEPTED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}


class _NotGiven:
    """The default of an optional argument the caller did not give (``None`` may be a value given)."""

    def __repr__(self) -> str:
        return "<not given>"


_NOT_GIVEN: Any = _NotGiven()


class OrderIntent(BaseModel):
    """What a strategy wants to trade, before risk rules and before it has an id.

    ``price`` is the limit price (LIMIT, STOP_LIMIT); ``trigger_price`` and
    ``trigger_direction`` are for STOP and STOP_LIMIT. ``client_order_id`` may
    be set by a strategy that wants to name its orders (to rebuild its state
    after a restart); otherwise the engine assigns one. ``tag`` is free text
    kept with the order (the strategy's reason, a ladder level...).
    """

    model_config = ConfigDict(frozen=True)

    symbol: str
    side: Side
    quantity: Decimal = Field(gt=0)
    type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    trigger_direction: TriggerDirection | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    client_order_id: str | None = None
    tag: str = ""

    @classmethod
    def market(
        cls,
        symbol: str,
        side: Side,
        quantity: Decimal,
        *,
        reduce_only: bool = _NOT_GIVEN,
        tag: str = _NOT_GIVEN,
        client_order_id: str | None = _NOT_GIVEN,
    ) -> OrderIntent:
        """A market order's intent, as ``OrderIntent(symbol=..., side=..., quantity=...)`` with the same
        keywords makes it, at half the cost.

        ``reduce_only``, ``tag`` and ``client_order_id`` default as the
        constructor's fields do, and count as set only when given (the
        intent's ``model_fields_set``). Values of exactly the types the fields
        hold (a ``str`` symbol and tag, a :class:`Side`, a finite positive
        ``Decimal``, a ``bool``) are checked here and the intent assembled from
        them; anything else goes through pydantic's validation, which converts
        it or raises its usual ``ValidationError``. Either way the intent is
        the one the constructor makes, fields-set included.
        """
        given: dict[str, Any] = {"symbol": symbol, "side": side, "quantity": quantity}
        if reduce_only is not _NOT_GIVEN:
            given["reduce_only"] = reduce_only
        if client_order_id is not _NOT_GIVEN:
            given["client_order_id"] = client_order_id
        if tag is not _NOT_GIVEN:
            given["tag"] = tag
        if (
            cls is OrderIntent
            and type(symbol) is str
            and type(side) is Side
            and type(quantity) is Decimal
            and quantity.is_finite()
            and quantity > ZERO
            and (reduce_only is _NOT_GIVEN or type(reduce_only) is bool)
            and (tag is _NOT_GIVEN or type(tag) is str)
            and (client_order_id is _NOT_GIVEN or client_order_id is None or type(client_order_id) is str)
        ):
            # Every field, in declaration order and with its default, as validation lays them out.
            return _assemble(cls, {**_INTENT_DEFAULTS, **given}, set(given))
        return cls(**given)

    @model_validator(mode="after")
    def _consistent(self) -> OrderIntent:
        if self.type is OrderType.MARKET and self.price is None and self.trigger_price is None and not self.post_only:
            return self  # the common case, and everything below holds for it
        needs_price = self.type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_trigger = self.type in (OrderType.STOP, OrderType.STOP_LIMIT)
        if needs_price and self.price is None:
            raise ValueError(f"a {self.type} order needs a price")
        if not needs_price and self.price is not None:
            raise ValueError(f"a {self.type} order takes no limit price")
        if needs_trigger and (self.trigger_price is None or self.trigger_direction is None):
            raise ValueError(f"a {self.type} order needs a trigger_price and a trigger_direction")
        if not needs_trigger and self.trigger_price is not None:
            raise ValueError(f"a {self.type} order takes no trigger price")
        if self.post_only and self.type not in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            raise ValueError("post_only applies to limit and stop-limit orders only")
        for name in ("price", "trigger_price"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, was {value}")
        return self


class Order(BaseModel):
    """An order the engine has sent or is about to send, and what became of it.

    Orders are mutable, but only through :meth:`transition` and :meth:`record_fill`,
    which enforce the lifecycle and keep ``filled_quantity`` and
    ``average_fill_price`` exact.
    """

    model_config = ConfigDict(validate_assignment=False)

    client_order_id: str = Field(min_length=1)
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal = Field(gt=0)
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    trigger_direction: TriggerDirection | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    tag: str = ""
    status: OrderStatus = OrderStatus.NEW
    exchange_order_id: str | None = None
    filled_quantity: Decimal = Decimal(0)
    filled_notional: Decimal = Decimal(0)
    average_fill_price: Decimal | None = None
    fees_paid: Decimal = Decimal(0)
    reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    triggered: bool = False

    @classmethod
    def from_intent(cls, intent: OrderIntent, client_order_id: str, created_at: datetime | None = None) -> Order:
        """Build the order for an accepted intent.

        The intent was validated when it was made, and every field it has is an
        order field of the same type, so the order is assembled from its values
        without validating them again (the engine makes one per order it sends).
        Only the id is new, and checked.
        """
        if type(intent) is not OrderIntent or not client_order_id:
            # A subclass may carry more; an empty id is refused the usual way.
            fields: dict[str, Any] = dict(intent.__dict__)
            fields["client_order_id"] = client_order_id
            fields["created_at"] = created_at
            validated: Order = _validate_order(fields)
            return validated
        fields = _ORDER_DEFAULTS.copy()  # every field, in declaration order, as validation lays them out
        fields.update(intent.__dict__)
        fields["client_order_id"] = client_order_id
        fields["created_at"] = created_at
        return _assemble(Order, fields, set(_SET_FROM_INTENT))

    @property
    def remaining_quantity(self) -> Decimal:
        """What is still to be filled."""
        return self.quantity - self.filled_quantity

    def transition(self, status: OrderStatus, *, at: datetime | None = None, reason: str | None = None) -> OrderStatus:
        """Move to ``status``; returns the previous status.

        Raises :class:`InvalidTransitionError` for a move the lifecycle forbids.
        """
        previous = self.status
        if status not in ALLOWED_TRANSITIONS[previous]:
            raise InvalidTransitionError(f"order {self.client_order_id} cannot go from {previous} to {status}")
        # Written straight into the instance dict: the values are checked
        # here, and pydantic's assignment hook would add each name to the
        # model's fields-set (2 KB per order once grown) and cost a microsecond.
        state = self.__dict__
        state["status"] = status
        if reason is not None:
            state["reason"] = reason
        if at is not None:
            state["updated_at"] = at
        return previous

    def record_fill(
        self, quantity: Decimal, price: Decimal, fee: Decimal, *, at: datetime | None = None
    ) -> OrderStatus:
        """Add a fill of ``quantity`` at ``price``; moves to PARTIALLY_FILLED or FILLED.

        Returns the previous status. A fill larger than what remains raises
        :class:`InvalidTransitionError`.
        """
        # Read and written through the instance dict: this runs twice per fill (venue and engine).
        state = self.__dict__
        filled = state["filled_quantity"]
        ordered = state["quantity"]
        if quantity <= 0 or quantity > ordered - filled:
            raise InvalidTransitionError(
                f"order {self.client_order_id} cannot fill {quantity}; {self.remaining_quantity} remains"
            )
        total = filled + quantity
        target = OrderStatus.FILLED if total == ordered else OrderStatus.PARTIALLY_FILLED
        previous: OrderStatus = state["status"]
        if target not in ALLOWED_TRANSITIONS[previous]:
            raise InvalidTransitionError(
                f"order {self.client_order_id} cannot fill while {previous} (it would go to {target})"
            )
        # Keep the filled notional and divide once, so the average is exact
        # however many fills there are (no re-multiplying a rounded average).
        state["filled_notional"] = notional = state["filled_notional"] + price * quantity
        state["filled_quantity"] = total
        # A first fill's average is its price: the division would give it back.
        state["average_fill_price"] = notional / total if total != quantity else price
        state["fees_paid"] = state["fees_paid"] + fee
        # The move transition() would make, checked above.
        state["status"] = target
        if at is not None:
            state["updated_at"] = at
        return previous

    def copy_for_venue(self) -> Order:
        """A shallow copy, as ``model_copy()`` makes, for a venue that keeps its own view of the order.

        Every field is an immutable value, so the copy and the original then change independently.
        pydantic's ``model_copy`` builds the same four attributes through its general path, at twice
        the cost; the engine copies every order it sends to the simulated venue.
        """
        if type(self) is not Order:
            return self.model_copy()  # a subclass may carry private attributes or extras
        return _assemble(Order, self.__dict__.copy(), self.__pydantic_fields_set__.copy())


class Liquidity(StrEnum):
    """Whether a fill added liquidity (maker) or took it (taker)."""

    MAKER = "maker"
    TAKER = "taker"


class Fill(BaseModel):
    """One execution of (part of) an order."""

    model_config = ConfigDict(frozen=True)

    fill_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal = Field(gt=0)
    price: Decimal = Field(gt=0)
    fee: Decimal = Decimal(0)
    fee_currency: str = ""
    liquidity: Liquidity = Liquidity.TAKER
    timestamp: datetime

    @property
    def notional(self) -> Decimal:
        """Quantity times price, in the quote currency."""
        return self.quantity * self.price


class OrderUpdate(BaseModel):
    """A change of an order's state as an exchange reports it."""

    model_config = ConfigDict(frozen=True)

    client_order_id: str
    status: OrderStatus
    timestamp: datetime
    exchange_order_id: str | None = None
    reason: str | None = None


# The validator itself, without the constructor's Python wrapper around it.
_validate_order = Order.__pydantic_validator__.validate_python
_new_order = object.__new__
_set_attribute = object.__setattr__
# The setters of the slots pydantic keeps beside a model's __dict__: called directly, they cost half
# of object.__setattr__, which looks each name up on the class first.
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__

_Model = TypeVar("_Model", bound=BaseModel)


def _assemble(cls: type[_Model], fields: dict[str, Any], fields_set: set[str]) -> _Model:
    """A ``cls`` holding ``fields`` as they are: the four attributes pydantic's validation sets.

    Only for values known to be of the fields' types and within their
    constraints; validation would give an equal model with the same fields-set,
    at twice the cost (``model_construct`` costs more still). ``cls`` has no
    private attributes and no extras.
    """
    model = _new_order(cls)
    _set_attribute(model, "__dict__", fields)
    _set_fields_set(model, fields_set)
    _set_extra(model, None)
    _set_private(model, None)
    return model


_ORDER_DEFAULTS: dict[str, Any] = {name: field.default for name, field in Order.model_fields.items()}
_INTENT_DEFAULTS: dict[str, Any] = {name: field.default for name, field in OrderIntent.model_fields.items()}
# What validating an intent's fields plus created_at marks as set.
_SET_FROM_INTENT = frozenset(OrderIntent.model_fields) | {"created_at"}
_FILL_FIELDS = frozenset(Fill.model_fields)


def checked_fill(
    fill_id: str,
    client_order_id: str,
    symbol: str,
    side: Side,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal,
    fee_currency: str,
    liquidity: Liquidity,
    timestamp: datetime,
) -> Fill:
    """A :class:`Fill` from values already checked, without validating them again.

    ``quantity`` and ``price`` are positive Decimals, the enums are members,
    ``timestamp`` a datetime: the simulated venue only fills a positive
    quantity at a price on the tick, and a backtest's fill log keeps what the
    venue made. The result equals ``Fill(...)`` of the same values.
    """
    return _assemble(
        Fill,
        {
            "fill_id": fill_id,
            "client_order_id": client_order_id,
            "symbol": symbol,
            "side": side,
            "quantity": quantity,
            "price": price,
            "fee": fee,
            "fee_currency": fee_currency,
            "liquidity": liquidity,
            "timestamp": timestamp,
        },
        set(_FILL_FIELDS),
    )
