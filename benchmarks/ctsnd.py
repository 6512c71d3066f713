"""Run the timed Canad (CTSND) instances through `allocator bench` and write benchmarks/results/ctsnd.md.

    python benchmarks/ctsnd.py [--subset quick|standard|all] [--models ddd,time]
                               [--step-minutes 15] [--time-limit 600] [--gap 0.01]
                               [--shard K/N] [--out DIR] [--from-csv A.csv --from-csv B.csv]

The tiers are those of ``allocator.instance.ctsnd.select``: quick = 2 instances per class (8),
standard = one instance per base network (31: every base, both deadline factors, all release
factors and classes), all = the 558. Worst case of the standard tier: 31 instances x 2 models x
(600 s + 30 s grace before a kill) = 39,060 s, about 10.9 h in one stream; ``--shard 1/2`` and
``--shard 2/2`` in two shells (add ``--threads 1``) split it into two streams of about 5.4 h
each, and ``--from-csv`` joins their CSVs into one report. Classes whose instances finish early
(the LC classes) take far less than the worst case.

Every (instance, model) pair runs in its own process (allocator.research.bench); ``--step-minutes``
is the grid of the time family only. The report: per class and model the runs, the share solved to
the requested gap within the limit, mean time, mean gap and mean iterations, beside the published
interval-DDD table (benchmarks/data/ctsnd/README.md); the time to a 1 % gap of the method
(``--method``, default ddd) against the full time-expanded model (``--full``, default time) on
the instances both reach it (ratio per instance, geometric mean); and the targets, each met or
missed from the rows. It also copies the rows to benchmarks/results/ctsnd.csv. A ``## Notes``
section at the end of ctsnd.md is hand-written and kept when the tables are rewritten.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from allocator.instance.ctsnd import TIERS, list_instances, select, shipped_folder
from allocator.options import RunOptions
from allocator.research.bench import (
    CLASS_HEADER,
    BenchOptions,
    by_class,
    class_row,
    decode_progress,
    reached_gap,
    read_csv,
    run_bench,
    time_to_gap,
    warm_up,
    write_csv,
)
from allocator.solve import SolveOptions, solver_version

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
NOTES = "\n## Notes"  # from this heading on, ctsnd.md is hand-written and survives a re-run
CLASSES = ("HC/HF", "HC/LF", "LC/HF", "LC/LF")
TARGET_GAP = 0.01
"""The gap of the targets and of the speed comparison (1 %)."""

PUBLISHED_SOURCE = (
    "Interval-based DDD (Marshall, Boland, Savelsbergh, Hewitt 2021), as published in the "
    "hakkape/DDDI README (commit b174832): Gurobi 12.0.3, AMD Threadripper PRO 5945WX, 12 cores, "
    "64 GB, stop at 1 % gap or 1 h, all 558 instances (copied in benchmarks/data/ctsnd/README.md)"
)
PUBLISHED: dict[str, tuple[int, float, float, float, float]] = {
    # class: instances, mean gap %, mean time s, mean iterations, solved within 1 h %
    "HC/HF": (177, 1.04, 576.9, 17.8, 92.7),
    "HC/LF": (183, 0.83, 61.2, 11.4, 100.0),
    "LC/HF": (104, 0.55, 0.04, 0.5, 100.0),
    "LC/LF": (94, 0.69, 0.45, 2.9, 100.0),
}


@dataclass(frozen=True)
class Target:
    """One target of the benchmark and what the rows say of it."""

    text: str
    measured: str
    verdict: str  # met, missed, or not measured


def to_gap_s(row: dict[str, Any], gap: float = TARGET_GAP) -> float | None:
    """Seconds from the start of the run to a plan within ``gap`` of the bound (the recorded
    progress; a run that ends within it without such a point counts at its time)."""
    final = row.get("gap")
    return time_to_gap(
        decode_progress(row.get("progress")),
        gap,
        None if final is None else float(final),
        None if row.get("time_s") is None else float(row["time_s"]),
    )


def solved_to(row: dict[str, Any], gap: float = TARGET_GAP) -> bool:
    """Whether the run ended within ``gap`` with a plan the checker accepts."""
    return reached_gap(row | {"gap_target": gap})


def speed_ratios(
    rows: list[dict[str, Any]], method: str, full: str, gap: float = TARGET_GAP
) -> list[tuple[str, float, float]]:
    """(instance, full model s, method s) to ``gap`` on the instances both reach it, in order."""
    hit = {(r["instance"], r["model"]): to_gap_s(r, gap) for r in rows}
    out = []
    for inst in dict.fromkeys(r["instance"] for r in rows):
        a, b = hit.get((inst, full)), hit.get((inst, method))
        if a is not None and b is not None:
            out.append((inst, a, b))
    return out


def geomean(values: list[float]) -> float:
    """Geometric mean (nan for none)."""
    return math.exp(sum(map(math.log, values)) / len(values)) if values else math.nan


def targets(rows: list[dict[str, Any]], method: str, full: str) -> list[Target]:
    """The benchmark's targets for ``method``, each met or missed from the rows (not measured
    when the rows have no run of it)."""
    share = {"LC/HF": 100.0, "LC/LF": 100.0, "HC/LF": 90.0, "HC/HF": 50.0}
    out = []
    for klass, need in share.items():
        mine = [r for r in rows if r["model"] == method and r.get("class") == klass]
        text = (
            f"every {klass} instance solved to 1 %"
            if need == 100.0
            else f"{klass}: at least {need:.0f} % solved to 1 %"
        )
        if not mine:
            out.append(Target(text, f"no {method} run of {klass}", "not measured"))
            continue
        solved = sum(solved_to(r) for r in mine)
        pct = 100.0 * solved / len(mine)
        verdict = "met" if pct >= need - 1e-9 else "missed"
        out.append(Target(text, f"{solved} of {len(mine)} ({pct:.1f} %)", verdict))
    ratios = speed_ratios(rows, method, full)
    text = f"{method} at least 10x faster than {full} in time to 1 % (geometric mean)"
    if not ratios:
        out.append(Target(text, "no instance where both reach 1 %", "not measured"))
    else:
        g = geomean([a / b for _, a, b in ratios])
        out.append(
            Target(text, f"{g:.2f}x on {len(ratios)} instances", "met" if g >= 10 else "missed")
        )
    return out


def _fmt(v: Any, spec: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return format(v, spec)


def report(
    rows: list[dict[str, Any]], time_limit: float, method: str = "ddd", full: str = "time"
) -> str:
    """The markdown report for bench rows of CTSND instances."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    instances = list(dict.fromkeys(r["instance"] for r in rows))
    gaps = sorted({float(r["gap_target"]) for r in rows if r.get("gap_target") is not None})
    steps = sorted({float(r["step_minutes"]) for r in rows if r.get("step_minutes") is not None})
    gap_text = ", ".join(f"{100 * g:g} %" for g in gaps) or "the settings' gap"
    step_text = ", ".join(f"{s:g}" for s in steps) or "none"
    versions = sorted({str(r["solver_version"]) for r in rows if r.get("solver_version")})
    lines = [
        "# Timed Canad (CTSND) instances: allocator against published interval DDD",
        "",
        f"HiGHS {', '.join(versions) or solver_version()}, time limit {time_limit:g} s per run, requested gap "
        f"{gap_text}, each (instance, model) in its own process on this project's 2-vCPU machine "
        f"(`benchmarks/ctsnd.py`). {len(instances)} instances, models: {', '.join(models)}; "
        f"time family step: {step_text} min. Time = read + preprocess + build + solve + "
        "extract; solved = a checked plan within the requested gap at the end of the run.",
        "",
        "## Per class",
        "",
        *CLASS_HEADER,
    ]
    stats = by_class(rows)
    for klass in CLASSES:
        lines += [class_row(klass, m, stats[(klass, m)]) for m in models if (klass, m) in stats]
        n, gap_pct, mean_s, its, solved = PUBLISHED[klass]
        lines.append(
            f"| {klass} | published interval DDD | {n} | {solved:g} % | {mean_s:g} | "
            f"{gap_pct:.2f} % | {its:g} |"
        )
    lines += [
        "",
        f"Published rows: {PUBLISHED_SOURCE}. Their mean time and gap are over all instances of "
        "the class, unsolved ones at the 1 h limit; ours count every run at no more than its "
        "limit and average the gap over the runs with a plan.",
        "",
        f"## {method} vs the full time-expanded model ({full}): time to 1 % gap",
        "",
    ]
    ratios = speed_ratios(rows, method, full)
    if ratios:
        lines += [
            f"On the instances where both reach a 1 % gap (seconds from the start of the run, "
            f"from the recorded progress; ratio = {full} / {method}):",
            "",
            f"| instance | class | {full} (s) | {method} (s) | ratio |",
            "|---|---|---|---|---|",
        ]
        klass = {r["instance"]: r.get("class") or "" for r in rows}
        for inst, a, b in ratios:
            lines.append(f"| {inst} | {klass[inst]} | {a:.2f} | {b:.2f} | {a / b:.2f} |")
        g = geomean([a / b for _, a, b in ratios])
        lines += ["", f"Geometric mean of the ratios: {g:.2f}x on {len(ratios)} instances."]
    else:
        lines.append(f"No instance where both {method} and {full} reach a 1 % gap.")
    lines += [
        "",
        f"## Targets ({method}, these {len(instances)} instances)",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    lines += [f"| {t.text} | {t.measured} | {t.verdict} |" for t in targets(rows, method, full)]
    lines += [
        "",
        "## Runs",
        "",
        "| instance | class | R | S | model | status | objective | bound | gap | time (s) | "
        "to 1 % (s) | iterations | MB | check |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gap = r.get("gap")
        lines.append(
            f"| {r['instance']} | {r.get('class') or ''} | {_fmt(r.get('release_factor'), 'g')} | "
            f"{_fmt(r.get('slack_factor'), 'g')} | {r['model']} | {r['status']} | "
            f"{_fmt(r.get('objective'), ',.0f')} | {_fmt(r.get('bound'), ',.0f')} | "
            f"{'' if gap is None or not math.isfinite(gap) else f'{100 * gap:.2f} %'} | "
            f"{_fmt(r.get('time_s'), '.1f')} | {_fmt(to_gap_s(r), '.1f')} | "
            f"{_fmt(r.get('iterations'), '.0f')} | {_fmt(r.get('peak_mb'), '.0f')} | "
            f"{'' if r.get('check_ok') is None else r['check_ok']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run (or re-read) the benchmark and write the report and the CSV."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subset", choices=TIERS, default="standard")
    p.add_argument("--models", default="ddd,time")
    p.add_argument("--method", default="ddd", help="the model the targets are for")
    p.add_argument("--full", default="time", help="the full time-expanded model to compare with")
    p.add_argument("--step-minutes", type=float, default=15.0)
    p.add_argument("--time-limit", type=float, default=600.0)
    p.add_argument("--gap", type=float, default=TARGET_GAP)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--shard", default="1/1", help="K/N: every N-th instance from the K-th")
    p.add_argument("--data", type=Path, default=shipped_folder())
    p.add_argument("--out", type=Path, default=RESULTS / "ctsnd")
    p.add_argument("--from-csv", type=Path, action="append", default=[])
    args = p.parse_args()
    if args.from_csv:
        rows = [r for path in args.from_csv for r in read_csv(path)]
        rows.sort(key=lambda r: r["instance"])  # shards side by side: instance order again
        limits = {float(r["time_limit_s"]) for r in rows if r.get("time_limit_s") is not None}
        time_limit = max(limits, default=args.time_limit)
    else:
        k, n = (int(x) for x in args.shard.split("/"))
        chosen = select(list_instances(args.data), args.subset)[k - 1 :: n]
        models = [m.strip() for m in args.models.split(",") if m.strip()]
        solve = SolveOptions(
            time_limit_s=args.time_limit, mip_rel_gap=args.gap, threads=args.threads or None
        )
        run = RunOptions(step_minutes=args.step_minutes, solve=solve, prices=False)
        # numba compiled and cached on the smallest file first: every recorded run is warm
        small = min(chosen, key=lambda c: c.path.stat().st_size).path
        quick = replace(run, solve=replace(solve, time_limit_s=30.0))
        warm_up(small, models, quick)
        rows = run_bench(
            chosen,
            models,
            args.out,
            BenchOptions(run=run),
            progress=lambda r: print(
                f"{r['instance']:>16} {r['class']:<6} {r['model']:<8} {r['status']:<14} "
                f"{r['objective']} {r['time_s']:.1f}s",
                flush=True,
            ),
        )
        time_limit = args.time_limit
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_csv(rows, RESULTS / "ctsnd.csv")
    target = RESULTS / "ctsnd.md"
    old = target.read_text(encoding="utf-8") if target.exists() else ""
    notes = old[old.find(NOTES) :] if NOTES in old else ""  # hand-written notes are kept
    target.write_text(report(rows, time_limit, args.method, args.full) + notes, encoding="utf-8")
    print(f"wrote {target} and {RESULTS / 'ctsnd.csv'}")


if __name__ == "__main__":
    main()
