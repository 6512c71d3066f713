"""A persistent HiGHS LP for column generation (``allocator.methods.colgen``)."""

from __future__ import annotations

from collections.abc import Callable

import highspy
import numpy as np

from allocator.solve.highs import HIGHS_STATUS, new_highs, set_option, set_threads
from allocator.solve.status import SolveOptions, Termination

DUAL, PRIMAL = 1, 4  # HiGHS simplex_strategy values
IPM_ROWS = 1_000  # rows from which a fresh solve may run the interior point method
SIMPLEX_BUDGET = 1.5  # a fresh dual simplex may take this times the interior point's last time


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
        # fresh solves of a large LP: the interior point method's last (seconds, nonzeros),
        # and whether the dual simplex lost to it (then the interior point method for good)
        self._ipm_last: tuple[float, int] | None = None
        self._ipm_runs = 0
        self._simplex_lost = False

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

    def set_costs(self, cols: np.ndarray, cost: np.ndarray) -> None:
        """Change the costs of columns ``cols``; the basis stays primal feasible."""
        n = len(cols)
        if n:
            self.h.changeColsCost(
                n, np.asarray(cols, dtype=np.int32), np.asarray(cost, dtype=float)
            )

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
        capacity rows, 4x fewer seconds per simplex iteration), slower after small ones.

        The first two fresh solves of an LP of ``IPM_ROWS`` rows or more run the interior point
        method (with crossover, so a basis is left for the warm starts; the first is often on an
        easy LP); later ones try the dual simplex within ``SIMPLEX_BUDGET`` times the interior
        point's last time (scaled by the nonzeros) and, when it runs out, the interior point
        method from then on. Neither wins everywhere:
        on planar800's masters the dual simplex takes half the interior point's time, on
        planar1000's and grid13's several times it."""
        if fresh:
            self.h.clearSolver()
        primal = self._primal_feasible and not fresh
        set_option(self.h, "simplex_strategy", PRIMAL if primal else DUAL)
        large = fresh and self.h.getNumRow() >= IPM_ROWS
        left = float(max(time_limit_s, 0.01))
        start = self.h.getRunTime()
        if large and self._ipm_last is not None and self._ipm_runs >= 2 and not self._simplex_lost:
            seconds, nz = self._ipm_last
            budget = SIMPLEX_BUDGET * seconds * max(1.0, self.h.getNumNz() / max(nz, 1))
            self._run("simplex", min(left, budget))
            if self.h.getModelStatus() == highspy.HighsModelStatus.kTimeLimit and budget < left:
                self._simplex_lost = True
                self.h.clearSolver()
                self._run_ipm(left - (self.h.getRunTime() - start))
        elif large:
            self._run_ipm(left)
        else:
            self._run("simplex", left)
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

    def _run(self, solver: str, time_limit_s: float) -> None:
        # HiGHS's run time accumulates over runs of one object: the limit is on the total
        set_option(self.h, "time_limit", self.h.getRunTime() + float(max(time_limit_s, 0.01)))
        set_option(self.h, "solver", solver)
        self.h.run()

    def _run_ipm(self, time_limit_s: float) -> None:
        start = self.h.getRunTime()
        self._run("ipm", time_limit_s)
        self._ipm_last = (self.h.getRunTime() - start, self.h.getNumNz())
        self._ipm_runs += 1

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
        self._change_bounds(self.h.changeColsBounds, cols, lower, upper)

    def set_row_bounds(self, rows: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Change the bounds of rows ``rows`` (e.g. free a row that no longer restricts)."""
        self._change_bounds(self.h.changeRowsBounds, rows, lower, upper)

    def _change_bounds(
        self, change: Callable[..., object], which: np.ndarray, lower: np.ndarray, upper: np.ndarray
    ) -> None:
        n = len(which)
        if n:
            change(
                n,
                np.asarray(which, dtype=np.int32),
                np.asarray(lower, dtype=float),
                np.asarray(upper, dtype=float),
            )
            self._primal_feasible = False  # the basis may no longer be primal feasible

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
