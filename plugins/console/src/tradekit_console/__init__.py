"""The ``console`` notifier for tradekit: events as rich lines on the terminal (stderr by default)."""

__version__ = "0.1.0"
