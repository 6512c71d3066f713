"""Where batch jobs run: worker processes on this machine, or a Dask distributed cluster.

Both executors offer the same small interface to the scheduling loop (``slots``,
``threads_per_job``, ``submit``, ``wait``, ``outcome``, ``reset``, ``kill``, ``close``) and run the
same job function, ``allocator.batch.job.run_job``.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from allocator.batch.job import JobSpec, run_job


class WorkerDied(Exception):
    """The process running a job died (killed, crashed, out of memory)."""


PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCH_PARENT_S = 1.0  # how often a worker looks whether its parent is still there


def _worker_init(parent: int) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the parent decides, workers carry on
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    import allocator.pipeline  # noqa: F401  (imports once per worker, not in the first job's time)


def die_with_parent(parent: int) -> None:
    """End this process when process ``parent`` ends, even by ``kill -9``: no worker outlives
    its batch to finish a job nobody records.

    On Linux the kernel sends SIGKILL at the parent's death (``prctl(PR_SET_PDEATHSIG)``); a
    daemon thread that looks at ``os.getppid()`` every second covers other systems, and a
    parent that died before this call.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_PARENT_S)
        os.kill(os.getpid(), signal.SIGKILL)

    if os.getppid() != parent:  # died already
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=watch, name="allocator-parent-watch", daemon=True).start()


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
                initargs=(os.getpid(),),
            )
        return self._pool

    def submit(self, spec: JobSpec) -> Any:
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

    def submit(self, spec: JobSpec) -> Any:
        """Start a job on the cluster."""
        future = self.client.submit(run_job, spec, key=f"allocator-job-{spec.run_id}", pure=False)
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
