"""Formulations: build a Pyomo model from an instance, its preprocessed arrays and a recipe."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from time import perf_counter

import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from allocator.errors import OptionsError
from allocator.formulation import arc, path
from allocator.formulation import time as time_model
from allocator.formulation.built import BuildContext, BuiltModel, FixedPrices, Route
from allocator.formulation.data import (
    DEFAULT_STEP_MINUTES,
    ArcData,
    Discretization,
    PathData,
    TimeData,
    TimeNetworkTooLarge,
    arc_data,
    time_data,
)
from allocator.formulation.path import DEFAULT_PATHS, commodity_paths, path_data
from allocator.formulation.recipe import Recipe, RecipeError, available, read_recipe
from allocator.formulation.rows import ColumnBounds, Cut, Separator
from allocator.formulation.stability import Reference, Stability, reference
from allocator.instance.model import Instance
from allocator.preprocess import Preprocessed
from allocator.preprocess.paths import PathSet

__all__ = [
    "BLOCKS",
    "ArcData",
    "Block",
    "BuildContext",
    "BuiltModel",
    "FixedPrices",
    "ColumnBounds",
    "DEFAULT_PATHS",
    "Cut",
    "Discretization",
    "PathData",
    "Recipe",
    "RecipeError",
    "Reference",
    "Route",
    "Separator",
    "Stability",
    "TIME_FAMILIES",
    "TimeData",
    "available",
    "build",
    "load_recipe",
]

logger = logging.getLogger(__name__)

Block = Callable[[pyo.ConcreteModel, BuildContext], None]
BLOCKS: dict[str, Block] = {
    name: getattr(arc, name) for name in dir(arc) if name.startswith("define_")
}
BLOCKS |= {name: getattr(path, name) for name in dir(path) if name.startswith("define_")}
BLOCKS |= {
    name: getattr(time_model, name) for name in dir(time_model) if name.startswith("define_")
}
PATH_FAMILIES = ("path", "colgen")
TIME_FAMILIES = ("time", "ddd")


def load_recipe(name_or_path: str | Path) -> Recipe:
    """Load a recipe by name (``arc-strong``) or path, resolving ``extends`` and checking every key
    and block (see ``models/README.md``)."""
    return read_recipe(
        name_or_path, BLOCKS
    )  # colgen builds its master over the columns it generated


MAX_TIME_COLUMNS = 5_000_000
"""Arc and waiting columns above which a time model is refused before it is built: the Pyomo
model alone would take many GB and minutes, and HiGHS hours (the Eurasia week at a 60-minute
step: 13.8 million). The benchmarks' largest is 0.25 million."""


def _too_large(inst: Instance, step: float, needs: str) -> OptionsError:
    """The refusal (exit 2) of a time network over ``MAX_TIME_COLUMNS``, naming a coarser step."""
    report_step = float(inst.settings.time_step_hours) * 60.0
    coarser = report_step if report_step > step else 4.0 * step
    return OptionsError(
        f"{inst.name}: --model time at a {step:g}-minute step needs {needs}, over the "
        f"{MAX_TIME_COLUMNS:,} a time model may have; use a coarser step "
        f"(--step-minutes {coarser:g}) or --model ddd, which adds only the times it needs"
    )


def build(
    inst: Instance,
    pre: Preprocessed,
    recipe: Recipe,
    *,
    paths: PathSet | None = None,
    stability: Stability | None = None,
    points: Discretization | None = None,
) -> BuiltModel:
    """The recipe's blocks, in order, on one Pyomo model.

    Path families are built over ``paths`` (default: the ``paths`` option's k cheapest in-time
    paths per commodity). ``stability`` (re-planning) is mapped onto an arc model's flow
    variables; its ``define_stability`` block adds the stability term when the weight is > 0.
    The time family is built over its time-expanded network at the recipe's ``step_minutes``,
    or over the time ``points`` given (the ddd family needs them).
    """
    t0 = perf_counter()
    pdata, timed = None, None
    if recipe.family in PATH_FAMILIES:
        if paths is None:
            paths = commodity_paths(pre, int(recipe.options.get("paths") or DEFAULT_PATHS))
        d, pdata = path_data(
            inst, pre, paths, integer_teu=bool(recipe.options.get("integer_teu", False))
        )
    elif recipe.family == "arc":
        if not pre.pruned:
            raise ValueError("an arc model needs the usable legs: preprocess with prune=True")
        d = arc_data(
            inst,
            pre,
            aggregate=recipe.options.get("aggregate", "none"),
            integer_teu=bool(recipe.options.get("integer_teu", False)),
        )
    elif recipe.family in TIME_FAMILIES:
        if not pre.pruned:
            raise ValueError("a time model needs the usable legs: preprocess with prune=True")
        if recipe.family == "ddd" and points is None:
            raise ValueError("a ddd model is built over the time points of a discretization")
        step = float(recipe.options.get("step_minutes") or DEFAULT_STEP_MINUTES)
        limit = MAX_TIME_COLUMNS if recipe.family == "time" else None
        try:
            d, timed = time_data(inst, pre, arc_data(inst, pre), step, points, max_arcs=limit)
        except TimeNetworkTooLarge as big:
            raise _too_large(inst, step, f"at least {big.arcs:,} departure arcs") from None
        if (
            recipe.family == "time"
            and (n := timed.n_arcs + len(timed.hold_from)) > MAX_TIME_COLUMNS
        ):
            raise _too_large(inst, step, f"{n:,} arc and waiting columns")
    else:
        raise RecipeError(f"model family {recipe.family!r} is not available yet")
    ref = None
    if stability is not None:
        if recipe.family != "arc":
            logger.warning("re-planning needs an arc-family model, not %r", recipe.family)
        else:
            ref = reference(inst, pre, d, stability)
            if stability.weight > 0 and "define_stability" not in recipe.blocks:
                logger.warning(
                    "recipe %s has no define_stability block: no stability term", recipe.name
                )
    ctx = BuildContext(d, pre.net, pdata, ref, timed)
    m = pyo.ConcreteModel(name=f"{inst.name}:{recipe.name}")
    with PauseGC():  # millions of small objects, no cycles to collect: skip the GC passes
        for name in recipe.blocks:
            BLOCKS[name](m, ctx)
    return BuiltModel(
        model=m,
        recipe=recipe,
        data=d,
        paths=pdata,
        stability=ref,
        timed=timed,
        separator=ctx.separator,
        column_bounds=dict(ctx.column_bounds),
        balance_keys=ctx.balance_keys,
        slack_rows=tuple(ctx.slack_rows),
        seconds=perf_counter() - t0,
    )
