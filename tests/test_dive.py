"""The LP dive of time-expanded models (``SolveOptions.dive``): a plan within the asked gap of the
LP bound ends the solve without branch and bound; otherwise branch and bound runs and the cheaper
plan of the two is kept."""

from __future__ import annotations

import pyomo.environ as pyo
import pytest

from allocator.solve import SolveOptions, Termination
from allocator.solve import solve_model as solve

# One leg run by departures n (integer, at most 5, 10 TEU and 100 each) carries a lot of 15 TEU at
# 1 per TEU, or TEU stay unserved at 50 each. By hand:
# LP: n = 1.5, all 15 TEU shipped: 150 + 15 = 165 (shipping a TEU costs 10 + 1 < 50).
# Dive: n = 1.5 rounds to 2, the LP then ships 15: 200 + 15 = 215.
# MIP: n = 2 gives 215; n = 1 ships 10 and leaves 5: 100 + 10 + 250 = 360; n = 0: 750. So 215.
LP_BOUND, DIVE_PLAN, MIP_OPTIMUM = 165.0, 215.0, 215.0


def _model() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.n = pyo.Var(domain=pyo.NonNegativeIntegers, bounds=(0, 5))
    m.ship = pyo.Var(domain=pyo.NonNegativeReals)
    m.unserved = pyo.Var(domain=pyo.NonNegativeReals)
    m.slots = pyo.Constraint(expr=m.ship <= 10 * m.n)
    m.lot = pyo.Constraint(expr=m.ship + m.unserved == 15)
    m.obj = pyo.Objective(expr=100 * m.n + m.ship + 50 * m.unserved)
    return m


def test_a_dive_plan_within_the_gap_of_the_lp_bound_is_proven_without_branching() -> None:
    m = _model()
    res = solve(m, SolveOptions(time_limit_s=30, mip_rel_gap=0.3, dive=True))
    assert res.termination == Termination.OPTIMAL
    assert res.objective == pytest.approx(DIVE_PLAN)
    assert res.bound == pytest.approx(LP_BOUND)
    assert res.gap == pytest.approx((DIVE_PLAN - LP_BOUND) / DIVE_PLAN)
    assert res.nodes == 0
    assert pyo.value(m.n) == 2
    assert pyo.value(m.ship) == pytest.approx(15.0)


def test_a_dive_plan_outside_the_gap_starts_branch_and_bound() -> None:
    m = _model()
    res = solve(m, SolveOptions(time_limit_s=30, mip_rel_gap=1e-6, dive=True))
    assert res.termination == Termination.OPTIMAL
    assert res.objective == pytest.approx(MIP_OPTIMUM)
    assert res.bound == pytest.approx(MIP_OPTIMUM, rel=1e-6)


def test_relax_solves_the_lp_only_and_keeps_its_fractional_values() -> None:
    m = _model()
    res = solve(m, SolveOptions(time_limit_s=30, relax=True))
    assert res.termination == Termination.OPTIMAL
    assert res.objective == pytest.approx(LP_BOUND)
    assert res.bound == pytest.approx(LP_BOUND)
    assert res.nodes == 0
    assert pyo.value(m.n) == pytest.approx(1.5)  # not rounded
    assert pyo.value(m.ship) == pytest.approx(15.0)


# Two legs in a row, each run by its own departures (integer, 10 TEU and 100 each), at most five
# departures in all (like a weekly maximum); 25 TEU to ship at 2 per TEU, 50 per TEU unserved.
def test_the_dive_ends_with_whole_departures_and_a_plan_that_is_feasible() -> None:
    m = pyo.ConcreteModel()
    m.n = pyo.Var([1, 2], domain=pyo.NonNegativeIntegers, bounds=(0, 5))
    m.ship = pyo.Var(domain=pyo.NonNegativeReals)
    m.unserved = pyo.Var(domain=pyo.NonNegativeReals)
    m.slots = pyo.Constraint([1, 2], rule=lambda m, i: m.ship <= 10 * m.n[i])
    m.cap = pyo.Constraint(expr=m.n[1] + m.n[2] <= 5)
    m.lot = pyo.Constraint(expr=m.ship + m.unserved == 25)
    m.obj = pyo.Objective(expr=100 * (m.n[1] + m.n[2]) + 2 * m.ship + 50 * m.unserved)
    res = solve(m, SolveOptions(time_limit_s=30, mip_rel_gap=1.0, dive=True))
    # LP: n1 = n2 = 2.5, ship 25: 500 + 50 = 550. Any whole plan: n1 = n2 = k ships min(10k, 25)
    # under n1 + n2 <= 5, so k <= 2: 400 + 40 + 250 = 690 (k = 2), 200 + 20 + 750 = 970 (k = 1).
    assert res.termination == Termination.OPTIMAL
    assert res.bound == pytest.approx(550.0)
    assert res.objective == pytest.approx(690.0)
    assert pyo.value(m.n[1]) == 2
    assert pyo.value(m.n[2]) == 2


def test_a_model_without_a_plan_is_reported_infeasible_after_the_dive() -> None:
    # one departure of 10 TEU at most, and 15 TEU must move: no plan, not even in the LP
    m = pyo.ConcreteModel()
    m.n = pyo.Var(domain=pyo.NonNegativeIntegers, bounds=(0, 1))
    m.ship = pyo.Var(domain=pyo.NonNegativeReals)
    m.slots = pyo.Constraint(expr=m.ship <= 10 * m.n)
    m.lot = pyo.Constraint(expr=m.ship == 15)
    m.obj = pyo.Objective(expr=100 * m.n + m.ship)
    res = solve(m, SolveOptions(time_limit_s=30, dive=True))
    assert res.termination in (Termination.INFEASIBLE, Termination.INFEASIBLE_OR_UNBOUNDED)
    assert not res.has_solution
