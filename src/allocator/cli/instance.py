"""Instance commands: ``validate``, ``convert``, ``generate`` and ``models``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from allocator.cli._common import InstancePath, Strict, console, fail, print_problems
from allocator.errors import AllocatorError


def validate(path: InstancePath, strict: Strict = False) -> None:
    """Check an instance and report every problem at once (exit 0 sound, 2 invalid)."""
    from allocator.instance.validate import read_instance

    try:
        inst = read_instance(path, strict=strict)
    except AllocatorError as exc:
        raise fail(exc, str(path)) from None
    print_problems(inst.warnings)
    table = Table(title=f"{path}: sound", show_header=False, title_justify="left")
    for key, value in inst.summary().items():
        table.add_row(key, f"{value:,.0f}" if isinstance(value, float) else str(value))
    console.print(table)
    if inst.warnings:
        console.print(f"{len(inst.warnings)} warning(s)")


def convert(
    source: InstancePath,
    target: Annotated[Path, typer.Argument(help="Output: a folder, .xlsx or .json.")],
    table_format: Annotated[
        str, typer.Option("--table-format", help="Table files of a folder output: csv or parquet.")
    ] = "csv",
) -> None:
    """Convert an instance between the folder, Excel and JSON containers (lossless)."""
    from allocator.instance.io import write_instance
    from allocator.instance.validate import read_instance

    try:
        inst = read_instance(source)
        write_instance(inst, target, table_format=table_format)
    except AllocatorError as exc:
        raise fail(exc, str(source)) from None
    console.print(f"wrote {target}")


def generate(
    out: Annotated[Path, typer.Argument(help="Output: a folder, .xlsx or .json.")],
    nodes: Annotated[int, typer.Option(help="Number of nodes.")] = 50,
    lots: Annotated[int, typer.Option(help="Number of cargo lots.")] = 150,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives the same instance.")
    ] = 0,
    table_format: Annotated[str, typer.Option("--table-format", help="csv or parquet.")] = "csv",
) -> None:
    """Write a random, valid, corridor-like instance of any size, reproducible from the seed."""
    from allocator.instance.generate import generate_instance
    from allocator.instance.io import write_instance

    inst = generate_instance(nodes=nodes, lots=lots, seed=seed)
    write_instance(inst, out, table_format=table_format)
    console.print(
        f"wrote {out}: {len(inst.nodes)} nodes, {len(inst.legs)} legs, {len(inst.cargo)} lots"
    )


def models() -> None:
    """List the formulations (recipes in models/)."""
    from allocator.formulation import available, load_recipe

    table = Table("name", "family", "options", "description", title="models", title_justify="left")
    for name in available():
        r = load_recipe(name)
        table.add_row(
            name,
            r.family,
            ", ".join(f"{k}={v}" for k, v in r.options.items()),
            " ".join(r.description.split())[:90],
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the instance commands to ``app``."""
    for command in (validate, convert, generate, models):
        app.command()(command)
