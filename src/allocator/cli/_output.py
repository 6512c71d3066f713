"""How commands print for people and for scripts.

A table prints as a rich table on a terminal (columns fold, low-value columns are dropped when the
terminal is narrow), as CSV when stdout is not a terminal, and as one JSON document with
``--json`` (the options themselves are in ``_options``). Progress goes to stderr, and only when
stderr is a terminal. Imports only typer, rich
and the standard library, so that ``allocator --help`` stays fast.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from rich.table import Table

from allocator.cli._common import console, err

__all__ = [
    "Cell",
    "Column",
    "live_solve",
    "print_json",
    "print_rows",
    "progress",
    "progress_line",
    "resolve_format",
]

Cell = str | int | float | bool | None


def _plain(value: object) -> Cell:
    """A JSON- and CSV-safe scalar: numpy numbers as Python numbers, NaN and infinity as None."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _jsonable(doc: object) -> object:
    if isinstance(doc, Mapping):
        return {str(k): _jsonable(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [_jsonable(v) for v in doc]
    return _plain(doc)


def print_json(doc: object) -> None:
    """One JSON document on stdout; NaN and infinity (no bound yet) as null."""
    sys.stdout.write(json.dumps(_jsonable(doc), indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()


@dataclass(frozen=True)
class Column:
    """A column of a listing: its key in the rows, header, text format and how much it matters
    (columns of lower ``keep`` are dropped first when the terminal is too narrow)."""

    key: str
    header: str
    fmt: str = ""
    keep: int = 5
    right: bool = False

    def text(self, value: object) -> str:
        v = _plain(value)
        if v is None:
            return "–" if self.fmt else ""
        if self.fmt and isinstance(v, int | float) and not isinstance(v, bool):
            return format(v, self.fmt)
        return str(v)


def resolve_format(fmt: str, as_json: bool = False) -> str:
    """``auto`` as the output allows: a table on a terminal, CSV otherwise."""
    if as_json:
        return "json"
    if fmt == "auto":
        return "table" if console.is_terminal else "csv"
    return fmt


def print_rows(
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[Column],
    title: str = "",
    fmt: str = "auto",
) -> None:
    """A listing as a table, CSV (the raw values, every column) or JSON (a list of objects)."""
    fmt = resolve_format(fmt)
    if fmt == "json":
        print_json([{c.key: r.get(c.key) for c in columns} for r in rows])
        return
    if fmt == "csv":
        if title:
            err.print(title, markup=False, highlight=False, soft_wrap=True)
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([c.key for c in columns])
        writer.writerows([[_plain(r.get(c.key)) for c in columns] for r in rows])
        sys.stdout.flush()
        return
    cells = [[c.text(r.get(c.key)) for c in columns] for r in rows]
    shown = _fit(columns, cells, console.width)
    table = Table(title=title or None, title_justify="left")
    for j in shown:
        c = columns[j]
        table.add_column(c.header, justify="right" if c.right else "left", overflow="fold")
    for row in cells:
        table.add_row(*(row[j] for j in shown))
    console.print(table)
    dropped = [columns[j].header for j in range(len(columns)) if j not in shown]
    if dropped:
        err.print(
            f"(not shown at this width: {', '.join(dropped)}; --format csv shows every column)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _fit(columns: Sequence[Column], cells: list[list[str]], width: int) -> list[int]:
    """The columns to show: all that fit ``width``, dropping the least important first."""

    def need(j: int) -> int:
        longest = max((len(row[j]) for row in cells), default=0)
        # a header may wrap to its longest word; the cell values should not wrap
        return max(longest, *(len(w) for w in columns[j].header.split()), 1) + 3

    shown = list(range(len(columns)))
    while len(shown) > 1 and sum(need(j) for j in shown) + 1 > width:
        shown.remove(min(shown, key=lambda j: (columns[j].keep, -j)))
    return shown


@contextmanager
def progress(
    label: str, total: int | None, show: bool | None = None
) -> Iterator[Callable[[], None]]:
    """A bar on stderr ("k of N", elapsed, ETA) while the block runs; yields ``advance()``.

    ``show`` None: only when stderr is a terminal.
    """
    if show is None:
        show = err.is_terminal
    if not show:
        yield lambda: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


PROGRESS_FIELDS = (
    ("round", "round {:.0f}"),
    ("columns", "{:,.0f} columns"),
    ("lp", "LP {:,.2f}"),
    ("plan", "plan {:,.2f}"),
    ("bound", "bound {:,.2f}"),
    ("gap", "gap {:.2%}"),
)


def progress_line(fields: Mapping[str, float]) -> str:
    """One line from a solve's progress record (``allocator.solve.report_progress``)."""
    parts = [str(fields.get("stage", "solving"))]
    for key, fmt in PROGRESS_FIELDS:
        value = fields.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            parts.append(fmt.format(value))
    parts.append(f"{float(fields.get('elapsed', 0.0)):.1f} s")
    return ", ".join(parts)


@contextmanager
def live_solve(show: bool | None = None) -> Iterator[None]:
    """One live line on stderr while the block solves: the latest progress record (stage,
    round, columns, LP bound, best plan, bound, gap, elapsed). ``show`` None: only when stderr is
    a terminal."""
    import logging

    if show is None:
        show = err.is_terminal
    if not show:
        yield
        return
    status = err.status("solving")
    log = logging.getLogger("allocator.progress")

    class LineHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            fields = getattr(record, "progress", None)
            if isinstance(fields, Mapping):
                status.update(progress_line(fields))

    handler = LineHandler(logging.DEBUG)
    level, propagate = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False  # the line replaces the records, it does not add to the log
    try:
        with status:
            yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate
