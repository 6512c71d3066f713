"""Planar and grid linear multicommodity flow files: reader, reference optima, independent LP."""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.sparse import coo_array

from allocator.cli import main
from allocator.errors import InstanceError
from allocator.instance.mcnf import parse_mcnf, read_mcnf
from allocator.instance.validate import read_instance
from allocator.pipeline import RunOptions, run
from allocator.results.check import check_plan

MCNF = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "mcnf"
sys.path.insert(0, str(MCNF.parents[1]))
from mcnf import REFERENCE, origin_lp  # noqa: E402  (benchmarks/mcnf.py, the baseline)

# nodes, arcs, commodities: the size table of benchmarks/data/mcnf/README.md
SIZES = {
    "planar30": (30, 150, 92),
    "planar50": (50, 250, 267),
    "planar80": (80, 440, 543),
    "planar100": (100, 532, 1085),
    "planar150": (150, 850, 2239),
    "planar300": (300, 1680, 3584),
    "planar500": (500, 2842, 3525),
    "planar800": (800, 4388, 12756),
    "planar1000": (1000, 5200, 20026),
    "planar2500": (2500, 12990, 81430),
    "grid1": (25, 80, 50),
    "grid2": (25, 80, 100),
    "grid3": (100, 360, 50),
    "grid4": (100, 360, 100),
    "grid5": (225, 840, 100),
    "grid6": (225, 840, 200),
    "grid7": (400, 1520, 400),
    "grid8": (625, 2400, 500),
    "grid9": (625, 2400, 1000),
    "grid10": (625, 2400, 2000),
    "grid11": (625, 2400, 4000),
    "grid12": (900, 3480, 6000),
    "grid13": (900, 3480, 12000),
    "grid14": (1225, 4760, 16000),
    "grid15": (1225, 4760, 32000),
}

# 8 TEU 1 -> 3 (demand 4, scale 2): 5 TEU via node 2 at 1 + 1, 3 TEU direct at 5 -> 10 + 15 = 25
TINY = """#Instance: tiny
3 3 1 2.0
1 2 1.000000 5.000000
2 3 1.000000 5.000000
1 3 5.000000 10.000000
1 3 4.000000
"""


def _write(tmp_path: Path, text: str, name: str = "tiny") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", list(SIZES))
def test_every_shipped_file_is_read_with_the_sizes_of_its_header(name: str) -> None:
    inst = read_instance(MCNF / name)  # no suffix: recognised by its first lines
    n, m, k = SIZES[name]
    assert (len(inst.nodes), len(inst.legs), len(inst.cargo)) == (n, m, k)
    assert inst.name == name
    assert inst.settings.unserved == "forbid"
    assert inst.cargo["due_days"].isna().all()
    assert set(inst.cargo["class"]) == {"mcnf"}
    assert (inst.legs["fixed_cost"] == 0).all()  # no candidate legs: an LP


def test_legs_and_lots_carry_the_numbers_of_the_file() -> None:
    """The last arc and commodity lines of planar30, read by hand."""
    lines = (MCNF / "planar30").read_text().splitlines()
    frm, to, cost, cap = lines[1 + 150].split()
    origin, dest, demand = lines[1 + 150 + 92].split()
    inst = read_mcnf(MCNF / "planar30")
    leg, lot = inst.legs.iloc[-1], inst.cargo.iloc[-1]
    assert (leg["from"], leg["to"]) == (frm, to)
    assert (leg["cost_per_teu"], leg["capacity_teu"]) == (float(cost), float(cap))
    assert (lot["origin"], lot["destination"], lot["teu"]) == (origin, dest, float(demand))


@pytest.mark.parametrize("name", ["tiny", "tiny.txt"])
def test_tiny_file_maps_and_solves_by_hand(tmp_path: Path, name: str) -> None:
    inst = read_instance(_write(tmp_path, TINY, name))
    assert list(inst.legs["cost_per_teu"]) == [1, 1, 5]
    assert list(inst.legs["capacity_teu"]) == [5, 5, 10]
    assert inst.cargo["teu"].tolist() == [8.0]  # demand times the scale
    res = run(inst, RunOptions(model="colgen"))
    assert res.plan.objective == pytest.approx(25)
    assert res.plan.unserved["teu"].sum() == 0
    assert check_plan(res.plan, inst).ok


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("3 3 1 1.0\n", "line 1", "comment line starting with '#'"),
        ("#x\n3 3 1\n", "line 2", "expected the header"),
        ("#x\n3 2 1 1.0\n1 2 1 1\n1 3 4\n", "tiny:", "header says 2 arcs and 1 commodities"),
        ("#x\n3 1 1 1.0\n1 2 1\n1 3 4\n", "line 3", "expected 4 numbers"),
        ("#x\n3 1 1 1.0\n\n1 2 1 1\n\n1 3 4 5\n", "line 6", "expected 3 numbers"),
        ("#x\n3 1 1 1.0\n1 2 1 1\n1 3 x\n", "line 4", "not a number: 'x'"),
        ("#x\n3 1 1 1.0\n1 4 1 1\n1 3 4\n", "line 3", "node 4 is no integer in 1..3"),
        ("#x\n3 1 1 1.0\n1 2 1 1\n1.5 3 4\n", "line 4", "node 1.5 is no integer"),
        ("#x\n3 1 1 1.0\n1 2 1 1\n1 3 inf\n", "line 4", "demand must be finite"),
    ],
)
def test_malformed_files_name_file_and_line(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InstanceError) as info:
        parse_mcnf(path)
    problem = str(info.value.problems[0])
    assert problem.startswith(f"{path} {where}" if where.startswith("line") else f"{path}:")
    assert message in problem


def test_invalid_values_are_located_by_file_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "#x\n3 2 1 1.0\n1 2 1 1\n2 3 1 -4\n1 3 1\n")
    with pytest.raises(InstanceError) as info:
        read_instance(path)
    assert any(
        str(p).startswith(f"{path} line 4") and "capacity_teu" in str(p)
        for p in info.value.problems
    )


def test_many_bad_lines_are_listed_ten_and_counted(tmp_path: Path) -> None:
    arcs = "".join("1 9 1 1\n" for _ in range(15))
    with pytest.raises(InstanceError) as info:
        parse_mcnf(_write(tmp_path, f"#x\n3 15 0 1.0\n{arcs}"))
    problems = info.value.problems
    assert len(problems) == 11
    assert problems[-1].message == "5 more lines like these"


def test_a_suffix_less_file_of_another_kind_is_an_unknown_container(tmp_path: Path) -> None:
    with pytest.raises(InstanceError, match="unknown container"):
        read_instance(_write(tmp_path, "nodes,legs\n1,2\n", "notes"))


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("grid1", "colgen"),
        ("grid1", "arc-agg"),
        ("planar30", "colgen"),
        ("planar30", "arc-agg"),
        ("grid4", "colgen"),
        ("planar50", "colgen"),
    ],
)
def test_reference_optimum_to_the_unit(name: str, model: str) -> None:
    res = run(MCNF / name, RunOptions(model=model, prices=False))
    assert res.result.termination == "optimal"
    assert round(res.plan.objective) == REFERENCE[name]
    rep = check_plan(res.plan, res.instance)
    assert rep.ok, rep.errors
    assert rep.recomputed_objective == pytest.approx(res.plan.objective, rel=1e-9)


def test_grid1_by_an_independent_per_commodity_lp() -> None:
    """The file parsed line by line and one flow per (commodity, arc), solved by scipy/HiGHS:
    the README optimum, and the one colgen reaches."""
    lines = [ln.split() for ln in (MCNF / "grid1").read_text().splitlines()[1:] if ln.strip()]
    n, m, k = (int(v) for v in lines[0][:3])
    arcs = np.array(lines[1 : 1 + m], dtype=float)
    com = np.array(lines[1 + m : 1 + m + k], dtype=float)
    tail, head = arcs[:, 0].astype(int) - 1, arcs[:, 1].astype(int) - 1
    rows, cols, vals = [], [], []
    b_eq = np.zeros(k * n)
    for i, (o, t, q) in enumerate(com):
        c = i * m + np.arange(m)
        rows += [i * n + tail, i * n + head]
        cols += [c, c]
        vals += [np.ones(m), -np.ones(m)]
        b_eq[i * n + int(o) - 1] += q
        b_eq[i * n + int(t) - 1] -= q
    a_eq = coo_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))))
    a_ub = coo_array((np.ones(k * m), (np.tile(np.arange(m), k), np.arange(k * m))))
    lp = linprog(
        np.tile(arcs[:, 2], k), A_ub=a_ub, b_ub=arcs[:, 3], A_eq=a_eq, b_eq=b_eq, method="highs"
    )
    assert lp.status == 0
    assert lp.fun == pytest.approx(827_319, abs=1e-6 * 827_319)
    ours = run(MCNF / "grid1", RunOptions(model="colgen", prices=False)).plan.objective
    assert ours == pytest.approx(lp.fun, rel=1e-9)


def test_the_baseline_lp_aggregated_by_origin_reaches_the_reference() -> None:
    d = parse_mcnf(MCNF / "planar30")
    c, a_eq, b_eq, a_ub, b_ub = origin_lp(d)
    assert a_eq.shape == (29 * 30, 29 * 150)  # 29 distinct origins
    lp = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, method="highs-ds")
    assert lp.status == 0
    assert round(lp.fun) == REFERENCE["planar30"]


def test_allocator_bench_runs_a_planar_grid_file(tmp_path: Path) -> None:
    data = tmp_path / "mcnf"
    data.mkdir()
    shutil.copy(MCNF / "grid2", data / "grid2")
    code = main(
        ["bench", "-i", str(data / "grid*"), "-m", "colgen", "--time-limit", "60"]
        + ["-o", str(tmp_path / "out"), "-q"]
    )
    assert code == 0
    with (tmp_path / "out" / "bench.csv").open(encoding="utf-8") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["instance"], row["status"]) == ("grid2", "optimal")
    assert round(float(row["objective"])) == REFERENCE["grid2"]
