"""Column generation for the path formulation, then price-and-branch.

1. Restricted master LP (the path model's LP relaxation over the columns generated so far) held
   in a persistent HiGHS LP (``solve.PersistentLP``): new columns are added in place and each
   re-solve warm-starts from the previous basis. Initial columns: the cheapest in-time path of
   every commodity. The unserved variable keeps the master feasible: at its penalty, or under
   ``forbid`` as an artificial at a big-M cost (still used at the end = infeasible).
2. Pricing with the duals of the balance, capacity, service, border, terminal and (weak and strong)
   linking rows: leg weights ``w_ka = C_ka - duals`` (>= 0 in a minimisation with <= rows), a
   resource-constrained shortest path per commodity (cost w, hours <= due days) in numba, parallel
   over commodities. It enumerates loopless paths in non-decreasing reduced cost (Yen) until one
   fits the due days: exact when that happens within the enumeration cap (always without due days).
3. When no column has a negative reduced cost, the LP optimum is the LP bound of the full path
   model; then the integer master over the generated columns is solved as a MIP (price-and-branch,
   a heuristic): its plan is reported with the LP bound as the bound and the gap against it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import numpy as np
import pyomo.environ as pyo

from allocator.errors import InfeasibleError, SolverError
from allocator.formulation.data import ArcData, arc_data
from allocator.formulation.path import PathSet, build_path_model
from allocator.instance import Instance
from allocator.preprocess import Preprocessed
from allocator.preprocess.paths import run_k_shortest
from allocator.solve import PersistentLP, SolveOptions, SolveResult, Termination, solve

logger = logging.getLogger(__name__)

RC_TOL = 1e-6
MAX_ROUNDS = 500
PRICING_ENUM = 200


@dataclasses.dataclass
class ColgenStats:
    """What column generation did."""

    rounds: int = 0
    columns: int = 0
    lp_bound: float = float("nan")
    pricing_exact: bool = True
    lp_seconds: float = 0.0
    pricing_seconds: float = 0.0
    simplex_iterations: int = 0


class _Master:
    """Row layout of the path master and the column of a path."""

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
        svc = ~np.isnan(d.leg_service_capacity)
        self.cap = rows(np.isfinite(d.leg_capacity) & ~cand, d.leg_capacity)
        self.svc = rows(svc, np.zeros(n_legs))
        self.bor = rows(np.isfinite(d.border_capacity), d.border_capacity)
        self.term = rows(np.isfinite(d.node_capacity), d.node_capacity)
        self.weak = rows(cand, np.zeros(n_legs))
        self.strong = np.full((n_com, n_legs), -1, dtype=np.int64)
        cand_legs = d.candidate_legs
        for k in range(n_com):
            self.strong[k, cand_legs] = len(lo) + np.arange(len(cand_legs))
            lo.extend([-np.inf] * len(cand_legs))
            up.extend([0.0] * len(cand_legs))
        self.row_lower, self.row_upper = np.array(lo), np.array(up)

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


def _fixed_columns(master: _Master, d: ArcData, big_m: float) -> tuple:
    """Columns u_k, s_a, y_a: cost, lower, upper, CSC arrays, and their kinds."""
    cost, lower, upper, starts, index, value = [], [], [], [], [], []
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
    cand = d.candidate_legs
    for a in cand:
        starts.append(len(index))
        cost.append(float(d.leg_fixed_cost[a]))
        lower.append(0.0)
        upper.append(1.0)
        index.append(int(master.weak[a]))
        value.append(-min(float(d.leg_capacity[a]), total))
        for k in range(n_com):
            index.append(int(master.strong[k, a]))
            value.append(-min(float(d.com_teu[k]), float(d.leg_capacity[a])))
    return (
        np.array(cost),
        np.array(lower),
        np.array(upper),
        np.array(starts),
        np.array(index),
        np.array(value),
        n_com,
    )


def _path_columns(master: _Master, paths: list[tuple[int, np.ndarray]], cost: np.ndarray) -> tuple:
    starts, index, value = [], [], []
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


def _price(
    pre: Preprocessed, d: ArcData, weights: np.ndarray, due: np.ndarray, ok: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cheapest in-time path per commodity under ``weights[k, leg]`` (numba, parallel)."""
    net = pre.net
    com = pre.commodities
    n_com = len(d.com_teu)
    hours = pre.time[com["class_idx"].to_numpy()]
    res_legs, res_len, res_cost, _, count = run_k_shortest(
        net,
        weights,
        hours,
        d.com_origin,
        d.com_dest,
        np.arange(n_com),
        np.where(ok, due, -1.0),
        1,
        PRICING_ENUM,
    )
    return res_legs[:, 0, :], res_len[:, 0], res_cost[:, 0], count


def column_generation(
    inst: Instance, pre: Preprocessed, opts: SolveOptions, deadline: float
) -> tuple[PathSet, ColgenStats, np.ndarray]:
    """Generate columns until none prices out; return them, the stats and the LP unserved values."""
    d = arc_data(inst, pre)
    com = pre.commodities
    ok = (com["status"] == "ok").to_numpy()
    due = com["due_days"].to_numpy(dtype=float) * 24.0
    cls = com["class_idx"].to_numpy()
    cost_k = pre.cost[cls]  # C per commodity and leg
    finite = pre.cost[np.isfinite(pre.cost)]
    big_m = 10.0 * (float(finite.sum()) if len(finite) else 1.0) + 1e6
    master = _Master(d, pre)
    lp = PersistentLP(master.row_lower, master.row_upper, opts)
    fixed = _fixed_columns(master, d, big_m)
    lp.add_columns(*fixed[:6])
    n_u = fixed[6]
    stats = ColgenStats()

    gen: list[tuple[int, np.ndarray]] = []
    gen_cost: list[float] = []
    gen_keys: set[tuple[int, tuple[int, ...]]] = set()

    def add(legs_mat: np.ndarray, lens: np.ndarray, found: np.ndarray, which: np.ndarray) -> int:
        new, costs = [], []
        for k in which:
            if found[k] == 0:
                continue
            legs = legs_mat[k, : lens[k]].copy()
            key = (int(k), tuple(legs.tolist()))
            if key in gen_keys:
                continue
            gen_keys.add(key)
            new.append((int(k), legs))
            costs.append(float(cost_k[k, legs].sum()))
        if new:
            lp.add_columns(*_path_columns(master, new, np.array(costs)))
            gen.extend(new)
            gen_cost.extend(costs)
        return len(new)

    t0 = time.perf_counter()
    legs_mat, lens, _, found = _price(pre, d, cost_k, due, ok)
    stats.pricing_seconds += time.perf_counter() - t0
    add(legs_mat, lens, found, np.arange(len(d.com_teu)))
    x = np.zeros(0)
    objective = np.nan
    while True:
        stats.rounds += 1
        t0 = time.perf_counter()
        term, objective, x, duals = lp.solve(deadline - time.perf_counter())
        stats.lp_seconds += time.perf_counter() - t0
        if term != Termination.OPTIMAL:
            raise SolverError(f"{inst.name}: column generation's master LP stopped: {term}")
        t0 = time.perf_counter()
        shared, strong = master.leg_duals(duals)
        weights = cost_k - shared[None, :] - strong
        weights = np.where(np.isfinite(cost_k), np.maximum(weights, 0.0), np.inf)
        legs_mat, lens, red, found = _price(pre, d, weights, due, ok)
        stats.pricing_seconds += time.perf_counter() - t0
        rc = red - duals[master.bal]
        # a commodity with an in-time route whose enumeration found none: pricing not exact
        stats.pricing_exact &= bool(np.all((found > 0) | ~ok))
        neg = np.flatnonzero(
            (found > 0) & (rc < -RC_TOL * np.maximum(1.0, np.abs(duals[master.bal])))
        )
        if len(neg) == 0 or add(legs_mat, lens, found, neg) == 0:
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


def solve_colgen(
    inst: Instance, pre: Preprocessed, recipe: Any, opts: SolveOptions
) -> tuple[pyo.ConcreteModel, SolveResult, ColgenStats]:
    """Column generation, then the integer master over the generated columns (price-and-branch)."""
    from allocator.formulation import BLOCKS as blocks

    t_start = time.perf_counter()
    paths, stats, _ = column_generation(inst, pre, opts, t_start + opts.time_limit_s)
    m = build_path_model(inst, pre, recipe, blocks, paths=paths)
    left = max(opts.time_limit_s - (time.perf_counter() - t_start), 1.0)
    result = solve(m, dataclasses.replace(opts, time_limit_s=left))
    lp_bound = stats.lp_bound if stats.pricing_exact else float("nan")
    if result.has_solution and np.isfinite(lp_bound):
        gap = (result.objective - lp_bound) / max(abs(result.objective), 1e-10)
        term = result.termination
        if term == Termination.OPTIMAL and gap > opts.mip_rel_gap + 1e-9:
            term = Termination.LIMIT  # optimal over the generated columns only
        result = dataclasses.replace(
            result, termination=term, bound=lp_bound, gap=max(gap, 0.0), root_bound=lp_bound
        )
    logger.info(
        "colgen %s: %d rounds, %d columns, LP bound %.6g, pricing exact %s",
        inst.name,
        stats.rounds,
        stats.columns,
        stats.lp_bound,
        stats.pricing_exact,
    )
    return m, result, stats
