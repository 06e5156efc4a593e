"""Long Wallet: a long-only, trend-following ladder of resting orders that compounds cycle after cycle.

The strategy plugin ``long_wallet`` (entry point in ``tradekit.strategies``).
Its rules are those of the specification, ``shared/specs/long-wallet.md``;
the choices it leaves open are documented in this distribution's README.
"""

from tradekit_long_wallet.settings import LongWalletSettings
from tradekit_long_wallet.strategy import LongWallet

__all__ = ["LongWallet", "LongWalletSettings"]
