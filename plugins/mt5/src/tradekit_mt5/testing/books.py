"""The fake trade server's books: the account, its working orders, positions, deals and order history.

Money is in the account currency, which the fake takes to be every symbol's
quote currency (its tests trade USD-quoted symbols on a USD account). A deal
opens, adds to, reduces, closes or (netting) turns a position over, with the
entry MetaTrader 5 gives it (in, out, in/out); a hedging account opens a
position per deal unless the deal names the position it closes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tradekit_mt5.testing import constants as mt5
from tradekit_mt5.testing.market import Market
from tradekit_mt5.testing.records import AccountInfo, TradeDeal, TradeOrder, TradePosition, make

BUYS = frozenset({mt5.ORDER_TYPE_BUY, mt5.ORDER_TYPE_BUY_LIMIT, mt5.ORDER_TYPE_BUY_STOP, mt5.ORDER_TYPE_BUY_STOP_LIMIT})
EPSILON = 1e-9


@dataclass
class FakeAccount:
    """The account logged in to the fake terminal."""

    login: int = 5_012_345
    password: str = "fake-demo-password"
    server: str = "FakeBroker-Demo"
    currency: str = "USD"
    balance: float = 10_000.0
    leverage: int = 100
    margin_mode: int = mt5.ACCOUNT_MARGIN_MODE_RETAIL_NETTING
    trade_allowed: bool = True
    name: str = "tradekit tests"
    company: str = "Fake Broker Ltd"


@dataclass
class Books:
    """Orders, positions and deals of one account, on the fake terminal's markets."""

    account: FakeAccount
    markets: dict[str, Market]
    clock: Callable[[], float]
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    history: dict[int, dict[str, Any]] = field(default_factory=dict)
    positions: dict[int, dict[str, Any]] = field(default_factory=dict)
    deals: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._order_ids = itertools.count(50_000_001)
        self._deal_ids = itertools.count(30_000_001)

    # -- the account ----------------------------------------------------------------------------------

    def floating(self) -> float:
        """Profit of the open positions at the current prices."""
        total = 0.0
        for position in self.positions.values():
            market = self.markets[position["symbol"]]
            buy = position["type"] == mt5.POSITION_TYPE_BUY
            now = market.bid if buy else market.ask
            total += (
                (now - position["price_open"]) * position["volume"] * market.symbol.contract_size * (1 if buy else -1)
            )
        return total

    def used_margin(self) -> float:
        """Margin held by the open positions."""
        return sum(self.margin(p["symbol"], p["volume"], p["price_open"]) for p in self.positions.values())

    def margin(self, symbol: str, volume: float, price: float) -> float:
        """The margin ``volume`` lots of ``symbol`` at ``price`` need: their value over the account's leverage."""
        contract = self.markets[symbol].symbol.contract_size
        return volume * contract * price / max(self.account.leverage, 1)

    def account_info(self) -> Any:
        """``account_info()``'s record."""
        a = self.account
        equity = a.balance + self.floating()
        margin = self.used_margin()
        return make(
            AccountInfo,
            login=a.login,
            trade_mode=mt5.ACCOUNT_TRADE_MODE_DEMO,
            leverage=a.leverage,
            limit_orders=200,
            trade_allowed=a.trade_allowed,
            trade_expert=True,
            margin_mode=a.margin_mode,
            currency_digits=2,
            balance=round(a.balance, 2),
            profit=round(equity - a.balance, 2),
            equity=round(equity, 2),
            margin=round(margin, 2),
            margin_free=round(equity - margin, 2),
            margin_level=round(equity / margin * 100, 2) if margin else 0.0,
            margin_so_call=50.0,
            margin_so_so=30.0,
            name=a.name,
            server=a.server,
            currency=a.currency,
            company=a.company,
        )

    # -- records ----------------------------------------------------------------------------------------

    def order_records(self, *, symbol: str | None = None, ticket: int | None = None) -> tuple[Any, ...]:
        """Working orders as ``orders_get()`` returns them."""
        chosen = [o for o in self.orders.values() if _matches(o, symbol, ticket)]
        return tuple(self._order_record(o) for o in sorted(chosen, key=lambda o: o["ticket"]))

    def history_records(self, *, start: float, end: float, ticket: int | None, position: int | None) -> tuple[Any, ...]:
        """Finished orders as ``history_orders_get()`` returns them."""
        chosen = [
            o
            for o in self.history.values()
            if (ticket is None or o["ticket"] == ticket)
            and (position is None or o["position_id"] == position)
            and (ticket is not None or position is not None or start <= o["time_setup"] <= end)
        ]
        return tuple(self._order_record(o) for o in sorted(chosen, key=lambda o: o["ticket"]))

    def deal_records(self, *, start: float, end: float, order: int | None, position: int | None) -> tuple[Any, ...]:
        """Deals as ``history_deals_get()`` returns them (``order``: the ``ticket=`` filter, by DEAL_ORDER)."""
        chosen = [
            d
            for d in self.deals
            if (order is None or d["order"] == order)
            and (position is None or d["position_id"] == position)
            and (order is not None or position is not None or start <= d["time"] <= end)
        ]
        return tuple(make(TradeDeal, **d) for d in chosen)

    def position_records(self, *, symbol: str | None = None, ticket: int | None = None) -> tuple[Any, ...]:
        """Open positions as ``positions_get()`` returns them."""
        chosen = [p for p in self.positions.values() if _matches(p, symbol, ticket)]
        out = []
        for p in sorted(chosen, key=lambda p: p["ticket"]):
            market = self.markets[p["symbol"]]
            buy = p["type"] == mt5.POSITION_TYPE_BUY
            now = market.bid if buy else market.ask
            profit = (now - p["price_open"]) * p["volume"] * market.symbol.contract_size * (1 if buy else -1)
            out.append(make(TradePosition, **{**p, "price_current": now, "profit": round(profit, 2)}))
        return tuple(out)

    def _order_record(self, order: dict[str, Any]) -> Any:
        market = self.markets[order["symbol"]]
        current = market.ask if order["type"] in BUYS else market.bid
        return make(TradeOrder, **{**order, "price_current": current})

    # -- the books -------------------------------------------------------------------------------------------

    def netted(self, symbol: str) -> dict[str, Any] | None:
        """The one position of ``symbol`` on a netting account, or None."""
        return next((p for p in self.positions.values() if p["symbol"] == symbol), None)

    def new_order(self, request: dict[str, Any], state: int) -> dict[str, Any]:
        """A new order record (TradeOrder's fields) for ``request``, in ``state``, with the next ticket."""
        now = self.clock()
        market = self.markets[str(request["symbol"])]
        return {
            "ticket": next(self._order_ids),
            "time_setup": int(now),
            "time_setup_msc": int(now * 1000),
            "type": int(request["type"]),
            "type_time": int(request.get("type_time") or 0),
            "type_filling": int(request.get("type_filling") or 0),
            "state": state,
            "magic": int(request.get("magic") or 0),
            "reason": mt5.ORDER_REASON_EXPERT,
            "volume_initial": float(request["volume"]),
            "volume_current": float(request["volume"]),
            "price_open": market.symbol.round_price(float(request.get("price") or 0)),
            "price_stoplimit": float(request.get("stoplimit") or 0),
            "sl": float(request.get("sl") or 0),
            "tp": float(request.get("tp") or 0),
            "symbol": market.symbol.name,
            "comment": str(request.get("comment") or ""),
        }

    def finish(self, order: dict[str, Any], state: int) -> None:
        """Move ``order`` to the history in its final ``state``."""
        now = self.clock()
        order.update(state=state, time_done=int(now), time_done_msc=int(now * 1000))
        self.history[order["ticket"]] = order

    def execute(
        self,
        order: dict[str, Any],
        volume: float,
        price: float,
        *,
        position: Any = None,
        reason: int = mt5.DEAL_REASON_EXPERT,
    ) -> dict[str, Any]:
        """One deal of ``volume`` lots of ``order`` at ``price``: positions, balance and the deal record."""
        market = self.markets[order["symbol"]]
        contract = market.symbol.contract_size
        buy = order["type"] in BUYS
        now = self.clock()
        profit, entry = 0.0, mt5.DEAL_ENTRY_IN
        hedging = self.account.margin_mode == mt5.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING
        held = self.positions.get(int(position)) if position else (None if hedging else self.netted(order["symbol"]))
        if held is None:
            held = self.open_position(order, volume, price)
        elif (held["type"] == mt5.POSITION_TYPE_BUY) == buy:
            total = held["volume"] + volume
            held["price_open"] = market.symbol.round_price(
                (held["price_open"] * held["volume"] + price * volume) / total
            )
            held["volume"] = round(total, 8)
        else:
            closing = min(volume, held["volume"])
            sign = 1 if held["type"] == mt5.POSITION_TYPE_BUY else -1
            profit = round((price - held["price_open"]) * closing * contract * sign, 2)
            rest = round(held["volume"] - volume, 8)
            entry = mt5.DEAL_ENTRY_OUT
            if rest > EPSILON:
                held["volume"] = rest
            elif rest < -EPSILON:
                entry = mt5.DEAL_ENTRY_INOUT  # a netting position turned over
                held.update(type=1 - held["type"], volume=round(-rest, 8), price_open=price)
            else:
                del self.positions[held["ticket"]]
        held.update(time_update=int(now), time_update_msc=int(now * 1000))
        commission = round(-market.symbol.commission_per_lot * volume, 2)
        self.account.balance = round(self.account.balance + profit + commission, 2)
        order["volume_current"] = round(order["volume_current"] - volume, 8)
        order["position_id"] = held["identifier"]
        deal = {
            "ticket": next(self._deal_ids),
            "order": order["ticket"],
            "time": int(now),
            "time_msc": int(now * 1000),
            "type": mt5.DEAL_TYPE_BUY if buy else mt5.DEAL_TYPE_SELL,
            "entry": entry,
            "magic": order["magic"],
            "position_id": held["identifier"],
            "reason": reason,
            "volume": volume,
            "price": price,
            "commission": commission,
            "profit": profit,
            "symbol": order["symbol"],
            "comment": order["comment"],
        }
        self.deals.append(deal)
        return deal

    def open_position(self, order: dict[str, Any], volume: float, price: float) -> dict[str, Any]:
        """A new position opened by ``order``: its ticket and identifier are the order's ticket, as in MetaTrader 5."""
        now = self.clock()
        position = {
            "ticket": order["ticket"],
            "identifier": order["ticket"],
            "time": int(now),
            "time_msc": int(now * 1000),
            "type": mt5.POSITION_TYPE_BUY if order["type"] in BUYS else mt5.POSITION_TYPE_SELL,
            "magic": order["magic"],
            "reason": mt5.POSITION_REASON_EXPERT,
            "volume": volume,
            "price_open": price,
            "sl": order["sl"],
            "tp": order["tp"],
            "symbol": order["symbol"],
            "comment": order["comment"],
        }
        self.positions[position["ticket"]] = position
        return position


def _matches(record: dict[str, Any], symbol: str | None, ticket: int | None) -> bool:
    if symbol is not None:
        return bool(record["symbol"] == symbol)  # the documented rule: a symbol makes the ticket ignored
    return ticket is None or record["ticket"] == ticket
