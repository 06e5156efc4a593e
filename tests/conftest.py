"""Fixtures shared by the kernel's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The folder of real OHLCV files (../shared/data); skips the test where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real market data not found at {SHARED_DATA} (../shared/data beside the repository)")
    return SHARED_DATA


@pytest.fixture
def data_file(shared_data: Path):  # type: ignore[no-untyped-def]
    """A function returning the path of one real data file by name; skips if that file is absent."""

    def find(name: str) -> Path:
        path = shared_data / name
        if not path.is_file():
            pytest.skip(f"real market data file {name} not found in {shared_data}")
        return path

    return find
