"""Bottleneck prices: the LP of a built model with some columns fixed, and its duals."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap
from pyomo.core.base.constraint import ConstraintData
from pyomo.core.base.var import VarData

from allocator.formulation.rows import ColumnBounds
from allocator.solve.compile import compile_model
from allocator.solve.highs import HIGHS_STATUS, highs_model
from allocator.solve.status import SolveOptions, Termination


@dataclass(frozen=True)
class LPDuals:
    """The answer of ``solve_lp_duals``.

    HiGHS sign convention: reduced cost = c - A^T y. In a minimisation a ``<=`` row at its upper
    bound has a dual <= 0 (so ``-dual`` >= 0 is the decrease of the objective per unit of extra
    right-hand side), a ``>=`` row at its lower bound a dual >= 0, an equality row any sign.
    """

    termination: Termination
    objective: float
    # ComponentMaps: ConstraintData -> dual (summed over its rows), VarData -> reduced cost
    row_duals: Mapping[ConstraintData, float] = field(repr=False)
    reduced_costs: Mapping[VarData, float] = field(repr=False)
    seconds: float = 0.0


def solve_lp_duals(
    m: pyo.ConcreteModel,
    fix: Mapping[VarData, float] | None = None,
    drop: Iterable[ConstraintData] = (),
    opts: SolveOptions | None = None,
    column_bounds: Mapping[str, ColumnBounds] | None = None,
) -> LPDuals:
    """Solve the LP of ``m`` (every column continuous) with the columns in ``fix`` held at the
    given values and the constraints in ``drop`` left out; return its objective and duals.

    Fixing is done on the compiled column bounds (``lower = upper = value``), not with Pyomo's
    ``fix()``, so no row disappears from the LP and the model is not changed. A constraint the
    compiler splits into two rows (ranged) gets the sum of their duals; a constraint the compiler
    drops (no free variable left, e.g. every variable Pyomo-fixed) is absent from ``row_duals``.
    The compiler does not scale or negate rows in mixed form, so the duals refer to the
    constraints as written. Variables of ``fix`` that are no column of the LP are ignored.
    ``column_bounds``: array bounds of variables (a built model's).
    """
    opts = (opts or SolveOptions()).under()
    t0 = time.perf_counter()
    c = compile_model(m, column_bounds)
    c = replace(c, integer=np.zeros(len(c.columns), dtype=bool), lower=c.lower.copy())
    c.upper = c.upper.copy()
    position = {id(v): j for j, v in enumerate(c.columns)}
    for var, value in (fix or {}).items():
        j = position.get(id(var))
        if j is not None:
            c.lower[j] = c.upper[j] = float(value)
    dropped = {id(con) for con in drop}
    if dropped:
        gone = np.array([id(r.constraint) in dropped for r in c.rows], dtype=bool)
        c.row_lower = np.where(gone, -np.inf, c.row_lower)
        c.row_upper = np.where(gone, np.inf, c.row_upper)
    h = highs_model(c, opts)
    h.run()
    status = HIGHS_STATUS.get(h.getModelStatus(), Termination.ERROR)
    row_duals = ComponentMap()
    reduced = ComponentMap()
    objective = float("nan")
    if status == Termination.OPTIMAL:
        objective = float(h.getInfo().objective_function_value + c.offset)
        sol = h.getSolution()
        if sol.dual_valid:
            for row, y in zip(c.rows, np.asarray(sol.row_dual, dtype=float).tolist(), strict=True):
                if id(row.constraint) not in dropped:
                    con = row.constraint
                    row_duals[con] = row_duals.get(con, 0.0) + y
            col_dual = np.asarray(sol.col_dual, dtype=float).tolist()
            for var, rc in zip(c.columns, col_dual, strict=True):
                reduced[var] = rc
    return LPDuals(status, objective, row_duals, reduced, time.perf_counter() - t0)
