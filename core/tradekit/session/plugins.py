"""Loading the plugins a run names, with validated settings, and joining them with hooks.

Both ``tradekit backtest`` and ``tradekit run`` go through :func:`load_plugins`, so a bad plugin
name, a plugin that fails to import, or a bad setting of any named plugin stops the command before
anything runs, whatever the mode.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradekit.errors import ConfigError, PluginLoadError
from tradekit.hooks import HookFacade, new_plugin_manager
from tradekit.plugin import KINDS, Exchange, Notifier, Plugin, RiskRule, Strategy
from tradekit.registry import Registry
from tradekit.secrets import register_model_secrets
from tradekit.settings import PluginTables, Settings, validate_plugin_settings

if TYPE_CHECKING:
    from pydantic import BaseModel

    from tradekit.domain.instruments import Instrument
    from tradekit.sim import SimulatedVenue


log = logging.getLogger("tradekit.session")


@dataclass
class RunPlugins:
    """The plugins a run named, created with validated settings, and the hooks that join them."""

    exchange: Exchange
    strategy: Strategy
    risk_rules: list[RiskRule]
    notifiers: list[Notifier]
    hooks: HookFacade

    def all(self) -> list[Plugin]:
        """Every plugin of the run, in config order."""
        return [self.exchange, self.strategy, *self.risk_rules, *self.notifiers]

    def journal_config(self, settings: Settings) -> dict[str, Any]:
        """The run's settings for the journal: secrets masked, and only the tables of the plugins it loaded.

        The raw ``[plugins.*]`` tables are left out: they may hold the keys of
        plugins this run never loaded, whose secrets were never registered.
        """
        config = settings.model_dump(mode="json", exclude={"plugins"})
        tables: dict[str, dict[str, Any]] = {}
        for plugin in self.all():
            tables.setdefault(plugin.kind, {})[plugin.name] = plugin.settings.model_dump(mode="json")
        config["plugins"] = tables
        return config

    def close(self) -> None:
        """Close notifiers (flushing their queues) and the exchange."""
        for notifier in self.notifiers:
            try:
                notifier.close()
            except Exception as error:  # a notifier never stops shutdown
                notifier.log.error("closing notifier %s failed: %s", notifier.name, error)
        self.exchange.close()


def create_plugin(registry: Registry, kind: str, name: str, tables: dict[str, dict[str, Any]], origin: str) -> Plugin:
    """Load plugin ``name`` of ``kind`` and create it with its validated settings table."""
    plugin_class = registry.load_class(kind, name)
    try:
        settings = validate_plugin_settings(
            plugin_class.Settings, tables.get(name, {}), kind=kind, name=name, origin=origin
        )
    except ConfigError as error:
        raise ConfigError(error.message, hint=_settings_hint(plugin_class.Settings, kind, name)) from None
    register_model_secrets(settings)
    return plugin_class(settings, name=name)  # type: ignore[arg-type]


def _settings_hint(model: type[BaseModel], kind: str, name: str) -> str:
    """The settings a plugin takes, with their defaults, for a message about a refused one."""
    described = [
        f"{key} (required)"
        if field.is_required()
        else f"{key} (default {field.get_default(call_default_factory=True)})"
        for key, field in model.model_fields.items()
    ]
    if not described:
        return f"{kind} {name} takes no settings"
    return f"{kind} {name} takes: {', '.join(described)}"


def load_plugins(settings: Settings, registry: Registry, *, origin: str) -> RunPlugins:
    """Create every plugin the settings name, in config order, or raise a user error."""
    if settings.strict_plugins or registry.strict:
        broken = [health for health in registry.check() if not health.ok]
        if broken:
            lines = "\n".join(f"  {h.entry.label}: {h.error}" for h in broken)
            raise PluginLoadError(f"plugins failed to load (strict plugin mode):\n{lines}")
    if not settings.strategy:
        raise ConfigError(
            'no strategy named: pass --strategy NAME or set `strategy = "NAME"` in tradekit.toml; '
            f"installed: {', '.join(registry.names('strategy')) or '(none)'}"
        )
    for key, names in (("risk", settings.risk), ("notifiers", settings.notifiers)):
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ConfigError(
                f"`{key}` names {', '.join(repeated)} more than once; each plugin runs once, name it once"
            )
    tables = settings.plugins
    exchange = create_plugin(registry, "exchange", settings.exchange, tables.exchange, origin)
    strategy = create_plugin(registry, "strategy", settings.strategy, tables.strategy, origin)
    risk_rules = [create_plugin(registry, "risk", n, tables.risk, origin) for n in settings.risk]
    notifiers = [create_plugin(registry, "notifier", n, tables.notifier, origin) for n in settings.notifiers]
    _warn_about_unused_tables(registry, tables)
    pm = new_plugin_manager()
    # Registration order is config order; the facade calls hooks in that order.
    pm.register(exchange, name=f"exchange:{exchange.name}")
    pm.register(strategy, name=f"strategy:{strategy.name}")
    for rule in risk_rules:
        pm.register(rule, name=rule.name)
    for notifier in notifiers:
        pm.register(notifier, name=f"notifier:{notifier.name}")
    return RunPlugins(
        exchange=exchange,  # type: ignore[arg-type]
        strategy=strategy,  # type: ignore[arg-type]
        risk_rules=risk_rules,  # type: ignore[arg-type]
        notifiers=notifiers,  # type: ignore[arg-type]
        hooks=HookFacade(pm),
    )


def _warn_about_unused_tables(registry: Registry, tables: PluginTables) -> None:
    """A settings table for a plugin that is not installed is probably a typo: say so, without stopping.

    (A table for an installed plugin that this run does not use is normal: a
    config file serves several runs.)
    """
    for kind in KINDS:
        installed = registry.names(kind)
        for name in getattr(tables, kind):
            if name not in installed:
                log.warning("[plugins.%s.%s] is ignored: %s", kind, name, registry.unknown_message(kind, name))


def new_run_id() -> str:
    """A fresh run id: 32 hex digits."""
    return uuid.uuid4().hex


def quote_of(instruments: dict[str, Instrument]) -> str:
    """The one quote currency of a run's instruments."""
    quotes = {instrument.quote for instrument in instruments.values()}
    if len(quotes) != 1:
        raise ConfigError(f"the symbols of one run must share a quote currency; got {', '.join(sorted(quotes))}")
    return quotes.pop()


def simulated_venue(
    settings: Settings,
    exchange: Exchange,
    instruments: dict[str, Instrument],
    quote: str,
    *,
    cash: Decimal | None = None,
    keep_finished: int | None = None,
) -> SimulatedVenue:
    """The simulated venue a backtest or dry run fills on, with the exchange's (or the configured) fees.

    It starts with ``cash`` (default: ``backtest.cash``; a resumed run passes what it started with) and
    keeps ``keep_finished`` finished orders for lookups (default: the venue's).
    """
    from tradekit.sim import BasisPointSlippage, FeeSchedule, NoSlippage, SimulatedVenue

    first = next(iter(instruments))
    exchange_fees = exchange.fees(first) or (Decimal(0), Decimal(0))
    maker, taker = exchange_fees
    if settings.backtest.fee is not None:
        maker = taker = settings.backtest.fee
    slippage = BasisPointSlippage(settings.backtest.slippage_bps) if settings.backtest.slippage_bps else NoSlippage()
    return SimulatedVenue(
        instruments,
        {quote: settings.backtest.cash if cash is None else cash},
        FeeSchedule(maker=maker, taker=taker),
        slippage,
        name=f"{exchange.name} (simulated)",
        keep_finished=keep_finished,
    )
