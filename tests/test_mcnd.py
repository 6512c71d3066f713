"""Canad MCND ``.dow`` reader: format quirks, reference optima, infeasible instances."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from allocator.cli import main
from allocator.errors import InfeasibleError, InstanceError
from allocator.instance.dow import REFERENCE_OPTIMA, parse_dow, read_dow
from allocator.instance.validate import read_instance
from allocator.pipeline import RunOptions, run
from allocator.results.check import check_plan

MCND = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "mcnd"


def _dow(name: str) -> Path:
    return MCND / ("C" if name.startswith("c") else "R") / f"{name}.dow"


TINY = """MULTIGEN.DAT:
       3       3       1
       1       2      10      5     100       1       1
       2       3      10      5     100       1       2
       1       3      50      9      10       1       3
       1       3       4
"""


def test_tiny_file_maps_arcs_to_candidate_legs(tmp_path: Path) -> None:
    path = tmp_path / "tiny.dow"
    path.write_text(TINY)
    inst = read_instance(path)
    assert inst.name == "tiny"
    assert list(inst.nodes.index) == ["1", "2", "3"]
    assert set(inst.nodes["country"]) == {"ZZ"}
    legs = inst.legs
    assert list(legs["cost_per_teu"]) == [10, 10, 50]
    assert list(legs["capacity_teu"]) == [5, 5, 9]
    assert list(legs["fixed_cost"]) == [100, 100, 10]
    assert inst.cargo["teu"].tolist() == [4.0]
    assert inst.settings.unserved == "forbid"
    # 4 TEU: via 2 costs 2*100 + 4*20 = 280, direct 10 + 4*50 = 210
    res = run(inst)
    assert res.plan.objective == pytest.approx(210)
    assert check_plan(res.plan, inst).ok


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("NOTDOW\n 1 0 0\n", "expected the tag"),
        ("MULTIGEN.DAT:\n 3 2 0\n 1 2 1 1 1 1 1\n", "header says 2 arcs"),
        ("MULTIGEN.DAT:\n 3 1 0\n 1 2 1 x 1 1 1\n", "not an integer"),
        ("MULTIGEN.DAT:\n 3 1 0\n 1 2 1 1 1 1\n", "expected 7 integers"),
        ("MULTIGEN.DAT:\n 3 1 0\n 1 4 1 1 1 1 1\n", "node 4 outside 1..3"),
    ],
)
def test_malformed_files_raise_instance_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.dow"
    path.write_text(text)
    with pytest.raises(InstanceError) as info:
        read_dow(path)
    assert message in str(info.value.problems[0])


def test_header_quirks() -> None:
    r = parse_dow(_dow("r02.7"))  # leading space in the tag; 25 arcs, not 35
    assert r.n_nodes == 10
    assert r.arcs.shape == (25, 5)
    assert r.commodities.shape == (25, 3)
    c = parse_dow(_dow("c33"))
    assert (c.n_nodes, len(c.arcs), len(c.commodities)) == (20, 228, 39)
    assert np.all(c.commodities[:, 2] > 0)


@pytest.mark.parametrize("name", ["c33", "c41", "r01.1", "r04.7"])
def test_reference_optimum_with_arc_strong(name: str) -> None:
    res = run(_dow(name), RunOptions(model="arc-strong"))
    assert res.result.termination == "optimal"
    assert res.plan is not None
    assert res.plan.objective == pytest.approx(REFERENCE_OPTIMA[name], abs=0.01)
    rep = check_plan(res.plan, res.instance)
    assert rep.ok, rep.errors
    assert rep.recomputed_objective == pytest.approx(res.plan.objective, rel=1e-9)


@pytest.mark.parametrize("name", ["r01.7", "r02.7", "r03.7"])
def test_infeasible_instances_exit_3_with_a_clear_message(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InfeasibleError, match="no feasible plan"):
        run(_dow(name))
    code = main(["solve", str(_dow(name)), "--out", str(tmp_path / "plan"), "-q"])
    assert code == 3
    _, err = capsys.readouterr()
    assert "no feasible plan" in err
    assert "Traceback" not in err
    assert not (tmp_path / "plan").exists()


@pytest.mark.parametrize("name", ["c33", "r04.7"])
def test_lazy_strong_linking_reaches_the_reference_with_few_rows(name: str) -> None:
    """arc-cuts: the root cut loop adds only the violated strong-linking rows, yet the optimum and
    the root bound are those of arc-strong."""
    strong = run(_dow(name), RunOptions(model="arc-strong"))
    cuts = run(_dow(name), RunOptions(model="arc-cuts"))
    assert cuts.plan.objective == pytest.approx(REFERENCE_OPTIMA[name], abs=0.01)
    assert cuts.result.root_bound == pytest.approx(strong.result.root_bound, rel=1e-9)
    added = cuts.result.cuts_added
    assert 0 < added < len(strong.built.model.con_linking_strong) / 10
    assert cuts.result.n_cons < strong.result.n_cons
    assert check_plan(cuts.plan, cuts.instance).ok


def _monotone(points: tuple[tuple[float, float, float], ...]) -> None:
    times, plans, bounds = (np.array(v) for v in zip(*points, strict=True))
    assert np.all(times[1:] >= times[:-1])
    assert np.all(plans[1:] <= plans[:-1])  # best plan so far (inf before the first)
    assert np.all(bounds[1:] >= bounds[:-1])  # best bound so far


def test_progress_of_the_cut_loop_and_the_mip() -> None:
    """arc-cuts records every cut-loop LP bound and HiGHS's MIP bounds; it ends at its result."""
    res = run(_dow("c33"), RunOptions(model="arc-cuts"))
    r = res.result
    _monotone(r.progress)
    assert r.progress[-1][1:] == pytest.approx((r.objective, r.bound), rel=1e-12)
    assert r.objective == pytest.approx(REFERENCE_OPTIMA["c33"], abs=0.01)
    bounds = [b for _, _, b in r.progress]
    assert any(b == pytest.approx(r.root_bound, rel=1e-12) for b in bounds)  # last LP of the loop
    assert bounds[0] < r.root_bound  # the first LP has the weak linking only
    assert r.progress[-1][0] <= r.handoff_seconds + r.solve_seconds + 1e-6


def test_progress_of_colgen_climbs_from_the_lp_bound_to_the_proven_optimum() -> None:
    """Branch and price: bounds from column generation's Lagrangian and LP bounds, then from
    the tree, up to the optimum it proves."""
    r = run(_dow("c33"), RunOptions(model="colgen")).result
    _monotone(r.progress)
    bounds = [b for _, _, b in r.progress]
    assert any(b == pytest.approx(r.root_bound, rel=1e-12) for b in bounds)  # the root LP bound
    assert r.root_bound < REFERENCE_OPTIMA["c33"]  # 422,853.26: the tree closes the gap
    assert r.termination == "optimal"
    assert r.progress[-1][1:] == pytest.approx((r.objective, r.bound), rel=1e-12)
    assert r.objective == pytest.approx(REFERENCE_OPTIMA["c33"], abs=0.01)
    assert r.progress[-1][1] == pytest.approx(r.objective, rel=1e-12)
