"""Path formulation (k cheapest in-time paths) and column generation against arc-strong."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest
from helpers import FREE_TIME, build, ferry_or_road, leg, lot, node, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.cli import main
from allocator.errors import InfeasibleError, TooFewPathsError
from allocator.formulation import build as build_model
from allocator.formulation import load_recipe
from allocator.instance.dow import REFERENCE_OPTIMA
from allocator.instance.generate import generate_instance
from allocator.instance.io import write_instance
from allocator.instance.validate import read_instance
from allocator.methods import colgen
from allocator.methods.colgen import column_generation
from allocator.pipeline import RunOptions, run
from allocator.preprocess import preprocess
from allocator.results.check import check_plan
from allocator.solve import SolveOptions
from allocator.solve import solve as solve_model

MCND = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "mcnd"


def solve(inst, **opts):
    res = run(inst, RunOptions(**opts))
    assert res.plan is not None
    rep = check_plan(res.plan, inst)
    assert rep.ok, rep.errors
    assert rep.recomputed_objective == pytest.approx(res.plan.objective, rel=1e-9)
    return res


def lp_instance():
    # no integer variables: capacities, a border and a terminal limit only
    return build(
        nodes=[node("A", "KZ"), node("B", "AZ"), node("C", "KZ"), node("D", "AZ")],
        legs=[
            leg("AB", "A", "B", 100, capacity_teu=10, border="X1"),
            leg("AC", "A", "C", 60),
            leg("CB", "C", "B", 70, border="X2"),
            leg("CD", "C", "D", 30, border="X2"),
            leg("DB", "D", "B", 20),
            leg("AD", "A", "D", 90, border="X1"),
        ],
        borders=[
            {
                "id": "X1",
                "name": "one",
                "from_country": "KZ",
                "to_country": "AZ",
                "capacity_teu": 14,
            },
            {
                "id": "X2",
                "name": "two",
                "from_country": "KZ",
                "to_country": "AZ",
                "capacity_teu": 20,
            },
        ],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 25), lot("L2", "A", "D", 12), lot("L3", "C", "B", 6)],
    )


def candidate_instance():
    # candidate legs with fixed costs on top of lp_instance's network
    return build(
        nodes=[node("A"), node("B"), node("C"), node("D")],
        legs=[
            leg("AB", "A", "B", 100, capacity_teu=10, fixed_cost=500),
            leg("AC", "A", "C", 60, fixed_cost=300),
            leg("CB", "C", "B", 70, capacity_teu=20),
            leg("CD", "C", "D", 30, fixed_cost=200),
            leg("DB", "D", "B", 20, capacity_teu=15, fixed_cost=400),
            leg("AD", "A", "D", 90),
        ],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 25), lot("L2", "A", "D", 12), lot("L3", "C", "B", 6)],
    )


@pytest.mark.parametrize("make", [lp_instance, candidate_instance])
def test_path_with_enough_paths_equals_arc_strong(make) -> None:
    inst = make()
    arc = solve(inst, model="arc-strong")
    path = solve(inst, model="path", paths=20)
    assert path.plan.objective == pytest.approx(arc.plan.objective, rel=1e-9)
    assert bool(path.plan.summary["due_days_exact"].iloc[0]) is True


def test_path_with_one_path_is_an_upper_bound() -> None:
    inst = candidate_instance()
    arc = solve(inst, model="arc-strong")
    one = run(inst, RunOptions(model="path", paths=1))
    assert one.plan.objective >= arc.plan.objective - 1e-6


def test_due_days_are_exact_in_the_path_model() -> None:
    # A->B (10 h, 1) and B->D (10 h, 1) each lie on a path within 15 h (A>F>B>D and A>B>G>D,
    # 12 h, 101/TEU) but together take 20 h. The arc model prunes per leg, so it routes A>B>D
    # (late, 2/TEU); the path model only uses in-time paths: 4 TEU x 101 = 404.
    inst = build(
        nodes=[node(n) for n in "ABDFG"],
        legs=[
            leg("AB", "A", "B", 1, hours=10),
            leg("BD", "B", "D", 1, hours=10),
            leg("AF", "A", "F", 50, hours=1),
            leg("FB", "F", "B", 50, hours=1),
            leg("BG", "B", "G", 50, hours=1),
            leg("GD", "G", "D", 50, hours=1),
        ],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "D", 4, due_days=15 / 24)],
    )
    arc = run(inst, RunOptions(model="arc-strong"))
    assert arc.plan.objective == pytest.approx(8)
    assert int(arc.plan.summary["late_routes"].iloc[0]) == 1
    for model in ("path", "colgen"):
        res = solve(inst, model=model)
        assert res.plan.objective == pytest.approx(404)
        assert not res.plan.routes["late"].any()


def test_colgen_lp_equals_arc_strong_without_integer_variables() -> None:
    inst = lp_instance()
    arc = solve(inst, model="arc-strong")
    cg = solve(inst, model="colgen")
    assert cg.result.termination == "optimal"
    assert cg.plan.objective == pytest.approx(arc.plan.objective, rel=1e-9)
    assert cg.result.root_bound == pytest.approx(arc.plan.objective, rel=1e-9)


def test_colgen_bounds_with_candidate_legs() -> None:
    inst = candidate_instance()
    arc = solve(inst, model="arc-strong")
    cg = solve(inst, model="colgen")
    assert cg.plan.objective >= arc.plan.objective - 1e-6
    assert cg.result.root_bound <= arc.plan.objective + 1e-6
    assert cg.result.gap >= 0


@pytest.mark.parametrize("name", ["c33", "r01.1"])
def test_colgen_on_mcnd(name: str) -> None:
    path = MCND / ("C" if name.startswith("c") else "R") / f"{name}.dow"
    cg = run(path, RunOptions(model="colgen"))
    ref = REFERENCE_OPTIMA[name]
    assert cg.plan.objective >= ref - 1e-6
    assert cg.result.root_bound <= ref + 1e-6
    # the LP bound of the path master equals the strong arc LP bound (c33: 422853.26)
    arc = run(path, RunOptions(model="arc-strong"))
    assert cg.result.root_bound == pytest.approx(arc.result.root_bound, rel=1e-7)
    assert check_plan(cg.plan, cg.instance).ok
    # branch and price proves the published optimum
    assert cg.result.termination == "optimal"
    assert cg.plan.objective == pytest.approx(ref, abs=0.01)


def test_path_reaches_c33_optimum() -> None:
    res = run(MCND / "C" / "c33.dow", RunOptions(model="path", paths=10))
    assert res.plan.objective == pytest.approx(REFERENCE_OPTIMA["c33"], abs=0.01)
    assert check_plan(res.plan, res.instance).ok


def test_colgen_adds_strong_linking_rows_lazily() -> None:
    # c33: 39 commodities x 228 candidate arcs would be 8892 strong rows in the master; the
    # lazily separated ones reach the same LP bound as the strong arc model's root LP
    path = MCND / "C" / "c33.dow"
    inst = read_instance(path)
    pre = preprocess(inst)
    _, stats, _ = column_generation(inst, pre, SolveOptions(threads=1), time.perf_counter() + 60)
    arc = run(inst, RunOptions(model="arc-strong", solve=SolveOptions(threads=1)))
    assert stats.lp_bound == pytest.approx(arc.result.root_bound, rel=1e-7)
    assert 0 < stats.strong_rows < 39 * 228 // 10
    assert stats.pricing_exact


def forbid_instance(cap_ac: float | None = None):
    # 8 TEU A -> B under forbid: AB (10/TEU) holds 5 TEU, the detour A > C > B costs 20/TEU
    return build(
        settings={"unserved": "forbid"},
        nodes=[node("A"), node("B"), node("C")],
        legs=[
            leg("AB", "A", "B", 10, capacity_teu=5),
            leg("AC", "A", "C", 10, **({} if cap_ac is None else {"capacity_teu": cap_ac})),
            leg("CB", "C", "B", 10),
        ],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 8)],
    )


def test_too_few_paths_under_forbid_is_a_usage_error(tmp_path: Path, capsys) -> None:
    inst = forbid_instance()
    write_instance(inst, tmp_path / "inst")
    args = ["solve", str(tmp_path / "inst"), "--model", "path", "--out", str(tmp_path / "o")]
    assert main([*args, "--paths", "1"]) == 2
    text = " ".join(capsys.readouterr().err.split())
    assert "lot L1 (A -> B): only 1 path within due days" in text
    assert "leaves 3 of 8 TEU unmoved" in text
    assert "try --paths" in text
    assert "--model arc-strong" in text
    assert "Traceback" not in text
    with pytest.raises(TooFewPathsError):
        run(inst, RunOptions(model="path", paths=1))
    # two paths hold the plan: 5 TEU x 10 + 3 TEU x 20 = 110
    assert main([*args, "--paths", "2"]) == 0
    assert solve(inst, model="path", paths=2).plan.objective == pytest.approx(110)


def test_path_model_with_every_path_reports_true_infeasibility() -> None:
    # AC holds 1 TEU: at most 5 + 1 of the 8 TEU can move on any route; 3 paths hold both routes
    inst = forbid_instance(cap_ac=1)
    with pytest.raises(InfeasibleError) as info:
        run(inst, RunOptions(model="path", paths=3))
    assert not isinstance(info.value, TooFewPathsError)
    assert info.value.exit_code == 3


@pytest.mark.parametrize("name", ["path", "colgen"])
def test_recipes_have_math_for_every_block(name: str) -> None:
    r = load_recipe(name)
    assert r.family == name
    assert set(r.blocks) <= set(r.math)


def test_branch_and_price_proves_an_integer_optimum_above_the_lp() -> None:
    # ferry_or_road: the LP takes 2.25 sailings (3150); the integer optimum is 2 sailings and
    # 10 TEU by road, 3300 (hand calculation in helpers.ferry_or_road)
    res = solve(ferry_or_road(), model="colgen")
    assert res.result.root_bound == pytest.approx(3150.0)
    assert res.plan.objective == pytest.approx(3300.0)
    assert res.result.termination == "optimal"
    assert res.result.bound == pytest.approx(3300.0)
    assert res.result.gap <= 1e-4
    assert res.plan.legs.set_index("leg").loc["F", "services"] == 2


def three_node_due_days():
    # O -> M -> D, each hop fast (1 day, 1000/TEU) or slow (4 days, 100/TEU); 10 TEU due in 5 days
    hop = [("O", "M"), ("M", "D")]
    legs = []
    for a, b in hop:
        legs.append(leg(f"{a}{b}-fast", a, b, 1000, hours=24))
        legs.append(leg(f"{a}{b}-slow", a, b, 100, hours=96))
    return build(
        {"unserved": "forbid"},
        nodes=[node("O"), node("M"), node("D")],
        legs=legs,
        classes=FREE_TIME,
        cargo=[lot("L1", "O", "D", 10, due_days=5)],
    )


def test_colgen_honours_due_days_where_arc_pruning_does_not() -> None:
    # on time: one fast hop and one slow hop, 5 days, (1000 + 100) x 10 = 11,000; both slow
    # (2,000) takes 8 days and is late
    cg = solve(three_node_due_days(), model="colgen")
    assert cg.result.termination == "optimal"
    assert cg.plan.objective == pytest.approx(11_000.0)
    assert cg.plan.routes["days"].max() <= 5 + 1e-9


def test_restricted_master_equals_the_pyomo_path_model_on_its_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the master's LP (lazy capacity rows, HiGHS driven directly) and the Pyomo path model over
    # the same columns (every row, built by the formulation stage) have the same LP optimum;
    # columns are deleted after one idle solution, so that deletion is part of what is compared
    monkeypatch.setattr(colgen, "PURGE_AGE", 1)
    inst = generate_instance(nodes=80, lots=800, seed=3)
    pre = preprocess(inst, prune=False)
    paths, stats, _ = column_generation(
        inst, pre, SolveOptions(threads=1), time.perf_counter() + 120
    )
    assert stats.pricing_exact
    assert stats.capacity_rows > 0  # some capacity binds, and its row was added lazily
    built = build_model(inst, pre, load_recipe("colgen"), paths=paths)
    n_capacity_rows = sum(
        len(getattr(built.model, name))
        for name in ("con_leg_capacity", "con_border_capacity", "con_terminal_capacity")
        if hasattr(built.model, name)
    )
    assert stats.capacity_rows < n_capacity_rows  # most capacity rows never entered the master
    assert stats.purged > 0  # idle columns were deleted on the way, and the optimum held
    assert len(paths.com) > stats.columns  # the path model still holds the deleted routes
    for var in built.model.component_data_objects(pyo.Var):
        if var.is_integer():
            lb, ub = var.lb, var.ub
            var.domain = pyo.Reals
            var.setlb(lb)
            var.setub(ub)
    lp = solve_model(built, SolveOptions(threads=1, lp_first=False))
    assert lp.termination == "optimal"
    assert lp.objective == pytest.approx(stats.lp_bound, rel=1e-9)


def test_arc_plans_with_late_lots_are_not_called_optimal(tmp_path: Path) -> None:
    # arc-strong prunes legs only: both slow hops (2,000, 8 days) pass, the lot is late
    inst = three_node_due_days()
    arc = run(inst, RunOptions(model="arc-strong"))
    assert arc.plan.objective == pytest.approx(2_000.0)
    assert arc.plan.status == "due_days_relaxed"
    assert int(arc.plan.summary["late_routes"].iloc[0]) == 1
    # the default (auto) is exact: 11,000, on time
    default = run(inst)
    assert default.recipe.name == "colgen"
    assert default.plan.status == "optimal"
    assert default.plan.objective == pytest.approx(11_000.0)
    folder = tmp_path / "inst"
    write_instance(inst, folder)
    # the CLI accepts the relaxed plan when the model was asked for, and says so
    explicit = run_cli("solve", str(folder), "--model", "arc-strong", "--out", str(tmp_path / "a"))
    assert explicit.returncode == 0, explicit.stderr
    assert "due days relaxed" in explicit.stderr
    assert run_cli("solve", str(folder), "--out", str(tmp_path / "b")).returncode == 0


def test_the_checker_names_the_late_route_of_an_arc_plan() -> None:
    # both slow hops: 4 + 4 = 8 days against 5 due; an arc model's plan, so a warning
    inst = three_node_due_days()
    rep = check_plan(run(inst, RunOptions(model="arc-strong")).plan, inst)
    assert rep.errors == []
    assert rep.warnings == [
        "lot L1 route OM-slow > MD-slow takes 8.00 days, over its due 5 "
        "(arc models enforce due days by pruning only)"
    ]


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_the_default_plan_is_on_time_and_equals_the_complete_path_model(seed: int) -> None:
    # random small networks with due days: the default plan has no late lot, and its optimum
    # equals the path model's over every in-time path (all of them: 'complete')
    inst = generate_instance(nodes=8, lots=12, seed=seed)
    default = run(inst, RunOptions(prices=False))
    report = check_plan(default.plan, inst)
    assert report.ok, report.errors
    assert int(default.plan.summary["late_routes"].iloc[0]) == 0
    full = run(inst, RunOptions(model="path", paths=500, prices=False))
    assert full.built.paths is not None
    assert bool(full.built.paths.paths.complete.all())  # every in-time path is in the model
    assert default.plan.status == full.plan.status == "optimal"
    assert default.plan.objective == pytest.approx(full.plan.objective, rel=2e-4)


def test_purging_idle_columns_does_not_cycle_on_a_degenerate_master(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # seed 0: deleting every column idle in one solution, each round, deleted and regenerated
    # the same columns until the round limit; purging only after the master objective fell
    # ends in a few rounds
    monkeypatch.setattr(colgen, "PURGE_AGE", 1)
    inst = generate_instance(nodes=8, lots=12, seed=0)
    default = run(inst, RunOptions(prices=False))
    full = run(inst, RunOptions(model="path", paths=500, prices=False))
    assert bool(full.built.paths.paths.complete.all())
    assert default.plan.status == full.plan.status == "optimal"
    assert default.plan.objective == pytest.approx(full.plan.objective, rel=2e-4)
    assert default.result.iterations < 100


def test_a_plan_is_optimal_where_highs_hands_back_the_start_under_a_better_objective() -> None:
    # seed 234: after the rounded LP start, HiGHS 1.16 reports 713,003.63 for a solution that
    # costs 713,887.36 (the start's); the solve without a start finds the optimum. Branch and
    # price (no HiGHS MIP) computes it independently.
    inst = generate_instance(nodes=8, lots=12, seed=234)
    default = run(inst, RunOptions(prices=False))
    full = run(inst, RunOptions(model="path", paths=500, prices=False))
    assert default.plan.status == full.plan.status == "optimal"
    assert full.plan.objective == pytest.approx(default.plan.objective, rel=2e-4)
    assert check_plan(full.plan, inst).ok


def test_a_loose_gap_stops_at_the_root_with_a_valid_bound() -> None:
    # the same instance to 1e-4 and to 2 %: the loose run may stop early (weak LP, no strong
    # rows, a plan rounded up from a master solution), but its bound must stay below the tight
    # run's plan and its plan within 2 % of that bound
    from allocator.methods.colgen import solve_colgen

    inst = generate_instance(nodes=60, lots=600, seed=5)
    pre = preprocess(inst, prune=False)
    recipe = load_recipe("colgen")
    _, tight, tight_stats = solve_colgen(inst, pre, recipe, SolveOptions(threads=1))
    _, loose, loose_stats = solve_colgen(
        inst, pre, recipe, SolveOptions(threads=1, mip_rel_gap=0.02)
    )
    assert tight.termination == loose.termination == "optimal"
    assert tight.gap <= 1e-4 + 1e-12
    assert loose.gap <= 0.02 + 1e-12
    assert loose.bound <= tight.objective * (1 + 1e-9)
    assert tight.bound <= loose.objective * (1 + 1e-9)
    assert loose.objective <= loose.bound / (1 - 0.02) + 1e-6
    # the loose run stopped before the LP converged, and before it needed strong rows
    assert loose_stats.rounds < tight_stats.rounds
    assert loose_stats.strong_rows == 0 < tight_stats.strong_rows
    res = run(inst, RunOptions(solve=SolveOptions(threads=1, mip_rel_gap=0.02)))
    report = check_plan(res.plan, inst)
    assert report.ok, report.errors


def test_every_master_solution_gives_a_plan_within_every_capacity() -> None:
    # the first master (no capacity row yet) sends L1's 25 TEU over AB (capacity 10, border X1
    # of 14 shared with AD): the plan taken from it scales the overloading paths down and leaves
    # the rest unserved at its penalty; checked here against the instance's own numbers
    from allocator.methods.colgen import PathEngine

    inst = lp_instance()
    pre = preprocess(inst, prune=False)
    engine = PathEngine(inst, pre, SolveOptions(threads=1))
    engine.start()
    _, obj, x, _ = engine.master.lp.solve()
    cost, plan = engine._round_up(x)
    assert plan is not None
    paths = engine.master.path_set(pre.time, engine.cls)
    legs = inst.legs
    lot_of = pre.commodities["lots"].map(lambda lots: lots[0]).to_numpy()
    teu = inst.cargo["teu"]
    flow_on: dict[str, float] = {}
    routed: dict[str, float] = {}
    total = 0.0
    n_com = len(pre.commodities)
    for p in range(paths.n_paths):
        f = float(plan[engine.master.n_fixed + p])
        lot_id = lot_of[paths.com[p]]
        routed[lot_id] = routed.get(lot_id, 0.0) + f
        for a in paths.path(p):
            leg_id = pre.net.leg_ids[a]
            flow_on[leg_id] = flow_on.get(leg_id, 0.0) + f
            total += f * float(legs.loc[leg_id, "cost_per_teu"])
    ab = int(np.flatnonzero(pre.net.leg_ids == "AB")[0])
    lp_ab = sum(
        float(x[engine.master.n_fixed + p]) for p in range(paths.n_paths) if ab in paths.path(p)
    )
    assert lp_ab > 10
    assert cost > obj
    assert flow_on["AB"] <= 10 + 1e-9
    assert flow_on.get("AB", 0) + flow_on.get("AD", 0) <= 14 + 1e-9  # border X1
    assert flow_on.get("CB", 0) + flow_on.get("CD", 0) <= 20 + 1e-9  # border X2
    penalty = 10_000.0  # the instance default per TEU unmoved
    for k in range(n_com):
        lot_id = lot_of[k]
        unserved = float(plan[k])
        assert unserved + routed.get(lot_id, 0.0) == pytest.approx(teu[lot_id])
        total += penalty * unserved
    assert cost == pytest.approx(total, rel=1e-9)


def test_forbid_starts_from_cheap_overflows_and_raises_them_until_none_is_used() -> None:
    # 25 TEU A->B under forbid: leg R1 at 10/TEU holds 10 TEU, R2 at 30/TEU has no limit.
    # Optimum by hand: 10 x 10 + 15 x 30 = 550. The first master has R1 alone and its overflow
    # at 2 x 10 = 20/TEU: then R2 (weight 30 against a balance dual of 10 + 20) does not price
    # out and the converged master still overflows R1, so the overflow goes to 200/TEU, R2
    # prices out and the master converges at 550 with no overflow.
    from allocator.methods.colgen import PathEngine

    inst = build(
        {"unserved": "forbid"},
        nodes=[node("A"), node("B")],
        legs=[leg("R1", "A", "B", 10, capacity_teu=10), leg("R2", "A", "B", 30)],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 25)],
    )
    engine = PathEngine(inst, preprocess(inst, prune=False), SolveOptions(threads=1))
    engine.start()
    assert engine.overflow_cost == pytest.approx(20.0)
    status, obj, _, x = engine.converge(time.perf_counter() + 60)
    assert status == "optimal"
    assert obj == pytest.approx(550.0)
    assert engine.overflow_cost == pytest.approx(200.0)
    assert not engine._relaxed(x)
    assert run(inst, RunOptions(model="colgen", prices=False)).plan.objective == pytest.approx(550)
