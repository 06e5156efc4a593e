"""An example third-party tradekit plugin distribution: one strategy and one notifier."""
