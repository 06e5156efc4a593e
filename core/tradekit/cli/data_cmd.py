"""``tradekit data download``: an exchange's candles into a Parquet file that backtests read.

Works with any exchange plugin, through :meth:`~tradekit.plugin.Exchange.fetch_bars`
with ``since`` and ``limit``: page after page from ``--from`` to ``--to``
(default: now), each page within the exchange's own rate-limit budget. Every
page is written at once to a part file beside the target
(``<file>.parts/``); an interrupted download (Ctrl-C, a network failure, a
killed process) is taken up by running the same command again: it starts
after the last part. When the range is complete the parts become one Parquet
file (:func:`tradekit.data.write_parquet`), checked (sorted, no repeats, sane
prices), and the parts are removed. A target that exists already is extended
from its last bar.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tradekit.cli.common import parse_when, registry_from, settings_from, stderr_console

if TYPE_CHECKING:
    from tradekit.domain.bars import BarSeries
    from tradekit.plugin import Exchange as ExchangePlugin


@click.group()
def data() -> None:
    """Market data: download an exchange's candles for backtests."""


@data.command()
@click.option("--exchange", "-e", required=True, help="Exchange plugin to download from, e.g. binance.")
@click.option("--symbol", "-s", required=True, help="Symbol, e.g. BTC/USDT.")
@click.option("--timeframe", "-t", required=True, help="Bar size, e.g. 1m.")
@click.option("--from", "start", required=True, help="First bar's open time, YYYY-MM-DD[THH:MM] (UTC).")
@click.option("--to", "end", help="Download up to this time (exclusive; UTC). Default: now.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Parquet file to write. Default: data/<exchange>/<SYMBOL>-<timeframe>.parquet.",
)
@click.option(
    "--page-size", type=click.IntRange(min=1, max=10_000), default=1000, show_default=True, help="Bars per request."
)
@click.pass_context
def download(
    ctx: click.Context,
    exchange: str,
    symbol: str,
    timeframe: str,
    start: str,
    end: str | None,
    out: Path | None,
    page_size: int,
) -> None:
    """Download candles page by page into Parquet; run it again to resume an interrupted download."""
    from tradekit.data import timeframe_to_ns
    from tradekit.errors import ConfigError
    from tradekit.plugin import Exchange
    from tradekit.session.plugins import create_plugin

    step = timeframe_to_ns(timeframe)
    first = parse_when(start, "--from")
    last = parse_when(end, "--to") or datetime.now(UTC)
    assert first is not None
    if first >= last:
        raise ConfigError(f"--from {first:%Y-%m-%d %H:%M} must be before --to {last:%Y-%m-%d %H:%M}")
    settings, origin = settings_from(ctx, {"exchange": exchange})
    plugin = create_plugin(registry_from(ctx), "exchange", exchange, settings.plugins.exchange, origin)
    assert isinstance(plugin, Exchange)
    target = out or default_path(exchange, symbol, timeframe)
    try:
        plugin.connect()
        written = _Download(plugin, symbol, timeframe, step, page_size).run(target, _ns(first), _ns(last))
    finally:
        plugin.close()
    stderr_console().print(written, markup=False)


def default_path(exchange: str, symbol: str, timeframe: str) -> Path:
    """``data/<exchange>/<BASE>_<QUOTE>[_<SETTLE>]-<timeframe>.parquet`` (freqtrade's naming, which loaders read)."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", symbol).strip("_")
    return Path("data") / exchange / f"{name}-{timeframe}.parquet"


def _ns(moment: datetime) -> int:
    from tradekit.domain.bars import datetime_to_ns

    return datetime_to_ns(moment)


class _Download:
    """One symbol's download: pages into parts, parts into the target."""

    def __init__(self, exchange: ExchangePlugin, symbol: str, timeframe: str, step: int, page_size: int) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.timeframe = timeframe
        self.step = step
        self.page_size = page_size

    def run(self, target: Path, first: int, last: int) -> str:
        """Fetch ``[first, last)`` (ns) into ``target``, after what is there already; returns a summary line."""
        parts = target.with_name(target.name + ".parts")
        try:
            parts.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            from tradekit.errors import DataError

            raise DataError(f"cannot create {parts}: {error.strerror}", hint="choose another --out") from None
        have = self._last_stored(target, parts)
        cursor = max(first, have + self.step) if have is not None else first
        resumed = have is not None and cursor > first
        fetched = self._fetch_pages(parts, cursor, last)
        total = self._assemble(target, parts, first)
        how = "resumed" if resumed else "downloaded"
        return f"{how} {fetched:,} new bars of {self.symbol} {self.timeframe}; {target} holds {total:,} bars"

    def _last_stored(self, target: Path, parts: Path) -> int | None:
        """Open time of the newest bar already stored, in a part or the target (ns), or None."""
        from tradekit.data import load_bars

        files = sorted(parts.glob("*.parquet"))
        if files:
            return int(load_bars(files[-1], validate=False).timestamps[-1])
        if target.is_file():
            return int(load_bars(target, validate=False).timestamps[-1])
        return None

    def _fetch_pages(self, parts: Path, cursor: int, last: int) -> int:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from tradekit.data import write_parquet
        from tradekit.domain.bars import ns_to_datetime

        console = stderr_console()
        expected = max((last - cursor + self.step - 1) // self.step, 0)
        fetched = 0
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
            task = progress.add_task(f"{self.symbol} {self.timeframe}", total=expected)
            while cursor < last:
                page = self.exchange.fetch_bars(
                    self.symbol, self.timeframe, since=ns_to_datetime(cursor), limit=self.page_size
                )
                keep = (page.timestamps >= cursor) & (page.timestamps < last)
                if not keep.any():
                    break  # the venue has nothing after cursor (yet)
                page = _masked(page, keep)
                # A part per page, named by its first bar: sorting names sorts the bars.
                write_parquet(page, parts / f"{int(page.timestamps[0]):020d}.parquet")
                fetched += len(page)
                progress.update(task, completed=min(fetched, expected))
                cursor = int(page.timestamps[-1]) + self.step
        return fetched

    def _assemble(self, target: Path, parts: Path, first: int) -> int:
        """Join the target and the parts into the target (written whole, then moved in place); the bar count."""
        import numpy as np

        from tradekit.data import load_bars, validate_bars, write_parquet

        pieces = [load_bars(target, validate=False)] if target.is_file() else []
        pieces += [load_bars(path, validate=False) for path in sorted(parts.glob("*.parquet"))]
        if not pieces:
            shutil.rmtree(parts, ignore_errors=True)
            from tradekit.errors import DataError

            raise DataError(
                f"{self.exchange.name} returned no {self.timeframe} bars of {self.symbol} from "
                f"{_when(first)}; check the symbol and the start date"
            )
        columns = {
            name: np.concatenate([getattr(piece, name) for piece in pieces])
            for name in ("timestamps", "open", "high", "low", "close", "volume")
        }
        order = np.argsort(columns["timestamps"], kind="stable")
        unique = np.ones(len(order), dtype=bool)
        stamps = columns["timestamps"][order]
        unique[1:] = stamps[1:] != stamps[:-1]
        chosen = order[unique]
        series = replace(
            pieces[-1],
            symbol=self.symbol,
            timeframe=self.timeframe,
            source=f"{self.exchange.name}:{self.symbol}:{self.timeframe}",
            metadata={},
            **{name: np.ascontiguousarray(values[chosen]) for name, values in columns.items()},
        )
        validate_bars(series, target)
        scratch = target.with_name(target.name + ".writing")
        write_parquet(series, scratch)
        scratch.replace(target)
        shutil.rmtree(parts, ignore_errors=True)
        return len(series)


def _masked(series: BarSeries, keep: Any) -> BarSeries:
    return replace(
        series,
        **{name: getattr(series, name)[keep] for name in ("timestamps", "open", "high", "low", "close", "volume")},
    )


def _when(ns: int) -> str:
    from tradekit.domain.bars import ns_to_datetime

    return f"{ns_to_datetime(ns):%Y-%m-%d %H:%M}"
