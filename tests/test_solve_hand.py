"""Hand-solved instances: every expected optimum below is worked out in the comment beside it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import (
    FREE_TIME,
    border,
    build,
    ferry,
    ferry_or_road,
    leg,
    lot,
    node,
    sea_or_rail,
    short_capacity,
)

import allocator.solve
from allocator.errors import InfeasibleError
from allocator.formulation import build as build_model
from allocator.formulation import load_recipe
from allocator.pipeline import RunOptions, run
from allocator.preprocess import preprocess
from allocator.results.check import check_plan


def solve(inst, **opts):
    res = run(inst, RunOptions(**opts))
    assert res.plan is not None
    report = check_plan(res.plan, inst)
    assert report.ok, report.errors
    assert report.recomputed_objective == pytest.approx(res.plan.objective, rel=1e-9)
    return res


def test_capacity_forces_a_split():
    # 25 TEU A->B; direct leg 100/TEU but only 10 TEU; detour A->C->B 60+70=130/TEU.
    # optimum: 10*100 + 15*130 = 2950
    inst = build(
        nodes=[node("A"), node("B"), node("C")],
        legs=[
            leg("AB", "A", "B", 100, capacity_teu=10),
            leg("AC", "A", "C", 60),
            leg("CB", "C", "B", 70),
        ],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 25)],
    )
    res = solve(inst)
    assert res.plan.objective == pytest.approx(2950)
    routes = res.plan.routes.set_index("legs")
    assert routes.loc["AB", "teu"] == pytest.approx(10)
    assert routes.loc["AC > CB", "teu"] == pytest.approx(15)
    assert res.plan.legs.set_index("leg").loc["AB", "utilisation"] == pytest.approx(1.0)


def test_border_capacity_diverts_flow():
    # 8 TEU A->X; via border B1 (cap 5, fee 10): 100+10=110/TEU; via Y and border B2 (no cap):
    # 50 + 100 = 150/TEU. optimum: 5*110 + 3*150 = 1000
    inst = build(
        nodes=[node("A", "KZ"), node("Y", "KZ"), node("X", "AZ")],
        legs=[
            leg("AX", "A", "X", 100, border="B1"),
            leg("AY", "A", "Y", 50),
            leg("YX", "Y", "X", 100, border="B2"),
        ],
        borders=[
            border("B1", "one", capacity_teu=5, fee_per_teu=10),
            border("B2", "two"),
        ],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "X", 8)],
    )
    res = solve(inst)
    assert res.plan.objective == pytest.approx(1000)
    borders = res.plan.borders.set_index("border")
    assert borders.loc["B1", "load_teu"] == pytest.approx(5)
    assert borders.loc["B2", "load_teu"] == pytest.approx(3)


def test_restriction_forces_a_detour():
    # ferry A->B 100/TEU; rail A->C->B 80+80. dangerous may not use ferries.
    # general 10 TEU by ferry (1000) + dangerous 5 TEU by rail (800) = 1800
    inst = build(
        nodes=[node("A"), node("B"), node("C")],
        legs=[
            leg("F", "A", "B", 100, mode="ferry"),
            leg("R1", "A", "C", 80),
            leg("R2", "C", "B", 80),
        ],
        classes=FREE_TIME,
        cargo=[lot("G", "A", "B", 10), lot("D", "A", "B", 5, "dangerous")],
        restrictions=[{"class": "dangerous", "scope": "mode", "target": "ferry"}],
    )
    res = solve(inst)
    assert res.plan.objective == pytest.approx(1800)
    routes = res.plan.routes.set_index("lot")
    assert routes.loc["G", "legs"] == "F"
    assert routes.loc["D", "legs"] == "R1 > R2"


def test_service_leg_runs_whole_departures():
    # hand optimum in helpers.ferry_or_road: 3300 with 2 sailings, 80 TEU by ferry, 10 by road
    res = solve(ferry_or_road())
    assert res.result.is_mip
    assert res.plan.objective == pytest.approx(3300)
    legs = res.plan.legs.set_index("leg")
    assert legs.loc["F", "services"] == 2
    assert legs.loc["F", "flow_teu"] == pytest.approx(80)
    assert legs.loc["R", "flow_teu"] == pytest.approx(10)


def test_max_services_caps_departures():
    # as above but at most 1 sailing: 1000 + 40*10 + 50*50 = 3900
    inst = build(
        nodes=[node("A"), node("B")],
        legs=[
            ferry("F", "A", "B", 10, 1000, 1),
            leg("R", "A", "B", 50, mode="road"),
        ],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 90)],
    )
    assert solve(inst).plan.objective == pytest.approx(3900)


@pytest.mark.parametrize("linking", ["weak", "strong"])
def test_candidate_leg_worth_opening(linking):
    # 50 TEU A->B. existing 100/TEU = 5000. candidate N1: 2000 fixed + 40/TEU = 4000 (open it);
    # candidate N2: 5000 fixed + 0/TEU = 5000 (leave it). optimum 4000.
    inst = build(
        nodes=[node("A"), node("B")],
        legs=[
            leg("E", "A", "B", 100),
            leg("N1", "A", "B", 40, fixed_cost=2000),
            leg("N2", "A", "B", 0, fixed_cost=5000),
        ],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 50)],
    )
    res = solve(inst, linking=linking)
    assert res.plan.objective == pytest.approx(4000)
    legs = res.plan.legs.set_index("leg")
    assert bool(legs.loc["N1", "opened"]) is True
    assert bool(legs.loc["N2", "opened"]) is False
    assert legs.loc["N1", "flow_teu"] == pytest.approx(50)


def test_unserved_at_penalty():
    # 15*100 + 5*500 = 4000, 5 TEU unserved for lack of capacity
    res = solve(short_capacity("penalty"))
    assert res.plan.objective == pytest.approx(4000)
    unserved = res.plan.unserved.set_index("lot")
    assert unserved.loc["L1", "teu"] == pytest.approx(5)
    assert unserved.loc["L1", "reason"] == "capacity"


def test_forbid_makes_it_infeasible():
    inst = short_capacity("forbid")
    built = build_model(inst, preprocess(inst), load_recipe("arc-strong"))
    result = allocator.solve.solve(built)
    assert not result.ok
    assert result.termination in ("infeasible", "infeasible_or_unbounded")
    with pytest.raises(InfeasibleError, match="no feasible plan"):
        run(inst)  # run raises when there is no plan


def test_forbid_names_a_lot_without_route_before_solving():
    inst = build(
        {"unserved": "forbid"},
        nodes=[node("A"), node("B"), node("C")],
        legs=[leg("AB", "A", "B", 100)],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 5), lot("L2", "B", "C", 5)],
    )
    with pytest.raises(InfeasibleError, match=r"lots L2 \(B -> C, class general\): no route"):
        run(inst)


def test_due_days_prune_the_slow_route_and_report_reasons():
    # sea A->B 100/TEU but 40 days; rail 300/TEU in 10 days. L1 due in 20 days must go by rail,
    # L2 without due goes by sea, L3 due in 5 days cannot move: penalty 1000/TEU.
    # 10*300 + 10*100 + 4*1000 = 8000
    inst = sea_or_rail(
        lot("L1", "A", "B", 10, due_days=20),
        lot("L2", "A", "B", 10),
        lot("L3", "A", "B", 4, due_days=5, penalty_per_teu=1000),
    )
    res = solve(inst)
    assert res.plan.objective == pytest.approx(8000)
    routes = res.plan.routes.set_index("lot")
    assert routes.loc["L1", "legs"] == "R"
    assert routes.loc["L2", "legs"] == "S"
    unserved = res.plan.unserved.set_index("lot")
    assert unserved.loc["L3", "reason"] == "no route within due days"
    assert unserved.loc["L3", "fastest_days"] == pytest.approx(10)
    assert unserved.loc["L3", "cheapest_route"] == "S"  # cheapest ignoring the due days


def test_generalised_cost_of_one_leg():
    # leg 1000 km rail at 500/TEU, 30 h transit; border fee 20, gauge change +60, dwell 18 h;
    # arriving node handling 15/TEU and dwell 6 h; value 48/TEU-day; CO2 0.3 kg/TEU-km at 100/t.
    # C = 500 + 20 + 60 + 15 + 48*(30+18+6)/24 + 100*0.3*1000/1000 = 595 + 108 + 30 = 733
    inst = build(
        {"co2_price_per_t": 100},
        nodes=[node("A", "KZ"), node("B", "CN", handling_cost_per_teu=15, dwell_hours=6)],
        legs=[
            {
                **leg("AB", "A", "B", 500, hours=30),
                "distance_km": 1000,
                "border": "KC",
                "co2_kg_per_teu_km": 0.3,
            }
        ],
        borders=[
            {
                "id": "KC",
                "name": "kc",
                "from_country": "KZ",
                "to_country": "CN",
                "dwell_hours": 18,
                "fee_per_teu": 20,
                "gauge_change": True,
                "transshipment_cost_per_teu": 60,
            }
        ],
        classes=[{"id": "general", "value_per_teu_day": 48}],
        cargo=[lot("L1", "A", "B", 2)],
    )
    res = solve(inst)
    assert res.plan.objective == pytest.approx(2 * 733)
    costs = res.plan.costs.groupby("component")["cost"].sum()
    assert costs["co2"] == pytest.approx(2 * 30)
    assert costs["time_value"] == pytest.approx(2 * 108)
    assert costs["border"] == pytest.approx(2 * 80)


def test_terminal_capacity_limits_arrivals():
    # 30 TEU to B; B handles 20 TEU a period; penalty 1000. 20*100 + 10*1000 = 12000
    inst = build(
        nodes=[node("A"), node("B", handling_capacity_teu=20)],
        legs=[leg("AB", "A", "B", 100)],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 30, penalty_per_teu=1000)],
    )
    res = solve(inst)
    assert res.plan.objective == pytest.approx(12000)
    assert res.plan.terminals.set_index("node").loc["B", "utilisation"] == pytest.approx(1.0)


def test_integer_teu_rounds_flows():
    # 7 TEU must split over two 3.5-TEU legs... capacities 3.5 and 10; integer TEU: 3 + 4
    # continuous: 3.5*100 + 3.5*120 = 770; integer: 3*100 + 4*120 = 780
    base = build(
        nodes=[node("A"), node("B")],
        legs=[leg("C", "A", "B", 100, capacity_teu=3.5), leg("D", "A", "B", 120, capacity_teu=10)],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 7)],
    )
    assert solve(base).plan.objective == pytest.approx(770)
    res = solve(base, integer_teu=True)
    assert res.plan.objective == pytest.approx(780)
    flows = res.plan.flows["teu"].to_numpy()
    assert np.allclose(flows, np.round(flows))


def test_merged_lots_split_back_per_lot():
    # two identical lots share one commodity; 12 TEU of 20 fit the cheap leg, the rest the dear one
    inst = build(
        nodes=[node("A"), node("B")],
        legs=[leg("C", "A", "B", 100, capacity_teu=12), leg("D", "A", "B", 150)],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 5), lot("L2", "A", "B", 15)],
    )
    res = solve(inst)
    assert len(res.pre.commodities) == 1
    assert res.plan.objective == pytest.approx(12 * 100 + 8 * 150)
    per_lot = res.plan.flows.groupby("lot")["teu"].sum()
    assert per_lot["L1"] == pytest.approx(5)
    assert per_lot["L2"] == pytest.approx(15)


def test_checker_catches_a_tampered_plan():
    res = solve(short_capacity("penalty"))
    plan = res.plan
    flows = plan.flows.copy()
    flows["teu"] = flows["teu"] + 1.0  # over capacity, unbalanced, cost off
    bad = dataclasses.replace(plan, flows=flows)
    report = check_plan(bad, res.instance)
    assert not report.ok
    text = " ".join(report.errors)
    assert "over capacity" in text
    assert "does not balance" in text or "recomputed cost" in text


def test_a_stopped_mip_keeps_the_root_lp_bound() -> None:
    from allocator.solve.highs import mip_bound_and_gap

    # HiGHS stopped before branch and bound had a bound (0, or -inf): the root LP's 900 holds,
    # and the gap to a plan of 1000 is (1000 - 900) / 1000
    assert mip_bound_and_gap(0.0, 900.0, 1000.0, 1.0, True) == (900.0, pytest.approx(0.1))
    assert mip_bound_and_gap(-np.inf, 900.0, 1000.0, np.inf, True) == (900.0, pytest.approx(0.1))
    assert mip_bound_and_gap(-np.inf, 900.0, np.nan, np.inf, False) == (900.0, np.inf)
    # a dual bound better than the root's is HiGHS's own, with its gap
    assert mip_bound_and_gap(950.0, 900.0, 1000.0, 0.05, True) == (950.0, 0.05)
    # no root bound (no LP first): HiGHS's values as they are
    assert mip_bound_and_gap(0.0, np.nan, 1000.0, 1.0, True) == (0.0, 1.0)


def test_persistent_lp_deletes_idle_columns_and_warm_starts_after_new_ones() -> None:
    # x1 + x2 + x3 = 10, x1 <= 4; costs 1, 2, 7: x1 = 4, x2 = 6, cost 4 + 12 = 16, x3 idle
    # (reduced cost 7 - 2 = 5)
    lp = allocator.solve.PersistentLP(np.array([10.0, -np.inf]), np.array([10.0, 4.0]))
    lp.add_columns(
        np.array([1.0, 2.0, 7.0]),
        np.zeros(3),
        np.full(3, np.inf),
        np.array([0, 2, 3]),
        np.array([0, 1, 0, 0]),
        np.ones(4),
    )
    term, obj, x, _ = lp.solve()
    assert term == "optimal"
    assert obj == pytest.approx(16.0)
    assert x == pytest.approx([4.0, 6.0, 0.0])
    assert lp.col_dual[2] == pytest.approx(5.0)
    lp.delete_columns(np.array([2]))
    assert lp.n_cols == 2
    before = lp.iterations
    term, obj, x, _ = lp.solve()
    assert obj == pytest.approx(16.0)
    assert lp.iterations == before  # the basis held
    # a cheaper column (1.5) for the balance row: x1 = 4, x4 = 6, cost 4 + 9 = 13
    lp.add_columns(
        np.array([1.5]), np.zeros(1), np.full(1, np.inf), np.array([0]), np.array([0]), np.ones(1)
    )
    term, obj, x, _ = lp.solve()
    assert obj == pytest.approx(13.0)
    assert x == pytest.approx([4.0, 0.0, 6.0])
