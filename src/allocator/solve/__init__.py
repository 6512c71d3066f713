"""Hand a built model to HiGHS and read the answer back; the only package that talks to the solver.

``status`` (Termination, SolveOptions, SolveResult), ``compile`` (Pyomo -> CSR arrays), ``highs``
(``solve``: HiGHS set-up, MIP starts, the root cut loop, progress), ``duals`` (``solve_lp_duals``
for bottleneck prices) and ``persistent`` (``PersistentLP`` for column generation).
"""

from __future__ import annotations

from allocator.solve.duals import LPDuals, solve_lp_duals
from allocator.solve.highs import Progress, solve, solve_model, solver_version
from allocator.solve.persistent import PersistentLP
from allocator.solve.status import (
    DEFAULT_MIP_REL_GAP,
    DEFAULT_TIME_LIMIT_S,
    SOLVER,
    SolveOptions,
    SolveResult,
    Termination,
    report_progress,
)

__all__ = [
    "DEFAULT_MIP_REL_GAP",
    "DEFAULT_TIME_LIMIT_S",
    "SOLVER",
    "LPDuals",
    "PersistentLP",
    "Progress",
    "SolveOptions",
    "SolveResult",
    "Termination",
    "report_progress",
    "solve",
    "solve_lp_duals",
    "solve_model",
    "solver_version",
]
