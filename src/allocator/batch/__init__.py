"""Batch planning: many instances in parallel, a SQLite run ledger, rolling weeks.

``run_batch`` and ``BatchOptions`` (from ``allocator.batch.runner``) load on first use, so that
reading the ledger (``allocator runs``) does not import the solver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from allocator.batch.runner import BatchOptions, run_batch

__all__ = ["BatchOptions", "run_batch"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from allocator.batch import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'allocator.batch' has no attribute {name!r}")
