"""What the commands share: settings from the context, the registry, consoles, parsing helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console

    from tradekit.registry import Registry
    from tradekit.settings import Settings


def registry_from(ctx: click.Context) -> Registry:
    """The plugin registry, strict if ``--strict-plugins`` or the env var says so."""
    from tradekit.registry import Registry

    obj = ctx.find_root().obj or {}
    return Registry(strict=obj.get("strict_plugins"))


def settings_from(ctx: click.Context, overrides: dict[str, Any]) -> tuple[Settings, str]:
    """Load settings with the command's options on top; returns them and where they came from."""
    from tradekit.settings import find_config_file, load_settings

    obj = ctx.find_root().obj or {}
    config_path: Path | None = obj.get("config_path")
    if obj.get("strict_plugins"):
        overrides = {**overrides, "strict_plugins": True}
    settings = load_settings(config_path, overrides)
    found = find_config_file(config_path)
    return settings, str(found) if found is not None else "defaults"


def stdout_console() -> Console:
    """Where tables and results go."""
    from rich.console import Console

    console = Console(highlight=False)
    # Piped output has no terminal width; 80 columns would cut report tables.
    return console if console.is_terminal else Console(highlight=False, width=120)


def stderr_console() -> Console:
    """Where progress and status go, so stdout stays clean for --json and pipes."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def parse_when(value: str | None, option: str) -> datetime | None:
    """Parse ``--from``/``--to`` (``2024-01-01`` or ``2024-01-01T12:00``, UTC)."""
    if value is None:
        return None
    from tradekit.errors import ConfigError

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_params(values: tuple[str, ...]) -> dict[str, str]:
    """``--param key=value`` pairs as a dict; values stay text for the plugin's model to validate."""
    from tradekit.errors import ConfigError

    params: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param {item!r} must look like key=value (e.g. --param fast=10)")
        params[key.strip()] = value.strip()
    return params


def with_strategy_params(overrides: dict[str, Any], strategy: str | None, params: dict[str, str]) -> dict[str, Any]:
    """Put ``--param`` values into the strategy's plugin table of the overrides."""
    if not params:
        return overrides
    if not strategy:
        from tradekit.errors import ConfigError

        raise ConfigError("--param needs --strategy (the parameters belong to a strategy)")
    return {**overrides, "plugins": {"strategy": {strategy: params}}}
