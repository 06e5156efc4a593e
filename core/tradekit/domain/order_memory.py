"""Orders by client order id, with a bounded memory of finished ones.

The engine and the simulated venue both look orders up by client order id:
open orders for every event, finished ones rarely (a late fill, a lookup
before a resend). Keeping every order of a million-bar backtest costs
kilobytes per order and makes Python's garbage collector walk them all,
again and again. :class:`OrderMemory` keeps every order that may still
change, the most recent ``keep_finished`` finished ones (as a venue's order
history only reaches back so far), and the set of every id it was ever given,
so a reused id is still recognised long after its order was forgotten.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping

from tradekit.domain.orders import Order

#: Finished orders kept for lookups by default: more than any live loop or
#: venue reply needs, a few megabytes at most.
DEFAULT_KEEP_FINISHED = 1_000


class OrderMemory(Mapping[str, Order]):
    """Every open order, the latest finished ones, and every id ever used.

    As a mapping it holds the orders it still keeps; ``used(id)`` answers for
    every id ever added. Call :meth:`finished` when an order reaches a final
    state: it then counts towards the finished orders kept.
    """

    def __init__(self, keep_finished: int | None = None) -> None:
        if keep_finished is None:
            keep_finished = DEFAULT_KEEP_FINISHED
        if keep_finished < 0:
            raise ValueError(f"keep_finished must be zero or more, was {keep_finished}")
        self.keep_finished = keep_finished
        self._open: dict[str, Order] = {}
        self._finished: OrderedDict[str, Order] = OrderedDict()
        self._ids: set[str] = set()

    def add(self, order: Order) -> None:
        """Remember ``order`` (not yet finished) under its client order id."""
        self._ids.add(order.client_order_id)
        self._open[order.client_order_id] = order

    def finished(self, client_order_id: str) -> str | None:
        """``client_order_id``'s order reached a final state; forget the oldest finished beyond the bound.

        Returns the id of the order forgotten, if one was, so callers can drop what they keep beside it.
        """
        order = self._open.pop(client_order_id, None)
        if order is None:
            return None
        finished = self._finished
        finished[client_order_id] = order
        if len(finished) > self.keep_finished:
            return finished.popitem(last=False)[0]
        return None

    def used(self, client_order_id: str) -> bool:
        """Whether an order with this id was ever added, kept or not."""
        return client_order_id in self._ids

    def unfinished(self) -> Iterator[Order]:
        """The orders not yet finished, oldest first."""
        return iter(self._open.values())

    def __getitem__(self, client_order_id: str) -> Order:
        order = self._open.get(client_order_id)
        if order is None:
            return self._finished[client_order_id]
        return order

    def get(self, client_order_id: str, default: Order | None = None) -> Order | None:  # type: ignore[override]
        """The kept order with this id, else ``default``."""
        order = self._open.get(client_order_id)
        if order is None:
            return self._finished.get(client_order_id, default)
        return order

    def __iter__(self) -> Iterator[str]:
        yield from self._finished
        yield from self._open

    def __len__(self) -> int:
        return len(self._open) + len(self._finished)

    def __contains__(self, client_order_id: object) -> bool:
        return client_order_id in self._open or client_order_id in self._finished
