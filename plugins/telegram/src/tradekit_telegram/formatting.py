"""Events and command replies as Telegram HTML (``parse_mode=HTML``).

Telegram's HTML knows a few tags (``b``, ``i``, ``code``, ``pre``...) and only
the entities ``&lt; &gt; &amp; &quot;``; every piece of text that comes from a
run (a symbol, a reason, an error) is escaped, so a ``<`` in a venue's message
cannot break the markup (Telegram would refuse the whole message).
"""

from __future__ import annotations

import html
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradekit.domain.events import NotifierEvent, Severity

if TYPE_CHECKING:
    from tradekit.control import AccountSnapshot

#: Telegram refuses messages longer than this (in characters, after entities are parsed).
MAX_LENGTH = 4096

_TITLES: dict[str, tuple[str, str]] = {
    "run_started": ("🚀", "Run started"),
    "run_stopped": ("🏁", "Run stopped"),
    "order_placed": ("📝", "Order placed"),
    "order_filled": ("✅", "Filled"),
    "order_cancelled": ("✖️", "Order cancelled"),
    "order_rejected": ("⛔", "Order rejected"),
    "risk_rejected": ("🛑", "Blocked by risk"),
    "error": ("❗", "Error"),
    "daily_summary": ("📊", "Daily summary"),
    "market_data": ("📡", "Market data"),
    "circuit_breaker_tripped": ("🚨", "Circuit breaker tripped"),
    "circuit_breaker_half_open": ("🟡", "Circuit breaker half-open"),
    "circuit_breaker_reset": ("🟢", "Circuit breaker reset"),
    "kill_switch_engaged": ("🛑", "Kill switch pulled"),
    "stop_requested": ("⏹", "Stop requested"),
    "resume_requested": ("▶️", "Resume requested"),
}
_QUANTITIES = frozenset({"quantity", "position", "trigger", "side", "symbol", "reason", "orders", "fills"})
_SEVERITY_MARK = {Severity.INFO: "ℹ️", Severity.WARNING: "⚠️", Severity.ERROR: "❗"}

# The numbers worth a line of their own, by event kind, in this order.
_DETAILS: dict[str, tuple[str, ...]] = {
    "order_filled": ("quantity", "price", "fee", "position"),
    "circuit_breaker_tripped": ("trigger", "value_pct", "value", "limit", "equity", "peak", "day_start", "until"),
    "daily_summary": ("start_equity", "end_equity", "change_pct", "orders", "fills", "risk_rejections"),
    "run_stopped": ("reason", "equity"),
}


def escape(text: object) -> str:
    """``text`` safe inside Telegram HTML."""
    return html.escape(str(text), quote=False)


def format_event(event: NotifierEvent) -> str:
    """One event as a Telegram HTML message: a bold title, the message, its key numbers, run and time."""
    icon, title = _TITLES.get(event.kind, (_SEVERITY_MARK.get(event.severity, "ℹ️"), event.kind.replace("_", " ")))
    lines = [f"{icon} <b>{escape(title)}</b>", escape(event.message[:3000])]
    details = [
        f"{escape(key.replace('_pct', '').replace('_', ' '))}: <code>{escape(_show(key, event.data[key]))}</code>"
        for key in _DETAILS.get(event.kind, ())
        if event.data.get(key) not in (None, "")
    ]
    if details:
        lines.append("\n".join(details))
    footer = event.timestamp.strftime("%Y-%m-%d %H:%M UTC")
    if event.run_id:
        footer = f"run {escape(event.run_id[:12])} · {footer}"
    lines.append(f"<i>{footer}</i>")
    return _fit("\n".join(lines))


def format_status(snapshot: AccountSnapshot) -> str:
    """The answer to ``/status``."""
    run = snapshot.run
    change = snapshot.equity - snapshot.start_equity
    percent = change / snapshot.start_equity * 100 if snapshot.start_equity else Decimal(0)
    lines = [
        f"📟 <b>{escape(run.mode.value)} {escape(run.run_id[:12])}</b>",
        f"{escape(', '.join(run.strategies))} on {escape(run.exchange)} {escape(', '.join(run.symbols))}",
        f"bar: <code>{_when(snapshot)}</code>",
        f"equity: <code>{_money(snapshot.equity)} {escape(snapshot.quote_currency)}</code> "
        f"({escape(f'{percent:+.2f}%')})",
        f"positions: <code>{len(snapshot.positions)}</code>, open orders: <code>{len(snapshot.open_orders)}</code>",
        f"orders: <code>{snapshot.orders}</code>, fills: <code>{snapshot.fills}</code>, "
        f"blocked by risk: <code>{snapshot.risk_rejections}</code>",
    ]
    for key, text in sorted(snapshot.status.items()):
        lines.append(f"{escape(key)}: {escape(text)}")
    if snapshot.stopping is not None:
        lines.append(f"⏹ stopping: {escape(snapshot.stopping.describe())}")
    return _fit("\n".join(lines))


def format_balance(snapshot: AccountSnapshot) -> str:
    """The answer to ``/balance``."""
    lines = ["💰 <b>Balance</b>"]
    for currency, amount in sorted(snapshot.cash.items()):
        lines.append(f"{escape(currency)}: <code>{_money(amount)}</code>")
    lines.append(f"equity: <code>{_money(snapshot.equity)} {escape(snapshot.quote_currency)}</code>")
    return _fit("\n".join(lines))


def format_positions(snapshot: AccountSnapshot) -> str:
    """The answer to ``/positions``."""
    if not snapshot.positions:
        return "📭 <b>No open positions</b>"
    lines = ["📈 <b>Positions</b>"]
    for position in snapshot.positions:
        price = snapshot.prices.get(position.symbol)
        unrealized = (
            "" if price is None else f", unrealized {_money((price - position.average_price) * position.quantity)}"
        )
        lines.append(
            f"{escape(position.symbol)}: <code>{escape(position.quantity)}</code> at "
            f"<code>{_money(position.average_price)}</code>" + escape(unrealized)
        )
    return _fit("\n".join(lines))


def _when(snapshot: AccountSnapshot) -> str:
    return "-" if snapshot.timestamp is None else snapshot.timestamp.strftime("%Y-%m-%d %H:%M UTC")


def _money(value: Decimal | float) -> str:
    return escape(f"{float(value):,.2f}")


def _show(key: str, value: Any) -> str:
    """One detail for people: percentages with %, money to the cent, times in minutes, quantities as they are."""
    if key.endswith("_pct") and isinstance(value, (int, float)):
        return f"{value:.2f}%"
    if key in ("at", "until") and isinstance(value, str):
        try:
            return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")
        except ValueError:
            return value
    if key in _QUANTITIES or isinstance(value, (bool, int)):
        return str(value)
    try:
        return f"{float(Decimal(str(value))):,.2f}"
    except (ArithmeticError, ValueError):
        return str(value)


def _fit(text: str) -> str:
    """Cut a message Telegram would refuse for its length (at a line, never inside a tag)."""
    if len(text) <= MAX_LENGTH:
        return text
    kept: list[str] = []
    size = 0
    for line in text.split("\n"):
        if size + len(line) + 1 > MAX_LENGTH - 20:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept) + "\n… (cut)"
