"""allocator: optimal cargo allocation over the Eurasian freight corridors."""

from __future__ import annotations

from allocator.errors import AllocatorError, InfeasibleError, InstanceError, Problem, SolverError
from allocator.instance.io import read_raw, write_instance
from allocator.instance.model import Instance
from allocator.instance.validate import read_instance, validate

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
