"""Benchmark runs: every (instance, model) pair in its own process, with tables and profiles.

Each pair runs in a fresh ``spawn`` process (so peak memory is that run's own and a stuck solve can
be killed): the solver gets ``time_limit`` seconds and the process is killed ``grace`` seconds after
that. A run that fails, is infeasible, stops without proving optimality or is killed counts at the
time limit in the shifted geometric means and as unsolved in the Dolan-More performance profile.

Every run is also recorded in the run ledger ``DIR/runs.sqlite`` (``allocator.batch.ledger``, the batch
ledger; ``allocator runs DIR`` lists it), one finished row per pair written when the pair ends.
"""

from __future__ import annotations

import csv
import glob
import json
import logging
import math
import multiprocessing as mp
import os
import queue
import socket
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from allocator.batch import ledger
from allocator.batch.executors import die_with_parent
from allocator.batch.job import peak_rss_mb
from allocator.errors import AllocatorError
from allocator.instance.ctsnd import CtsndInstance
from allocator.options import RunOptions
from allocator.solve import SolveOptions

logger = logging.getLogger(__name__)

SHIFT_S = 10.0
"""Shift of the shifted geometric mean of times (seconds), as in Mittelmann's benchmarks."""

REPORT_GAP = 0.01
"""Relative gap whose first time every run records (``time_to_gap_s``) when no gap is asked."""

COLUMNS = [
    "run_id",
    "instance",
    "path",
    "class",
    "base",
    "release_factor",
    "slack_factor",
    "model",
    "step_minutes",
    "status",
    "solved",
    "objective",
    "bound",
    "gap",
    "gap_target",
    "time_to_gap_s",
    "iterations",
    "root_bound",
    "nodes",
    "time_s",
    "build_s",
    "solve_s",
    "peak_mb",
    "n_vars",
    "n_cons",
    "n_nonzeros",
    "check_ok",
    "solver_version",
    "seed",
    "threads",
    "time_limit_s",
    "error",
    "progress",
]


def _bench_run() -> RunOptions:
    return RunOptions(solve=SolveOptions(time_limit_s=60.0), prices=False)


@dataclass(frozen=True)
class BenchOptions:
    """How to run a benchmark: what every run solves (``run``; its model is set per pair) and
    how the runs are timed. ``run.solve.time_limit_s`` must be set (every run gets the same limit;
    default 60 s); a process is killed ``grace_s`` seconds after it. ``seeds`` runs every pair once
    per HiGHS seed (overriding ``run.solve.seed``)."""

    run: RunOptions = field(default_factory=_bench_run)
    grace_s: float = 30.0
    seeds: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.run.solve.time_limit_s is None:
            raise ValueError("a benchmark needs a time limit (run.solve.time_limit_s)")

    @property
    def limit_s(self) -> float:
        """The solver time limit of every run, seconds."""
        return float(self.run.solve.time_limit_s or 0.0)

    @property
    def gap_target(self) -> float:
        """The gap of ``time_to_gap_s`` and ``reached_gap``: the requested relative gap
        (``run.solve.mip_rel_gap``), else ``REPORT_GAP``."""
        gap = self.run.solve.mip_rel_gap
        return REPORT_GAP if gap is None else float(gap)

    def with_seed(self, seed: int) -> BenchOptions:
        """These options with HiGHS seed ``seed``."""
        return replace(self, run=replace(self.run, solve=replace(self.run.solve, seed=seed)))


def expand(patterns: Sequence[str]) -> list[Path]:
    """Instance paths from globs (sorted per pattern, duplicates dropped, order kept)."""
    out: dict[Path, None] = {}
    for pattern in patterns:
        hits = sorted(glob.glob(pattern)) or ([pattern] if Path(pattern).exists() else [])
        if not hits:
            raise FileNotFoundError(f"no instance matches {pattern!r}")
        out.update(dict.fromkeys(Path(h) for h in hits))
    return list(out)


def instance_name(path: Path) -> str:
    """The instance's name: the file stem (``c33``), or the folder name."""
    return path.stem if path.suffix else path.name


def run_options(opts: BenchOptions, model: str) -> RunOptions:
    """What one pair runs: the bench's run options with ``model``; the time step
    (``step_minutes``) applies to the time family only, every other model runs as its recipe
    says."""
    from allocator.formulation import load_recipe

    step = opts.run.step_minutes if load_recipe(model).family == "time" else None
    return replace(opts.run, model=model, step_minutes=step)


def time_step(opts: BenchOptions, model: str) -> float | None:
    """The minutes of the time-expanded network ``model`` runs on (None outside the time
    family)."""
    recipe = run_options(opts, model).recipe()
    step = recipe.options.get("step_minutes")
    return float(step) if recipe.family == "time" and step is not None else None


def _child(path: str, model: str, opts: BenchOptions, out: Any) -> None:
    """Run one pair and put a result row on ``out`` (runs in the spawned process)."""
    row: dict[str, Any] = {"status": "error"}
    try:
        from allocator.deliver import deliver
        from allocator.errors import AllocatorError, PlanCheckError, SolverError
        from allocator.instance.io import instance_hash
        from allocator.instance.validate import read_instance
        from allocator.pipeline import run

        t0 = time.perf_counter()
        inst = None
        try:
            inst = read_instance(path)
            t_run = time.perf_counter() - t0
            res = run(inst, run_options(opts, model))
        except AllocatorError as exc:  # infeasible, or the solver stopped without a plan
            name = type(exc).__name__
            stopped = exc.termination if isinstance(exc, SolverError) else ""
            row |= {
                "status": "infeasible" if name == "InfeasibleError" else (stopped or "error"),
                "error": str(exc).splitlines()[0],
                "time_s": time.perf_counter() - t0,
            }
        else:
            r = res.result
            try:
                deliver(res, None)  # checks only
                check_ok = True
            except PlanCheckError:
                check_ok = False
            s = res.seconds
            before = t_run + s.get("read", 0.0) + s.get("preprocess", 0.0) + s.get("build", 0.0)
            progress = encode_progress(r.progress, before)
            row |= {
                "status": str(r.termination),
                "objective": r.objective,
                "bound": r.bound,
                "gap": r.gap,
                "iterations": r.iterations,
                "root_bound": r.root_bound,
                "nodes": r.nodes,
                "time_s": time.perf_counter() - t0,
                "build_s": s.get("preprocess", 0.0) + s.get("build", 0.0) + s.get("handoff", 0.0),
                "solve_s": s.get("solve", r.solve_seconds),
                "n_vars": r.n_vars,
                "n_cons": r.n_cons,
                "n_nonzeros": r.n_nonzeros,
                "check_ok": check_ok,
                "solver_version": r.solver_version,
                "progress": progress,
            }
            row["time_to_gap_s"] = time_to_gap(
                decode_progress(progress), opts.gap_target, r.gap, row["time_s"]
            )
        if inst is not None:  # outside the timing: hashing is the ledger's, not the run's
            row["instance_sha256"] = instance_hash(inst)
    except Exception as exc:  # report, never hang the parent
        row |= {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
        logger.debug("bench child failed:\n%s", traceback.format_exc())
    row["peak_mb"] = peak_rss_mb()  # this process's own peak, not the parent's (ru_maxrss)
    out.put(row)


def guarded(parent: int, target: Callable[..., None], *args: Any) -> None:
    """``target(*args)`` in a spawned process that ends with process ``parent``, even when that
    one is killed by a signal (``die_with_parent``): a stopped benchmark leaves no solve running
    beside the next measurement."""
    die_with_parent(parent)
    target(*args)


def run_killable(
    target: Callable[..., None], args: tuple[Any, ...], kill_after_s: float
) -> dict[str, Any]:
    """``target(*args, queue)`` in its own spawned process, which puts one result row on the
    queue; the process is killed after ``kill_after_s`` (row status ``killed``), and a process
    that dies without a row gives status ``error``. ``time_s`` is set when the row has none.
    The process ends with this one (``guarded``)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=guarded, args=(os.getpid(), target, *args, q), daemon=True)
    t0 = time.perf_counter()
    proc.start()
    deadline = t0 + kill_after_s
    row: dict[str, Any] | None = None
    while row is None:
        try:
            row = q.get(timeout=max(0.05, min(1.0, deadline - time.perf_counter())))
        except queue.Empty:
            if not proc.is_alive():
                row = {"status": "error", "error": f"process died (exit {proc.exitcode})"}
            elif time.perf_counter() > deadline:
                proc.kill()
                row = {"status": "killed", "error": "killed at time limit + grace"}
    proc.join(timeout=10)
    if proc.is_alive():
        proc.kill()
        proc.join()
    row.setdefault("time_s", time.perf_counter() - t0)
    return row


def run_pair(path: Path, model: str, opts: BenchOptions) -> dict[str, Any]:
    """Run one (instance, model) pair in its own process; kill it at time limit + grace."""
    row = run_killable(_child, (str(path), model, opts), opts.limit_s + opts.grace_s)
    row["solved"] = row["status"] == "optimal"
    return row


def warm_up(instance: Path, models: Sequence[str], run: RunOptions) -> float:
    """Solve ``instance`` once with each model in this process, unrecorded, so the numba kernels
    are compiled and cached on disk before the timed runs (each in its own process) load them:
    every recorded run is then warm. A model with no plan for it (say a grid too coarse for
    its due times) is logged and passed: its kernels ran all the same. Returns the seconds it
    took (the cold start)."""
    from allocator.pipeline import run as solve_instance

    t0 = time.perf_counter()
    for model in models:
        try:
            solve_instance(instance, replace(run, model=model))
        except AllocatorError as exc:
            logger.warning("warm-up of %s on %s: %s", model, instance.name, exc)
    return time.perf_counter() - t0


def run_bench(
    instances: Sequence[Path | CtsndInstance],
    models: Sequence[str],
    out: Path,
    opts: BenchOptions | None = None,
    progress: Any = None,
) -> list[dict[str, Any]]:
    """Run every pair, write ``bench.csv`` and record each pair in the run ledger
    ``DIR/runs.sqlite`` as it ends; then write the summary and the performance profiles.
    A CTSND instance of ``list_instances`` fills its rows' class, base, release and slack
    factor."""
    opts = opts or BenchOptions()
    out.mkdir(parents=True, exist_ok=True)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    rows = []
    conn = ledger.connect(out)
    try:
        for path in instances:
            for seed in opts.seeds or (opts.run.solve.seed,):
                for model in models:
                    row = _run_recorded(conn, path, model, opts.with_seed(seed), run_id)
                    rows.append({c: row.get(c) for c in COLUMNS})
                    if progress is not None:
                        progress(rows[-1])
                    write_csv(rows, out / "bench.csv")  # after every pair: a crash keeps what ran
    finally:
        conn.close()
    write_summary(rows, out, opts.limit_s)
    performance_profile(rows, out / "profile", opts.limit_s)
    return rows


def _run_recorded(
    conn: Any, instance: Path | CtsndInstance, model: str, opts: BenchOptions, run_id: str
) -> dict[str, Any]:
    path = instance.path if isinstance(instance, CtsndInstance) else instance
    started = ledger.now()
    t0 = time.perf_counter()
    row = run_pair(path, model, opts)
    wall = time.perf_counter() - t0
    row |= {
        "run_id": run_id,
        "instance": instance_name(path),
        "path": str(path),
        "model": model,
        "seed": opts.run.solve.seed,
        "threads": opts.run.solve.threads or 0,
        "time_limit_s": opts.limit_s,
        "gap_target": opts.gap_target,
        "step_minutes": time_step(opts, model),
    }
    if isinstance(instance, CtsndInstance):
        a = instance.attributes
        row |= {
            "class": instance.klass,
            "base": a.base,
            "release_factor": a.release_factor,
            "slack_factor": a.slack_factor,
        }
    record_ledger(conn, row, opts, started=started, wall_s=wall)
    return row


def by_problem(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for the statistics: with more than one seed among them, every (instance, seed) is a
    problem of its own (``c42/s1``), so HiGHS's performance variability enters the means."""
    if len({r.get("seed") for r in rows}) <= 1:
        return rows
    return [r | {"instance": f"{r['instance']}/s{int(r.get('seed') or 0)}"} for r in rows]


def write_csv(rows: list[dict[str, Any]], path: Path, *, append: bool = False) -> None:
    """Write (or append) rows with the bench columns."""
    new = not (append and path.exists())
    with path.open("a" if append else "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        if new:
            w.writeheader()
        w.writerows(rows)


SUCCEEDED = ("optimal", "time_limit", "limit")  # terminations that leave a plan


def record_ledger(
    conn: Any, row: dict[str, Any], opts: BenchOptions, *, started: str, wall_s: float
) -> str:
    """Record one finished pair in the run ledger (one transaction); returns its ledger run id.

    ``status`` is ``succeeded`` when the run left a plan the checker accepts (optimal or stopped
    at a limit), else ``failed``; ``termination`` is the bench status (optimal, time_limit,
    infeasible, killed, error, ...). ``batch_id`` is ``bench-<bench run id>``; ``options_json``
    holds what changes a result (time limit, seed, paths, step minutes, gap) and ``"bench": true``.
    """
    from allocator._version import __version__

    def num(v: Any) -> float | None:
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    ok = row.get("status") in SUCCEEDED and num(row.get("objective")) is not None
    ok = ok and row.get("check_ok") is not False
    error = row.get("error")
    if row.get("check_ok") is False:
        error = error or "plan failed the checker"
    run = uuid.uuid4().hex
    options = {"bench": True, "time_limit_s": opts.limit_s, "seed": opts.run.solve.seed}
    if opts.run.paths is not None:
        options["paths"] = opts.run.paths
    step = time_step(opts, row["model"])
    if step is not None:
        options["step_minutes"] = step
    if opts.run.solve.mip_rel_gap is not None:
        options["mip_rel_gap"] = opts.run.solve.mip_rel_gap
    ledger.record_start(
        conn,
        run_id=run,
        batch_id=f"bench-{row['run_id']}",
        instance_path=str(Path(row["path"]).resolve()),
        instance_name=row["instance"],
        instance_sha256=row.get("instance_sha256"),
        model=row["model"],
        options_json=ledger.canonical_options(options),
        status="succeeded" if ok else "failed",
        termination=row.get("status"),
        objective=num(row.get("objective")),
        bound=num(row.get("bound")),
        gap=num(row.get("gap")),
        build_seconds=num(row.get("build_s")),
        solve_seconds=num(row.get("solve_s")),
        total_seconds=num(row.get("time_s")),
        wall_seconds=wall_s,
        peak_memory_mb=num(row.get("peak_mb")),
        solver="highs",
        solver_version=row.get("solver_version"),
        allocator_version=__version__,
        host=socket.gethostname(),
        executor="bench",
        threads=opts.run.solve.threads or 0,
        started_at=started,
        finished_at=ledger.now(),
        error=error,
    )
    return run


TEXT_COLUMNS = (
    "instance",
    "path",
    "class",
    "base",
    "model",
    "status",
    "run_id",
    "solver_version",
    "error",
    "progress",
)


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a bench CSV with numbers parsed."""
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k, v in r.items():
            if k in TEXT_COLUMNS:
                continue
            if v in ("", None):
                r[k] = None
            elif v in ("True", "False"):
                r[k] = v == "True"
            else:
                r[k] = float(v)
    return rows


# ---------------------------------------------------------------- statistics and plots


def encode_progress(points: Sequence[tuple[float, float, float]], offset: float = 0.0) -> str:
    """``[[seconds, best objective, best bound], ...]`` as compact JSON (null for +-inf), with
    ``offset`` seconds added so that times count from the start of the run like ``time_s``."""

    def num(v: float) -> float | None:
        return round(float(v), 6) if math.isfinite(v) else None

    return json.dumps(
        [[round(t + offset, 3), num(p), num(d)] for t, p, d in points], separators=(",", ":")
    )


def decode_progress(text: str | None) -> list[tuple[float, float, float]]:
    """The points of ``encode_progress`` (inf / -inf for missing objective / bound)."""
    if not text:
        return []
    return [
        (float(t), math.inf if p is None else float(p), -math.inf if d is None else float(d))
        for t, p, d in json.loads(text)
    ]


def time_to_gap(
    points: Sequence[tuple[float, float, float]],
    gap: float,
    final_gap: float | None = None,
    final_s: float | None = None,
) -> float | None:
    """First time a run has a plan within relative ``gap`` of its bound, ``(objective - bound) /
    |objective|`` as the solver counts it, or None if it never does. A run whose recorded
    progress never shows it but whose final gap does (``final_gap``) counts at ``final_s``."""
    for t, p, d in points:
        if math.isfinite(p) and math.isfinite(d) and (p - d) <= gap * max(abs(p), 1e-10):
            return t
    if final_gap is not None and final_gap <= gap and final_s is not None:
        return final_s
    return None


def reached_gap(row: dict[str, Any]) -> bool:
    """Whether a run ended with a plan the checker accepts within its ``gap_target`` (solved
    to the requested gap within the limit)."""
    gap, target = row.get("gap"), row.get("gap_target")
    if gap is None or target is None or row.get("objective") is None:
        return False
    return row.get("check_ok") is not False and float(gap) <= float(target)


TARGET_TOL = 1e-5
"""Relative tolerance of time-to-target: ten times the default MCND optimality gap (1e-6)."""


def time_to_target(
    points: Sequence[tuple[float, float, float]],
    objective: float,
    bound: float,
    tol: float = TARGET_TOL,
) -> float | None:
    """First time a run has a plan no worse than ``objective`` and a bound no weaker than
    ``bound`` (both within ``tol`` relative), or None if it never does. ``objective=inf`` asks
    for no plan, ``bound=-inf`` for no bound."""
    for t, p, d in points:
        plan_ok = not math.isfinite(objective) or p <= objective + tol * max(1.0, abs(objective))
        bound_ok = not math.isfinite(bound) or d >= bound - tol * max(1.0, abs(bound))
        if plan_ok and bound_ok:
            return t
    return None


def final_result(row: dict[str, Any]) -> tuple[float, float]:
    """A run's final (objective, bound), inf / -inf where it has none."""

    def val(key: str, missing: float) -> float:
        v = row.get(key)
        return missing if v is None or not math.isfinite(float(v)) else float(v)

    return val("objective", math.inf), val("bound", -math.inf)


def times_to_match(
    rows: list[dict[str, Any]], baseline: str
) -> dict[tuple[str, str], float | None]:
    """For every (instance, model): the first time the run reached ``baseline``'s final result on
    that instance (its plan objective and its bound; see ``time_to_target``). The baseline's own
    entry is the time it reached its final result. Instances where the baseline has neither plan
    nor bound, and runs without recorded progress, are left out."""
    base = {r["instance"]: r for r in rows if r["model"] == baseline}
    out: dict[tuple[str, str], float | None] = {}
    for r in rows:
        b = base.get(r["instance"])
        if b is None or not r.get("progress"):
            continue
        objective, bound = final_result(b)
        if not math.isfinite(objective) and not math.isfinite(bound):
            continue
        out[(r["instance"], r["model"])] = time_to_target(
            decode_progress(r["progress"]), objective, bound
        )
    return out


def effective_time(row: dict[str, Any], time_limit: float) -> float:
    """The run's time, or the time limit when it did not prove optimality."""
    if row.get("status") != "optimal" or row.get("time_s") is None:
        return float(time_limit)
    return min(float(row["time_s"]), float(time_limit))


def shifted_geomean(times: Sequence[float], shift: float = SHIFT_S) -> float:
    r"""Shifted geometric mean :math:`\exp(\frac1n \sum \ln(t_i + s)) - s`."""
    t = np.asarray(times, dtype=float)
    return float(np.exp(np.mean(np.log(t + shift))) - shift) if len(t) else math.nan


def geomeans(rows: list[dict[str, Any]], time_limit: float) -> dict[str, dict[str, float]]:
    """Per model: shifted geometric mean time, number of runs, number solved."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    out = {}
    for m in models:
        mine = [r for r in rows if r["model"] == m]
        out[m] = {
            "sgm_s": shifted_geomean([effective_time(r, time_limit) for r in mine]),
            "runs": len(mine),
            "solved": sum(r.get("status") == "optimal" for r in mine),
        }
    return out


def by_class(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float]]:
    """Per (class, model), in order of appearance (rows without a class are left out):
    ``runs``; ``solved_pct``, the percentage that reached their gap target with a checked plan
    (``reached_gap``); ``mean_s``, the mean time with every run counted at no more than its
    time limit; ``mean_gap`` over the runs with a finite gap (``with_gap`` of them; nan if none);
    ``mean_iterations`` over the runs that record iterations (nan if none)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r.get("class"):
            groups.setdefault((r["class"], r["model"]), []).append(r)

    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if values else math.nan

    out = {}
    for key, mine in groups.items():
        times = [
            min(float(r.get("time_s") or math.inf), float(r.get("time_limit_s") or math.inf))
            for r in mine
        ]
        gaps = [float(r["gap"]) for r in mine if r.get("gap") is not None]
        gaps = [g for g in gaps if math.isfinite(g)]
        its = [float(r["iterations"]) for r in mine if r.get("iterations") is not None]
        out[key] = {
            "runs": len(mine),
            "solved_pct": 100.0 * sum(map(reached_gap, mine)) / len(mine),
            "mean_s": mean(times),
            "mean_gap": mean(gaps),
            "with_gap": len(gaps),
            "mean_iterations": mean(its),
        }
    return out


def class_row(klass: str, model: str, stats: dict[str, float]) -> str:
    """One markdown row of ``by_class``: class, model, instances, solved, mean time, gap and
    iterations."""

    def f(v: float, spec: str) -> str:
        return "" if math.isnan(v) else format(v, spec)

    gap = f(100 * stats["mean_gap"], ".2f") + (" %" if not math.isnan(stats["mean_gap"]) else "")
    if stats["with_gap"] < stats["runs"]:
        gap += f" ({stats['with_gap']:.0f} with a plan)"
    return (
        f"| {klass} | {model} | {stats['runs']:.0f} | {stats['solved_pct']:.1f} % | "
        f"{f(stats['mean_s'], '.1f')} | {gap} | {f(stats['mean_iterations'], '.1f')} |"
    )


CLASS_HEADER = [
    "| class | model | instances | solved | mean time (s) | mean gap | mean iterations |",
    "|---|---|---|---|---|---|---|",
]


def class_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines of ``by_class``: one row per class and model (none without classes)."""
    stats = by_class(rows)
    if not stats:
        return []
    return CLASS_HEADER + [class_row(k, m, v) for (k, m), v in sorted(stats.items())]


def profile_ratios(rows: list[dict[str, Any]], time_limit: float) -> dict[str, np.ndarray]:
    """Dolan-More ratios t_{p,s} / min_s t_{p,s} per model (inf where unsolved)."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    instances = list(dict.fromkeys(r["instance"] for r in rows))
    t = np.full((len(instances), len(models)), np.inf)
    for r in rows:
        if r.get("status") == "optimal":
            t[instances.index(r["instance"]), models.index(r["model"])] = max(
                effective_time(r, time_limit), 1e-3
            )
    best = t.min(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        ratio = np.where(np.isfinite(best), t / best, np.inf)
    return {m: ratio[:, j] for j, m in enumerate(models)}


def performance_profile(rows: list[dict[str, Any]], stem: Path, time_limit: float) -> list[Path]:
    """Plot the Dolan-More performance profile to ``stem.png`` and ``stem.svg``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratios = profile_ratios(by_problem(rows), time_limit)
    finite = [r[np.isfinite(r)] for r in ratios.values()]
    top = max([float(r.max()) for r in finite if len(r)] + [2.0]) * 1.05
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for model, r in ratios.items():
        n = len(r)
        taus = np.concatenate([[1.0], np.sort(r[np.isfinite(r)]), [top]])
        frac = np.array([np.sum(r <= tau) / n if n else 0.0 for tau in taus])
        ax.step(taus, frac, where="post", label=model)
    ax.set_xscale("log", base=2)
    ax.set_xlim(1.0, top)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel(r"$\tau$ (time / best time of the instance)")
    ax.set_ylabel(r"fraction of instances solved within $\tau$")
    ax.set_title(f"Performance profile ({len(next(iter(ratios.values()), []))} instances)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for p in paths:
        fig.savefig(p)
    plt.close(fig)
    return paths


def match_markdown(
    rows: list[dict[str, Any]], baseline: str, instances: Sequence[str], time_limit: float
) -> list[str]:
    """Markdown lines: per instance, the time every model took to reach ``baseline``'s final
    result (``times_to_match``), and per model the shifted geometric mean of those times (not
    reached = time limit) with its speed-up over the baseline."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    base = {r["instance"]: r for r in rows if r["model"] == baseline}
    hit = times_to_match(rows, baseline)
    shown = [i for i in instances if (i, baseline) in hit]
    if not shown:
        return []

    def cell(t: float | None) -> str:
        return "not reached" if t is None else f"{t:.1f}"

    lines = [
        f"| instance | {baseline} objective | {baseline} bound | "
        + " | ".join(f"{m} s" for m in models)
        + " |",
        "|---|---|---|" + "---|" * len(models),
    ]
    for i in shown:
        objective, bound = final_result(base[i])
        lines.append(
            f"| {i} | {objective:,.2f} | {bound:,.2f} | "
            + " | ".join(cell(hit[(i, m)]) if (i, m) in hit else "" for m in models)
            + " |"
        )
    lines += ["", "| model | reached | shifted geomean (s) | speed-up vs " + baseline + " |"]
    lines.append("|---|---|---|---|")

    def sgm_of(m: str) -> float:  # not reached counts at the time limit
        times = [hit[(i, m)] for i in shown]
        return shifted_geomean([time_limit if t is None else min(t, time_limit) for t in times])

    ref = sgm_of(baseline)
    for m in models:
        if not all((i, m) in hit for i in shown):
            continue
        sgm = sgm_of(m)
        reached = sum(hit[(i, m)] is not None for i in shown)
        lines.append(f"| {m} | {reached} of {len(shown)} | {sgm:.2f} | {ref / sgm:.2f} |")
    return lines


def summary_markdown(rows: list[dict[str, Any]], time_limit: float) -> str:
    """The summary table: shifted geometric mean of time per model, and every run."""
    rows = by_problem(rows)
    g = geomeans(rows, time_limit)
    lines = [
        f"# Benchmark summary ({len(rows)} runs, time limit {time_limit:g} s)",
        "",
        f"Shifted geometric mean of time (shift {SHIFT_S:g} s; runs not proven optimal count at the "
        "time limit):",
        "",
        "| model | runs | solved | shifted geomean (s) |",
        "|---|---|---|---|",
    ]
    lines += [f"| {m} | {v['runs']} | {v['solved']} | {v['sgm_s']:.2f} |" for m, v in g.items()]
    per_class = class_markdown(rows)
    if per_class:
        lines += ["", "Per instance class (solved: within the requested gap, plan checked):", ""]
        lines += per_class
    first = rows[0]["model"] if rows else ""
    instances = list(dict.fromkeys(r["instance"] for r in rows))
    match = match_markdown(rows, first, instances, time_limit) if len(g) > 1 else []
    if match:
        lines += [
            "",
            f"Time to reach {first}'s final result (its plan objective and its bound, "
            f"{TARGET_TOL:g} relative), seconds from the start of the run:",
            "",
            *match,
        ]
    lines += [
        "",
        "| instance | model | status | objective | bound | gap | root LP | nodes | time (s) | "
        "build (s) | solve (s) | MB | vars | cons | nnz | check | iterations | to gap (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def f(v: Any, spec: str) -> str:
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)

    for r in rows:
        lines.append(
            f"| {r['instance']} | {r['model']} | {r['status']} | {f(r.get('objective'), '.2f')} | "
            f"{f(r.get('bound'), '.2f')} | {f(r.get('gap'), '.2e')} | "
            f"{f(r.get('root_bound'), '.2f')} | {f(r.get('nodes'), '.0f')} | "
            f"{f(r.get('time_s'), '.2f')} | {f(r.get('build_s'), '.2f')} | "
            f"{f(r.get('solve_s'), '.2f')} | {f(r.get('peak_mb'), '.0f')} | "
            f"{f(r.get('n_vars'), '.0f')} | {f(r.get('n_cons'), '.0f')} | "
            f"{f(r.get('n_nonzeros'), '.0f')} | {r.get('check_ok', '')} | "
            f"{f(r.get('iterations'), '.0f')} | {f(r.get('time_to_gap_s'), '.2f')} |"
        )
    return "\n".join(lines) + "\n"


def write_summary(rows: list[dict[str, Any]], out: Path, time_limit: float) -> Path:
    """Write ``summary.md``."""
    path = out / "summary.md"
    path.write_text(summary_markdown(rows, time_limit), encoding="utf-8")
    return path


def cpu_note() -> str:
    """A short description of the machine, for reports."""
    return f"{os.cpu_count()} CPUs"
