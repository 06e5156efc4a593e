"""Fixtures shared by the kernel's tests."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import pytest


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
