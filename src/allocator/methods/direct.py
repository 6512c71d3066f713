"""Build the model and solve it as one MIP: the arc and time families, and the path family with a
diagnosis of path models that are infeasible only for want of paths."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyomo.environ as pyo

from allocator.errors import TooFewPathsError
from allocator.formulation import DEFAULT_PATHS, BuiltModel, build
from allocator.instance.model import Instance
from allocator.methods.registry import Task, register
from allocator.preprocess import Preprocessed
from allocator.solve import SolveOptions, SolveResult, Termination, solve


@register("arc")
def solve_direct(task: Task) -> tuple[BuiltModel, SolveResult]:
    """Build the recipe's model and solve it (with the task's MIP start, when it gives one)."""
    built = build(task.inst, task.pre, task.recipe, stability=task.stability)
    start = task.start(built) if task.start is not None else None
    opts = task.opts if start is None else dataclasses.replace(task.opts, mip_start=start)
    return built, solve(built, opts)


@register("time")
def solve_timed(task: Task) -> tuple[BuiltModel, SolveResult]:
    """``solve_direct`` with an LP dive first (``SolveOptions.dive``): the LP relaxation of a
    time-expanded model has few fractional departures, and fixing them one by one gives a plan
    that is often within the gap of the LP bound already, so branch and bound never starts.
    Otherwise branch and bound runs in the time left, and the cheaper plan of the two is kept.
    The dive runs on its own copy of the model: after an LP solve on the same solver, HiGHS 1.16
    can report a MIP optimum of a time-expanded model below its own LP bound, with an objective
    its solution does not have."""
    opts = dataclasses.replace(task.opts, lp_first=False, dive=True)
    return solve_direct(dataclasses.replace(task, opts=opts))


@register("path")
def solve_path(task: Task) -> tuple[BuiltModel, SolveResult]:
    """``solve_direct``; under ``forbid`` an infeasible path model whose paths are the cause
    raises TooFewPathsError naming the lots (see ``too_few_paths``)."""
    built, result = solve_direct(task)
    infeasible = (Termination.INFEASIBLE, Termination.INFEASIBLE_OR_UNBOUNDED)
    if task.inst.settings.unserved == "forbid" and result.termination in infeasible:
        few = too_few_paths(task.inst, task.pre, built, task.opts)
        if few is not None:
            raise few
    return built, result


def too_few_paths(
    inst: Instance, pre: Preprocessed, built: BuiltModel, opts: SolveOptions
) -> TooFewPathsError | None:
    """Why an infeasible path model under ``forbid`` is infeasible, when its paths are the cause.

    Returns None when every commodity's paths are complete (all its in-time loopless paths are
    in the model: the infeasibility is then the instance's). Otherwise a phase-1 LP over the same
    paths (unserved allowed, least unserved TEU; integers relaxed, which keeps feasibility the
    same since every integer column only adds capacity) names the lots that cannot move.
    """
    if built.paths is None:
        return None
    ps = built.paths.paths
    n_com = len(pre.commodities)
    if ps.complete is not None and bool(np.all(ps.complete)):
        return None
    probe = build(inst, pre, built.recipe, paths=ps)
    m = probe.model
    teu = probe.data.com_teu
    for k, var in m.unserved.items():
        var.setub(float(teu[k]))
    for var in m.component_data_objects(pyo.Var):
        if var.is_integer():
            lb, ub = var.lb, var.ub
            var.domain = pyo.Reals
            var.setlb(lb)
            var.setub(ub)
    for obj in m.component_data_objects(pyo.Objective, active=True):
        obj.deactivate()
    m.phase1 = pyo.Objective(expr=sum(m.unserved.values()))
    result = solve(probe, dataclasses.replace(opts, mip_start=None, lp_first=False))
    if not result.has_solution:
        return None
    left = np.array([m.unserved[k].value or 0.0 for k in range(n_com)])
    blocked = np.flatnonzero(left > 1e-6)
    if len(blocked) == 0:
        return None
    k_paths = int(built.recipe.options.get("paths") or DEFAULT_PATHS)
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
