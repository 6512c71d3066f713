"""Batch planning: many instances, solved in parallel on local worker processes or a Dask cluster,
recorded in the run ledger, resumable, with rolling week-to-week re-planning.

This module runs in the parent: it finds the instances, holds the folder lock, and schedules the
jobs (``allocator.batch.job.run_job``) on an executor (``allocator.batch.executors``). It is the
only ledger writer: a job is recorded ``running`` when submitted and
``succeeded``/``failed``/``interrupted`` when it ends. See docs/batch.md.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from allocator.batch import ledger
from allocator.batch.executors import DaskExecutor, LocalExecutor, WorkerDied
from allocator.batch.job import CRASH_ENV, JobSpec
from allocator.errors import AllocatorError, ExitCode
from allocator.options import RollingOptions, RunOptions

logger = logging.getLogger(__name__)

__all__ = ["CRASH_ENV", "BatchError", "BatchOptions", "BatchReport", "discover", "run_batch"]

LOCK = ".batch.lock"
INSTANCE_SUFFIXES = (".toml", ".json", ".xlsx")


class BatchError(AllocatorError):
    """A batch cannot start: no instances, two with the same stem, or the folder is in use."""

    exit_code = ExitCode.INVALID


def _batch_run() -> RunOptions:
    return RunOptions(prices=False)


@dataclass(frozen=True)
class BatchOptions:
    """How to run a batch: what each job solves (``run``) and how the batch runs it.

    ``run`` is the RunOptions of every job (default: no bottleneck prices, as the CLI's batch);
    ``None`` time limit, gap and threads in ``run.solve`` take each instance's settings, except
    that ``None`` threads become max(1, cores // workers). ``rolling`` solves in week order, each
    job from the previous week's plan, with ``run.rolling``'s stability weight and scope.
    ``force`` re-runs jobs that already succeeded; it never lets a job replace a folder that is
    not an allocator plan folder.
    """

    out: Path
    run: RunOptions = field(default_factory=_batch_run)
    workers: int | None = None  # default: the number of cores (local) or Dask worker threads
    scheduler: str | None = None  # None: local processes; "dask": a LocalCluster; or tcp://...
    rolling: bool = False
    force: bool = False

    def key_options(self) -> dict[str, Any]:
        """The options that change a plan: with the instance hash and model, the resume key.
        Execution details (workers, scheduler, threads) are left out; recipe overrides, prices
        and a rolling run without warm start enter only when set, so keys of plain batches stay
        the same."""
        solve, run = self.run.solve, self.run
        out: dict[str, Any] = {
            "time_limit_s": solve.time_limit_s,
            "mip_rel_gap": solve.mip_rel_gap,
            "seed": solve.seed,
        }
        overrides = {
            "linking": run.linking,
            "aggregate": run.aggregate,
            "integer_teu": run.integer_teu,
            "paths": run.paths,
            "step_minutes": run.step_minutes,
        }
        out |= {k: v for k, v in overrides.items() if v is not None}
        if run.prices:
            out["prices"] = True
        if self.rolling:
            rolling = run.rolling or RollingOptions()
            out |= {
                "rolling": True,
                "stability_weight": rolling.stability_weight,
                "stability_scope": rolling.stability_scope,
            }
            if not rolling.warm_start:
                out["warm_start"] = False
        return out


@dataclass
class Job:
    """One instance of the batch."""

    path: Path
    stem: str
    name: str = ""
    period: str = ""
    sha256: str = ""
    error: str = ""  # set when the parent could not even read the instance
    run_id: str = ""
    status: str = "pending"  # pending, skipped, running, succeeded, failed, interrupted
    result: dict[str, Any] = field(default_factory=dict)
    isolated: bool = False  # re-run alone after its worker pool broke
    submitted: float = 0.0


@dataclass
class BatchReport:
    """What a batch did; ``signal`` is set when it was interrupted."""

    jobs: list[Job]
    seconds: float = 0.0
    signal: int | None = None
    stale_marked: int = 0

    def count(self, status: str) -> int:
        """Jobs with this status."""
        return sum(j.status == status for j in self.jobs)

    @property
    def ok(self) -> bool:
        """True when no job failed and the batch was not interrupted."""
        return self.signal is None and not any(
            j.status in ("failed", "interrupted") for j in self.jobs
        )

    @property
    def exit_code(self) -> int:
        """0 all done, 1 some job failed, 128 + signal when interrupted."""
        if self.signal is not None:
            return 128 + self.signal
        return int(ExitCode.OK) if self.ok else int(ExitCode.ERROR)


# ---------------------------------------------------------------- the batch (runs in the parent)


def make_executor(opts: BatchOptions) -> LocalExecutor | DaskExecutor:
    """The executor ``opts`` asks for; rolling batches run one job at a time."""
    if opts.scheduler:
        return DaskExecutor(opts.scheduler, 1 if opts.rolling else opts.workers)
    return LocalExecutor(1 if opts.rolling else opts.workers or os.cpu_count() or 1)


def discover(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Instances named by ``paths``: an instance (folder with instance.toml, .toml, .json,
    .xlsx), or a folder of them (its .toml/.json/.xlsx files and instance folders)."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir() and not (p / "instance.toml").exists():
            children = sorted(p.iterdir())
            found += [c for c in children if c.is_file() and c.suffix.lower() in INSTANCE_SUFFIXES]
            found += [c for c in children if c.is_dir() and (c / "instance.toml").exists()]
        else:
            found.append(p)
    return [p.resolve() for p in found]


def _stem(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


@contextlib.contextmanager
def folder_lock(out: Path) -> Iterator[None]:
    """Hold ``out/.batch.lock``: one batch per output folder at a time."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchError(f"another batch is running on {out}") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def clean_temporaries(out: Path) -> list[str]:
    """Remove the temporary and replaced plan folders a killed job left in ``out``."""
    removed = []
    for p in out.iterdir():
        if p.name.startswith(".") and (p.name.endswith(".tmp") or ".old-" in p.name):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(p.name)
    return removed


def _prepare(paths: Sequence[str | os.PathLike[str]], opts: BatchOptions) -> list[Job]:
    from allocator.instance.io import instance_hash
    from allocator.instance.validate import read_instance

    found = discover(paths)
    if not found:
        raise BatchError("no instances given")
    jobs = [Job(p, _stem(p)) for p in found]
    seen: dict[str, Path] = {}
    for j in jobs:
        if j.stem in seen:
            raise BatchError(
                f"two instances with the plan folder name {j.stem!r}: {seen[j.stem]}, {j.path}"
            )
        seen[j.stem] = j.path
    for j in jobs:
        try:
            inst = read_instance(j.path)
            j.name, j.period, j.sha256 = inst.name, inst.settings.period or "", instance_hash(inst)
        except AllocatorError as exc:
            j.error = f"{type(exc).__name__}: {exc}"
    if opts.rolling:  # week order (ISO weeks sort as text); instances without a period last
        jobs.sort(key=lambda j: (j.period == "", j.period, j.stem))
    return jobs


Progress = Callable[[BatchReport, int], None]


class _Stop:
    """SIGINT/SIGTERM handlers that ask the batch loop to stop (a second signal: stop now)."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def run_batch(
    paths: Sequence[str | os.PathLike[str]],
    opts: BatchOptions,
    progress: Progress | None = None,
) -> BatchReport:
    """Solve every instance of ``paths`` into ``opts.out``, recording each job in the ledger."""
    t_start = time.perf_counter()
    out = Path(opts.out).resolve()
    with folder_lock(out):
        conn = ledger.connect(out)
        try:
            stale = ledger.mark_stale(conn)
            clean_temporaries(out)
            jobs = _prepare(paths, opts)
            report = BatchReport(jobs, stale_marked=stale)
            with _Stop() as stop:
                _loop(conn, out, jobs, opts, report, stop, progress)
            report.signal = stop.signal
        finally:
            conn.close()
    report.seconds = time.perf_counter() - t_start
    return report


def _loop(
    conn: Any,
    out: Path,
    jobs: list[Job],
    opts: BatchOptions,
    report: BatchReport,
    stop: _Stop,
    progress: Progress | None,
) -> None:
    batch_id = uuid.uuid4().hex[:12]
    model = str(opts.run.model)
    options_json = ledger.canonical_options(opts.key_options())
    done = ledger.succeeded(conn)
    history = _history(conn, model, options_json) if opts.rolling else None
    queue: deque[Job] = deque()
    for j in jobs:
        row = done.get((j.sha256, model, options_json))
        if j.error:
            _record_unreadable(conn, batch_id, j, model, options_json)
        elif row is not None and not opts.force and _is_plan(row["plan_path"]):
            j.status, j.result = "skipped", dict(row)
        else:
            queue.append(j)
    tick = _ticker(report, progress)
    tick()
    if not queue:
        return
    executor = make_executor(opts)
    threads = opts.run.solve.threads or executor.threads_per_job()
    inflight: dict[Any, Job] = {}
    suspects: deque[Job] = deque()
    broken = False
    try:
        while (queue or suspects or inflight) and stop.signal is None:
            if broken and not inflight:
                executor.reset()
                broken = False
            limit = 1 if suspects else executor.slots
            while not broken and len(inflight) < limit and (suspects or queue):
                job = suspects.popleft() if suspects else queue.popleft()
                if not job.run_id:  # a job re-run alone keeps its row
                    job.run_id = uuid.uuid4().hex
                    _record_start(conn, batch_id, job, model, options_json, executor.name, threads)
                spec = _spec(job, out, opts, threads, _previous(jobs, job, history))
                try:
                    inflight[executor.submit(spec)] = job
                    job.status = "running"
                except cf.process.BrokenProcessPool:  # broke before its futures told us
                    (suspects if job.isolated else queue).appendleft(job)
                    broken = True
                tick()
            for fut in executor.wait(list(inflight), 0.2):
                job = inflight.pop(fut)
                outcome = executor.outcome(fut)
                if isinstance(outcome, WorkerDied) and stop.signal is None:
                    if executor.isolates and not job.isolated:
                        job.isolated, job.status = True, "pending"  # row stays running
                        suspects.append(job)
                        broken = True
                        continue
                    if job.isolated:
                        outcome = WorkerDied(f"{outcome}, also when run alone")
                        broken = executor.isolates
                if isinstance(outcome, BaseException):
                    status = "interrupted" if stop.signal is not None else "failed"
                    _finish(conn, job, status, {"error": f"{type(outcome).__name__}: {outcome}"})
                else:
                    _finish(conn, job, outcome.pop("status"), outcome)
                tick()
    finally:
        if stop.signal is not None or inflight:
            executor.kill()
            why = (
                f"batch interrupted by {signal.Signals(stop.signal).name}"
                if stop.signal
                else "batch stopped"
            )
            for job in inflight.values():
                _finish(conn, job, "interrupted", {"error": why})
            clean_temporaries(out)
        else:
            executor.close()
        tick()


def _ticker(report: BatchReport, progress: Progress | None) -> Callable[[], None]:
    t0 = time.perf_counter()

    def tick() -> None:
        if progress is not None:
            progress(report, int(time.perf_counter() - t0))

    return tick


def _is_plan(path: str | None) -> bool:
    return bool(path) and Path(str(path)).is_dir()


def _history(conn: Any, model: str, options_json: str) -> list[tuple[str, str]]:
    """(period, plan folder) this rolling configuration solved before, latest period first."""
    rows = conn.execute(
        "SELECT period, plan_path FROM runs WHERE status = 'succeeded' AND model = ? "
        "AND options_json = ? AND period != '' ORDER BY period DESC, finished_at DESC",
        (model, options_json),
    ).fetchall()
    return [(r["period"], r["plan_path"]) for r in rows if _is_plan(r["plan_path"])]


def _previous(jobs: list[Job], job: Job, history: list[tuple[str, str]] | None) -> str | None:
    """The plan a rolling job continues from: the latest earlier job of this batch with a plan,
    else the ledger's latest plan of an earlier period (a nightly batch of one new week)."""
    if history is None:
        return None
    for j in reversed(jobs[: jobs.index(job)]):
        if j.status in ("succeeded", "skipped") and _is_plan(j.result.get("plan_path")):
            return str(j.result["plan_path"])
    if job.period:
        for period, path in history:
            if period < job.period:
                return path
    return None


def _spec(job: Job, out: Path, opts: BatchOptions, threads: int, previous: str | None) -> JobSpec:
    run = replace(
        opts.run,
        solve=replace(opts.run.solve, threads=threads),
        rolling=(opts.run.rolling or RollingOptions()) if opts.rolling else None,
    )
    return JobSpec(
        run_id=job.run_id,
        instance=str(job.path),
        stem=job.stem,
        target=str(out / job.stem),
        run=run,
        previous_plan=previous,
    )


def _record_start(
    conn: Any,
    batch_id: str,
    job: Job,
    model: str,
    options_json: str,
    executor: str,
    threads: int,
) -> None:
    job.status, job.submitted = "running", time.perf_counter()
    ledger.record_start(
        conn,
        run_id=job.run_id,
        batch_id=batch_id,
        instance_path=str(job.path),
        instance_name=job.name,
        period=job.period,
        instance_sha256=job.sha256,
        model=model,
        options_json=options_json,
        executor=executor,
        threads=threads,
        host=socket.gethostname(),
    )


def _finish(conn: Any, job: Job, status: str, result: dict[str, Any]) -> None:
    fields = {k: v for k, v in result.items() if k in ledger.COLUMNS}
    fields["wall_seconds"] = time.perf_counter() - job.submitted
    ledger.record_finish(conn, job.run_id, status, **fields)
    job.status, job.result = status, result


def _record_unreadable(conn: Any, batch_id: str, job: Job, model: str, options_json: str) -> None:
    job.run_id, job.submitted = uuid.uuid4().hex, time.perf_counter()
    _record_start(conn, batch_id, job, model, options_json, "parent", 0)
    _finish(conn, job, "failed", {"error": job.error})
