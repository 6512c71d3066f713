"""Hand a Pyomo model to HiGHS and read the answer back; the only module that talks to the solver.

The hand-off compiles the model with Pyomo's ``LinearStandardFormCompiler`` (mixed form) and passes
the CSR matrix to ``highspy`` in bulk, the fastest Pyomo path measured on this project's machine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.common.errors import InfeasibleConstraintException
from pyomo.common.gc_manager import PauseGC
from pyomo.core.base.matrix_constraint import MatrixConstraint
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler, RowEntry
from scipy.sparse import csr_array, diags_array, vstack

logger = logging.getLogger(__name__)

SOLVER = "highs"
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


class Termination(StrEnum):
    """How a solve ended."""

    OPTIMAL = "optimal"
    """Proven optimal within the relative gap."""
    TIME_LIMIT = "time_limit"
    """Stopped at the time limit with a feasible plan (not proven optimal)."""
    TIME_LIMIT_NO_SOLUTION = "time_limit_no_solution"
    """Stopped at the time limit before any feasible plan was found."""
    LIMIT = "limit"
    """Stopped at another limit (iterations, nodes, solutions, interrupt)."""
    INFEASIBLE = "infeasible"
    """Proven to have no feasible plan."""
    UNBOUNDED = "unbounded"
    """The objective can decrease without bound (a modelling error)."""
    INFEASIBLE_OR_UNBOUNDED = "infeasible_or_unbounded"
    """Presolve found the model infeasible or unbounded without telling which."""
    ERROR = "error"
    """The solver failed."""


DEFAULT_TIME_LIMIT_S = 60.0
DEFAULT_MIP_REL_GAP = 1e-4


@dataclass(frozen=True)
class SolveOptions:
    """Solver settings; ``threads=0`` lets HiGHS choose.

    ``None`` time limit, gap or threads: the instance settings' value when the pipeline runs
    (``under``), else the defaults below (60 s, 1e-4, 0), which are also the settings' defaults.
    """

    time_limit_s: float | None = None
    mip_rel_gap: float | None = None
    threads: int | None = None
    seed: int = 0
    log_file: str | None = None
    tee: bool = False
    lp_first: bool = True
    highs_options: dict[str, Any] = field(default_factory=dict)
    # --- batch/rolling: a user MIP start, {Pyomo variable name: value}, e.g. last
    # week's plan mapped by allocator.analysis.rolling; missing columns start at 0 (clipped to bounds).
    # Checked against bounds, integrality and rows first: accepted starts are passed to HiGHS
    # (and take priority over the rounded LP start), rejected ones are reported and dropped.
    mip_start: Mapping[str, float] | None = field(default=None, repr=False, compare=False)

    def under(
        self,
        time_limit_s: float = DEFAULT_TIME_LIMIT_S,
        mip_rel_gap: float = DEFAULT_MIP_REL_GAP,
        threads: int = 0,
    ) -> SolveOptions:
        """These options with every ``None`` replaced by the given value (e.g. the settings')."""
        return replace(
            self,
            time_limit_s=time_limit_s if self.time_limit_s is None else self.time_limit_s,
            mip_rel_gap=mip_rel_gap if self.mip_rel_gap is None else self.mip_rel_gap,
            threads=threads if self.threads is None else self.threads,
        )


@dataclass(frozen=True)
class SolveResult:
    """What the solver reported, with sizes and timings."""

    termination: Termination
    has_solution: bool
    objective: float
    bound: float
    gap: float
    solver: str
    solver_version: str
    is_mip: bool
    n_vars: int
    n_cons: int
    n_nonzeros: int
    handoff_seconds: float
    solve_seconds: float
    nodes: int = 0
    root_bound: float = float("nan")
    options: dict[str, Any] = field(default_factory=dict)
    row_duals: np.ndarray | None = field(default=None, repr=False, compare=False)
    # --- batch/rolling: the user MIP start: none, accepted or rejected (with why)
    mip_start_status: str = "none"
    mip_start_objective: float = float("nan")
    mip_start_message: str = ""
    # --- research: (seconds since ``solve`` was called, hand-off included, best plan
    # objective or inf, best proven bound or -inf), one point per change: for time-to-target
    # comparisons in benchmarks (``allocator.research.bench.time_to_target``)
    progress: tuple[tuple[float, float, float], ...] = field(default=(), repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when a plan is available (optimal or a time-limited incumbent)."""
        return self.has_solution and self.termination in (
            Termination.OPTIMAL,
            Termination.TIME_LIMIT,
            Termination.LIMIT,
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain values for tables and the ledger."""
        out = asdict(self)
        out.pop("row_duals")
        out["termination"] = str(self.termination)
        return out


_STATUS = {
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
    """HiGHS version string."""
    return highspy.Highs().version()


@dataclass
class _Compiled:
    columns: list[Any]
    cost: np.ndarray
    offset: float
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    a_start: np.ndarray
    a_index: np.ndarray
    a_value: np.ndarray
    rows: list[Any]


def column_bounds(var: pyo.Var, lower: np.ndarray, upper: np.ndarray, integer: bool) -> None:
    """Record the bounds of every member of ``var`` as arrays (in ``var``'s order) for a fast hand-off."""
    registry = var.parent_block().__dict__.setdefault("_column_bounds", {})
    registry[var.local_name] = (lower, upper, integer)


def _bounds(m: pyo.ConcreteModel, columns: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower, upper and integrality of ``columns``: from registered arrays where there are any."""
    registry = m.__dict__.get("_column_bounds", {})
    lows, ups, ints, ids = [], [], [], []
    for var in m.component_objects(pyo.Var, descend_into=True):
        data = list(var.values())
        ids.extend(map(id, data))
        if var.local_name in registry and var.parent_block() is m:
            lo, up, is_int = registry[var.local_name]
            lows.append(np.asarray(lo, dtype=float))
            ups.append(np.asarray(up, dtype=float))
            ints.append(np.full(len(data), is_int))
        else:
            lows.append(np.array([-np.inf if v.lb is None else v.lb for v in data], dtype=float))
            ups.append(np.array([np.inf if v.ub is None else v.ub for v in data], dtype=float))
            ints.append(np.array([v.is_integer() for v in data], dtype=bool))
    pos = dict(zip(ids, range(len(ids)), strict=True))
    take = np.fromiter((pos[id(v)] for v in columns), dtype=np.int64, count=len(columns))
    cat = (np.concatenate(x) if x else np.zeros(0) for x in (lows, ups, ints))
    lower, upper, integer = cat
    return lower[take], upper[take], integer[take].astype(bool)


def _compile(m: pyo.ConcreteModel) -> _Compiled:
    # MatrixConstraint families are already CSR arrays: compile the rest, then append them
    matrices = [
        con
        for con in m.component_objects(pyo.Constraint, active=True, descend_into=True)
        if isinstance(con, MatrixConstraint)
    ]
    with PauseGC():
        return _compile_paused(m, matrices)


def _compile_paused(m: pyo.ConcreteModel, matrices: list[MatrixConstraint]) -> _Compiled:
    for con in matrices:
        con.deactivate()
    try:
        info = LinearStandardFormCompiler().write(m, mixed_form=True, set_sense=None)
    finally:
        for con in matrices:
            con.activate()
    columns = list(info.columns)
    n = len(columns)
    cost = info.c.toarray()[0] if info.c.shape[0] else np.zeros(n)
    offset = float(info.c_offset[0]) if len(info.c_offset) else 0.0
    obj = next(m.component_data_objects(pyo.Objective, active=True))
    if obj.sense == pyo.maximize:
        cost, offset = -cost, -offset
    kind = np.array([r.bound_type for r in info.rows], dtype=np.int8)
    rhs = np.asarray(info.rhs, dtype=float)
    row_lower = np.where(kind == 1, -np.inf, rhs)
    row_upper = np.where(kind == -1, np.inf, rhs)
    blocks, rows = [info.A.tocsr()], list(info.rows)
    lows, ups = [row_lower], [row_upper]
    position = {id(v): i for i, v in enumerate(columns)}
    for con in matrices:
        a, lo, up, entries = _matrix_rows(con, position, columns)
        blocks.append(a)
        lows.append(lo)
        ups.append(up)
        rows.extend(entries)
    n = len(columns)
    cost = np.concatenate([cost, np.zeros(n - len(cost))])
    widened = [csr_array((b.data, b.indices, b.indptr), shape=(b.shape[0], n)) for b in blocks]
    a = vstack(widened, format="csr")
    lower, upper, integer = _bounds(m, columns)
    return _Compiled(
        columns,
        cost,
        offset,
        lower,
        upper,
        integer,
        np.concatenate(lows),
        np.concatenate(ups),
        a.indptr.astype(np.int32),
        a.indices.astype(np.int32),
        a.data.astype(float),
        rows,
    )


def _matrix_rows(
    con: MatrixConstraint, position: dict[int, int], columns: list[Any]
) -> tuple[csr_array, np.ndarray, np.ndarray, list[RowEntry]]:
    """A MatrixConstraint as CSR rows over ``columns`` (extended in place by unseen variables).

    Fixed variables move to the bounds, as the standard-form compiler does; a row with both bounds
    becomes two rows (upper, then lower), as in the compiler's mixed form.
    """
    x = con._x
    for v in x:
        if id(v) not in position:
            position[id(v)] = len(columns)
            columns.append(v)
    col = np.fromiter((position[id(v)] for v in x), dtype=np.int64, count=len(x))
    fixed = np.fromiter((v.fixed for v in x), dtype=bool, count=len(x))
    a = csr_array(
        (
            np.asarray(con._A_data, dtype=float),
            np.asarray(con._A_indices),
            np.asarray(con._A_indptr),
        ),
        shape=(len(con._lower), len(x)),
    )
    lo = np.array([-np.inf if b is None else b for b in con._lower], dtype=float)
    up = np.array([np.inf if b is None else b for b in con._upper], dtype=float)
    if fixed.any():
        values = np.array([v.value if f else 0.0 for v, f in zip(x, fixed, strict=True)])
        shift = a @ values
        lo, up = lo - shift, up - shift
        a = a @ diags_array((~fixed).astype(float))
        a.eliminate_zeros()
    a = csr_array((a.data, col[a.indices], a.indptr), shape=(a.shape[0], len(columns)))
    data = con._data
    equal = lo == up
    entries, lows, ups, keep = [], [], [], []
    for i in range(a.shape[0]):
        if equal[i]:
            entries.append(RowEntry(data[i], 0))
            lows.append(lo[i])
            ups.append(up[i])
            keep.append(i)
            continue
        if up[i] < np.inf:
            entries.append(RowEntry(data[i], 1))
            lows.append(-np.inf)
            ups.append(up[i])
            keep.append(i)
        if lo[i] > -np.inf:
            entries.append(RowEntry(data[i], -1))
            lows.append(lo[i])
            ups.append(np.inf)
            keep.append(i)
    return a[np.asarray(keep, dtype=np.int64)], np.array(lows), np.array(ups), entries


_scheduler_threads: list[int] = []  # the thread count HiGHS's global scheduler was started with


def _set_threads(h: highspy.Highs, threads: int) -> None:
    """Ask for ``threads`` (0: HiGHS chooses). HiGHS starts one scheduler per process and refuses
    to run with another thread count later, so a change of count restarts it."""
    if _scheduler_threads and _scheduler_threads[-1] != threads:
        h.resetGlobalScheduler(True)
    _scheduler_threads[:] = [threads]
    if threads:
        h.setOptionValue("threads", int(threads))


def _highs(c: _Compiled, opts: SolveOptions) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", bool(opts.tee or opts.log_file))
    h.setOptionValue("log_to_console", bool(opts.tee))
    if opts.log_file:
        h.setOptionValue("log_file", str(opts.log_file))
    h.setOptionValue("time_limit", float(opts.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(opts.mip_rel_gap))
    h.setOptionValue("random_seed", int(opts.seed))
    _set_threads(h, opts.threads or 0)
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
            h.setOptionValue(key, value)
    for key, value in opts.highs_options.items():
        h.setOptionValue(key, value)
    if len(ints):
        h.changeColsIntegrality(len(ints), ints, np.ones(len(ints), dtype=np.uint8))
    return h


def _integral(x: np.ndarray, integer: np.ndarray, tol: float = 1e-6) -> bool:
    values = x[integer]
    return bool(np.all(np.abs(values - np.round(values)) <= tol))


def _round_up_start(c: _Compiled, x: np.ndarray) -> np.ndarray | None:
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


# --- batch/rolling: user MIP starts
START_TOL = 1e-6


@dataclass(frozen=True)
class _Start:
    status: str  # none, accepted, rejected
    x: np.ndarray | None = None
    objective: float = float("nan")
    message: str = ""


def _user_start(c: _Compiled, start: Mapping[str, float] | None) -> _Start:
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


Separator = Callable[
    [Callable[[list[Any]], np.ndarray]], list[tuple[list[Any], list[float], float, float]]
]
MAX_CUT_ROUNDS = 50


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
            self.points.append((time.perf_counter() - self.t0, self.primal, self.dual))

    def watch(self, h: highspy.Highs) -> None:
        """Follow HiGHS's MIP bounds through its interrupt callback."""

        def on_event(event: Any) -> None:
            self.note(event.data_out.mip_primal_bound, event.data_out.mip_dual_bound)

        h.cbMipInterrupt.subscribe(on_event)

    def note_lp(self, h: highspy.Highs) -> None:
        """Record the LP relaxation's objective as a bound when HiGHS solved it to optimality."""
        if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            self.note(dual=float(h.getInfo().objective_function_value))


def _cut_loop(h: highspy.Highs, c: _Compiled, separator: Separator, progress: Progress) -> int:
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

        def values(variables: list[Any], x: np.ndarray = x) -> np.ndarray:
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


def solve(m: pyo.ConcreteModel, opts: SolveOptions | None = None) -> SolveResult:
    """Solve ``m`` with HiGHS and load the solution into its variables when there is one.

    A MIP is first solved as its LP relaxation (``lp_first``): that gives the root LP bound, and
    when the relaxation's optimum is already integral it is the MIP optimum (gap 0) and branch and
    bound is skipped. Otherwise the MIP is solved within the time left.
    """
    opts = (opts or SolveOptions()).under()
    t0 = t_enter = time.perf_counter()
    try:
        c = _compile(m)
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
    h = _highs(c, opts)
    user = _user_start(c, opts.mip_start)  # batch/rolling
    if user.status == "rejected":
        logger.info("MIP start rejected: %s", user.message)
    handoff = time.perf_counter() - t0
    t0 = time.perf_counter()
    is_mip = bool(c.integer.any())
    root_bound = np.nan
    skip_mip = False
    start: np.ndarray | None = None
    separator = m.__dict__.get("separator")
    n_cuts = 0
    progress = Progress(t_enter, c.offset)  # times include the hand-off
    if is_mip:
        progress.watch(h)
    if is_mip and (opts.lp_first or separator is not None):
        h.setOptionValue("solve_relaxation", True)
        h.run()
        progress.note_lp(h)
        if separator is not None:
            n_cuts = _cut_loop(h, c, separator, progress)
            m.__dict__["cuts_added"] = n_cuts
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
        h.setOptionValue("solve_relaxation", False)
        if start is not None:
            mip_start = highspy.HighsSolution()
            mip_start.col_value = start.tolist()
            mip_start.value_valid = True
            h.setSolution(mip_start)
        if not skip_mip:
            left = opts.time_limit_s - (time.perf_counter() - t0)
            h.setOptionValue("time_limit", max(left, 0.01))
            h.run()
    else:
        if is_mip and user.x is not None:  # batch/rolling
            _set_start(h, user.x)
        h.run()
    seconds = time.perf_counter() - t0
    status = h.getModelStatus()
    info = h.getInfo()
    termination = _STATUS.get(status, Termination.ERROR)
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
        bound = info.mip_dual_bound + c.offset
        gap = info.mip_gap if has_solution else np.inf
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
        values[c.integer] = np.round(values[c.integer])
        for var in m.component_data_objects(pyo.Var):
            var.set_value(None, skip_validation=True)
        for var, value in zip(c.columns, values, strict=True):
            var.set_value(float(value), skip_validation=True)
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
    )


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
    )


# --- bottleneck prices: an LP with some columns fixed, and its duals


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
    row_duals: Any = field(repr=False)
    reduced_costs: Any = field(repr=False)
    seconds: float = 0.0


def solve_lp_duals(
    m: pyo.ConcreteModel,
    fix: Mapping[Any, float] | None = None,
    drop: Iterable[Any] = (),
    opts: SolveOptions | None = None,
) -> LPDuals:
    """Solve the LP of ``m`` (every column continuous) with the columns in ``fix`` held at the
    given values and the constraints in ``drop`` left out; return its objective and duals.

    Fixing is done on the compiled column bounds (``lower = upper = value``), not with Pyomo's
    ``fix()``, so no row disappears from the LP and the model is not changed. A constraint the
    compiler splits into two rows (ranged) gets the sum of their duals; a constraint the compiler
    drops (no free variable left, e.g. every variable Pyomo-fixed) is absent from ``row_duals``.
    The compiler does not scale or negate rows in mixed form, so the duals refer to the
    constraints as written. Variables of ``fix`` that are no column of the LP are ignored.
    """
    from pyomo.common.collections import ComponentMap

    opts = (opts or SolveOptions()).under()
    t0 = time.perf_counter()
    c = _compile(m)
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
    h = _highs(c, opts)
    h.run()
    status = _STATUS.get(h.getModelStatus(), Termination.ERROR)
    row_duals: Any = ComponentMap()
    reduced: Any = ComponentMap()
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


# --- research: a persistent LP for column generation (allocator.methods.colgen)


class PersistentLP:
    """A HiGHS LP kept alive between solves: columns are added in place and every re-solve
    warm-starts the simplex from the previous basis (no rebuild). Used by column generation."""

    def __init__(
        self,
        row_lower: np.ndarray,
        row_upper: np.ndarray,
        opts: SolveOptions | None = None,
    ) -> None:
        opts = (opts or SolveOptions()).under()
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", bool(opts.tee))
        self.h.setOptionValue("random_seed", int(opts.seed))
        _set_threads(self.h, opts.threads or 0)
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

    def solve(self, time_limit_s: float = 1e9) -> tuple[Termination, float, np.ndarray, np.ndarray]:
        """Solve the LP; return termination, objective, column values and row duals."""
        # HiGHS's run time accumulates over runs of one object: the limit is on the total
        self.h.setOptionValue("time_limit", self.h.getRunTime() + float(max(time_limit_s, 0.01)))
        self.h.run()
        term = _STATUS.get(self.h.getModelStatus(), Termination.ERROR)
        info = self.h.getInfo()
        self.iterations += int(info.simplex_iteration_count)
        sol = self.h.getSolution()
        return (
            term,
            float(info.objective_function_value),
            np.asarray(sol.col_value, dtype=float),
            np.asarray(sol.row_dual, dtype=float),
        )

    @property
    def version(self) -> str:
        """HiGHS version string."""
        return self.h.version()
