"""Results: the Plan (tidy tables) read out of a solved model, and writing and reading plans.

``extract`` (``results.extract``) reads a built model's solution into a Plan; ``results.plan``
holds the Plan, the plan-level notions read from it (corridor of a route, corridor split,
binding capacities) and plan I/O; ``results.check`` re-checks a plan independently.
"""

from __future__ import annotations

from allocator.results.extract import extract
from allocator.results.plan import (
    BINDING,
    FORMATS,
    LOCAL_CORRIDOR,
    RUN_INSTANCE,
    Plan,
    binding_capacities,
    corridor_split,
    is_local_tag,
    read_plan,
    route_corridor,
    write_plan,
)

__all__ = [
    "BINDING",
    "FORMATS",
    "LOCAL_CORRIDOR",
    "RUN_INSTANCE",
    "Plan",
    "binding_capacities",
    "corridor_split",
    "extract",
    "is_local_tag",
    "read_plan",
    "route_corridor",
    "write_plan",
]
