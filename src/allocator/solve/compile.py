"""Compile a Pyomo model into CSR arrays for HiGHS.

Pyomo's ``LinearStandardFormCompiler`` (mixed form) compiles the expression rows; the
``MatrixConstraint`` families (already arrays) are appended as they are, and variables declared
with array bounds (``ColumnBounds``) take their bounds from the arrays, not one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC
from pyomo.core.base.matrix_constraint import MatrixConstraint
from pyomo.core.base.var import VarData
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler, RowEntry
from scipy.sparse import csr_array, diags_array, vstack

from allocator.formulation.rows import ColumnBounds


@dataclass
class Compiled:
    """A model as arrays: columns (the Pyomo variables, in column order) with cost, bounds and
    integrality; rows (``RowEntry``: constraint and side) with bounds and the CSR matrix."""

    columns: list[VarData]
    cost: np.ndarray
    offset: float
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    a_start: np.ndarray
    a_index: np.ndarray
    a_value: np.ndarray
    rows: list[RowEntry]


def _bounds(
    m: pyo.ConcreteModel, columns: list[VarData], registry: Mapping[str, ColumnBounds]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower, upper and integrality of ``columns``: from ``registry``'s arrays where given."""
    lows, ups, ints, ids = [], [], [], []
    for var in m.component_objects(pyo.Var, descend_into=True):
        data = list(var.values())
        ids.extend(map(id, data))
        if var.local_name in registry and var.parent_block() is m:
            given = registry[var.local_name]
            lows.append(np.asarray(given.lower, dtype=float))
            ups.append(np.asarray(given.upper, dtype=float))
            ints.append(np.full(len(data), given.integer))
        else:
            lows.append(np.array([-np.inf if v.lb is None else v.lb for v in data], dtype=float))
            ups.append(np.array([np.inf if v.ub is None else v.ub for v in data], dtype=float))
            ints.append(np.array([v.is_integer() for v in data], dtype=bool))
    pos = dict(zip(ids, range(len(ids)), strict=True))
    take = np.fromiter((pos[id(v)] for v in columns), dtype=np.int64, count=len(columns))
    cat = (np.concatenate(x) if x else np.zeros(0) for x in (lows, ups, ints))
    lower, upper, integer = cat
    return lower[take], upper[take], integer[take].astype(bool)


def compile_model(
    m: pyo.ConcreteModel, column_bounds: Mapping[str, ColumnBounds] | None = None
) -> Compiled:
    """``m``'s active objective and rows as arrays; ``column_bounds``: array bounds by variable
    name (variables of ``m`` itself)."""
    # MatrixConstraint families are already CSR arrays: compile the rest, then append them
    matrices = [
        con
        for con in m.component_objects(pyo.Constraint, active=True, descend_into=True)
        if isinstance(con, MatrixConstraint)
    ]
    with PauseGC():
        return _compile_paused(m, matrices, column_bounds or {})


def _compile_paused(
    m: pyo.ConcreteModel,
    matrices: list[MatrixConstraint],
    column_bounds: Mapping[str, ColumnBounds],
) -> Compiled:
    for con in matrices:
        con.deactivate()
    try:
        info = LinearStandardFormCompiler().write(m, mixed_form=True, set_sense=None)
    finally:
        for con in matrices:
            con.activate()
    columns = list(info.columns)
    n = len(columns)
    cost = info.c.toarray()[0] if info.c.shape[0] else np.zeros(n)
    offset = float(info.c_offset[0]) if len(info.c_offset) else 0.0
    obj = next(m.component_data_objects(pyo.Objective, active=True))
    if obj.sense == pyo.maximize:
        cost, offset = -cost, -offset
    kind = np.array([r.bound_type for r in info.rows], dtype=np.int8)
    rhs = np.asarray(info.rhs, dtype=float)
    row_lower = np.where(kind == 1, -np.inf, rhs)
    row_upper = np.where(kind == -1, np.inf, rhs)
    blocks, rows = [info.A.tocsr()], list(info.rows)
    lows, ups = [row_lower], [row_upper]
    position = {id(v): i for i, v in enumerate(columns)}
    for con in matrices:
        a, lo, up, entries = _matrix_rows(con, position, columns)
        blocks.append(a)
        lows.append(lo)
        ups.append(up)
        rows.extend(entries)
    n = len(columns)
    cost = np.concatenate([cost, np.zeros(n - len(cost))])
    widened = [csr_array((b.data, b.indices, b.indptr), shape=(b.shape[0], n)) for b in blocks]
    a = vstack(widened, format="csr")
    lower, upper, integer = _bounds(m, columns, column_bounds)
    return Compiled(
        columns,
        cost,
        offset,
        lower,
        upper,
        integer,
        np.concatenate(lows),
        np.concatenate(ups),
        a.indptr.astype(np.int32),
        a.indices.astype(np.int32),
        a.data.astype(float),
        rows,
    )


def _matrix_rows(
    con: MatrixConstraint, position: dict[int, int], columns: list[VarData]
) -> tuple[csr_array, np.ndarray, np.ndarray, list[RowEntry]]:
    """A MatrixConstraint as CSR rows over ``columns`` (extended in place by unseen variables).

    Fixed variables move to the bounds, as the standard-form compiler does; a row with both bounds
    becomes two rows (upper, then lower), as in the compiler's mixed form.
    """
    x = con._x
    for v in x:
        if id(v) not in position:
            position[id(v)] = len(columns)
            columns.append(v)
    col = np.fromiter((position[id(v)] for v in x), dtype=np.int64, count=len(x))
    fixed = np.fromiter((v.fixed for v in x), dtype=bool, count=len(x))
    a = csr_array(
        (
            np.asarray(con._A_data, dtype=float),
            np.asarray(con._A_indices),
            np.asarray(con._A_indptr),
        ),
        shape=(len(con._lower), len(x)),
    )
    lo = np.array([-np.inf if b is None else b for b in con._lower], dtype=float)
    up = np.array([np.inf if b is None else b for b in con._upper], dtype=float)
    if fixed.any():
        values = np.array([v.value if f else 0.0 for v, f in zip(x, fixed, strict=True)])
        shift = a @ values
        lo, up = lo - shift, up - shift
        a = a @ diags_array((~fixed).astype(float))
        a.eliminate_zeros()
    a = csr_array((a.data, col[a.indices], a.indptr), shape=(a.shape[0], len(columns)))
    data = con._data
    equal = lo == up
    entries, lows, ups, keep = [], [], [], []
    for i in range(a.shape[0]):
        if equal[i]:
            entries.append(RowEntry(data[i], 0))
            lows.append(lo[i])
            ups.append(up[i])
            keep.append(i)
            continue
        if up[i] < np.inf:
            entries.append(RowEntry(data[i], 1))
            lows.append(-np.inf)
            ups.append(up[i])
            keep.append(i)
        if lo[i] > -np.inf:
            entries.append(RowEntry(data[i], -1))
            lows.append(lo[i])
            ups.append(np.inf)
            keep.append(i)
    return a[np.asarray(keep, dtype=np.int64)], np.array(lows), np.array(ups), entries
