"""The simulated venue behind backtests, dry runs and the ``paper`` exchange.

:class:`SimulatedVenue` holds an account and resting orders and fills them
against bars along a stated intrabar path; :mod:`tradekit.sim.pricing` holds
fees, slippage and that path, :mod:`tradekit.sim.account` the account and
:mod:`tradekit.sim.validation` the checks an arriving order passes.
"""

from tradekit.sim.pricing import (
    FEE_QUANTUM,
    BasisPointSlippage,
    FeeSchedule,
    NoSlippage,
    Slippage,
    fee_amount,
    first_reach_index,
    intrabar_path,
)
from tradekit.sim.venue import SimulatedVenue

__all__ = [
    "FEE_QUANTUM",
    "BasisPointSlippage",
    "FeeSchedule",
    "NoSlippage",
    "SimulatedVenue",
    "Slippage",
    "fee_amount",
    "first_reach_index",
    "intrabar_path",
]
