"""Model build and hand-off speed: preprocess (cold/warm), build, hand-off, solve, against baselines.

For generated instances from ~1e3 to ~1e6 flow variables, each size in its own process:
* preprocess cold (numba compiling into an empty cache), from the on-disk cache, and warm;
* Pyomo build (recipe arc-strong), hand-off (standard-form compile + bulk highspy), HiGHS solve;
* the floor: the same matrix built straight into highspy with numpy (benchmarks/floor.py);
* the plain Pyomo baseline (benchmarks/plain_pyomo.py, appsi_highs, no preprocessing), up to 1e5.
Due days are dropped so that the engine and the baseline solve the same problem.

    python benchmarks/build_speed.py [--sizes 1e3,1e4,1e5,1e6] [--baseline-max 1e5]

writes benchmarks/results/build_speed.csv and .md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SIZES = {"1e3": (14, 20), "1e4": (40, 80), "1e5": (80, 450), "1e6": (200, 2000)}
TIME_LIMIT = 120.0
REPEATS = 3  # build, hand-off and floor are medians of this many


def instance(label: str):
    from allocator.instance.generate import generate_instance

    n, k = SIZES[label]
    inst = generate_instance(nodes=n, lots=k, seed=7)
    cargo = inst.cargo.assign(due_days=np.nan)
    return dataclasses.replace(inst, cargo=cargo)


def cold_preprocess(label: str) -> dict:
    """Preprocess in fresh processes: first with an empty numba cache, then with the cache filled."""
    code = (
        f"import time,sys; sys.path.insert(0, {str(HERE)!r}); from build_speed import instance; "
        f"inst = instance({label!r}); from allocator.preprocess import preprocess; "
        "t=time.perf_counter(); preprocess(inst); a=time.perf_counter()-t; "
        "t=time.perf_counter(); preprocess(inst); b=time.perf_counter()-t; print(a, b)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        first = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        second = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
    cold, warm = map(float, first.stdout.split())
    cached, _ = map(float, second.stdout.split())
    return {"preprocess_cold_s": cold, "preprocess_cached_s": cached, "preprocess_warm_s": warm}


def one(label: str, baseline: bool) -> dict:
    sys.path.insert(0, str(HERE))
    from floor import build_highspy
    from plain_pyomo import build_plain, solve_plain

    from allocator.formulation import arc_data, build, load_recipe
    from allocator.preprocess import preprocess
    from allocator.solve import SolveOptions, solve
    from allocator.solve.compile import compile_model
    from allocator.solve.highs import highs_model

    inst = instance(label)
    row: dict = {
        "size": label,
        "nodes": len(inst.nodes),
        "legs": len(inst.legs),
        "lots": len(inst.cargo),
    }
    preprocess(inst)  # warm-up: compiled kernels in memory
    t_all = time.perf_counter()
    t = time.perf_counter()
    pre = preprocess(inst)
    row["preprocess_s"] = time.perf_counter() - t
    t = time.perf_counter()
    built = build(inst, pre, load_recipe("arc-strong"))
    row["build_s"] = time.perf_counter() - t
    res = solve(built, SolveOptions(time_limit_s=TIME_LIMIT, mip_rel_gap=1e-4, threads=1))
    row["end_to_end_s"] = time.perf_counter() - t_all
    row.update(
        handoff_s=res.handoff_seconds,
        solve_s=res.solve_seconds,
        status=str(res.termination),
        objective=res.objective,
        n_vars=res.n_vars,
        n_cons=res.n_cons,
        nnz=res.n_nonzeros,
        flow_vars=pre.n_flow_vars,
        root_bound=res.root_bound,
    )
    builds, handoffs, floors = [row["build_s"]], [row["handoff_s"]], []
    for _ in range(REPEATS):
        t = time.perf_counter()
        h = build_highspy(arc_data(inst, pre), pre.net)
        floors.append(time.perf_counter() - t)
    for _ in range(REPEATS - 1):
        t = time.perf_counter()
        m2 = build(inst, pre, load_recipe("arc-strong"))
        builds.append(time.perf_counter() - t)
        t = time.perf_counter()
        highs_model(compile_model(m2.model, m2.column_bounds), SolveOptions().under())
        handoffs.append(time.perf_counter() - t)
        del m2
    row["build_s"], row["handoff_s"] = float(np.median(builds)), float(np.median(handoffs))
    row["floor_s"] = float(np.median(floors))
    row["floor_cols"] = h.getNumCol()
    row["floor_rows"] = h.getNumRow()
    row["ratio_build_handoff_vs_floor"] = (row["build_s"] + row["handoff_s"]) / row["floor_s"]
    if baseline:
        t = time.perf_counter()
        pm = build_plain(inst)
        row["plain_build_s"] = time.perf_counter() - t
        row["plain_vars"] = pm.flow.__len__()
        t = time.perf_counter()
        row["plain_objective"] = solve_plain(pm, TIME_LIMIT, 1e-4)
        row["plain_solve_s"] = time.perf_counter() - t
        row["plain_end_to_end_s"] = row["plain_build_s"] + row["plain_solve_s"]
        row["speedup_end_to_end"] = row["plain_end_to_end_s"] / row["end_to_end_s"]
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1e3,1e4,1e5,1e6")
    ap.add_argument("--baseline-max", default="1e5")
    ap.add_argument("--one")
    ap.add_argument("--baseline", action="store_true")
    ap.add_argument("--render", action="store_true", help="only rewrite the markdown from the CSV")
    args = ap.parse_args()
    if args.render:
        rerender()
        return
    if args.one:
        print(json.dumps(one(args.one, args.baseline)))
        return
    rows = []
    for label in args.sizes.split(","):
        row = cold_preprocess(label)
        cmd = [sys.executable, __file__, "--one", label]
        if float(label) <= float(args.baseline_max):
            cmd.append("--baseline")
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        row.update(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(row), flush=True)
        rows.append(row)
    frame = pd.DataFrame(rows)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    frame.to_csv(results / "build_speed.csv", index=False)
    (results / "build_speed.md").write_text(render(frame))


def rerender() -> None:
    """Rewrite the markdown from the CSV of the last run (``--render``)."""
    results = HERE / "results"
    frame = pd.read_csv(results / "build_speed.csv", dtype={"size": str})
    (results / "build_speed.md").write_text(render(frame))


def render(f: pd.DataFrame) -> str:
    import highspy
    import numba
    import pyomo

    cols = [
        "size",
        "flow_vars",
        "n_vars",
        "n_cons",
        "nnz",
        "preprocess_cold_s",
        "preprocess_cached_s",
        "preprocess_warm_s",
        "build_s",
        "handoff_s",
        "floor_s",
        "ratio_build_handoff_vs_floor",
        "solve_s",
        "status",
        "end_to_end_s",
        "plain_vars",
        "plain_end_to_end_s",
        "speedup_end_to_end",
        "objective",
        "plain_objective",
        "peak_rss_mb",
    ]
    cols = [c for c in cols if c in f.columns]
    lines = [
        "# Build and hand-off speed (arc-strong, generated instances, due days dropped)",
        "",
        f"Machine: {os.cpu_count()} cores. pyomo {pyomo.version.version}, highspy {highspy.Highs().version()}, "
        f"numba {numba.__version__}. HiGHS threads=1, time limit {TIME_LIMIT:g} s, gap 1e-4.",
        "Produced by `python benchmarks/build_speed.py`; every size runs in its own process.",
        "",
        "* preprocess cold = first call with an empty numba cache (compiles); cached = first call in a new",
        "  process with the on-disk cache; warm = second call in the same process.",
        "* floor = the same matrix built straight into highspy with numpy (benchmarks/floor.py).",
        "* plain = hand-written Pyomo model without preprocessing, SolverFactory('appsi_highs').",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for row in f[cols].itertuples(index=False):
        cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    by = f.set_index("size")
    lines += ["", "## Targets", ""]
    if "1e5" in by.index and "speedup_end_to_end" in by.columns:
        v = by.at["1e5", "speedup_end_to_end"]
        lines.append(
            f"* end to end >= 5x faster than plain Pyomo at 1e5: **{v:.2f}x** ({'met' if v >= 5 else 'not met'})"
        )
    worst = by["ratio_build_handoff_vs_floor"].max()
    lines.append(
        f"* build + hand-off <= 60x the floor: worst **{worst:.0f}x** ({'met' if worst <= 60 else 'not met'}), "
        + ", ".join(f"{k} {v:.0f}x" for k, v in by["ratio_build_handoff_vs_floor"].items())
    )
    lines.append(
        f"* 1-minute load average when this file was written: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
