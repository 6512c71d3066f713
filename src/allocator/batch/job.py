"""The batch job, run in a worker whichever executor is used: read -> validate -> solve ->
deliver (check, then write the plan folder atomically). It returns a small dict, never raises."""

from __future__ import annotations

import contextlib
import os
import socket
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from allocator.errors import AllocatorError, SolverError

if TYPE_CHECKING:
    from allocator.options import RunOptions

# Test hook (documented in docs/batch.md): a job whose instance stem equals this variable's value
# ends its worker process at once with os._exit(70), as a crash or the OOM killer would.
CRASH_ENV = "ALLOCATOR_TEST_CRASH_JOB"


@dataclass(frozen=True)
class JobSpec:
    """One job as it travels to a worker (picklable).

    ``run`` is the batch's RunOptions with the HiGHS threads of this job set, and its rolling
    options only when the batch is rolling; ``previous_plan`` is the plan folder this job
    continues from (rolling), read in the worker.
    """

    run_id: str
    instance: str
    stem: str
    target: str
    run: RunOptions
    previous_plan: str | None = None


def _reset_peak_rss() -> None:
    with contextlib.suppress(OSError):  # Linux: reset VmHWM, so the peak is this job's
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    """Peak resident memory of this process, MB: Linux ``VmHWM`` (of this address space, so a
    spawned process does not inherit its parent's peak), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_job(spec: JobSpec) -> dict[str, Any]:
    """Solve one instance and deliver its plan folder (plan tables, instance.json, report.md,
    report.html); return a small result dict for the ledger. Never raises."""
    t0 = time.perf_counter()
    _reset_peak_rss()
    if os.environ.get(CRASH_ENV) and os.environ.get(CRASH_ENV) == spec.stem:
        os._exit(70)
    out: dict[str, Any] = {"status": "failed", "host": socket.gethostname()}
    try:
        from allocator._version import __version__
        from allocator.deliver import deliver
        from allocator.instance.validate import read_instance
        from allocator.pipeline import run
        from allocator.results import read_plan
        from allocator.solve import solver_version

        out |= {"allocator_version": __version__, "solver": "highs"}
        out["solver_version"] = solver_version()
        inst = read_instance(spec.instance)
        opts = spec.run
        if opts.rolling is not None and spec.previous_plan:
            prev = read_plan(spec.previous_plan)
            opts = replace(opts, rolling=replace(opts.rolling, previous_plan=prev))
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
        deliver(res, Path(spec.target))
        out |= {"status": "succeeded", "plan_path": spec.target}
    except AllocatorError as exc:
        if isinstance(exc, SolverError) and exc.termination:  # stopped without a plan
            out["termination"] = exc.termination
        out["error"] = f"{type(exc).__name__}: {_one_line(exc)}"
    except Exception as exc:  # a bug: keep the traceback's tail
        tail = "".join(traceback.format_exception(exc)[-3:])
        out["error"] = f"{type(exc).__name__}: {exc}\n{tail}"
    out["total_seconds"] = time.perf_counter() - t0
    out["peak_memory_mb"] = peak_rss_mb()
    return out


def _one_line(exc: AllocatorError) -> str:
    """The error's message, with the checker's first violations when the plan failed it."""
    from allocator.errors import PlanCheckError

    if isinstance(exc, PlanCheckError):
        return f"{exc}: " + "; ".join(exc.violations[:3])
    return str(exc)
