"""Long Wallet against the kernel's conformance suite for strategy plugins."""

from __future__ import annotations

from typing import ClassVar

from tradekit_long_wallet import LongWallet

from tradekit.testing.conformance import StrategyConformance


class TestLongWalletConformance(StrategyConformance):
    """Every rule of the suite, on real hourly BTC/USDT bars (or the seeded simulator where they are absent)."""

    plugin = LongWallet
    settings: ClassVar[dict[str, object]] = {"unit_pct": "1", "position_value": "10000"}
    lot_size = "0.00001"
