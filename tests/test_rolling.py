"""Weekly re-planning: last week's plan as MIP start, stability against it, and the eight Eurasia
weeks solved in order by ``allocator batch --rolling``."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import FREE_TIME, build, leg, lot, node

from allocator import formulation
from allocator.batch import ledger
from allocator.options import RollingOptions
from allocator.pipeline import RunOptions, run
from allocator.preprocess import preprocess
from allocator.results import read_plan, write_plan
from allocator.results.check import check_plan
from allocator.solve import SolveOptions, solve

WEEKS = Path(__file__).resolve().parents[1] / "instances" / "eurasia" / "weeks"


def _week(middle_cost: float, north_capacity: float | None = None, teu2: float = 5.0):
    """O -> D over the northern (O-N-D, 100 + 100 per TEU) or middle corridor (O-M-D)."""
    north = {"capacity_teu": north_capacity} if north_capacity is not None else {}
    return build(
        nodes=[node("O"), node("N"), node("M"), node("D")],
        legs=[
            leg("ON", "O", "N", 100, corridor="northern", **north),
            leg("ND", "N", "D", 100, corridor="northern"),
            leg("OM", "O", "M", middle_cost, corridor="middle"),
            leg("MD", "M", "D", 100, corridor="middle"),
        ],
        classes=FREE_TIME,
        cargo=[lot("L1", "O", "D", 10), lot("L2", "O", "D", teu2), lot("NEW", "M", "D", 3)],
    )


def _solve(inst, prev=None, **rolling):
    res = run(inst, RunOptions(rolling=RollingOptions(previous_plan=prev, **rolling)))
    assert res.plan is not None
    rep = check_plan(res.plan, inst)
    assert rep.ok, rep.errors
    assert rep.recomputed_objective == pytest.approx(res.plan.objective, rel=1e-9)
    return res


def test_last_weeks_plan_is_an_accepted_mip_start(tmp_path: Path) -> None:
    week1 = _solve(_week(110))  # northern is cheaper: 15 TEU at 200, NEW on M-D
    assert week1.result.mip_start_status == "none"
    write_plan(week1.plan, tmp_path / "w1")
    prev = read_plan(tmp_path / "w1")  # as a batch hands it over: read back from disk
    same = _solve(_week(110), prev)
    assert same.result.mip_start_status == "accepted"
    assert same.result.mip_start_objective == pytest.approx(same.plan.objective)
    info = same.plan.info()
    assert info["mip_start"] == "accepted"
    assert info["teu_changed_corridor"] == pytest.approx(0.0)
    assert info["previous_period"] == ""  # the test instances have no period
    assert "prev_flow_teu" in same.plan.legs
    # a lot that grew keeps last week's route for its old TEU; the rest starts on the cheapest
    grown = _solve(_week(110, teu2=8), prev)
    assert grown.result.mip_start_status == "accepted"
    # the northern leg lost capacity: the start is repaired to fit, still accepted
    squeezed = _solve(_week(110, north_capacity=6), prev)
    assert squeezed.result.mip_start_status == "accepted"
    assert squeezed.plan.legs.set_index("leg").at["ON", "flow_teu"] == pytest.approx(6)


def test_an_infeasible_start_is_rejected_not_fatal() -> None:
    inst = _week(110)
    pre = preprocess(inst)
    built = formulation.build(inst, pre, formulation.load_recipe("arc-strong"))
    bad = {v.name: -5.0 for v in built.model.unserved.values()}  # below the lower bound
    result = solve(built, SolveOptions(mip_start=bad))
    assert result.mip_start_status == "rejected"
    assert "outside their bounds" in result.mip_start_message
    assert result.termination == "optimal"
    assert "mip_start" not in result.options


@pytest.mark.parametrize("scope", ["lot", "leg"])
def test_stability_weight_keeps_last_weeks_corridor(scope: str) -> None:
    prev = _solve(_week(110)).plan  # week 1: northern
    # week 2: middle is 5/TEU cheaper; without stability all 15 TEU move corridor
    free = _solve(_week(95), prev, stability_weight=0.0, stability_scope=scope)
    assert free.plan.info()["teu_changed_corridor"] == pytest.approx(15)
    assert free.plan.info()["stability_cost"] == 0
    # moving costs 2 legs x W per TEU more than it saves (5): the plan stays northern
    kept = _solve(_week(95), prev, stability_weight=10.0, stability_scope=scope)
    info = kept.plan.info()
    assert info["teu_changed_corridor"] == pytest.approx(0)
    assert info["stability_scope"] == scope
    assert info["stability_cost"] == pytest.approx(0)
    assert kept.result.mip_start_status == "accepted"
    # a saving larger than the weight still moves the cargo, and the term is paid and reported
    moved = _solve(_week(40), prev, stability_weight=10.0, stability_scope=scope)
    info = moved.plan.info()
    assert info["teu_changed_corridor"] == pytest.approx(15)
    assert info["stability_cost"] == pytest.approx(10.0 * 4 * 15)  # 4 legs change by 15 TEU
    costs = moved.plan.costs.set_index(["component", "corridor"])["cost"]
    assert costs["stability"].sum() == pytest.approx(info["stability_cost"])
    assert costs.sum() == pytest.approx(moved.plan.objective)


# ---------------------------------------------------------------- the Eurasia weeks


def _ferry_legs() -> set[str]:
    """Legs whose departures the ferry-weather week (2026-W49) halves."""
    base = WEEKS.parent / "legs.csv"
    with open(base) as a, open(WEEKS / "legs-ferry-weather.csv") as b:
        rows_a = {r["id"]: r for r in csv.DictReader(a)}
        rows_b = {r["id"]: r for r in csv.DictReader(b)}
    return {k for k in rows_a if rows_a[k] != rows_b[k]}


def _caspian_teu(plan_dir: Path, ferry: set[str]) -> float:
    legs = read_plan(plan_dir).legs
    return float(legs[legs["leg"].str.replace("~r", "").isin(ferry)]["flow_teu"].sum())


@pytest.mark.slow
def test_eurasia_weeks_rolling(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "allocator", "batch", str(WEEKS), "--rolling"]
    base += ["--gap", "1e-3", "--threads", "1", "--quiet"]
    runs = {w: tmp_path / f"w{w:g}" for w in (0.0, 20.0)}
    procs = {  # the two rolling batches run side by side, one core each
        w: subprocess.Popen(
            [*base, "--out", str(out), "--stability-weight", str(w)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for w, out in runs.items()
    }
    for proc in procs.values():
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr.decode()

    rows = {w: ledger.rows(out) for w, out in runs.items()}
    for w, rs in rows.items():
        assert len(rs) == 8
        assert [r["status"] for r in rs] == ["succeeded"] * 8
        assert [r["period"] for r in rs] == [f"2026-W{n}" for n in range(45, 53)]  # week order
        assert [r["mip_start"] for r in rs] == ["none"] + ["accepted"] * 7, w
        assert all(r["teu_changed_corridor"] is not None for r in rs[1:])

    # a second run skips all eight
    again = subprocess.run([*base, "--out", str(runs[0.0])], capture_output=True, timeout=120)
    assert again.returncode == 0, again.stderr.decode()
    assert len(ledger.rows(runs[0.0])) == 8

    # the ferry-weather week moves volume off the Caspian crossings, and it comes back after
    ferry = _ferry_legs()
    assert ferry
    caspian = {w: _caspian_teu(runs[0.0] / f"2026-W{w}", ferry) for w in (48, 49, 50)}
    assert caspian[49] < 0.8 * caspian[48]
    assert caspian[49] < 0.8 * caspian[50]

    # a stability weight reduces the week-to-week corridor changes
    changed = {w: sum(r["teu_changed_corridor"] for r in rs[1:]) for w, rs in rows.items()}
    assert changed[20.0] < 0.8 * changed[0.0], changed
