"""Formulations: build a Pyomo model from an instance, its preprocessed arrays and a recipe."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from allocator.formulation import arc, path
from allocator.formulation.data import ArcData, arc_data
from allocator.formulation.recipe import Recipe, RecipeError, available, load_recipe
from allocator.instance.model import Instance
from allocator.preprocess import Network, Preprocessed

__all__ = ["BLOCKS", "ArcData", "Recipe", "RecipeError", "available", "build_model", "load_recipe"]

logger = logging.getLogger(__name__)

Block = Callable[[pyo.ConcreteModel, ArcData, Network], None]
BLOCKS: dict[str, Block] = {
    name: getattr(arc, name) for name in dir(arc) if name.startswith("define_")
}
BLOCKS |= {name: getattr(path, name) for name in dir(path) if name.startswith("define_")}


def build_model(inst: Instance, pre: Preprocessed, recipe: Recipe) -> pyo.ConcreteModel:
    """A Pyomo model holding the recipe's blocks, with ``m.data`` (ArcData) and ``m.recipe`` attached."""
    if recipe.family in ("path", "colgen"):  # colgen builds its own master (colgen.py)
        return path.build_path_model(inst, pre, recipe, BLOCKS)
    if recipe.family != "arc":
        raise RecipeError(f"model family {recipe.family!r} is not available yet")
    d = arc_data(
        inst,
        pre,
        aggregate=recipe.options.get("aggregate", "none"),
        integer_teu=bool(recipe.options.get("integer_teu", False)),
    )
    m = pyo.ConcreteModel(name=f"{inst.name}:{recipe.name}")
    with PauseGC():  # millions of small objects, no cycles to collect: skip the GC passes
        for name in recipe.blocks:
            BLOCKS[name](m, d, pre.net)
    m.data = d
    m.recipe = recipe
    return m
