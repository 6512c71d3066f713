"""Batch throughput: 32 generated weekly instances with 1 and 2 local workers and a 2-worker Dask
LocalCluster, single-threaded jobs; writes benchmarks/results/batch_scale.md and .csv.

    /tmp/venv/bin/python benchmarks/batch_scale.py [--n 32] [--nodes 120] [--lots 450]

Each configuration runs ``allocator batch`` as a fresh process (as a cron job would), into its own
output folder, so the wall time includes starting the workers (and the cluster). Per job, the
ledger has the time inside the worker (``total_seconds``) and the parent's time from submitting
the job to recording its result (``wall_seconds``): their difference is the executor's overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from allocator.batch import ledger
from allocator.instance.generate import generate_instance
from allocator.instance.io import write_instance

HERE = Path(__file__).resolve().parent
CONFIGS = [
    ("local, 1 worker", ["--workers", "1"]),
    ("local, 2 workers", ["--workers", "2"]),
    ("dask LocalCluster, 2 workers", ["--scheduler", "dask", "--workers", "2"]),
]


def _instances(folder: Path, n: int, nodes: int, lots: int) -> list[Path]:
    paths = [folder / f"week{i:02d}" for i in range(n)]
    for i, p in enumerate(paths):
        if not (p / "instance.toml").exists():
            write_instance(generate_instance(nodes=nodes, lots=lots, seed=1000 + i), p)
    return paths


def _run(name: str, extra: list[str], instances: Path, out: Path) -> dict[str, object]:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "allocator", "batch", str(instances), "--out", str(out)]
    cmd += ["--threads", "1", "--quiet", *extra]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed ({proc.returncode}):\n{proc.stderr}")
    after = os.getloadavg()[0]
    (out / "bench.json").write_text(json.dumps({"wall_s": wall, "load": [load, after]}))
    print(f"{name}: {wall:.1f} s wall", flush=True)
    return _summary(name, out)


def _summary(name: str, out: Path) -> dict[str, object]:
    """A configuration's figures from its ledger and bench.json (so a run can be reused)."""
    saved = json.loads((out / "bench.json").read_text())
    wall, (load, after) = saved["wall_s"], saved["load"]
    rows = ledger.rows(out)
    job = [r["total_seconds"] for r in rows]
    overhead = [r["wall_seconds"] - r["total_seconds"] for r in rows]
    return {
        "configuration": name,
        "jobs": len(rows),
        "succeeded": sum(r["status"] == "succeeded" for r in rows),
        "wall_s": wall,
        "jobs_per_min": 60 * len(rows) / wall,
        "mean_job_s": statistics.mean(job),
        "min_job_s": min(job),
        "median_overhead_s": statistics.median(overhead),
        "mean_overhead_s": statistics.mean(overhead),
        "load_avg_1min_before": load,
        "load_avg_1min_after": after,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--nodes", type=int, default=120)
    ap.add_argument("--lots", type=int, default=450)
    ap.add_argument("--work", type=Path, default=Path("/tmp/allocator-batch-scale"))
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument(
        "--configs",
        default="0,1,2",
        help="Configurations to run (0: 1 worker, 1: 2 workers, 2: Dask); the others are "
        "summarised from their last run's folder under --work (re-run one that was disturbed).",
    )
    args = ap.parse_args()
    folder = args.work / "instances"
    _instances(folder, args.n, args.nodes, args.lots)
    chosen = {int(c) for c in args.configs.split(",") if c.strip()}
    results = [
        _run(name, extra, folder, args.work / f"out{i}")
        if i in chosen
        else _summary(name, args.work / f"out{i}")
        for i, (name, extra) in enumerate(CONFIGS)
    ]
    frame = pd.DataFrame(results)
    one, two, dask = (r["wall_s"] for r in results)
    frame["speedup_vs_1_worker"] = one / frame["wall_s"]
    args.results.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.results / "batch_scale.csv", index=False, float_format="%.3f")
    dask_per_job = (dask - two) / args.n
    dask_job = results[2]["median_overhead_s"] - results[1]["median_overhead_s"]
    lines = [
        "# Batch throughput: local processes and Dask",
        "",
        f"`benchmarks/batch_scale.py`: {args.n} generated instances ({args.nodes} nodes, "
        f"{args.lots} lots, seeds 1000..{1000 + args.n - 1}), `allocator batch --threads 1` "
        f"(single-threaded HiGHS), on a {os.cpu_count()}-core machine. Wall time of the whole "
        "command, including starting the worker processes or the cluster.",
        "",
        "| configuration | jobs | wall s | jobs/min | speed-up vs 1 worker | mean job s "
        "| min job s | median overhead per job s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r, speed in zip(results, frame["speedup_vs_1_worker"], strict=True):
        lines.append(
            f"| {r['configuration']} | {r['jobs']} | {r['wall_s']:.1f} | {r['jobs_per_min']:.1f} "
            f"| {speed:.2f} | {r['mean_job_s']:.2f} | {r['min_job_s']:.2f} "
            f"| {r['median_overhead_s']:.3f} |"
        )
    lines += [
        "",
        f"* Throughput with 2 workers: **{one / two:.2f}x** one worker (target >= 1.8x).",
        f"* Dask overhead per job: **{dask_per_job:.3f} s** as (Dask wall - local 2-worker wall)"
        f" / {args.n}, **{dask_job:.3f} s** as the difference of the median per-job overheads "
        "(parent's submit-to-result time minus the time inside the worker); target < 0.5 s.",
        "* 1-minute load average before each run: "
        + ", ".join(f"{r['load_avg_1min_before']:.2f}" for r in results)
        + " (the machine is shared: a load above the cores means other work competed).",
    ]
    (args.results / "batch_scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
