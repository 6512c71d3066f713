"""Rows and columns given as arrays: what a build hands to the solver besides Pyomo expressions.

Pyomo's ``MatrixConstraint`` holds ``lb <= A x <= ub`` as arrays; ``allocator.solve`` hands such
blocks to HiGHS straight from the arrays. ``ArrayConstraint`` keeps the rest of Pyomo working on
them (iterating constraint data, the LP writer, ``pyo.value``), which the base class no longer
does. ``ColumnBounds`` gives a variable's bounds as arrays, and a ``Separator`` returns lazily
added rows (cuts) for the solver's root cutting-plane loop.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyomo.common.gc_manager import PauseGC
from pyomo.core.base.matrix_constraint import MatrixConstraint, _MatrixConstraintData
from pyomo.core.base.var import VarData


class ArrayRow(_MatrixConstraintData):
    """One row of an ArrayConstraint."""

    __slots__ = ()

    def to_bounded_expression(self, evaluate_bounds: bool = False) -> tuple[Any, Any, Any]:
        lower, upper = self.lower, self.upper
        return (
            None if lower is None or lower == -np.inf else float(lower),
            self.body,
            None if upper is None or upper == np.inf else float(upper),
        )

    @property
    def expr(self) -> Any:
        lower, body, upper = self.to_bounded_expression()
        if lower == upper:
            return body == lower
        if lower is None:
            return body <= upper
        if upper is None:
            return body >= lower
        return (lower, body, upper)


class ArrayConstraint(MatrixConstraint):
    """``lb <= A x <= ub`` with ``A`` in CSR arrays over the variable list ``x``."""

    def __init__(
        self,
        a_data: np.ndarray,
        a_indices: np.ndarray,
        a_indptr: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        x: Sequence[Any],
    ) -> None:
        super().__init__(a_data, a_indices, a_indptr, lower, upper, x)

    def construct(self, data: Any = None) -> None:
        if self._constructed:
            return
        self._constructed = True
        ref = weakref.ref(self)
        with PauseGC():
            self._data = tuple(ArrayRow(i, ref) for i in range(len(self._lower)))

    # IndexedComponent's signatures (Mapping's take no ``sort``), so block iteration works
    def keys(self, sort: Any = None, ordered: Any = None) -> Iterator[int]:  # type: ignore[override]
        return iter(range(len(self._data)))

    def values(self, sort: Any = None, ordered: Any = None) -> Iterator[ArrayRow]:  # type: ignore[override]
        return iter(self._data)

    def items(self, sort: Any = None, ordered: Any = None) -> Iterator[tuple[int, ArrayRow]]:  # type: ignore[override]
        return enumerate(self._data)


# --- what blocks hand to the solver besides Pyomo components


@dataclass(frozen=True)
class ColumnBounds:
    """Bounds of every member of one array-declared variable, in the variable's order."""

    lower: np.ndarray
    upper: np.ndarray
    integer: bool


Cut = tuple[list[VarData], list[float], float, float]  # variables, coefficients, lower, upper
Values = Callable[[list[VarData]], np.ndarray]  # the current LP values of some variables
Separator = Callable[[Values], list[Cut]]  # the valid inequalities the LP values violate
