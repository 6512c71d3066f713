"""``allocator batch`` and ``allocator runs``, registered on the main CLI app by ``register``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from allocator.cli._common import console, err, fail
from allocator.cli._options import Json, ListFormat, Quiet, StepMinutes, Verbose, command
from allocator.cli._output import Column, print_rows, resolve_format


def batch(
    instances: Annotated[
        list[Path],
        typer.Argument(
            help="Instances, or folders of instances (.toml/.json/.xlsx, instance folders)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: plans and runs.sqlite.")],
    model: Annotated[
        str,
        typer.Option(
            "--model", "-m", help="Formulation name, recipe path, or auto (see `allocator solve`)."
        ),
    ] = "auto",
    step_minutes: StepMinutes = None,
    workers: Annotated[
        int | None, typer.Option(help="Parallel jobs; default: the cores (or Dask threads).")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask: tcp://HOST:PORT of a scheduler, or 'dask' for a LocalCluster."),
    ] = None,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="Seconds per job; default from settings.")
    ] = None,
    gap: Annotated[
        float | None, typer.Option("--gap", help="Relative MIP gap; default from settings.")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="HiGHS threads per job; default cores // workers.")
    ] = None,
    seed: Annotated[int, typer.Option(help="HiGHS random seed.")] = 0,
    rolling: Annotated[
        bool,
        typer.Option(help="Solve in week order, each from the previous week's plan (warm start)."),
    ] = False,
    stability_weight: Annotated[
        float,
        typer.Option(
            "--stability-weight", help="With --rolling: cost per TEU changed against last week."
        ),
    ] = 0.0,
    stability_scope: Annotated[
        str, typer.Option("--stability-scope", help="lot (per lot and leg) or leg (leg volumes).")
    ] = "lot",
    force: Annotated[
        bool,
        typer.Option(
            help="Re-run jobs that already succeeded (their plan folders are replaced; "
            "folders allocator did not write never are)."
        ),
    ] = False,
    fmt: ListFormat = "auto",
    as_json: Json = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Solve many instances in parallel (local processes or Dask), recorded in DIR/runs.sqlite;
    re-running skips what succeeded (exit 0 all done, 1 some job failed, 128+N on signal N)."""
    from allocator.batch.runner import BatchOptions, run_batch
    from allocator.errors import AllocatorError
    from allocator.options import RollingOptions, RunOptions
    from allocator.solve import SolveOptions

    if stability_scope not in ("lot", "leg"):
        err.print(f"[red]error[/]: --stability-scope must be lot or leg, not {stability_scope!r}")
        raise typer.Exit(2)
    run = RunOptions(
        model=model,
        step_minutes=step_minutes,
        solve=SolveOptions(time_limit_s=time_limit, mip_rel_gap=gap, threads=threads, seed=seed),
        rolling=RollingOptions(
            stability_weight=stability_weight,
            stability_scope="leg" if stability_scope == "leg" else "lot",
        ),
        prices=False,
    )
    opts = BatchOptions(
        out=out, run=run, workers=workers, scheduler=scheduler, rolling=rolling, force=force
    )
    try:
        if quiet:
            report = run_batch(instances, opts)
        else:
            report = _with_progress(lambda cb: run_batch(instances, opts, cb))
    except AllocatorError as exc:
        raise fail(exc) from None
    failed = [j for j in report.jobs if j.status in ("failed", "interrupted")]
    if not quiet:
        listing = resolve_format(fmt, as_json)
        rows = [
            j.result | {"instance": j.stem, "period": j.period, "status": j.status}
            for j in report.jobs
        ]
        columns = JOB_COLUMNS + ROLLING_COLUMNS if rolling else JOB_COLUMNS
        print_rows([r | {"plan_cost": _plan_cost(r)} for r in rows], columns, "batch", listing)
        counts = ", ".join(
            f"{report.count(s)} {s}"
            for s in ("succeeded", "skipped", "failed", "interrupted", "pending")
            if report.count(s)
        )
        (console if listing == "table" else err).print(
            f"{out}: {counts} in {report.seconds:.1f} s", markup=False, highlight=False
        )
    for j in failed:
        err.print(
            f"[red]{j.status}[/]: {j.stem}: {j.result.get('error') or j.error}", soft_wrap=True
        )
    if report.signal is not None:
        err.print(f"interrupted by signal {report.signal}; re-run the same command to resume")
    raise typer.Exit(report.exit_code)


def _with_progress(run: Any) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("[bold]batch[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("", total=None)

        def update(report: Any, elapsed: int) -> None:
            finished = sum(j.status not in ("pending", "running") for j in report.jobs)
            bar.update(
                task,
                total=len(report.jobs),
                completed=finished,
                description=(
                    f"done {report.count('succeeded') + report.count('skipped')} "
                    f"failed {report.count('failed')} running {report.count('running')}"
                ),
            )

        return run(update)


# the job table of `allocator batch`; a rolling batch adds its stability figures: the objective
# it minimises is the plan cost plus the stability cost
JOB_COLUMNS = (
    Column("instance", "instance", keep=9),
    Column("period", "period", keep=8),
    Column("status", "status", keep=9),
    Column("objective", "objective", ",.0f", keep=7, right=True),
    Column("gap", "gap", ".1e", keep=3, right=True),
    Column("total_seconds", "seconds", ".1f", keep=4, right=True),
)
ROLLING_COLUMNS = (
    Column("plan_cost", "plan cost", ",.0f", keep=8, right=True),
    Column("stability_cost", "stability cost", ",.0f", keep=6, right=True),
    Column("mip_start", "MIP start", keep=2),
    Column("teu_changed_corridor", "TEU changed corridor", ",.1f", keep=5, right=True),
)


def _plan_cost(row: dict) -> float | None:
    """The cost of the plan itself: the objective without the stability cost a rolling week
    adds (the objective when there is none)."""
    objective, stability = row.get("objective"), row.get("stability_cost")
    if not isinstance(objective, int | float):
        return None
    return objective - stability if isinstance(stability, int | float) else objective


def runs(
    folder: Annotated[Path, typer.Argument(help="Batch output folder holding runs.sqlite.")],
    csv: Annotated[
        Path | None,
        typer.Option("--csv", help="Also write every row and column to this CSV file."),
    ] = None,
    last: Annotated[int, typer.Option(help="Show the last N rows (0: all).", min=0)] = 50,
    fmt: ListFormat = "auto",
    as_json: Json = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """List the run ledger of a batch folder (a table on a terminal, CSV when piped, --json)
    and export it as CSV."""
    from allocator.batch import ledger

    rows = ledger.rows(folder)  # a missing or damaged ledger: LedgerError, exit 2
    shown = rows[-last:] if last else rows
    listing = [
        r
        | {
            "run": r["run_id"][:8],
            "instance": r["instance_name"] or Path(r["instance_path"]).name,
            "status": _status(r),
            "seed": _seed(r),
            "plan_cost": _plan_cost(r),
            "error": (r["error"] or "").splitlines()[0][:60] if r["error"] else "",
        }
        for r in shown
    ]
    if not quiet:
        print_rows(
            listing,
            RUN_COLUMNS,
            f"{folder}/runs.sqlite: {len(rows)} runs",
            "json" if as_json else fmt,
        )
    if csv is not None:
        n = ledger.export_csv(folder, csv)
        if not (quiet or as_json):
            err.print(f"wrote {csv}: {n} rows", markup=False, highlight=False, soft_wrap=True)


# the columns of `allocator runs`; at 80 columns the least useful go first
RUN_COLUMNS = (
    Column("run", "run", keep=2),
    Column("instance", "instance", keep=9),
    Column("model", "model", keep=8),
    Column("seed", "seed", keep=6, right=True),
    Column("period", "period", keep=4),
    Column("status", "status", keep=9),
    Column("objective", "objective", ",.0f", keep=7, right=True),
    Column("plan_cost", "plan cost", ",.0f", keep=2, right=True),
    Column("stability_cost", "stability cost", ",.0f", keep=2, right=True),
    Column("gap", "gap", ".1e", keep=5, right=True),
    Column("total_seconds", "seconds", ".1f", keep=6, right=True),
    Column("peak_memory_mb", "peak MB", ",.0f", keep=1, right=True),
    Column("mip_start", "MIP start", keep=1),
    Column("teu_changed_corridor", "TEU changed corridor", ",.1f", keep=3, right=True),
    Column("error", "error", keep=3),
)


def _seed(row: dict) -> int | None:
    """The HiGHS seed the run was solved with, from its options."""
    import json

    def find(node: object) -> int | None:
        if isinstance(node, dict):
            if isinstance(node.get("seed"), int):
                return node["seed"]
            for value in node.values():
                if (found := find(value)) is not None:
                    return found
        return None

    try:
        return find(json.loads(row.get("options_json") or "{}"))
    except ValueError:
        return None


def _status(row: dict) -> str:
    """The ledger status, with the solver's termination when it is not plainly optimal."""
    term = row.get("termination")
    return f"{row['status']} ({term})" if term and term != "optimal" else row["status"]


def register(app: typer.Typer) -> None:
    """Add the batch commands to ``app``."""
    command(app, batch)
    command(app, runs)
