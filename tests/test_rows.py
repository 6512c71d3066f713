"""Constraint families from CSR arrays (ArrayConstraint) hand off to HiGHS like ordinary rows."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
from scipy.sparse import csr_array

from allocator.formulation.rows import ArrayConstraint
from allocator.solve import solve_model as solve

# min x0 + 2 x1 + 3 x2 + 4 x3
#   x0 + x1       >= 4        (lower only)
#        x1 + x2   = 3        (equality)
#   1 <= x2 + x3 <= 5         (ranged)
#   x3 fixed at 2 (moves to the bounds), x2 appears in no other row nor the objective's start
A = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=float)
LOWER = np.array([4.0, 3.0, 1.0])
UPPER = np.array([np.inf, 3.0, 5.0])
COST = [1.0, 2.0, 3.0, 4.0]
# by hand: x3 = 2; x2 + x1 = 3, x2 <= 3; x0 >= 4 - x1. Cost x0 + 2 x1 + 3 x2 + 8
# = (4 - x1) + 2 x1 + 3 (3 - x1) + 8 = 21 - 2 x1, x1 <= 3 (x2 >= 0) -> x1 = 3, x0 = 1, x2 = 0: 15
HAND_OPTIMUM = 15.0


def _model(array: bool) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(4), domain=pyo.NonNegativeReals)
    m.x[3].fix(2.0)
    m.obj = pyo.Objective(expr=sum(c * m.x[i] for i, c in enumerate(COST)))
    if array:
        a = csr_array(A)
        m.rows = ArrayConstraint(a.data, a.indices, a.indptr, LOWER, UPPER, list(m.x.values()))
    else:
        m.rows = pyo.ConstraintList()
        for r in range(3):
            body = sum(A[r, i] * m.x[i] for i in range(4) if A[r, i])
            lo = LOWER[r]
            up = None if UPPER[r] == np.inf else UPPER[r]
            m.rows.add((lo, body, up) if up != lo else body == lo)
    return m


def test_array_rows_solve_like_ordinary_rows():
    by_array, by_expr = _model(True), _model(False)
    r1, r2 = solve(by_array), solve(by_expr)
    assert r1.objective == r2.objective == HAND_OPTIMUM
    assert [pyo.value(by_array.x[i]) for i in range(3)] == [1.0, 3.0, 0.0]
    # the ranged row is two rows, as the standard-form compiler makes it
    assert r1.n_cons == r2.n_cons == 4


def test_array_rows_work_with_the_rest_of_pyomo(tmp_path):
    m = _model(True)
    rows = list(m.component_data_objects(pyo.Constraint, active=True))
    assert [r.name for r in rows] == ["rows[0]", "rows[1]", "rows[2]"]
    m.x[0].set_value(1.0)
    m.x[1].set_value(3.0)
    m.x[2].set_value(0.0)
    assert [pyo.value(r.body) for r in rows] == [4.0, 3.0, 2.0]
    lp = tmp_path / "m.lp"
    m.write(str(lp))
    text = lp.read_text()
    assert "rows" in text or "c_" in text  # written, with three rows
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(str(lp))
    h.run()
    assert abs(h.getInfo().objective_function_value - HAND_OPTIMUM) < 1e-9
