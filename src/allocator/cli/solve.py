"""Solve commands: ``solve`` (and ``solve --scenario``), ``check`` and ``report``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from allocator.cli._common import InstancePath, Strict, console, err, fail, print_problems
from allocator.cli._options import Json, Quiet, Verbose, command
from allocator.cli._output import live_solve, print_json
from allocator.errors import AllocatorError, ExitCode, InstanceError, Problem

if TYPE_CHECKING:
    from allocator.results import Plan


def solve(
    instance: InstancePath,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Plan folder (or .xlsx with --format xlsx); default out/<instance name>.",
        ),
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Formulation name (see `allocator models`), recipe path, or auto: the exact "
            "method (branch and price, due days exact).",
        ),
    ] = "auto",
    linking: Annotated[
        str | None, typer.Option(help="Candidate-leg linking: weak or strong.")
    ] = None,
    aggregate: Annotated[
        str | None, typer.Option(help="Flow variables per lot (none) or per origin (origin).")
    ] = None,
    integer_teu: Annotated[
        bool | None,
        typer.Option("--integer-teu/--continuous-teu", help="Whole TEU per lot and leg."),
    ] = None,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="Seconds; default from settings.")
    ] = None,
    gap: Annotated[
        float | None, typer.Option("--gap", help="Relative MIP gap; default from settings.")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="HiGHS threads; default from settings.")
    ] = None,
    seed: Annotated[int, typer.Option(help="HiGHS random seed.")] = 0,
    paths: Annotated[
        int | None, typer.Option("--paths", help="Paths per lot of the path model (default 10).")
    ] = None,
    step_minutes: Annotated[
        float | None,
        typer.Option("--step-minutes", help="Grid step of the time model (default 60)."),
    ] = None,
    log: Annotated[
        Path | None, typer.Option("--log", help="Write the HiGHS log to this file.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or xlsx.")] = "csv",
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Also write report.md and report.html.")
    ] = True,
    quiet: Quiet = False,
    verbose: Verbose = False,
    as_json: Json = False,
    strict: Strict = False,
    prices: Annotated[
        bool,
        typer.Option(
            "--prices/--no-prices",
            help="Bottleneck prices: re-solve the LP with departures and opened legs fixed, "
            "write bottlenecks and corridor_prices.",
        ),
    ] = True,
    scenario: Annotated[
        list[Path] | None,
        typer.Option(
            "--scenario",
            "-s",
            help="Scenario .toml (repeatable): solve the base and each into OUT/base, OUT/<name>.",
        ),
    ] = None,
) -> None:
    """Solve an instance and write the cost-optimal plan (exit 0 also for a plan not proven
    optimal, 3 infeasible, 4 no plan in time, 5 the plan failed the checker and was not written,
    6 lots arrive after their due days under a model chosen by auto that only prunes)."""
    from allocator.deliver import check_format, check_target, default_out, deliver, plan_path
    from allocator.instance.validate import read_instance
    from allocator.options import RunOptions
    from allocator.pipeline import run
    from allocator.report.markdown import gap_text, print_summary
    from allocator.results.extract import DUE_DAYS_RELAXED
    from allocator.solve import SolveOptions

    opts = RunOptions(
        model=model,
        linking=linking,
        aggregate=aggregate,
        integer_teu=integer_teu,
        paths=paths,
        step_minutes=step_minutes,
        solve=SolveOptions(
            time_limit_s=time_limit,
            mip_rel_gap=gap,
            threads=threads,
            seed=seed,
            log_file=str(log) if log else None,
            tee=verbose,
        ),
        prices=prices,
    )
    if scenario:  # the base and each scenario, one plan folder each
        from allocator.cli.planning import solve_scenarios

        raise typer.Exit(solve_scenarios(instance, scenario, out, opts, fmt, report, quiet))
    try:
        check_format(fmt)
        if out is not None:  # refused before the solve, not after it
            check_target(out, fmt)
        inst = read_instance(instance, strict=strict)
        with live_solve(None if not (quiet or as_json) else False):
            res = run(inst, opts)
        plan_out = out or default_out(res.instance)
        checked = deliver(res, plan_out, fmt=fmt, report=report)
    except AllocatorError as exc:
        raise fail(exc, str(instance)) from None
    assert res.plan is not None  # deliver raises without a plan
    written = plan_path(plan_out, fmt)
    if as_json:
        print_json(
            res.plan.info() | {"plan": str(written), "check_warnings": list(checked.warnings)}
        )
    elif not quiet:
        print_problems(res.instance.warnings)
        print_summary(res.plan, console)
        console.print(f"wrote {written}")
    for w in checked.warnings:
        err.print(f"[yellow]check warning[/]: {w}", soft_wrap=True)
    if quiet or as_json:  # unserved lots are a planner's problem: one line even when quiet
        line = unserved_line(res.plan, written)
        if line:
            err.print(f"[yellow]{line}[/]", soft_wrap=True)
    status = res.plan.status
    if status == DUE_DAYS_RELAXED:
        late = int(res.plan.summary["late_routes"].iloc[0])
        err.print(
            f"[yellow]due days relaxed[/]: {late} routes arrive after their due days; "
            f"{res.recipe.name} enforces due days by pruning legs only (--model auto is exact)",
            soft_wrap=True,
        )
        if str(opts.model) == "auto":  # never accepted silently from the default
            raise typer.Exit(ExitCode.LATE)
    elif res.result.termination != "optimal":
        err.print(
            f"[yellow]not proven optimal[/]: {res.result.termination}, "
            f"gap {gap_text(res.result.gap)}",
            soft_wrap=True,
        )


def unserved_line(plan: Plan, written: Path) -> str:
    """ "2 lots (70 TEU) unserved, see PLAN/unserved.csv", or "" when every lot moves."""
    if plan.unserved.empty:
        return ""
    teu = float(plan.unserved["teu"].sum())
    where = written / "unserved.csv" if written.is_dir() else f"{written} (sheet unserved)"
    return f"{len(plan.unserved)} lots ({teu:,.0f} TEU) unserved, see {where}"


def check(
    plan_path: Annotated[Path, typer.Argument(help="Plan folder or .xlsx written by solve.")],
    instance: InstancePath,
    as_json: Json = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Re-verify a written plan from its tables alone (exit 0 sound, 5 violations)."""
    from allocator.instance.validate import read_instance
    from allocator.results import read_plan
    from allocator.results.check import check_plan

    try:
        inst = read_instance(instance)
        plan = read_plan(plan_path)
    except AllocatorError as exc:
        raise fail(exc, str(instance)) from None
    rep = check_plan(plan, inst)
    if as_json:
        print_json(
            {
                "plan": str(plan_path),
                "sound": rep.ok,
                "recomputed_objective": rep.recomputed_objective,
                "errors": list(rep.errors),
                "warnings": list(rep.warnings),
            }
        )
    for w in rep.warnings:
        err.print(f"[yellow]warning[/]: {w}", soft_wrap=True)
    for e in rep.errors:
        err.print(f"[red]violation[/]: {e}", soft_wrap=True)
    if not rep.ok:
        err.print(f"[red bold]{plan_path}: {len(rep.errors)} violation(s)[/]")
        raise typer.Exit(int(ExitCode.PLAN_INVALID))
    if not (quiet or as_json):
        console.print(
            f"{plan_path}: sound; recomputed cost {rep.recomputed_objective:,.2f} equals the "
            "objective"
        )


def report(
    runs: Annotated[
        list[Path], typer.Argument(help="Plan folders written by solve (one or several).")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="HTML file; default RUN_DIR/report.html for one run, "
            "out/report-<first run>-and-<n>.html for several.",
        ),
    ] = None,
    instance: Annotated[
        Path | None,
        typer.Option("--instance", help="Instance for the map of runs without instance.json."),
    ] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Write one self-contained HTML report of a run, or of several side by side."""
    from allocator.instance.model import Instance
    from allocator.instance.validate import read_instance
    from allocator.pipeline import read_run
    from allocator.report.html import run_labels, write_html_report

    fallback = None
    if instance is not None:
        try:
            fallback = read_instance(instance)
        except AllocatorError as exc:
            raise fail(exc, str(instance)) from None
    plans: dict[str, Plan] = {}
    instances: dict[str, Instance | None] = {}
    for name, path in zip(run_labels(runs), runs, strict=True):
        if not (path.is_dir() or (path.is_file() and path.suffix.lower() == ".xlsx")):
            raise fail(InstanceError([Problem(str(path), "no such plan folder")]), str(path))
        try:
            plans[name], inst = read_run(path)
        except AllocatorError as exc:
            raise fail(exc, str(path)) from None
        instances[name] = inst if inst is not None else fallback
    comparison, notes = None, {}
    if len(plans) > 1:
        from allocator.analysis.compare import compare_plans, run_scenarios

        comparison = compare_plans(plans)
        notes = run_scenarios(runs, list(plans))  # runs of a scenario solve: what each one is
    default = runs[0] / "report.html" if runs[0].is_dir() else runs[0].with_suffix(".html")
    several = Path("out") / f"report-{next(iter(plans))}-and-{len(plans) - 1}.html"
    target = out or (default if len(runs) == 1 else several)
    write_html_report(target, plans, instances, comparison, notes)
    for name, inst in instances.items():
        if inst is None:
            err.print(
                f"note: {name} has no instance.json: report without the map",
                markup=False,
                highlight=False,
            )
    if not quiet:
        console.print(f"wrote {target}")


def register(app: typer.Typer) -> None:
    """Add the solve commands to ``app``."""
    for function in (solve, check, report):
        command(app, function)
