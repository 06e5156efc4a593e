"""Trading on a predicted probability, and scoring predictions against what happened.

:func:`signal_positions` is the rule ``ml_signal`` trades by, as a function of
the probabilities: flat, it enters when the probability rises above
``enter_above``; long, it leaves when it falls below ``exit_below``.
:func:`signal_backtest` replays that rule over bars, filled at each signal
bar's close with a fee per side, which is how a walk-forward fold is given a
backtest of its signal in one pass of numpy (tests hold it to the engine's
run of ``ml_signal`` on the same bars). :func:`classification_scores` gives
accuracy, precision and recall of the "up" calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tradekit.indicators import FloatArray


def signal_positions(
    probabilities: FloatArray,
    enter_above: float,
    exit_below: float,
    allowed: NDArray[np.bool_] | None = None,
) -> NDArray[np.bool_]:
    """Whether ``ml_signal`` holds a position after each bar's decision, from flat at the start.

    Flat, it enters where ``probability > enter_above`` (and ``allowed`` is
    True there, when given); long, it exits where ``probability <
    exit_below``. A NaN probability changes nothing.
    """
    if exit_below > enter_above:
        raise ValueError(f"exit_below ({exit_below}) must not be above enter_above ({enter_above})")
    enter = probabilities > enter_above
    if allowed is not None:
        enter &= allowed
    leave = probabilities < exit_below
    toggles = np.zeros(len(probabilities), dtype=np.int64)
    holding = False
    # A state machine (whether a bar enters depends on whether an earlier one left), walked over
    # the bars where something can happen only; the state in between follows from the toggles.
    for index in np.flatnonzero(enter | leave):
        if (not holding and enter[index]) or (holding and leave[index]):
            holding = not holding
            toggles[index] = 1
    held: NDArray[np.bool_] = np.cumsum(toggles) % 2 == 1
    return held


def signal_backtest(close: FloatArray, held: NDArray[np.bool_], fee: float) -> dict[str, float]:
    """The growth of money held as ``held`` says, filled at each deciding bar's close, ``fee`` per side.

    A position held after bar ``t``'s decision earns ``close[t + 1] / close[t] - 1``;
    each entry and each exit pays ``fee`` of the money traded. A position
    still open at the last bar is valued at its close (no exit fee), as a
    backtest's equity is. Returns ``signal_return`` (fraction, 0.05 is +5%),
    ``hold_return`` (buying at the first close and holding), ``trades``
    (entries) and ``exposure`` (the share of bars held).
    """
    if len(close) < 2:
        return {"signal_return": 0.0, "hold_return": 0.0, "trades": 0.0, "exposure": 0.0}
    step = close[1:] / close[:-1]
    growth = np.where(held[:-1], step, 1.0)
    previous = np.concatenate(([False], held[:-1]))
    changes = int(np.count_nonzero(held != previous))
    entries = int(np.count_nonzero(held & ~previous))
    total = float(np.prod(growth)) * (1.0 - fee) ** changes
    return {
        "signal_return": total - 1.0,
        "hold_return": float(close[-1] / close[0] - 1.0),
        "trades": float(entries),
        "exposure": float(np.count_nonzero(held[:-1]) / (len(close) - 1)),
    }


def classification_scores(probabilities: FloatArray, labels: FloatArray) -> dict[str, float]:
    """Accuracy, precision and recall of calling "up" where ``probability > 0.5``, over bars where both are known.

    ``up_share`` is the share of bars that did go up: an accuracy is worth
    something only above ``max(up_share, 1 - up_share)``. Precision is NaN
    when no bar was called up, recall when none went up.
    """
    known = ~np.isnan(probabilities) & ~np.isnan(labels)
    called = probabilities[known] > 0.5
    went_up = labels[known] == 1.0
    bars = int(np.count_nonzero(known))
    if bars == 0:
        nan = float("nan")
        return {"bars": 0.0, "accuracy": nan, "precision": nan, "recall": nan, "up_share": nan}
    hits = int(np.count_nonzero(called & went_up))
    called_up = int(np.count_nonzero(called))
    ups = int(np.count_nonzero(went_up))
    return {
        "bars": float(bars),
        "accuracy": float(np.count_nonzero(called == went_up) / bars),
        "precision": hits / called_up if called_up else float("nan"),
        "recall": hits / ups if ups else float("nan"),
        "up_share": ups / bars,
    }
