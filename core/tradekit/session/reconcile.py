"""Before a live run starts: what the venue holds, matched with the journal by client order id.

A live run takes up only what it knows. On start, the venue's open orders of
the run's symbols and its positions in them are read and compared with the
journal:

* an open order whose client order id the journal holds for this run (a run
  taken up after it died) is the run's own: :mod:`tradekit.session.resume`
  settles it;
* one the journal holds for another tradekit run (same account, another
  strategy or another process) belongs to that run and is left alone (reported);
* any other open order is **unknown**: placed by hand, by another program, or
  by a run whose journal is elsewhere;
* a position the run's fills do not explain (a fresh run holding anything, a
  resumed run holding another quantity than its journaled fills and the fills
  its own orders made while it was down) is **unexplained**.

When anything is unknown or unexplained the run does not start until the user
says how to treat it:

``adopt``
    the unknown orders become the run's (tracked, journaled, their fills and
    updates booked and told to the strategy as they happen); an unexplained
    position is booked into the run's ledger at the venue's entry price (a
    journaled fill with id ``adopted:<symbol>:<run>``);
``cancel``
    the unknown orders are cancelled at the venue; an unexplained position is
    left where it is, outside the run's books (it is reported again on the next
    start);
``abort``
    nothing is touched and the run does not start.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradekit.domain.orders import Fill, Liquidity, Order, Side
from tradekit.errors import ExchangeError, UserError
from tradekit.money import ZERO

if TYPE_CHECKING:
    from tradekit.engine.core import Engine
    from tradekit.journal import Journal
    from tradekit.plugin import Exchange, Strategy
    from tradekit.session.plugins import RunPlugins
    from tradekit.session.resume import Resumption

log = logging.getLogger("tradekit.session")

CHOICES: tuple[str, ...] = ("adopt", "cancel", "abort")
_ENGINE_ID = re.compile(r"^[0-9a-f]{32}$")


class StartRefused(UserError):
    """The venue holds what the journal does not explain and the user chose not to start (or was not asked)."""

    exit_code = 1


@dataclass(frozen=True)
class PositionGap:
    """A position the run's fills do not explain: the venue's quantity and entry price, and the journal's quantity."""

    symbol: str
    venue: Decimal
    journal: Decimal
    entry_price: Decimal

    @property
    def unexplained(self) -> Decimal:
        """The quantity the journal does not account for (signed)."""
        return self.venue - self.journal


@dataclass
class Reconciliation:
    """What the venue holds that this run's journal does not explain, and the user's choice about it."""

    unknown_orders: list[Order] = field(default_factory=list)
    other_runs: dict[str, list[Order]] = field(default_factory=dict)
    positions: list[PositionGap] = field(default_factory=list)
    choice: str = "adopt"

    @property
    def clean(self) -> bool:
        """Nothing to decide: every open order and position is explained."""
        return not self.unknown_orders and not self.positions

    def describe(self) -> str:
        """The findings in words, one line each, for the user to decide on."""
        lines = []
        for order in self.unknown_orders:
            price = f" at {order.price}" if order.price is not None else ""
            trigger = f" trigger {order.trigger_price}" if order.trigger_price is not None else ""
            lines.append(
                f"  unknown open order {order.client_order_id} (venue id {order.exchange_order_id}): "
                f"{order.type.value} {order.side.value} {order.quantity} {order.symbol}{price}{trigger}, "
                f"{order.filled_quantity} filled"
            )
        for gap in self.positions:
            lines.append(
                f"  unexplained position in {gap.symbol}: the venue holds {gap.venue} (entry {gap.entry_price}), "
                f"the journal's fills explain {gap.journal}"
            )
        for run_id, orders in self.other_runs.items():
            lines.append(f"  {len(orders)} open order(s) of tradekit run {run_id[:12]}: left to that run")
        return "\n".join(lines)


def find_discrepancies(
    exchange: Exchange,
    journal: Journal,
    symbols: tuple[str, ...],
    resumption: Resumption | None,
    missed: dict[str, Decimal] | None = None,
) -> Reconciliation:
    """Compare the venue's open orders and positions in ``symbols`` with the journal.

    ``missed``: per symbol, the signed quantity the venue filled of the run's
    own orders while it was down, which the exchange is to report (those
    fills explain the position too).
    """
    own = {order.client_order_id for order in resumption.orders} if resumption is not None else set()
    found = Reconciliation()
    for symbol in symbols:
        for order in exchange.open_orders(symbol):
            if order.client_order_id in own:
                continue
            owner = _owning_run(journal, order.client_order_id)
            if owner is not None:
                found.other_runs.setdefault(owner, []).append(order)
            else:
                found.unknown_orders.append(order)
    explained: dict[str, Decimal] = dict(missed or {})
    for fill in resumption.fills if resumption is not None else ():
        explained[fill.symbol] = explained.get(fill.symbol, ZERO) + fill.quantity * fill.side.sign
    for symbol, position in exchange.positions().items():
        if symbol in symbols and position.quantity != explained.get(symbol, ZERO):
            found.positions.append(
                PositionGap(symbol, position.quantity, explained.get(symbol, ZERO), position.average_price)
            )
    return found


def _owning_run(journal: Journal, client_order_id: str) -> str | None:
    """The run whose journal holds ``client_order_id`` (engine ids start with their run's id), or None."""
    if not _ENGINE_ID.match(client_order_id):
        return None
    try:
        run = journal.get_run(client_order_id[:12])
    except UserError:
        return None
    if any(order.client_order_id == client_order_id for order in journal.orders(run.run_id)):
        return run.run_id
    return None


def check_on_start(
    plugins: RunPlugins,
    journal: Journal,
    symbols: tuple[str, ...],
    resumption: Resumption | None,
    ask: Callable[[Reconciliation], str],
    *,
    missed: dict[str, Decimal] | None = None,
) -> Reconciliation:
    """Find what the journal does not explain and ask the user what to do (not when all is explained).

    ``missed`` as for :func:`find_discrepancies`. On ``abort`` the run's
    plugins are closed and :class:`StartRefused` is raised.
    """
    found = find_discrepancies(plugins.exchange, journal, symbols, resumption, missed)
    if found.clean:
        return found
    found.choice = ask(found)
    if found.choice not in CHOICES:
        plugins.close()
        raise StartRefused(f"unknown choice {found.choice!r}; one of {', '.join(CHOICES)}")
    if found.choice == "abort":
        plugins.close()
        raise StartRefused(
            "the run did not start: the venue holds what the journal does not explain\n" + found.describe(),
            hint="start again with --on-mismatch adopt (take them into the run) or cancel (cancel the orders)",
        )
    return found


def ask_on_terminal(choice: str, console: Any) -> Callable[[Reconciliation], str]:
    """The ``ask`` of :func:`check_on_start` for ``tradekit run --on-mismatch CHOICE``.

    It prints the findings; with ``ask`` it prompts on a terminal and refuses
    to guess without one (stdin not a terminal: the run does not start).
    """

    def ask(found: Reconciliation) -> str:
        import sys

        import click

        console.print("the venue holds what the journal does not explain:\n" + found.describe(), markup=False)
        if choice != "ask":
            return choice
        if not sys.stdin.isatty():
            return "abort"
        return str(click.prompt("adopt, cancel or abort?", type=click.Choice(list(CHOICES)), err=True))

    return ask


def settle(found: Reconciliation, exchange: Exchange, engine: Engine, strategy: Strategy, now: datetime) -> list[str]:
    """Carry out the user's choice for what ``found`` lists; returns what was done, a line each (also journaled)."""
    choice = found.choice
    done: list[str] = []
    if choice == "cancel":
        for order in found.unknown_orders:
            try:
                exchange.cancel_order(order)
                done.append(f"cancelled unknown order {order.client_order_id}")
            except ExchangeError as error:
                done.append(f"could not cancel unknown order {order.client_order_id}: {error}")
        done += [f"left the unexplained position in {gap.symbol} outside the run" for gap in found.positions]
    elif choice == "adopt":
        for order in found.unknown_orders:
            done.append(_adopt_order(order, exchange, engine, strategy))
        for gap in found.positions:
            done.append(_adopt_position(gap, exchange, engine, now))
    for line in done:
        log.warning("reconciliation: %s", line)
    if done:
        from tradekit.domain.events import Severity

        engine.notify(
            "reconciliation",
            f"on start ({choice}): " + "; ".join(done),
            Severity.WARNING,
            {"choice": choice, "actions": done},
        )
    return done


def _adopt_order(order: Order, exchange: Exchange, engine: Engine, strategy: Strategy) -> str:
    if engine.orders.used(order.client_order_id):
        return f"order {order.client_order_id} is already the run's"
    # Looking it up by client order id is how an exchange starts following an order it did not send.
    try:
        current = exchange.fetch_order(order.client_order_id, order.symbol)
    except ExchangeError as error:
        current = None
        log.warning("adopting %s: looking it up failed (%s)", order.client_order_id, error)
    adopted = current or order
    engine.orders.add(adopted)
    engine.owners[adopted.client_order_id] = strategy
    engine.stats.orders += 1
    if engine.recorder is not None:
        engine.recorder.order(adopted)
    followed = "" if current is not None else " (the venue could not look it up by client order id: fills only)"
    return f"adopted order {adopted.client_order_id}{followed}"


def _adopt_position(gap: PositionGap, exchange: Exchange, engine: Engine, now: datetime) -> str:
    quantity = gap.unexplained
    price = gap.entry_price if gap.entry_price > 0 else exchange.latest_price(gap.symbol)
    if price is None or price <= 0:
        return f"could not adopt the position in {gap.symbol}: the venue gives no entry or last price"
    fill = Fill(
        fill_id=f"adopted:{gap.symbol}:{engine.run.run_id}",
        client_order_id=f"adopted:{gap.symbol}",
        symbol=gap.symbol,
        side=Side.BUY if quantity > 0 else Side.SELL,
        quantity=abs(quantity),
        price=price,
        liquidity=Liquidity.TAKER,
        timestamp=now,
    )
    position = engine.ledger.apply_fill(fill)
    if engine.recorder is not None:
        engine.recorder.fill(fill, position)
    return f"adopted a position of {quantity} {gap.symbol} at {fill.price}"
