"""The event engine: one order path (:mod:`.core`) driven by a backtest loop or a live loop."""
