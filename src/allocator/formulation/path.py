"""Path-based formulation: flow on the k cheapest loopless in-time paths of each commodity.

Notation: commodity :math:`k` with :math:`q_k` TEU, its paths :math:`p \\in P_k` (Yen's algorithm,
``allocator.preprocess.paths``; only paths within the due days, so due days are exact), path flow
:math:`h_{kp} \\ge 0`, path cost :math:`c_{kp} = \\sum_{a \\in p} C_{ka}`. The TEU of commodity
:math:`k` on leg :math:`a` is the expression :math:`x_{ka} = \\sum_{p \\ni a} h_{kp}`, so the capacity,
service, border, terminal and linking blocks of the arc formulation apply unchanged to ``m.flow``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from allocator.formulation.arc import set_total_cost
from allocator.formulation.built import BuildContext
from allocator.formulation.data import ArcData, PathData, arc_data
from allocator.instance.model import Instance
from allocator.preprocess import Preprocessed
from allocator.preprocess.paths import PathSet, k_shortest_paths

DEFAULT_PATHS = 10


def commodity_paths(pre: Preprocessed, k: int) -> PathSet:
    """Up to ``k`` cheapest in-time loopless paths per routable commodity."""
    com = pre.commodities
    ok = (com["status"] == "ok").to_numpy()
    due = (com["due_days"].to_numpy(dtype=float) * 24.0).copy()
    due[~ok] = -1.0  # no path for commodities without an in-time route
    return k_shortest_paths(
        pre.net,
        pre.cost,
        pre.time,
        com["origin_idx"].to_numpy(),
        com["dest_idx"].to_numpy(),
        com["class_idx"].to_numpy(),
        due,
        k,
    )


def path_data(
    inst: Instance, pre: Preprocessed, paths: PathSet, *, integer_teu: bool = False
) -> tuple[ArcData, PathData]:
    """ArcData whose flow pairs are the (commodity, leg) pairs on some path, and the incidence."""
    base = arc_data(inst, pre, integer_teu=integer_teu)
    n_legs = pre.net.n_legs
    com_of_leg = np.repeat(paths.com, np.diff(paths.ptr))
    keys, path_pairs = np.unique(com_of_leg * n_legs + paths.legs, return_inverse=True)
    pair_group, pair_leg = keys // n_legs, keys % n_legs
    cls = pre.commodities["class_idx"].to_numpy()
    d = dataclasses.replace(
        base,
        pair_group=pair_group.astype(np.int64),
        pair_leg=pair_leg.astype(np.int64),
        pair_cost=pre.cost[cls[pair_group], pair_leg] if len(keys) else np.zeros(0),
    )
    path_of_leg = np.repeat(np.arange(paths.n_paths), np.diff(paths.ptr))
    order = np.argsort(path_pairs, kind="stable")
    pair_ptr = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(np.bincount(path_pairs, minlength=len(keys)), out=pair_ptr[1:])
    return d, PathData(paths, path_pairs.astype(np.int64), pair_ptr, path_of_leg[order])


def _paths(ctx: BuildContext) -> PathData:
    if ctx.paths is None:
        raise ValueError("a path block needs a build over paths (family path or colgen)")
    return ctx.paths


def define_path_flow(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Path flows :math:`h_{kp} \ge 0` and the pair flows :math:`x_{ka} = \sum_{p \ni a} h_{kp}` (expressions)."""
    pdata = _paths(ctx)
    n = pdata.paths.n_paths
    whole = ctx.data.integer_teu  # whole TEU per lot and route
    m.path_flow = pyo.Var(
        range(n), domain=pyo.NonNegativeIntegers if whole else pyo.NonNegativeReals
    )
    ctx.bounds(m.path_flow, np.zeros(n), np.full(n, np.inf), whole)
    h = list(m.path_flow.values())
    ptr, members = pdata.pair_ptr.tolist(), pdata.pair_paths.tolist()

    def rule(m: pyo.ConcreteModel, i: int) -> LinearExpression:
        vs = [h[p] for p in members[ptr[i] : ptr[i + 1]]]
        return LinearExpression(constant=0.0, linear_coefs=[1.0] * len(vs), linear_vars=vs)

    m.flow = pyo.Expression(range(ctx.data.n_pairs), rule=rule)


def define_path_balance(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Each commodity moves or is unserved: :math:`\sum_{p \in P_k} h_{kp} + u_k = q_k`."""
    d, ps = ctx.data, _paths(ctx).paths
    by_com = d.pairs_by(ps.com, len(d.com_teu))
    h = list(m.path_flow.values())
    m.con_path_balance = pyo.Constraint(
        range(len(d.com_teu)),
        rule=lambda m, k: sum(h[p] for p in by_com[k]) + m.unserved[k] == float(d.com_teu[k]),
    )


def define_path_objective(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Total cost :math:`\min \sum_{k,p} c_{kp} h_{kp} + \sum_a c^S_a s_a + \sum_a F_a y_a + \sum_k \pi_k u_k`."""
    ps = _paths(ctx).paths
    set_total_cost(m, ctx.data, list(m.path_flow.values()), ps.cost.tolist())
