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

from allocator.errors import TooFewPathsError
from allocator.formulation.arc import set_total_cost
from allocator.formulation.data import ArcData, arc_data
from allocator.instance.model import Instance
from allocator.preprocess import Network, Preprocessed
from allocator.preprocess.paths import PathSet, k_shortest_paths
from allocator.solve import SolveOptions, column_bounds, solve

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


@dataclasses.dataclass(frozen=True)
class PathData:
    """Paths and their link to (commodity, leg) pairs: path ``p`` uses pairs
    ``path_pairs[paths.ptr[p]:paths.ptr[p+1]]``; pair ``i`` is on paths ``pair_paths[pair_ptr[i]:pair_ptr[i+1]]``."""

    paths: PathSet
    path_pairs: np.ndarray
    pair_ptr: np.ndarray
    pair_paths: np.ndarray


def path_data(inst: Instance, pre: Preprocessed, paths: PathSet) -> tuple[ArcData, PathData]:
    """ArcData whose flow pairs are the (commodity, leg) pairs on some path, and the incidence."""
    base = arc_data(inst, pre)
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


def define_path_flow(m: pyo.ConcreteModel, d: ArcData, net: Network) -> None:
    r"""Path flows :math:`h_{kp} \ge 0` and the pair flows :math:`x_{ka} = \sum_{p \ni a} h_{kp}` (expressions)."""
    pdata: PathData = m.path_data
    n = pdata.paths.n_paths
    m.path_flow = pyo.Var(range(n), domain=pyo.NonNegativeReals)
    column_bounds(m.path_flow, np.zeros(n), np.full(n, np.inf), False)
    h = list(m.path_flow.values())
    ptr, members = pdata.pair_ptr.tolist(), pdata.pair_paths.tolist()

    def rule(m: pyo.ConcreteModel, i: int) -> object:
        vs = [h[p] for p in members[ptr[i] : ptr[i + 1]]]
        return LinearExpression(constant=0.0, linear_coefs=[1.0] * len(vs), linear_vars=vs)

    m.flow = pyo.Expression(range(d.n_pairs), rule=rule)


def define_path_balance(m: pyo.ConcreteModel, d: ArcData, net: Network) -> None:
    r"""Each commodity moves or is unserved: :math:`\sum_{p \in P_k} h_{kp} + u_k = q_k`."""
    ps: PathSet = m.path_data.paths
    by_com = d.pairs_by(ps.com, len(d.com_teu))
    h = list(m.path_flow.values())
    m.con_path_balance = pyo.Constraint(
        range(len(d.com_teu)),
        rule=lambda m, k: sum(h[p] for p in by_com[k]) + m.unserved[k] == float(d.com_teu[k]),
    )


def define_path_objective(m: pyo.ConcreteModel, d: ArcData, net: Network) -> None:
    r"""Total cost :math:`\min \sum_{k,p} c_{kp} h_{kp} + \sum_a c^S_a s_a + \sum_a F_a y_a + \sum_k \pi_k u_k`."""
    ps: PathSet = m.path_data.paths
    set_total_cost(m, d, list(m.path_flow.values()), ps.cost.tolist())


def attach_routes(m: pyo.ConcreteModel, ps: PathSet) -> None:
    """Let ``results.extract`` read the routes straight from the path flows."""

    def routes() -> list[tuple[int, list[int], float]]:
        out = []
        for p, var in m.path_flow.items():
            v = var.value or 0.0
            if v > 1e-6:
                out.append((int(ps.com[p]), ps.path(p).tolist(), float(v)))
        return out

    m.__dict__["path_routes"] = routes


def too_few_paths(
    inst: Instance, pre: Preprocessed, m: pyo.ConcreteModel, opts: SolveOptions
) -> TooFewPathsError | None:
    """Why an infeasible path model under ``forbid`` is infeasible, when its paths are the cause.

    Returns None when every commodity's paths are complete (all its in-time loopless paths are
    in the model: the infeasibility is then the instance's). Otherwise a phase-1 LP over the same
    paths (unserved allowed, least unserved TEU; integers relaxed, which keeps feasibility the
    same since every integer column only adds capacity) names the lots that cannot move.
    """
    from allocator.formulation import BLOCKS

    ps: PathSet = m.path_data.paths
    n_com = len(pre.commodities)
    if ps.complete is not None and bool(np.all(ps.complete)):
        return None
    probe = build_path_model(inst, pre, m.recipe, BLOCKS, paths=ps)
    teu = probe.data.com_teu
    for k, var in probe.unserved.items():
        var.setub(float(teu[k]))
    for var in probe.component_data_objects(pyo.Var):
        if var.is_integer():
            lb, ub = var.lb, var.ub
            var.domain = pyo.Reals
            var.setlb(lb)
            var.setub(ub)
    for obj in probe.component_data_objects(pyo.Objective, active=True):
        obj.deactivate()
    probe.phase1 = pyo.Objective(expr=sum(probe.unserved.values()))
    result = solve(probe, dataclasses.replace(opts, mip_start=None, lp_first=False))
    if not result.has_solution:
        return None
    left = np.array([probe.unserved[k].value or 0.0 for k in range(n_com)])
    blocked = np.flatnonzero(left > 1e-6)
    if len(blocked) == 0:
        return None
    k_paths = int(m.recipe.options.get("paths") or DEFAULT_PATHS)
    count = np.bincount(ps.com, minlength=n_com)
    com = pre.commodities
    lines = []
    for k in blocked[:5].tolist():
        row = com.iloc[k]
        n = int(count[k])
        lots = ", ".join(row["lots"])
        what = f"only {n} path{'s' if n != 1 else ''} within due days in the model"
        lines.append(
            f"lot{'s' if len(row['lots']) > 1 else ''} {lots} ({row['origin']} -> "
            f"{row['destination']}): {what}, and capacity on {'it' if n == 1 else 'them'} "
            f"leaves {left[k]:g} of {teu[k]:g} TEU unmoved"
        )
    if len(blocked) > 5:
        lines.append(f"and {len(blocked) - 5} more commodities")
    return TooFewPathsError(
        f"{inst.name}: the path model with --paths {k_paths} cannot move every lot "
        "(settings say unserved = forbid):\n  "
        + "\n  ".join(lines)
        + f"\n  it keeps only the {k_paths} cheapest in-time paths per lot and some lots have more; "
        f"try --paths {max(2 * k_paths, k_paths + 5)} or --model arc-strong"
    )


def build_path_model(
    inst: Instance, pre: Preprocessed, recipe: object, blocks: dict, paths: PathSet | None = None
) -> pyo.ConcreteModel:
    """The path model of ``recipe`` over ``paths`` (default: k cheapest per commodity)."""
    options = recipe.options  # type: ignore[attr-defined]
    if paths is None:
        paths = commodity_paths(pre, int(options.get("paths") or DEFAULT_PATHS))
    d, pdata = path_data(inst, pre, paths)
    m = pyo.ConcreteModel(name=f"{inst.name}:{recipe.name}")  # type: ignore[attr-defined]
    m.path_data = pdata
    for name in recipe.blocks:  # type: ignore[attr-defined]
        blocks[name](m, d, pre.net)
    m.data = d
    m.recipe = recipe
    attach_routes(m, paths)
    return m
