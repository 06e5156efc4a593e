"""``tradekit plugins doctor``: does each installed plugin load, hook in, and accept your config?

For every installed plugin (of one kind with ``--kind``) it imports the plugin,
lists the hooks it implements (and the ``tradekit_`` methods that would never be
called, or would stop a run), validates its ``[plugins.<kind>.<name>]`` table
from the current config against its settings model, and shows what an exchange
declares it supports. Exit status 1 when any plugin fails to load, has a hook
that would stop a run, or has settings the config gets wrong; 0 otherwise.
"""

from __future__ import annotations

import difflib
import inspect
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tradekit.cli.common import registry_from, stdout_console

if TYPE_CHECKING:
    from tradekit.plugin import Plugin
    from tradekit.registry import PluginEntry, Registry
    from tradekit.settings import Settings

KIND_CHOICE = click.Choice(["exchange", "strategy", "risk", "notifier", "model"])


@dataclass
class ConfigView:
    """The plugin tables of the current config, which plugins it names, and whether it loaded."""

    origin: str
    tables: dict[str, dict[str, Any]]
    named: dict[str, set[str]]
    error: str | None = None


@dataclass
class Diagnosis:
    """What the doctor found about one plugin."""

    kind: str
    name: str
    distribution: str
    version: str
    entry_point: str
    loads: bool
    error: str | None = None
    hooks: list[str] = field(default_factory=list)
    hook_problems: list[str] = field(default_factory=list)
    hook_warnings: list[str] = field(default_factory=list)
    settings: str = "not checked"
    settings_message: str = ""
    capabilities: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """False when the plugin cannot be used as installed and configured."""
        return self.loads and not self.hook_problems and self.settings != "invalid"


def read_config(config_path: Path | None) -> ConfigView:
    """Load the current settings; a config that does not validate is reported, its raw tables still used."""
    from tradekit.errors import ConfigError
    from tradekit.settings import find_config_file, load_settings, read_toml

    try:
        settings = load_settings(config_path)
    except ConfigError as error:
        tables: dict[str, dict[str, Any]] = {}
        try:
            found = find_config_file(config_path)
            raw = read_toml(found).get("plugins", {}) if found is not None else {}
            tables = {kind: dict(raw.get(kind) or {}) for kind in KIND_CHOICE.choices} if isinstance(raw, dict) else {}
        except ConfigError:
            pass
        origin = str(config_path) if config_path is not None else "the config"
        return ConfigView(origin, tables, {}, error=str(error))
    found = find_config_file(config_path)
    return ConfigView(str(found) if found is not None else "defaults", _tables(settings), _named(settings))


def _tables(settings: Settings) -> dict[str, dict[str, Any]]:
    return {kind: dict(getattr(settings.plugins, kind)) for kind in KIND_CHOICE.choices}


def _named(settings: Settings) -> dict[str, set[str]]:
    return {
        "exchange": {settings.exchange},
        "strategy": {settings.strategy} if settings.strategy else set(),
        "risk": set(settings.risk),
        "notifier": set(settings.notifiers),
        "model": set(),
    }


def diagnose(registry: Registry, config: ConfigView, kind: str | None = None) -> list[Diagnosis]:
    """Check every installed plugin (of ``kind``); never raises for a plugin's own failure."""
    entries = registry.entries(kind)
    claimed: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        claimed.setdefault((entry.kind, entry.name), []).append(entry.distribution)
    results = []
    for health in registry.check(kind):
        entry = health.entry
        diagnosis = Diagnosis(
            entry.kind, entry.name, entry.distribution, entry.version, entry.value, loads=health.ok, error=health.error
        )
        owners = claimed[(entry.kind, entry.name)]
        if len(owners) > 1:
            diagnosis.loads = False
            diagnosis.error = f"the name is claimed by {' and '.join(owners)}; uninstall one of them"
        if health.plugin_class is not None:
            _check_hooks(diagnosis, health.plugin_class)
            _check_settings(diagnosis, entry, health.plugin_class, config)
            capabilities = getattr(health.plugin_class, "capabilities", None)
            if entry.kind == "exchange" and capabilities is not None:
                diagnosis.capabilities = capabilities.describe()
        results.append(diagnosis)
    return results


def _check_hooks(diagnosis: Diagnosis, plugin_class: type[Plugin]) -> None:
    from tradekit import hookspecs

    marker = f"{hookspecs.PROJECT_NAME}_impl"
    specs = {
        name: list(inspect.signature(value).parameters)
        for name, value in vars(hookspecs).items()
        if name.startswith("tradekit_") and inspect.isfunction(value)
    }
    for attribute in sorted(dir(plugin_class)):
        method = getattr(plugin_class, attribute, None)
        if not attribute.startswith("tradekit_") or not callable(method):
            continue
        marked = getattr(method, marker, None) is not None
        if attribute not in specs:
            if marked:
                close = difflib.get_close_matches(attribute, list(specs), n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                diagnosis.hook_problems.append(f"{attribute} is not a tradekit hook, and a run refuses it{hint}")
            continue
        if not marked:
            diagnosis.hook_warnings.append(f"{attribute} has no @hookimpl, so it is never called")
            continue
        arguments = list(inspect.signature(method).parameters)
        if arguments and arguments[0] in ("self", "cls"):
            arguments = arguments[1:]
        unknown = [argument for argument in arguments if argument not in specs[attribute]]
        if unknown:
            diagnosis.hook_problems.append(
                f"{attribute} takes {', '.join(unknown)}, which the hook does not pass "
                f"(it passes {', '.join(specs[attribute])})"
            )
        else:
            diagnosis.hooks.append(attribute)


def _check_settings(diagnosis: Diagnosis, entry: PluginEntry, plugin_class: type[Plugin], config: ConfigView) -> None:
    from tradekit.errors import ConfigError
    from tradekit.settings import validate_plugin_settings

    raw = config.tables.get(entry.kind, {}).get(entry.name)
    in_use = raw is not None or entry.name in config.named.get(entry.kind, set())
    try:
        validate_plugin_settings(
            plugin_class.Settings, raw or {}, kind=entry.kind, name=entry.name, origin=config.origin
        )
    except ConfigError as error:
        problems = "; ".join(line.strip() for line in str(error).splitlines()[1:]) or str(error)
        if in_use:
            diagnosis.settings, diagnosis.settings_message = "invalid", problems
        else:
            # Installed but not used: its required settings are missing, which is fine until it is named.
            diagnosis.settings, diagnosis.settings_message = "needs settings", problems
        return
    diagnosis.settings = "valid" if raw is not None else "defaults"
    diagnosis.settings_message = f"[plugins.{entry.kind}.{entry.name}] in {config.origin}" if raw is not None else ""


def unused_tables(registry: Registry, config: ConfigView) -> list[str]:
    """Settings tables in the config for plugins that are not installed (probably typos)."""
    notes = []
    for kind, tables in config.tables.items():
        for name in tables:
            if name not in registry.names(kind):
                notes.append(f"[plugins.{kind}.{name}] is ignored: {registry.unknown_message(kind, name)}")
    return notes


@click.command("doctor")
@click.option("--kind", type=KIND_CHOICE, help="Only plugins of this kind.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file whose plugin settings to check. Default: the one tradekit would use.",
)
@click.pass_context
def doctor(ctx: click.Context, kind: str | None, as_json: bool, config_path: Path | None) -> None:
    """Check each installed plugin: it loads, its hooks, its settings against your config, its capabilities.

    Exits 1 when a plugin fails to load, has a hook a run would refuse, or has
    settings your config gets wrong.
    """
    registry = registry_from(ctx)
    config = read_config(config_path or (ctx.find_root().obj or {}).get("config_path"))
    results = diagnose(registry, config, kind)
    notes = unused_tables(registry, config)
    if as_json:
        rows = [{**asdict(result), "ok": result.ok} for result in results]
        report = {"config": config.origin, "config_error": config.error, "plugins": rows, "notes": notes}
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        _print_report(results, config, notes)
    if config.error is not None or not all(result.ok for result in results):
        ctx.exit(1)


def _print_report(results: list[Diagnosis], config: ConfigView, notes: list[str]) -> None:
    """A table of short answers, then every message in full below it (a narrow table would chop them)."""
    from rich.markup import escape
    from rich.table import Table

    console = stdout_console()
    if config.error is not None:
        console.print(f"[red]the config does not load:[/red] {escape(config.error)}")
    table = Table(title=f"tradekit plugins doctor (config: {escape(config.origin)})", title_justify="left")
    for column in ("kind", "name", "distribution", "loads", "settings"):
        table.add_column(column, no_wrap=True)
    # Hook names without their common prefix keep the column narrow; --json gives them whole.
    table.add_column("hooks (tradekit_...)", no_wrap=True)
    table.add_column("capabilities", overflow="fold")
    colours = {"valid": "green", "defaults": "green", "invalid": "red", "needs settings": "yellow"}
    details: list[str] = []
    for result in results:
        label = f"{result.kind} {result.name}"
        if result.error is not None:
            details.append(f"[red]{escape(label)} does not load:[/red] {escape(result.error)}")
        details.extend(f"[red]{escape(label)}:[/red] {escape(problem)}" for problem in result.hook_problems)
        details.extend(f"[yellow]{escape(label)}:[/yellow] {escape(warning)}" for warning in result.hook_warnings)
        if result.settings in ("invalid", "needs settings"):
            colour = colours[result.settings]
            details.append(
                f"[{colour}]{escape(label)} settings {result.settings}:[/{colour}] {escape(result.settings_message)}"
            )
        colour = colours.get(result.settings, "dim")
        hooks = "\n".join(hook.removeprefix("tradekit_") for hook in result.hooks) or "[dim]-[/dim]"
        if result.hook_problems:
            hooks += "\n[red]problem[/red]"
        table.add_row(
            result.kind,
            result.name,
            f"{result.distribution} {result.version}",
            "[green]yes[/green]" if result.loads else "[red]no[/red]",
            f"[{colour}]{escape(result.settings)}[/{colour}]",
            hooks,
            escape(_capabilities_text(result.capabilities)),
        )
    console.print(table)
    for line in details:
        console.print(line)
    for note in notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    broken = [result for result in results if not result.ok]
    if broken:
        console.print(f"[red]{len(broken)} of {len(results)} plugins need attention[/red]")
    else:
        console.print(f"[green]{len(results)} plugins: all load, and the config gives none invalid settings[/green]")


def _capabilities_text(capabilities: dict[str, Any] | None) -> str:
    if capabilities is None:
        return ""
    # The table keeps to what differs most between venues; --json and `plugins info` show everything.
    parts = [" ".join(capabilities.get("order_types", []))]
    if capabilities.get("trigger_directions"):
        parts.append("triggers " + " ".join(capabilities["trigger_directions"]))
    parts.extend(key for key, value in capabilities.items() if value is True)
    return ", ".join(parts)
