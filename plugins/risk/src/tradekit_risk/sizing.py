"""The arithmetic of position sizing, apart from the engine: exact Decimal in, a lot-rounded quantity out.

Every function returns the largest quantity, a whole number of lots, whose
value does not exceed what the method allows: sizing never rounds up.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

from tradekit.money import MONEY_CONTEXT, round_to_step

ZERO = Decimal(0)


def quantity_for_notional(notional: Decimal, price: Decimal, lot_size: Decimal) -> Decimal:
    """The most lots whose value at ``price`` is at most ``notional`` (0 when not even one fits)."""
    if notional <= 0 or price <= 0:
        return ZERO * lot_size
    return round_to_step(MONEY_CONTEXT.divide(notional, price), lot_size, "down")


def fraction_notional(equity: Decimal, fraction: Decimal) -> Decimal:
    """The value a fixed fraction of equity buys."""
    return MONEY_CONTEXT.multiply(max(equity, ZERO), fraction)


def volatility_target_quantity(
    equity: Decimal, risk_fraction: Decimal, atr: Decimal, atr_multiple: Decimal, lot_size: Decimal
) -> Decimal:
    """The quantity whose loss over ``atr_multiple`` average true ranges is ``risk_fraction`` of equity.

    A move of ``atr * atr_multiple`` against the position then costs at most
    ``equity * risk_fraction``: volatile markets get smaller positions.
    """
    if atr <= 0 or atr_multiple <= 0 or equity <= 0:
        return ZERO * lot_size
    budget = MONEY_CONTEXT.multiply(equity, risk_fraction)
    per_unit = MONEY_CONTEXT.multiply(atr, atr_multiple)
    return round_to_step(MONEY_CONTEXT.divide(budget, per_unit), lot_size, "down")


def kelly_fraction(win_rate: Decimal, payoff: Decimal | None) -> Decimal:
    """Kelly's optimal share of equity, ``p - (1 - p) / b``; ``payoff`` None means no loss seen (``b`` unbounded).

    ``win_rate`` is ``p`` (0..1), ``payoff`` is ``b``: the average win over
    the average loss. Negative when the edge is negative.
    """
    if payoff is None:
        return win_rate
    if payoff <= 0:
        return Decimal(-1)
    return win_rate - MONEY_CONTEXT.divide(1 - win_rate, payoff)


def capped_kelly(win_rate: Decimal, payoff: Decimal | None, scale: Decimal, cap: Decimal) -> Decimal:
    """``scale`` times Kelly's fraction (half Kelly at 0.5), at most ``cap``; may be zero or negative."""
    return min(MONEY_CONTEXT.multiply(kelly_fraction(win_rate, payoff), scale), cap)


def win_rate_and_payoff(pnls: list[Decimal]) -> tuple[Decimal, Decimal | None]:
    """Win rate and payoff ratio of closed trades' results (break-even counts as a win)."""
    if not pnls:
        raise ValueError("no closed trades to measure a win rate on")
    wins = [p for p in pnls if p >= 0]
    losses = [-p for p in pnls if p < 0]
    rate = Decimal(len(wins)) / Decimal(len(pnls))
    if not losses:
        return rate, None
    average_loss = sum(losses, ZERO) / len(losses)
    average_win = sum(wins, ZERO) / len(wins) if wins else ZERO
    return rate, average_win / average_loss


def average_true_range(
    high: NDArray[np.float64], low: NDArray[np.float64], close: NDArray[np.float64], period: int
) -> float | None:
    """The mean true range of the last ``period`` bars (each against the close before it); None if too few bars."""
    if period < 1 or len(close) < period + 1:
        return None
    h, lo, previous = high[-period:], low[-period:], close[-period - 1 : -1]
    true_range = np.maximum(h - lo, np.maximum(np.abs(h - previous), np.abs(lo - previous)))
    return float(true_range.mean())
