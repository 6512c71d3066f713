"""Instance commands: ``validate``, ``convert``, ``generate`` and ``models``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from allocator.cli._common import InstancePath, Strict, console, err, fail, print_problems
from allocator.cli._options import Json, ListFormat, Quiet, Verbose, command
from allocator.cli._output import Column, print_json, print_rows
from allocator.errors import AllocatorError, ExitCode

# --table-format: the former name, still accepted
TableFormat = Annotated[
    str,
    typer.Option(
        "--format", "--table-format", help="Table files of a folder output: csv or parquet."
    ),
]
OutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Output (instead of the positional OUT).")
]


def output_path(positional: Path | None, option: Path | None) -> Path:
    """The output named positionally or by ``--out`` (exit 2 if neither or two different)."""
    if positional is not None and option is not None and positional != option:
        err.print(f"[red]error[/]: two outputs given: {positional} and --out {option}")
        raise typer.Exit(int(ExitCode.INVALID))
    target = positional or option
    if target is None:
        err.print("[red]error[/]: no output given: name it as OUT or with --out")
        raise typer.Exit(int(ExitCode.INVALID))
    return target


def validate(
    path: InstancePath,
    strict: Strict = False,
    as_json: Json = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Check an instance and report every problem at once (exit 0 sound, 2 invalid)."""
    from allocator.instance.validate import read_instance

    try:
        inst = read_instance(path, strict=strict)
    except AllocatorError as exc:
        if as_json and hasattr(exc, "problems"):
            print_json({"path": str(path), "sound": False, "problems": _problems(exc.problems)})
        raise fail(exc, str(path)) from None
    if as_json:
        print_json(
            {
                "path": str(path),
                "sound": True,
                "summary": inst.summary(),
                "problems": _problems(inst.warnings),
            }
        )
        return
    print_problems(inst.warnings)
    if quiet:
        return
    table = Table(title=f"{path}: sound", show_header=False, title_justify="left")
    for key, value in inst.summary().items():
        table.add_row(key, f"{value:,.0f}" if isinstance(value, float) else str(value))
    console.print(table)
    if inst.warnings:
        console.print(f"{len(inst.warnings)} warning(s)")


def _problems(problems: object) -> list[dict[str, str]]:
    return [
        {"severity": p.severity, "where": p.where, "message": p.message}
        for p in problems  # type: ignore[attr-defined]
    ]


def convert(
    source: InstancePath,
    target: Annotated[
        Path | None, typer.Argument(help="Output: a folder, .xlsx or .json (or --out).")
    ] = None,
    out: OutOption = None,
    table_format: TableFormat = "csv",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Convert an instance between the folder, Excel and JSON containers (lossless); the output
    is written where given."""
    from allocator.instance.io import write_instance
    from allocator.instance.validate import read_instance

    target = output_path(target, out)
    try:
        inst = read_instance(source)
        write_instance(inst, target, table_format=table_format)
    except AllocatorError as exc:
        raise fail(exc, str(source)) from None
    if not quiet:
        console.print(f"wrote {target}")


def generate(
    out: Annotated[
        Path | None, typer.Argument(help="Output: a folder, .xlsx or .json (or --out).")
    ] = None,
    out_option: OutOption = None,
    nodes: Annotated[int, typer.Option(help="Number of nodes.", min=2)] = 50,
    lots: Annotated[int, typer.Option(help="Number of cargo lots.", min=1)] = 150,
    instance_seed: Annotated[
        int,
        typer.Option("--instance-seed", help="Random seed; the same seed gives the same instance."),
    ] = 0,
    seed_alias: Annotated[int | None, typer.Option("--seed", hidden=True)] = None,
    table_format: TableFormat = "csv",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Write a random, valid, corridor-like instance of any size, reproducible from the seed."""
    from allocator.instance.generate import generate_instance
    from allocator.instance.io import write_instance

    target = output_path(out, out_option)
    seed = instance_seed if seed_alias is None else seed_alias
    inst = generate_instance(nodes=nodes, lots=lots, seed=seed)
    write_instance(inst, target, table_format=table_format)
    if not quiet:
        console.print(
            f"wrote {target}: {len(inst.nodes)} nodes, {len(inst.legs)} legs, "
            f"{len(inst.cargo)} lots"
        )


def models(fmt: ListFormat = "auto", as_json: Json = False) -> None:
    """List the formulations (recipes in models/); the base recipe of the arc family is marked."""
    from allocator.formulation import available, load_recipe

    rows = []
    for name in available():
        r = load_recipe(name)
        rows.append(
            {
                "name": f"{name} (base)" if name == BASE_RECIPE else name,
                "family": r.family,
                "options": ", ".join(f"{k}={v}" for k, v in r.options.items()),
                "description": " ".join(r.description.split()),
            }
        )
    columns = [
        Column("name", "name", keep=9),
        Column("family", "family", keep=3),
        Column("options", "options", keep=4),
        Column("description", "description", keep=8),
    ]
    if as_json or fmt not in ("auto", "table") or not console.is_terminal:
        print_rows(rows, columns, "models", "json" if as_json else fmt)
        return
    # on a terminal: descriptions wrap at word boundaries, never cut
    table = Table(title="models", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("family", no_wrap=True)
    table.add_column("options", overflow="fold")
    table.add_column("description", overflow="fold", ratio=1)
    for row in rows:
        table.add_row(row["name"], row["family"], row["options"], row["description"])
    console.print(table)


# the plain arc recipe; the other arc recipes are it with options changed
BASE_RECIPE = "arc"


def register(app: typer.Typer) -> None:
    """Add the instance commands to ``app``."""
    for function in (validate, convert, generate, models):
        command(app, function)
