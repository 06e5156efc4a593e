"""Entry point of the ``tradekit`` command: the root group, lazy subcommands, error handling.

Importing this module must stay cheap: ``tradekit --help`` and ``tradekit
plugins list`` never import a plugin, ccxt, pandas or plotly.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

# name -> (module, attribute, short help). The help text lives here so that
# listing commands does not import them.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "backtest": (
        "tradekit.cli.backtest_cmd",
        "backtest",
        "Backtest a strategy on historical or simulated bars.",
    ),
    "run": ("tradekit.cli.run_cmd", "run", "Run a strategy: a dry run by default, real orders with --live."),
    "data": ("tradekit.cli.data_cmd", "data", "Market data: download an exchange's candles for backtests."),
    "runs": ("tradekit.cli.runs_cmd", "runs", "List the runs in the journal."),
    "report": ("tradekit.cli.runs_cmd", "report", "Show one run from the journal."),
    "stop": ("tradekit.cli.stop_cmd", "stop", "Stop running dry or live runs: cancel orders, optionally flatten."),
    "plugins": ("tradekit.cli.plugins_cmd", "plugins", "List, inspect and check installed plugins."),
    "plugin": ("tradekit.cli.plugin_cmd", "plugin", "Create a new plugin: a ready-to-publish distribution."),
    "model": ("tradekit.cli.model_cmd", "model", "Train model plugins walk-forward; describe saved models."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attribute, _ = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = click.utils.make_str(args[0]) if args else ""
        if name and name not in COMMANDS and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise click.UsageError(f"no such command '{name}'.{hint} Commands: {', '.join(sorted(COMMANDS))}")
        return super().resolve_command(ctx, args)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from tradekit import __version__
    from tradekit.registry import Registry

    click.echo(f"tradekit {__version__}")
    distributions = Registry().distributions()
    own = {"tradekit"}
    others = {d: v for d, v in distributions.items() if d not in own}
    if others:
        click.echo("plugin distributions: " + ", ".join(f"{d} {v}" for d, v in sorted(others.items())))
    else:
        click.echo("plugin distributions: (none besides the kernel's built-ins)")
    ctx.exit(0)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and the plugin distributions found, then exit.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file (TOML). Default: $TRADEKIT_CONFIG, else ./tradekit.toml if present.",
)
@click.option(
    "--strict-plugins",
    is_flag=True,
    default=None,
    help="Fail when any installed plugin cannot be imported (also TRADEKIT_STRICT_PLUGINS=1).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, strict_plugins: bool | None, verbose: int, debug: bool) -> None:
    """tradekit: backtest, dry-run and trade with plugins.

    Exchanges, strategies, risk rules, notifiers and models are plugins, found
    through Python entry points: `pip install` one and it is listed by
    `tradekit plugins list`. Nothing runs unless you name it.
    """
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["strict_plugins"] = strict_plugins
    ctx.obj["debug"] = debug or os.environ.get("TRADEKIT_DEBUG") == "1"
    _configure_logging(verbose)


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    from tradekit.secrets import install_logging_filter

    install_logging_filter(root)


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; a user's mistake prints a message (no traceback) and sets the exit code."""
    from tradekit.errors import ExchangeError, UserError

    arguments = argv if argv is not None else sys.argv[1:]
    debug = "--debug" in arguments or os.environ.get("TRADEKIT_DEBUG") == "1"
    try:
        return cli.main(args=argv, prog_name="tradekit", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except UserError as error:
        from tradekit.secrets import redact

        click.echo(f"error: {redact(str(error))}", err=True)
        sys.exit(error.exit_code)
    except ExchangeError as error:
        from tradekit.secrets import redact

        click.echo(
            f"error: the exchange failed or refused: {redact(str(error))}\n"
            "check the network, the exchange's status and your credentials, then run again",
            err=True,
        )
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as error:
        if debug:
            raise
        from tradekit.secrets import redact

        click.echo(
            f"error: unexpected {type(error).__name__}: {redact(str(error))}\n"
            "this is a bug in tradekit or a plugin; run again with --debug for the traceback and report it",
            err=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    # main() returns the exit code of a command that ended with ctx.exit(code)
    # (``plugins list`` under --strict-plugins); the console script passes it to
    # sys.exit, and so must ``python -m tradekit.cli.main``.
    sys.exit(main())
