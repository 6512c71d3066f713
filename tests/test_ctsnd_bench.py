"""The CTSND benchmark: its tiers cover the data, per-class statistics and the report's targets
by hand, and a real `allocator bench --set ctsnd` run of the smallest instance."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import pytest

from allocator.cli import main
from allocator.instance.ctsnd import QUICK_PER_CLASS, list_instances, select
from allocator.research.bench import (
    by_class,
    decode_progress,
    encode_progress,
    read_csv,
    time_to_gap,
)

REPO = Path(__file__).resolve().parents[1]
CTSND = REPO / "benchmarks" / "data" / "ctsnd"
sys.path.insert(0, str(REPO / "benchmarks"))
from ctsnd import report, speed_ratios, targets  # noqa: E402  (benchmarks/ctsnd.py)

SMALLEST = "c33_.1111_.25_1"  # 20 nodes, 228 arcs, 39 commodities: the fewest of the set


def test_standard_tier_covers_every_base_deadline_release_factor_and_class() -> None:
    listed = list_instances(CTSND)
    chosen = select(listed, "standard")
    bases = {i.attributes.base for i in listed}
    assert len(chosen) == len(bases)  # one instance per base network
    assert {i.attributes.base for i in chosen} == bases
    assert {i.attributes.slack_factor for i in chosen} == {
        i.attributes.slack_factor for i in listed
    }
    assert {i.attributes.release_factor for i in chosen} == {
        i.attributes.release_factor for i in listed
    }
    assert {i.klass for i in chosen} == {i.klass for i in listed}
    assert set(chosen) <= set(listed)


def test_quick_tier_is_two_standard_instances_per_class() -> None:
    listed = list_instances(CTSND)
    quick = select(listed, "quick")
    assert set(quick) <= set(select(listed, "standard"))
    assert Counter(i.klass for i in quick) == dict.fromkeys(
        {i.klass for i in listed}, QUICK_PER_CLASS
    )
    assert {i.attributes.slack_factor for i in quick} == {0.25, 0.5}
    assert select(listed, "all") == sorted(listed, key=lambda i: i.name)
    with pytest.raises(ValueError, match="quick, standard, all"):
        select(listed, "most")


def test_time_to_gap_by_hand() -> None:
    inf = math.inf
    points = [(1.0, inf, 50.0), (2.0, 120.0, 90.0), (4.0, 101.0, 99.5), (6.0, 100.0, 100.0)]
    assert time_to_gap(points, 0.01) == 6.0  # at 4 s: (101 - 99.5) / 101 = 1.49 %
    assert time_to_gap(points, 0.015) == 4.0
    assert time_to_gap(points, 0.3) == 2.0  # (120 - 90) / 120 = 25 %
    assert time_to_gap(points, 0.0) == 6.0
    assert time_to_gap(points[:2], 0.01) is None
    # the progress never shows 1 %, the final result does: counted at the run's time
    assert time_to_gap(points[:2], 0.01, final_gap=0.004, final_s=9.5) == 9.5
    assert time_to_gap(points[:2], 0.01, final_gap=0.02, final_s=9.5) is None


def _row(
    instance: str,
    klass: str,
    model: str,
    gap: float | None,
    time_s: float,
    iterations: int | None,
    progress: list[tuple[float, float, float]] | None = None,
) -> dict:
    return {
        "instance": instance,
        "class": klass,
        "model": model,
        "status": "optimal" if gap is not None and gap <= 0.01 else "time_limit",
        "objective": None if gap is None else 100.0,
        "bound": None if gap is None else 100.0 * (1 - gap),
        "gap": gap,
        "gap_target": 0.01,
        "time_s": time_s,
        "time_limit_s": 60.0,
        "iterations": iterations,
        "check_ok": None if gap is None else True,
        "progress": encode_progress(progress or []),
    }


ROWS = [
    # HC/HF, ddd: solved, not solved (3 %), no plan (killed at 90 s, counts at the 60 s limit)
    _row("a", "HC/HF", "ddd", 0.005, 10.0, 4),
    _row("b", "HC/HF", "ddd", 0.03, 60.5, 7),
    _row("c", "HC/HF", "ddd", None, 90.0, None),
    # LC/LF, ddd: both solved
    _row("d", "LC/LF", "ddd", 0.0, 2.0, 1),
    _row("e", "LC/LF", "ddd", 0.01, 4.0, 3),
    # LC/LF, time: one solved
    _row("d", "LC/LF", "time", 0.0, 30.0, 0),
    _row("e", "LC/LF", "time", 0.2, 60.2, 0),
]


def test_per_class_statistics_by_hand() -> None:
    stats = by_class(ROWS)
    assert list(stats) == [("HC/HF", "ddd"), ("LC/LF", "ddd"), ("LC/LF", "time")]
    hf = stats[("HC/HF", "ddd")]
    assert hf["runs"] == 3
    assert hf["solved_pct"] == pytest.approx(100 / 3)
    assert hf["mean_s"] == pytest.approx((10 + 60 + 60) / 3)  # times at most the limit
    assert hf["mean_gap"] == pytest.approx((0.005 + 0.03) / 2)  # the two runs with a plan
    assert hf["with_gap"] == 2
    assert hf["mean_iterations"] == pytest.approx(5.5)
    lf = stats[("LC/LF", "ddd")]
    assert (lf["solved_pct"], lf["mean_s"], lf["mean_gap"]) == pytest.approx((100, 3, 0.005))
    assert lf["mean_iterations"] == pytest.approx(2.0)
    t = stats[("LC/LF", "time")]
    assert (t["solved_pct"], t["mean_s"], t["mean_gap"]) == pytest.approx((50, 45, 0.1))
    text = report(ROWS, 60.0)
    assert "| HC/HF | ddd | 3 | 33.3 % | 43.3 | 1.75 % (2 with a plan) | 5.5 |" in text
    assert "| LC/LF | time | 2 | 50.0 % | 45.0 | 10.00 % | 0.0 |" in text
    assert "| HC/HF | published interval DDD | 177 | 92.7 % | 576.9 | 1.04 % | 17.8 |" in text


def test_targets_and_speed_ratio_by_hand() -> None:
    rows = [
        _row("d", "LC/LF", "ddd", 0.0, 2.0, 1, [(1.0, 100.0, 99.5)]),
        _row("e", "LC/LF", "ddd", 0.01, 4.0, 3, [(0.5, 100.0, 99.0)]),
        _row("d", "LC/LF", "time", 0.0, 30.0, 0, [(20.0, 100.0, 98.0), (25.0, 100.0, 100.0)]),
        _row("e", "LC/LF", "time", 0.005, 40.0, 0, [(40.0, 100.0, 99.5)]),
        _row("a", "HC/HF", "ddd", 0.005, 10.0, 4, [(8.0, 100.0, 99.5)]),
        _row("a", "HC/HF", "time", 0.2, 60.0, 0, [(60.0, 100.0, 80.0)]),  # not reached
        _row("b", "HC/HF", "ddd", 0.03, 60.0, 7, [(60.0, 100.0, 97.0)]),
    ]
    assert speed_ratios(rows, "ddd", "time") == [("d", 25.0, 1.0), ("e", 40.0, 0.5)]
    got = {t.text: (t.measured, t.verdict) for t in targets(rows, "ddd", "time")}
    assert got["every LC/LF instance solved to 1 %"] == ("2 of 2 (100.0 %)", "met")
    assert got["HC/HF: at least 50 % solved to 1 %"] == ("1 of 2 (50.0 %)", "met")
    assert got["every LC/HF instance solved to 1 %"][1] == "not measured"
    ratio = math.sqrt(25.0 * 80.0)  # geometric mean of 25x and 80x
    speed = "ddd at least 10x faster than time in time to 1 % (geometric mean)"
    assert got[speed] == (f"{ratio:.2f}x on 2 instances", "met")
    slower = [r | {"model": "time"} if r["model"] == "ddd" else r | {"model": "ddd"} for r in rows]
    assert {t.text: t.verdict for t in targets(slower, "ddd", "time")}[speed] == "missed"


def test_bench_of_a_ctsnd_set_records_class_and_a_checked_plan(tmp_path: Path) -> None:
    """`allocator bench --set ctsnd` on a set folder holding the smallest instance: the time
    recipe at a 60-minute step, a short limit; the row carries the class and name attributes."""
    data = tmp_path / "set"
    (data / "instances").mkdir(parents=True)
    shutil.copy(CTSND / "instances" / f"{SMALLEST}.txt", data / "instances")
    (data / "classes.csv").write_text(f"instance,class\n{SMALLEST},LC/HF\n")
    out = tmp_path / "out"
    args = ["bench", "--set", "ctsnd", "--set-dir", str(data), "--subset", "all", "-o", str(out)]
    code = main(
        [*args, "--model", "time", "--step-minutes", "60", "--time-limit", "30", "--gap", "0.01"]
    )
    assert code == 0
    (row,) = read_csv(out / "bench.csv")
    assert (row["instance"], row["class"], row["base"]) == (SMALLEST, "LC/HF", "c33")
    assert (row["release_factor"], row["slack_factor"], row["step_minutes"]) == (0.1111, 0.25, 60)
    assert row["check_ok"] is True
    assert row["status"] == "optimal"
    assert row["gap"] <= 0.01
    assert row["gap_target"] == 0.01
    assert row["iterations"] == 0  # one solve
    assert 0 < row["time_to_gap_s"] <= row["time_s"]
    assert row["time_to_gap_s"] == time_to_gap(decode_progress(row["progress"]), 0.01)
    assert row["peak_mb"] > 10
    conn = sqlite3.connect(out / "runs.sqlite")
    (options,) = conn.execute("SELECT options_json FROM runs").fetchone()
    conn.close()
    recorded = json.loads(options)
    assert (recorded["step_minutes"], recorded["mip_rel_gap"]) == (60.0, 0.01)
    summary = (out / "summary.md").read_text()
    assert "| LC/HF | time | 1 | 100.0 % |" in summary
    assert main([*args, "--set", "nope"]) == 2
    assert main(["bench", "-o", str(out)]) == 2  # no instances
