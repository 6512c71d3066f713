"""The garbage collector around the stages that follow a solve."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Leave the objects alive on entry (the model, its solution, the instance) out of the
    collector's passes until the block ends. After a large model is built, each full pass would
    walk its millions of objects again (seconds at a time) though none of them can be freed
    yet; objects made inside the block are collected as usual, the frozen ones again after it."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
