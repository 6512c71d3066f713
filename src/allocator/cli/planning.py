"""CLI of the planning tools: `solve --scenario`, `scenario apply`, `compare`, `pareto`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from allocator.cli._common import console, err, fail, print_problems
from allocator.cli._options import Group, Json, ListFormat, Quiet, Verbose, command
from allocator.cli._output import Column, print_rows, progress, resolve_format
from allocator.cli.instance import OutOption, TableFormat, output_path
from allocator.errors import AllocatorError, ExitCode

if TYPE_CHECKING:
    from allocator.instance.model import Instance
    from allocator.options import RunOptions
    from allocator.results import Plan

scenario_app = typer.Typer(
    help="Scenario files: a base instance plus changes (see docs/planning.md#scenarios).",
    no_args_is_help=True,
    cls=Group,
)


def solve_scenarios(
    instance: Path,
    scenarios: list[Path],
    out: Path | None,
    opts: RunOptions,
    fmt: str = "csv",
    report: bool = True,
    quiet: bool = False,
) -> int:
    """Solve the base and each scenario into OUT/base and OUT/<scenario name>; one line per run.

    A failing run (invalid scenario, infeasible, no plan, plan failing the checker, an output
    folder allocator did not write) is reported and the others still run; returns the exit code
    of the first failure, else 0.
    """
    from allocator.analysis.compare import ScenarioNote, compare_plans, write_comparison
    from allocator.deliver import check_format, default_out, deliver, plan_path
    from allocator.instance.scenario import BASE_RUN, apply_scenario, load_scenario
    from allocator.instance.validate import read_instance
    from allocator.pipeline import run

    try:
        check_format(fmt)
        base = read_instance(instance)
    except AllocatorError as exc:
        raise fail(exc, str(instance)) from None
    folder = out or default_out(base)
    jobs: list[tuple[str, Instance | AllocatorError]] = [(BASE_RUN, base)]
    seen = {BASE_RUN}
    notes = {BASE_RUN: ScenarioNote("the instance as given", ())}
    for path in scenarios:
        try:
            sc = load_scenario(path)
        except AllocatorError as exc:
            jobs.append((str(path), exc))
            continue
        if sc.name in seen:
            jobs.append((sc.name, AllocatorError(f"{path}: scenario name '{sc.name}' used twice")))
            continue
        seen.add(sc.name)
        if not _same_instance(sc.base_path, Path(instance)):
            err.print(
                f"[yellow]note[/]: {path} names base {sc.base}; applied to {instance} as given"
            )
        try:
            changes: list[str] = []
            jobs.append((sc.name, apply_scenario(sc, base, notes=changes)))
            notes[sc.name] = ScenarioNote(sc.description, tuple(changes))
        except AllocatorError as exc:
            jobs.append((sc.name, exc))
    first_failure = 0
    solved: dict[str, tuple[Plan, Instance]] = {}
    for name, job in jobs:
        try:
            if isinstance(job, AllocatorError):
                raise job
            res = run(job, opts)
            deliver(res, folder / name, fmt=fmt, report=report)
        except AllocatorError as exc:
            fail(exc, name)
            err.print(f"[red]{name}: failed[/] (exit {int(exc.exit_code)})")
            first_failure = first_failure or int(exc.exit_code)
            continue
        assert res.plan is not None  # deliver raises without a plan
        solved[name] = (res.plan, res.instance)
        s = res.plan.info()
        if not quiet:
            console.print(
                f"{name}: {s['status']}, cost {s['objective']:,.0f} {s['currency']}, "
                f"TEU moved {s['teu_moved']:,.0f} of {s['teu_total']:,.0f}, "
                f"CO2 {s['co2_t']:,.0f} t, {s['avg_days']:.1f} days -> "
                f"{plan_path(folder / name, fmt)}",
                soft_wrap=True,
            )
    if len(solved) > 1:  # the runs side by side, as `allocator compare` writes them
        plans = {name: plan for name, (plan, _) in solved.items()}
        table = compare_plans(plans)
        solved_notes = {name: notes[name] for name in solved if name in notes}
        write_comparison(table, folder, str(base.settings.currency), solved_notes)
        if report:
            from allocator.report.html import write_html_report

            instances = {name: inst for name, (_, inst) in solved.items()}
            write_html_report(folder / "report.html", plans, instances, table, solved_notes)
        if not quiet:
            console.print(f"wrote {folder / 'compare.csv'}, {folder / 'compare.md'}")
    return first_failure


def _same_instance(a: Path, b: Path) -> bool:
    """Whether two instance paths name the same instance (a folder is its instance.toml)."""

    def norm(p: Path) -> Path:
        p = p.resolve()
        return p / "instance.toml" if p.is_dir() else p

    return norm(a) == norm(b)


def scenario_apply(
    scenario: Annotated[Path, typer.Argument(help="Scenario .toml file.")],
    out: Annotated[
        Path | None,
        typer.Argument(help="Output instance: a folder, .xlsx or .json (or --out)."),
    ] = None,
    out_option: OutOption = None,
    base: Annotated[
        Path | None,
        typer.Option("--base", help="Base instance; default the scenario's `base`."),
    ] = None,
    table_format: TableFormat = "csv",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Apply a scenario to its base and write the changed, validated instance."""
    from allocator.instance.io import write_instance
    from allocator.instance.scenario import apply_scenario

    out = output_path(out, out_option)

    notes: list[str] = []
    try:
        inst = apply_scenario(scenario, base, notes=notes)
        write_instance(inst, out, table_format=table_format)
    except AllocatorError as exc:
        raise fail(exc, str(scenario)) from None
    print_problems(inst.warnings)
    if quiet:
        return
    for line in notes:
        console.print(f"  {line}")
    console.print(f"wrote {out} ({inst.name})")


def compare(
    runs: Annotated[
        list[Path],
        typer.Argument(help="Plan folders written by solve (the first is the reference)."),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write compare.csv and compare.md here.")
    ] = None,
    report: Annotated[
        bool, typer.Option("--report", help="Also write OUT/report.html (needs --out).")
    ] = False,
    fmt: ListFormat = "auto",
    as_json: Json = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Compare plans side by side: cost, TEU by corridor, unserved, CO2, days, bottlenecks."""
    from allocator.analysis.compare import (
        compare_plans,
        differences,
        format_difference,
        format_value,
        run_names,
        run_scenarios,
        write_comparison,
    )
    from allocator.errors import InstanceError, Problem
    from allocator.pipeline import read_run

    if report and out is None:
        err.print("[red]error[/]: --report needs --out DIR")
        raise typer.Exit(int(ExitCode.INVALID))
    names = run_names(runs)
    plans, instances = {}, {}
    for name, path in zip(names, runs, strict=True):
        try:
            if not path.is_dir():
                raise InstanceError([Problem(str(path), "not a plan folder")])
            plans[name], instances[name] = read_run(path)
        except AllocatorError as exc:
            raise fail(exc, str(path)) from None
    table = compare_plans(plans)
    notes = run_scenarios(runs, names)  # runs of a scenario solve: what each one is
    diff = differences(table)
    currency = str(next(iter(plans.values())).info().get("currency", ""))
    first = table.columns[0]
    listing = resolve_format(fmt, as_json)
    if listing in ("csv", "json") and not quiet:  # raw values and differences, one row a metric
        rows = []
        for metric in table.index:
            row: dict[str, object] = {"metric": str(metric)}
            for run in table.columns:
                row[str(run)] = table.at[metric, run]
                if run != first:
                    row[f"{run} - {first}"] = diff.at[metric, f"{run} - {first}"]
            rows.append(row)
        keys = list(rows[0]) if rows else ["metric"]
        print_rows(rows, [Column(k, k) for k in keys], f"comparison (Δ = run - {first})", listing)
    rows = []
    for metric in table.index:
        cells = [format_value(table.at[metric, first], metric)]
        for run in table.columns[1:]:
            d = diff.at[metric, f"{run} - {first}"]
            cells += [format_value(table.at[metric, run], metric), format_difference(d, metric)]
        rows.append(cells)
    headers = [first]
    for run in table.columns[1:]:
        headers += [run, "Δ"]
    view = Table(title=f"comparison (Δ = run - {first})", title_justify="left")
    # numbers never truncate; the metric names and run headers wrap when the terminal is narrow
    view.add_column("metric", overflow="fold", min_width=12)
    for j, header in enumerate(headers):
        width = max(len(r[j]) for r in rows) if rows else 1
        view.add_column(header, justify="right", no_wrap=True, min_width=width, overflow="fold")
    for metric, cells in zip(table.index, rows, strict=True):
        view.add_row(str(metric), *cells)
    if listing == "table" and not quiet:
        for name, note in notes.items():
            console.print(
                f"[bold]{name}[/]: {note.description or '(no description)'}", soft_wrap=True
            )
            for change in note.changes:
                console.print(f"  {change}", markup=False, highlight=False, soft_wrap=True)
        console.print(view)
    if out is not None:
        write_comparison(table, out, currency, notes)
        if listing == "table" and not quiet:
            console.print(f"wrote {out / 'compare.csv'}, {out / 'compare.md'}")
        if report:
            from allocator.report.html import write_html_report

            written = write_html_report(out / "report.html", plans, instances, table, notes)
            if listing == "table" and not quiet:
                console.print(f"wrote {written}")


def pareto(
    instance: Annotated[
        Path, typer.Argument(help="Instance: folder, instance .toml, .xlsx or .json.")
    ],
    objectives: Annotated[
        str, typer.Option("--objectives", help="cost,co2 or cost,days.")
    ] = "cost,co2",
    points: Annotated[int, typer.Option("--points", help="Points on the curve (>= 2).")] = 8,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder; default out/<instance name>-pareto-<objective>."),
    ] = None,
    served: Annotated[
        str,
        typer.Option(
            "--served",
            help="fixed: every lot moves at least its TEU of the cost optimum; "
            "free: lots may stay unmoved at their penalty.",
        ),
    ] = "fixed",
    model: Annotated[str, typer.Option("--model", "-m", help="An arc formulation.")] = "arc-strong",
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="Seconds per solve; default from settings.")
    ] = None,
    gap: Annotated[
        float | None, typer.Option("--gap", help="Relative MIP gap; default from settings.")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="HiGHS threads.")] = None,
    fmt: ListFormat = "auto",
    as_json: Json = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Trace the cost / CO2 (or cost / days) trade-off by the epsilon-constraint method."""
    from allocator.analysis.pareto import trace
    from allocator.deliver import default_out
    from allocator.results.check import check_plan
    from allocator.solve import SolveOptions

    solve = SolveOptions(time_limit_s=time_limit, mip_rel_gap=gap, threads=threads, tee=verbose)
    try:
        with progress("pareto solves", points + 1, None if not quiet else False) as advance:
            frontier = trace(
                instance,
                objectives.split(","),
                points,
                recipe=model,
                solve_opts=solve,
                served=served,
                on_solve=advance,
            )
    except AllocatorError as exc:
        raise fail(exc, str(instance)) from None
    second = frontier.objectives[1]
    folder = out or default_out(frontier.instance, f"-pareto-{second}")
    frontier.write(folder)
    bad = [
        i
        for i, p in enumerate(frontier.plans, start=1)
        if p is not None and not check_plan(p, frontier.instance).ok
    ]
    if not quiet:
        cur = frontier.instance.settings.currency
        columns = [
            Column("point", "point", keep=9, right=True),
            Column("eps", f"eps ({frontier.unit})", ",.1f", keep=2, right=True),
            Column("cost", f"cost ({cur})", ",.0f", keep=9, right=True),
            Column("co2_t", "CO2 t", ",.1f", keep=8, right=True),
            Column("avg_days", "avg days", ".2f", keep=7, right=True),
            Column("teu_moved", "TEU moved", ",.0f", keep=4, right=True),
            Column("unserved", "unserved", ",.0f", keep=5, right=True),
            Column("status", "status", keep=6),
            Column("dominated", "dominated", keep=3),
        ]
        listing = [
            r | {"dominated": "yes" if r["dominated"] else ""}
            for r in frontier.table.to_dict("records")
        ]
        title = f"trade-off cost vs {second} (served {served})"
        print_rows(listing, columns, title, "json" if as_json else fmt)
        if resolve_format(fmt, as_json) == "table":
            console.print(f"wrote {folder} (pareto.csv, pareto.png, pareto.svg, point-NN/)")
    if bad:
        err.print(f"[red]plans of points {bad} failed the checker[/]")
        raise typer.Exit(int(ExitCode.PLAN_INVALID))


def register(app: typer.Typer) -> None:
    """Add the commands to the main app."""
    command(scenario_app, scenario_apply, name="apply")
    app.add_typer(scenario_app, name="scenario")
    command(app, compare)
    command(app, pareto)
