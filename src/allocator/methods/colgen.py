"""Column generation for the path formulation, then price-and-branch.

1. Restricted master LP (the path model's LP relaxation over the columns and rows generated so
   far) held in a persistent HiGHS LP (``solve.PersistentLP``): new columns and rows are added in
   place and each re-solve warm-starts from the previous basis. Initial columns: the cheapest
   in-time path of every commodity. The unserved variable keeps the master feasible: at its
   penalty, or under ``forbid`` as an artificial at a big-M cost (still used at the end =
   infeasible).
2. Pricing with the duals of the balance, capacity, service, border, terminal and linking rows:
   leg weights ``w_ka = C_ka - duals >= 0`` (every leg row is a ``<=`` row of a minimisation, so
   its dual is ``<= 0``), then a resource-constrained shortest path per commodity (weight w,
   hours <= due hours) by label setting in numba, parallel over commodities
   (``allocator.preprocess.rcsp``): exact, with or without due days.
3. Strong linking rows ``x_ka <= min(q_k, U_a) y_a`` are separated lazily: the master starts with
   the weak (aggregated) linking rows only, and each round adds the strong rows the current LP
   solution violates. On the Canad C instances with 200 commodities the full set is 40 000+
   rows, most never binding, and the master LP spent nearly all of the time on them.
4. When no column has a negative reduced cost and no strong row is violated, the LP optimum is
   the LP bound of the full path model (the missing strong rows hold at that point); then the
   integer master over the generated columns is solved as a MIP (price-and-branch, a
   heuristic): its plan is reported with the LP bound as the bound and the gap against it.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np

from allocator.errors import InfeasibleError, SolverError
from allocator.formulation import BuiltModel, Recipe, build
from allocator.formulation.data import ArcData, arc_data
from allocator.instance.model import Instance
from allocator.methods.registry import Task, register
from allocator.preprocess import Preprocessed
from allocator.preprocess.paths import PathSet
from allocator.preprocess.rcsp import PricedPaths, cheapest_in_time
from allocator.solve import PersistentLP, SolveOptions, SolveResult, Termination, solve

logger = logging.getLogger(__name__)

RC_TOL = 1e-6
MAX_ROUNDS = 500
LINK_TOL = 1e-6  # TEU a strong linking row may be violated by before it is added


@dataclasses.dataclass
class ColgenStats:
    """What column generation did."""

    rounds: int = 0
    columns: int = 0
    lp_bound: float = float("nan")
    pricing_exact: bool = True
    strong_rows: int = 0
    lp_seconds: float = 0.0
    pricing_seconds: float = 0.0
    simplex_iterations: int = 0


class _Master:
    """Row layout of the path master, the column of a path, and the lazily added strong rows."""

    def __init__(self, d: ArcData, pre: Preprocessed) -> None:
        net = pre.net
        self.d, self.net = d, net
        n_com, n_legs = len(d.com_teu), net.n_legs
        lo: list[float] = []
        up: list[float] = []

        def rows(mask: np.ndarray, upper: np.ndarray) -> np.ndarray:
            idx = np.full(len(mask), -1, dtype=np.int64)
            sel = np.flatnonzero(mask)
            idx[sel] = len(lo) + np.arange(len(sel))
            lo.extend([-np.inf] * len(sel))
            up.extend(upper[sel].tolist())
            return idx

        self.bal = np.arange(n_com)
        lo.extend(d.com_teu.tolist())
        up.extend(d.com_teu.tolist())
        cand = np.zeros(n_legs, dtype=bool)
        cand[d.candidate_legs] = True
        self.is_candidate = cand
        svc = ~np.isnan(d.leg_service_capacity)
        self.cap = rows(np.isfinite(d.leg_capacity) & ~cand, d.leg_capacity)
        self.svc = rows(svc, np.zeros(n_legs))
        self.bor = rows(np.isfinite(d.border_capacity), d.border_capacity)
        self.term = rows(np.isfinite(d.node_capacity), d.node_capacity)
        self.weak = rows(cand, np.zeros(n_legs))
        # strong linking rows x_ka <= min(q_k, U_a) y_a: row index once added, -1 before
        self.strong = np.full((n_com, n_legs), -1, dtype=np.int64)
        self.strong_bound = np.minimum(d.com_teu[:, None], d.leg_capacity[None, :])
        self.row_lower, self.row_upper = np.array(lo), np.array(up)
        self.n_rows = len(lo)
        self.open_col = np.full(n_legs, -1, dtype=np.int64)  # column of y_a

    def leg_rows(self, k: int, a: int) -> list[int]:
        """Rows a unit of commodity k on leg a has coefficient 1 in (besides balance)."""
        d, net = self.d, self.net
        b = d.leg_border[a]
        out = [
            self.cap[a],
            self.svc[a],
            self.bor[b] if b >= 0 else -1,
            self.term[net.leg_to[a]],
            self.weak[a],
            self.strong[k, a],
        ]
        return [r for r in out if r >= 0]

    def leg_duals(self, duals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sum of the duals of the shared rows per leg, and of the strong rows per (k, a)."""
        d, net = self.d, self.net
        ext = np.append(duals, 0.0)  # row -1 -> 0
        shared = ext[self.cap] + ext[self.svc] + ext[self.weak] + ext[self.term[net.leg_to]]
        bor_ext = np.append(self.bor, -1)  # leg_border -1 -> row -1
        bor = bor_ext[d.leg_border]
        shared = shared + ext[bor]
        return shared, ext[self.strong]

    def strong_rows(
        self, pairs: np.ndarray, columns: list[list[int]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Register strong rows for (k, a) ``pairs``; ``columns[i]`` are the path columns of
        commodity k through leg a. Returns the rows in CSR form (lower, upper, starts, index, value)."""
        starts: list[int] = []
        index: list[int] = []
        value: list[float] = []
        for (k, a), cols in zip(pairs.tolist(), columns, strict=True):
            self.strong[k, a] = self.n_rows
            self.n_rows += 1
            starts.append(len(index))
            index.extend(cols)
            value.extend([1.0] * len(cols))
            index.append(int(self.open_col[a]))
            value.append(-float(self.strong_bound[k, a]))
        n = len(pairs)
        return (
            np.full(n, -np.inf),
            np.zeros(n),
            np.array(starts, dtype=np.int64),
            np.array(index, dtype=np.int64),
            np.array(value),
        )


Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _fixed_columns(master: _Master, d: ArcData, big_m: float) -> tuple[Columns, int]:
    """Columns u_k, s_a, y_a: cost, lower, upper, CSC arrays, and the number of u columns."""
    cost: list[float] = []
    lower: list[float] = []
    upper: list[float] = []
    starts: list[int] = []
    index: list[int] = []
    value: list[float] = []
    n_com = len(d.com_teu)
    for k in range(n_com):
        starts.append(len(index))
        cost.append(big_m if d.forbid_unserved else float(d.com_penalty[k]))
        lower.append(0.0)
        upper.append(float(d.com_teu[k]))
        index.append(k)
        value.append(1.0)
    svc_legs = d.service_legs
    for a in svc_legs:
        starts.append(len(index))
        cost.append(float(d.leg_service_cost[a]))
        lower.append(0.0)
        upper.append(float(d.leg_max_services[a]))
        index.append(int(master.svc[a]))
        value.append(-float(d.leg_service_capacity[a]))
    total = float(d.com_teu.sum())
    for a in d.candidate_legs:
        master.open_col[a] = len(starts)
        starts.append(len(index))
        cost.append(float(d.leg_fixed_cost[a]))
        lower.append(0.0)
        upper.append(1.0)
        index.append(int(master.weak[a]))
        value.append(-min(float(d.leg_capacity[a]), total))
    columns = (
        np.array(cost),
        np.array(lower),
        np.array(upper),
        np.array(starts),
        np.array(index),
        np.array(value),
    )
    return columns, n_com


def _path_columns(
    master: _Master, paths: list[tuple[int, np.ndarray]], cost: np.ndarray
) -> Columns:
    starts: list[int] = []
    index: list[int] = []
    value: list[float] = []
    for k, legs in paths:
        starts.append(len(index))
        coef: dict[int, float] = {int(master.bal[k]): 1.0}
        for a in legs:
            for r in master.leg_rows(k, int(a)):
                coef[r] = coef.get(r, 0.0) + 1.0
        index.extend(coef)
        value.extend(coef.values())
    n = len(paths)
    return cost, np.zeros(n), np.full(n, np.inf), np.array(starts), np.array(index), np.array(value)


def column_generation(
    inst: Instance, pre: Preprocessed, opts: SolveOptions, deadline: float
) -> tuple[PathSet, ColgenStats, np.ndarray]:
    """Generate columns and strong rows until none prices out and none is violated; return the
    columns, the stats and the LP unserved values."""
    opts = opts.under()
    d = arc_data(inst, pre)
    com = pre.commodities
    ok = (com["status"] == "ok").to_numpy()
    due = np.where(ok, com["due_days"].to_numpy(dtype=float) * 24.0, -1.0)  # -1: not priced
    cls = com["class_idx"].to_numpy()
    cost_k = pre.cost[cls]  # C per commodity and leg
    finite = pre.cost[np.isfinite(pre.cost)]
    big_m = 10.0 * (float(finite.sum()) if len(finite) else 1.0) + 1e6
    master = _Master(d, pre)
    lp = PersistentLP(master.row_lower, master.row_upper, opts)
    fixed, n_u = _fixed_columns(master, d, big_m)
    lp.add_columns(*fixed)
    n_fixed = len(fixed[0])
    stats = ColgenStats()

    gen: list[tuple[int, np.ndarray]] = []
    gen_cost: list[float] = []
    gen_keys: set[tuple[int, tuple[int, ...]]] = set()
    # path columns through each (commodity, candidate leg): for the strong rows added later
    through: dict[tuple[int, int], list[int]] = {}

    def price(weights: np.ndarray) -> tuple[np.ndarray, PricedPaths]:
        t0 = time.perf_counter()
        priced = cheapest_in_time(pre.net, weights, pre.time, cls, d.com_origin, d.com_dest, due)
        stats.pricing_seconds += time.perf_counter() - t0
        stats.pricing_exact = priced.exact  # the last round's decides whether the bound holds
        return np.flatnonzero(priced.status == 1), priced

    def add_columns(which: np.ndarray, priced: PricedPaths) -> int:
        new: list[tuple[int, np.ndarray]] = []
        costs: list[float] = []
        for k in which.tolist():
            legs = priced.path(k).copy()
            key = (k, tuple(legs.tolist()))
            if key in gen_keys:
                continue
            gen_keys.add(key)
            col = n_fixed + len(gen) + len(new)
            for a in legs[master.is_candidate[legs]].tolist():
                through.setdefault((k, a), []).append(col)
            new.append((k, legs))
            costs.append(float(cost_k[k, legs].sum()))
        if new:
            lp.add_columns(*_path_columns(master, new, np.array(costs)))
            gen.extend(new)
            gen_cost.extend(costs)
        return len(new)

    def add_strong_rows(x: np.ndarray) -> int:
        """Add the strong linking rows violated by the master solution ``x``."""
        if not through:
            return 0
        x = np.append(x, np.zeros(lp.n_cols - len(x)))  # columns added this round are at 0
        keys = np.array(list(through), dtype=np.int64)
        k, a = keys[:, 0], keys[:, 1]
        flow = np.array([x[cols].sum() for cols in through.values()])
        y = x[master.open_col[a]]
        bad = (master.strong[k, a] < 0) & (flow - master.strong_bound[k, a] * y > LINK_TOL)
        sel = np.flatnonzero(bad)
        if len(sel) == 0:
            return 0
        cols = [through[(int(k[i]), int(a[i]))] for i in sel]
        lp.add_rows(*master.strong_rows(keys[sel], cols))
        stats.strong_rows += len(sel)
        return len(sel)

    first, priced = price(np.where(np.isfinite(cost_k), cost_k, np.inf))
    add_columns(first, priced)
    x = np.zeros(0)
    objective = np.nan
    while True:
        stats.rounds += 1
        t0 = time.perf_counter()
        term, objective, x, duals = lp.solve(deadline - time.perf_counter())
        stats.lp_seconds += time.perf_counter() - t0
        if term != Termination.OPTIMAL:
            raise SolverError(f"{inst.name}: column generation's master LP stopped: {term}")
        shared, strong = master.leg_duals(duals)
        weights = cost_k - shared[None, :] - strong
        # duals of <= rows are <= 0, so weights >= C >= 0 up to round-off
        weights = np.where(np.isfinite(cost_k), np.maximum(weights, 0.0), np.inf)
        found, priced = price(weights)
        rc = priced.cost[found] - duals[master.bal[found]]
        neg = found[rc < -RC_TOL * np.maximum(1.0, np.abs(duals[master.bal[found]]))]
        n_cols = add_columns(neg, priced) if len(neg) else 0
        n_rows = add_strong_rows(x)
        if n_cols == 0 and n_rows == 0:
            break
        if stats.rounds >= MAX_ROUNDS or time.perf_counter() > deadline:
            stats.pricing_exact = False
            break
    stats.columns = len(gen)
    stats.lp_bound = objective
    stats.simplex_iterations = lp.iterations
    u = x[:n_u]
    converged = stats.pricing_exact
    if d.forbid_unserved and np.any(u > 1e-6) and not converged:
        raise SolverError(
            f"{inst.name}: column generation stopped after {stats.rounds} rounds "
            f"({stats.columns} columns) before the master moved every TEU"
        )
    if d.forbid_unserved and np.any(u > 1e-6):
        bad = com.iloc[np.flatnonzero(u > 1e-6)]
        lots = ", ".join(", ".join(lt) for lt in bad["lots"].head(5))
        raise InfeasibleError(
            f"{inst.name}: no feasible plan exists: even the LP relaxation cannot move every TEU "
            f"(column generation leaves lots {lots} unmoved; settings say unserved = forbid)"
        )
    ptr = np.zeros(len(gen) + 1, dtype=np.int64)
    np.cumsum([len(legs) for _, legs in gen], out=ptr[1:])
    hours_k = pre.time[cls]
    paths = PathSet(
        com=np.array([k for k, _ in gen], dtype=np.int64),
        ptr=ptr,
        legs=np.concatenate([legs for _, legs in gen]) if gen else np.zeros(0, dtype=np.int64),
        cost=np.array(gen_cost),
        hours=np.array([float(hours_k[k, legs].sum()) for k, legs in gen]),
    )
    return paths, stats, u


@register("colgen")
def colgen_method(task: Task) -> tuple[BuiltModel, SolveResult]:
    """The colgen family's method: ``solve_colgen`` (re-planning inputs do not apply)."""
    built, result, _ = solve_colgen(task.inst, task.pre, task.recipe, task.opts)
    return built, result


def solve_colgen(
    inst: Instance, pre: Preprocessed, recipe: Recipe, opts: SolveOptions
) -> tuple[BuiltModel, SolveResult, ColgenStats]:
    """Column generation, then the integer master over the generated columns (price-and-branch)."""
    opts = opts.under()
    t_start = time.perf_counter()
    paths, stats, _ = column_generation(inst, pre, opts, t_start + opts.time_limit_s)
    cg_seconds = time.perf_counter() - t_start
    built = build(inst, pre, recipe, paths=paths)
    t_master = time.perf_counter() - t_start
    left = max(opts.time_limit_s - t_master, 1.0)
    result = solve(built, dataclasses.replace(opts, time_limit_s=left))
    # solve time = column generation + the integer master; the master's own bound holds only
    # over the generated columns, so its progress carries the column generation LP bound
    proved = stats.lp_bound if stats.pricing_exact else -np.inf
    progress = ((cg_seconds, np.inf, proved),) + tuple(
        (t_master + t, primal, proved) for t, primal, _ in result.progress
    )
    result = dataclasses.replace(
        result, solve_seconds=result.solve_seconds + cg_seconds, progress=progress
    )
    if result.has_solution and stats.pricing_exact:
        lp_bound = stats.lp_bound
        gap = (result.objective - lp_bound) / max(abs(result.objective), 1e-10)
        term = result.termination
        if term == Termination.OPTIMAL and gap > opts.mip_rel_gap + 1e-9:
            term = Termination.LIMIT  # optimal over the generated columns only
        result = dataclasses.replace(
            result, termination=term, bound=lp_bound, gap=max(gap, 0.0), root_bound=lp_bound
        )
    elif result.has_solution:  # stopped early: no bound of the full model was proved
        term = (
            Termination.LIMIT if result.termination == Termination.OPTIMAL else result.termination
        )
        result = dataclasses.replace(
            result, termination=term, bound=float("nan"), gap=float("inf"), root_bound=float("nan")
        )
    logger.info(
        "colgen %s: %d rounds, %d columns, %d strong rows, LP bound %.6g, pricing exact %s",
        inst.name,
        stats.rounds,
        stats.columns,
        stats.strong_rows,
        stats.lp_bound,
        stats.pricing_exact,
    )
    return built, result, stats
