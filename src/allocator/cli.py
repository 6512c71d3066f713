"""Command-line interface: argument parsing, terminal output and exit codes only."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from allocator.errors import AllocatorError, ExitCode, InstanceError, Problem

app = typer.Typer(
    name="allocator",
    help="Optimal cargo allocation over the Eurasian freight corridors.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

InstancePath = Annotated[
    Path, typer.Argument(help="Instance: folder, instance .toml, .xlsx or .json.")
]


def _print_problems(problems: list[Problem] | tuple[Problem, ...], source: str = "") -> None:
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    for p in warnings:
        err.print(f"[yellow]warning[/]: {p}", soft_wrap=True)
    for p in errors:
        err.print(f"[red]error[/]: {p}", soft_wrap=True)
    if errors:
        err.print(
            f"[red bold]{source} is invalid[/]: {len(errors)} error(s), {len(warnings)} warning(s)"
        )


def _fail(exc: AllocatorError, source: str = "") -> typer.Exit:
    if isinstance(exc, InstanceError):
        _print_problems(exc.problems, source)
    else:
        err.print(f"[red]error[/]: {exc}", soft_wrap=True)
    return typer.Exit(int(exc.exit_code))


@app.command()
def validate(path: InstancePath) -> None:
    """Check an instance and report every problem at once (exit 0 sound, 2 invalid)."""
    from allocator.validate import read_instance

    try:
        inst = read_instance(path)
    except AllocatorError as exc:
        raise _fail(exc, str(path)) from None
    _print_problems(inst.warnings)
    table = Table(title=f"{path}: sound", show_header=False, title_justify="left")
    for key, value in inst.summary().items():
        table.add_row(key, f"{value:,.0f}" if isinstance(value, float) else str(value))
    console.print(table)
    if inst.warnings:
        console.print(f"{len(inst.warnings)} warning(s)")


@app.command()
def convert(
    source: InstancePath,
    target: Annotated[Path, typer.Argument(help="Output: a folder, .xlsx or .json.")],
    table_format: Annotated[
        str, typer.Option("--table-format", help="Table files of a folder output: csv or parquet.")
    ] = "csv",
) -> None:
    """Convert an instance between the folder, Excel and JSON containers (lossless)."""
    from allocator.io import write_instance
    from allocator.validate import read_instance

    try:
        inst = read_instance(source)
        write_instance(inst, target, table_format=table_format)
    except AllocatorError as exc:
        raise _fail(exc, str(source)) from None
    console.print(f"wrote {target}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(args=argv if argv is not None else sys.argv[1:], standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except SystemExit as exc:  # click usage errors
        return int(exc.code or 0)
    except AllocatorError as exc:
        return int(_fail(exc).exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # click errors in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return int(ExitCode.INVALID)
        raise
    return int(ExitCode.OK)
