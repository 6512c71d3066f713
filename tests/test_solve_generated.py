"""Solve generated and shipped instances; every plan must pass the independent checker."""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from allocator.cli import main
from allocator.instance.generate import generate_instance
from allocator.instance.io import instance_hash
from allocator.instance.validate import read_instance
from allocator.pipeline import RunOptions, read_run, run
from allocator.results import read_plan, write_plan
from allocator.results.check import check_plan
from allocator.solve import SolveOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from floor import build_highspy  # noqa: E402
from plain_pyomo import build_plain, solve_plain  # noqa: E402

from allocator.formulation import arc_data  # noqa: E402


def _no_due(inst):
    return dataclasses.replace(inst, cargo=inst.cargo.assign(due_days=np.nan))


@given(seed=st.integers(0, 10_000), nodes=st.integers(5, 25), lots=st.integers(1, 25))
@example(seed=793, nodes=5, lots=1)  # every lot moved: an empty unserved table
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_instances_give_plans_that_pass_the_checker(seed, nodes, lots):
    inst = generate_instance(nodes=nodes, lots=lots, seed=seed)
    res = run(inst, RunOptions(solve=SolveOptions(mip_rel_gap=1e-9)))
    assert res.result.termination == "optimal"
    report = check_plan(res.plan, inst)
    assert report.ok, report.errors
    assert report.recomputed_objective == pytest.approx(res.plan.objective, rel=1e-7)
    moved = res.plan.routes.groupby("lot")["teu"].sum().reindex(inst.cargo.index).fillna(0.0)
    unserved = res.plan.unserved.set_index("lot")["teu"].reindex(inst.cargo.index).fillna(0.0)
    total = moved.astype(float) + unserved.astype(float)
    np.testing.assert_allclose(total.to_numpy(), inst.cargo["teu"].to_numpy(), atol=1e-6)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_weak_and_strong_linking_reach_the_same_optimum(seed):
    inst = generate_instance(nodes=20, lots=30, seed=seed)
    strong = run(inst, RunOptions(model="arc-strong", solve=SolveOptions(mip_rel_gap=1e-9)))
    weak = run(inst, RunOptions(model="arc-weak", solve=SolveOptions(mip_rel_gap=1e-9)))
    assert strong.result.termination == weak.result.termination == "optimal"
    assert weak.plan.objective == pytest.approx(strong.plan.objective, rel=1e-7)
    assert len(weak.built.model.con_linking_weak) > 0  # the instances do have candidate legs
    assert not hasattr(weak.built.model, "con_linking_strong")
    cuts = run(inst, RunOptions(model="arc-cuts", solve=SolveOptions(mip_rel_gap=1e-9)))
    assert cuts.result.termination == "optimal"
    assert cuts.plan.objective == pytest.approx(strong.plan.objective, rel=1e-7)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_aggregated_and_per_lot_reach_the_same_optimum(seed):
    inst = _no_due(generate_instance(nodes=20, lots=40, seed=seed))
    per_lot = run(inst, RunOptions(model="arc-strong", solve=SolveOptions(mip_rel_gap=1e-9)))
    agg = run(inst, RunOptions(model="arc-agg", solve=SolveOptions(mip_rel_gap=1e-9)))
    assert agg.result.termination == per_lot.result.termination == "optimal"
    assert agg.plan.objective == pytest.approx(per_lot.plan.objective, rel=1e-7)
    assert agg.result.n_vars < per_lot.result.n_vars
    assert check_plan(agg.plan, inst).ok


@pytest.mark.parametrize("seed", [7, 8])
def test_direct_highspy_build_finds_the_same_optimum(seed):
    """An independent build of the same model (numpy into highspy, benchmarks/floor.py)."""
    inst = generate_instance(nodes=20, lots=30, seed=seed)
    res = run(inst, RunOptions(model="arc-strong", solve=SolveOptions(mip_rel_gap=1e-9)))
    h = build_highspy(arc_data(inst, res.pre), res.pre.net)
    h.setOptionValue("mip_rel_gap", 1e-9)
    h.run()
    assert h.getNumCol() == res.result.n_vars
    assert h.getNumRow() == res.result.n_cons
    assert h.getInfo().objective_function_value == pytest.approx(res.plan.objective, rel=1e-7)


def test_eurasia_solves_to_optimality_and_checks(eurasia, tmp_path):
    res = run(eurasia)
    assert res.result.termination == "optimal"
    assert res.result.gap <= eurasia.settings.mip_rel_gap + 1e-12
    report = check_plan(res.plan, eurasia)
    assert report.ok, report.errors
    # written and read back, the plan still checks, in every format
    for fmt in ("csv", "parquet", "xlsx"):
        target = write_plan(res.plan, tmp_path / f"plan-{fmt}", fmt)
        again = check_plan(read_plan(target), eurasia)
        assert again.ok, (fmt, again.errors)
    # most cargo moves, and more than one corridor is used
    assert res.plan.info()["teu_moved"] > 0.8 * res.plan.info()["teu_total"]
    assert res.plan.routes["corridor"].nunique() >= 3


def test_cli_solve_then_check(tmp_path):
    inst = tmp_path / "inst"
    assert main(["generate", str(inst), "--nodes", "15", "--lots", "20", "--seed", "3"]) == 0
    plan = tmp_path / "plan"
    assert main(["solve", str(inst), "--out", str(plan), "--quiet"]) == 0
    assert (plan / "flows.csv").exists()
    assert (plan / "report.md").exists()
    assert main(["check", str(plan), str(inst)]) == 0
    # the plan folder carries the instance it solves, identical in content
    solved, solved_inst = read_run(plan)
    assert solved_inst is not None
    assert instance_hash(solved_inst) == instance_hash(read_instance(inst))
    assert instance_hash(solved_inst) == solved.info()["instance_sha256"]
    # tamper with a flow: the checker must say so with exit code 5
    flows = plan / "flows.csv"
    lines = flows.read_text().splitlines()
    head, first, *rest = lines
    lot, leg, teu = first.split(",")
    flows.write_text("\n".join([head, f"{lot},{leg},{float(teu) + 3}", *rest]) + "\n")
    assert main(["check", str(plan), str(inst)]) == 5


def test_cli_solve_infeasible_exit_code(tmp_path, capsys):
    inst = tmp_path / "inst"
    assert main(["generate", str(inst), "--nodes", "8", "--lots", "5", "--seed", "1"]) == 0
    toml = inst / "instance.toml"
    text = toml.read_text().replace('unserved = "penalty"', 'unserved = "forbid"')
    legs = inst / "legs.csv"
    rows = legs.read_text().splitlines()
    header = rows[0].split(",")
    cap = header.index("capacity_teu")
    tight = []
    for row in rows[1:]:
        cells = row.split(",")
        cells[cap] = "0.5"
        tight.append(",".join(cells))
    legs.write_text("\n".join([rows[0], *tight]) + "\n")
    toml.write_text(text)
    code = main(["solve", str(inst), "--out", str(tmp_path / "plan"), "--quiet"])
    assert code == 3
    assert "no feasible plan" in capsys.readouterr().err
    assert not (tmp_path / "plan").exists()


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_plain_pyomo_model_without_preprocessing_agrees(seed):
    """The hand-written model (every lot on every allowed leg, no pruning, appsi_highs) reaches the
    same optimum, so pruning, merging and the hand-off lose nothing."""
    inst = _no_due(generate_instance(nodes=15, lots=25, seed=seed))
    res = run(inst, RunOptions(solve=SolveOptions(mip_rel_gap=1e-9)))
    plain = solve_plain(build_plain(inst), 60, 1e-9)
    assert res.plan.objective == pytest.approx(plain, rel=1e-7)


def test_the_default_model_plans_500_nodes_and_5000_lots() -> None:
    # the planner-scale smoke test: a plan, checked, with a finite gap and no late lot (timing
    # and memory goals live in benchmarks/scale.py, not here)
    inst = generate_instance(nodes=500, lots=5000, seed=1)
    res = run(inst, RunOptions(prices=False, solve=SolveOptions(time_limit_s=600)))
    assert res.recipe.name == "colgen"
    assert math.isfinite(res.result.gap)
    assert res.result.bound <= res.plan.objective + 1e-6 * abs(res.plan.objective)
    assert int(res.plan.summary["late_routes"].iloc[0]) == 0
    report = check_plan(res.plan, inst)
    assert report.ok, report.errors[:5]
