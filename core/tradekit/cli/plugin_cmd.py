"""``tradekit plugin``: create a new plugin distribution (``tradekit plugin new NAME --kind KIND``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from tradekit.cli.common import registry_from, stderr_console, stdout_console

if TYPE_CHECKING:
    from rich.tree import Tree

    from tradekit.scaffold import GeneratedPlugin

KIND_CHOICE = click.Choice(["exchange", "strategy", "risk", "notifier", "model"])


@click.group()
def plugin() -> None:
    """Create plugins: `tradekit plugin new NAME --kind KIND` writes a ready-to-publish distribution."""


@plugin.command("new")
@click.argument("name")
@click.option("--kind", type=KIND_CHOICE, required=True, help="What the plugin is.")
@click.option(
    "--dir",
    "parent",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder in which the distribution's folder (tradekit-NAME) is created.",
)
@click.option("--force", is_flag=True, help="Write the generated files into an existing folder, over the ones there.")
@click.pass_context
def new(ctx: click.Context, name: str, kind: str, parent: Path, force: bool) -> None:
    """Write a working plugin distribution `tradekit-NAME`, with tests and a README, ready to publish.

    NAME is what users will type (`--strategy NAME`): lower-case words joined
    by `_` or `-`, e.g. `mean_revert`. The distribution is `tradekit-mean-revert`,
    the import package `tradekit_mean_revert`.
    """
    from tradekit.errors import ConfigError
    from tradekit.scaffold import PluginName, clashing_plugins, write_plugin

    plugin_name = PluginName.parse(name, kind)
    if parent.exists() and not parent.is_dir():
        raise ConfigError(f"--dir {parent} is a file, not a folder")
    clashes = clashing_plugins(plugin_name, registry_from(ctx).entries(kind))
    generated = write_plugin(plugin_name, parent, force=force)
    for clash in clashes:
        stderr_console().print(
            f"[yellow]warning:[/yellow] {clash.label} is installed here with the same name; "
            "users who install both get an error naming the two distributions, so consider another name",
            markup=True,
            highlight=False,
        )
    _print_result(generated)


def _print_result(generated: GeneratedPlugin) -> None:
    from rich.markup import escape

    from tradekit.scaffold import try_command

    console = stdout_console()
    name = generated.name
    console.print(
        f"Created the {name.kind} plugin [bold]{escape(name.entry_point)}[/bold] "
        f"([cyan]{escape(name.distribution)}[/cyan], class {escape(name.class_name)}):"
    )
    console.print(_tree(generated))
    steps = [
        f"cd {generated.folder}",
        'python -m pip install -e ".[test]"',
        "pytest",
        f"tradekit plugins doctor --kind {name.kind}",
        try_command(name),
        "python -m pip install build twine && python -m build && python -m twine upload dist/*",
    ]
    console.print("\nNext:")
    for step in steps:
        console.print(f"  {escape(step)}", highlight=False, soft_wrap=True)


def _tree(generated: GeneratedPlugin) -> Tree:
    from rich.markup import escape
    from rich.tree import Tree

    root = Tree(f"[bold]{escape(str(generated.folder))}[/bold]")
    folders: dict[str, Tree] = {"": root}
    for relative in sorted(generated.files, key=lambda path: (path.count("/") == 0, path)):
        parts = relative.split("/")
        for depth in range(1, len(parts)):
            key = "/".join(parts[:depth])
            if key not in folders:
                folders[key] = folders["/".join(parts[: depth - 1])].add(f"{escape(parts[depth - 1])}/")
        folders["/".join(parts[:-1])].add(escape(parts[-1]))
    return root
