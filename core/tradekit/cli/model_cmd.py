"""``tradekit model``: train a model plugin with walk-forward validation, and describe a saved artifact.

Works with any model plugin, found by name through the registry: the kernel
knows none. ``train`` needs only the :class:`~tradekit.plugin.Model` methods
``fit``, ``predict`` and ``save``; a model that implements ``score`` gets one
column per score in the walk-forward table, and one that implements
``read_metadata`` can be described by ``info``.

Walk-forward validation: the test windows lie back to back and end with the
last bar; each fold fits a fresh model on the ``--window`` of history just
before its test window (all of it, with ``--window all``) and predicts the
test window, which that model has never seen. The model a fold fits is given
only its training bars, so nothing after them (not even a label) reaches it.
The saved model is then fit on the last ``--window`` of the data.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from tradekit.cli.common import parse_params, registry_from, settings_from, stderr_console, stdout_console

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tradekit.domain.bars import BarSeries
    from tradekit.plugin import Model
    from tradekit.registry import Registry

_DAY_NS = 86_400 * 1_000_000_000
_UNIT_NS = {"h": 3_600 * 1_000_000_000, "d": _DAY_NS, "w": 7 * _DAY_NS, "y": 365 * _DAY_NS}
_SPAN = re.compile(r"^(\d+)([hdwy])$")
SPAN_HELP = "a length of history: 30d, 90d, 180d, 1y, 2y (also hours 12h and weeks 6w)"


def parse_span(value: str, option: str, *, allow_all: bool = False) -> int | None:
    """``90d``, ``1y``... as nanoseconds; None for ``all`` where allowed. Raises ConfigError otherwise."""
    from tradekit.errors import ConfigError

    text = value.strip().lower()
    if allow_all and text == "all":
        return None
    match = _SPAN.match(text)
    if match is None or int(match.group(1)) == 0:
        choices = f"{SPAN_HELP}{', or all' if allow_all else ''}"
        raise ConfigError(f"{option} {value!r} is not {choices}")
    return int(match.group(1)) * _UNIT_NS[match.group(2)]


def format_span(ns: int) -> str:
    """A span in the largest whole unit (``90d``, ``1y``, ``36h``), else in days (``91.3d``)."""
    for unit in ("y", "d", "h"):
        if ns % _UNIT_NS[unit] == 0:
            return f"{ns // _UNIT_NS[unit]}{unit}"
    return f"{ns / _DAY_NS:.1f}d" if ns >= _DAY_NS else f"{ns / _UNIT_NS['h']:.1f}h"


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold: bars ``[train_start, train_stop)`` to fit on, ``[test_start, test_stop)`` to test."""

    number: int
    train_start: int
    train_stop: int
    test_start: int
    test_stop: int


def walk_forward_folds(
    timestamps: NDArray[np.int64], *, train_ns: int | None, test_ns: int, folds: int | None
) -> list[Fold]:
    """The folds over bars opening at ``timestamps`` (sorted), oldest first.

    Test windows of ``test_ns`` lie back to back, the newest ending after the
    last bar; each trains on the ``train_ns`` before it (everything before it
    when None). A fold is kept only when its training window lies wholly
    inside the data (with None: when it spans at least one test window) and
    its test window holds bars. ``folds`` keeps the newest that many (all when None).
    """
    if len(timestamps) == 0:
        return []
    # Windows are measured from the close of the last bar: its open plus the usual bar length.
    bar_ns = int(np.median(np.diff(timestamps))) if len(timestamps) > 1 else 1
    first, end = int(timestamps[0]), int(timestamps[-1]) + max(bar_ns, 1)
    found: list[tuple[int, int, int, int]] = []
    k = 0
    while folds is None or len(found) < folds:
        test_from = end - (k + 1) * test_ns
        k += 1
        # A fixed window must lie wholly inside the data; the whole history must span a test window at least.
        if test_from - first < (train_ns if train_ns is not None else test_ns):
            break
        train_from = first if train_ns is None else test_from - train_ns
        test_start = int(np.searchsorted(timestamps, test_from, side="left"))
        test_stop = int(np.searchsorted(timestamps, test_from + test_ns, side="left"))
        train_start = int(np.searchsorted(timestamps, train_from, side="left"))
        if test_stop > test_start and test_start > train_start:
            found.append((train_start, test_start, test_start, test_stop))
    return [Fold(number, *bounds) for number, bounds in enumerate(reversed(found), start=1)]


@click.group()
def model() -> None:
    """Train model plugins with walk-forward validation, and inspect the artifacts they save."""


@model.command("train")
@click.option("--model", "-m", "model_name", required=True, help="Model plugin to train (see `tradekit plugins list`).")
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="OHLCV file of one symbol (CSV, Parquet, freqtrade feather or JSON).",
)
@click.option("--from", "start", help="Use no bar before this time (YYYY-MM-DD[THH:MM], UTC).")
@click.option(
    "--to",
    "end",
    help="Use no bar from this time on (YYYY-MM-DD[THH:MM], UTC): keep later bars for an out-of-sample backtest.",
)
@click.option(
    "--window",
    default="1y",
    show_default=True,
    help="History each model is trained on: 30d, 90d, 180d, 1y, 2y or all (the saved model: the last window).",
)
@click.option(
    "--horizon", type=click.IntRange(min=1), default=1, show_default=True, help="Bars ahead the model predicts."
)
@click.option(
    "--folds", default="6", show_default=True, help="Walk-forward folds to test, the most recent; 'all' for every one."
)
@click.option(
    "--test-window",
    help="Length of each fold's test window (default: a quarter of --window; with --window all, the "
    "second half of the data shared among the folds).",
)
@click.option("--param", "-p", "params", multiple=True, help="Model setting key=value; repeat as needed.")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to save the trained model. Default: models/MODEL-SYMBOL-TIMEFRAME-WINDOW-hHORIZON.tkmodel.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the folds, their mean, the in-sample metrics and the artifact's path as JSON.",
)
@click.pass_context
def train(
    ctx: click.Context,
    model_name: str,
    data_path: Path,
    start: str | None,
    end: str | None,
    window: str,
    horizon: int,
    folds: str,
    test_window: str | None,
    params: tuple[str, ...],
    output: Path | None,
    as_json: bool,
) -> None:
    """Train a model on a window of history, validated walk-forward, and save it.

    Each fold fits a fresh model on the window before its test window and
    scores its predictions there; the table shows one row per fold and their
    mean. Then the model is fit on the latest window and saved with its
    metadata. Example: tradekit model train --model gbm --data BTC_USDT-1h.feather --window 1y --horizon 4
    """
    from tradekit.errors import ConfigError, UserError

    train_ns = parse_span(window, "--window", allow_all=True)
    fold_count = _parse_folds(folds)
    table = {model_name: parse_params(params)} if params else {}
    settings, origin = settings_from(ctx, {"plugins": {"model": table}} if table else {})
    registry = registry_from(ctx)
    template = _create(registry, model_name, settings.plugins.model, origin)
    data = _load(data_path, start, end)
    span = int(data.timestamps[-1]) - int(data.timestamps[0])
    test_ns = _test_span(test_window, train_ns, span, fold_count)
    found = walk_forward_folds(data.timestamps, train_ns=train_ns, test_ns=test_ns, folds=fold_count)
    if not found:
        needed = (train_ns if train_ns is not None else test_ns) + test_ns
        raise ConfigError(
            f"{data_path} spans {format_span(span // _DAY_NS * _DAY_NS or _DAY_NS)}; a training window of "
            f"{window} and a test window of {format_span(test_ns)} need at least {format_span(needed)}",
            hint="choose a shorter --window or --test-window, or a longer data file",
        )
    final_data = _latest_window(data, train_ns)

    rows: list[dict[str, Any]] = []
    with _progress(stderr_console(), len(found) + 1, enabled=not as_json) as advance:
        for fold in found:
            rows.append(_run_fold(_fresh(template), data, fold, horizon))
            advance()
        final = _fresh(template)
        metrics = _in_fold("the final fit", lambda: final.fit(final_data, horizon))
        advance()
    summary = _mean_row(rows)
    final.metadata["window"] = window.strip().lower()
    final.metadata["walk_forward"] = {
        "train_window": window.strip().lower(),
        "test_window": format_span(test_ns),
        "horizon": horizon,
        "folds": rows,
        "mean": summary,
    }
    path = output or Path("models") / (
        f"{model_name}-{data.symbol.replace('/', '_').replace(':', '_')}-{data.timeframe}-"
        f"{window.strip().lower()}-h{horizon}.tkmodel"
    )
    try:
        final.save(path)
    except OSError as error:
        raise UserError(f"cannot write the model to {path}: {error.strerror}", hint="pass --output FILE") from None
    if as_json:
        described = {"artifact": str(path), "folds": rows, "mean": summary, "metrics": metrics}
        click.echo(json.dumps(_json_ready(described), indent=2, default=str))
        return
    _print_training(model_name, data, final_data, window, test_ns, horizon, rows, summary, metrics, path)


@model.command("info")
@click.argument("artifact", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
@click.pass_context
def info(ctx: click.Context, artifact: Path, as_json: bool) -> None:
    """Describe a saved model: what it is, what it was trained on, its metrics; check that it loads here."""
    from tradekit.errors import ConfigError, UserError

    if not artifact.is_file():
        raise ConfigError(f"model artifact {artifact} does not exist (or is not a file)")
    registry = registry_from(ctx)
    name, described = _recognise(registry, artifact)
    refused: UserError | None = None
    try:
        _model_class(registry, name).load(artifact)
    except UserError as error:
        refused = error
    if as_json:
        click.echo(
            json.dumps(
                {
                    "artifact": str(artifact),
                    "read_by": name,
                    "loads": refused is None,
                    "refused": None if refused is None else str(refused),
                    "metadata": _json_ready(described),
                },
                indent=2,
                default=str,
            )
        )
    else:
        _print_metadata(artifact, name, described, refused)
    if refused is not None:
        raise refused


# --- training --------------------------------------------------------------------------------------------


def _parse_folds(value: str) -> int | None:
    from tradekit.errors import ConfigError

    text = value.strip().lower()
    if text == "all":
        return None
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"--folds {value!r} must be a whole number of folds (at least 1) or all")
    return int(text)


def _load(data_path: Path, start: str | None, end: str | None) -> BarSeries:
    """The bars of ``data_path`` from ``--from`` and before ``--to``; at least two of them."""
    from tradekit.cli.common import parse_when
    from tradekit.data import load_bars
    from tradekit.domain.bars import datetime_to_ns
    from tradekit.errors import DataError

    if not data_path.exists():
        raise DataError(f"data file {data_path} does not exist")
    data = load_bars(data_path)
    date_from, date_to = parse_when(start, "--from"), parse_when(end, "--to")
    first = 0 if date_from is None else int(np.searchsorted(data.timestamps, datetime_to_ns(date_from)))
    stop = len(data) if date_to is None else int(np.searchsorted(data.timestamps, datetime_to_ns(date_to)))
    data = data.slice(first, stop)
    if len(data) < 2:
        chosen = f" from {start or 'the start'} to {end or 'the end'}" if start or end else ""
        raise DataError(f"data file {data_path} holds {len(data)} bars{chosen}; training needs history")
    return data


def _latest_window(data: BarSeries, train_ns: int | None) -> BarSeries:
    """The bars the saved model is fit on: the last ``train_ns`` before the last bar's close (all when None)."""
    if train_ns is None:
        return data
    last_close = int(data.timestamps[-1]) + int(np.median(np.diff(data.timestamps)))
    return data.slice(int(np.searchsorted(data.timestamps, last_close - train_ns)), len(data))


def _test_span(test_window: str | None, train_ns: int | None, span: int, folds: int | None) -> int:
    if test_window is not None:
        parsed = parse_span(test_window, "--test-window")
        assert parsed is not None
        return parsed
    # In whole days where the windows are days long, so the dates of the table read simply.
    share = train_ns // 4 if train_ns is not None else span // (2 * (folds or 6))
    return share // _DAY_NS * _DAY_NS if share >= _DAY_NS else max(share, _UNIT_NS["h"])


def _model_class(registry: Registry, name: str) -> type[Model]:
    from tradekit.plugin import Model

    loaded = registry.load_class("model", name)
    # The registry hands out only subclasses of the kind's base class.
    assert issubclass(loaded, Model)
    return loaded


def _create(registry: Registry, name: str, tables: dict[str, dict[str, Any]], origin: str) -> Model:
    from tradekit.plugin import Model
    from tradekit.session.plugins import create_plugin

    created = create_plugin(registry, "model", name, tables, origin)
    assert isinstance(created, Model)
    return created


def _fresh(template: Model) -> Model:
    """An untrained model of the same class, settings and name."""
    return type(template)(template.settings, name=template.name)


def _in_fold(where: str, step: Callable[[], Any]) -> Any:
    """Run one fitting step; a user error in it says which step it was.

    A ValueError is taken for one too: models refuse data they cannot learn
    from (too few bars, one class only) that way, as the generated template does.
    """
    from tradekit.errors import DataError, UserError

    try:
        return step()
    except UserError as error:
        error.message = f"{where}: {error.message}"
        raise
    except ValueError as error:
        raise DataError(f"{where}: {error}") from None


def _run_fold(model: Model, data: BarSeries, fold: Fold, horizon: int) -> dict[str, Any]:
    """Fit on the fold's training bars, predict its test bars, and score them."""
    where = f"walk-forward fold {fold.number}"
    _in_fold(where, lambda: model.fit(data.slice(fold.train_start, fold.train_stop), horizon))
    # Predicting from the training window's start gives every test bar the history it needs; no
    # prediction reads a bar after its own.
    context = data.slice(fold.train_start, fold.test_stop)
    predictions = np.asarray(_in_fold(where, lambda: model.predict(context)), dtype=np.float64)
    tested = predictions[fold.test_start - fold.train_start :]
    scores = _in_fold(where, lambda: model.score(data.slice(fold.test_start, fold.test_stop), tested, horizon))
    return {
        "fold": fold.number,
        "train_from": data.datetime_at(fold.train_start).isoformat(),
        "train_to": data.datetime_at(fold.train_stop - 1).isoformat(),
        "test_from": data.datetime_at(fold.test_start).isoformat(),
        "test_to": data.datetime_at(fold.test_stop - 1).isoformat(),
        "train_bars": fold.train_stop - fold.train_start,
        "test_bars": fold.test_stop - fold.test_start,
        **{key: _number(value) for key, value in scores.items()},
    }


def _number(value: Any) -> float | None:
    """A score as a float, None where it is undefined (NaN): JSON and the artifact's metadata hold it as is."""
    number = float(value)
    return None if math.isnan(number) else number


def _score_keys(rows: list[dict[str, Any]]) -> list[str]:
    fixed = {"fold", "train_from", "train_to", "test_from", "test_to", "train_bars", "test_bars"}
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(key for key in row if key not in fixed))
    return list(keys)


def _mean_row(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """The mean of each score over the folds (folds where it is undefined left out)."""
    means: dict[str, float | None] = {}
    for key in _score_keys(rows):
        values = [row[key] for row in rows if row.get(key) is not None]
        means[key] = sum(values) / len(values) if values else None
    return means


@contextmanager
def _progress(console: Any, total: int, *, enabled: bool) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr over the fits; a no-op when disabled or not on a terminal."""
    if not (enabled and console.is_terminal):
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]training[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("fits"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("fits", total=total)
        yield lambda: progress.update(task, advance=1)


# --- printing ----------------------------------------------------------------------------------------------


def _json_ready(value: Any) -> Any:
    """``value`` with numpy numbers made plain and NaN or infinity made None (strict JSON)."""
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.2f}" if abs(value) >= 10 else f"{value:.4f}"
    return str(value)


def _day(moment: str) -> str:
    return moment[:10]


def _fold_table(rows: list[dict[str, Any]], summary: dict[str, Any] | None, title: str) -> Any:
    """One row per fold: its test window and its scores (the training window is the title's; JSON has both)."""
    from rich import box
    from rich.table import Table

    keys = _score_keys(rows)
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("fold", justify="right")
    table.add_column("tested from", justify="left", no_wrap=True, min_width=10)
    table.add_column("to", justify="left", no_wrap=True, min_width=10)
    for key in keys:
        # Spaces let a long name wrap onto two header lines instead of widening its column.
        words = key.split("_")
        table.add_column(" ".join(words), justify="right", min_width=max(len(word) for word in words))
    for row in rows:
        table.add_row(
            str(row.get("fold", "")),
            _day(str(row.get("test_from", ""))),
            _day(str(row.get("test_to", ""))),
            *(_cell(row.get(key)) for key in keys),
        )
    if summary is not None:
        table.add_section()
        table.add_row("mean", "", "", *(_cell(summary.get(key)) for key in keys))
    return table


def _print_training(
    model_name: str,
    data: BarSeries,
    final_data: BarSeries,
    window: str,
    test_ns: int,
    horizon: int,
    rows: list[dict[str, Any]],
    summary: dict[str, Any],
    metrics: Any,
    path: Path,
) -> None:
    console = stdout_console()
    console.print(
        f"[bold]{model_name}[/bold] on {data.symbol} {data.timeframe}: {len(data):,} bars from "
        f"{Path(data.source).name if data.source else 'data'}"
    )
    console.print(f"window {window}, horizon {horizon} bars, {len(rows)} walk-forward folds of {format_span(test_ns)}")
    trained_on = "all the bars before it" if window.strip().lower() == "all" else f"the {window} before it"
    title = f"walk-forward, out of sample: each fold fit on {trained_on}, tested on the next {format_span(test_ns)}"
    console.print(_fold_table(rows, summary, title))
    scalars = {key: value for key, value in (metrics or {}).items() if isinstance(value, int | float)}
    console.print(
        f"saved model: trained on {len(final_data):,} bars, {_day(final_data.datetime_at(0).isoformat())} → "
        f"{_day(final_data.datetime_at(len(final_data) - 1).isoformat())}"
    )
    if scalars:
        console.print("in sample: " + ", ".join(f"{key} {_cell(value)}" for key, value in scalars.items()))
    console.print(f"artifact: {path}")


def _recognise(registry: Registry, artifact: Path) -> tuple[str, dict[str, Any]]:
    """The installed model plugin that reads ``artifact``, and its metadata; a user error if none does."""
    from tradekit.errors import ConfigError, UserError

    problems: list[str] = []
    tried: list[str] = []
    for entry in registry.entries("model"):
        tried.append(entry.name)
        try:
            described = _model_class(registry, entry.name).read_metadata(artifact)
        except UserError as error:
            if str(error) not in problems:
                problems.append(str(error))
            continue
        if described is not None:
            return entry.name, dict(described)
    if problems:
        raise ConfigError("\n".join(problems))
    raise ConfigError(
        f"{artifact} is not a model artifact any installed model plugin reads (asked: {', '.join(tried) or 'none'})",
        hint="pass a file written by `tradekit model train`",
    )


def _print_metadata(artifact: Path, name: str, described: dict[str, Any], refused: Exception | None) -> None:
    from rich.table import Table

    console = stdout_console()
    console.print(f"[bold]{artifact}[/bold]: a model artifact of [bold]{name}[/bold]", highlight=False)
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    # Single values first (what it is), then the tables (data, libraries, metrics, settings...).
    ordered = sorted(described.items(), key=lambda item: isinstance(item[1], dict | list))
    for key, value in ordered:
        if key == "walk_forward":
            continue
        if isinstance(value, dict):
            for sub, item in value.items():
                shown = json.dumps(_json_ready(item)) if isinstance(item, dict | list) else _cell(item)
                table.add_row(f"{key}.{sub}", shown)
        elif isinstance(value, list):
            table.add_row(key, ", ".join(_cell(item) for item in value))
        else:
            table.add_row(key, _cell(value))
    console.print(table)
    walk_forward = described.get("walk_forward")
    if isinstance(walk_forward, dict) and isinstance(walk_forward.get("folds"), list):
        title = (
            f"walk-forward: window {walk_forward.get('train_window')}, test windows of "
            f"{walk_forward.get('test_window')}, horizon {walk_forward.get('horizon')}"
        )
        console.print(_fold_table(walk_forward["folds"], walk_forward.get("mean"), title))
    if refused is None:
        console.print("loads with this installation: yes")
    else:
        console.print("loads with this installation: [bold]no[/bold] (see below)")
