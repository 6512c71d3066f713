"""allocator: optimal cargo allocation over the Eurasian freight corridors."""

from __future__ import annotations

from allocator.errors import AllocatorError, InfeasibleError, InstanceError, Problem, SolverError
from allocator.instance import Instance
from allocator.io import read_raw, write_instance
from allocator.validate import read_instance, validate

__version__ = "0.1.0"

__all__ = [
    "AllocatorError",
    "InfeasibleError",
    "Instance",
    "InstanceError",
    "Problem",
    "SolverError",
    "__version__",
    "read_instance",
    "read_raw",
    "validate",
    "write_instance",
]
