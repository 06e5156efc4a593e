"""Settings: a TOML file plus ``TRADEKIT_*`` environment variables.

Precedence, highest first: command-line options, environment variables
(``TRADEKIT_EXCHANGE=paper``, nested keys joined by ``__``:
``TRADEKIT_PLUGINS__NOTIFIER__TELEGRAM__BOT_TOKEN``), the config file
(``--config``, else ``$TRADEKIT_CONFIG``, else ``./tradekit.toml`` if present),
then defaults.

Each plugin declares its own settings model (``Plugin.Settings``); its raw
table (``[plugins.<kind>.<name>]``) is validated against that model when the
plugin is named for a run, before anything runs. Every refusal is a
:class:`~tradekit.errors.ConfigError` that names the key, the value and what
was expected; secret values are never echoed.
"""

from __future__ import annotations

import json
import os
import tomllib
from contextvars import ContextVar
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretBytes,
    SecretStr,
    ValidationError,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from tradekit.errors import ConfigError

ENV_PREFIX = "TRADEKIT_"
CONFIG_ENV = "TRADEKIT_CONFIG"
DEFAULT_CONFIG_NAME = "tradekit.toml"


class FillTiming(StrEnum):
    """When a market order decided on a bar fills in a backtest."""

    CLOSE = "close"
    NEXT_OPEN = "next_open"


class BacktestSettings(BaseModel):
    """How simulated fills work: in backtests, and in dry runs (which fill on the simulated venue)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cash: Decimal = Field(
        default=Decimal(100_000),
        gt=0,
        description="Starting cash in the quote currency of a simulated account.",
    )
    fee: Decimal | None = Field(
        default=None,
        ge=0,
        lt=1,
        description="Fee rate for every fill (0.001 = 0.1%); unset: the exchange plugin's maker and taker fees.",
    )
    slippage_bps: Decimal = Field(
        default=Decimal(0), ge=0, description="Slippage on taker fills, in basis points of the price."
    )
    fill_at: FillTiming = Field(
        default=FillTiming.CLOSE,
        description="When a market order decided on a bar fills: that bar's close, or the next bar's open.",
    )
    skip_idle_bars: bool = Field(
        default=True,
        description="Jump over bars where no order can trigger and the strategy has nothing to do.",
    )
    journal_orders: bool = Field(
        default=True,
        description="Journal every order, transition, fill and position of a backtest; false keeps the run, "
        "its report and events only (for large parameter sweeps).",
    )


class PluginTables(BaseModel):
    """The ``[plugins.<kind>.<name>]`` tables, raw; each plugin validates its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exchange: dict[str, dict[str, Any]] = Field(default_factory=dict)
    strategy: dict[str, dict[str, Any]] = Field(default_factory=dict)
    risk: dict[str, dict[str, Any]] = Field(default_factory=dict)
    notifier: dict[str, dict[str, Any]] = Field(default_factory=dict)
    model: dict[str, dict[str, Any]] = Field(default_factory=dict)


def _split_list(value: Any) -> Any:
    """Lists from the environment: JSON (``["a","b"]``) or comma-separated (``a,b``)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return value
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


NameList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_split_list)]

# The config file's values for the Settings being built (see load_settings).
_file_values: ContextVar[dict[str, Any] | None] = ContextVar("tradekit_config_file_values", default=None)


class Settings(BaseSettings):
    """Everything a run needs to know, validated before anything runs."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    exchange: str = Field(default="paper", description="The exchange plugin to trade on.")
    strategy: str | None = Field(default=None, description="The strategy plugin to run.")
    symbols: NameList = Field(default=(), description="Symbols to trade; the strategy's default when empty.")
    timeframe: str = Field(default="1m", description="Bar size, e.g. 1m, 5m, 1h, 1d.")
    risk: NameList = Field(default=(), description="Risk rules, applied in this order.")
    notifiers: NameList = Field(default=(), description="Notifiers to send events to.")
    journal: Path = Field(default=Path("tradekit-journal.sqlite3"), description="The SQLite journal of runs.")
    strict_plugins: bool = Field(default=False, description="Treat a plugin that fails to import as an error.")
    backtest: BacktestSettings = Field(default_factory=BacktestSettings)
    plugins: PluginTables = Field(default_factory=PluginTables)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest first: command-line options, TRADEKIT_* variables, the TOML file.
        # The file is parsed by load_settings, which reports its syntax errors well.
        file_source = InitSettingsSource(settings_cls, init_kwargs=_file_values.get() or {})
        return (init_settings, env_settings, file_source)


def find_config_file(explicit: Path | None) -> Path | None:
    """The config file to read: ``--config``, ``$TRADEKIT_CONFIG``, or ``./tradekit.toml``."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {explicit} does not exist", hint="check the --config path")
        return explicit
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError(f"config file {path} (from ${CONFIG_ENV}) does not exist")
        return path
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.is_file() else None


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error becomes a :class:`ConfigError` with its line."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None


def load_settings(config: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Read the config file and environment, apply ``overrides``, and validate.

    Raises :class:`ConfigError` naming the key, the value and what was expected.
    """
    path = find_config_file(config)
    file_values = read_toml(path) if path is not None else {}
    cli_values = {k: v for k, v in (overrides or {}).items() if v is not None}
    origin = str(path) if path is not None else "defaults"
    token = _file_values.set(file_values)
    try:
        return Settings(**cli_values)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, Settings, origin=origin)) from None
    except SettingsError as error:
        raise ConfigError(f"invalid {ENV_PREFIX}* environment variable: {error}") from None
    finally:
        _file_values.reset(token)


def _is_secret_field(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> bool:
    """Whether ``loc`` points at a SecretStr/SecretBytes field (so its value must not be shown)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return False
        field = current.model_fields.get(str(part))
        if field is None:
            return False
        current = field.annotation
    annotation_text = repr(current)
    return current in (SecretStr, SecretBytes) or "Secret" in annotation_text


def _mask_secrets(model: type[BaseModel] | None, loc: tuple[int | str, ...], value: Any) -> Any:
    """``value`` with the values of secret fields replaced by ``***``.

    A whole table is the input of an error raised by a model validator (or of a
    wrong type for a nested model): it must be shown without the secrets in it.
    """
    if not isinstance(value, dict):
        return value
    masked: dict[Any, Any] = {}
    for key, item in value.items():
        inner = (*loc, key)
        masked[key] = "***" if _is_secret_field(model, inner) else _mask_secrets(model, inner, item)
    return masked


def format_validation_error(
    error: ValidationError, model: type[BaseModel] | None, *, origin: str, prefix: str = ""
) -> str:
    """One line per problem: ``key: got VALUE; expected ...`` (secrets shown as ***)."""
    lines = []
    for problem in error.errors(include_url=False):
        loc = tuple(problem.get("loc", ()))
        key = ".".join([*([prefix] if prefix else []), *(str(p) for p in loc)])
        if problem["type"] == "extra_forbidden":
            allowed = sorted(_fields_at(model, loc[:-1]))
            lines.append(f"{key}: unknown setting; valid settings here: {', '.join(allowed) or '(none)'}")
            continue
        if problem["type"] == "missing":
            # The input of a "missing" error is the whole table around the key: never echo it.
            lines.append(f"{key}: missing; this setting is required")
            continue
        given = problem.get("input")
        shown = "***" if _is_secret_field(model, loc) else repr(_mask_secrets(model, loc, given))
        lines.append(f"{key}: got {shown}; {_expected(problem['msg'])}")
    head = f"invalid configuration (from {origin}, {ENV_PREFIX}* environment variables or command-line options):"
    return head + "".join(f"\n  {line}" for line in lines)


def _expected(message: str) -> str:
    text = message[0].lower() + message[1:] if message else message
    text = text.replace("input should be", "expected")
    return text if text.startswith("expected") else f"expected a valid value ({text})"


def _fields_at(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = field.annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def validate_plugin_settings(
    settings_model: type[BaseModel], raw: dict[str, Any], *, kind: str, name: str, origin: str
) -> BaseModel:
    """Validate one plugin's table against its settings model, or raise :class:`ConfigError`."""
    try:
        return settings_model.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(
            format_validation_error(error, settings_model, origin=origin, prefix=f"plugins.{kind}.{name}")
        ) from None
