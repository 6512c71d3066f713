"""Run the Canad MCND C set through `allocator bench` and write benchmarks/results/mcnd.md.

    python benchmarks/mcnd.py [--models arc-strong,colgen] [--time-limit 60] [--subset c33,c35]
                              [--out benchmarks/results/mcnd] [--from-csv A.csv --from-csv B.csv]

Every (instance, model) pair runs in its own process (allocator.research.bench). The report compares the
optimum found with the reference values of benchmarks/data/mcnd/README.md, gives status and gap
for the instances without a reference, the shifted geometric means per model, and the speed-up of
every model over plain arc-strong on the instances that take arc-strong more than 10 s, both in
time to optimality and in time to reach arc-strong's final result (its plan and its bound at the
limit, from the progress every run records).
``--from-csv`` rebuilds the report from earlier bench.csv files without solving anything
(the recorded C-set run: mcnd_bench_2026-11-23_a.csv and _b.csv, two streams side by side). A
``## Notes`` section at the end of mcnd.md is hand-written and kept when the tables are rewritten.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from allocator.instance.dow import REFERENCE_OPTIMA
from allocator.options import RunOptions
from allocator.research.bench import (
    BenchOptions,
    by_problem,
    effective_time,
    final_result,
    geomeans,
    match_markdown,
    performance_profile,
    read_csv,
    run_bench,
    shifted_geomean,
)
from allocator.solve import SolveOptions, solver_version

REPO = Path(__file__).resolve().parents[1]
C_SET = REPO / "benchmarks" / "data" / "mcnd" / "C"
RESULTS = REPO / "benchmarks" / "results"
NOTES = "\n## Notes"  # from this heading on, mcnd.md is hand-written and survives a re-run


def _fmt(v: object, spec: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return format(v, spec)


def report(rows: list[dict], time_limit: float, plot_stem: Path) -> str:
    """The markdown report for bench rows (one per instance and seed when several seeds ran)."""
    rows = by_problem(rows)
    models = list(dict.fromkeys(r["model"] for r in rows))
    instances = list(dict.fromkeys(r["instance"] for r in rows))
    by = {(r["instance"], r["model"]): r for r in rows}
    lines = [
        "# MCND C set: optimum found vs reference",
        "",
        f"HiGHS {solver_version()}, time limit {time_limit:g} s per run, each (instance, model) in "
        "its own process on this project's 2-vCPU machine (`benchmarks/mcnd.py`). Reference values: "
        "`benchmarks/data/mcnd/README.md` (c33 from or-tools; the others HiGHS-proven optima "
        "from an independent script). Time = read + preprocess + build + solve + extract.",
        "",
        "| instance | reference | "
        + " | ".join(f"{m} objective | {m} status (gap) | {m} s" for m in models)
        + " | match |",
        "|---|---|" + "---|---|---|" * len(models) + "---|",
    ]
    for inst in instances:
        ref = REFERENCE_OPTIMA.get(inst)
        cells, match = [], []
        for m in models:
            r = by.get((inst, m), {})
            obj = r.get("objective")
            gap = r.get("gap")
            status = r.get("status", "")
            cells.append(
                f"{_fmt(obj, ',.2f')} | {status}{f' ({gap:.1e})' if gap not in (None, 0.0) and gap == gap and status != 'optimal' else ''} | {_fmt(r.get('time_s'), '.1f')}"
            )
            if ref is not None and obj is not None and obj == obj:
                match.append("yes" if abs(obj - ref) <= 1e-6 * abs(ref) + 0.01 else "NO")
        lines.append(
            f"| {inst} | {_fmt(ref, ',.0f')} | " + " | ".join(cells) + f" | {' '.join(match)} |"
        )
    g = geomeans(rows, time_limit)
    lines += [
        "",
        "## Shifted geometric mean of time (shift 10 s; not proven optimal = time limit)",
        "",
        "| model | runs | solved | all instances (s) | instances where arc-strong > 10 s (s) | speed-up vs arc-strong there |",
        "|---|---|---|---|---|---|",
    ]
    hard = [
        i
        for i in instances
        if (i, "arc-strong") in by and effective_time(by[(i, "arc-strong")], time_limit) > 10.0
    ]
    base = (
        shifted_geomean([effective_time(by[(i, "arc-strong")], time_limit) for i in hard])
        if hard
        else math.nan
    )
    for m, v in g.items():
        mine = [effective_time(by[(i, m)], time_limit) for i in hard if (i, m) in by]
        sgm = shifted_geomean(mine) if len(mine) == len(hard) and hard else math.nan
        lines.append(
            f"| {m} | {v['runs']} | {v['solved']} | {v['sgm_s']:.2f} | {_fmt(sgm, '.2f')} | "
            f"{_fmt(base / sgm if sgm and sgm == sgm else math.nan, '.2f')} |"
        )
    lines += [
        "",
        "Plain time ratio (arc-strong s / model s) on the instances above that both arc-strong and "
        "the model solve to optimality, geometric mean:",
        "",
    ]
    for m in models:
        both = [
            i
            for i in hard
            if by.get((i, m), {}).get("status") == "optimal"
            and by[(i, "arc-strong")].get("status") == "optimal"
        ]
        if not both:
            lines.append(f"* {m}: no such instance")
            continue
        ratios = [by[(i, "arc-strong")]["time_s"] / by[(i, m)]["time_s"] for i in both]
        lines.append(
            f"* {m}: {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}x "
            f"({', '.join(f'{i} {r:.2f}x' for i, r in zip(both, ratios, strict=True))})"
        )
    match = match_markdown(rows, "arc-strong", hard, time_limit)
    if match:
        empty = [
            i for i in hard if not any(map(math.isfinite, final_result(by[(i, "arc-strong")])))
        ]
        lines += [
            "",
            f"## Time to reach arc-strong's {time_limit:g} s result",
            "",
            "On the instances where arc-strong takes more than 10 s: the first time (seconds from "
            "the start of the run) each model has a plan no worse than arc-strong's final plan "
            "and a bound no weaker than arc-strong's final bound (1e-5 relative), from the "
            "progress every run records; for arc-strong itself, the time it reached its own "
            "final result. Where arc-strong proves the optimum this is the time to prove it; "
            "where it stops at the limit it is the time to its final plan and bound. Not "
            "reached counts at the time limit.",
            "",
            *match,
            "",
            "Left out (arc-strong has neither a plan nor a bound at the limit): "
            + (", ".join(empty) or "none")
            + ".",
        ]
    lines += [
        "",
        f"Instances where arc-strong takes more than 10 s: {', '.join(hard) or 'none'}.",
        "",
        f"Performance profile: `{plot_stem.name}.png`, `{plot_stem.name}.svg`.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run (or re-read) the benchmark and write the report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="arc-strong,colgen")
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--subset", default="", help="comma-separated instance names (default: all 31)")
    p.add_argument("--out", type=Path, default=RESULTS / "mcnd")
    p.add_argument("--from-csv", type=Path, action="append", default=[])
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seeds", default="0", help="comma-separated HiGHS seeds (default 0)")
    args = p.parse_args()
    if args.from_csv:  # instances in C-set order, whichever file (stream) ran them
        rows = [r for path in args.from_csv for r in read_csv(path)]
        rows.sort(key=lambda r: int(r["instance"][1:]) if r["instance"][1:].isdigit() else 0)
    else:
        files = sorted(C_SET.glob("*.dow"), key=lambda f: int(f.stem[1:]))
        if args.subset:
            keep = set(args.subset.split(","))
            files = [f for f in files if f.stem in keep]
        models = [m.strip() for m in args.models.split(",")]
        seeds = tuple(int(x) for x in args.seeds.split(","))
        solve = SolveOptions(time_limit_s=args.time_limit, threads=args.threads or None)
        opts = BenchOptions(run=RunOptions(solve=solve, prices=False), seeds=seeds)
        rows = run_bench(
            files,
            models,
            args.out,
            opts,
            progress=lambda r: print(
                f"{r['instance']:>5} {r['model']:<12} {r['status']:<14} {r['objective']} "
                f"{r['time_s']:.1f}s",
                flush=True,
            ),
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / "mcnd_profile"
    performance_profile(rows, stem, args.time_limit)
    target = RESULTS / "mcnd.md"
    old = target.read_text(encoding="utf-8") if target.exists() else ""
    notes = old[old.find(NOTES) :] if NOTES in old else ""  # hand-written notes are kept
    target.write_text(report(rows, args.time_limit, stem) + notes, encoding="utf-8")
    print(f"wrote {RESULTS / 'mcnd.md'}")


if __name__ == "__main__":
    main()
