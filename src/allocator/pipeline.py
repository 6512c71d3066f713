"""The spine every caller uses: read -> preprocess -> build and solve (the family's method) ->
extract -> annotate. Each stage hands the next a typed product; ``run`` only composes them."""

from __future__ import annotations

import html
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from allocator._heap import frozen_heap
from allocator.analysis import annotate, rolling, whynot
from allocator.errors import InfeasibleError
from allocator.formulation import PATH_FAMILIES, BuiltModel, Recipe
from allocator.instance.io import instance_hash
from allocator.instance.model import Instance
from allocator.instance.validate import read_instance
from allocator.methods import Task, method_of
from allocator.options import RollingOptions, RunOptions
from allocator.preprocess import Preprocessed, preprocess
from allocator.results import RUN_INSTANCE, Plan, extract, read_plan
from allocator.solve import SolveOptions, SolveResult

__all__ = ["RunOptions", "RunResult", "read_run", "run"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """Everything one run produced: the instance, its arrays, the built model, what the solver
    reported, the plan and the seconds of each stage."""

    instance: Instance
    pre: Preprocessed = field(repr=False)
    built: BuiltModel = field(repr=False)
    result: SolveResult
    plan: Plan = field(repr=False)
    seconds: dict[str, float] = field(default_factory=dict, repr=False)

    @property
    def recipe(self) -> Recipe:
        """The recipe the model was built from."""
        return self.built.recipe

    def __repr__(self) -> str:
        r = self.result
        return (
            f"RunResult({self.instance.name}, {self.recipe.name}: {r.termination}, "
            f"objective={r.objective:.10g}, bound={r.bound:.10g}, gap={r.gap:.3g}, "
            f"seconds={self.seconds.get('total', float('nan')):.2f})"
        )

    def _repr_html_(self) -> str:
        """A notebook's view: how the run went, then the plan's (``Plan._repr_html_``)."""
        r = self.result
        head = (
            f"{self.instance.name}, {self.recipe.name}: {r.termination} in "
            f"{self.seconds.get('total', float('nan')):.2f} s"
        )
        title = f"<p><strong>RunResult</strong> {html.escape(head)}</p>"
        return f"<div>{title}{self.plan._repr_html_()}</div>"


def run(instance: str | os.PathLike[str] | Instance, opts: RunOptions | None = None) -> RunResult:
    """Solve one instance and return its plan.

    ``run`` returns only with a plan (``RunResult.plan`` is always a Plan) and raises when there
    is none: InstanceError for invalid input (RecipeError for an unknown model), InfeasibleError
    when no plan exists (under ``forbid`` a lot without a route, or a proven infeasible model:
    then with the capacity increases an elastic re-solve finds), TooFewPathsError when a path
    model under ``forbid`` lacks paths, SolverError when the solver stops without a plan (its
    ``termination`` says how). A rolling run of the time family first takes the flow last
    week's plan carries into this week (``analysis.rolling.with_carry``). Stages: read,
    preprocess, the family's method from
    ``allocator.methods`` (build and solve), ``extract``, and ``analysis.annotate``
    (re-planning comparison, bottleneck prices when ``opts.prices``, why-not details).
    """
    opts, t_start = opts or RunOptions(), time.perf_counter()
    inst = instance if isinstance(instance, Instance) else read_instance(instance)
    recipe = opts.recipe()
    prev = opts.rolling.previous_plan if opts.rolling is not None else None
    if prev is not None and recipe.family == "time":
        inst = rolling.with_carry(inst, prev)  # last week's lots still moving: fixed flow
    seconds = {"read": time.perf_counter() - t_start}
    merge = not recipe.options.get("integer_teu", False)
    pre = preprocess(inst, merge=merge, prune=recipe.family not in PATH_FAMILIES)
    seconds["preprocess"] = time.perf_counter() - t_start - seconds["read"]
    solve_opts = opts.solve.for_settings(inst.settings)
    built, result = _build_and_solve(inst, pre, recipe, solve_opts, opts.rolling)
    seconds |= {"build": built.seconds, "handoff": result.handoff_seconds}
    seconds |= {"solve": result.solve_seconds, "total": time.perf_counter() - t_start}
    with frozen_heap():
        sha = instance_hash(inst)
        plan = extract(built, result, inst, pre, instance_sha256=sha, seconds=seconds)
        t0 = time.perf_counter()
        seconds["extract"] = t0 - t_start - seconds["total"]
        plan = annotate(
            plan, built, result, inst, pre, solve_opts, prices=opts.prices, previous=prev
        )
        seconds["annotate"] = time.perf_counter() - t0
    logger.info("run %s with %s: %s", inst.name, recipe.name, result)
    return RunResult(inst, pre, built, result, plan, seconds)


def _build_and_solve(
    inst: Instance,
    pre: Preprocessed,
    recipe: Recipe,
    opts: SolveOptions,
    replan: RollingOptions | None,
) -> tuple[BuiltModel, SolveResult]:
    """The family's method on the instance; raises (with why-not details) when there is no plan."""
    forbid = inst.settings.unserved == "forbid"
    if forbid and (unroutable := whynot.unroutable_error(inst, pre)) is not None:
        raise unroutable  # a lot without a route: no model to build
    replan = replan or RollingOptions()
    prev = replan.previous_plan
    start = rolling.warm_start(prev, inst, pre) if prev is not None and replan.warm_start else None
    try:
        built, result = method_of(recipe.family)(
            Task(inst, pre, recipe, opts, replan.stability(), start)
        )
    except InfeasibleError as exc:  # proven by the method itself (colgen's master LP)
        if not forbid:
            raise
        raise whynot.elastic_error(str(exc), inst, pre, recipe, opts) from None
    if not result.ok:
        raise whynot.no_plan_error(inst, pre, recipe, result, opts)
    return built, result


def read_run(path: str | os.PathLike[str]) -> tuple[Plan, Instance | None]:
    """A plan folder written by ``write_plan`` and, when it holds one, the instance it solves
    (read and validated; None otherwise)."""
    path = Path(path)
    inst_path = path / RUN_INSTANCE
    return read_plan(path), (read_instance(inst_path) if inst_path.is_file() else None)
