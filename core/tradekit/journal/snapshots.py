"""Orders' snapshots for the journal, many at a time, as :func:`~tradekit.journal.codec.model_json` writes them.

The ``orders`` table keeps each order's latest state as JSON: ``model_json``'s
text, with every string redacted and every time in UTC. ``model_json`` walks
every field of the order it is given, and pydantic looks each enum member's
value up through Python; a backtest writes tens of thousands of snapshots, so
:func:`encode_orders` writes a batch of them in one call instead, from the
orders' instance dicts. msgspec (:func:`~tradekit.journal.codec.plain_json`)
writes them when each dict holds the model's fields in order, each of a type
it writes as pydantic does; otherwise pydantic does, the dicts declared as a
``TypedDict`` with the model's fields in the model's order and its ``str``
enums as ``str`` (a member is the string it stands for). The text is the same:
pydantic's way costs a third less than model_json, msgspec about a third of
pydantic's time. Which fields may hold a time to move to UTC follows from the
model's class, so only those are looked at; strings are redacted a batch at a
time (:func:`holds_no_secret` vouches for the written text, else each order is
written with its strings redacted).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

import msgspec
from pydantic import BaseModel, TypeAdapter
from pydantic_core import PydanticSerializationError
from typing_extensions import TypedDict

from tradekit.journal.codec import model_json, plain_json, utc
from tradekit.secrets import redact

#: model_config keys that change how pydantic writes a model (besides every ``ser_...`` one).
_SERIALIZING_CONFIG = frozenset({"json_encoders", "use_enum_values", "serialize_by_alias"})


def encode_orders(orders: Iterable[BaseModel]) -> bytes:
    """A JSON array of :func:`~tradekit.journal.codec.model_json`'s text of each of ``orders``, in order."""
    orders = list(orders)
    kinds = {type(order) for order in orders}
    if len(kinds) == 1:
        snapshots = _snapshots_of(kinds.pop())
        if snapshots is not None:
            encoded = snapshots.plain(orders)
            if encoded is not None:
                return encoded
    return b"[" + b",".join(_one_by_one(orders)) + b"]"


def _one_by_one(orders: list[BaseModel]) -> Iterator[bytes]:
    for order in orders:
        snapshots = _snapshots_of(type(order))
        row = None if snapshots is None else snapshots.fixed(order)
        if row is None:
            yield model_json(order).encode()
        else:
            try:
                yield snapshots.dump([row], warnings="error")[1:-1]  # type: ignore[union-attr]  # set with row
            except PydanticSerializationError:
                yield model_json(order).encode()


def holds_no_secret(encoded: bytes) -> bool:
    """True when no string in the JSON text ``encoded`` holds a registered secret.

    A string without a quote, backslash or control character is written as it
    is, so a secret inside it is inside the text; a text with an escape in it
    may hide one (a secret holding a quote is written escaped), so it is not
    vouched for. The answer never misses a secret; it may see one that spans
    two values, which only costs the slow road.
    """
    if b"\\" in encoded:  # memchr: a backslash is rare in this JSON
        return False
    text = encoded.decode()
    return redact(text) == text


class _Snapshots:
    """How the orders of one model class are written (see the module's docstring)."""

    def __init__(
        self, texts: tuple[str, ...], moments: tuple[str, ...], shape: Any, kinds: tuple[frozenset[type], ...] | None
    ) -> None:
        self.texts = texts
        self.moments = moments
        self.dump: Callable[..., bytes] = TypeAdapter(list[shape]).dump_json
        self._moments_of = _getter(moments)
        self._names = tuple(shape.__annotations__)
        # The types each field may hold for msgspec to write it as pydantic does; None: pydantic writes them.
        self._kinds = kinds
        # The types of an order's values, field by field, already seen to fit those.
        self._fitting: set[tuple[type, ...]] = set()

    def plain(self, orders: list[BaseModel]) -> bytes | None:
        """``orders`` written in one call; None unless that is model_json's text of each.

        It is when no order has a time to move to UTC or a string to redact,
        and every value is of its field's type.
        """
        states = [order.__dict__ for order in orders]
        # Loops, not all() over a generator: this runs for every order of a backtest.
        for moments in map(self._moments_of, states):
            for moment in moments:
                if moment is not None and moment.tzinfo is not UTC:
                    return None
        if self._kinds is not None and self._fit(states):
            try:
                encoded = plain_json(states)
            except (msgspec.EncodeError, TypeError, UnicodeEncodeError):
                return None  # what pydantic cannot write either (a lone surrogate): model_json says why
        else:
            try:
                encoded = self.dump(states, warnings="error")
            except PydanticSerializationError:
                # A value its field's type does not allow (written into an order's dict): model_json writes it.
                return None
        return encoded if holds_no_secret(encoded) else None

    def _fit(self, states: list[dict[str, Any]]) -> bool:
        """Whether each of ``states`` holds the model's fields, in order, each of a type msgspec writes as pydantic.

        msgspec writes a dict as it finds it; these are the dicts pydantic's
        ``TypedDict`` would write the same (a value of another type makes
        pydantic refuse, and model_json write the order).
        """
        names = self._names
        fitting = self._fitting
        for state in states:
            if tuple(state) != names:
                return False
            types = tuple(map(type, state.values()))
            if types not in fitting:
                if not all(kind in allowed for kind, allowed in zip(types, self._kinds, strict=True)):  # type: ignore[arg-type]  # set when fitting
                    return False
                fitting.add(types)
        return True

    def fixed(self, order: BaseModel) -> dict[str, Any] | None:
        """``order``'s values with its texts redacted and its times in UTC, as model_json writes them.

        None when a text or time field holds something else, which model_json writes its own way.
        """
        state = order.__dict__
        update: dict[str, Any] = {}
        for name in self.texts:
            text = state[name]
            if text is not None:
                if type(text) is not str:
                    return None
                update[name] = redact(text)
        for name in self.moments:
            moment = state[name]
            if moment is not None:
                if type(moment) is not datetime:
                    return None
                update[name] = utc(moment)
        return {**state, **update}


def _getter(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The values of ``names`` in a dict, as a tuple (one C call when there are several)."""
    if len(names) > 1:
        return operator.itemgetter(*names)
    return lambda state: tuple(state[name] for name in names)


# Per model class, made on first use; None for a class only model_json can write.
_snapshots: dict[type[BaseModel], _Snapshots | None] = {}


def _snapshots_of(kind: type[BaseModel]) -> _Snapshots | None:
    if kind not in _snapshots:
        plan = _plan(kind)
        _snapshots[kind] = None if plan is None else _Snapshots(*plan)
    return _snapshots[kind]


def _plan(
    model_type: type[BaseModel],
) -> tuple[tuple[str, ...], tuple[str, ...], Any, tuple[frozenset[type], ...] | None] | None:
    """The text fields, the time fields, the ``TypedDict`` of ``model_type`` and its fields' types for msgspec.

    None when model_json must write the model: a field may hold what
    model_json walks into (a container, a nested model), or the ``TypedDict``
    would write it otherwise than the model (serializers, aliases, excluded
    fields, serialization settings). The fields' types are None when a field
    may hold a float, which msgspec and pydantic may write differently.
    """
    decorators = model_type.__pydantic_decorators__
    if (
        decorators.field_serializers
        or decorators.model_serializers
        or any(key.startswith("ser_") or key in _SERIALIZING_CONFIG for key in model_type.model_config)
    ):
        return None
    texts: list[str] = []
    moments: list[str] = []
    shape: dict[str, Any] = {}
    kinds_by_field: list[frozenset[type]] = []
    for name, field in model_type.model_fields.items():
        if field.alias or field.serialization_alias or field.exclude:
            return None
        kinds = _alternatives(field.annotation)
        if kinds <= {str}:
            texts.append(name)
        elif kinds <= {datetime}:
            moments.append(name)
        elif not all(kind in (bool, int, float, Decimal) or _is_enum(kind) for kind in kinds):
            return None
        # model_json leaves an enum member as it is, and a str enum's member is the string it stands for.
        declared = [str if _is_enum(kind) and issubclass(kind, str) else kind for kind in kinds]
        if NoneType in get_args(field.annotation):
            declared.append(NoneType)
        shape[name] = functools.reduce(operator.or_, declared)
        # A value's own type, as msgspec sees it: an enum member is of its enum class.
        kinds_by_field.append(frozenset(kinds | ({NoneType} & set(get_args(field.annotation)))))
    typed = TypedDict(f"{model_type.__name__}Snapshot", shape)  # type: ignore[misc]
    floats = any(float in kinds for kinds in kinds_by_field)
    return tuple(texts), tuple(moments), typed, None if floats else tuple(kinds_by_field)


def _alternatives(annotation: Any) -> set[Any]:
    """The types a field may hold, ``None`` left out (``str | None`` -> ``{str}``)."""
    if get_origin(annotation) in (Union, UnionType):
        return {kind for kind in get_args(annotation) if kind is not NoneType}
    return {annotation}


def _is_enum(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, Enum)
