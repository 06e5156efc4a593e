"""Running the ``tradekit`` command in-process, as a user would, for tests."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CliResult:
    """What one ``tradekit`` command did: its exit code, what it printed, and an exception that escaped."""

    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None

    @property
    def output(self) -> str:
        """stdout then stderr."""
        return self.stdout + self.stderr


class TradekitCli:
    """Calls :func:`tradekit.cli.main.main` through click's ``CliRunner``, in ``workdir``.

    Calling it runs one command: ``cli("backtest", "--strategy", "sma_cross")``.
    The exit code and messages are the real command's (a user error prints
    ``error: ...`` and exits 1 or 2). ``TRADEKIT_*`` variables of the calling
    environment are removed for the call; ``env`` sets others. Logging set-up
    and registered secrets are undone after each call.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        env: Mapping[str, str | None] | None = None,
        cwd: Path | None = None,
    ) -> CliResult:
        """Run ``tradekit ARGS`` and return what it did."""
        import click
        from click.testing import CliRunner

        from tradekit import secrets
        from tradekit.cli.main import main

        class TradekitMain(click.Command):
            """Hands the arguments to tradekit's own entry point, which turns errors into messages."""

            def main(self, *positional: Any, **options: Any) -> Any:
                arguments = options.get("args", positional[0] if positional else None)
                return main(list(arguments or ()))

        environment: dict[str, str | None] = {key: None for key in os.environ if key.startswith("TRADEKIT_")}
        environment.update(env or {})
        environment.setdefault("COLUMNS", "200")
        root = logging.getLogger()
        level, filters = root.level, {handler: list(handler.filters) for handler in root.handlers}
        folder = cwd or self.workdir
        folder.mkdir(parents=True, exist_ok=True)
        try:
            with contextlib.chdir(folder):
                result = CliRunner().invoke(
                    TradekitMain(name="tradekit"), list(args), input=input, env=environment, catch_exceptions=True
                )
        finally:
            # main() configures the root logger of the process; the next test must not inherit it.
            root.setLevel(level)
            for handler in root.handlers:
                handler.filters = filters.get(handler, handler.filters)
            secrets.forget_all()
        code = result.exit_code
        if code == 0 and isinstance(result.return_value, int):
            code = result.return_value
        escaped = result.exception if not isinstance(result.exception, SystemExit) else None
        return CliResult(code, result.stdout, result.stderr, escaped)
