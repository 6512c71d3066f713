"""A persistent HiGHS LP for column generation (``allocator.methods.colgen``)."""

from __future__ import annotations

import highspy
import numpy as np

from allocator.solve.highs import HIGHS_STATUS, new_highs, set_option, set_threads
from allocator.solve.status import SolveOptions, Termination

DUAL, PRIMAL = 1, 4  # HiGHS simplex_strategy values


class PersistentLP:
    """A HiGHS LP kept alive between solves: columns are added (and deleted) in place and every
    re-solve warm-starts the simplex from the previous basis (no rebuild). Used by column
    generation.

    The warm start picks its simplex: after column changes alone the previous basis is still
    primal feasible (new columns enter at 0, deleted ones were nonbasic at 0), so the primal
    simplex goes on from it; after new rows or bound changes it is not, and the dual simplex
    runs. On planar800 the primal re-solve after a round's few hundred new columns takes a
    tenth of the dual simplex's iterations."""

    def __init__(
        self,
        row_lower: np.ndarray,
        row_upper: np.ndarray,
        opts: SolveOptions | None = None,
    ) -> None:
        opts = (opts or SolveOptions()).under()
        self.opts = opts
        self.h = new_highs(bool(opts.tee))
        set_option(self.h, "random_seed", int(opts.seed))
        set_threads(self.h, opts.threads or 0)
        n = len(row_lower)
        self.h.addRows(
            n,
            np.asarray(row_lower, dtype=float),
            np.asarray(row_upper, dtype=float),
            0,
            np.zeros(n, dtype=np.int32),
            np.zeros(0, dtype=np.int32),
            np.zeros(0),
        )
        self.n_cols = 0
        self.iterations = 0
        self.col_dual = np.zeros(0)  # reduced costs of the last solve
        self._primal_feasible = False  # the basis is primal feasible (only columns changed)

    def add_columns(
        self,
        cost: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        starts: np.ndarray,
        index: np.ndarray,
        value: np.ndarray,
    ) -> None:
        """Add columns in CSC form (``starts`` has one entry per column)."""
        n = len(cost)
        if n == 0:
            return
        self.h.addCols(
            n,
            np.asarray(cost, dtype=float),
            np.asarray(lower, dtype=float),
            np.asarray(upper, dtype=float),
            len(value),
            np.asarray(starts, dtype=np.int32),
            np.asarray(index, dtype=np.int32),
            np.asarray(value, dtype=float),
        )
        self.n_cols += n

    def delete_columns(self, cols: np.ndarray) -> None:
        """Delete the columns ``cols`` (nonbasic at 0 in the last solution, so the basis stays
        valid and primal feasible); the columns after them move down."""
        n = len(cols)
        if n == 0:
            return
        self.h.deleteCols(n, np.asarray(cols, dtype=np.int32))
        self.n_cols -= n

    def add_rows(
        self,
        lower: np.ndarray,
        upper: np.ndarray,
        starts: np.ndarray,
        index: np.ndarray,
        value: np.ndarray,
    ) -> None:
        """Add rows in CSR form over existing columns (``starts`` has one entry per row); the
        basis is kept (new rows enter with basic slacks), so the next solve warm-starts."""
        n = len(lower)
        if n == 0:
            return
        self.h.addRows(
            n,
            np.asarray(lower, dtype=float),
            np.asarray(upper, dtype=float),
            len(value),
            np.asarray(starts, dtype=np.int32),
            np.asarray(index, dtype=np.int32),
            np.asarray(value, dtype=float),
        )
        self._primal_feasible = False

    def solve(
        self, time_limit_s: float = 1e9, *, fresh: bool = False
    ) -> tuple[Termination, float, np.ndarray, np.ndarray]:
        """Solve the LP; return termination, objective, column values and row duals.

        ``fresh`` drops the basis so that HiGHS presolves and solves from scratch: faster than a
        warm start after large changes (on a 20,000-row master with thousands of new columns and
        capacity rows, 4x fewer seconds per simplex iteration), slower after small ones."""
        # HiGHS's run time accumulates over runs of one object: the limit is on the total
        set_option(self.h, "time_limit", self.h.getRunTime() + float(max(time_limit_s, 0.01)))
        if fresh:
            self.h.clearSolver()
        primal = self._primal_feasible and not fresh
        set_option(self.h, "simplex_strategy", PRIMAL if primal else DUAL)
        self.h.run()
        term = HIGHS_STATUS.get(self.h.getModelStatus(), Termination.ERROR)
        info = self.h.getInfo()
        self.iterations += int(info.simplex_iteration_count)
        sol = self.h.getSolution()
        self._primal_feasible = term == Termination.OPTIMAL
        self.col_dual = np.asarray(sol.col_dual, dtype=float)
        return (
            term,
            float(info.objective_function_value),
            np.asarray(sol.col_value, dtype=float),
            np.asarray(sol.row_dual, dtype=float),
        )

    @property
    def n_nonzeros(self) -> int:
        """Nonzeros of the constraint matrix."""
        return int(self.h.getNumNz())

    @property
    def version(self) -> str:
        """HiGHS version string."""
        return self.h.version()

    def set_bounds(self, cols: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Change the bounds of columns ``cols`` (e.g. branching on an integer column)."""
        n = len(cols)
        if n:
            self.h.changeColsBounds(
                n,
                np.asarray(cols, dtype=np.int32),
                np.asarray(lower, dtype=float),
                np.asarray(upper, dtype=float),
            )
            self._primal_feasible = False

    def solve_mip(
        self, integer_cols: np.ndarray, time_limit_s: float, mip_rel_gap: float
    ) -> tuple[Termination, float, np.ndarray]:
        """Solve a copy of the current LP with ``integer_cols`` integer (this LP is untouched);
        return termination, objective and column values (empty when no solution was found)."""
        h = new_highs(False)
        set_option(h, "random_seed", int(self.opts.seed))
        set_threads(h, self.opts.threads or 0)
        h.passModel(self.h.getLp())
        n = len(integer_cols)
        if n:
            h.changeColsIntegrality(
                n,
                np.asarray(integer_cols, dtype=np.int32),
                np.full(n, highspy.HighsVarType.kInteger),
            )
        set_option(h, "time_limit", float(max(time_limit_s, 0.01)))
        set_option(h, "mip_rel_gap", float(mip_rel_gap))
        h.run()
        term = HIGHS_STATUS.get(h.getModelStatus(), Termination.ERROR)
        info = h.getInfo()
        if info.primal_solution_status != 2:  # no feasible solution
            return term, float("inf"), np.zeros(0)
        return term, float(info.objective_function_value), np.asarray(h.getSolution().col_value)
