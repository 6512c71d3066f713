"""What every command module shares: the two consoles, printing problems, failing with an exit
code. Imports only typer, rich and allocator.errors, so that ``allocator --help`` stays fast."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from allocator.errors import (
    AllocatorError,
    ExitCode,
    InstanceError,
    PlanCheckError,
    PlanReadError,
    Problem,
)

__all__ = ["InstancePath", "Strict", "console", "err", "fail", "print_problems"]

# paths and messages never break mid-line; ':x:' in a value stays text
console = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

InstancePath = Annotated[
    Path, typer.Argument(help="Instance: folder, instance .toml, .xlsx or .json.")
]
Strict = Annotated[
    bool,
    typer.Option("--strict", help="Unknown columns and sheets are errors, not warnings."),
]


def print_problems(problems: list[Problem] | tuple[Problem, ...], source: str = "") -> None:
    """Warnings, then errors, on stderr; with errors, a closing line naming ``source`` invalid."""
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    for p in warnings:
        err.print(f"[yellow]warning[/]: {escape(str(p))}", soft_wrap=True)
    for p in errors:
        err.print(f"[red]error[/]: {escape(str(p))}", soft_wrap=True)
    if errors:
        err.print(
            f"[red bold]{escape(source)} is invalid[/]: {len(errors)} error(s), "
            f"{len(warnings)} warning(s)",
            soft_wrap=True,  # long paths must not break the line (scripts grep it)
        )


def fail(exc: AllocatorError | OSError | sqlite3.Error, source: str = "") -> typer.Exit:
    """Print ``exc`` on stderr as the user should see it; the Exit carrying its exit code.

    An ``OSError`` (a path that cannot be read or written: missing, a file where a folder is
    needed, read-only, a full disk) and a ``sqlite3.Error`` print one line naming the path and
    exit 2 (``ExitCode.INVALID``), like any other unusable input.
    """
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else source
        text = exc.strerror if exc.strerror else str(exc)
        err.print(f"[red]error[/]: {escape(f'cannot use {where}: {text}' if where else text)}")
        return typer.Exit(int(ExitCode.INVALID))
    if isinstance(exc, sqlite3.Error):
        err.print(f"[red]error[/]: {escape(f'{source}: ' if source else '')}database: {exc}")
        return typer.Exit(int(ExitCode.INVALID))
    if isinstance(exc, InstanceError):
        print_problems(exc.problems, source)
    elif isinstance(exc, PlanReadError):
        for p in exc.problems:
            err.print(f"[red]error[/]: {escape(str(p))}", soft_wrap=True)
    else:
        if isinstance(exc, PlanCheckError):
            for v in exc.violations:
                err.print(f"[red]check error[/]: {escape(v)}", soft_wrap=True)
        err.print(f"[red]error[/]: {escape(str(exc))}", soft_wrap=True)
    return typer.Exit(int(exc.exit_code))
