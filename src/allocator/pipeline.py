"""The spine every caller uses: read -> validate -> preprocess -> build -> solve -> extract."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

import pyomo.environ as pyo

from allocator.errors import InfeasibleError, SolverError
from allocator.formulation import Recipe, build_model, load_recipe
from allocator.instance.io import instance_hash
from allocator.instance.model import Instance
from allocator.instance.validate import read_instance
from allocator.options import RunOptions
from allocator.preprocess import Preprocessed, preprocess
from allocator.results import Plan, extract
from allocator.solve import SolveOptions, SolveResult, Termination, solve

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    """Everything one run produced; ``plan`` is None when the solver found no plan."""

    instance: Instance
    recipe: Recipe
    pre: Preprocessed
    model: pyo.ConcreteModel
    result: SolveResult
    plan: Plan | None
    seconds: dict[str, float] = field(default_factory=dict)


def solve_options(
    opts: RunOptions, inst: Instance, mip_start: dict[str, float] | None = None
) -> SolveOptions:
    """The solver options of a run: ``opts.solve`` where set, else the instance settings."""
    s = inst.settings
    solve = opts.solve.under(s.time_limit_s, s.mip_rel_gap, s.threads)
    return replace(solve, mip_start=mip_start) if mip_start is not None else solve


def _recipe(opts: RunOptions) -> Recipe:
    return load_recipe(opts.model).with_options(
        linking=opts.linking,
        aggregate=opts.aggregate,
        integer_teu=opts.integer_teu,
        paths=opts.paths,
    )


def run(instance: str | os.PathLike[str] | Instance, opts: RunOptions | None = None) -> RunResult:
    """Solve one instance and return its plan.

    Raises InstanceError for invalid input, InfeasibleError when no plan exists (``forbid`` with a
    lot that has no route, or a proven infeasible model), SolverError when the solver stops
    without a plan.
    """
    opts = opts or RunOptions()
    t_start = time.perf_counter()
    seconds: dict[str, float] = {}
    inst = instance if isinstance(instance, Instance) else read_instance(instance)
    seconds["read"] = time.perf_counter() - t_start
    recipe = _recipe(opts)

    t0 = time.perf_counter()
    merge = not recipe.options.get("integer_teu", False)
    pre = preprocess(inst, merge=merge)
    seconds["preprocess"] = time.perf_counter() - t0
    if inst.settings.unserved == "forbid":
        _fail_unroutable(inst, pre)

    t0 = time.perf_counter()
    m = build_model(inst, pre, recipe)
    mip_start = None
    rolling_opts = opts.rolling
    if rolling_opts is not None and rolling_opts.previous_plan is not None:
        from allocator.analysis import rolling

        mip_start = rolling.prepare(
            m,
            inst,
            pre,
            rolling_opts.previous_plan,
            rolling_opts.stability_weight,
            rolling_opts.warm_start,
            rolling_opts.stability_scope,
        )
    seconds["build"] = time.perf_counter() - t0
    solve_opts = solve_options(opts, inst, mip_start)
    if recipe.family == "colgen":  # research: column generation, price-and-branch
        from allocator.methods.colgen import solve_colgen

        try:
            m, result, _ = solve_colgen(inst, pre, recipe, solve_opts)
        except InfeasibleError as exc:  # name the capacity increases that would help
            if inst.settings.unserved != "forbid":
                raise
            raise _elastic_error(str(exc), inst, pre, recipe, solve_opts) from None
    else:
        result = solve(m, solve_opts)
        if (  # research: a path model may be infeasible only for want of paths
            recipe.family == "path"
            and inst.settings.unserved == "forbid"
            and result.termination in (Termination.INFEASIBLE, Termination.INFEASIBLE_OR_UNBOUNDED)
        ):
            from allocator.formulation.path import too_few_paths

            few = too_few_paths(inst, pre, m, solve_opts)
            if few is not None:
                raise few
    seconds["handoff"] = result.handoff_seconds
    seconds["solve"] = result.solve_seconds
    plan = None
    if result.ok:
        t0 = time.perf_counter()
        seconds["total"] = time.perf_counter() - t_start
        plan = extract(
            inst,
            pre,
            m,
            result,
            model_name=recipe.name,
            instance_sha256=instance_hash(inst),
            seconds=seconds,
        )
        seconds["extract"] = time.perf_counter() - t0
        previous = rolling_opts.previous_plan if rolling_opts is not None else None
        if previous is not None or result.mip_start_status != "none":
            from allocator.analysis import rolling

            plan = rolling.annotate(plan, m, result, previous)
        plan = _prices_and_reasons(plan, inst, pre, m, solve_opts, opts.prices, seconds)
    logger.info(
        "run %s with %s: %s in %.2f s",
        inst.name,
        recipe.name,
        result.termination,
        time.perf_counter() - t_start,
    )
    return RunResult(inst, recipe, pre, m, result, plan, seconds)


def run_or_raise(
    instance: str | os.PathLike[str] | Instance, opts: RunOptions | None = None
) -> RunResult:
    """Like ``run``, but raise InfeasibleError or SolverError when there is no plan."""
    res = run(instance, opts)
    if res.plan is None:
        t = res.result.termination
        if t in (Termination.INFEASIBLE, Termination.INFEASIBLE_OR_UNBOUNDED):
            hint = (
                " (every lot must move: settings say unserved = forbid)"
                if (res.instance.settings.unserved == "forbid")
                else ""
            )
            head = f"{res.instance.name}: no feasible plan exists{hint}"
            if res.instance.settings.unserved == "forbid":  # elastic re-solve
                raise _elastic_error(
                    head, res.instance, res.pre, res.recipe, _solve_options(res.result)
                )
            raise InfeasibleError(head)
        raise SolverError(f"{res.instance.name}: solver stopped without a plan ({t})")
    return res


def _fail_unroutable(inst: Instance, pre: Preprocessed) -> None:
    com = pre.commodities
    bad = com[com["status"] != "ok"]
    if bad.empty:
        return
    from allocator.analysis.whynot import no_route_detail

    lines = []
    for k, lots, o, d, c, status, due, fastest in zip(
        bad.index,
        bad["lots"],
        bad["origin"],
        bad["destination"],
        bad["class"],
        bad["status"],
        bad["due_days"],
        bad["fastest_days"],
        strict=True,
    ):
        why = (
            _no_route(inst, pre, int(k), no_route_detail)
            if status == "no_route"
            else (f"no route within {due:g} due days (fastest {fastest:.1f} days)")
        )
        lines.append(f"lots {', '.join(lots)} ({o} -> {d}, class {c}): {why}")
    raise InfeasibleError(
        f"{inst.name}: no feasible plan; settings say unserved = forbid but\n  "
        + "\n  ".join(lines)
    )


# --- bottleneck prices and why-not explanations


def _prices_and_reasons(
    plan: Plan,
    inst: Instance,
    pre: Preprocessed,
    m: pyo.ConcreteModel,
    solve_opts: SolveOptions,
    prices: bool,
    seconds: dict[str, float],
) -> Plan:
    """Bottleneck prices (when asked) and a why-not ``detail`` for every unserved lot."""
    from allocator.analysis.whynot import explain_unserved

    leg_price = None
    if prices:
        from allocator.analysis.prices import add_prices

        t0 = time.perf_counter()
        try:
            plan, found = add_prices(plan, inst, pre, m, replace(solve_opts, mip_start=None))
            leg_price = found.leg_price if found.ok else None
        except Exception:  # the plan stands without prices; never lose a solved plan to them
            logger.exception("%s: bottleneck prices failed; the plan has none", inst.name)
        seconds["prices"] = time.perf_counter() - t0
    try:
        return explain_unserved(plan, inst, pre, leg_price)
    except Exception:  # as above: the plan stands, the details say why they are missing
        logger.exception("%s: why-not explanations failed", inst.name)
        detail = "no explanation (internal error; see the log)"
        return replace(plan, unserved=plan.unserved.assign(detail=detail))


def _no_route(inst: Instance, pre: Preprocessed, k: int, detail: Callable[..., str]) -> str:
    """'no route: <the restriction or missing link that cuts it>' for commodity ``k``."""
    try:
        return "no route: " + detail(inst, pre, k).removeprefix("no route: ")
    except Exception:  # the lot still has no route; only the explanation is missing
        logger.exception("%s: no-route explanation failed", inst.name)
        return "no route"


def _solve_options(result: SolveResult) -> SolveOptions:
    """The SolveOptions a result was solved with (its recorded options)."""
    names = {f.name for f in fields(SolveOptions)}
    return SolveOptions(**{k: v for k, v in result.options.items() if k in names})


def _elastic_error(
    head: str, inst: Instance, pre: Preprocessed, recipe: Recipe, solve_opts: SolveOptions
) -> InfeasibleError:
    """InfeasibleError whose message names the capacity increases that would make it feasible."""
    from allocator.analysis.whynot import elastic_capacity, elastic_message

    try:
        elastic = elastic_capacity(inst, pre, recipe, solve_opts)
        return InfeasibleError(f"{head}\n  {elastic_message(elastic, recipe.name, inst)}")
    except Exception:  # the infeasibility stands; the explanation is a bonus
        logger.exception("%s: elastic re-solve failed", inst.name)
        return InfeasibleError(head)
