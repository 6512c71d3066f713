"""Column generation for the path formulation, and branch-and-price on its integer decisions.

1. **Restricted master** (the path model's LP relaxation over the columns and rows generated so
   far) on a persistent HiGHS LP (``solve.PersistentLP``): columns and rows are added in place
   and every re-solve warm-starts from the previous basis. It starts with the balance rows, the
   service rows and the weak linking rows only. Leg, border and terminal capacity rows enter when
   the master's solution overloads them, and strong linking rows ``x_ka <= min(q_k, U_a) y_a``
   when the solution violates them: on a large network most capacities never bind, and their
   rows never exist. The unserved variable keeps the master feasible: at its penalty, or under
   ``forbid`` as an artificial at a big M. Under ``forbid`` every leg, border and terminal
   capacity row also has an overflow column, ``load - overflow <= capacity``, whose cost starts
   at ``OVERFLOW_START`` times the costliest cheapest route per TEU and grows by
   ``OVERFLOW_GROWTH`` whenever the master converges with an overflow still used, up to the big
   M (still used there = infeasible). Any overflow cost gives a relaxation, so every bound on the way holds,
   and a converged master with no overflow is optimal. An overloaded leg then costs its
   overflow price per TEU, on the scale of the routes' costs, and every commodity through it
   prices a route around it at once; with the big M alone, only the TEU the master drops move,
   and the duals are of the order of M, whatever the routes cost: planar1000's master comes
   within 1e-4 of its optimum in 16 rounds this way, and not within 57 under the big M alone. Columns the master leaves
   at 0 with a reduced cost above ``PURGE_RC`` (relative) in ``PURGE_AGE`` solutions in a row are
   deleted once they are ``PURGE_SHARE`` of all, whenever the master objective has fallen since
   the last purge (the rule that keeps a degenerate master from cycling): the LP stays near the
   columns that matter. The re-solve after new columns alone runs the primal simplex from the
   previous basis, after new rows or bounds the dual; after large changes a fresh, presolved
   solve (interior point or dual simplex, see ``PersistentLP.solve``).
2. **Pricing** with the duals: every leg row is a ``<=`` row of a minimisation, so its dual is
   ``<= 0`` and the reduced leg weight ``C_ka - duals >= C_ka >= 0``. Weights are one matrix per
   class (the leg duals are shared by all commodities) plus a sparse correction per commodity for
   its strong rows; then a resource-constrained shortest path per commodity (hours within its due
   hours) by label setting in numba, in parallel (``allocator.preprocess.rcsp``): exact, so due
   days are exact. A commodity whose balance dual does not exceed its cheapest in-time path cost
   (the least weight any of its paths can have) cannot price out and is skipped.
3. **Bounds.** Every round gives the Lagrangian bound ``z_RMP + sum_k q_k min(0, rc_k)``, valid
   for the full model; at convergence (no column prices out, no row is violated) the master LP
   optimum is the path model's LP bound.
4. **Branch and price.** The integer decisions are the departures ``s_a`` of service legs and the
   openings ``y_a`` of candidate legs (path flows are continuous TEU). Branching on them changes
   only column bounds of the master, so pricing is unchanged below every node: best-first
   branch and bound, column generation at every node, bound = least open node bound. Incumbents
   come from integral node solutions and from a MIP over the restricted master's columns (its
   solutions are plans of the full model once no capacity row is violated). The result is proven
   optimal when the incumbent is within the relative gap of that bound; at a time limit it
   carries the bound and gap reached.
5. The plan is the incumbent loaded into the Pyomo path model (``formulation.path``) built over
   the generated columns, which every later stage reads like any other built model.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import time
from functools import partial

import numpy as np

from allocator.errors import InfeasibleError, SolverError
from allocator.formulation import BuiltModel, FixedPrices, Recipe, build
from allocator.formulation.data import ArcData, arc_data
from allocator.instance.model import Instance
from allocator.methods.registry import Task, register
from allocator.preprocess import Preprocessed
from allocator.preprocess.costs import shortest_paths
from allocator.preprocess.paths import PathSet
from allocator.preprocess.rcsp import (
    FOUND,
    LABEL_LIMIT,
    PathBatch,
    fastest_hours,
    price_commodities,
)
from allocator.solve import (
    SOLVER,
    PersistentLP,
    SolveOptions,
    SolveResult,
    Termination,
    report_progress,
)

logger = logging.getLogger(__name__)

RC_TOL = 1e-6  # relative reduced cost below which a column is added
ROW_TOL = 1e-6  # TEU a lazy row may be violated by before it is added
INT_TOL = 1e-6  # distance from an integer below which a value counts as integral
MAX_ROUNDS = 2000
GRACE_S = 10.0  # seconds past the time limit allowed to turn the last LP into a plan
FRESH_SHARE = 0.05  # new columns (or rows) per round above which the master LP starts afresh
PURGE_RC = 1e-3  # relative reduced cost above which a column left at 0 is idle
PURGE_SHARE = 0.05  # idle columns (share of all) above which they are deleted
PURGE_AGE = 2  # consecutive master solutions a column must be idle in before it is deleted
OVERFLOW_START = 2.0  # first overflow cost per TEU under forbid: times the costliest cheapest route
OVERFLOW_GROWTH = 10.0  # factor on the overflow cost when the converged master still uses one


@dataclasses.dataclass
class ColgenStats:
    """What column generation and branch and price did."""

    rounds: int = 0
    columns: int = 0
    lp_bound: float = float("nan")
    pricing_exact: bool = True
    capacity_rows: int = 0
    strong_rows: int = 0
    lp_seconds: float = 0.0
    pricing_seconds: float = 0.0
    priced: int = 0  # commodity pricings run
    purged: int = 0  # idle path columns deleted
    simplex_iterations: int = 0
    nodes: int = 0
    bound: float = float("-inf")  # proven bound of the integer model
    incumbent: float = float("inf")


class _Master:
    """The restricted master: HiGHS columns and rows, the leg entries of every path column, and
    the rows that exist so far (-1 where not yet)."""

    def __init__(self, d: ArcData, pre: Preprocessed, opts: SolveOptions, big_m: float) -> None:
        net = pre.net
        self.d, self.net, self.cost = d, net, pre.cost
        n_com, n_legs = len(d.com_teu), net.n_legs
        self.is_candidate = np.zeros(n_legs, dtype=bool)
        self.is_candidate[d.candidate_legs] = True
        svc_legs, cand_legs = d.service_legs, d.candidate_legs
        # rows: balance (n_com), service rows, weak linking rows; the rest lazily
        self.svc_row = np.full(n_legs, -1, dtype=np.int64)
        self.svc_row[svc_legs] = n_com + np.arange(len(svc_legs))
        self.weak_row = np.full(n_legs, -1, dtype=np.int64)
        self.weak_row[cand_legs] = n_com + len(svc_legs) + np.arange(len(cand_legs))
        self.n_rows = n_com + len(svc_legs) + len(cand_legs)
        lower = np.concatenate([d.com_teu, np.full(len(svc_legs) + len(cand_legs), -np.inf)])
        upper = np.concatenate([d.com_teu, np.zeros(len(svc_legs) + len(cand_legs))])
        self.cap_row = np.full(n_legs, -1, dtype=np.int64)
        self.bor_row = np.full(len(d.border_capacity), -1, dtype=np.int64)
        self.term_row = np.full(net.n_nodes, -1, dtype=np.int64)
        self.strong: dict[tuple[int, int], int] = {}
        self.strong_on = True  # separate strong linking rows (off: the weak LP only)
        self.lp = PersistentLP(lower, upper, opts)
        # fixed columns: u_k, s_a, y_a
        total = float(d.com_teu.sum())
        cost = np.concatenate(
            [
                np.full(n_com, big_m) if d.forbid_unserved else d.com_penalty,
                d.leg_service_cost[svc_legs],
                d.leg_fixed_cost[cand_legs],
            ]
        )
        upper_col = np.concatenate(
            [d.com_teu, d.leg_max_services[svc_legs], np.ones(len(cand_legs))]
        )
        rows = np.concatenate([np.arange(n_com), self.svc_row[svc_legs], self.weak_row[cand_legs]])
        value = np.concatenate(
            [
                np.ones(n_com),
                -d.leg_service_capacity[svc_legs],
                -np.minimum(d.leg_capacity[cand_legs], total),
            ]
        )
        n_fixed = len(cost)
        self.lp.add_columns(cost, np.zeros(n_fixed), upper_col, np.arange(n_fixed), rows, value)
        # under forbid, an overflow column per leg, border and terminal capacity: empty until its
        # row enters, then ``load - overflow <= capacity`` (a relaxation, see the module)
        self.leg_over = np.full(n_legs, -1, dtype=np.int64)
        self.bor_over = np.full(len(d.border_capacity), -1, dtype=np.int64)
        self.term_over = np.full(net.n_nodes, -1, dtype=np.int64)
        if d.forbid_unserved:
            n_over = n_fixed
            for over, on in (
                (self.leg_over, ~self.is_candidate & np.isfinite(d.leg_capacity)),
                (self.bor_over, np.isfinite(d.border_capacity)),
                (self.term_over, np.isfinite(d.node_capacity)),
            ):
                which = np.flatnonzero(on)
                over[which] = n_over + np.arange(len(which))
                n_over += len(which)
            n_add = n_over - n_fixed
            self.lp.add_columns(
                np.full(n_add, big_m),
                np.zeros(n_add),
                np.full(n_add, np.inf),
                np.zeros(n_add, dtype=np.int64),
                np.zeros(0, dtype=np.int64),
                np.zeros(0),
            )
            cost = np.concatenate([cost, np.full(n_add, big_m)])
            n_fixed = n_over
        self.fixed_cost = cost
        self.over_cols = np.arange(n_com + len(svc_legs) + len(cand_legs), n_fixed)
        # the relaxation's columns: the artificials (under forbid) and the overflows
        self.relax_cols = np.concatenate(
            [np.arange(n_com) if d.forbid_unserved else np.zeros(0, np.int64), self.over_cols]
        ).astype(np.int64)
        self.n_fixed = n_fixed
        self.svc_col = np.full(n_legs, -1, dtype=np.int64)
        self.svc_col[svc_legs] = n_com + np.arange(len(svc_legs))
        self.open_col = np.full(n_legs, -1, dtype=np.int64)
        self.open_col[cand_legs] = n_com + len(svc_legs) + np.arange(len(cand_legs))
        self.int_cols = np.concatenate([self.svc_col[svc_legs], self.open_col[cand_legs]])
        self.int_upper = upper_col[n_com:]
        # path columns: commodity, cost, and their leg entries (CSR over paths)
        self.path_com: list[np.ndarray] = []
        self.path_cost: list[np.ndarray] = []
        self.path_len: list[np.ndarray] = []
        self.path_legs: list[np.ndarray] = []
        self.n_paths = 0
        self.idle = np.zeros(0, dtype=np.int64)  # master solutions each path column sat idle in
        self.keys: set[tuple[int, bytes]] = set()
        self._entries: tuple[np.ndarray, np.ndarray] | None = None
        # deleted columns (commodity, legs, length, cost): ``path_set`` can still give them, for
        # a path model over every route generated
        self.pool: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    # -- columns ----------------------------------------------------------------------------
    def add_paths(self, batch: PathBatch, sel: np.ndarray, cost_class: np.ndarray) -> int:
        """Add the paths ``sel`` (positions in ``batch``) not already in the master."""
        keep_com, keep_legs = [], []
        for i in sel.tolist():
            k = int(batch.com[i])
            legs = batch.path(i)
            key = (k, legs.tobytes())
            if key in self.keys:
                continue
            self.keys.add(key)
            keep_com.append(k)
            keep_legs.append(legs)
        if not keep_com:
            return 0
        com = np.array(keep_com, dtype=np.int64)
        length = np.array([len(x) for x in keep_legs], dtype=np.int64)
        legs = np.concatenate(keep_legs)
        e_path = np.repeat(np.arange(len(com)), length)
        cls = cost_class[com]
        cost = np.bincount(e_path, weights=self.cost[cls[e_path], legs], minlength=len(com))
        first_col = self.lp.n_cols
        e_col = e_path + first_col
        row, col = self._entry_rows(com[e_path], legs, e_col)
        row = np.concatenate([com, row])  # balance rows
        col = np.concatenate([np.arange(len(com)) + first_col, col])
        starts, index, value = _compress(col - first_col, row, len(com))
        self.lp.add_columns(
            cost, np.zeros(len(com)), np.full(len(com), np.inf), starts, index, value
        )
        self.path_com.append(com)
        self.path_cost.append(cost)
        self.path_len.append(length)
        self.path_legs.append(legs)
        self.n_paths += len(com)
        self.idle = np.append(self.idle, np.zeros(len(com), dtype=np.int64))
        self._entries = None
        return len(com)

    def purge(self, drop: np.ndarray) -> np.ndarray:
        """Delete the path columns ``drop`` (positions among the path columns) from the LP and
        the column store; return the mask of the LP's columns kept."""
        keep_path = np.ones(self.n_paths, dtype=bool)
        keep_path[drop] = False
        com, cost, length = self.com_of_col(), _cat(self.path_cost, float), _cat(self.path_len)
        legs = _cat(self.path_legs)
        ptr = np.zeros(self.n_paths + 1, dtype=np.int64)
        np.cumsum(length, out=ptr[1:])
        for i in drop.tolist():
            self.keys.discard((int(com[i]), legs[ptr[i] : ptr[i + 1]].tobytes()))
        self.lp.delete_columns(self.n_fixed + np.asarray(drop, dtype=np.int64))
        gone = np.repeat(~keep_path, length)
        self.pool.append((com[drop], legs[gone], length[drop], cost[drop]))
        self.path_com, self.path_cost = [com[keep_path]], [cost[keep_path]]
        self.path_len = [length[keep_path]]
        self.path_legs = [legs[np.repeat(keep_path, length)]]
        self.n_paths = int(keep_path.sum())
        self.idle = self.idle[keep_path]
        self._entries = None
        return np.concatenate([np.ones(self.n_fixed, dtype=bool), keep_path])

    def _entry_rows(
        self, e_com: np.ndarray, e_leg: np.ndarray, e_col: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every existing capacity-type row the leg entries touch."""
        net = self.net
        rows = [
            self.cap_row[e_leg],
            self.svc_row[e_leg],
            self.weak_row[e_leg],
            self.border_row_of_leg()[e_leg],
            self.term_row[net.leg_to[e_leg]],
        ]
        if self.strong:
            on = np.flatnonzero(self.is_candidate[e_leg])
            srow = np.full(len(e_leg), -1, dtype=np.int64)
            for i in on.tolist():
                srow[i] = self.strong.get((int(e_com[i]), int(e_leg[i])), -1)
            rows.append(srow)
        row = np.concatenate(rows)
        col = np.tile(e_col, len(rows))
        ok = row >= 0
        return row[ok], col[ok]

    def objective(self, x: np.ndarray) -> float:
        """Total cost of the master columns' values ``x``."""
        return float(
            self.fixed_cost @ x[: self.n_fixed] + _cat(self.path_cost, float) @ x[self.n_fixed :]
        )

    def border_row_of_leg(self) -> np.ndarray:
        """The border row of each leg (-1 when none, or not yet added)."""
        return np.append(self.bor_row, -1)[self.d.leg_border]

    def entries(self) -> tuple[np.ndarray, np.ndarray]:
        """(column, leg) of every leg entry of every path column."""
        if self._entries is None:
            length = _cat(self.path_len)
            col = np.repeat(np.arange(self.n_paths) + self.n_fixed, length)
            self._entries = (col, _cat(self.path_legs))
        return self._entries

    def com_of_col(self) -> np.ndarray:
        """Commodity of each path column (index 0 = first path column)."""
        return _cat(self.path_com)

    # -- lazy rows ---------------------------------------------------------------------------
    def separate(self, x: np.ndarray, stats: ColgenStats) -> int:
        """Add the capacity and strong linking rows the master solution ``x`` violates."""
        d, net = self.d, self.net
        e_col, e_leg = self.entries()
        if len(e_col) == 0:
            return 0
        x = np.append(x, np.zeros(self.lp.n_cols - len(x)))  # columns added since: at 0
        e_flow = x[e_col]
        load = np.bincount(e_leg, weights=e_flow, minlength=net.n_legs)
        n_before = self.n_rows
        new_cap = np.flatnonzero(
            (self.cap_row < 0)
            & ~self.is_candidate
            & np.isfinite(d.leg_capacity)
            & (load > d.leg_capacity + ROW_TOL)
        )
        has_b = d.leg_border >= 0
        bload = np.bincount(
            d.leg_border[has_b], weights=load[has_b], minlength=len(d.border_capacity)
        )
        new_bor = np.flatnonzero(
            (self.bor_row < 0)
            & np.isfinite(d.border_capacity)
            & (bload > d.border_capacity + ROW_TOL)
        )
        tload = np.bincount(net.leg_to, weights=load, minlength=net.n_nodes)
        new_term = np.flatnonzero(
            (self.term_row < 0) & np.isfinite(d.node_capacity) & (tload > d.node_capacity + ROW_TOL)
        )
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (row, col, value)
        upper: list[np.ndarray] = []
        e_bor = np.where(has_b[e_leg], d.leg_border[e_leg], -1)
        for which, row_of, over_of, cap, entry_key in (
            (new_cap, self.cap_row, self.leg_over, d.leg_capacity, e_leg),
            (new_bor, self.bor_row, self.bor_over, d.border_capacity, e_bor),
            (new_term, self.term_row, self.term_over, d.node_capacity, net.leg_to[e_leg]),
        ):
            if len(which) == 0:
                continue
            row_of[which] = self.n_rows + np.arange(len(which))
            self.n_rows += len(which)
            upper.append(cap[which])
            fresh = np.zeros(len(row_of), dtype=bool)
            fresh[which] = True
            on = (entry_key >= 0) & fresh[np.maximum(entry_key, 0)]
            parts.append((row_of[entry_key[on]], e_col[on], np.ones(int(on.sum()))))
            over = which[over_of[which] >= 0]
            parts.append((row_of[over], over_of[over], -np.ones(len(over))))
        stats.capacity_rows += self.n_rows - n_before
        if self.strong_on:
            self._separate_strong(x, e_col, e_leg, e_flow, parts, upper, stats)
        n_new = self.n_rows - n_before
        if n_new == 0:
            return 0
        row = np.concatenate([p[0] for p in parts]) - n_before
        col = np.concatenate([p[1] for p in parts])
        value = np.concatenate([p[2] for p in parts])
        starts, index, val = _compress(row, col, n_new, value)
        self.lp.add_rows(np.full(n_new, -np.inf), np.concatenate(upper), starts, index, val)
        return n_new

    def _separate_strong(
        self,
        x: np.ndarray,
        e_col: np.ndarray,
        e_leg: np.ndarray,
        e_flow: np.ndarray,
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
        upper: list[np.ndarray],
        stats: ColgenStats,
    ) -> None:
        """Register the strong linking rows ``x`` violates; their entries go to ``parts``."""
        d, n_legs = self.d, self.net.n_legs
        on = np.flatnonzero(self.is_candidate[e_leg])
        if len(on) == 0:
            return
        com = self.com_of_col()[e_col[on] - self.n_fixed]
        keys, inv = np.unique(com * n_legs + e_leg[on], return_inverse=True)
        flow = np.bincount(inv, weights=e_flow[on])
        k, a = keys // n_legs, keys % n_legs
        bound = np.minimum(d.com_teu[k], d.leg_capacity[a])
        pairs = zip(k.tolist(), a.tolist(), strict=True)
        exists = np.array([pair in self.strong for pair in pairs], dtype=bool)
        sel = np.flatnonzero((flow - bound * x[self.open_col[a]] > ROW_TOL) & ~exists)
        if len(sel) == 0:
            return
        rows = self.n_rows + np.arange(len(sel))
        for i, r in zip(sel.tolist(), rows.tolist(), strict=True):
            self.strong[(int(k[i]), int(a[i]))] = r
        self.n_rows += len(sel)
        row_of_key = np.full(len(keys), -1, dtype=np.int64)
        row_of_key[sel] = rows
        r = row_of_key[inv]
        m = r >= 0
        parts.append((r[m], e_col[on][m], np.ones(int(m.sum()))))
        parts.append((rows, self.open_col[a[sel]], -bound[sel]))
        upper.append(np.zeros(len(sel)))
        stats.strong_rows += len(sel)

    # -- pricing inputs ----------------------------------------------------------------------
    def weights(self, duals: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Leg weights per class ``C - shared duals`` and the strong rows' corrections (CSR by
        commodity)."""
        d, net = self.d, self.net
        ext = np.append(duals, 0.0)  # row -1 -> 0
        bor = self.border_row_of_leg()
        shared = (
            ext[self.cap_row]
            + ext[self.svc_row]
            + ext[self.weak_row]
            + ext[bor]
            + ext[self.term_row[net.leg_to]]
        )
        # duals of <= rows are <= 0, so weights >= C >= 0 up to round-off
        weight = np.where(np.isfinite(cost), np.maximum(cost - shared[None, :], 0.0), np.inf)
        n_com = len(d.com_teu)
        if not self.strong:
            return weight, (np.zeros(n_com + 1, np.int64), np.zeros(0, np.int64), np.zeros(0))
        items = sorted(self.strong.items())
        k = np.array([kk for (kk, _), _ in items], dtype=np.int64)
        a = np.array([aa for (_, aa), _ in items], dtype=np.int64)
        val = np.maximum(-ext[np.array([r for _, r in items], dtype=np.int64)], 0.0)
        ptr = np.zeros(n_com + 1, dtype=np.int64)
        np.cumsum(np.bincount(k, minlength=n_com), out=ptr[1:])
        return weight, (ptr, a, val)

    def path_set(self, hours: np.ndarray, cls: np.ndarray, *, deleted: bool = True) -> PathSet:
        """The master's columns as a PathSet, in their order; with ``deleted``, then the deleted
        ones not generated again (every route generated)."""
        com, legs, length = self.com_of_col(), _cat(self.path_legs), _cat(self.path_len)
        cost = _cat(self.path_cost, float)
        if self.pool and deleted:
            p_com, p_legs, p_len, p_cost = (_cat([p[i] for p in self.pool]) for i in range(4))
            p_ptr = np.zeros(len(p_com) + 1, dtype=np.int64)
            np.cumsum(p_len, out=p_ptr[1:])
            seen, keep = set(self.keys), []
            for i in range(len(p_com)):
                key = (int(p_com[i]), p_legs[p_ptr[i] : p_ptr[i + 1]].tobytes())
                if key not in seen:
                    seen.add(key)
                    keep.append(i)
            sel = np.array(keep, dtype=np.int64)
            on = np.zeros(len(p_com), dtype=bool)
            on[sel] = True
            com = np.concatenate([com, p_com[sel]])
            legs = np.concatenate([legs, p_legs[np.repeat(on, p_len)]])
            length = np.concatenate([length, p_len[sel]])
            cost = np.concatenate([cost, p_cost[sel].astype(float)])
        ptr = np.zeros(len(com) + 1, dtype=np.int64)
        np.cumsum(length, out=ptr[1:])
        e_path = np.repeat(np.arange(len(com)), length)
        return PathSet(
            com=com,
            ptr=ptr,
            legs=legs,
            cost=cost,
            hours=np.bincount(e_path, weights=hours[cls[com[e_path]], legs], minlength=len(com)),
        )


def _cat(parts: list[np.ndarray], dtype: type = np.int64) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _compress(
    major: np.ndarray, minor: np.ndarray, n_major: int, value: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse entries to (starts, index, value) compressed by ``major``, duplicates summed."""
    value = np.ones(len(major)) if value is None else value
    key = major.astype(np.int64) * (int(minor.max(initial=0)) + 1) + minor
    keys, inv = np.unique(key, return_inverse=True)
    val = np.bincount(inv, weights=value, minlength=len(keys))
    width = int(minor.max(initial=0)) + 1
    maj, mino = keys // width, keys % width
    starts = np.searchsorted(maj, np.arange(n_major))
    return starts, mino, val


@dataclasses.dataclass
class _Node:
    bound: float
    lower: np.ndarray  # bounds of the integer columns
    upper: np.ndarray

    def __lt__(self, other: _Node) -> bool:
        return self.bound < other.bound


class PathEngine:
    """Column generation and branch and price over one instance (see the module docstring)."""

    def __init__(
        self, inst: Instance, pre: Preprocessed, opts: SolveOptions, *, integer_teu: bool = False
    ) -> None:
        self.inst, self.pre, self.opts = inst, pre, opts.under()
        d = arc_data(inst, pre, integer_teu=integer_teu)
        self.d = d
        com = pre.commodities
        ok = (com["status"] == "ok").to_numpy()
        self.due = np.where(ok, com["due_days"].to_numpy(dtype=float) * 24.0, -1.0)
        self.cls = com["class_idx"].to_numpy().astype(np.int64)
        finite = pre.cost[np.isfinite(pre.cost)]
        self.big_m = 10.0 * (float(finite.sum()) if len(finite) else 1.0) + 1e6
        self.master = _Master(d, pre, self.opts, self.big_m)
        self.overflow_cost = self.big_m  # the overflow columns' cost under forbid (see the module)
        self.stats = ColgenStats()
        self.points: list[tuple[float, float, float]] = []
        self.at_root = True  # column generation at the root: its bounds are global
        self.best_x: np.ndarray | None = None  # the incumbent's column values
        self.duals = np.zeros(0)  # row duals of the last master solution
        self.gap_tol = float(self.opts.mip_rel_gap or 0.0)
        self.cheapest = np.full(len(d.com_teu), np.inf)  # least in-time path cost per commodity
        # least cost from every node to each (class, destination): an A* bound for pricing, as
        # reduced weights are never below the cost
        key = self.cls * pre.net.n_nodes + d.com_dest
        groups, row = np.unique(key, return_inverse=True)
        lb, _ = shortest_paths(
            pre.net, pre.cost, groups % pre.net.n_nodes, groups // pre.net.n_nodes, reverse=True
        )
        self.lower_bound = (lb, row.astype(np.int64))
        # least hours from every node to each (class, destination) of a commodity with due
        # hours: the label search's time bound, the same every round
        timed = np.isfinite(self.due) & (self.due >= 0)
        t_groups, t_row = np.unique(key[timed], return_inverse=True)
        fastest_row = np.full(len(key), -1, dtype=np.int64)
        fastest_row[timed] = t_row
        n = pre.net.n_nodes
        tmin = fastest_hours(pre.net, pre.cost, pre.time, t_groups % n, t_groups // n)
        self.fastest = (tmin, fastest_row)
        self.t_start = time.perf_counter()

    # -- column generation -------------------------------------------------------------------
    def price(
        self,
        weight: np.ndarray,
        corr: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
        which: np.ndarray,
        limit: np.ndarray | None = None,
    ) -> PathBatch:
        """The least-weight in-time path of the commodities ``which`` lighter than ``limit``."""
        t0 = time.perf_counter()
        batch = price_commodities(
            self.pre.net,
            weight,
            self.pre.time,
            self.cls,
            self.cls,
            self.d.com_origin,
            self.d.com_dest,
            self.due,
            which,
            corr,
            limit=limit,
            lower_bound=self.lower_bound,
            fastest=self.fastest,
        )
        self.stats.pricing_seconds += time.perf_counter() - t0
        self.stats.priced += len(which)
        if not batch.exact:
            self.stats.pricing_exact = False
        return batch

    def start(self) -> None:
        """Initial columns: the cheapest in-time path of every commodity."""
        cost = self.pre.cost
        weight = np.where(np.isfinite(cost), cost, np.inf)
        which = np.flatnonzero(self.due >= 0)
        batch = self.price(weight, None, which)
        found = np.flatnonzero(batch.status == FOUND)
        self.cheapest[batch.com[found]] = batch.cost[found]
        self._least = self.cheapest.copy()
        self._last_weight: np.ndarray | None = None
        self.master.add_paths(batch, found, self.cls)
        if self.d.forbid_unserved:
            routed = self.cheapest[np.isfinite(self.cheapest)]
            top = float(routed.max()) if len(routed) else 0.0
            self._set_overflow_cost(min(self.big_m, OVERFLOW_START * max(top, 1.0)))

    def _set_overflow_cost(self, cost: float) -> None:
        cols = self.master.over_cols
        self.overflow_cost = cost
        self.master.lp.set_costs(cols, np.full(len(cols), cost))

    def _relaxed(self, x: np.ndarray) -> bool:
        """True when ``x`` uses the relaxation: TEU on an artificial (under ``forbid``) or a
        capacity overflow."""
        cols = self.master.relax_cols
        return bool(len(cols)) and bool(np.any(x[cols] > ROW_TOL))

    def _raise_overflow_cost(self, x: np.ndarray) -> bool:
        """Under ``forbid``: raise the relaxation's cost when the converged master ``x`` still
        uses it and the cost is below the big M; False when there is nothing to do."""
        if not self.d.forbid_unserved or self.overflow_cost >= self.big_m or not self._relaxed(x):
            return False
        self._set_overflow_cost(min(self.big_m, self.overflow_cost * OVERFLOW_GROWTH))
        return True

    def converge(self, deadline: float) -> tuple[str, float, float, np.ndarray]:
        """Column generation at the current bounds until no column prices out and no lazy row is
        violated. Returns (status, LP objective, Lagrangian bound, column values); status is
        'optimal', 'infeasible' (node bounds), 'closed' (at the root of a model with integer
        decisions: a plan within the gap of the Lagrangian bound is known) or 'stopped' (time or
        round limit).

        Every master solution gives a plan (``_round_up``), offered as an incumbent."""
        master, stats = self.master, self.stats
        best_lagrange = -np.inf
        fresh = False
        # the last master solution (objective, values, balance duals), for the purge
        last: tuple[float, np.ndarray, np.ndarray] | None = None
        # purge only after the master objective fell strictly since the last purge (or since
        # rows were added): deleted columns may price out again, and without that rule a
        # degenerate master can delete and regenerate the same columns forever
        purged_at = np.inf
        while True:
            stats.rounds += 1
            if last is not None:
                self._count_idle(last[1], last[2])
                if last[0] < purged_at - 1e-9 * max(1.0, abs(last[0])):
                    purged_at = last[0] if self._purge() else purged_at
            t0 = time.perf_counter()
            term, obj, x, duals = master.lp.solve(deadline - time.perf_counter(), fresh=fresh)
            stats.lp_seconds += time.perf_counter() - t0
            if term in (Termination.INFEASIBLE, Termination.INFEASIBLE_OR_UNBOUNDED):
                return "infeasible", np.inf, np.inf, x
            if term != Termination.OPTIMAL:
                return "stopped", obj, best_lagrange, x
            self.duals = duals
            weight, corr = master.weights(duals, self.pre.cost)
            sigma = duals[: len(self.d.com_teu)]
            tol = RC_TOL * np.maximum(1.0, np.abs(sigma))
            # skip k when no path of it can weigh less than sigma_k (see ``_path_bounds``)
            which = np.flatnonzero(
                (self.due >= 0)
                & ((sigma > self._path_bounds(weight) + tol) | self._corrected(corr))
            )
            n_cols = 0
            lagrange = obj
            if len(which):
                batch = self.price(weight, corr, which, limit=sigma)
                self._learn_bounds(batch, sigma)
                found = np.flatnonzero(batch.status == FOUND)
                rc = batch.cost[found] - sigma[batch.com[found]]
                lagrange = obj + float(
                    np.sum(self.d.com_teu[batch.com[found]] * np.minimum(rc, 0.0))
                )
                neg = found[rc < -tol[batch.com[found]]]
                n_cols = master.add_paths(batch, neg, self.cls) if len(neg) else 0
            if self.stats.pricing_exact:
                best_lagrange = max(best_lagrange, lagrange)
            n_rows = master.separate(x, stats)
            last = (obj, x, sigma)
            if n_rows:
                purged_at = np.inf
            # after large changes a fresh (presolved) solve beats the warm start
            fresh = n_cols > FRESH_SHARE * master.n_paths or n_rows > FRESH_SHARE * master.n_rows
            self._offer(*self._round_up(x))
            self._report(obj, best_lagrange)
            if n_cols == 0 and n_rows == 0:
                if self._raise_overflow_cost(x):
                    purged_at = np.inf
                    continue
                return "optimal", obj, obj if stats.pricing_exact else best_lagrange, x
            # a MIP stops at its gap; an LP (no departures or openings) at its optimum
            if self.at_root and len(master.int_cols) and self._closed(best_lagrange, self.gap_tol):
                return "closed", obj, best_lagrange, x
            if stats.rounds >= MAX_ROUNDS or time.perf_counter() > deadline:
                return "stopped", obj, best_lagrange, x

    def _count_idle(self, x: np.ndarray, sigma: np.ndarray) -> None:
        """Count, per path column, the master solutions in a row that left it idle: at 0 with a
        reduced cost above the pricing tolerance (``x``, ``sigma``: the last solution and its
        balance duals; columns added since are not counted)."""
        m = self.master
        n = min(len(x), len(m.lp.col_dual)) - m.n_fixed
        if n <= 0:
            return
        rc = m.lp.col_dual[m.n_fixed : m.n_fixed + n]
        com = m.com_of_col()[:n]
        idle = (x[m.n_fixed : m.n_fixed + n] <= 0.0) & (
            rc > PURGE_RC * np.maximum(1.0, np.abs(sigma[com]))
        )
        m.idle[:n] = np.where(idle, m.idle[:n] + 1, 0)

    def _purge(self) -> bool:
        """Delete the path columns idle in the last ``PURGE_AGE`` master solutions (nonbasic, so
        the LP optimum and the basis stay), except those the incumbent uses, once they are
        ``PURGE_SHARE`` of all. Pricing is exact, so a deleted route that prices out again is
        generated again. The master then stays near the columns that matter (on planar300 a
        fresh solve over the columns kept takes a seventh of the time over all), and a column
        idle for a round or two, often wanted again, is kept."""
        m = self.master
        idle = m.idle >= PURGE_AGE
        best = self.best_x
        if best is not None:
            best = np.append(best, np.zeros(m.lp.n_cols - len(best)))
            idle &= best[m.n_fixed : m.n_fixed + m.n_paths] <= 0.0
        drop = np.flatnonzero(idle)
        if len(drop) < PURGE_SHARE * m.n_paths:
            return False
        keep = m.purge(drop)
        self.stats.purged += len(drop)
        if best is not None:
            self.best_x = best[keep]
        return True

    def _path_bounds(self, weight: np.ndarray) -> np.ndarray:
        """A lower bound on the least path weight of every commodity under ``weight``.

        Known after pricing k: its least weight (or, with none below the limit, the limit).
        Between pricings a path's weight can fall by at most the sum of the leg weights that
        fell (per class, each leg at most once on a loopless path), and it is never below the
        cheapest in-time route cost (weights are never below the cost)."""
        if self._last_weight is not None:
            with np.errstate(invalid="ignore"):
                fell = np.where(np.isfinite(weight), self._last_weight - weight, 0.0)
            drop = np.nansum(np.maximum(fell, 0.0), axis=1)
            self._least = np.maximum(self._least - drop[self.cls], self.cheapest)
        self._last_weight = weight
        return self._least

    def _learn_bounds(self, batch: PathBatch, limit: np.ndarray) -> None:
        ok = batch.status != LABEL_LIMIT
        k = batch.com[ok]
        self._least[k] = np.where(
            batch.status[ok] == FOUND, batch.cost[ok], np.maximum(limit[k], self.cheapest[k])
        )

    def _corrected(self, corr: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> np.ndarray:
        """Commodities with strong-row corrections: always priced (their bound is not tracked)."""
        n = len(self.d.com_teu)
        return np.zeros(n, dtype=bool) if corr is None else np.diff(corr[0]) > 0

    def _round_up(self, x: np.ndarray) -> tuple[float, np.ndarray | None]:
        """A plan from the master solution ``x`` and its cost: departures and openings rounded up
        (they only add capacity); where ``x`` overloads a leg, border or terminal whose row is
        not (yet) in the master, the paths through it are scaled down and the TEU taken off them
        left unserved at their penalty. (inf, None) when that is not allowed (``forbid``, or
        whole TEU asked for) and ``x`` needs it, or when ``x`` uses an artificial or an
        overflow."""
        m, d, net = self.master, self.d, self.pre.net
        if d.integer_teu or len(x) < m.n_fixed:
            return np.inf, None
        n_com = len(d.com_teu)
        if self._relaxed(x):
            return np.inf, None
        xr = np.append(x, np.zeros(m.lp.n_cols - len(x)))
        xr[m.int_cols] = np.minimum(np.ceil(xr[m.int_cols] - INT_TOL), m.int_upper)
        e_col, e_leg = m.entries()
        load = np.bincount(e_leg, weights=xr[e_col], minlength=net.n_legs)
        ratio = np.ones(net.n_legs)
        free = ~m.is_candidate  # candidate legs: the weak row (always in the master) holds
        over = free & (load > d.leg_capacity + ROW_TOL)
        ratio[over] = d.leg_capacity[over] / load[over]
        has_b = d.leg_border >= 0
        bload = np.bincount(
            d.leg_border[has_b], weights=load[has_b], minlength=len(d.border_capacity)
        )
        tload = np.bincount(net.leg_to, weights=load, minlength=net.n_nodes)
        with np.errstate(divide="ignore", invalid="ignore"):  # only overloaded ones are used
            bratio = np.where(bload > d.border_capacity + ROW_TOL, d.border_capacity / bload, 1.0)
            tratio = np.where(tload > d.node_capacity + ROW_TOL, d.node_capacity / tload, 1.0)
        ratio[has_b] = np.minimum(ratio[has_b], bratio[d.leg_border[has_b]])
        ratio = np.minimum(ratio, tratio[net.leg_to])
        if np.all(ratio >= 1.0):
            return m.objective(xr), xr
        if d.forbid_unserved:
            return np.inf, None
        keep = np.ones(m.n_paths)
        np.minimum.at(keep, e_col - m.n_fixed, ratio[e_leg])
        flows = xr[m.n_fixed :]
        removed = flows * (1.0 - keep)
        xr[m.n_fixed :] = flows - removed
        xr[:n_com] += np.bincount(m.com_of_col(), weights=removed, minlength=n_com)
        return m.objective(xr), xr

    def _offer(self, cost: float, x: np.ndarray | None) -> None:
        """Keep ``x`` as the incumbent when it is a plan cheaper than the incumbent (under
        ``forbid``, TEU on an artificial or an overflow make it no plan)."""
        if x is None or cost >= self.stats.incumbent:
            return
        if self._relaxed(x):
            return
        self.stats.incumbent, self.best_x = cost, x

    def _report(self, lp: float, bound: float) -> None:
        s = self.stats
        # a node's own Lagrangian bound holds for its subtree only: global at the root alone
        inc, best = s.incumbent, max(s.bound, bound) if self.at_root else s.bound
        elapsed = time.perf_counter() - self.t_start
        last = self.points[-1] if self.points else (0.0, np.inf, -np.inf)
        if inc < last[1] or best > last[2]:  # (seconds, best plan, best bound) per change
            self.points.append((elapsed, min(inc, last[1]), max(best, last[2])))
        gap = (inc - best) / max(abs(inc), 1e-10) if np.isfinite(inc) else np.inf
        stage = "column generation" if s.nodes <= 1 else "branch and price"
        report_progress(
            stage,
            time.perf_counter() - self.t_start,
            round=s.rounds,
            columns=self.master.n_paths,
            lp=lp,
            plan=inc,
            bound=best,
            gap=gap,
        )

    # -- integer layer -----------------------------------------------------------------------
    def _fractional(self, x: np.ndarray) -> int:
        """Position (in ``int_cols``) of the most fractional integer column, -1 when none."""
        cols = self.master.int_cols
        if len(cols) == 0:
            return -1
        v = x[cols]
        frac = np.abs(v - np.round(v))
        i = int(np.argmax(frac))
        return i if frac[i] > INT_TOL else -1

    def _feasible(self, x: np.ndarray) -> bool:
        """True when ``x`` violates no lazy row (so it is a plan of the full model)."""
        return self.master.separate(x, self.stats) == 0

    def _mip_incumbent(self, deadline: float) -> tuple[float, np.ndarray] | None:
        """A MIP over the restricted master (rows re-separated until its plan violates none)."""
        for _ in range(20):
            left = deadline - time.perf_counter()
            if left <= 0.05:
                return None
            cols = self.master.int_cols
            if self.d.integer_teu:
                cols = np.concatenate([cols, np.arange(self.master.n_paths) + self.master.n_fixed])
            term, obj, x = self.master.lp.solve_mip(cols, left, self.opts.mip_rel_gap / 10)
            if len(x) == 0:
                return None
            if self._feasible(x):
                return obj, x
        return None

    def branch_and_price(self) -> tuple[np.ndarray | None, float]:
        """Best-first branch and price; returns the incumbent's column values and the bound."""
        opts, stats, master = self.opts, self.stats, self.master
        deadline = self.t_start + float(opts.time_limit_s or 60.0)
        gap_tol = self.gap_tol
        self.start()
        lower0 = np.zeros(len(master.int_cols))
        upper0 = master.int_upper.copy()
        # the root: the weak LP first; the strong linking rows only when its bound leaves the
        # gap open (they tighten the bound, and cost a row per commodity and candidate leg)
        master.strong_on = len(self.d.candidate_legs) == 0
        status, obj, lag, x = self.converge(deadline)
        if status == "optimal" and not master.strong_on and not self._closed(lag, gap_tol):
            master.strong_on = True
            status, obj, strong_lag, x = self.converge(deadline)
            lag = max(lag, strong_lag)
        master.strong_on = True
        if status == "infeasible":
            raise SolverError(f"{self.inst.name}: the master LP is infeasible")
        if status == "optimal" and stats.pricing_exact:
            self._refuse_unmovable(x)
        stats.lp_bound = obj if status == "optimal" and stats.pricing_exact else np.nan
        stats.bound = lag
        if status == "closed":
            return self.best_x, lag
        if status != "optimal":
            return self._stop_early(deadline, lag)
        self.at_root = False
        if self._fractional(x) < 0 and not self.d.integer_teu:
            self._offer(obj, x)
        elif not self._closed(lag, gap_tol):
            found = self._incumbent(x, deadline, lower0, upper0, price=True)
            if found is not None:
                self._offer(*found)
        open_nodes: list[_Node] = []
        settled = lag  # least LP bound of the nodes solved and closed (pruned or integral)
        if self.best_x is None or not self._closed(lag, gap_tol):
            open_nodes = [_Node(obj, lower0, upper0)]
            settled = np.inf
        while open_nodes:
            node = heapq.heappop(open_nodes)
            stats.bound = min(node.bound, settled, *(n.bound for n in open_nodes))
            if self._closed(stats.bound, gap_tol) or time.perf_counter() > deadline:
                heapq.heappush(open_nodes, node)  # within the gap (or out of time): stop
                break
            stats.nodes += 1
            if stats.nodes > 1:  # the root was solved above
                master.lp.set_bounds(master.int_cols, node.lower, node.upper)
                status, obj, lag, x = self.converge(deadline)
                if status == "infeasible":
                    continue
                if status != "optimal":
                    node.bound = max(node.bound, lag)
                    heapq.heappush(open_nodes, node)
                    break
            i = self._fractional(x)
            if obj >= stats.incumbent - self._abs_gap(gap_tol) or i < 0:
                settled = min(settled, obj)
                if i < 0 and obj < stats.incumbent:
                    found = self._mip_incumbent(deadline) if self.d.integer_teu else (obj, x)
                    if found is not None:
                        self._offer(*found)
                continue
            v = x[master.int_cols[i]]
            down_u, up_l = node.upper.copy(), node.lower.copy()
            down_u[i], up_l[i] = np.floor(v), np.ceil(v)
            heapq.heappush(open_nodes, _Node(obj, node.lower, down_u))
            heapq.heappush(open_nodes, _Node(obj, up_l, node.upper))
        master.lp.set_bounds(master.int_cols, lower0, upper0)
        if self.best_x is None and time.perf_counter() <= deadline:
            found = self._mip_incumbent(deadline)
            if found is not None:
                self._offer(*found)
        stats.bound = min(settled, stats.incumbent, *(n.bound for n in open_nodes))
        return self.best_x, stats.bound

    def fixed_prices(self, x: np.ndarray, time_limit_s: float) -> FixedPrices:
        """The duals of the LP with the departures and openings of the plan ``x`` fixed, by
        column generation from the final master (branch and price is over: its bounds are
        replaced). The linking rows of opened candidate legs per commodity are freed, as in the
        Pyomo fixed LP: with the leg open they only restrict what the balance rows already do,
        and would take a share of a degenerate price. A capacity row the master never needed
        does not bind: its price is 0."""
        t0 = time.perf_counter()
        m, d = self.master, self.d
        whole = np.round(x[m.int_cols])
        m.lp.set_bounds(m.int_cols, whole, whole)
        opened = np.zeros(self.pre.net.n_legs, dtype=bool)
        opened[d.candidate_legs] = x[m.open_col[d.candidate_legs]] > 0.5
        free = np.array([r for (_, a), r in m.strong.items() if opened[a]], dtype=np.int64)
        m.lp.set_row_bounds(free, np.full(len(free), -np.inf), np.full(len(free), np.inf))
        self.at_root, self.gap_tol = False, -np.inf
        status, obj, _, _ = self.converge(t0 + time_limit_s)
        term = {"optimal": "optimal", "infeasible": "infeasible"}.get(status, "time_limit")
        price = -np.asarray(self.duals, dtype=float)

        def at(row_of: np.ndarray) -> np.ndarray:
            return np.where(row_of >= 0, price[np.maximum(row_of, 0)], 0.0)

        return FixedPrices(
            termination=term,
            objective=obj,
            price={
                "leg": np.where(m.weak_row >= 0, at(m.weak_row), at(m.cap_row)),
                "service": at(m.svc_row),
                "border": at(m.bor_row),
                "terminal": at(m.term_row),
            },
            potential=np.asarray(self.duals[: len(d.com_teu)], dtype=float),
            seconds=time.perf_counter() - t0,
        )

    def _refuse_unmovable(self, x: np.ndarray) -> None:
        """InfeasibleError when the converged root LP ``x`` (the relaxation at the big M) still
        leaves TEU unmoved or a capacity overflowing under ``forbid``: no plan exists."""
        n_com, m = len(self.d.com_teu), self.master
        if not self.d.forbid_unserved or not np.any(x[m.relax_cols] > 1e-6):
            return
        head = f"{self.inst.name}: no feasible plan exists: even the LP relaxation cannot "
        if np.any(x[:n_com] > 1e-6):
            bad = self.pre.commodities.iloc[np.flatnonzero(x[:n_com] > 1e-6)]
            lots = ", ".join(", ".join(lt) for lt in bad["lots"].head(5))
            raise InfeasibleError(
                f"{head}move every TEU (column generation leaves lots {lots} unmoved; settings "
                "say unserved = forbid)"
            )
        net = self.pre.net
        legs = np.flatnonzero((m.leg_over >= 0) & (x[np.maximum(m.leg_over, 0)] > 1e-6))
        names = [str(net.leg_ids[a]) for a in legs[:5].tolist()]
        raise InfeasibleError(
            f"{head}respect every capacity (legs {', '.join(names)} overloaded; settings say "
            "unserved = forbid)"
            if names
            else f"{head}respect every border and terminal capacity "
            "(settings say unserved = forbid)"
        )

    def _stop_early(self, deadline: float, bound: float) -> tuple[np.ndarray | None, float]:
        """Out of time before the root converged: the best plan met on the way, else a plan
        from the columns there are."""
        m = self.master
        if self.best_x is not None:
            return self.best_x, min(bound, self.stats.incumbent)
        _, _, x, _ = m.lp.solve(GRACE_S)
        if len(x) < m.lp.n_cols:
            return None, bound
        lower, upper = np.zeros(len(m.int_cols)), m.int_upper.copy()
        found = self._incumbent(x, time.perf_counter() + GRACE_S, lower, upper, price=False)
        if found is None:
            return None, bound
        self._offer(*found)
        return found[1], min(bound, found[0])

    def _incumbent(
        self, x: np.ndarray, deadline: float, lower: np.ndarray, upper: np.ndarray, *, price: bool
    ) -> tuple[float, np.ndarray] | None:
        """A plan from ``x``: departures and openings rounded up (they only add capacity, so the
        LP stays feasible), the LP re-solved over them (with pricing, or over the columns there
        are), rows re-separated until none is violated; whole TEU by a MIP over the columns."""
        m = self.master
        up = np.minimum(np.ceil(x[m.int_cols] - INT_TOL), m.int_upper)
        m.lp.set_bounds(m.int_cols, up, up)
        try:
            if self.d.integer_teu:
                return self._mip_incumbent(deadline)
            if price:
                status, obj, _, xr = self.converge(deadline)
                return (obj, xr) if status == "optimal" else None
            for _ in range(20):
                term, obj, xr, _ = m.lp.solve(max(deadline - time.perf_counter(), 0.5))
                if term != Termination.OPTIMAL:
                    return None
                if m.separate(xr, self.stats) == 0:
                    return obj, xr
            return None
        finally:
            m.lp.set_bounds(m.int_cols, lower, upper)

    def _abs_gap(self, gap_tol: float) -> float:
        inc = self.stats.incumbent
        return gap_tol * abs(inc) if np.isfinite(inc) else 0.0

    def _closed(self, bound: float, gap_tol: float) -> bool:
        inc = self.stats.incumbent
        return bool(np.isfinite(inc) and inc - bound <= gap_tol * max(abs(inc), 1e-10) + 1e-9)


def column_generation(
    inst: Instance, pre: Preprocessed, opts: SolveOptions, deadline: float
) -> tuple[PathSet, ColgenStats, np.ndarray]:
    """Generate columns and lazy rows until none prices out and none is violated (the root LP);
    return the columns, the stats and the LP's unserved TEU per commodity."""
    engine = PathEngine(inst, pre, opts)
    engine.gap_tol = -np.inf  # the LP to its optimum, whatever plans are met on the way
    engine.start()
    status, obj, lag, x = engine.converge(deadline)
    if status == "infeasible":
        raise SolverError(f"{inst.name}: the master LP is infeasible")
    stats = engine.stats
    stats.lp_bound = obj if status == "optimal" and stats.pricing_exact else np.nan
    stats.pricing_exact = stats.pricing_exact and status == "optimal"
    stats.columns = engine.master.n_paths
    stats.simplex_iterations = engine.master.lp.iterations
    return engine.master.path_set(pre.time, engine.cls), stats, x[: len(engine.d.com_teu)]


@register("colgen")
def colgen_method(task: Task) -> tuple[BuiltModel, SolveResult]:
    """The colgen family's method: ``solve_colgen`` (re-planning inputs do not apply)."""
    built, result, _ = solve_colgen(task.inst, task.pre, task.recipe, task.opts)
    return built, result


def solve_colgen(
    inst: Instance, pre: Preprocessed, recipe: Recipe, opts: SolveOptions
) -> tuple[BuiltModel, SolveResult, ColgenStats]:
    """Branch and price; the incumbent loaded into the path model over the generated columns,
    and a result with the branch-and-price bound and gap."""
    opts = opts.under()
    engine = PathEngine(inst, pre, opts, integer_teu=bool(recipe.options.get("integer_teu", False)))
    x, bound = engine.branch_and_price()
    stats, master = engine.stats, engine.master
    stats.columns = master.n_paths
    stats.simplex_iterations = master.lp.iterations
    bp_seconds = time.perf_counter() - engine.t_start
    # the plan's routes are master columns; the fixed LP of the prices is the engine's own
    paths = master.path_set(pre.time, engine.cls, deleted=False)
    built = build(inst, pre, recipe, paths=paths)
    if x is None:
        bound = stats.bound if stats.pricing_exact else float("nan")
        no_plan = Termination.TIME_LIMIT_NO_SOLUTION
        result = _result(engine, no_plan, float("nan"), bound, float("inf"), bp_seconds)
        return built, result, stats
    objective = _load_plan(built, engine, x)
    built = dataclasses.replace(built, fixed_prices=partial(engine.fixed_prices, np.array(x)))
    bound = min(bound, objective)
    gap = max(objective - bound, 0.0) / max(abs(objective), 1e-10)
    proven = stats.pricing_exact and gap <= float(opts.mip_rel_gap or 0.0) + 1e-9
    ran_out = bp_seconds >= float(opts.time_limit_s or 60.0)
    term = (
        Termination.OPTIMAL
        if proven
        else (Termination.TIME_LIMIT if ran_out else Termination.LIMIT)
    )
    if not stats.pricing_exact:
        bound, gap = float("nan"), float("inf")
    # (seconds, best plan, best bound) of branch and price, ending at the plan
    progress = tuple((t, p, min(b, bound)) for t, p, b in engine.points)
    progress += ((bp_seconds, objective, bound),)
    result = _result(engine, term, objective, bound, gap, bp_seconds, progress)
    logger.info(
        "colgen %s: %d rounds, %d columns, %d capacity rows, %d strong rows, %d nodes, "
        "LP bound %.6g, bound %.6g, plan %.6g, pricing exact %s",
        inst.name,
        stats.rounds,
        stats.columns,
        stats.capacity_rows,
        stats.strong_rows,
        stats.nodes,
        stats.lp_bound,
        bound,
        objective,
        stats.pricing_exact,
    )
    return built, result, stats


def _load_plan(built: BuiltModel, engine: PathEngine, x: np.ndarray) -> float:
    """Put the incumbent ``x`` (master columns) into the Pyomo path model built over the same
    columns, departures and openings rounded to their integers; return its total cost. The
    incumbent violates no row of that model (every lazy row it could overload was separated),
    and the checker re-verifies the plan before it is written."""
    m, master, d = built.model, engine.master, engine.d
    x = np.maximum(np.asarray(x, dtype=float), 0.0)
    x = np.append(x, np.zeros(master.lp.n_cols - len(x)))  # columns generated since: at 0
    whole = np.round(x[master.int_cols])
    x[master.int_cols] = whole
    if d.integer_teu:
        x[master.n_fixed :] = np.round(x[master.n_fixed :])
        x[: len(d.com_teu)] = np.round(x[: len(d.com_teu)])
    for k, var in m.unserved.items():
        var.set_value(float(x[k]), skip_validation=True)
    for a, var in m.services.items():
        var.set_value(float(x[master.svc_col[a]]), skip_validation=True)
    for a, var in m.open.items():
        var.set_value(float(x[master.open_col[a]]), skip_validation=True)
    flows = x[master.n_fixed :]  # the deleted routes at the end of the path set: at 0
    flows = np.append(flows, np.zeros(max(len(m.path_flow) - len(flows), 0)))
    for p, var in m.path_flow.items():
        var.set_value(float(flows[p]), skip_validation=True)
    return master.objective(x)


def _result(
    engine: PathEngine,
    termination: Termination,
    objective: float,
    bound: float,
    gap: float,
    seconds: float,
    progress: tuple[tuple[float, float, float], ...] = (),
) -> SolveResult:
    """The SolveResult of branch and price (sizes: the master as it ended)."""
    master, stats = engine.master, engine.stats
    return SolveResult(
        termination=termination,
        has_solution=bool(np.isfinite(objective)),
        objective=objective,
        bound=bound,
        gap=gap,
        solver=SOLVER,
        solver_version=master.lp.version,
        is_mip=bool(len(master.int_cols)) or engine.d.integer_teu,
        n_vars=master.lp.n_cols,
        n_cons=master.n_rows,
        n_nonzeros=master.lp.n_nonzeros,
        handoff_seconds=0.0,
        solve_seconds=seconds,
        nodes=stats.nodes,
        root_bound=stats.lp_bound,
        iterations=stats.rounds,
        progress=progress,
    )
