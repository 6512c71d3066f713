"""Dynamic discretization discovery against the full time-expanded model at fixed steps, in one run
on the same timed instances; writes benchmarks/results/time.md and time.csv.

    python benchmarks/time.py [--time-limit 300] [--gap 0.01] [--steps 60,15,5] [--out DIR]
                              [--instances NAME,NAME,...]

Every (instance, model, step) runs in its own process through ``allocator bench`` (time limit,
peak memory, the checker on every plan). ``ddd`` is exact to the minute; the ``time`` model at a
step rounds leg times and releases up and due times down, so its optimum is that of a restricted
problem, at or above the continuous-time optimum, and its gap is against its own bound. The table
therefore gives each run's own gap and time to 1 % of it, and each plan's cost above the best
continuous-time bound of the run (ddd's, which holds for every step).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from allocator.instance.ctsnd import list_instances, shipped_folder
from allocator.options import RunOptions
from allocator.research.bench import BenchOptions, cpu_note, run_bench, warm_up, write_csv
from allocator.solve import SolveOptions, solver_version

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEFAULT = (
    "c33_.1111_.25_1",  # LC/HF, 39 lots
    "c35_.1666_.25_1",  # LC/LF
    "c49_.1111_.5_3",  # LC/LF
    "c52_.1111_.25_1",  # HC/LF
    "c47_.1666_.25_3",  # HC/LF
)
TARGET_GAP = 0.01
NOTES = "\n## Notes"  # from this heading on, time.md is hand-written and survives a re-run


def label(row: dict[str, Any]) -> str:
    step = row.get("step_minutes")
    return f"time {float(step):g} min" if row["model"] == "time" else str(row["model"])


def num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def markdown(rows: list[dict[str, Any]], limit: float, gap: float, steps: list[int]) -> str:
    lines = [
        "# Dynamic discretization discovery against the full time-expanded model",
        "",
        f"Written by `benchmarks/time.py`: {len(rows)} runs, limit {limit:g} s each, requested "
        f"gap {gap:.2%}, HiGHS {solver_version()}, {cpu_note()}. Every run is warm: the numba "
        "kernels were compiled and cached by an unrecorded run first. Instances: timed Canad (CTSND) "
        "files shipped in benchmarks/data/ctsnd (dispatch on demand, whole lots, release and due "
        "times in minutes).",
        "",
        "`ddd` is exact to the minute. `time N min` rounds leg times and releases up and due "
        "times down to its step: its optimum is that of a restricted problem, at or above the "
        "continuous-time optimum, and its gap is against its own bound. *Above bound* is the "
        "plan's cost above the best continuous-time bound of the instance (ddd's).",
        "",
        "| instance | model | status | plan | own bound | own gap | time to 1 % (s) | above bound "
        "| time (s) | peak memory (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    by_inst: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_inst.setdefault(r["instance"], []).append(r)
    ratios, mems = {s: [] for s in steps}, {s: [] for s in steps}
    for name, rs in by_inst.items():
        bounds = [num(r["bound"]) for r in rs if r["model"] == "ddd"]
        best = max([b for b in bounds if math.isfinite(b)], default=math.nan)
        ddd = next((r for r in rs if r["model"] == "ddd"), None)
        for r in rs:
            obj = num(r["objective"])
            above = (
                (obj - best) / abs(obj) if math.isfinite(obj) and math.isfinite(best) else math.nan
            )
            ttg = num(r.get("time_to_gap_s"))
            lines.append(
                f"| {name} | {label(r)} | {r['status']} | "
                f"{obj:,.0f} | {num(r['bound']):,.0f} | {num(r['gap']):.2%} | "
                f"{'—' if not math.isfinite(ttg) else f'{ttg:.1f}'} | "
                f"{'—' if not math.isfinite(above) else f'{above:.2%}'} | "
                f"{num(r['time_s']):.1f} | {num(r['peak_mb']):,.0f} |"
            )
            if ddd is not None and r["model"] == "time":
                step = int(num(r["step_minutes"]))
                t_ddd, t_full = num(ddd.get("time_to_gap_s")), ttg
                if math.isfinite(t_ddd) and math.isfinite(t_full) and t_ddd > 0:
                    ratios[step].append(t_full / t_ddd)
                m_ddd, m_full = num(ddd["peak_mb"]), num(r["peak_mb"])
                if m_ddd > 0 and math.isfinite(m_full):
                    mems[step].append(m_full / m_ddd)
    lines += [
        "",
        "Time to 1 % and peak memory of the full model over ddd's, geometric mean over the "
        "instances both reach 1 % (time) or both ran (memory):",
        "",
        "| step | instances | time ratio (full / ddd) | memory ratio (full / ddd) |",
        "|---|---|---|---|",
    ]
    for s in steps:
        t, m = ratios[s], mems[s]
        gt = math.exp(sum(map(math.log, t)) / len(t)) if t else math.nan
        gm = math.exp(sum(map(math.log, m)) / len(m)) if m else math.nan
        lines.append(f"| {s} min | {len(t)} | {gt:.2f} | {gm:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--gap", type=float, default=TARGET_GAP)
    ap.add_argument("--steps", default="60,15,5")
    ap.add_argument("--instances", default=",".join(DEFAULT))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("out/bench-time"))
    args = ap.parse_args()
    steps = [int(s) for s in args.steps.split(",") if s.strip()]
    wanted = [n.strip() for n in args.instances.split(",") if n.strip()]
    shipped = {i.name: i for i in list_instances(shipped_folder())}
    chosen = [shipped[n] for n in wanted]
    solve = SolveOptions(time_limit_s=30, mip_rel_gap=args.gap, threads=args.threads)
    cold = warm_up(
        chosen[0].path, ["ddd", "time"], RunOptions(step_minutes=60, solve=solve, prices=False)
    )
    print(f"warm-up (numba compile, unrecorded): {cold:.1f} s", flush=True)
    rows: list[dict[str, Any]] = []
    for model, step in [("ddd", None), *[("time", s) for s in steps]]:
        solve = SolveOptions(
            time_limit_s=args.time_limit, mip_rel_gap=args.gap, threads=args.threads
        )
        run = RunOptions(step_minutes=step, solve=solve, prices=False)
        out = args.out / (model if step is None else f"{model}-{step}")
        rows += run_bench(chosen, [model], out, BenchOptions(run=run))
    rows.sort(
        key=lambda r: (wanted.index(r["instance"]), r["model"] != "ddd", -num(r["step_minutes"]))
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / "time.md"
    old = target.read_text(encoding="utf-8") if target.exists() else ""
    notes = old[old.index(NOTES) :] if NOTES in old else ""  # hand-written: kept
    target.write_text(markdown(rows, args.time_limit, args.gap, steps) + notes, encoding="utf-8")
    write_csv(rows, RESULTS / "time.csv")
    print((RESULTS / "time.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
