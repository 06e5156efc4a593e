"""What a strategy adds to its backtest report: tables of its own and timelines of categories.

A strategy returns a :class:`StrategyReport` from
:meth:`~tradekit.plugin.Strategy.report` after the last bar. ``tradekit
backtest`` prints each :class:`ReportTable` as a rich table, puts the whole
report in its ``--json`` output and in the journal's stored report (as
:meth:`StrategyReport.as_dict`), and the HTML report draws each
:class:`Timeline` over the equity curve, the curve coloured by the category in
force at each bar, and as a panel of its own.

A timeline is given by its changes only (the bar index where each category
starts), so a strategy that is not shown every bar (the backtest skips idle
bars) records one entry per change and the report fills in the bars between.
Only plain values go in: cells are text, whole numbers, floats or Decimals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray

Cell = str | int | float | Decimal | None


@dataclass(frozen=True)
class ReportTable:
    """A table a strategy shows: a title, column names, and rows of as many cells."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...] = ()
    caption: str = ""

    def __post_init__(self) -> None:
        for number, row in enumerate(self.rows, start=1):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.title!r}: row {number} has {len(row)} cells but there are "
                    f"{len(self.columns)} columns ({', '.join(self.columns)})"
                )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view: Decimals as strings, exact."""
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [[_plain(cell) for cell in row] for row in self.rows],
            "caption": self.caption,
        }


@dataclass(frozen=True)
class Timeline:
    """A category per bar (a strategy's phase, say), given by its changes: ``(bar index, category)``.

    Each category holds from its index up to the next change; bars before
    the first change have ``before`` (empty by default).
    """

    name: str
    changes: tuple[tuple[int, str], ...]
    before: str = ""

    def __post_init__(self) -> None:
        indices = [index for index, _ in self.changes]
        if any(b < a for a, b in pairwise(indices)):
            raise ValueError(f"timeline {self.name!r}: changes must be in bar order, got indices {indices[:20]}")
        if indices and indices[0] < 0:
            raise ValueError(f"timeline {self.name!r}: a bar index cannot be negative, got {indices[0]}")

    def per_bar(self, bars: int) -> NDArray[np.object_]:
        """The category of each of ``bars`` bars (the last change at an index wins)."""
        values = np.full(bars, self.before, dtype=object)
        if not self.changes or bars == 0:
            return values
        indices = np.array([index for index, _ in self.changes], dtype=np.int64)
        labels = np.array([label for _, label in self.changes], dtype=object)
        # For each bar, the last change at or before it (-1: none yet).
        last = np.searchsorted(indices, np.arange(bars), side="right") - 1
        has = last >= 0
        values[has] = labels[last[has]]
        return values

    def categories(self) -> list[str]:
        """The categories in the order they first appear."""
        seen: dict[str, None] = {}
        for _, label in self.changes:
            seen.setdefault(label, None)
        return list(seen)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {"name": self.name, "before": self.before, "changes": [[i, label] for i, label in self.changes]}


@dataclass(frozen=True)
class StrategyReport:
    """Everything a strategy adds to its backtest report; see the module docstring."""

    tables: tuple[ReportTable, ...] = ()
    timelines: tuple[Timeline, ...] = ()
    summary: dict[str, Cell] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view, for ``--json`` and the journal."""
        return {
            "summary": {key: _plain(value) for key, value in self.summary.items()},
            "tables": [table.as_dict() for table in self.tables],
            "timelines": [timeline.as_dict() for timeline in self.timelines],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StrategyReport:
        """Read back what :meth:`as_dict` wrote (numbers stay as it wrote them)."""
        tables = tuple(
            ReportTable(
                title=str(t["title"]),
                columns=tuple(t["columns"]),
                rows=tuple(tuple(row) for row in t.get("rows", ())),
                caption=str(t.get("caption", "")),
            )
            for t in data.get("tables", ())
        )
        timelines = tuple(
            Timeline(
                name=str(t["name"]),
                changes=tuple((int(i), str(label)) for i, label in t.get("changes", ())),
                before=str(t.get("before", "")),
            )
            for t in data.get("timelines", ())
        )
        return cls(tables=tables, timelines=timelines, summary=dict(data.get("summary", {})))

    def per_bar_timelines(self, bars: int) -> dict[str, NDArray[np.object_]]:
        """Each timeline expanded to one category per bar, by name."""
        return {timeline.name: timeline.per_bar(bars) for timeline in self.timelines}


def _plain(cell: Any) -> Any:
    """A cell as JSON takes it: Decimals as their exact text."""
    if isinstance(cell, Decimal):
        return str(cell)
    return cell
