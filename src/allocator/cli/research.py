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
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    instances: Annotated[
        list[str] | None,
        typer.Option(
            "--instances",
            "-i",
            help="Instance paths or globs (quote globs; repeat the option for more).",
        ),
    ] = None,
    bench_set: Annotated[
        str | None,
        typer.Option(
            "--set",
            help="A benchmark set instead of (or besides) instance paths: ctsnd, the timed Canad "
            "instances with their classes.",
        ),
    ] = None,
    subset: Annotated[
        str,
        typer.Option(
            "--subset",
            help="Instances of the set: quick (2 per class), standard (1 per base network) or all.",
        ),
    ] = "standard",
    set_dir: Annotated[
        Path | None,
        typer.Option("--set-dir", help="Folder of the set (default: benchmarks/data/ctsnd)."),
    ] = None,
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--models",
            "--model",
            "-m",
            help="Model names or recipe paths, comma-separated or repeated (default arc-strong).",
        ),
    ] = None,
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="Solver seconds per run.")
    ] = 60.0,
    gap: Annotated[
        float | None,
        typer.Option(
            "--gap",
            help="Relative gap to stop at; also the gap whose first time every run records "
            "(default: the instance settings' gap to stop at, 1 % recorded).",
        ),
    ] = None,
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
    runs.sqlite (see `allocator runs`), summary.md (shifted geometric means, per class for a
    set with classes) and profile.png/svg (Dolan-More)."""
    from allocator.errors import AllocatorError
    from allocator.formulation import load_recipe
    from allocator.instance.ctsnd import CtsndInstance, list_instances, select, shipped_folder
    from allocator.options import RunOptions
    from allocator.research.bench import BenchOptions, expand, geomeans, run_bench
    from allocator.solve import SolveOptions

    chosen: list[Path | CtsndInstance] = []
    try:
        if bench_set is not None:
            if bench_set != "ctsnd":
                raise ValueError(f"--set: unknown set {bench_set!r}; expected ctsnd")
            chosen += select(list_instances(set_dir or shipped_folder()), subset)
        chosen += expand([*(instances or []), *(more or [])])
        if not chosen:
            raise ValueError("no instances: give --instances, paths or --set")
        names = [m.strip() for ms in models or ["arc-strong"] for m in ms.split(",") if m.strip()]
        for name in names:
            load_recipe(name)
        run = RunOptions(
            paths=paths,
            step_minutes=step_minutes,
            solve=SolveOptions(
                time_limit_s=time_limit, mip_rel_gap=gap, threads=threads or None, seed=seed
            ),
            prices=False,
        )
    except (FileNotFoundError, ValueError) as exc:
        err.print(f"[red]error[/]: {escape(str(exc))}")
        raise typer.Exit(2) from None
    except AllocatorError as exc:
        err.print(f"[red]error[/]: {escape(str(exc))}")
        raise typer.Exit(int(exc.exit_code)) from None
    try:
        seed_list = tuple(int(x) for x in seeds.split(",")) if seeds else ()
    except ValueError:
        err.print(f"[red]error[/]: --seeds must be integers separated by commas, not {seeds!r}")
        raise typer.Exit(2) from None
    opts = BenchOptions(run=run, grace_s=grace, seeds=seed_list)

    total = len(chosen) * len(names) * max(1, len(seed_list))
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

        rows = run_bench(chosen, names, out, opts, progress=show)
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
