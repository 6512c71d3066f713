"""Batch planning: many instances, solved in parallel on local worker processes or a Dask cluster,
recorded in the run ledger, resumable, with rolling week-to-week re-planning.

One job function, ``run_job``, runs in the worker whichever executor is used: read -> validate ->
solve -> check -> write the plan folder atomically; it returns a small dict and never raises. The
parent (``run_batch``) is the only ledger writer: a job is recorded ``running`` when submitted
and ``succeeded``/``failed``/``interrupted`` when it ends. See docs/batch.md.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import fcntl
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allocator.batch import ledger
from allocator.errors import AllocatorError, ExitCode

logger = logging.getLogger(__name__)

LOCK = ".batch.lock"
INSTANCE_SUFFIXES = (".toml", ".json", ".xlsx")
# Test hook (documented in docs/batch.md): a job whose instance stem equals this variable's value
# ends its worker process at once with os._exit(70), as a crash or the OOM killer would.
CRASH_ENV = "ALLOCATOR_TEST_CRASH_JOB"


class BatchError(AllocatorError):
    """A batch cannot start: no instances, two with the same stem, or the folder is in use."""

    exit_code = ExitCode.INVALID


@dataclass(frozen=True)
class BatchOptions:
    """How to run a batch; ``None`` means the instance settings' value (or the default)."""

    out: Path
    model: str = "arc-strong"
    workers: int | None = None  # default: the number of cores (local) or Dask worker threads
    scheduler: str | None = None  # None: local processes; "dask": a LocalCluster; or tcp://...
    time_limit_s: float | None = None
    mip_rel_gap: float | None = None
    threads: int | None = None  # HiGHS threads per job; default max(1, cores // workers)
    seed: int = 0
    rolling: bool = False
    stability_weight: float = 0.0
    stability_scope: str = "lot"
    force: bool = False

    def key_options(self) -> dict[str, Any]:
        """The options that change a plan: with the instance hash and model, the resume key.
        Execution details (workers, scheduler, threads) are left out."""
        out: dict[str, Any] = {
            "time_limit_s": self.time_limit_s,
            "mip_rel_gap": self.mip_rel_gap,
            "seed": self.seed,
        }
        if self.rolling:
            out |= {
                "rolling": True,
                "stability_weight": self.stability_weight,
                "stability_scope": self.stability_scope,
            }
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


# ---------------------------------------------------------------- the job (runs in the worker)


def _reset_peak_rss() -> None:
    with contextlib.suppress(OSError):  # Linux: reset VmHWM, so the peak is this job's
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_job(spec: dict[str, Any]) -> dict[str, Any]:
    """Solve one instance and write its plan folder atomically; return a small result dict.

    ``spec``: instance, stem, target (plan folder), model, time_limit_s, mip_rel_gap, threads,
    seed, previous_plan (folder or None), stability_weight, stability_scope. Never raises.
    """
    t0 = time.perf_counter()
    _reset_peak_rss()
    if os.environ.get(CRASH_ENV) and os.environ.get(CRASH_ENV) == spec["stem"]:
        os._exit(70)
    out: dict[str, Any] = {"status": "failed", "host": socket.gethostname()}
    try:
        from allocator._version import __version__
        from allocator.instance.io import atomic_path
        from allocator.instance.validate import read_instance
        from allocator.options import RollingOptions, RunOptions
        from allocator.pipeline import run
        from allocator.report.markdown import write_markdown
        from allocator.results import read_plan, write_plan
        from allocator.results.check import check_plan
        from allocator.solve import SolveOptions, solver_version

        out |= {"allocator_version": __version__, "solver": "highs"}
        out["solver_version"] = solver_version()
        inst = read_instance(spec["instance"])
        prev = read_plan(spec["previous_plan"]) if spec.get("previous_plan") else None
        solve = SolveOptions(
            time_limit_s=spec.get("time_limit_s"),
            mip_rel_gap=spec.get("mip_rel_gap"),
            threads=spec.get("threads"),
            seed=spec.get("seed", 0),
        )
        rolling = RollingOptions(
            previous_plan=prev,
            stability_weight=spec.get("stability_weight", 0.0),
            stability_scope=spec.get("stability_scope", "lot"),
        )
        opts = RunOptions(model=spec["model"], solve=solve, rolling=rolling, prices=False)
        res = run(inst, opts)
        r = res.result
        sec = res.seconds
        out |= {
            "termination": str(r.termination),
            "objective": r.objective,
            "bound": r.bound,
            "gap": r.gap,
            "build_seconds": sec.get("preprocess", 0.0) + sec.get("build", 0.0),
            "solve_seconds": sec.get("handoff", 0.0) + sec.get("solve", 0.0),
            "mip_start": r.mip_start_status,
        }
        info = res.plan.info()
        out["objective"] = float(info["objective"])
        out["teu_changed_corridor"] = info.get("teu_changed_corridor")
        out["stability_cost"] = info.get("stability_cost")
        checked = check_plan(res.plan, inst)
        if not checked.ok:
            out["error"] = "plan failed the checker: " + "; ".join(checked.errors[:3])
        else:
            with atomic_path(spec["target"]) as work:
                write_plan(res.plan, work, instance=inst)
                write_markdown(res.plan, work / "report.md")
            out |= {"status": "succeeded", "plan_path": spec["target"]}
    except AllocatorError as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a bug: keep the traceback's tail
        tail = "".join(traceback.format_exception(exc)[-3:])
        out["error"] = f"{type(exc).__name__}: {exc}\n{tail}"
    out["total_seconds"] = time.perf_counter() - t0
    out["peak_memory_mb"] = _peak_rss_mb()
    return out


# ---------------------------------------------------------------- executors


class WorkerDied(Exception):
    """The process running a job died (killed, crashed, out of memory)."""


def _worker_init() -> None:
    # Ctrl-C in a terminal reaches the whole process group: the parent decides, workers carry on
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import allocator.pipeline  # noqa: F401  (imports once per worker, not in the first job's time)


class LocalExecutor:
    """Worker processes on this machine (``spawn``: no state inherited from the parent)."""

    name = "local"
    isolates = True  # a broken pool fails every job in flight: re-run them alone to find out

    def __init__(self, workers: int) -> None:
        self.slots = workers
        self._pool: cf.ProcessPoolExecutor | None = None

    def threads_per_job(self) -> int:
        """Cores divided among the workers."""
        return max(1, (os.cpu_count() or 1) // self.slots)

    def _get(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.slots,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
            )
        return self._pool

    def submit(self, spec: dict[str, Any]) -> Any:
        """Start a job."""
        return self._get().submit(run_job, spec)

    def wait(self, futures: Sequence[Any], timeout: float) -> set[Any]:
        """The futures done within ``timeout`` seconds."""
        done, _ = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return set(done)

    def outcome(self, future: Any) -> dict[str, Any] | BaseException:
        """The job's result dict, or the exception that stopped it."""
        try:
            return future.result()
        except cf.process.BrokenProcessPool as exc:
            return WorkerDied(f"worker process died ({exc})")
        except BaseException as exc:
            return exc

    def reset(self) -> None:
        """Replace a broken pool."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None

    def kill(self) -> None:
        """Stop every worker now (interrupt)."""
        if self._pool is None:
            return
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        for p in processes:
            with contextlib.suppress(Exception):
                p.kill()
        for p in processes:
            with contextlib.suppress(Exception):
                p.join(5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None

    def close(self) -> None:
        """Shut the pool down after the last job."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._pool = None


# The in-process LocalCluster: one retry of a task whose worker died; no statistical profiler
# (it samples the worker thread every 10 ms); and the nanny's MALLOC_TRIM_THRESHOLD_=65536 left out
# of the workers' environment: it makes HiGHS 5-10 % slower here (glibc returning memory to the
# OS again and again). See docs/batch.md for a remote cluster.
LOCAL_CLUSTER_CONFIG = {
    "distributed.scheduler.allowed-failures": 1,
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ": {
        "OMP_NUM_THREADS": 1,
        "MKL_NUM_THREADS": 1,
        "OPENBLAS_NUM_THREADS": 1,
    },
}


class DaskExecutor:
    """A Dask distributed cluster through ``distributed.Client``: ``dask`` starts an in-process
    ``LocalCluster`` of worker processes, anything else is a scheduler address."""

    name = "dask"
    isolates = False  # the scheduler knows which task a dead worker ran (KilledWorker)

    def __init__(self, scheduler: str, workers: int | None) -> None:
        import dask
        import distributed

        self._distributed = distributed
        self._futures: list[Any] = []
        self.cluster = None
        if scheduler == "dask":
            logging.getLogger("distributed").setLevel(logging.WARNING)  # no INFO chatter for cron
            with dask.config.set(LOCAL_CLUSTER_CONFIG):
                self.cluster = distributed.LocalCluster(
                    n_workers=workers or os.cpu_count() or 1,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            self.client = distributed.Client(self.cluster)
        else:
            self.client = distributed.Client(scheduler, timeout="30s")
        nthreads = self.client.nthreads()
        self.slots = workers or max(1, sum(nthreads.values()))
        self._nthreads = nthreads

    def threads_per_job(self) -> int:
        """Per host: its cores divided by the Dask worker threads on it (the smallest share)."""
        cores = self.client.run(os.cpu_count)
        per_host: dict[str, list[int]] = {}
        for addr, n in self._nthreads.items():
            host = addr.rsplit(":", 1)[0]
            entry = per_host.setdefault(host, [0, int(cores.get(addr) or 1)])
            entry[0] += n
        return max(1, min(c // max(t, 1) for t, c in per_host.values()))

    def submit(self, spec: dict[str, Any]) -> Any:
        """Start a job on the cluster."""
        future = self.client.submit(
            run_job, spec, key=f"allocator-job-{spec['run_id']}", pure=False
        )
        self._futures = [f for f in self._futures if not f.done()] + [future]
        return future

    def wait(self, futures: Sequence[Any], timeout: float) -> set[Any]:
        """The futures done within ``timeout`` seconds."""
        with contextlib.suppress(Exception):  # TimeoutError, or cancelled futures
            self._distributed.wait(list(futures), timeout=timeout, return_when="FIRST_COMPLETED")
        return {f for f in futures if f.done()}

    def outcome(self, future: Any) -> dict[str, Any] | BaseException:
        """The job's result dict, or the exception that stopped it."""
        from distributed.scheduler import KilledWorker

        try:
            return future.result()
        except KilledWorker as exc:
            return WorkerDied(f"dask worker died running the job ({exc})")
        except BaseException as exc:
            return exc

    def reset(self) -> None:
        """Nothing to do: the cluster recovers by itself."""

    def kill(self) -> None:
        """Cancel what is running (a task already started in a remote worker runs to its end)."""
        with contextlib.suppress(Exception):
            self.client.cancel(self._futures, force=True)
        self.close()

    def close(self) -> None:
        """Disconnect, and stop the in-process cluster."""
        with contextlib.suppress(Exception):
            self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()


def make_executor(opts: BatchOptions) -> LocalExecutor | DaskExecutor:
    """The executor ``opts`` asks for; rolling batches run one job at a time."""
    if opts.scheduler:
        return DaskExecutor(opts.scheduler, 1 if opts.rolling else opts.workers)
    return LocalExecutor(1 if opts.rolling else opts.workers or os.cpu_count() or 1)


# ---------------------------------------------------------------- the batch (runs in the parent)


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
    model = str(opts.model)
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
    threads = opts.threads or executor.threads_per_job()
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


def _spec(
    job: Job, out: Path, opts: BatchOptions, threads: int, previous: str | None
) -> dict[str, Any]:
    return {
        "run_id": job.run_id,
        "instance": str(job.path),
        "stem": job.stem,
        "target": str(out / job.stem),
        "model": str(opts.model),
        "time_limit_s": opts.time_limit_s,
        "mip_rel_gap": opts.mip_rel_gap,
        "threads": threads,
        "seed": opts.seed,
        "previous_plan": previous,
        "stability_weight": opts.stability_weight if previous else 0.0,
        "stability_scope": opts.stability_scope,
    }


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
