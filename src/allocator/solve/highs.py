"""Solve a built model with HiGHS and load the answer back.

The hand-off compiles the model (``allocator.solve.compile``) and passes the CSR matrix to
``highspy`` in bulk, the fastest Pyomo path measured on this project's machine. A MIP is first
solved as its LP relaxation (root bound; a cut loop when the model has a separator; a rounded or
user MIP start), then by branch and bound. With ``SolveOptions.dive`` (the time family) the LP
relaxation is solved on a copy of the model and dived on for a plan (``_dive``), which ends the
solve when it is within the asked gap of the LP bound.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.common.errors import InfeasibleConstraintException
from pyomo.core.base.var import VarData
from scipy.sparse import csr_array

from allocator.errors import SolverError
from allocator.formulation import BuiltModel
from allocator.formulation.rows import ColumnBounds, Separator
from allocator.solve.compile import Compiled, compile_model
from allocator.solve.status import (
    SOLVER,
    SolveOptions,
    SolveResult,
    Termination,
    report_progress,
)

logger = logging.getLogger(__name__)

# A MIP with few integer columns (departures, opened legs) beside a large LP: HiGHS's restarts and
# RINS/RENS sub-MIPs re-solve the large LP again and again, while the LP relaxation rounded up is
# already a good start. Measured on the Eurasia example: 10.0 s with HiGHS defaults, 0.9 s with
# these, same proven optimum. SolveOptions.highs_options overrides them.
FEW_INTEGERS = 200
FEW_INTEGERS_SHARE = 0.01
FEW_INTEGERS_OPTIONS = {
    "mip_allow_restart": False,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
}


HIGHS_STATUS = {
    highspy.HighsModelStatus.kOptimal: Termination.OPTIMAL,
    highspy.HighsModelStatus.kInfeasible: Termination.INFEASIBLE,
    highspy.HighsModelStatus.kUnbounded: Termination.UNBOUNDED,
    highspy.HighsModelStatus.kUnboundedOrInfeasible: Termination.INFEASIBLE_OR_UNBOUNDED,
    highspy.HighsModelStatus.kTimeLimit: Termination.TIME_LIMIT,
    highspy.HighsModelStatus.kIterationLimit: Termination.LIMIT,
    highspy.HighsModelStatus.kSolutionLimit: Termination.LIMIT,
    highspy.HighsModelStatus.kInterrupt: Termination.LIMIT,
    highspy.HighsModelStatus.kObjectiveBound: Termination.LIMIT,
    highspy.HighsModelStatus.kObjectiveTarget: Termination.LIMIT,
    highspy.HighsModelStatus.kModelEmpty: Termination.OPTIMAL,
}


def solver_version() -> str:
    """HiGHS version string, from the package metadata (constructing a solver would print)."""
    return importlib.metadata.version("highspy")


_banner_lock = threading.Lock()
_banner_done: list[bool] = []  # HiGHS prints its banner once per process, at the first Highs()


def new_highs(output: bool = False) -> highspy.Highs:
    """A ``Highs`` with ``output_flag`` set to ``output``.

    HiGHS writes its copyright banner to the process's stdout (file descriptor 1, below Python's
    ``sys.stdout``) when the first ``Highs`` of a process is constructed, before any option can be
    set. That first construction runs with descriptor 1 pointed at the null device, so the banner
    never reaches a user's or a script's stdout.
    """
    with _banner_lock:
        if _banner_done:
            h = highspy.Highs()
        else:
            sys.stdout.flush()
            saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, 1)
                h = highspy.Highs()
                _flush_c_stdout()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(null)
            _banner_done.append(True)
    set_option(h, "output_flag", bool(output))
    return h


def _flush_c_stdout() -> None:
    """Flush the C library's stdout buffer (the banner sits there when stdout is a pipe)."""
    # no C library by that handle (Windows): nothing to flush
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)


def set_option(h: highspy.Highs, key: str, value: bool | int | float | str) -> None:
    """Set a HiGHS option; SolverError naming option and value when HiGHS refuses it (HiGHS
    would otherwise keep its default silently)."""
    if h.setOptionValue(key, value) == highspy.HighsStatus.kError:
        raise SolverError(f"HiGHS refused option {key} = {value!r}", Termination.ERROR)


_scheduler_threads: list[int] = []  # the thread count HiGHS's global scheduler was started with


def set_threads(h: highspy.Highs, threads: int) -> None:
    """Ask for ``threads`` (0: HiGHS chooses). HiGHS starts one scheduler per process and refuses
    to run with another thread count later, so a change of count restarts it."""
    if _scheduler_threads and _scheduler_threads[-1] != threads:
        h.resetGlobalScheduler(True)
    _scheduler_threads[:] = [threads]
    if threads:
        set_option(h, "threads", int(threads))


def highs_model(c: Compiled, opts: SolveOptions) -> highspy.Highs:
    h = new_highs(bool(opts.tee or opts.log_file))
    set_option(h, "log_to_console", bool(opts.tee))
    if opts.log_file:
        set_option(h, "log_file", str(opts.log_file))
    set_option(h, "time_limit", float(opts.time_limit_s))
    set_option(h, "mip_rel_gap", float(opts.mip_rel_gap))
    set_option(h, "random_seed", int(opts.seed))
    set_threads(h, opts.threads or 0)
    n = len(c.columns)
    h.addVars(n, c.lower, c.upper)
    if n:
        h.changeColsCost(n, np.arange(n, dtype=np.int32), c.cost)
    if len(c.rows):
        h.addRows(
            len(c.rows),
            c.row_lower,
            c.row_upper,
            len(c.a_value),
            c.a_start[:-1],
            c.a_index,
            c.a_value,
        )
    ints = np.flatnonzero(c.integer).astype(np.int32)
    if 0 < len(ints) <= max(FEW_INTEGERS, FEW_INTEGERS_SHARE * n):
        for key, value in FEW_INTEGERS_OPTIONS.items():
            set_option(h, key, value)
    for key, value in opts.highs_options.items():
        set_option(h, key, value)
    if len(ints):
        h.changeColsIntegrality(len(ints), ints, np.ones(len(ints), dtype=np.uint8))
    return h


def _integral(x: np.ndarray, integer: np.ndarray, tol: float = 1e-6) -> bool:
    values = x[integer]
    return bool(np.all(np.abs(values - np.round(values)) <= tol))


def _round_up_start(c: Compiled, x: np.ndarray) -> np.ndarray | None:
    """A feasible MIP start from an LP solution by rounding integer columns up, when that is safe.

    Rounding column j up keeps every row feasible when j has no coefficient in an equality or
    ranged row, only coefficients <= 0 in <= rows and >= 0 in >= rows (e.g. departures or opened
    legs that only add capacity). Returns None when some integer column is not of that kind.
    """
    ints = np.flatnonzero(c.integer)
    n_rows = len(c.row_lower)
    a = csr_array((c.a_value, c.a_index, c.a_start), shape=(n_rows, len(c.columns))).tocsc()
    le = np.isinf(c.row_lower) & np.isfinite(c.row_upper)
    ge = np.isfinite(c.row_lower) & np.isinf(c.row_upper)
    for j in ints:
        rows = a.indices[a.indptr[j] : a.indptr[j + 1]]
        vals = a.data[a.indptr[j] : a.indptr[j + 1]]
        if not np.all((le[rows] & (vals <= 0)) | (ge[rows] & (vals >= 0))):
            return None
    start = x.copy()
    start[ints] = np.ceil(x[ints] - 1e-9)
    if np.any(start[ints] > c.upper[ints] + 1e-9):
        return None
    return start


# --- user MIP starts (e.g. last week's plan)
START_TOL = 1e-6


@dataclass(frozen=True)
class _Start:
    status: str  # none, accepted, rejected
    x: np.ndarray | None = None
    objective: float = float("nan")
    message: str = ""


def _user_start(c: Compiled, start: Mapping[str, float] | None) -> _Start:
    """Map a {variable name: value} start onto the columns and check it is feasible."""
    if start is None:
        return _Start("none")
    x = np.zeros(len(c.columns))
    given = np.zeros(len(c.columns), dtype=bool)
    names = [v.name for v in c.columns]
    for j, name in enumerate(names):
        if name in start:
            x[j], given[j] = float(start[name]), True
    known = int(given.sum())
    x = np.where(~given, np.clip(x, c.lower, c.upper), x)  # missing columns: 0 within bounds
    problems = []
    tol = START_TOL * np.maximum(1.0, np.abs(x))
    out = np.flatnonzero((x < c.lower - tol) | (x > c.upper + tol))
    if len(out):
        problems.append(f"{len(out)} column(s) outside their bounds, e.g. {names[out[0]]}")
    frac = np.flatnonzero(c.integer & (np.abs(x - np.round(x)) > START_TOL))
    if len(frac):
        problems.append(f"{len(frac)} integer column(s) fractional, e.g. {names[frac[0]]}")
    if len(c.rows):
        a = csr_array((c.a_value, c.a_index, c.a_start), shape=(len(c.rows), len(c.columns)))
        act = a @ x
        rtol = START_TOL * np.maximum(1.0, np.abs(act))
        bad = np.flatnonzero((act < c.row_lower - rtol) | (act > c.row_upper + rtol))
        if len(bad):
            worst = bad[
                np.argmax(np.maximum(c.row_lower[bad] - act[bad], act[bad] - c.row_upper[bad]))
            ]
            problems.append(
                f"{len(bad)} row(s) violated, worst {c.rows[worst].constraint.name} by "
                f"{max(c.row_lower[worst] - act[worst], act[worst] - c.row_upper[worst]):.4g}"
            )
    objective = float(c.cost @ x + c.offset)
    if problems:
        return _Start("rejected", None, objective, "; ".join(problems))
    x[c.integer] = np.round(x[c.integer])
    return _Start("accepted", x, objective, f"{known} of {len(names)} columns given")


def _set_start(h: highspy.Highs, x: np.ndarray) -> None:
    sol = highspy.HighsSolution()
    sol.col_value = x.tolist()
    sol.value_valid = True
    h.setSolution(sol)


MAX_CUT_ROUNDS = 50
DIVE_SHARE = 0.5  # of the time limit an LP dive may take
DIVE_TOL = 1e-6
DIVE_MAX_FRACTIONAL = 200  # more fractional integers: no dive (one LP per integer is too many)


def _dive(
    c: Compiled, opts: SolveOptions, seconds: float, gap: float
) -> tuple[float, np.ndarray | None]:
    """The LP relaxation's bound and the best plan of up to two dives from it.

    A dive fixes, one at a time, the least fractional integer column to its nearest integer (or,
    when that LP is infeasible, to the other) and re-solves the LP warm, until every integer
    column is integral. The first dive also fixes, before it starts, the integer columns the LP
    leaves integral (fewer LP solves; when both roundings are then infeasible they are freed and
    the dive goes on). When its plan is not within ``gap`` of the LP bound, a second dive starts
    again from the LP with nothing fixed, and the cheaper plan is kept. Runs on its own copy of
    the model, so the MIP solve that may follow starts clean. Returns (bound, plan): bound NaN
    and no plan when the LP is not solved; no plan when neither dive ends with one (infeasible
    both ways, or out of time)."""
    deadline = time.perf_counter() + seconds
    h = highs_model(c, replace(opts, log_file=None, tee=False))
    set_option(h, "solve_relaxation", True)
    set_option(h, "time_limit", max(seconds, 0.01))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return np.nan, None
    bound = float(h.getInfo().objective_function_value) + c.offset
    ints = np.flatnonzero(c.integer)
    x = np.asarray(h.getSolution().col_value, dtype=float)
    n_frac = int(np.sum(np.abs(x[ints] - np.round(x[ints])) > DIVE_TOL))
    logger.info(
        "LP dive: LP bound %.10g after %.1f s, %d of %d integers fractional",
        bound,
        h.getRunTime(),
        n_frac,
        len(ints),
    )
    if n_frac > DIVE_MAX_FRACTIONAL:
        return bound, None
    basis = h.getBasis()
    best = _dive_pass(h, c, x, ints, deadline, hold=True)
    if best is not None:
        cost = float(c.cost @ best) + c.offset
        if _within(cost, bound, gap):
            return bound, best
    h.changeColsBounds(len(ints), ints.astype(np.int32), c.lower[ints], c.upper[ints])
    h.setBasis(basis)  # the LP's own optimal basis: the second dive starts at once
    if not _dive_lp(h, -1, 0.0, deadline):
        return bound, best
    x = np.asarray(h.getSolution().col_value, dtype=float)
    second = _dive_pass(h, c, x, ints, deadline, hold=False)
    if second is not None and (best is None or c.cost @ second < c.cost @ best):
        best = second
    return bound, best


def _start_defect(h: highspy.Highs, c: Compiled) -> bool:
    """Whether HiGHS reports an objective its returned solution does not have."""
    if h.getInfo().primal_solution_status != 2:
        return False
    held = float(c.cost @ np.asarray(h.getSolution().col_value, dtype=float))
    reported = float(h.getInfo().objective_function_value)
    return abs(held - reported) > 1e-7 * max(1.0, abs(reported))


def _without_start(
    h: highspy.Highs, c: Compiled, opts: SolveOptions, seconds: float
) -> highspy.Highs:
    """The MIP solved again on a fresh copy without a start, when that gives a cheaper plan whose
    objective is its own; else ``h``."""
    if seconds <= 0.05:
        return h
    again = highs_model(c, replace(opts, log_file=None, tee=False, time_limit_s=seconds))
    again.run()
    if again.getInfo().primal_solution_status != 2 or _start_defect(again, c):
        return h
    held = float(c.cost @ np.asarray(h.getSolution().col_value, dtype=float))
    mine = float(c.cost @ np.asarray(again.getSolution().col_value, dtype=float))
    return again if mine < held else h


def _within(objective: float, bound: float, gap: float) -> bool:
    """Whether a plan costing ``objective`` is within the relative ``gap`` of ``bound``."""
    return objective - bound <= gap * max(abs(objective), 1e-10)


def _dive_pass(
    h: highspy.Highs,
    c: Compiled,
    x: np.ndarray,
    ints: np.ndarray,
    deadline: float,
    *,
    hold: bool,
) -> np.ndarray | None:
    """One dive from the LP solution ``x`` held in ``h`` (see ``_dive``); its plan or None."""
    v = x[ints]
    held = ints[np.abs(v - np.round(v)) <= DIVE_TOL] if hold else np.zeros(0, dtype=np.int64)
    if len(held):
        h.changeColsBounds(len(held), held.astype(np.int32), np.round(x[held]), np.round(x[held]))
    dived: list[int] = []
    while True:
        v = x[ints]
        frac = np.abs(v - np.round(v))
        open_ = np.flatnonzero(frac > DIVE_TOL)
        if len(open_) == 0:
            x = x.copy()
            x[ints] = np.round(v)
            logger.info(
                "LP dive%s: plan %.10g after %.1f s",
                " (whole integers held)" if hold else "",
                float(c.cost @ x) + c.offset,
                h.getRunTime(),
            )
            return x
        j = int(ints[open_[np.argmin(frac[open_])]])
        near = float(np.round(x[j]))
        other = float(np.floor(x[j]) if near > x[j] else np.ceil(x[j]))
        for value in (near, other):
            if not _dive_lp(h, j, value, deadline):
                continue
            x = np.asarray(h.getSolution().col_value, dtype=float)
            dived.append(j)
            break
        else:
            if len(held) == 0 or time.perf_counter() >= deadline:
                return None
            free = np.append(np.setdiff1d(held, dived), j).astype(np.int32)
            h.changeColsBounds(len(free), free, c.lower[free], c.upper[free])
            held = np.zeros(0, dtype=np.int64)
            if not _dive_lp(h, -1, 0.0, deadline):
                return None
            x = np.asarray(h.getSolution().col_value, dtype=float)


def _dive_lp(h: highspy.Highs, j: int, value: float, deadline: float) -> bool:
    """Fix column ``j`` (none when -1) to ``value`` and re-solve the LP; True when optimal."""
    left = deadline - time.perf_counter()
    if left <= 0:
        return False
    set_option(h, "time_limit", h.getRunTime() + left)
    if j >= 0:
        h.changeColBounds(j, value, value)
    h.run()
    return h.getModelStatus() == highspy.HighsModelStatus.kOptimal


class Progress:
    """Best plan objective and best bound of a solve over time (for time-to-target measures)."""

    def __init__(self, t0: float, offset: float = 0.0) -> None:
        self.t0, self.offset = t0, offset
        self.points: list[tuple[float, float, float]] = []
        self.primal, self.dual = np.inf, -np.inf

    def note(self, primal: float = np.inf, dual: float = -np.inf) -> None:
        """Record HiGHS's (offset-free) bounds if either improves the best so far."""
        primal = primal + self.offset if np.isfinite(primal) else np.inf
        dual = dual + self.offset if np.isfinite(dual) else -np.inf
        if primal < self.primal or dual > self.dual:
            self.primal, self.dual = min(primal, self.primal), max(dual, self.dual)
            elapsed = time.perf_counter() - self.t0
            self.points.append((elapsed, self.primal, self.dual))
            gap = (self.primal - self.dual) / max(abs(self.primal), 1e-10)
            report_progress("branch and bound", elapsed, plan=self.primal, bound=self.dual, gap=gap)

    def watch(self, h: highspy.Highs) -> None:
        """Follow HiGHS's MIP bounds through its interrupt callback."""

        def on_event(event: Any) -> None:
            self.note(event.data_out.mip_primal_bound, event.data_out.mip_dual_bound)

        h.cbMipInterrupt.subscribe(on_event)

    def note_lp(self, h: highspy.Highs) -> None:
        """Record the LP relaxation's objective as a bound when HiGHS solved it to optimality."""
        if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            self.note(dual=float(h.getInfo().objective_function_value))


def _cut_loop(h: highspy.Highs, c: Compiled, separator: Separator, progress: Progress) -> int:
    """Root cutting-plane loop on the LP relaxation held in ``h``: add the rows ``separator``
    finds violated by the current LP solution and re-solve, until it finds none. The rows are
    valid inequalities (e.g. strong linking), so the MIP over them stays exact. Returns the number
    of rows added."""
    pos = {id(v): j for j, v in enumerate(c.columns)}
    added = 0
    for _ in range(MAX_CUT_ROUNDS):
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            break
        x = np.asarray(h.getSolution().col_value, dtype=float)

        def values(variables: list[VarData], x: np.ndarray = x) -> np.ndarray:
            return np.array([x[pos[id(v)]] if id(v) in pos else 0.0 for v in variables])

        rows = separator(values)
        if not rows:
            break
        starts, index, coefs = [0], [], []
        for variables, row_coefs, _, _ in rows:
            for v, a in zip(variables, row_coefs, strict=True):
                if id(v) in pos:
                    index.append(pos[id(v)])
                    coefs.append(a)
            starts.append(len(index))
        h.addRows(
            len(rows),
            np.array([r[2] for r in rows], dtype=float),
            np.array([r[3] for r in rows], dtype=float),
            len(index),
            np.array(starts[:-1], dtype=np.int32),
            np.array(index, dtype=np.int32),
            np.array(coefs, dtype=float),
        )
        added += len(rows)
        h.run()
        progress.note_lp(h)
    return added


def solve(built: BuiltModel, opts: SolveOptions | None = None) -> SolveResult:
    """Solve a built model with HiGHS and load the solution into its variables when there is one.

    The model's array bounds and its separator (arc-cuts: a root cut loop) come from ``built``.
    A MIP is first solved as its LP relaxation (``lp_first``): that gives the root LP bound, and
    when the relaxation's optimum is already integral it is the MIP optimum (gap 0) and branch and
    bound is skipped. Otherwise the MIP is solved within the time left.
    """
    return solve_model(built.model, opts, built.column_bounds, built.separator)


def solve_model(
    m: pyo.ConcreteModel,
    opts: SolveOptions | None = None,
    column_bounds: Mapping[str, ColumnBounds] | None = None,
    separator: Separator | None = None,
) -> SolveResult:
    """``solve`` for a plain Pyomo model: its array bounds and separator given explicitly."""
    opts = (opts or SolveOptions()).under()
    t0 = t_enter = time.perf_counter()
    try:
        c = compile_model(m, column_bounds)
    except InfeasibleConstraintException as exc:
        logger.info("trivially infeasible: %s", exc)
        return _result(
            Termination.INFEASIBLE,
            False,
            np.nan,
            np.nan,
            np.nan,
            False,
            0,
            0,
            0,
            time.perf_counter() - t0,
            0.0,
            opts,
        )
    h = highs_model(c, opts)
    user = _user_start(c, opts.mip_start)
    if user.status == "rejected":
        logger.info("MIP start rejected: %s", user.message)
    handoff = time.perf_counter() - t0
    t0 = time.perf_counter()
    if opts.relax and c.integer.any():
        set_option(h, "solve_relaxation", True)  # an LP: its values stay fractional
    is_mip = bool(c.integer.any()) and not opts.relax
    root_bound = np.nan
    skip_mip = False
    start: np.ndarray | None = None
    n_cuts = 0
    progress = Progress(t_enter, c.offset)  # times include the hand-off
    if is_mip:
        progress.watch(h)
    if is_mip and opts.dive:
        asked = float(opts.mip_rel_gap)  # never None after ``under``
        root_bound, start = _dive(c, opts, DIVE_SHARE * opts.time_limit_s, asked)
        progress.note(dual=root_bound - c.offset)
        if user.x is not None and (start is None or c.cost @ user.x < c.cost @ start):
            start = user.x
        if start is not None:
            held = float(c.cost @ start) + c.offset
            progress.note(primal=held - c.offset)
            if _within(held, root_bound, asked):
                # within the gap of the LP bound: the dive's plan is proven, no MIP needed
                return _dive_result(
                    m,
                    c,
                    start,
                    Termination.OPTIMAL,
                    root_bound,
                    root_bound,
                    0,
                    handoff,
                    t0,
                    opts,
                    user,
                    progress,
                )
        # branch and bound without the dive's plan as a start: after a MIP start HiGHS 1.16 can
        # hand back the start's values under a better incumbent's objective (a user's start
        # still goes to HiGHS, as without a dive; the plan's own cost is checked below)
        if user.x is not None:
            _set_start(h, user.x)
        left = opts.time_limit_s - (time.perf_counter() - t0)
        set_option(h, "time_limit", max(left, 0.01))
        h.run()
        if start is not None:
            info = h.getInfo()
            found = info.primal_solution_status == 2
            cost = (
                float(c.cost @ np.asarray(h.getSolution().col_value)) + c.offset
                if found
                else np.inf
            )
            if cost > held:  # the dive's plan stays the answer, under the MIP's bound too
                dual = info.mip_dual_bound + c.offset
                bound = float(np.fmax(root_bound, dual))
                ran_out = h.getModelStatus() == highspy.HighsModelStatus.kTimeLimit
                term = (
                    Termination.OPTIMAL
                    if _within(held, bound, asked)
                    else (Termination.TIME_LIMIT if ran_out else Termination.LIMIT)
                )
                nodes = int(info.mip_node_count)
                return _dive_result(
                    m, c, start, term, bound, root_bound, nodes, handoff, t0, opts, user, progress
                )
    elif is_mip and (opts.lp_first or separator is not None):
        set_option(h, "solve_relaxation", True)
        h.run()
        progress.note_lp(h)
        if separator is not None:
            n_cuts = _cut_loop(h, c, separator, progress)
            logger.info("cut loop added %d rows", n_cuts)
        lp_status = h.getModelStatus()
        if lp_status == highspy.HighsModelStatus.kOptimal:
            root_bound = h.getInfo().objective_function_value + c.offset
            x = np.asarray(h.getSolution().col_value, dtype=float)
            skip_mip = _integral(x, c.integer)
            start = None if skip_mip else _round_up_start(c, x)
            if not skip_mip and user.x is not None:  # a user start takes priority
                start = user.x
        elif lp_status == highspy.HighsModelStatus.kInfeasible:
            skip_mip = True  # the MIP is infeasible too
        set_option(h, "solve_relaxation", False)
        if start is not None:
            mip_start = highspy.HighsSolution()
            mip_start.col_value = start.tolist()
            mip_start.value_valid = True
            h.setSolution(mip_start)
        if not skip_mip:
            left = opts.time_limit_s - (time.perf_counter() - t0)
            set_option(h, "time_limit", max(left, 0.01))
            h.run()
    else:
        if is_mip and user.x is not None:
            _set_start(h, user.x)
        h.run()
    started = user.x is not None or (start is not None and not opts.dive)
    if is_mip and started and not skip_mip and _start_defect(h, c):
        # HiGHS 1.16 after a MIP start can hand back the start's values under a better
        # incumbent's objective: solve again without a start in the time left, keep it if better
        h = _without_start(h, c, opts, opts.time_limit_s - (time.perf_counter() - t0))
    seconds = time.perf_counter() - t0
    status = h.getModelStatus()
    info = h.getInfo()
    termination = HIGHS_STATUS.get(status, Termination.ERROR)
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if termination == Termination.TIME_LIMIT and not has_solution:
        termination = Termination.TIME_LIMIT_NO_SOLUTION
    if termination in (
        Termination.INFEASIBLE,
        Termination.UNBOUNDED,
        Termination.INFEASIBLE_OR_UNBOUNDED,
    ):
        has_solution = False
    objective = info.objective_function_value + c.offset if has_solution else np.nan
    if is_mip and not skip_mip:
        bound, gap = mip_bound_and_gap(
            info.mip_dual_bound + c.offset, root_bound, objective, info.mip_gap, has_solution
        )
    else:
        bound, gap = (objective, 0.0) if termination == Termination.OPTIMAL else (np.nan, np.inf)
    if not is_mip and termination == Termination.OPTIMAL:
        root_bound = objective
    progress.note(
        objective - c.offset if has_solution else np.inf,
        bound - c.offset if np.isfinite(bound) else -np.inf,
    )
    duals = None
    if has_solution:
        sol = h.getSolution()
        values = np.asarray(sol.col_value, dtype=float)
        if is_mip:
            values[c.integer] = np.round(values[c.integer])
        _load(m, c, values, whole=False)  # rounded above when whole
        # the plan is the solution HiGHS hands back; after a MIP start HiGHS 1.16 can report the
        # objective of a better incumbent than the one it returns: the plan's own cost counts
        held = float(c.cost @ values + c.offset)
        if abs(held - objective) > 1e-7 * max(1.0, abs(objective)):
            logger.warning(
                "HiGHS reported objective %.10g, its solution costs %.10g: using the solution's",
                objective,
                held,
            )
            objective = held
            if is_mip and not skip_mip and np.isfinite(bound):
                gap = (objective - bound) / max(abs(objective), 1e-10)
                if termination == Termination.OPTIMAL and gap > float(opts.mip_rel_gap) + 1e-9:
                    termination = Termination.LIMIT  # a plan, not proven within the gap
        if sol.dual_valid:
            duals = np.asarray(sol.row_dual, dtype=float)
    return _result(
        termination,
        has_solution,
        objective,
        bound,
        gap,
        is_mip,
        len(c.columns),
        len(c.rows),
        len(c.a_value),
        handoff,
        seconds,
        opts,
        nodes=int(info.mip_node_count) if is_mip and not skip_mip else 0,
        duals=duals,
        root_bound=root_bound,
        start=user,
        progress=tuple(progress.points),
        cuts_added=n_cuts,
    )


def _dive_result(
    m: pyo.ConcreteModel,
    c: Compiled,
    x: np.ndarray,
    termination: Termination,
    bound: float,
    root_bound: float,
    nodes: int,
    handoff: float,
    t0: float,
    opts: SolveOptions,
    user: _Start,
    progress: Progress,
) -> SolveResult:
    """The result whose plan is the dive's ``x``: proven by the LP bound, or better than any plan
    branch and bound found in the time left (whose bound ``bound`` then includes)."""
    _load(m, c, x)
    objective = float(c.cost @ x) + c.offset
    gap = max(objective - bound, 0.0) / max(abs(objective), 1e-10)
    return _result(
        termination,
        True,
        objective,
        bound,
        gap,
        True,
        len(c.columns),
        len(c.rows),
        len(c.a_value),
        handoff,
        time.perf_counter() - t0,
        opts,
        nodes=nodes,
        root_bound=root_bound,
        start=user,
        progress=tuple(progress.points),
    )


def _load(m: pyo.ConcreteModel, c: Compiled, values: np.ndarray, whole: bool = True) -> None:
    """Put column values into the model's variables (integer columns rounded when ``whole``)."""
    values = np.asarray(values, dtype=float).copy()
    if whole:
        values[c.integer] = np.round(values[c.integer])
    for var in m.component_data_objects(pyo.Var):
        var.set_value(None, skip_validation=True)
    for var, value in zip(c.columns, values, strict=True):
        var.set_value(float(value), skip_validation=True)


def mip_bound_and_gap(
    dual_bound: float, root_bound: float, objective: float, highs_gap: float, has_solution: bool
) -> tuple[float, float]:
    """The best proven bound of a minimisation and the relative gap to the plan.

    The root LP bound holds for the MIP too; HiGHS's dual bound can be weaker (``-inf`` or 0 when
    a time limit stops it before branch and bound has a bound of its own), so the bound is the
    larger of the two, and the gap is recomputed from it as HiGHS does:
    ``(objective - bound) / |objective|``.
    """
    if not (np.isfinite(root_bound) and not dual_bound >= root_bound):
        return dual_bound, (highs_gap if has_solution else np.inf)
    if not has_solution:
        return root_bound, np.inf
    if objective == root_bound:
        return root_bound, 0.0
    return root_bound, (objective - root_bound) / abs(objective) if objective else np.inf


def _result(
    termination: Termination,
    has_solution: bool,
    objective: float,
    bound: float,
    gap: float,
    is_mip: bool,
    n_vars: int,
    n_cons: int,
    nnz: int,
    handoff: float,
    seconds: float,
    opts: SolveOptions,
    nodes: int = 0,
    duals: np.ndarray | None = None,
    root_bound: float = np.nan,
    start: _Start | None = None,
    progress: tuple[tuple[float, float, float], ...] = (),
    cuts_added: int = 0,
) -> SolveResult:
    start = start or _Start("none")
    return SolveResult(
        termination=termination,
        has_solution=has_solution,
        objective=float(objective),
        bound=float(bound),
        gap=float(gap),
        solver=SOLVER,
        solver_version=solver_version(),
        is_mip=is_mip,
        n_vars=n_vars,
        n_cons=n_cons,
        n_nonzeros=nnz,
        handoff_seconds=handoff,
        solve_seconds=seconds,
        nodes=nodes,
        root_bound=float(root_bound),
        options={
            k: v for k, v in asdict(replace(opts, mip_start=None)).items() if k != "mip_start"
        },
        row_duals=duals,
        mip_start_status=start.status,
        mip_start_objective=start.objective,
        mip_start_message=start.message,
        progress=progress,
        cuts_added=cuts_added,
    )
