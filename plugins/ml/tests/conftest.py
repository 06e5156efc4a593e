"""Fixtures of tradekit-ml's tests: the real data folder, synthetic bars with a pattern to learn, trained artifacts.

Real data comes from the kit (``tradekit.testing.real_data``: ``../shared/data`` beside the
repository, or ``$TRADEKIT_TEST_DATA``); a test that needs it is skipped, saying where it looked, when it is absent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from tradekit.domain.bars import BarSeries
from tradekit.testing.real_data import shared_data_file

BTC_HOURLY = "binance_BTC_USDT-1h_20170817-20240421.feather"
HOUR_NS = 3_600_000_000_000


@pytest.fixture(autouse=True)
def _clean_environment(tk_clean_environment: None) -> None:
    """No ``TRADEKIT_*`` variable of the developer's shell leaks into a test; no secret outlives it (the kit's)."""


def real_path(name: str = BTC_HOURLY) -> Path:
    """The path of one real data file; skips the test, saying where it looked, where it is absent."""
    return shared_data_file(name)


@pytest.fixture(scope="session")
def btc_hourly() -> BarSeries:
    """Binance BTC/USDT hourly bars, 2017-08 to 2024-04 (58,419 bars), loaded once."""
    from tradekit.data import load_bars

    return load_bars(real_path())


@pytest.fixture(scope="session")
def btc_path() -> Path:
    """The path of the real BTC/USDT hourly file."""
    return real_path()


def persistent_series(bars: int = 3_000, persistence: float = 0.4, seed: int = 3) -> BarSeries:
    """Hourly bars whose one-bar returns follow each other (AR(1)): the next bar's direction can be learned."""
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0.0, 0.004, bars)
    returns = np.zeros(bars)
    for index in range(1, bars):
        returns[index] = persistence * returns[index - 1] + shocks[index]
    close = np.round(20_000.0 * np.exp(np.cumsum(returns)), 2)
    open_ = np.concatenate([close[:1], close[:-1]])
    spread = np.abs(rng.normal(0.0, 0.002, bars)) * close
    start = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000_000
    return BarSeries(
        symbol="TEST/USDT",
        timeframe="1h",
        timestamps=start + HOUR_NS * np.arange(bars, dtype=np.int64),
        open=open_,
        high=np.round(np.maximum(open_, close) + spread, 2),
        low=np.round(np.minimum(open_, close) - spread, 2),
        close=close,
        volume=np.round(rng.lognormal(3.0, 0.5, bars), 3),
        source="persistent-series",
    )


@pytest.fixture(scope="session")
def persistent() -> BarSeries:
    """:func:`persistent_series` with its defaults (3,000 bars)."""
    return persistent_series()


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory, persistent: BarSeries) -> dict[str, Path]:
    """One artifact per model, trained on the first 2,000 bars of :func:`persistent_series`, by model name."""
    from tradekit_ml.classifiers import GradientBoostingDirection, LogisticDirection
    from tradekit_ml.regime import RegimeModel

    folder = tmp_path_factory.mktemp("artifacts")
    paths = {}
    for model in (LogisticDirection(), GradientBoostingDirection(), RegimeModel()):
        model.fit(persistent.slice(0, 2_000), 1)
        paths[model.name] = folder / f"{model.name}.tkmodel"
        model.save(paths[model.name])
    return paths
