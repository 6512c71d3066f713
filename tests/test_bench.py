"""allocator bench: one process per pair, CSV rows, shifted geometric means, performance profiles."""

from __future__ import annotations

import json
import math
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from allocator.cli import main
from allocator.instance.io import instance_hash
from allocator.instance.validate import read_instance
from allocator.research.bench import (
    BenchOptions,
    by_problem,
    decode_progress,
    encode_progress,
    match_markdown,
    profile_ratios,
    read_csv,
    run_pair,
    shifted_geomean,
    time_to_target,
    times_to_match,
)

# 4 TEU 1->3: direct costs 10 + 4*50 = 210, via 2 costs 200 + 80 = 280 -> 210
TINY_A = """MULTIGEN.DAT:
       3       3       1
       1       2      10      5     100       1       1
       2       3      10      5     100       1       2
       1       3      50      9      10       1       3
       1       3       4
"""
# node 3 unreachable from 1: infeasible under forbid
TINY_B = """ MULTIGEN.DAT:
       3       1       1
       1       2      10      5     100       1       1
       1       3       4
"""


def test_shifted_geomean_by_hand() -> None:
    assert shifted_geomean([0.0, 0.0]) == pytest.approx(0.0)
    # (1+10)(19+10) = 319 -> sqrt(319) - 10
    assert shifted_geomean([1.0, 19.0]) == pytest.approx(math.sqrt(319) - 10)


def test_profile_ratios_by_hand() -> None:
    rows = [
        {"instance": "i1", "model": "a", "status": "optimal", "time_s": 2.0},
        {"instance": "i1", "model": "b", "status": "optimal", "time_s": 4.0},
        {"instance": "i2", "model": "a", "status": "time_limit", "time_s": 9.0},
        {"instance": "i2", "model": "b", "status": "optimal", "time_s": 3.0},
    ]
    r = profile_ratios(rows, 10.0)
    np.testing.assert_allclose(r["a"], [1.0, np.inf])
    np.testing.assert_allclose(r["b"], [2.0, 1.0])


def test_time_to_target_by_hand() -> None:
    inf = math.inf
    points = [(1.0, inf, 90.0), (2.0, 120.0, 95.0), (5.0, 100.0, 99.0), (8.0, 100.0, 100.0)]
    assert time_to_target(points, 100.0, 100.0) == 8.0
    assert time_to_target(points, 120.0, 95.0) == 2.0
    assert time_to_target(points, inf, 95.0) == 2.0  # a bound only
    assert time_to_target(points, 110.0, -inf) == 5.0  # a plan only
    assert time_to_target(points, 99.0, 90.0) is None
    assert time_to_target([(3.0, 100.0005, 99.9995)], 100.0, 100.0) == 3.0  # within 1e-5
    assert time_to_target([(3.0, 100.01, 100.0)], 100.0, 100.0) is None


def test_progress_round_trip_keeps_missing_values_and_adds_the_offset() -> None:
    text = encode_progress([(0.5, math.inf, -math.inf), (1.25, 7.5, 2.0)], offset=2.0)
    assert text == "[[2.5,null,null],[3.25,7.5,2.0]]"
    assert decode_progress(text) == [(2.5, math.inf, -math.inf), (3.25, 7.5, 2.0)]
    assert decode_progress(None) == []


def test_times_to_match_and_speed_up_by_hand() -> None:
    def row(instance: str, model: str, obj: float | None, bound: float | None, pts: list) -> dict:
        progress = encode_progress(pts)
        return {"instance": instance, "model": model, "objective": obj, "bound": bound} | {
            "progress": progress
        }

    inf = math.inf
    rows = [
        row("i1", "base", 100.0, 100.0, [(12.0, 130.0, 80.0), (20.0, 100.0, 100.0)]),
        row("i1", "fast", 100.0, 100.0, [(2.0, 110.0, 95.0), (5.0, 100.0, 100.0)]),
        row("i2", "base", 50.0, 40.0, [(30.0, 60.0, 30.0), (55.0, 50.0, 40.0)]),
        row("i2", "fast", 45.0, 42.0, [(4.0, 50.0, 41.0)]),
        row("i3", "base", None, None, [(60.0, inf, -inf)]),  # nothing to reach: left out
        row("i3", "fast", 70.0, 60.0, [(9.0, 70.0, 60.0)]),
        row("i4", "base", 10.0, 9.0, [(15.0, 10.0, 9.0)]),
        row("i4", "fast", 11.0, 8.0, [(3.0, 11.0, 8.0)]),  # never reaches it
    ]
    hit = times_to_match(rows, "base")
    assert hit == {
        ("i1", "base"): 20.0,
        ("i1", "fast"): 5.0,
        ("i2", "base"): 55.0,
        ("i2", "fast"): 4.0,
        ("i4", "base"): 15.0,
        ("i4", "fast"): None,
    }
    lines = match_markdown(rows, "base", ["i1", "i2", "i3", "i4"], 60.0)
    text = "\n".join(lines)
    assert "| i3 |" not in text
    assert "| i4 | 10.00 | 9.00 | 15.0 | not reached |" in text
    base = ((20 + 10) * (55 + 10) * (15 + 10)) ** (1 / 3) - 10
    fast = ((5 + 10) * (4 + 10) * (60 + 10)) ** (1 / 3) - 10  # not reached: the time limit
    assert f"| fast | 2 of 3 | {fast:.2f} | {base / fast:.2f} |" in text
    assert f"| base | 3 of 3 | {base:.2f} | 1.00 |" in text


def test_bench_two_instances_two_models(tmp_path: Path) -> None:
    (tmp_path / "a.dow").write_text(TINY_A)
    (tmp_path / "b.dow").write_text(TINY_B)
    out = tmp_path / "out"
    code = main(
        [
            "bench",
            "--instances",
            str(tmp_path / "*.dow"),
            "--models",
            "arc-weak,arc-strong",
            "--time-limit",
            "20",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = read_csv(out / "bench.csv")
    assert [(r["instance"], r["model"]) for r in rows] == [
        ("a", "arc-weak"),
        ("a", "arc-strong"),
        ("b", "arc-weak"),
        ("b", "arc-strong"),
    ]
    for r in rows[:2]:
        assert r["status"] == "optimal"
        assert r["objective"] == pytest.approx(210)
        assert r["check_ok"] is True
        assert r["peak_mb"] > 10
        assert r["n_vars"] > 0
        assert r["solver_version"]
        assert r["seed"] == 0
        points = decode_progress(r["progress"])
        times = [t for t, _, _ in points]
        assert times == sorted(times)
        assert 0 < times[-1] <= r["time_s"]
        assert points[-1][1:] == pytest.approx((210, 210))
    assert {r["status"] for r in rows[2:]} == {"infeasible"}
    _assert_ledger(out, rows)

    # geomeans recomputed by hand: the infeasible runs count at the time limit (20 s)
    summary = (out / "summary.md").read_text()
    for model, (ra, _) in {"arc-weak": rows[0::2], "arc-strong": rows[1::2]}.items():
        expected = math.sqrt((ra["time_s"] + 10) * (20 + 10)) - 10
        assert f"| {model} | 2 | 1 | {expected:.2f} |" in summary

    assert "Time to reach arc-weak's final result" in summary
    assert "| a | 210.00 | 210.00 |" in summary

    png = (out / "profile.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    root = ET.parse(out / "profile.svg").getroot()
    assert root.tag.endswith("svg")


def test_bench_peak_memory_is_the_runs_own_not_its_parents(tmp_path: Path) -> None:
    """A spawned run reports its own peak: ``ru_maxrss`` would carry this process's (it survives
    fork and exec on Linux), ``VmHWM`` starts afresh with the new address space."""
    (tmp_path / "a.dow").write_text(TINY_A)
    ballast = np.ones(75_000_000)  # 572 MiB resident in this process
    row = run_pair(tmp_path / "a.dow", "arc-strong", BenchOptions())
    assert row["status"] == "optimal"
    assert 10 < row["peak_mb"] < ballast.nbytes / 2**20


def test_bench_unknown_model_exits_2(tmp_path: Path) -> None:
    (tmp_path / "a.dow").write_text(TINY_A)
    args = ["bench", "-i", str(tmp_path / "a.dow"), "-m", "nope", "-o", str(tmp_path / "o")]
    assert main(args) == 2


def test_bench_seeds_run_every_pair_per_seed(tmp_path: Path) -> None:
    """--seeds 0,3: each pair once per seed; statistics count every (instance, seed)."""
    (tmp_path / "a.dow").write_text(TINY_A)
    out = tmp_path / "out"
    args = ["bench", "-i", str(tmp_path / "a.dow"), "-m", "arc-weak,arc-strong", "-o", str(out)]
    assert main([*args, "--seeds", "0,3", "--time-limit", "20"]) == 0
    rows = read_csv(out / "bench.csv")
    assert [(r["model"], r["seed"]) for r in rows] == [
        ("arc-weak", 0),
        ("arc-strong", 0),
        ("arc-weak", 3),
        ("arc-strong", 3),
    ]
    assert all(r["objective"] == pytest.approx(210) for r in rows)
    conn = sqlite3.connect(out / "runs.sqlite")
    options = [json.loads(o) for (o,) in conn.execute("SELECT options_json FROM runs")]
    conn.close()
    assert sorted(o["seed"] for o in options) == [0, 0, 3, 3]
    summary = (out / "summary.md").read_text()
    assert "| a/s0 | arc-weak | optimal |" in summary
    assert "| a/s3 | arc-strong | optimal |" in summary
    assert [r["instance"] for r in by_problem(rows)] == ["a/s0", "a/s0", "a/s3", "a/s3"]
    assert by_problem(rows[:2]) == rows[:2]  # one seed: instance names unchanged
    assert main([*args, "--seeds", "0,x"]) == 2


def _assert_ledger(out: Path, rows: list[dict]) -> None:
    """The four pairs are in DIR/runs.sqlite, read with plain sqlite3."""
    conn = sqlite3.connect(out / "runs.sqlite")
    conn.row_factory = sqlite3.Row
    got = conn.execute("SELECT * FROM runs ORDER BY started_at, rowid").fetchall()
    conn.close()
    assert [(r["instance_name"], r["model"]) for r in got] == [
        (r["instance"], r["model"]) for r in rows
    ]
    assert [r["status"] for r in got] == ["succeeded", "succeeded", "failed", "failed"]
    assert [r["termination"] for r in got] == ["optimal", "optimal", "infeasible", "infeasible"]
    assert len({r["run_id"] for r in got}) == 4
    assert len({r["batch_id"] for r in got}) == 1
    assert got[0]["batch_id"].startswith("bench-")
    assert got[0]["objective"] == pytest.approx(210)
    assert got[0]["instance_sha256"] == instance_hash(read_instance(rows[0]["path"]))
    assert got[0]["executor"] == "bench"
    assert got[0]["peak_memory_mb"] > 10
    assert got[0]["wall_seconds"] >= got[0]["total_seconds"] > 0
    assert '"bench":true' in got[0]["options_json"]
    assert got[2]["error"]  # why the infeasible instance failed
    assert got[2]["objective"] is None


def test_bench_runs_append_to_the_ledger_and_runs_lists_them(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from allocator.cli import console

    monkeypatch.setattr(console, "width", 250)
    (tmp_path / "a.dow").write_text(TINY_A)
    out = tmp_path / "out"
    args = ["bench", "-i", str(tmp_path / "a.dow"), "-m", "arc-strong", "-o", str(out)]
    assert main(args) == 0
    assert main([*args[:-4], "-m", "arc-weak", "-o", str(out)]) == 0  # a second invocation
    capsys.readouterr()
    assert main(["runs", str(out), "--format", "table"]) == 0
    text = capsys.readouterr().out
    assert "2 runs" in text
    assert "arc-strong" in text
    assert "arc-weak" in text
    assert text.count("succeeded") == 2
