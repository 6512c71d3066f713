"""Trade-off curves by the epsilon-constraint method: total cost against CO2 or TEU-days.

1. min cost: the cost-optimal plan; its CO2 (or TEU-days) is the top of the range, ``z_max``;
2. min CO2 (the second objective) alone gives ``z_min``; then min cost subject to
   CO2 <= ``z_min`` gives the non-dominated end point (a plan that is not needlessly expensive);
3. min cost subject to CO2 <= eps for ``points - 2`` values of eps evenly spaced between.

The second objective is a formulation block with its math (``define_co2_limit`` /
``define_days_limit`` in ``allocator/formulation/arc.py``): an expression, a mutable Param
epsilon and one row, so the model is built once and re-solved with a new epsilon.

Unserved cargo (``served``): with ``fixed`` (the default) every commodity must move at least the
TEU it moves in the cost-optimal plan, so less CO2 cannot come from moving less cargo; the
model is then built without the pruning by penalty (a route dearer than the penalty may be the
low-CO2 one). With ``free`` lots may be left unmoved at their penalty, which stays in the cost:
the curve then also shows how much CO2 is saved by not moving cargo.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from allocator.analysis.whynot import no_plan_error
from allocator.errors import AllocatorError, ExitCode, SolverError
from allocator.formulation import Recipe, build, load_recipe
from allocator.instance.io import atomic_path, instance_hash
from allocator.instance.model import Instance
from allocator.instance.validate import read_instance
from allocator.preprocess import preprocess
from allocator.results import Plan, extract, write_plan
from allocator.solve import SolveOptions, SolveResult, solve

logger = logging.getLogger(__name__)

SECOND = {
    # objective: (block, expression, limit Param, row, unit, column of pareto.csv)
    "co2": ("define_co2_limit", "co2_t", "co2_limit_t", "con_co2_limit", "t CO2", "co2_t"),
    "days": (
        "define_days_limit",
        "teu_days",
        "teu_days_limit",
        "con_days_limit",
        "TEU-days",
        "teu_days",
    ),
}
SERVED = ("fixed", "free")
END_TOL = 1e-7  # relative slack on the end point's epsilon (the min-objective solve's rounding)
DOMINANCE_TOL = 1e-6  # relative: a point must be better by more than this to dominate
COLUMNS = [
    "point",
    "eps",
    "cost",
    "co2_t",
    "avg_days",
    "teu_days",
    "teu_moved",
    "unserved",
    "status",
    "dominated",
    "marginal_cost",
    "plan",
]


class ParetoError(AllocatorError):
    """A trade-off request that cannot be served (objectives, points, formulation)."""

    exit_code = ExitCode.INVALID


@dataclass
class Frontier:
    """The traced points: ``table`` (one row per point, the columns of pareto.csv) and each
    point's plan (None where the solver found none). ``eps`` is in the second objective's unit
    (t CO2 or TEU-days); point 1 is the cost optimum (its eps is its own value, no cap)."""

    instance: Instance
    objectives: tuple[str, str]
    served: str
    table: pd.DataFrame
    plans: list[Plan | None] = field(repr=False)

    @property
    def unit(self) -> str:
        """Unit of the second objective."""
        return SECOND[self.objectives[1]][4]

    @property
    def curve(self) -> pd.DataFrame:
        """The non-dominated points with a plan, by the second objective, descending."""
        t = self.table
        ok = t[t["plan"].astype(bool) & ~t["dominated"]]
        return ok.sort_values(SECOND[self.objectives[1]][5], ascending=False)

    def write(self, out: str | os.PathLike[str]) -> Path:
        """Write each point's plan folder (``point-01``, ...), ``pareto.csv``, ``pareto.png`` and
        ``pareto.svg`` into ``out``, each atomically."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        for plan, folder in zip(self.plans, self.table["plan"], strict=True):
            if plan is not None:
                write_plan(plan, out / folder, "csv", self.instance)
        with atomic_path(out / "pareto.csv") as work:
            self.table.to_csv(work, index=False, lineterminator="\n")
        self.plot(out / "pareto.png")
        self.plot(out / "pareto.svg")
        return out

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Cost against the second objective (CO2 t, or average days): the curve through the
        non-dominated points, dominated points as grey crosses, each labelled by its number."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter

        second = self.objectives[1]
        x_col, x_label = (
            ("co2_t", "CO2 (t)") if second == "co2" else ("avg_days", "average days per TEU")
        )
        cur = self.instance.settings.currency
        t = self.table[self.table["plan"].astype(bool)]
        curve = self.curve
        fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
        ax.plot(curve[x_col], curve["cost"], "o-", color="#1f77b4", label="non-dominated")
        dom = t[t["dominated"]]
        if len(dom):
            ax.plot(dom[x_col], dom["cost"], "x", color="grey", label="dominated (plan kept)")
        for row in t.itertuples(index=False):
            ax.annotate(
                str(row.point),
                (getattr(row, x_col), row.cost),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
            )
        ax.set_xlabel(x_label)
        ax.set_ylabel(f"total cost ({cur})")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.6g}"))
        shown = "CO2" if second == "co2" else "days"
        ax.set_title(
            f"{self.instance.name}: cost vs {shown} (epsilon-constraint, served {self.served})",
            fontsize=10,
        )
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = Path(path)
        with atomic_path(path) as work:
            fig.savefig(work, format=path.suffix.lstrip(".") or "png")
        plt.close(fig)
        return path


def _check_request(objectives: Sequence[str], points: int, served: str) -> tuple[str, str]:
    objs = tuple(str(o).strip().lower() for o in objectives)
    if len(objs) != 2 or objs[0] != "cost" or objs[1] not in SECOND:
        raise ParetoError(
            f"objectives must be cost,co2 or cost,days, not {','.join(map(str, objectives))}"
        )
    if points < 2:
        raise ParetoError(f"points must be at least 2 (the two end points), not {points}")
    if served not in SERVED:
        raise ParetoError(f"served must be fixed or free, not {served!r}")
    return objs[0], objs[1]


def _mark_dominated(cost: np.ndarray, second: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """True where another solved point is no worse in both and better in one (beyond tolerance)."""
    out = np.zeros(len(cost), dtype=bool)
    for i in np.flatnonzero(ok):
        tol_c = DOMINANCE_TOL * max(1.0, abs(cost[i]))
        tol_s = DOMINANCE_TOL * max(1.0, abs(second[i]))
        for j in np.flatnonzero(ok):
            if j == i:
                continue
            no_worse = cost[j] <= cost[i] + tol_c and second[j] <= second[i] + tol_s
            better = cost[j] < cost[i] - tol_c or second[j] < second[i] - tol_s
            if no_worse and better:
                out[i] = True
                break
    return out


def _teu_days(plan: Plan) -> float:
    r = plan.routes
    return float((r["days"] * r["teu"]).sum()) if len(r) else 0.0


def marginal_costs(cost: np.ndarray, second: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """For each kept point, the extra cost per unit of the second objective it saves against the
    kept point before it (USD per t CO2, or per TEU-day); NaN for the first and the others."""
    out = np.full(len(cost), np.nan)
    previous = None
    for i in np.flatnonzero(keep):
        if previous is not None and second[previous] > second[i]:
            out[i] = (cost[i] - cost[previous]) / (second[previous] - second[i])
        previous = i
    return out


def trace(
    instance: Instance | str | os.PathLike[str],
    objectives: Sequence[str] = ("cost", "co2"),
    points: int = 8,
    *,
    recipe: Recipe | str = "arc-strong",
    solve_opts: SolveOptions | None = None,
    served: str = "fixed",
    on_solve: Callable[[], None] | None = None,
) -> Frontier:
    """Trace the cost / second-objective trade-off with ``points`` points (see the module doc).

    ``recipe``: a Recipe or a recipe name; only the arc formulations support it (``ParetoError``
    otherwise). ``solve_opts``: ``None`` fields take the instance settings. ``on_solve`` is called
    after each of the ``points + 1`` solves (progress). Raises
    InfeasibleError or SolverError when the cost-optimal plan cannot be found; a later point
    without a plan is kept in the table with its status.
    """
    _, second = _check_request(objectives, points, served)
    block, expr_name, limit_name, row_name, _, _ = SECOND[second]
    inst = instance if isinstance(instance, Instance) else read_instance(instance)
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    if recipe.family != "arc":
        raise ParetoError(
            f"pareto needs an arc formulation (arc-strong, arc-weak, arc-agg, arc-cuts); "
            f"{recipe.name!r} is a {recipe.family} formulation"
        )
    merge = not recipe.options.get("integer_teu", False)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    if served == "fixed":  # no pruning by penalty: a low-CO2 route may cost more than it
        unpruned = dataclasses.replace(
            inst, settings=inst.settings.model_copy(update={"unserved": "forbid"})
        )
        pre = preprocess(unpruned, merge=merge)
    else:
        pre = preprocess(inst, merge=merge)
    seconds["preprocess"] = time.perf_counter() - t0
    built = build(inst, pre, dataclasses.replace(recipe, blocks=(*recipe.blocks, block)))
    seconds["build"] = built.seconds
    m = built.model
    expr, limit, row = getattr(m, expr_name), getattr(m, limit_name), getattr(m, row_name)
    opts = (solve_opts or SolveOptions()).for_settings(inst.settings)
    sha = instance_hash(inst)

    def solve_once() -> SolveResult:
        result = solve(built, opts)
        if on_solve is not None:
            on_solve()
        return result

    def plan_of(result: SolveResult, eps: float) -> Plan | None:
        if not result.ok:
            return None
        plan = extract(
            built,
            result,
            inst,
            pre,
            instance_sha256=sha,
            seconds=seconds | {"solve": result.solve_seconds},
        )
        plan.summary["pareto_objective"] = second
        plan.summary["pareto_eps"] = eps
        return plan

    # 1. min cost: the top end
    first = solve_once()
    if not first.ok:
        raise no_plan_error(inst, pre, recipe, first, opts)
    z_max = float(pyo.value(expr))
    results: list[tuple[float, SolveResult, Plan | None]] = [(z_max, first, plan_of(first, z_max))]
    if served == "fixed":
        for k in m.unserved:
            m.unserved[k].setub(max(0.0, float(m.unserved[k].value or 0.0)))

    # 2. min second objective alone, then min cost at that level: the bottom end
    m.obj_total_cost.deactivate()
    m.obj_second = pyo.Objective(expr=expr, sense=pyo.minimize)
    low = solve_once()
    m.del_component(m.obj_second)
    m.obj_total_cost.activate()
    if not low.ok:
        raise SolverError(
            f"{inst.name}: the minimum {second} solve stopped ({low.termination})",
            termination=low.termination,
        )
    z_min = float(pyo.value(expr))
    row.activate()

    def capped(eps: float) -> tuple[float, SolveResult, Plan | None]:
        limit.set_value(eps)
        result = solve_once()
        return eps, result, plan_of(result, eps)

    inner = [z_max - j * (z_max - z_min) / (points - 1) for j in range(1, points - 1)]
    results += [capped(eps) for eps in inner]
    results.append(capped(z_min * (1 + END_TOL) + END_TOL))
    row.deactivate()

    records = []
    for i, (eps, result, plan) in enumerate(results, start=1):
        rec: dict[str, object] = {"point": i, "eps": eps, "status": str(result.termination)}
        if plan is not None:
            info = plan.info()
            rec |= {
                "cost": info["objective"],
                "co2_t": info["co2_t"],
                "avg_days": info["avg_days"],
                "teu_days": _teu_days(plan),
                "teu_moved": info["teu_moved"],
                "unserved": info["teu_unserved"],
                "plan": f"point-{i:02d}",
            }
        else:
            rec["plan"] = ""
        records.append(rec)
    table = pd.DataFrame.from_records(records).reindex(columns=COLUMNS)
    table["plan"] = table["plan"].fillna("")
    solved = (table["plan"] != "").to_numpy()
    table["dominated"] = _mark_dominated(
        table["cost"].to_numpy(dtype=float),
        table[SECOND[second][5]].to_numpy(dtype=float),
        solved,
    )
    table["marginal_cost"] = marginal_costs(
        table["cost"].to_numpy(dtype=float),
        table[SECOND[second][5]].to_numpy(dtype=float),
        solved & ~table["dominated"].to_numpy(dtype=bool),
    )
    logger.info("pareto %s: %d points, %d solved", inst.name, len(table), int(solved.sum()))
    return Frontier(inst, ("cost", second), served, table, [p for _, _, p in results])
