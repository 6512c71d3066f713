"""Bottleneck prices on hand-solved instances: every expected price is worked out beside it.

A capacity's price is the decrease of the optimal cost per extra TEU of it: with the next-best
route also in use, one more TEU through the bottleneck saves exactly the cost difference.
"""

from __future__ import annotations

import pytest
from helpers import FREE_TIME, border, build, ferry_or_road, leg, lot, node

from allocator.pipeline import RunOptions, run
from allocator.report.markdown import render_markdown
from allocator.results.check import check_plan

BORDERS = [
    border("B1", "one", capacity_teu=5, fee_per_teu=10),
    border("B2", "two", capacity_teu=100),
]


def _solve(inst, **opts):
    res = run(inst, RunOptions(prices=True, **opts))
    assert res.plan is not None
    assert check_plan(res.plan, inst).ok
    return res.plan


def _prices(plan) -> dict[tuple[str, str], float]:
    b = plan.bottlenecks
    return {(k, i): p for k, i, p in zip(b["kind"], b["id"], b["price_per_teu"], strict=True)}


def _border_instance():
    # 8 TEU A->X. north: AX over border B1 (5 TEU, fee 10): 100 + 10 = 110/TEU.
    # south: AY + YX over border B2 (100 TEU, slack): 50 + 100 = 150/TEU. sea: 200/TEU.
    # optimum 5*110 + 3*150 = 1000. Both land routes carry TEU, so one more TEU of B1 moves a TEU
    # from south to north: price of B1 = 150 - 110 = 40. Potential of A->X = 150.
    # corridor prices: north 110 + 40 = 150 (rc 0, used), south 150 (rc 0, used),
    # sea 200 (rc 200 - 150 = 50, unused). AY's capacity 50 is not binding.
    return build(
        nodes=[node("A", "KZ"), node("Y", "KZ"), node("X", "AZ")],
        legs=[
            leg("AX", "A", "X", 100, border="B1", corridor="north"),
            leg("AY", "A", "Y", 50, corridor="south", capacity_teu=50),
            leg("YX", "Y", "X", 100, border="B2", corridor="south"),
            leg("SEA", "A", "X", 200, mode="sea", corridor="sea"),
        ],
        borders=BORDERS,
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "X", 8)],
    )


@pytest.mark.parametrize("model", ["arc-strong", "arc-agg", "path", "colgen"])
def test_border_price_is_the_cost_difference_of_the_next_best_route(model):
    plan = _solve(_border_instance(), model=model)
    assert plan.objective == pytest.approx(1000, abs=1e-9)
    # the LP with the integer decisions fixed has the MILP's objective
    assert plan.summary["prices_lp_objective"].iloc[0] == pytest.approx(1000, abs=1e-6)
    # only the binding border: B2 (3 of 100 TEU) and AY (3 of 50 TEU) get no row
    assert _prices(plan) == {("border", "B1"): pytest.approx(40, abs=1e-6)}
    row = plan.bottlenecks.iloc[0]
    assert (row["corridor"], row["load_teu"], row["capacity_teu"]) == ("north", 5, 5)
    assert row["utilisation"] == pytest.approx(1.0)
    cp = plan.corridor_prices.set_index("corridor")
    assert set(cp.index) == {"north", "south", "sea"}
    assert (cp["class"] == "general").all()
    assert cp.loc["north", "cost_per_teu"] == pytest.approx(150, abs=1e-6)
    assert cp.loc["south", "cost_per_teu"] == pytest.approx(150, abs=1e-6)
    assert cp.loc["sea", "cost_per_teu"] == pytest.approx(200, abs=1e-6)
    assert cp.loc["north", "reduced_cost_per_teu"] == pytest.approx(0, abs=1e-6)
    assert cp.loc["south", "reduced_cost_per_teu"] == pytest.approx(0, abs=1e-6)
    assert cp.loc["sea", "reduced_cost_per_teu"] == pytest.approx(50, abs=1e-6)
    assert cp["used"].to_dict() == {"north": True, "south": True, "sea": False}


@pytest.mark.parametrize("integer_teu", [False, True])
def test_leg_price(integer_teu):
    # 25 TEU A->B; AB 100/TEU for 10 TEU; detour AC + CB = 60 + 70 = 130/TEU (AC has 30 TEU,
    # 15 used: not binding). optimum 10*100 + 15*130 = 2950; price of AB = 130 - 100 = 30.
    inst = build(
        nodes=[node("A"), node("B"), node("C")],
        legs=[
            leg("AB", "A", "B", 100, capacity_teu=10),
            leg("AC", "A", "C", 60, capacity_teu=30),
            leg("CB", "C", "B", 70),
        ],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 25)],
    )
    plan = _solve(inst, integer_teu=integer_teu)
    assert plan.objective == pytest.approx(2950, abs=1e-9)
    assert plan.summary["prices_lp_objective"].iloc[0] == pytest.approx(2950, abs=1e-6)
    assert _prices(plan) == {("leg", "AB"): pytest.approx(30, abs=1e-6)}


def test_terminal_price():
    # 25 TEU A->B over M (40 + 40, terminal M takes 10 TEU) or N (60 + 60, no limit).
    # optimum 10*80 + 15*120 = 2600; price of terminal M = 120 - 80 = 40.
    inst = build(
        nodes=[node("A"), node("B"), node("M", handling_capacity_teu=10), node("N")],
        legs=[
            leg("AM", "A", "M", 40),
            leg("MB", "M", "B", 40),
            leg("AN", "A", "N", 60),
            leg("NB", "N", "B", 60),
        ],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 25)],
    )
    plan = _solve(inst)
    assert plan.objective == pytest.approx(2600, abs=1e-9)
    assert plan.summary["prices_lp_objective"].iloc[0] == pytest.approx(2600, abs=1e-6)
    assert _prices(plan) == {("terminal", "M"): pytest.approx(40, abs=1e-6)}


def test_service_slot_price():
    # 90 TEU A->B. Ferry: 40 TEU a sailing at 1000 + 10/TEU; road 50/TEU. MILP: 2 sailings,
    # 80 TEU by ferry, 10 by road: 2000 + 800 + 500 = 3300 (its LP relaxation is 3150, so the
    # prices are not those of the relaxation). With 2 sailings fixed, one more TEU slot moves a
    # TEU from road to ferry: price 50 - 10 = 40, and the fixed LP's objective is 3300.
    plan = _solve(ferry_or_road())
    assert plan.objective == pytest.approx(3300, abs=1e-9)
    assert plan.summary["prices_lp_objective"].iloc[0] == pytest.approx(3300, abs=1e-6)
    assert _prices(plan) == {("service", "F"): pytest.approx(40, abs=1e-6)}
    row = plan.bottlenecks.iloc[0]
    assert (row["load_teu"], row["capacity_teu"]) == (80, 80)


def test_opened_candidate_leg_capacity_is_priced():
    # 25 TEU A->B. Candidate N: fixed 100, 10/TEU, 10 TEU; road 50/TEU. Opening saves
    # 10*(50 - 10) - 100 = 300: open, 10 TEU by N, 15 by road: 100 + 100 + 750 = 950.
    # One more TEU of N's capacity saves 50 - 10 = 40.
    inst = build(
        nodes=[node("A"), node("B")],
        legs=[
            leg("N", "A", "B", 10, fixed_cost=100, capacity_teu=10),
            leg("R", "A", "B", 50, mode="road"),
        ],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 25)],
    )
    plan = _solve(inst)
    assert plan.objective == pytest.approx(950, abs=1e-9)
    assert plan.summary["prices_lp_objective"].iloc[0] == pytest.approx(950, abs=1e-6)
    assert _prices(plan) == {("leg", "N"): pytest.approx(40, abs=1e-6)}


def test_prices_are_on_by_default_and_in_the_report():
    assert not run(_border_instance()).plan.bottlenecks.empty  # as the CLI
    res = run(_border_instance(), RunOptions(prices=False))
    assert res.plan.bottlenecks.empty
    assert res.plan.corridor_prices.empty
    assert "## Binding capacities" in render_markdown(res.plan)
    text = render_markdown(_solve(_border_instance()))
    assert "## Bottleneck prices" in text
    assert "Shadow prices are not defined on the MILP itself" in text
    assert "| border | B1 | north | 5.00 | 5.00 | 1.00 | 40.00 |" in text


def test_solve_lp_duals_signs_fixing_and_dropping():
    # min 3x + 5y + z, x + y >= 4 (c1), x <= 1 (c2), 1 <= x + z <= 5 (c3, ranged: two rows),
    # z integer fixed at 2. Optimum x = 1, y = 3: 3 + 15 + 2 = 20. One more unit of c1's right-hand
    # side costs one more y: dual +5 (>= row); one more unit of c2's swaps a y for an x: saves
    # 5 - 3 = 2, dual -2 (<= row of a minimisation). c3 is slack (x + z = 3): 0. z's reduced cost
    # is its cost 1 (its only row has dual 0). Dropping c2, the upper side of c3 binds instead
    # (x <= 5 - 2): x = 3, y = 1: 9 + 5 + 2 = 16, and c3's dual (summed over its two rows) is -2.
    import pyomo.environ as pyo

    from allocator.solve import Termination, solve_lp_duals

    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.NonNegativeReals)
    m.y = pyo.Var(domain=pyo.NonNegativeReals)
    m.z = pyo.Var(domain=pyo.NonNegativeIntegers)
    m.obj = pyo.Objective(expr=3 * m.x + 5 * m.y + m.z)
    m.c1 = pyo.Constraint(expr=m.x + m.y >= 4)
    m.c2 = pyo.Constraint(expr=m.x <= 1)
    m.c3 = pyo.Constraint(expr=pyo.inequality(1, m.x + m.z, 5))
    fix = pyo.ComponentMap([(m.z, 2.0)])
    lp = solve_lp_duals(m, fix)
    assert lp.termination == Termination.OPTIMAL
    assert lp.objective == pytest.approx(20, abs=1e-9)
    assert lp.row_duals[m.c1] == pytest.approx(5, abs=1e-9)
    assert lp.row_duals[m.c2] == pytest.approx(-2, abs=1e-9)
    assert lp.row_duals[m.c3] == pytest.approx(0, abs=1e-9)
    assert lp.reduced_costs[m.z] == pytest.approx(1, abs=1e-9)
    assert m.z.value is None  # the model is not changed (no values loaded, nothing fixed)
    assert not m.z.fixed
    dropped = solve_lp_duals(m, fix, drop=[m.c2])
    assert dropped.objective == pytest.approx(16, abs=1e-9)
    assert m.c2 not in dropped.row_duals
    assert dropped.row_duals[m.c3] == pytest.approx(-2, abs=1e-9)


def _check_dual_feasibility(plan) -> None:
    """LP theory, not the code: at the fixed LP's optimum every route the model can use has a
    reduced cost >= 0, and a route the plan uses (complementary slackness) exactly 0."""
    cp = plan.corridor_prices
    assert len(cp) > 0
    assert cp["used"].any()
    assert (cp["reduced_cost_per_teu"] >= -1e-6).all()
    assert cp.loc[cp["used"], "reduced_cost_per_teu"].abs().max() <= 1e-6
    assert plan.summary["prices_lp_objective"].iloc[0] == pytest.approx(plan.objective, rel=1e-9)


def test_eurasia_prices_are_dual_feasible(eurasia):
    plan = _solve(eurasia)
    _check_dual_feasibility(plan)
    # every binding row is full (complementary slackness) and the plan's capacities are respected
    b = plan.bottlenecks
    assert (b["utilisation"] >= 1 - 1e-6).all()
    assert (b["price_per_teu"] >= 0).all()


@pytest.mark.parametrize("model", ["arc-strong", "arc-agg", "colgen"])
def test_generated_prices_are_dual_feasible_with_unserved_lots(model):
    import dataclasses

    from allocator.instance.generate import generate_instance

    inst = generate_instance(nodes=30, lots=120, seed=4)
    low = inst.settings.model_copy(update={"default_penalty_per_teu": 2500})
    inst = dataclasses.replace(inst, settings=low)
    plan = _solve(inst, model=model)
    assert plan.summary["teu_unserved"].iloc[0] > 0
    _check_dual_feasibility(plan)


def test_colgen_prices_are_the_duals_of_the_fixed_lp_over_every_route():
    # column generation prices the LP with the plan's departures and openings fixed by its own
    # master (routes priced until none improves). The same LP, built independently by the path
    # model over the 300 cheapest in-time routes of every lot (all there are that matter on 30
    # nodes) and solved by HiGHS through Pyomo, must have the same optimum.
    from pyomo.common.collections import ComponentMap

    from allocator.instance.generate import generate_instance
    from allocator.pipeline import preprocess
    from allocator.solve import Termination, solve_lp_duals

    inst = generate_instance(nodes=30, lots=120, seed=1)  # one ferry runs, one leg opens
    plan = _solve(inst, model="colgen")
    _check_dual_feasibility(plan)
    runs = dict(zip(plan.legs["leg"], plan.legs["services"], strict=True))
    opened = dict(zip(plan.legs["leg"], plan.legs["opened"].fillna(False), strict=True))
    assert sum(v for v in runs.values() if v == v) > 0  # departures are fixed
    assert any(opened.values())
    recipe = RunOptions(model="path", paths=300).recipe()
    pre = preprocess(inst, merge=True, prune=False)
    from allocator.formulation import build as build_model

    m = build_model(inst, pre, recipe).model
    ids = pre.net.leg_ids
    fix = ComponentMap((m.services[a], float(runs[ids[a]])) for a in m.SERVICE_LEGS)
    fix.update((m.open[a], float(bool(opened[ids[a]]))) for a in m.CANDIDATE_LEGS)
    lp = solve_lp_duals(m, fix)
    assert lp.termination == Termination.OPTIMAL
    assert plan.summary["prices_lp_objective"].iloc[0] == pytest.approx(lp.objective, rel=1e-9)
