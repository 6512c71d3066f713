"""Command-line interface: argument parsing, terminal output and exit codes only."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from allocator.errors import AllocatorError, ExitCode, InstanceError, Problem

app = typer.Typer(
    name="allocator",
    help="Optimal cargo allocation over the Eurasian freight corridors.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(highlight=False, soft_wrap=True)  # paths and messages never break mid-line
err = Console(stderr=True, highlight=False, soft_wrap=True)

InstancePath = Annotated[
    Path, typer.Argument(help="Instance: folder, instance .toml, .xlsx or .json.")
]


def _print_problems(problems: list[Problem] | tuple[Problem, ...], source: str = "") -> None:
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


def _fail(exc: AllocatorError, source: str = "") -> typer.Exit:
    if isinstance(exc, InstanceError):
        _print_problems(exc.problems, source)
    else:
        err.print(f"[red]error[/]: {escape(str(exc))}", soft_wrap=True)
    return typer.Exit(int(exc.exit_code))


@app.command()
def validate(path: InstancePath) -> None:
    """Check an instance and report every problem at once (exit 0 sound, 2 invalid)."""
    from allocator.instance.validate import read_instance

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
    from allocator.instance.io import write_instance
    from allocator.instance.validate import read_instance

    try:
        inst = read_instance(source)
        write_instance(inst, target, table_format=table_format)
    except AllocatorError as exc:
        raise _fail(exc, str(source)) from None
    console.print(f"wrote {target}")


@app.command()
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


@app.command()
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
            "--model", "-m", help="Formulation name (see `allocator models`) or recipe path."
        ),
    ] = "arc-strong",
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
    log: Annotated[
        Path | None, typer.Option("--log", help="Write the HiGHS log to this file.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or xlsx.")] = "csv",
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Also write report.md and report.html.")
    ] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems.")] = False,
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
    """Solve an instance and write the cost-optimal plan (exit 3 infeasible, 4 no plan in time)."""
    from allocator.pipeline import RunOptions, run
    from allocator.report.markdown import print_summary, write_markdown
    from allocator.results import write_plan
    from allocator.results.check import check_plan
    from allocator.solve import SolveOptions

    opts = RunOptions(
        model=model,
        linking=linking,
        aggregate=aggregate,
        integer_teu=integer_teu,
        paths=paths,
        solve=SolveOptions(
            time_limit_s=time_limit,
            mip_rel_gap=gap,
            threads=threads,
            seed=seed,
            log_file=str(log) if log else None,
        ),
        prices=prices,
    )
    if scenario:  # the base and each scenario, one plan folder each
        from allocator.cli.planning import solve_scenarios

        raise typer.Exit(solve_scenarios(instance, scenario, out, opts, fmt, report, quiet))
    try:
        res = run(instance, opts)
    except AllocatorError as exc:
        raise _fail(exc, str(instance)) from None
    target = write_plan(res.plan, out or Path("out") / res.instance.name, fmt, res.instance)
    if report:
        from allocator.report.html import write_html_report

        write_markdown(
            res.plan, target / "report.md" if target.is_dir() else target.with_suffix(".md")
        )
        write_html_report(
            target / "report.html" if target.is_dir() else target.with_suffix(".html"),
            {res.instance.name: res.plan},
            {res.instance.name: res.instance},
        )
    if not quiet:
        _print_problems(res.instance.warnings)
        print_summary(res.plan, console)
        console.print(f"wrote {target}")
    checked = check_plan(res.plan, res.instance)
    for w in checked.warnings:
        err.print(f"[yellow]check warning[/]: {w}", soft_wrap=True)
    if not checked.ok:
        for e in checked.errors:
            err.print(f"[red]check error[/]: {e}", soft_wrap=True)
        raise typer.Exit(int(ExitCode.PLAN_INVALID))
    if res.result.termination != "optimal" and not quiet:
        err.print(
            f"[yellow]not proven optimal[/]: {res.result.termination}, gap {res.result.gap:.2e}"
        )


@app.command()
def check(
    plan_path: Annotated[Path, typer.Argument(help="Plan folder or .xlsx written by solve.")],
    instance: InstancePath,
) -> None:
    """Re-verify a written plan from its tables alone (exit 0 sound, 5 violations)."""
    from allocator.instance.validate import read_instance
    from allocator.results import read_plan
    from allocator.results.check import check_plan

    try:
        inst = read_instance(instance)
        plan = read_plan(plan_path)
    except AllocatorError as exc:
        raise _fail(exc, str(instance)) from None
    rep = check_plan(plan, inst)
    for w in rep.warnings:
        err.print(f"[yellow]warning[/]: {w}", soft_wrap=True)
    for e in rep.errors:
        err.print(f"[red]violation[/]: {e}", soft_wrap=True)
    if not rep.ok:
        err.print(f"[red bold]{plan_path}: {len(rep.errors)} violation(s)[/]")
        raise typer.Exit(int(ExitCode.PLAN_INVALID))
    console.print(
        f"{plan_path}: sound; recomputed cost {rep.recomputed_objective:,.2f} equals the objective"
    )


@app.command()
def report(
    runs: Annotated[
        list[Path], typer.Argument(help="Plan folders written by solve (one or several).")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="HTML file; default RUN_DIR/report.html for one run, ./report.html for several.",
        ),
    ] = None,
    instance: Annotated[
        Path | None,
        typer.Option("--instance", help="Instance for the map of runs without instance.json."),
    ] = None,
) -> None:
    """Write one self-contained HTML report of a run, or of several side by side."""
    from allocator.instance.model import Instance
    from allocator.instance.validate import read_instance
    from allocator.pipeline import read_run
    from allocator.report.html import run_labels, write_html_report
    from allocator.results import Plan

    fallback = None
    if instance is not None:
        try:
            fallback = read_instance(instance)
        except AllocatorError as exc:
            raise _fail(exc, str(instance)) from None
    plans: dict[str, Plan] = {}
    instances: dict[str, Instance | None] = {}
    for name, path in zip(run_labels(runs), runs, strict=True):
        if not (path.is_dir() or (path.is_file() and path.suffix.lower() == ".xlsx")):
            raise _fail(InstanceError([Problem(str(path), "no such plan folder")]), str(path))
        try:
            plans[name], inst = read_run(path)
        except AllocatorError as exc:
            raise _fail(exc, str(path)) from None
        instances[name] = inst if inst is not None else fallback
    comparison = None
    if len(plans) > 1:
        from allocator.analysis.compare import compare_plans

        comparison = compare_plans(plans)
    default = runs[0] / "report.html" if runs[0].is_dir() else runs[0].with_suffix(".html")
    target = out or (default if len(runs) == 1 else Path("report.html"))
    write_html_report(target, plans, instances, comparison)
    for name, inst in instances.items():
        if inst is None:
            err.print(
                f"note: {name} has no instance.json: report without the map",
                markup=False,
                highlight=False,
            )
    console.print(f"wrote {target}")


@app.command()
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


# research commands (allocator bench) live in cli_research
from allocator.cli.research import register as _register_research  # noqa: E402

_register_research(app)


# --- batch/rolling: allocator batch, allocator runs live in cli_batch
from allocator.cli.batch import register as _register_batch  # noqa: E402

_register_batch(app)


# --- scenarios, compare, pareto live in cli_scenarios
from allocator.cli.planning import register as _register_scenarios  # noqa: E402

_register_scenarios(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        # non-standalone mode returns the code of a raised typer.Exit instead of raising it
        result = app(args=argv if argv is not None else sys.argv[1:], standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except SystemExit as exc:  # click usage errors
        return int(exc.code or 0)
    except AllocatorError as exc:
        return int(_fail(exc).exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # usage errors of (typer's vendored) click in non-standalone mode
        show = getattr(exc, "show", None)
        if callable(show) and type(exc).__module__.startswith(("click", "typer")):
            show()
            return int(ExitCode.INVALID)
        raise
    return int(result) if isinstance(result, int) else int(ExitCode.OK)
