"""Methods: how each model family is built and solved, looked up by family name.

``direct`` builds the model and solves it as one MIP (families ``arc``, ``time`` and ``path``; a path model
infeasible under ``forbid`` is diagnosed for too few paths); ``colgen`` interleaves building and
solving (branch and price: column generation at every node of a branch and bound on departures
and opened legs); ``ddd`` solves the timed problem exactly by dynamic discretization discovery
(relaxations over partially time-expanded networks, refined where they cheat).
"""

from __future__ import annotations

from allocator.methods import colgen, ddd, direct
from allocator.methods.registry import METHODS, Method, Start, Task, method_of, register

__all__ = ["METHODS", "Method", "Start", "Task", "colgen", "ddd", "direct", "method_of", "register"]
