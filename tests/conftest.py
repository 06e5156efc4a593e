"""Fixtures shared by the kernel's tests."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass
class CommandResult:
    """What one ``tradekit`` command did."""

    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_tradekit(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., CommandResult]:
    """Run ``tradekit.cli.main.main(args)`` in-process, as the console script does, in the current folder."""
    from tradekit.cli.main import main

    monkeypatch.setenv("COLUMNS", "250")
    root = logging.getLogger()

    def run(*args: str) -> CommandResult:
        level, filters = root.level, {handler: list(handler.filters) for handler in root.handlers}
        capsys.readouterr()
        try:
            result = main(list(args))
            code = result if isinstance(result, int) else 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        finally:
            # main() configures the root logger for the process; undo it for the next test.
            root.setLevel(level)
            for handler in root.handlers:
                handler.filters = filters.get(handler, handler.filters)
        out, err = capsys.readouterr()
        return CommandResult(code, out, err)

    return run
