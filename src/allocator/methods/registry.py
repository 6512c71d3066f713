"""The methods registry: each model family names the algorithm that builds and solves it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from allocator.formulation import BuiltModel, Recipe, RecipeError, Stability
from allocator.instance.model import Instance
from allocator.preprocess import Preprocessed
from allocator.solve import SolveOptions, SolveResult

Start = Callable[[BuiltModel], Mapping[str, float] | None]  # a MIP start for the built model


@dataclass(frozen=True)
class Task:
    """What a method builds and solves: the instance, its arrays, the recipe, the solver options,
    and for re-planning the stability input (to ``build``) and a MIP start of the built model."""

    inst: Instance
    pre: Preprocessed
    recipe: Recipe
    opts: SolveOptions
    stability: Stability | None = None
    start: Start | None = None


Method = Callable[[Task], tuple[BuiltModel, SolveResult]]
METHODS: dict[str, Method] = {}


def register(family: str) -> Callable[[Method], Method]:
    """Decorator: ``method`` builds and solves recipes of ``family``."""

    def add(method: Method) -> Method:
        METHODS[family] = method
        return method

    return add


def method_of(family: str) -> Method:
    """The method registered for ``family`` (RecipeError when none is)."""
    if family not in METHODS:
        raise RecipeError(f"model family {family!r} has no method; known: {', '.join(METHODS)}")
    return METHODS[family]
