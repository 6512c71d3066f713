"""What a build hands on: the Pyomo model with everything the solver and the extractor read.

Blocks (``define_*``) receive a ``BuildContext``: the arrays they are built from, and a place for
what they hand on that is not a Pyomo component (array bounds of a variable, a cut separator, the
keys of array rows). ``build`` freezes it with the model into a ``BuiltModel``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.expression import ExpressionData
from pyomo.core.base.var import VarData

from allocator.formulation.data import ArcData, PathData, TimeData
from allocator.formulation.recipe import Recipe
from allocator.formulation.rows import ColumnBounds, Separator
from allocator.formulation.stability import Reference
from allocator.preprocess import Network

Route = tuple[int, list[int], float]  # commodity, leg indices, TEU


@dataclass
class BuildContext:
    """What the blocks of one build share.

    In: ``data`` (the arrays), ``net``, ``paths`` (path families), ``stability`` (re-planning)
    and ``timed`` (the time-expanded network of the time family).
    Out, besides Pyomo components: ``column_bounds`` (array bounds of a variable, by its name),
    ``separator`` (lazily added rows), ``balance_keys`` (``group * n_nodes + node`` of each
    flow-balance row) and ``slack_rows`` (``(kind, index)`` of each elastic capacity slack).
    """

    data: ArcData
    net: Network
    paths: PathData | None = None
    stability: Reference | None = None
    timed: TimeData | None = None
    column_bounds: dict[str, ColumnBounds] = field(default_factory=dict)
    separator: Separator | None = None
    balance_keys: np.ndarray | None = None
    slack_rows: list[tuple[str, int]] = field(default_factory=list)
    _flows: list[VarData | ExpressionData] | None = field(default=None, repr=False)

    def flows(self, m: pyo.ConcreteModel) -> list[VarData | ExpressionData]:
        """``m.flow`` as a list (indexed faster than the component); the pair flows of path
        models are expressions."""
        if self._flows is None:
            self._flows = list(m.flow.values())
        return self._flows

    def bounds(self, var: pyo.Var, lower: np.ndarray, upper: np.ndarray, integer: bool) -> None:
        """Give the bounds of every member of ``var`` as arrays, for a fast hand-off."""
        self.column_bounds[var.local_name] = ColumnBounds(lower, upper, integer)


@dataclass(frozen=True)
class FixedPrices:
    """The duals of the LP with the plan's integer decisions fixed, from a method that solves
    that LP itself (column generation; arc and path models get them from the Pyomo model).

    ``price[kind]`` (kind ``leg``, ``service``, ``border`` or ``terminal``): per leg, border or
    node, ``-dual`` of its capacity row (a ``<=`` row of a minimisation), 0 where the row never
    bound; for a candidate leg the row is its linking row ``load <= U y``. ``potential``: per
    commodity the dual of its balance row (the value of delivering one TEU)."""

    termination: str
    objective: float
    price: Mapping[str, np.ndarray]
    potential: np.ndarray
    seconds: float = 0.0


@dataclass(frozen=True)
class BuiltModel:
    """A Pyomo model and what the solver and the extractor need besides its components.

    ``data``: the arrays it was built from; ``paths``: the paths of a path model (None for arc
    models); ``stability``: last period's plan mapped onto it when re-planning; ``separator``:
    cuts for the root cutting-plane loop (arc-cuts); ``timed``: the time-expanded network of a
    time-family model (None otherwise); ``column_bounds``: array bounds of the
    variables declared from arrays; ``balance_keys`` and ``slack_rows`` as in ``BuildContext``;
    ``seconds``: build time.
    """

    model: pyo.ConcreteModel
    recipe: Recipe
    data: ArcData
    paths: PathData | None = None
    stability: Reference | None = None
    timed: TimeData | None = field(default=None, repr=False)
    separator: Separator | None = field(default=None, repr=False)
    column_bounds: Mapping[str, ColumnBounds] = field(default_factory=dict, repr=False)
    balance_keys: np.ndarray | None = field(default=None, repr=False)
    slack_rows: tuple[tuple[str, int], ...] = field(default=(), repr=False)
    seconds: float = 0.0
    # the fixed LP's duals by the method's own LP (given a time limit in seconds), when it has one
    fixed_prices: Callable[[float], FixedPrices] | None = field(default=None, repr=False)

    def routes(self) -> list[Route] | None:
        """Path models: (commodity, legs, TEU) of every path with flow in the loaded solution;
        None for arc models (their routes come from decomposing leg flows)."""
        if self.paths is None:
            return None
        ps = self.paths.paths
        out = []
        for p, var in self.model.path_flow.items():
            v = var.value or 0.0
            if v > 1e-6:
                out.append((int(ps.com[p]), ps.path(p).tolist(), float(v)))
        return out
