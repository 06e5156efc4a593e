"""``tradekit plugins``: list, inspect and check installed plugins."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from tradekit.cli.common import registry_from, stdout_console
from tradekit.cli.doctor import doctor

if TYPE_CHECKING:
    from tradekit.plugin import Plugin
    from tradekit.registry import PluginEntry, PluginHealth

KIND_CHOICE = click.Choice(["exchange", "strategy", "risk", "notifier", "model"])


@click.group()
def plugins() -> None:
    """List, inspect and check installed plugins."""


plugins.add_command(doctor)


@plugins.command("list")
@click.option("--kind", type=KIND_CHOICE, help="Only plugins of this kind.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--check", is_flag=True, help="Import each plugin and report whether it loads.")
@click.pass_context
def list_plugins(ctx: click.Context, kind: str | None, as_json: bool, check: bool) -> None:
    """List installed plugins (reads package metadata; imports nothing unless --check)."""
    registry = registry_from(ctx)
    check = check or registry.strict
    entries = registry.entries(kind)
    health: dict[tuple[str, str, str], PluginHealth] = {}
    if check:
        health = {(h.entry.kind, h.entry.name, h.entry.distribution): h for h in registry.check(kind)}
    rows = [_row(entry, health.get((entry.kind, entry.name, entry.distribution)), check) for entry in entries]
    duplicates = _duplicates(entries)
    for row in rows:
        if (row["kind"], row["name"]) in duplicates:
            row["status"] = "duplicate name"
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        _print_table(rows, check)
    broken = [row for row in rows if row["status"] not in ("ok", "not checked")]
    if broken and registry.strict:
        ctx.exit(1)


def _row(entry: PluginEntry, health: PluginHealth | None, checked: bool) -> dict[str, Any]:
    status = "not checked" if not checked else ("ok" if health is not None and health.ok else "error")
    row: dict[str, Any] = {
        "kind": entry.kind,
        "name": entry.name,
        "distribution": entry.distribution,
        "version": entry.version,
        "entry_point": entry.value,
        "status": status,
    }
    if health is not None and not health.ok:
        row["error"] = health.error
    return row


def _duplicates(entries: list[PluginEntry]) -> set[tuple[str, str]]:
    seen: dict[tuple[str, str], int] = {}
    for entry in entries:
        seen[(entry.kind, entry.name)] = seen.get((entry.kind, entry.name), 0) + 1
    return {key for key, count in seen.items() if count > 1}


def _print_table(rows: list[dict[str, Any]], checked: bool) -> None:
    from rich.table import Table

    table = Table(title="tradekit plugins", title_justify="left")
    for column in ("kind", "name", "distribution", "version"):
        table.add_column(column, no_wrap=True)
    table.add_column("status", overflow="fold")
    for row in rows:
        status = row["status"]
        style = {"ok": "green", "error": "red", "duplicate name": "red"}.get(status, "dim")
        shown = f"[{style}]{status}[/{style}]"
        if "error" in row:
            shown += f"\n[red]{_escape(row['error'])}[/red]"
        table.add_row(row["kind"], row["name"], row["distribution"], row["version"], shown)
    console = stdout_console()
    console.print(table)
    if not checked:
        console.print("[dim]run with --check to import each plugin and report its health[/dim]")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@plugins.command("info")
@click.argument("name")
@click.option("--kind", type=KIND_CHOICE, help="Which kind, when several plugins share the name.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def info(ctx: click.Context, name: str, kind: str | None, as_json: bool) -> None:
    """Show one plugin: what it does, its settings with their defaults, its hooks and capabilities."""
    from tradekit.errors import UnknownPluginError

    registry = registry_from(ctx)
    matches = [e for e in registry.find_any_kind(name) if kind is None or e.kind == kind]
    if not matches:
        kinds = [kind] if kind else ["exchange", "strategy", "risk", "notifier", "model"]
        everything = sorted({n for k in kinds for n in registry.names(k)})
        import difflib

        close = difflib.get_close_matches(name, everything, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ";"
        raise UnknownPluginError(f"unknown plugin '{name}'{hint} installed: {', '.join(everything) or '(none)'}")
    kinds_found = sorted({e.kind for e in matches})
    if len(kinds_found) > 1:
        raise click.UsageError(f"'{name}' is a plugin of several kinds ({', '.join(kinds_found)}); pass --kind")
    entry = registry.find(kinds_found[0], name)
    plugin_class = registry.load_class(entry.kind, entry.name)
    described = describe_plugin(entry, plugin_class)
    if as_json:
        click.echo(json.dumps(described, indent=2, default=str))
        return
    _print_info(described)


def describe_plugin(entry: PluginEntry, plugin_class: type[Plugin]) -> dict[str, Any]:
    """A JSON-friendly description of a loaded plugin class."""
    import inspect

    from pydantic import BaseModel

    settings_model: type[BaseModel] = plugin_class.Settings
    settings = []
    for field_name, field in settings_model.model_fields.items():
        annotation = field.annotation
        type_name = (
            (annotation.__name__ if isinstance(annotation, type) else str(annotation))
            .replace("typing.", "")
            .replace("decimal.", "")
            .replace("pathlib.", "")
        )
        default = field.get_default(call_default_factory=True) if not field.is_required() else None
        secret = "Secret" in str(annotation)
        settings.append(
            {
                "name": field_name,
                "type": type_name,
                "default": "(required)" if field.is_required() else ("***" if secret and default else default),
                "secret": secret,
                "description": field.description or "",
            }
        )
    hooks = sorted(
        attr
        for attr in dir(plugin_class)
        if attr.startswith("tradekit_") and callable(getattr(plugin_class, attr, None))
    )
    described: dict[str, Any] = {
        "kind": entry.kind,
        "name": entry.name,
        "distribution": entry.distribution,
        "version": entry.version,
        "entry_point": entry.value,
        "description": inspect.getdoc(plugin_class) or "",
        "settings": settings,
        "config_table": f"[plugins.{entry.kind}.{entry.name}]",
        "hooks": hooks,
    }
    capabilities = getattr(plugin_class, "capabilities", None)
    if capabilities is not None and hasattr(capabilities, "describe"):
        described["capabilities"] = capabilities.describe()
    return described


def _print_info(described: dict[str, Any]) -> None:
    from rich.table import Table

    console = stdout_console()
    console.print(
        f"[bold]{described['name']}[/bold] ({described['kind']}) from "
        f"{described['distribution']} {described['version']}  [dim]{described['entry_point']}[/dim]"
    )
    if described["description"]:
        console.print(described["description"], markup=False)
    table = Table(title=f"settings {_escape(described['config_table'])}", title_justify="left")
    for column in ("setting", "type", "default", "description"):
        table.add_column(column)
    for setting in described["settings"]:
        name = setting["name"] + (" (secret)" if setting["secret"] else "")
        table.add_row(name, setting["type"], str(setting["default"]), setting["description"])
    if not described["settings"]:
        table.add_row("(none)", "", "", "")
    console.print(table)
    if described["hooks"]:
        console.print("hooks: " + ", ".join(described["hooks"]))
    if "capabilities" in described:
        caps = described["capabilities"]
        console.print("capabilities: " + ", ".join(f"{k}={v}" for k, v in caps.items()), markup=False)
