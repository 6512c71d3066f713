"""Run the planar and grid linear multicommodity flow instances and write benchmarks/results/mcnf.md.

    python benchmarks/mcnf.py [--models colgen] [--time-limit 600] [--subset planar30,grid1]
                              [--out out/mcnf] [--baseline-max-columns 1e7] [--no-baseline]

Every (instance, model) pair runs through `allocator bench` machinery (allocator.research.bench:
its own spawned process, killed at time limit + grace, peak RSS of that process). In the same run,
every instance is also solved by the baseline: the plain arc LP with commodities aggregated by
origin (one flow per (origin, arc)), built from numpy arrays and solved by scipy
``linprog(method="highs-ds")`` (HiGHS dual simplex) with the same time limit, each instance in its
own spawned process too (killed at limit + grace; peak RSS measured there). Instances whose
baseline LP has more than ``--baseline-max-columns`` columns (planar2500: 32 million) are not given
to the baseline. The report compares every objective with the reference optima of
benchmarks/data/mcnf/README.md (exact, to the unit) and with the literature values recorded
below (with their source), and marks a run over fewer than the 25 instances as partial.
The raw bench output (bench.csv, runs.sqlite, summary.md) goes to ``--out``; the table to
benchmarks/results/mcnf.md and benchmarks/results/mcnf.csv.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy
from scipy.optimize import linprog
from scipy.sparse import coo_array, csr_array

# Only what the baseline needs at module level: its spawned process imports this module, and
# its peak memory should not carry the solver stack it does not use.
from allocator.batch.job import peak_rss_mb
from allocator.instance.mcnf import Mcnf, parse_mcnf

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "benchmarks" / "data" / "mcnf"
RESULTS = REPO / "benchmarks" / "results"
INSTANCES = [
    *(f"planar{n}" for n in (30, 50, 80, 100, 150, 300, 500, 800, 1000, 2500)),
    *(f"grid{i}" for i in range(1, 16)),
]
"""The 25 instances, smallest first within each family."""

REFERENCE: dict[str, float] = {
    "grid1": 827_319.0,
    "grid2": 1_705_378.0,
    "grid3": 1_524_642.0,
    "grid4": 3_031_695.0,
    "grid5": 5_049_688.5,
    "grid6": 10_401_782.0,
    "planar30": 44_350_624.0,
    "planar50": 122_199_689.0,
    "planar80": 182_438_134.0,
    "planar100": 231_339_582.0,
}
"""Optima of benchmarks/data/mcnf/README.md: an independent numpy/scipy model solved by HiGHS,
exact to the unit."""

LITERATURE: dict[str, float] = {
    "grid1": 827_319.0,
    "grid2": 1_705_378.0,
    "grid3": 1_524_642.0,
    "grid4": 3_031_695.0,
    "grid5": 5_049_688.5,
    "grid6": 10_401_782.0,
    "grid7": 25_864_036.571,
    "grid8": 41_711_150.624,
    "grid9": 82_652_982.047,
    "grid10": 164_110_897.177,
    "grid11": 329_258_288.490,
    "grid12": 577_186_503.577,
    "grid13": 1_159_320_960.713,
    "grid14": 1_802_673_008.461,
    "grid15": 3_593_521_779.918,
    "planar30": 44_350_624.0,
    "planar50": 122_199_689.0,
    "planar80": 182_438_133.402,
    "planar100": 231_339_581.854,
    "planar150": 548_087_088.987,
    "planar300": 689_979_137.991,
    "planar500": 481_982_340.002,
    "planar800": 1_167_371_383.098,
    "planar1000": 3_449_610_922.073,
    "planar2500": 12_662_328_108.326,
}
LITERATURE_SOURCE = (
    "reference optima shipped with the column-generation code of S. Spoorendonk and B. Petersen, "
    '"Tree-based formulation for the multi-commodity flow problem", arXiv:2509.24656 (2025): '
    "GitHub spoorendonk/mcfcg, data/commalab/grid/optimal.csv and data/commalab/planar/optimal.csv "
    "(commit f904d94), for their copies of the Larsson-Yuan files from the Pisa MMCF page; that "
    "repository checks its compact-LP solves with COPT, HiGHS and MOSEK against them "
    "(results/mps_compact_baseline.csv). Computed values given to 3 decimals, some to a solver "
    "tolerance (planar80 182,438,133.402 against the exact 182,438,134), so compared at 1e-6 "
    "relative. The table of Babonneau, du Merle and Vial (2006) was not found in a readable source."
)
"""Where LITERATURE comes from (see LITERATURE_SOURCE)."""

LITERATURE_TOL = 1e-6  # relative
REFERENCE_TOL = 0.5  # absolute: the README optima are exact to the unit
GRACE_S = 30.0


# ---------------------------------------------------------------- the baseline


def origin_lp(d: Mcnf) -> tuple[np.ndarray, csr_array, np.ndarray, csr_array, np.ndarray]:
    """The plain arc LP of ``d`` with commodities aggregated by origin, as scipy arrays.

    One column per (origin, arc), cost = the arc's unit cost; one balance row per (origin, node):
    out-flow minus in-flow = the origin's total demand at the origin, minus the demand to a node
    at that destination, 0 elsewhere (``A_eq x = b_eq``); one joint capacity row per arc
    (``A_ub x <= b_ub``). Returns ``c, A_eq, b_eq, A_ub, b_ub``.
    """
    n, m = d.n_nodes, len(d.arcs)
    tail = d.arcs[:, 0].astype(np.int64) - 1
    head = d.arcs[:, 1].astype(np.int64) - 1
    origin = d.commodities[:, 0].astype(np.int64) - 1
    dest = d.commodities[:, 1].astype(np.int64) - 1
    demand = d.commodities[:, 2] * d.scale
    origins, group = np.unique(origin, return_inverse=True)
    r = len(origins)
    col = np.arange(r * m, dtype=np.int64)
    g, a = col // m, col % m
    a_eq = coo_array(
        (
            np.concatenate([np.ones(r * m), -np.ones(r * m)]),
            (np.concatenate([g * n + tail[a], g * n + head[a]]), np.concatenate([col, col])),
        ),
        shape=(r * n, r * m),
    ).tocsr()
    b_eq = np.zeros(r * n)
    np.add.at(b_eq, group * n + origin, demand)
    np.add.at(b_eq, group * n + dest, -demand)
    a_ub = coo_array((np.ones(r * m), (a, col)), shape=(m, r * m)).tocsr()
    return np.tile(d.arcs[:, 2], r), a_eq, b_eq, a_ub, d.arcs[:, 3].copy()


def baseline_columns(d: Mcnf) -> int:
    """Columns of ``origin_lp(d)``: distinct origins times arcs."""
    return len(np.unique(d.commodities[:, 0])) * len(d.arcs)


def solve_origin_lp(d: Mcnf, time_limit_s: float) -> dict[str, Any]:
    """Build and solve ``origin_lp(d)`` with HiGHS dual simplex (scipy); status and objective."""
    c, a_eq, b_eq, a_ub, b_ub = origin_lp(d)
    res = linprog(
        c,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=(0, None),
        method="highs-ds",
        options={"time_limit": float(time_limit_s)},
    )
    status = {0: "optimal", 1: "time_limit", 2: "infeasible", 3: "unbounded"}.get(
        res.status, "error"
    )
    objective = float(res.fun) if res.status == 0 else None
    return {"status": status, "objective": objective, "columns": len(c)}


def _baseline_child(path: str, time_limit_s: float, out: Any) -> None:
    row: dict[str, Any] = {}
    t0 = time.perf_counter()
    try:
        row = solve_origin_lp(parse_mcnf(path), time_limit_s)
    except Exception as exc:  # report, never hang the parent
        row = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    row["time_s"] = time.perf_counter() - t0
    row["peak_mb"] = peak_rss_mb()
    out.put(row)


def run_baseline(path: Path, time_limit_s: float, grace_s: float = GRACE_S) -> dict[str, Any]:
    """The baseline on one instance in its own spawned process, killed at limit + grace."""
    from allocator.research.bench import run_killable

    return run_killable(_baseline_child, (str(path), time_limit_s), time_limit_s + grace_s)


# ---------------------------------------------------------------- the report


def match(name: str, objective: float | None) -> str:
    """``yes`` / ``NO`` against the reference optimum (to the unit), else the literature value
    (1e-6 relative); empty without an objective or a known value."""
    if objective is None or not math.isfinite(objective):
        return ""
    if name in REFERENCE:
        return "yes" if abs(objective - REFERENCE[name]) <= REFERENCE_TOL else "NO"
    if name in LITERATURE:
        ref = LITERATURE[name]
        return "yes" if abs(objective - ref) <= LITERATURE_TOL * abs(ref) else "NO"
    return ""


def _num(v: Any) -> float | None:
    if v is None or v == "":
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _fmt(v: float | None, spec: str) -> str:
    return "" if v is None else format(v, spec)


def report(rows: list[dict[str, Any]], models: list[str], time_limit: float) -> str:
    """The markdown report: one line per instance, every model and the baseline side by side."""
    from allocator.research.bench import shifted_geomean
    from allocator.solve import solver_version

    names = list(dict.fromkeys(r["instance"] for r in rows))
    partial = len(names) < len(INSTANCES)
    by = {(r["instance"], r["method"]): r for r in rows}
    methods = [*models, "baseline"]
    head = "# Linear multicommodity flow (planar, grid): optimum found vs reference"
    lines = [head + (" — PARTIAL RUN" if partial else ""), ""]
    if partial:
        missing = [i for i in INSTANCES if i not in names]
        lines += [
            f"**Partial run: {len(names)} of the {len(INSTANCES)} instances** "
            f"(not run: {', '.join(missing)}). Not a result for the full set.",
            "",
        ]
    lines += [
        f"HiGHS {solver_version()}, time limit {time_limit:g} s per run, each run in its own "
        "process on this project's 2-vCPU machine shared with other work (`benchmarks/mcnf.py`), "
        "after one untimed warm-up solve (numba's kernels compiled and cached). "
        f"Models: {', '.join(models)} through `allocator bench` (time = read + preprocess + build "
        "+ solve + extract). Baseline: the plain arc LP with commodities aggregated by origin, "
        f"built from numpy arrays and solved by scipy {scipy.__version__} "
        "`linprog(method='highs-ds')` (its own HiGHS, dual simplex), same time limit (time = read + build + solve). MB = peak RSS of the run's "
        "process.",
        "",
        "Reference: `benchmarks/data/mcnf/README.md` (exact to the unit). Literature: "
        + LITERATURE_SOURCE,
        "",
        "| instance | nodes | arcs | commodities | reference | literature | "
        + " | ".join(f"{m} status | {m} objective | {m} s | {m} MB | {m} match" for m in methods)
        + " |",
        "|---|---|---|---|---|---|" + "---|---|---|---|---|" * len(methods),
    ]
    for name in names:
        first = next(r for r in rows if r["instance"] == name)
        cells = []
        for m in methods:
            r = by.get((name, m), {})
            obj = _num(r.get("objective"))
            cells.append(
                f"{r.get('status', '')} | {_fmt(obj, ',.2f')} | {_fmt(_num(r.get('time_s')), '.1f')}"
                f" | {_fmt(_num(r.get('peak_mb')), '.0f')} | {match(name, obj) if r else ''}"
            )
        lines.append(
            f"| {name} | {first['nodes']:,} | {first['arcs']:,} | {first['commodities']:,} | "
            f"{_fmt(REFERENCE.get(name), ',.1f')} | {_fmt(LITERATURE.get(name), ',.3f')} | "
            + " | ".join(cells)
            + " |"
        )
    lines += [
        "",
        "Shifted geometric mean of time (shift 10 s; a run not optimal counts at the time limit):",
        "",
        "| method | runs | optimal | matching | shifted geomean (s) |",
        "|---|---|---|---|---|",
    ]
    for m in methods:
        mine = [by[(i, m)] for i in names if (i, m) in by]
        if not mine:
            continue
        solved = [r.get("status") == "optimal" for r in mine]
        times = [
            min(float(r["time_s"]), time_limit) if ok else time_limit
            for r, ok in zip(mine, solved, strict=True)
        ]
        hits = sum(match(r["instance"], _num(r.get("objective"))) == "yes" for r in mine)
        lines.append(
            f"| {m} | {len(mine)} | {sum(solved)} | {hits} | {shifted_geomean(times):.2f} |"
        )
    return "\n".join(lines) + "\n"


CSV_COLUMNS = [
    "instance",
    "nodes",
    "arcs",
    "commodities",
    "method",
    "status",
    "objective",
    "time_s",
    "time_limit_s",
    "peak_mb",
    "match",
    "error",
]


def main() -> None:
    """Run the models and the baseline and write the report."""
    from allocator.options import RunOptions
    from allocator.research.bench import BenchOptions, run_bench
    from allocator.solve import SolveOptions

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="colgen", help="comma-separated allocator models")
    p.add_argument("--time-limit", type=float, default=600.0)
    p.add_argument("--subset", default="", help="comma-separated instance names (default: all 25)")
    p.add_argument("--out", type=Path, default=REPO / "out" / "mcnf")
    p.add_argument("--baseline-max-columns", type=float, default=1e7)
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument(
        "--baseline-factor",
        type=float,
        default=0.0,
        help="stop the baseline at this many times the first model's time on the instance (a "
        "baseline stopped there is at least that many times slower); 0: the time limit",
    )
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()

    names = [n for n in args.subset.split(",") if n] or INSTANCES
    unknown = sorted(set(names) - set(INSTANCES))
    if unknown:
        p.error(f"unknown instances: {', '.join(unknown)}")
    names = [n for n in INSTANCES if n in names]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    parsed = {n: parse_mcnf(DATA / n) for n in names}
    size = {
        n: {"nodes": d.n_nodes, "arcs": len(d.arcs), "commodities": len(d.commodities)}
        for n, d in parsed.items()
    }
    solve = SolveOptions(time_limit_s=args.time_limit, threads=args.threads or None)
    opts = BenchOptions(run=RunOptions(solve=solve, prices=False), grace_s=GRACE_S)
    rows: list[dict[str, Any]] = []

    def show(r: dict[str, Any]) -> None:
        print(
            f"{r['instance']:>10} {r['method']:<10} {r['status']:<14} {r.get('objective')} "
            f"{float(r.get('time_s') or 0):.1f}s {float(r.get('peak_mb') or 0):.0f}MB",
            flush=True,
        )

    files = [DATA / n for n in names]
    # one untimed solve first: numba compiles its kernels once per checkout (cold), and every
    # timed run below loads them from its cache (warm)
    list(run_bench([DATA / "planar30"], models, args.out / "warm-up", opts))
    for r in run_bench(
        files, models, args.out, opts, progress=lambda r: show(r | {"method": r["model"]})
    ):
        rows.append(r | size[r["instance"]] | {"method": r["model"]})
    for name in [] if args.no_baseline else names:  # the baseline, in the same run
        columns = baseline_columns(parsed[name])
        if columns > args.baseline_max_columns:
            r = {"status": "not run", "error": f"{columns:,} columns > --baseline-max-columns"}
        else:
            limit = args.time_limit
            mine = [x for x in rows if x["instance"] == name and x["method"] == models[0]]
            if args.baseline_factor > 0 and mine and mine[0].get("status") == "optimal":
                limit = min(limit, args.baseline_factor * float(mine[0]["time_s"]))
            r = run_baseline(DATA / name, limit) | {"time_limit_s": limit}
        rows.append(r | size[name] | {"instance": name, "method": "baseline"})
        show(rows[-1])

    RESULTS.mkdir(parents=True, exist_ok=True)
    with (RESULTS / "mcnf.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(r | {"match": match(r["instance"], _num(r.get("objective")))})
    target = RESULTS / "mcnf.md"
    target.write_text(report(rows, models, args.time_limit), encoding="utf-8")
    print(f"wrote {target} and {RESULTS / 'mcnf.csv'}")


if __name__ == "__main__":
    main()
