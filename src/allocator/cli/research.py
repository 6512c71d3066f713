"""Research commands (``allocator bench``), registered on the main CLI app by ``register``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from allocator.cli._common import console, err
from allocator.cli._options import Quiet, StepMinutes, Verbose, command
from allocator.cli._output import progress


def bench(
    instances: Annotated[
        list[str],
        typer.Option(
            "--instances",
            "-i",
            help="Instance paths or globs (quote globs; repeat the option for more).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    models: Annotated[
        str, typer.Option("--models", "-m", help="Comma-separated model names or recipe paths.")
    ] = "arc-strong",
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="Solver seconds per run.")
    ] = 60.0,
    grace: Annotated[
        float, typer.Option("--grace", help="Seconds after the time limit before a kill.")
    ] = 30.0,
    threads: Annotated[int, typer.Option(help="HiGHS threads; 0 lets HiGHS choose.")] = 0,
    seed: Annotated[int, typer.Option(help="HiGHS random seed.")] = 0,
    seeds: Annotated[
        str | None,
        typer.Option(
            "--seeds",
            help="Comma-separated HiGHS seeds: every pair runs once per seed and the statistics "
            "treat each (instance, seed) as a problem (performance variability). Overrides --seed.",
        ),
    ] = None,
    paths: Annotated[
        int | None, typer.Option("--paths", help="Paths per lot for the path model.")
    ] = None,
    step_minutes: StepMinutes = None,
    more: Annotated[
        list[str] | None, typer.Argument(help="More instance paths (e.g. a shell-expanded glob).")
    ] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Run every (instance, model) pair in its own process; write bench.csv, the run ledger
    runs.sqlite (see `allocator runs`), summary.md (shifted geometric means) and
    profile.png/svg (Dolan-More)."""
    from allocator.options import RunOptions
    from allocator.research.bench import BenchOptions, expand, geomeans, run_bench
    from allocator.solve import SolveOptions

    try:
        files = expand([*instances, *(more or [])])
    except FileNotFoundError as exc:
        err.print(f"[red]error[/]: {escape(str(exc))}")
        raise typer.Exit(2) from None
    names = [m.strip() for m in models.split(",") if m.strip()]
    from allocator.errors import AllocatorError
    from allocator.formulation import load_recipe

    try:
        for name in names:
            load_recipe(name)
    except AllocatorError as exc:
        err.print(f"[red]error[/]: {escape(str(exc))}")
        raise typer.Exit(int(exc.exit_code)) from None
    try:
        seed_list = tuple(int(x) for x in seeds.split(",")) if seeds else ()
    except ValueError:
        err.print(f"[red]error[/]: --seeds must be integers separated by commas, not {seeds!r}")
        raise typer.Exit(2) from None
    solve = SolveOptions(time_limit_s=time_limit, threads=threads or None, seed=seed)
    opts = BenchOptions(
        run=RunOptions(paths=paths, step_minutes=step_minutes, solve=solve, prices=False),
        grace_s=grace,
        seeds=seed_list,
    )

    total = len(files) * len(names) * max(1, len(seed_list))
    with progress("bench", total) as advance:

        def show(row: dict) -> None:
            advance()
            if quiet:
                return
            obj = row.get("objective")
            console.print(
                f"{row['instance']:>12} s{row['seed']:<3} {row['model']:<14} {row['status']:<22} "
                f"{'' if obj is None else f'{obj:,.2f}':>16} {row.get('time_s') or 0:8.2f} s"
            )

        rows = run_bench(files, names, out, opts, progress=show)
    if quiet:
        return
    for model, v in geomeans(rows, time_limit).items():
        console.print(
            f"{model}: shifted geomean {v['sgm_s']:.2f} s, solved {v['solved']}/{v['runs']}"
        )
    console.print(f"wrote {out}/bench.csv, runs.sqlite, summary.md, profile.png, profile.svg")


def register(app: typer.Typer) -> None:
    """Add the research commands to ``app``."""
    command(app, bench, name="bench")
