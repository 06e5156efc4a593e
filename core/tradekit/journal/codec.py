"""How the journal turns values into SQLite text and back, with every secret redacted.

Three encodings live here:

* timestamps become ISO-8601 text in UTC with microseconds (fixed width, so
  text order is time order);
* flat domain models (orders, fills, intents, verdicts) become pydantic's JSON,
  after every string field has been passed through :func:`tradekit.secrets.redact`
  and every datetime moved to UTC;
* free-form payloads (run config, strategy state, event data, reports) become
  JSON in which ``Decimal`` and ``datetime`` values are tagged
  (``{"$decimal": "0.10"}``, ``{"$datetime": "..."}``) so they come back as the
  same type and the same digits. Tuples come back as lists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import msgspec
import numpy as np
from pydantic import BaseModel

from tradekit.secrets import redact

DECIMAL_TAG = "$decimal"
DATETIME_TAG = "$datetime"
#: Marks a user dict whose only key happens to be one of the tags, so it is not
#: mistaken for a tagged value when read back.
PAIRS_TAG = "$pairs"
_TAGS = frozenset({DECIMAL_TAG, DATETIME_TAG, PAIRS_TAG})

ModelT = TypeVar("ModelT", bound=BaseModel)

#: JSON of plain values (str, bool, int, None, ``Decimal``, UTC ``datetime``, enum members, and lists, tuples
#: and dicts of them), byte for byte as pydantic writes each of those types, at a third of the cost: an enum
#: member as its value, a Decimal as ``str()`` of it, a UTC time as ``...Z`` with no fraction for a whole
#: second, else six digits, strings escaped alike. Floats are left out: the two may write them differently.
#: A backtest's journal batches are written with it (msgspec; tests hold the two equal).
plain_json = msgspec.json.Encoder(decimal_format="string").encode

# Exact types, not ABCs: model_json runs for every order update of a backtest.
_CONTAINERS = frozenset({dict, list, tuple, set, frozenset})


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    if moment.tzinfo is UTC:
        return moment
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """``moment`` as fixed-width ISO-8601 text in UTC."""
    return utc(moment).isoformat(timespec="microseconds")


def parse_iso(text: str) -> datetime:
    """The datetime :func:`iso` wrote."""
    return datetime.fromisoformat(text)


def model_json(model: BaseModel) -> str:
    """The JSON of a flat pydantic model, its strings redacted and its datetimes in UTC.

    The common case (nothing to redact, timestamps already UTC) costs one
    ``model_dump_json``: this runs for every order update of a backtest.
    """
    update: dict[str, Any] = {}
    for name, value in model.__dict__.items():
        kind = type(value)
        if kind is str:
            clean = redact(value)
            if clean != value:
                update[name] = clean
        elif kind is datetime:
            if value.tzinfo is not UTC and (value.tzinfo is None or value.utcoffset()):
                update[name] = utc(value)
        elif kind in _CONTAINERS:
            # Nested containers may hide strings: take the general road.
            return json.dumps(
                _plain(model.model_dump(mode="json"), strict=False, where=type(model).__name__),
                ensure_ascii=False,
                separators=(",", ":"),
            )
    if update:
        model = model.model_copy(update=update)
    return model.model_dump_json()


def model_from_json(model_type: type[ModelT], text: str) -> ModelT:
    """The model :func:`model_json` wrote."""
    return model_type.model_validate_json(text)


def dump_payload(value: Any, *, where: str, strict: bool = False) -> str:
    """Free-form ``value`` as tagged JSON, every string (keys too) redacted.

    ``strict`` (strategy state, which must come back exactly to rebuild a
    strategy) refuses what would not round-trip: non-string keys, sets, and
    objects other than str, int, float, bool, None, Decimal, datetime, lists,
    tuples, dicts and numpy numbers (stored as the Python number they equal),
    raising :class:`TypeError` naming where the value sits. Otherwise (config,
    event data, reports: read by people) non-string keys become text, sets
    and numpy arrays lists, pydantic models their JSON, anything else its text.
    """
    return json.dumps(_plain(value, strict=strict, where=where), ensure_ascii=False, separators=(",", ":"))


def load_payload(text: str) -> Any:
    """The value :func:`dump_payload` wrote, with Decimals and datetimes restored."""
    return json.loads(text, object_hook=_untag)


def _plain(value: Any, *, strict: bool, where: str) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Decimal):
        return {DECIMAL_TAG: str(value)}
    if isinstance(value, datetime):
        # A naive datetime stays naive: the state a strategy saved is what it gets back.
        text = value.isoformat() if value.tzinfo is None else utc(value).isoformat()
        return {DATETIME_TAG: text}
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                if strict:
                    raise TypeError(
                        f"{where}: key {redact(repr(key))} is a {type(key).__name__}; "
                        "journaled state needs string keys (JSON has no others)"
                    )
                key = str(key)
            key = redact(key)
            out[key] = _plain(item, strict=strict, where=f"{where}.{key}")
        if len(out) == 1 and next(iter(out)) in _TAGS:
            return {PAIRS_TAG: [[k, v] for k, v in out.items()]}
        return out
    if isinstance(value, list | tuple):
        return [_plain(item, strict=strict, where=f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, np.number | np.bool_):
        # Statistics computed over bar columns arrive as numpy scalars; .item() is exact for them.
        return _plain(value.item(), strict=strict, where=where)
    if strict:
        raise TypeError(
            f"{where} is a {type(value).__name__}; journaled state may hold only str, int, float, "
            "bool, None, Decimal, datetime, lists, tuples and dicts with string keys"
        )
    if isinstance(value, BaseModel):
        return _plain(value.model_dump(mode="json"), strict=False, where=where)
    if isinstance(value, np.ndarray):
        return _plain(value.tolist(), strict=False, where=where)
    if isinstance(value, set | frozenset):
        return [_plain(item, strict=False, where=where) for item in sorted(value, key=repr)]
    return redact(str(value))


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((key, value),) = obj.items()
        if key == DECIMAL_TAG and isinstance(value, str):
            return Decimal(value)
        if key == DATETIME_TAG and isinstance(value, str):
            return datetime.fromisoformat(value)
        if key == PAIRS_TAG and isinstance(value, list):
            return {k: v for k, v in value}
    return obj
