"""A fault campaign: many orders through the engine's broker, each meeting a fault drawn at random (or none)."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradekit.domain.orders import Order, OrderType
from tradekit.engine.brokers import ExchangeBroker
from tradekit.errors import OrderStateUnknown
from tradekit_ccxt.testing.server import FakeVenueServer, Request

#: What a campaign draws from for each order; None: the order meets no fault.
CAMPAIGN_FAULTS: tuple[str | None, ...] = (None, "lost", "malformed", "timeout", "error", "rate")


@dataclass
class CampaignResult:
    """The orders a campaign sent, in order, and how many the broker could not confirm (``OrderStateUnknown``)."""

    sent: list[Order]
    unsure: int


def fault_campaign(
    broker: ExchangeBroker,
    venue: FakeVenueServer,
    make_order: Callable[..., Order],
    *,
    orders: int,
    seed: int,
    placing: Callable[[Request], bool],
    price: Decimal,
    now: datetime,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> CampaignResult:
    """Submit ``orders`` resting limit orders at ``price``; before each, queue a fault drawn from ``seed``.

    Each fault hits the request that ``placing`` recognises, with the keyword
    arguments ``options[kind]`` gives :meth:`FakeVenueServer.inject` (a timeout's
    ``delay``, a rate limit's ``retry_after``...). What reached the venue is for the
    caller to read from its fake: each venue records placed orders its own way.
    """
    draw = random.Random(seed)
    sent: list[Order] = []
    unsure = 0
    for _ in range(orders):
        kind = draw.choice(CAMPAIGN_FAULTS)
        if kind is not None:
            venue.inject(kind, placing, **(options or {}).get(kind, {}))
        order = make_order(type=OrderType.LIMIT, price=price)
        sent.append(order)
        try:
            broker.submit(order, now, None)
        except OrderStateUnknown:
            unsure += 1
    return CampaignResult(sent, unsure)
