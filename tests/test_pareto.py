"""Trade-off curves (epsilon-constraint): hand-computed frontiers and a generated instance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import FREE_TIME, build, leg, lot, node

from allocator.analysis.pareto import ParetoError, trace
from allocator.cli import main
from allocator.instance.generate import generate_instance
from allocator.instance.model import Instance
from allocator.results.check import check_plan, leg_costs
from allocator.solve import SolveOptions

EXACT = SolveOptions(mip_rel_gap=1e-9)


def two_routes(penalty: float = 10_000.0) -> Instance:
    """10 TEU from A to B: by road A-B (100 per TEU, 100 km x 1.0 kg = 100 kg CO2, 48 h) or by
    rail A-C-B (70 + 80 = 150 per TEU, 2 x 50 km x 0.2 kg = 20 kg CO2, 12 + 12 h)."""
    return build(
        {"name": "two-routes", "default_penalty_per_teu": penalty},
        nodes=[node("A"), node("B"), node("C")],
        legs=[
            leg("AB", "A", "B", 100, mode="road", hours=48, distance_km=100, co2_kg_per_teu_km=1.0),
            leg("AC", "A", "C", 70, hours=12, distance_km=50, co2_kg_per_teu_km=0.2),
            leg("CB", "C", "B", 80, hours=12, distance_km=50, co2_kg_per_teu_km=0.2),
        ],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 10)],
    )


def test_cost_co2_frontier_equals_the_hand_values() -> None:
    f = trace(two_routes(), ("cost", "co2"), points=5, solve_opts=EXACT)
    t = f.table
    # CO2 from 10 x 0.1 t (road) to 10 x 0.02 t (rail); every TEU moved to rail costs 50 more
    # and saves 0.08 t: at eps, x_rail = (1.0 - eps) / 0.08 and cost = 1000 + 50 x_rail
    assert t["eps"].tolist()[:4] == pytest.approx([1.0, 0.8, 0.6, 0.4])
    assert t["eps"].iloc[4] == pytest.approx(0.2, rel=1e-5)
    assert t["co2_t"].tolist() == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2], rel=1e-6)
    assert t["cost"].tolist() == pytest.approx([1000, 1125, 1250, 1375, 1500], rel=1e-7)
    assert t["avg_days"].tolist() == pytest.approx([2.0, 1.75, 1.5, 1.25, 1.0])
    assert (t["status"] == "optimal").all()
    assert not t["dominated"].any()
    assert t["teu_moved"].tolist() == pytest.approx([10.0] * 5)
    # each point moves 2.5 TEU more to rail: 125 USD for 0.2 t, 625 USD per t CO2 saved
    assert np.isnan(t["marginal_cost"].iloc[0])
    assert t["marginal_cost"].iloc[1:].tolist() == pytest.approx([625.0] * 4, rel=1e-6)


def test_cost_days_frontier_equals_the_hand_values() -> None:
    f = trace(two_routes(), ("cost", "days"), points=3, solve_opts=EXACT)
    t = f.table
    # TEU-days from 10 x 2 (road) to 10 x 1 (rail)
    assert t["teu_days"].tolist() == pytest.approx([20.0, 15.0, 10.0], rel=1e-6)
    assert t["cost"].tolist() == pytest.approx([1000, 1250, 1500], rel=1e-7)
    assert t["avg_days"].tolist() == pytest.approx([2.0, 1.5, 1.0], rel=1e-6)
    # 250 USD more for 5 TEU-days less: 50 USD per TEU-day
    assert t["marginal_cost"].iloc[1:].tolist() == pytest.approx([50.0, 50.0], rel=1e-6)


def test_served_fixed_keeps_the_cargo_moving_free_lets_it_stay() -> None:
    # the rail route (150 per TEU) costs more than leaving a TEU unmoved (120)
    fixed = trace(two_routes(penalty=120), ("cost", "co2"), points=5, solve_opts=EXACT).table
    assert fixed["unserved"].tolist() == pytest.approx([0.0] * 5)
    assert fixed["cost"].tolist() == pytest.approx([1000, 1125, 1250, 1375, 1500], rel=1e-7)
    free = trace(two_routes(penalty=120), ("cost", "co2"), 5, solve_opts=EXACT, served="free").table
    # each TEU left unmoved saves 0.1 t at 20 more than road: cost = 1000 + 200 (1 - eps)
    assert free["co2_t"].tolist() == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0], abs=1e-6)
    assert free["unserved"].tolist() == pytest.approx([0.0, 2.5, 5.0, 7.5, 10.0], abs=1e-6)
    assert free["cost"].tolist() == pytest.approx([1000, 1050, 1100, 1150, 1200], rel=1e-7)
    # leaving a TEU unmoved: 20 more for 0.1 t less, 200 USD per t CO2
    assert free["marginal_cost"].iloc[1:].tolist() == pytest.approx([200.0] * 4, rel=1e-6)


def test_dominated_points_are_marked() -> None:
    from allocator.analysis.pareto import _mark_dominated

    cost = np.array([1.0, 2.0, 2.0, 3.0])
    co2 = np.array([5.0, 4.0, 4.5, 4.0])
    # point 3 is worse than point 2 in CO2 at the same cost; point 4 costs more for the same CO2
    assert _mark_dominated(cost, co2, np.ones(4, dtype=bool)).tolist() == [
        False,
        False,
        True,
        True,
    ]


def test_path_formulation_is_refused_clearly() -> None:
    with pytest.raises(ParetoError, match="arc formulation"):
        trace(two_routes(), recipe="path")
    with pytest.raises(ParetoError, match="cost,co2 or cost,days"):
        trace(two_routes(), objectives=("co2", "cost"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Instance, Path]:
    inst = generate_instance(nodes=30, lots=60, seed=3)
    out = tmp_path_factory.mktemp("pareto")
    from allocator.instance.io import write_instance

    write_instance(inst, out / "inst")
    args = ["pareto", str(out / "inst"), "--objectives", "cost,co2", "--points", "8"]
    assert main([*args, "--out", str(out / "curve"), "--gap", "1e-9", "--quiet"]) == 0
    return inst, out / "curve"


def _route_co2_t(plan_routes: pd.DataFrame, inst: Instance) -> float:
    """CO2 of a plan recomputed from its routes and the instance (pandas, not the model)."""
    per_leg = leg_costs(inst)["co2_kg"]
    total = 0.0
    for legs, teu in zip(plan_routes["legs"], plan_routes["teu"], strict=True):
        total += float(per_leg[legs.split(" > ")].sum()) * float(teu)
    return total / 1000.0


def test_generated_frontier_points_are_sound(generated: tuple[Instance, Path]) -> None:
    from allocator.pipeline import read_run

    inst, curve = generated
    table = pd.read_csv(curve / "pareto.csv")
    assert len(table) >= 8
    assert list(table.columns[:9]) == [
        "point",
        "eps",
        "cost",
        "co2_t",
        "avg_days",
        "teu_days",
        "teu_moved",
        "unserved",
        "status",
    ]
    assert (table["status"] == "optimal").all()
    # the cap tightens point by point, and the cost never falls
    assert (np.diff(table["eps"]) < 0).all()
    assert (np.diff(table["cost"]) >= -1e-6 * table["cost"].abs().max()).all()
    first_unserved = table["unserved"].iloc[0]
    for row in table.itertuples(index=False):
        plan, written = read_run(curve / row.plan)
        assert written is not None
        report = check_plan(plan, written)
        assert report.ok, report.errors
        co2 = _route_co2_t(plan.routes, inst)
        assert co2 == pytest.approx(row.co2_t, rel=1e-6)
        assert co2 <= row.eps * (1 + 1e-6) + 1e-6
        assert row.unserved <= first_unserved + 1e-6  # served fixed: no CO2 from moving less
    assert (curve / "pareto.png").stat().st_size > 1000
    assert (curve / "pareto.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
