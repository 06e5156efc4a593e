"""Connected exchanges and orders for a connector's tests: what each venue's ``conftest.py`` builds on.

A connector's conftest keeps what is its venue's own (the fake server, the settings
pointing at it) and hands the rest to these: :class:`Connections` makes connected
exchanges with test-speed backoff and closes them afterwards, :func:`order_factory`
makes orders with engine-style client order ids.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from decimal import Decimal
from types import TracebackType
from typing import Any, Generic, TypeVar

from tradekit import secrets
from tradekit.domain.orders import Order, OrderIntent, Side
from tradekit.plugin import PluginSettings
from tradekit_ccxt.exchange import CcxtExchange

ExchangeT = TypeVar("ExchangeT", bound=CcxtExchange)

#: The longest backoff a test waits: retries stay fast, their order and count unchanged.
TEST_BACKOFF_CAP = 0.05


class Connections(Generic[ExchangeT]):
    """Makes connected exchanges of one class on a fake venue; a context manager that closes them all.

    ``settings_for(**overrides)`` returns the settings pointing at the venue; calling
    the instance with keyword arguments passes them on as overrides. Each exchange's
    secrets are registered for redaction, as a run registers them.
    """

    def __init__(self, exchange_class: type[ExchangeT], name: str, settings_for: Callable[..., PluginSettings]) -> None:
        self.exchange_class = exchange_class
        self.name = name
        self.settings_for = settings_for
        self.made: list[ExchangeT] = []

    def __call__(self, **overrides: Any) -> ExchangeT:
        """A connected exchange with the venue's settings, updated with ``overrides``."""
        settings = self.settings_for(**overrides)
        secrets.register_model_secrets(settings)
        exchange = self.exchange_class(settings, name=self.name)
        exchange.sleep = lambda seconds: time.sleep(min(seconds, TEST_BACKOFF_CAP))
        exchange.connect()
        self.made.append(exchange)
        return exchange

    def close(self) -> None:
        """Close every exchange made."""
        for exchange in self.made:
            exchange.close()

    def __enter__(self) -> Connections[ExchangeT]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def order_factory(symbol: str, quantity: Decimal = Decimal("0.01")) -> Callable[..., Order]:
    """Orders with fresh engine-style client order ids (32 hex digits); keyword arguments are intent fields.

    The defaults are a buy of ``quantity`` of ``symbol``; the ids start with the
    clock's last 12 hex digits, so two factories never hand out the same id.
    """
    sequence = itertools.count(1)
    prefix = f"{time.time_ns():012x}"[-12:]

    def make(**fields: Any) -> Order:
        defaults: dict[str, Any] = {"symbol": symbol, "side": Side.BUY, "quantity": quantity}
        intent = OrderIntent(**{**defaults, **fields})
        return Order.from_intent(intent, f"{prefix}{next(sequence):020x}")

    return make


def resting_price(exchange: CcxtExchange, symbol: str, away: Decimal = Decimal("0.9")) -> Decimal:
    """A limit price that rests: the latest price times ``away`` (10 % below by default), on the tick."""
    latest = exchange.latest_price(symbol)
    if latest is None:
        raise AssertionError(f"the venue quoted no price for {symbol}: is it one of the fake server's markets?")
    return exchange.instruments([symbol])[symbol].round_price(latest * away)
