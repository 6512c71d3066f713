"""Timed Canad (CTSND) files: read as timed instances, checked against the raw text and the
static Canad network, located problems for broken files, recognised by content, names parsed."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from allocator.cli import main
from allocator.errors import InstanceError, Problem
from allocator.instance.ctsnd import (
    CtsndName,
    list_instances,
    looks_like_ctsnd,
    parse_ctsnd,
    parse_name,
    read_ctsnd,
)
from allocator.instance.dow import read_dow
from allocator.instance.mcnf import looks_like_mcnf
from allocator.instance.validate import read_instance

DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "data"
CTSND = DATA / "ctsnd"
FILES = ("c33_.1111_.25_1", "c40_.3333_.5_2", "c62_.1666_.25_3")


def _blocks(path: Path) -> tuple[list[list[str]], list[list[str]], list[list[str]], str]:
    """Nodes, arcs and commodities records and the last line, read with the csv module."""
    with path.open(encoding="ascii", newline="") as f:
        rows = [r for r in csv.reader(f) if r]
    out: dict[str, list[list[str]]] = {}
    i = 0
    for word in ("NODES", "ARCS", "COMMODITIES"):
        assert rows[i][0] == word
        count = int(rows[i][1])
        out[word] = rows[i + 1 : i + 1 + count]
        i += 1 + count
    return out["NODES"], out["ARCS"], out["COMMODITIES"], rows[i][0]


@pytest.mark.parametrize("name", FILES)
def test_reader_matches_the_raw_text(name: str) -> None:
    path = CTSND / "instances" / f"{name}.txt"
    nodes, arcs, coms, last = _blocks(path)
    inst = read_ctsnd(path)
    assert len(inst.nodes) == len(nodes)
    assert list(inst.nodes.index) == [r[0] for r in nodes]
    assert len(inst.legs) == len(arcs)
    assert len(inst.cargo) == len(coms)
    legs = inst.legs
    for k in (0, 1, len(arcs) // 2, len(arcs) - 1):
        _, frm, to, var, fixed, cap, _, minutes, _ = arcs[k]
        leg = legs.loc[f"a{k + 1}"]
        assert (leg["from"], leg["to"]) == (frm, to)
        assert leg["transit_hours"] == pytest.approx(int(minutes) / 60)
        assert leg["cost_per_teu"] == float(var)
        assert leg["service_capacity_teu"] == float(cap)
        assert leg["service_cost"] == float(fixed)
        assert leg["capacity_teu"] != leg["capacity_teu"]  # missing: only the departures limit
    assert legs["max_services"].isna().all()  # any number of dispatches
    assert (legs["fixed_cost"] == 0).all()
    for k in (0, len(coms) // 2, len(coms) - 1):
        _, origin, dest, qty, _, _, release, due = coms[k]
        lot = inst.cargo.loc[f"k{k + 1}"]
        assert (lot["origin"], lot["destination"], lot["teu"]) == (origin, dest, float(qty))
        assert lot["ready_at"] == pytest.approx(int(release) / 60)
        assert lot["due_at"] == pytest.approx(float(due) / 60)
        assert lot["due_days"] == pytest.approx((float(due) - int(release)) / 60 / 24)
    latest_due = max(float(r[7]) for r in coms) / 60
    file_horizon = float(last.removeprefix("horizon=")) / 60
    s = inst.settings
    assert s.horizon_hours == pytest.approx(latest_due)
    assert s.horizon_hours != pytest.approx(file_horizon)  # the README's note
    assert (s.runoff_hours, s.unserved, s.unsplittable_lots) == (0.0, "forbid", True)
    assert s.co2_price_per_t == 0.0
    assert inst.classes.loc["ctsnd", "value_per_teu_day"] == 0.0  # waiting is free
    assert inst.warnings == ()


def test_network_and_demands_are_the_static_canad_instance() -> None:
    timed = read_ctsnd(CTSND / "instances" / "c40_.1666_.5_1.txt")
    static = read_dow(DATA / "mcnd" / "C" / "c40.dow")
    a, b = timed.legs, static.legs
    assert list(a.index) == list(b.index)
    assert (a["from"] == b["from"]).all()
    assert (a["to"] == b["to"]).all()
    assert np.array_equal(a["cost_per_teu"], b["cost_per_teu"])
    assert np.array_equal(a["service_capacity_teu"], b["capacity_teu"])
    assert np.array_equal(a["service_cost"], b["fixed_cost"])
    cols = ["origin", "destination", "teu"]
    assert timed.cargo[cols].equals(static.cargo[cols])


def test_every_instance_is_listed_with_its_class() -> None:
    listed = list_instances(CTSND)
    assert len(listed) == 558
    # the class sizes of the published results table (README)
    assert Counter(i.klass for i in listed) == {
        "HC/HF": 177,
        "HC/LF": 183,
        "LC/HF": 104,
        "LC/LF": 94,
    }
    first = listed[0]
    assert first.name == "c33_.1111_.25_1"
    assert first.path == CTSND / "instances" / "c33_.1111_.25_1.txt"
    assert first.attributes == CtsndName("c33", 0.1111, 0.25, 1)
    assert {i.attributes.base for i in listed} == {
        f"c{n}" for n in (33, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49)
    } | {f"c{n}" for n in (50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64)}
    assert {i.attributes.release_factor for i in listed} == {0.1111, 0.1666, 0.3333}
    assert {i.attributes.slack_factor for i in listed} == {0.25, 0.5}
    assert {i.attributes.seed for i in listed} == {1, 2, 3}


def test_names_parse_into_their_attributes() -> None:
    assert parse_name("c62_.3333_.5_3.txt") == CtsndName("c62", 0.3333, 0.5, 3)
    assert parse_name("c33_.1666_.25_2") == CtsndName("c33", 0.1666, 0.25, 2)
    with pytest.raises(ValueError, match="cNN_R_S_K"):
        parse_name("planar30")


def test_a_class_row_without_its_file_is_located(tmp_path: Path) -> None:
    (tmp_path / "instances").mkdir()
    shutil.copy(CTSND / "instances" / "c33_.1111_.25_1.txt", tmp_path / "instances")
    (tmp_path / "classes.csv").write_text(
        "instance,class\nc33_.1111_.25_1,LC/HF\nc33_.1111_.25_2,LC/HF\n"
    )
    with pytest.raises(InstanceError) as err:
        list_instances(tmp_path)
    [p] = err.value.problems
    assert p.where.endswith("classes.csv line 3")


# ---------------------------------------------------------------- recognised by content


def test_files_are_recognised_by_their_content(tmp_path: Path) -> None:
    source = CTSND / "instances" / "c33_.1111_.25_1.txt"
    head = source.read_bytes()[:4096]
    assert looks_like_ctsnd(head)
    assert not looks_like_mcnf(head)
    assert not looks_like_ctsnd((DATA / "mcnf" / "grid1").read_bytes()[:4096])
    assert not looks_like_ctsnd((DATA / "mcnd" / "C" / "c33.dow").read_bytes()[:4096])
    plain = tmp_path / "timed33"  # no suffix at all
    shutil.copy(source, plain)
    inst = read_instance(plain)
    assert inst.name == "timed33"
    assert len(inst.legs) == 228
    assert main(["validate", str(plain)]) == 0


# ---------------------------------------------------------------- broken files

GOOD = """\
NODES,3
1,1,-,-
2,2,-,-
3,3,-,-
ARCS,2
0,1,2,5,100,30,60.0,60,60.0
1,2,3,7,200,40,90.0,90,90.0
COMMODITIES,2
0,1,3,10,0,300.0,0,300.0
1,2,3,5,30,200.0,30,200.0
horizon=60
"""


def _problems(tmp_path: Path, text: str) -> list[Problem]:
    path = tmp_path / "broken.txt"
    path.write_text(text)
    with pytest.raises(InstanceError) as err:
        read_instance(path)
    return [p for p in err.value.problems if p.severity == "error"]


def test_the_small_file_reads(tmp_path: Path) -> None:
    path = tmp_path / "small.txt"
    path.write_text(GOOD)
    inst = read_instance(path)
    assert inst.legs["transit_hours"].tolist() == [1.0, 1.5]
    assert inst.ready_hours().tolist() == [0.0, 0.5]
    assert inst.due_hours().tolist() == pytest.approx([5.0, 200 / 60])
    assert inst.settings.horizon_hours == 5.0
    assert parse_ctsnd(path).horizon_min == 60.0


@pytest.mark.parametrize(
    ("old", "new", "line", "fragment"),
    [
        ("1,2,3,7,200,40,90.0,90,90.0", "1,2,3,7,200,40,90.0,90", 7, "expected 9 comma-separated"),
        ("1,2,3,7,200,40,90.0,90,90.0", "1,2,3,7,x,40,90.0,90,90.0", 7, "not a number: 'x'"),
        ("0,1,3,10,0,300.0,0,300.0", "0,1,4,10,0,300.0,0,300.0", 9, "node 4 is no integer in 1..3"),
        ("ARCS,2", "ARCS,3", 5, "says 3 records, the block has 2"),
        ("COMMODITIES,2", "COMMODITIES,1", 10, "a record after the 1 that line 8 announces"),
        ("ARCS,2", "LEGS,2", 5, "expected 'ARCS,<count>'"),
        ("3,3,-,-", "4,3,-,-", 4, "node id 4; expected 3"),
        ("horizon=60", "horizon=sixty", 11, "expected 'horizon=<minutes>' last"),
        # the reader maps the file; validation locates what the instance forbids by file line
        ("1,2,3,5,30,200.0,30,200.0", "1,2,3,5,30,20.0,30,20.0", 10, "must be after ready_at"),
        ("1,2,3,7,200,40,90.0,90,90.0", "1,2,3,7,200,0,90.0,90,90.0", 7, "greater than 0"),
        ("0,1,3,10,0,300.0,0,300.0", "0,1,3,-10,0,300.0,0,300.0", 9, "greater than 0"),
    ],
)
def test_broken_files_give_located_problems(
    tmp_path: Path, old: str, new: str, line: int, fragment: str
) -> None:
    assert old in GOOD
    problems = _problems(tmp_path, GOOD.replace(old, new))
    hits = [p for p in problems if fragment in p.message]
    assert hits, [str(p) for p in problems]
    assert hits[0].where == f"{tmp_path / 'broken.txt'} line {line}"


def test_many_broken_lines_are_listed_and_counted(tmp_path: Path) -> None:
    arcs = "".join(f"{k},1,2,5,100,30,60.0,60\n" for k in range(14))
    text = GOOD.replace(
        "ARCS,2\n0,1,2,5,100,30,60.0,60,60.0\n1,2,3,7,200,40,90.0,90,90.0\n", f"ARCS,14\n{arcs}"
    )
    problems = _problems(tmp_path, text)
    assert [p.where.rsplit(" ", 1)[-1] for p in problems[:10]] == [str(6 + k) for k in range(10)]
    assert problems[10].message == "4 more lines like these"
