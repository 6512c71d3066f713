"""The floor: the same arc model built straight into highspy with vectorised numpy (no Pyomo).

Used by the build-speed benchmark as the baseline the Pyomo build + hand-off is measured against,
and by the tests as an independent second build of the formulation (same optimum).
"""

from __future__ import annotations

import highspy
import numpy as np
from scipy.sparse import coo_array

from allocator.formulation import ArcData
from allocator.preprocess import Network


def build_highspy(d: ArcData, net: Network, *, strong: bool = True) -> highspy.Highs:
    """A Highs object holding the arc model of ``d`` (same rows as the Pyomo recipe arc-strong)."""
    p, k = d.n_pairs, len(d.com_teu)
    service = d.service_legs
    cand = d.candidate_legs
    s_col = {a: p + k + i for i, a in enumerate(service)}
    f_col = {a: p + k + len(service) + i for i, a in enumerate(cand)}
    n_col = p + k + len(service) + len(cand)

    lower = np.zeros(n_col)
    upper = np.concatenate(
        [
            np.full(p, np.inf),
            np.zeros(k) if d.forbid_unserved else d.com_teu,
            d.leg_max_services[service],
            np.ones(len(cand)),
        ]
    )
    cost = np.concatenate(
        [d.pair_cost, d.com_penalty, d.leg_service_cost[service], d.leg_fixed_cost[cand]]
    )

    rows_i: list[np.ndarray] = []
    cols_j: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []
    n_row = 0

    def add(
        r: np.ndarray, c: np.ndarray, v: np.ndarray, n: int, lower: np.ndarray, upper: np.ndarray
    ) -> None:
        nonlocal n_row
        rows_i.append(r + n_row)
        cols_j.append(c)
        vals.append(v)
        lo.append(lower)
        hi.append(upper)
        n_row += n

    # flow balance
    n = net.n_nodes
    keys = np.concatenate(
        [
            d.pair_group * n + net.leg_from[d.pair_leg],
            d.pair_group * n + net.leg_to[d.pair_leg],
            d.com_group * n + d.com_origin,
            d.com_group * n + d.com_dest,
        ]
    )
    uniq, row = np.unique(keys, return_inverse=True)
    cols = np.concatenate([np.arange(p), np.arange(p), p + np.arange(k), p + np.arange(k)])
    coef = np.concatenate([np.ones(p), -np.ones(p), np.ones(k), -np.ones(k)])
    rhs = np.bincount(
        row[2 * p :], weights=np.concatenate([d.com_teu, -d.com_teu]), minlength=len(uniq)
    )
    add(row, cols, coef, len(uniq), rhs, rhs)

    def leg_rows(mask_leg: np.ndarray, cap: np.ndarray) -> None:
        sel = np.flatnonzero(mask_leg[d.pair_leg])
        legs, r = np.unique(d.pair_leg[sel], return_inverse=True)
        add(r, sel, np.ones(len(sel)), len(legs), np.full(len(legs), -np.inf), cap[legs])

    finite = np.isfinite(d.leg_capacity)
    leg_rows(finite & (d.leg_fixed_cost <= 0), d.leg_capacity)
    # service capacity: sum x - K s <= 0
    is_service = ~np.isnan(d.leg_service_capacity)
    sel = np.flatnonzero(is_service[d.pair_leg])
    legs, r = np.unique(d.pair_leg[sel], return_inverse=True)
    add(
        np.concatenate([r, np.arange(len(legs))]),
        np.concatenate([sel, [s_col[a] for a in legs]]).astype(np.int64),
        np.concatenate([np.ones(len(sel)), -d.leg_service_capacity[legs]]),
        len(legs),
        np.full(len(legs), -np.inf),
        np.zeros(len(legs)),
    )
    # border and terminal capacity
    for key, cap in (
        (d.leg_border[d.pair_leg], d.border_capacity),
        (net.leg_to[d.pair_leg], d.node_capacity),
    ):
        ok = key >= 0
        ok[ok] = np.isfinite(cap[key[ok]])
        sel = np.flatnonzero(ok)
        ids, r = np.unique(key[sel], return_inverse=True)
        add(r, sel, np.ones(len(sel)), len(ids), np.full(len(ids), -np.inf), cap[ids])
    # linking
    is_cand = d.leg_fixed_cost > 0
    sel = np.flatnonzero(is_cand[d.pair_leg])
    legs, r = np.unique(d.pair_leg[sel], return_inverse=True)
    demand = np.bincount(r, weights=d.group_teu[d.pair_group[sel]], minlength=len(legs))
    link = np.minimum(d.leg_capacity[legs], demand)
    add(
        np.concatenate([r, np.arange(len(legs))]),
        np.concatenate([sel, [f_col[a] for a in legs]]).astype(np.int64),
        np.concatenate([np.ones(len(sel)), -link]),
        len(legs),
        np.full(len(legs), -np.inf),
        np.zeros(len(legs)),
    )
    if strong:
        bound = np.minimum(d.group_teu[d.pair_group[sel]], d.leg_capacity[d.pair_leg[sel]])
        m = len(sel)
        add(
            np.concatenate([np.arange(m), np.arange(m)]),
            np.concatenate([sel, [f_col[a] for a in d.pair_leg[sel]]]).astype(np.int64),
            np.concatenate([np.ones(m), -bound]),
            m,
            np.full(m, -np.inf),
            np.zeros(m),
        )

    a = coo_array(
        (np.concatenate(vals), (np.concatenate(rows_i), np.concatenate(cols_j))),
        shape=(n_row, n_col),
    ).tocsr()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.addVars(n_col, lower, upper)
    h.changeColsCost(n_col, np.arange(n_col, dtype=np.int32), cost)
    h.addRows(
        n_row,
        np.concatenate(lo),
        np.concatenate(hi),
        a.nnz,
        a.indptr[:-1].astype(np.int32),
        a.indices.astype(np.int32),
        a.data,
    )
    ints = np.arange(p + k, n_col, dtype=np.int32)
    if d.integer_teu:
        ints = np.arange(n_col, dtype=np.int32)
    if len(ints):
        h.changeColsIntegrality(len(ints), ints, np.ones(len(ints), dtype=np.uint8))
    return h
