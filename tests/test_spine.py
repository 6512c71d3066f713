"""The spine: typed hand-offs between the stages, methods looked up by family (the import
contract is in test_architecture.py)."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import FREE_TIME, build, leg, lot, node, short_capacity

from allocator import formulation
from allocator.analysis.whynot import no_plan_error
from allocator.errors import SolverError
from allocator.formulation import RecipeError, Stability, load_recipe
from allocator.methods import METHODS, method_of
from allocator.pipeline import RunOptions, run
from allocator.preprocess import preprocess
from allocator.solve import SolveOptions, Termination, solve


def _two_legs(**settings: object):
    """A -> B 10 TEU, road 100 or a candidate ferry (fixed 500, 20 per TEU)."""
    return build(
        settings,
        nodes=[node("A"), node("B")],
        legs=[leg("R", "A", "B", 100), leg("F", "A", "B", 20, mode="ferry", fixed_cost=500)],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 10)],
    )


def test_every_family_has_a_method_and_unknown_ones_are_refused() -> None:
    assert set(METHODS) == {"arc", "path", "colgen", "time", "ddd"}
    with pytest.raises(RecipeError, match="no method"):
        method_of("time-expanded")


def test_the_built_model_carries_what_the_solver_reads() -> None:
    inst = _two_legs()
    pre = preprocess(inst)
    strong = formulation.build(inst, pre, load_recipe("arc-strong"))
    cuts = formulation.build(inst, pre, load_recipe("arc-cuts"))
    path = formulation.build(inst, pre, load_recipe("path"))
    assert strong.separator is None
    assert cuts.separator is not None
    assert set(strong.column_bounds) == {"flow"}
    assert set(path.column_bounds) == {"path_flow"}
    assert strong.paths is None
    assert path.paths is not None
    # by hand: the ferry, 500 + 10 x 20 = 700 (road 1,000)
    for built in (strong, cuts, path):
        result = solve(built)
        assert result.objective == pytest.approx(700)
    assert solve(cuts).cuts_added >= 0
    assert path.routes() == [(0, [1], pytest.approx(10.0))]
    assert strong.routes() is None


def test_stability_is_a_recipe_block_fed_through_build() -> None:
    inst = _two_legs()
    pre = preprocess(inst)
    recipe = load_recipe("arc-strong")
    assert "define_stability" in recipe.blocks
    plan = run(inst, RunOptions(prices=False)).plan
    plain = formulation.build(inst, pre, recipe)
    compared = formulation.build(inst, pre, recipe, stability=Stability(plan.routes, plan.legs))
    weighted = formulation.build(
        inst, pre, recipe, stability=Stability(plan.routes, plan.legs, weight=3.0)
    )
    assert plain.stability is None
    assert not hasattr(plain.model, "con_stability")
    assert compared.stability is not None
    assert not hasattr(compared.model, "con_stability")
    assert hasattr(weighted.model, "con_stability")
    # last week's 10 TEU on the ferry, mapped onto this week's flow variables
    assert weighted.stability.leg_teu.tolist() == [0.0, 10.0]
    assert float(weighted.stability.pair_teu.sum()) == pytest.approx(10.0)


def test_run_raises_when_there_is_no_plan_and_reprs_are_short() -> None:
    res = run(short_capacity("penalty"), RunOptions(prices=False))
    text = repr(res)
    assert text.startswith("RunResult(")
    assert "optimal" in text
    assert "objective=4000" in text
    assert "DataFrame" not in text
    assert "\n" not in text
    assert repr(res.result).startswith("SolveResult(optimal, objective=4000")
    # a solve stopped at the time limit before any plan: SolverError saying so
    stopped = dataclasses.replace(
        res.result, termination=Termination.TIME_LIMIT_NO_SOLUTION, has_solution=False
    )
    error = no_plan_error(res.instance, res.pre, res.recipe, stopped, SolveOptions())
    assert isinstance(error, SolverError)
    assert error.termination == "time_limit_no_solution"
