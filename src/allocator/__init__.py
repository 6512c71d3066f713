"""allocator: optimal cargo allocation over the Eurasian freight corridors.

>>> import allocator
>>> res = allocator.run("instances/eurasia")            # doctest: +SKIP
>>> res.plan.summary                                     # doctest: +SKIP

``run`` reads, validates, preprocesses, builds, solves and extracts; ``RunOptions`` says which
model and how (the same defaults as ``allocator solve``); ``allocator.deliver.deliver`` checks a
plan and writes it with its reports, atomically. The solving stages are imported on
first use, so ``import allocator`` and the CLI start fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from allocator._version import __version__
from allocator.errors import (
    AllocatorError,
    ExitCode,
    InfeasibleError,
    InstanceError,
    Problem,
    SolverError,
)
from allocator.instance import Instance, read_instance, read_raw, validate, write_instance

if TYPE_CHECKING:
    from allocator.options import RollingOptions, RunOptions
    from allocator.pipeline import RunResult, run
    from allocator.results import Plan
    from allocator.solve import SolveOptions

_LAZY = {
    "run": "allocator.pipeline",
    "RunResult": "allocator.pipeline",
    "RunOptions": "allocator.options",
    "RollingOptions": "allocator.options",
    "SolveOptions": "allocator.solve",
    "Plan": "allocator.results",
}

__all__ = [
    "AllocatorError",
    "ExitCode",
    "InfeasibleError",
    "Instance",
    "InstanceError",
    "Plan",
    "Problem",
    "RollingOptions",
    "RunOptions",
    "RunResult",
    "SolveOptions",
    "SolverError",
    "__version__",
    "read_instance",
    "read_raw",
    "run",
    "validate",
    "write_instance",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'allocator' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
