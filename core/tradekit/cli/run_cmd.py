"""``tradekit run``: a dry run by default, real orders only with ``--live``."""

from __future__ import annotations

import time
from typing import Any

import click

from tradekit.cli.common import (
    parse_params,
    registry_from,
    settings_from,
    stderr_console,
    stdout_console,
    with_strategy_params,
)


@click.command()
@click.option("--strategy", "-s", help="Strategy plugin to run.")
@click.option("--exchange", "-e", help="Exchange plugin for prices (and orders with --live). Default: paper.")
@click.option("--symbol", "symbols", multiple=True, help="Symbol; repeat for several.")
@click.option("--timeframe", "-t", help="Bar size, e.g. 1m.")
@click.option("--param", "-p", "params", multiple=True, help="Strategy parameter key=value; repeat as needed.")
@click.option("--live", is_flag=True, help="Send real orders. Without it: a dry run (simulated fills).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation before a --live run.")
@click.option("--testnet", is_flag=True, help="Use the exchange's test network, where it has one (no real money).")
@click.option(
    "--on-mismatch",
    type=click.Choice(["ask", "adopt", "cancel", "abort"]),
    default="ask",
    show_default=True,
    help="--live: what to do with open orders and positions on the venue the journal does not explain.",
)
@click.option("--max-bars", type=click.IntRange(min=1), help="Stop after this many new bars.")
@click.option(
    "--fresh",
    is_flag=True,
    help="Start a new run even if the same run died unfinished (it is then closed as abandoned). "
    "Without it such a run is taken up where it stood.",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.0),
    default=5.0,
    show_default=True,
    help="Seconds between polls of the exchange for new bars.",
)
@click.pass_context
def run(
    ctx: click.Context,
    strategy: str | None,
    exchange: str | None,
    symbols: tuple[str, ...],
    timeframe: str | None,
    params: tuple[str, ...],
    live: bool,
    yes: bool,
    testnet: bool,
    on_mismatch: str,
    max_bars: int | None,
    fresh: bool,
    poll_interval: float,
) -> None:
    """Run a strategy on an exchange's bars as they close.

    A dry run by default: the exchange's prices, fills from the simulated
    venue, no orders sent and no keys needed. `--live` sends real orders, after
    saying what it is about to do and asking you to confirm (unless --yes).
    Ctrl-C stops the run cleanly; everything is in the journal. A run that
    died (killed, crashed) is taken up by the next `tradekit run` of the same
    strategy, exchange and symbols: same run id, its open orders and the
    strategy's state restored from the journal (see --fresh).
    """
    from tradekit import session
    from tradekit.session.reconcile import ask_on_terminal

    overrides: dict[str, Any] = {
        "strategy": strategy,
        "exchange": exchange,
        "symbols": list(symbols) or None,
        "timeframe": timeframe,
    }
    overrides = with_strategy_params(overrides, strategy, parse_params(params))
    settings, origin = settings_from(ctx, overrides)
    if testnet:
        settings, origin = settings_from(ctx, _on_testnet(ctx, settings.exchange, overrides))
    plugins, run_symbols = session.prepare_live(settings, registry_from(ctx), origin=origin, live=live)
    console = stderr_console()
    console.print(session.describe_live_run(settings, plugins, run_symbols, live), markup=False)
    if live and not yes and not click.confirm("Send real orders?", default=False, err=True):
        plugins.close()
        raise click.Abort()
    display = _Display(console, plugins.strategy)
    with display:
        result = session.run_live(
            settings,
            plugins,
            run_symbols,
            live=live,
            max_bars=max_bars,
            poll_interval=poll_interval,
            on_bar=display.update,
            fresh=fresh,
            on_mismatch=ask_on_terminal(on_mismatch, console) if live else None,
        )
    _print_summary(result)


def _on_testnet(ctx: click.Context, exchange: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` that also set the exchange's ``testnet`` setting; refused for an exchange without one."""
    from tradekit.errors import ConfigError

    capabilities = getattr(registry_from(ctx).load_class("exchange", exchange), "capabilities", None)
    if capabilities is None or not capabilities.testnet:
        raise ConfigError(f"exchange {exchange} has no test network; --testnet needs one that has")
    plugins = dict(overrides.get("plugins") or {})
    tables = dict(plugins.get("exchange") or {})
    tables[exchange] = {**tables.get(exchange, {}), "testnet": True}
    return {**overrides, "plugins": {**plugins, "exchange": tables}}


class _Display:
    """A live status table on a terminal; a line every 500 bars otherwise.

    Both show the strategy's own :meth:`~tradekit.plugin.Strategy.status`
    (its phase, say) beside the run's figures.
    """

    def __init__(self, console: Any, strategy: Any = None) -> None:
        self.console = console
        self.strategy = strategy
        self.live: Any = None
        self._last = 0.0
        self.status_failed = False

    def __enter__(self) -> _Display:
        if self.console.is_terminal:
            from rich.live import Live

            self.live = Live(console=self.console, refresh_per_second=8, transient=False)
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()

    def update(self, engine: Any, status: Any) -> None:
        now = time.monotonic()
        if self.live is None:
            if status.bars % 500 == 0:
                fields = _strategy_status(self.strategy, self)
                own = "".join(f"; {name} {value}" for name, value in fields.items())
                self.console.print(
                    f"bar {status.bars}: {engine.now:%Y-%m-%d %H:%M} close {status.close:,.2f} "
                    f"equity {engine.equity():,.2f} orders {engine.stats.orders} fills {engine.stats.fills}{own}",
                    markup=False,
                )
            return
        if now - self._last < 0.1:
            return
        self._last = now
        table = _status_table(engine, status)
        fields = _strategy_status(self.strategy, self)
        if fields:
            from rich.console import Group

            self.live.update(Group(table, _strategy_table(self.strategy, fields)))
        else:
            self.live.update(table)


def _strategy_status(strategy: Any, display: _Display | None = None) -> dict[str, str]:
    """The strategy's status as named fields (a plain line is one field, "status"); {} when it has none.

    A status that fails is shown as the error and logged once: the display must never stop the run.
    """
    if strategy is None:
        return {}
    try:
        status = strategy.status()
    except Exception as error:
        if display is None or not display.status_failed:
            import logging

            logging.getLogger("tradekit.cli").exception("strategy %s: status() failed", getattr(strategy, "name", "?"))
            if display is not None:
                display.status_failed = True
        return {"status": f"status() failed: {type(error).__name__}: {error}"}
    if status is None:
        return {}
    if isinstance(status, dict):
        return {str(name): str(value) for name, value in status.items()}
    return {"status": str(status)}


def _strategy_table(strategy: Any, fields: dict[str, str]) -> Any:
    from rich.table import Table

    table = Table(title=f"strategy {strategy.name}", title_justify="left", show_header=False)
    table.add_column("field", style="cyan", no_wrap=True)
    table.add_column("value")
    for name, value in fields.items():
        table.add_row(name, value)
    return table


def _status_table(engine: Any, status: Any) -> Any:
    from rich.table import Table

    table = Table(title=f"{engine.run.mode.value} {engine.run.run_id[:12]}", title_justify="left")
    for column in ("bar time", "symbol", "close", "position", "cash", "equity", "open orders", "fills"):
        table.add_column(column, justify="right")
    for symbol in engine.run.symbols:
        table.add_row(
            f"{engine.now:%Y-%m-%d %H:%M}",
            symbol,
            f"{engine.last_close(symbol):,.2f}",
            str(engine.ledger.quantity(symbol)),
            f"{engine.free_cash():,.2f}",
            f"{engine.equity():,.2f}",
            str(len(engine.open_orders(symbol))),
            str(engine.stats.fills),
        )
    return table


def _print_summary(result: Any) -> None:
    from rich.table import Table

    console = stdout_console()
    if result.resumed_after is not None:
        console.print(
            f"resumed run {result.run.run_id[:12]}, which had stopped unfinished, after its bar of "
            f"{result.resumed_after:%Y-%m-%d %H:%M}",
            markup=False,
        )
    change = result.equity - result.start_equity
    table = Table(title=f"{result.run.mode.value} {result.run.run_id[:12]}: {result.reason}", title_justify="left")
    for column in ("bars", "orders", "fills", "start equity", "end equity", "change", "position"):
        table.add_column(column, justify="right")
    positions = ", ".join(f"{s} {q}" for s, q in result.position.items())
    table.add_row(
        f"{result.bars:,}",
        f"{result.engine_stats.orders:,}",
        f"{result.engine_stats.fills:,}",
        f"{result.start_equity:,.2f}",
        f"{result.equity:,.2f}",
        f"{change:+,.2f}",
        positions,
    )
    console.print(table)
    console.print(f"journal {result.journal_path}, run {result.run.run_id}: `tradekit report {result.run.run_id[:12]}`")
