"""allocator batch on local worker processes: ledger, resume, failures, a killed worker, and
interrupting a real batch process with SIGTERM and SIGINT."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import N_INSTANCES

from allocator.batch import ledger
from allocator.batch.runner import CRASH_ENV, BatchError, BatchOptions, discover, run_batch
from allocator.cli import main
from allocator.deliver import MARKER
from allocator.instance.generate import generate_instance
from allocator.instance.io import write_instance
from allocator.instance.validate import read_instance
from allocator.options import RollingOptions, RunOptions
from allocator.results import RUN_INSTANCE, Plan, read_plan
from allocator.results.check import check_plan
from allocator.solve import SolveOptions


def _rows(out: Path) -> list[dict]:
    return ledger.rows(out)


def _status(out: Path) -> dict[str, list[str]]:
    by: dict[str, list[str]] = {}
    for r in _rows(out):
        by.setdefault(Path(r["instance_path"]).name, []).append(r["status"])
    return by


def _assert_clean(out: Path) -> None:
    """Only the ledger, the lock and complete plan folders: nothing temporary or half-written."""
    for p in out.iterdir():
        if p.name in (ledger.LEDGER, ".batch.lock") or p.name.startswith(ledger.LEDGER + "-"):
            continue
        assert not p.name.startswith("."), f"temporary left behind: {p.name}"
        assert p.is_dir(), p
        files = {f.name for f in p.iterdir()}
        reports = {"report.md", "report.html", RUN_INSTANCE, MARKER}
        assert files == {f"{t}.csv" for t in Plan.table_names()} | reports, p


def test_discover_and_stems(tmp_path: Path, generated: Path) -> None:
    assert [p.name for p in discover([generated])] == [f"g{i}" for i in range(N_INSTANCES)]
    weeks = Path(__file__).resolve().parents[1] / "instances" / "eurasia" / "weeks"
    assert [p.name for p in discover([weeks])][:2] == ["2026-W45.toml", "2026-W46.toml"]
    (tmp_path / "x").mkdir()
    write_instance(generate_instance(nodes=10, lots=5, seed=0), tmp_path / "x" / "g0")
    with pytest.raises(BatchError, match="same|plan folder name"):
        run_batch([generated / "g0", tmp_path / "x" / "g0"], BatchOptions(out=tmp_path / "o"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchError, match="no instances"):
        run_batch([tmp_path / "empty"], BatchOptions(out=tmp_path / "o"))


def test_key_options_leave_out_execution_details() -> None:
    two_threads = RunOptions(solve=SolveOptions(threads=2), prices=False)
    a = BatchOptions(out=Path("a"), run=two_threads, workers=1, scheduler="dask")
    b = BatchOptions(out=Path("b"), workers=4)
    assert a.key_options() == b.key_options()
    five_s = RunOptions(solve=SolveOptions(time_limit_s=5), prices=False)
    assert BatchOptions(out=Path("a"), run=five_s).key_options() != b.key_options()
    assert "stability_weight" in BatchOptions(out=Path("a"), rolling=True).key_options()
    half_hour = RunOptions(step_minutes=30, prices=False)  # the time family's grid
    assert BatchOptions(out=Path("a"), run=half_hour).key_options()["step_minutes"] == 30


def test_key_options_resume_ledgers_written_with_flat_options() -> None:
    """The resume key of a plain and of a rolling batch, exactly as ledgers hold it."""
    plain = BatchOptions(out=Path("a"))
    assert ledger.canonical_options(plain.key_options()) == (
        '{"mip_rel_gap":null,"seed":0,"time_limit_s":null}'
    )
    run = RunOptions(
        solve=SolveOptions(time_limit_s=30.0, mip_rel_gap=0.01, seed=3),
        rolling=RollingOptions(stability_weight=40.0, stability_scope="leg"),
        prices=False,
    )
    rolling = BatchOptions(out=Path("a"), run=run, rolling=True, workers=2, force=True)
    assert ledger.canonical_options(rolling.key_options()) == (
        '{"mip_rel_gap":0.01,"rolling":true,"seed":3,"stability_scope":"leg",'
        '"stability_weight":40.0,"time_limit_s":30.0}'
    )
    # rolling options count only in a rolling batch; prices and recipe overrides when set
    assert BatchOptions(out=Path("a"), run=run).key_options() == {
        "time_limit_s": 30.0,
        "mip_rel_gap": 0.01,
        "seed": 3,
    }
    priced = RunOptions(paths=5, prices=True)
    assert BatchOptions(out=Path("a"), run=priced).key_options() == {
        "time_limit_s": None,
        "mip_rel_gap": None,
        "seed": 0,
        "paths": 5,
        "prices": True,
    }


def test_batch_records_failures_and_resumes(
    tmp_path: Path, generated: Path, make_instance_folder
) -> None:
    bad = make_instance_folder(
        "broken", cargo="id,origin,destination,teu,class\nL1,NOWHERE,GE_TBS,-4,general\n"
    )
    out = tmp_path / "out"
    good = [generated / f"g{i}" for i in range(3)]
    assert (
        main(["batch", *map(str, good), str(bad), "--out", str(out), "--workers", "2", "-q"]) == 1
    )
    status = _status(out)
    assert status == {
        "g0": ["succeeded"],
        "g1": ["succeeded"],
        "g2": ["succeeded"],
        "broken": ["failed"],
    }
    rows = {Path(r["instance_path"]).name: r for r in _rows(out)}
    assert "InstanceError" in rows["broken"]["error"]
    for name in ("g0", "g1", "g2"):
        r = rows[name]
        inst = read_instance(generated / name)
        plan = read_plan(out / name)
        assert check_plan(plan, inst).ok
        assert r["objective"] == pytest.approx(plan.objective)
        assert r["plan_path"] == str(out / name)
        assert r["threads"] == max(1, (os.cpu_count() or 1) // 2)
        assert r["executor"] == "local"
        assert len(r["instance_sha256"]) == 64
        assert r["solver"] == "highs"
        assert r["solver_version"]
        assert r["allocator_version"]
        assert r["peak_memory_mb"] > 50
        assert r["build_seconds"] > 0
        assert 0 < r["solve_seconds"] <= r["total_seconds"]
        assert r["total_seconds"] <= r["wall_seconds"]
        assert r["started_at"] < r["finished_at"]
    _assert_clean(out)

    # the same batch again: the good ones are skipped, the broken one fails again
    assert main(["batch", *map(str, good), str(bad), "--out", str(out), "-q"]) == 1
    assert len(_rows(out)) == 5
    assert _status(out)["broken"] == ["failed", "failed"]
    # a copy of the same data elsewhere hashes the same: skipped too
    write_instance(read_instance(generated / "g0"), tmp_path / "copy" / "g0.json")
    assert main(["batch", str(tmp_path / "copy" / "g0.json"), "--out", str(out), "-q"]) == 0
    assert len(_rows(out)) == 5
    # --force re-runs what succeeded (other options would be other jobs: test_key_options...)
    assert main(["batch", str(good[0]), "--out", str(out), "--force", "-q"]) == 0
    assert _status(out)["g0"] == ["succeeded"] * 2
    _assert_clean(out)


def test_a_killed_worker_fails_only_its_job(
    tmp_path: Path, generated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CRASH_ENV, "g1")  # the job of g1 ends its worker process (os._exit)
    out = tmp_path / "out"
    report = run_batch(
        [generated / f"g{i}" for i in range(3)],
        BatchOptions(
            out=out, run=RunOptions(solve=SolveOptions(threads=1), prices=False), workers=2
        ),
    )
    assert report.exit_code == 1
    assert _status(out) == {"g0": ["succeeded"], "g1": ["failed"], "g2": ["succeeded"]}
    error = next(r["error"] for r in _rows(out) if r["instance_path"].endswith("g1"))
    assert "worker process died" in error
    assert "alone" in error
    _assert_clean(out)


def _wait_for(out: Path, succeeded: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the batch ended before it could be interrupted"
        try:
            with sqlite3.connect(out / ledger.LEDGER, timeout=5) as conn:
                n = conn.execute("SELECT count(*) FROM runs WHERE status='succeeded'").fetchone()[0]
            if n >= succeeded:
                return
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    raise AssertionError("no job finished in time")


@pytest.mark.slow
def test_interrupted_batches_resume_exactly_the_missing_jobs(
    tmp_path: Path, generated: Path
) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "allocator", "batch", str(generated), "--out", str(out)]
    cmd += ["--workers", "1", "--quiet"]
    done = 0
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait_for(out, done + 1, proc)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 128 + sig, stderr.decode()
        rows = _rows(out)
        assert not [r for r in rows if r["status"] == "running"]
        succeeded = [r for r in rows if r["status"] == "succeeded"]
        assert done + 1 <= len(succeeded) < N_INSTANCES
        assert all(Path(r["plan_path"]).is_dir() for r in succeeded)
        assert {r["status"] for r in rows} <= {"succeeded", "interrupted"}
        interrupted = [r for r in rows if r["status"] == "interrupted"]
        assert all(sig.name in r["error"] for r in interrupted[-1:])
        _assert_clean(out)
        done = len(succeeded)

    before = len(_rows(out))
    proc = subprocess.run(cmd, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    rows = _rows(out)
    assert len(rows) - before == N_INSTANCES - done  # exactly the missing jobs ran
    assert sorted(Path(r["instance_path"]).name for r in rows if r["status"] == "succeeded") == [
        f"g{i}" for i in range(N_INSTANCES)
    ]
    _assert_clean(out)


def test_runs_command_lists_and_exports(
    tmp_path: Path, generated: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from allocator.cli import console

    monkeypatch.setattr(console, "width", 250)
    out = tmp_path / "out"
    assert main(["batch", str(generated / "g3"), "--out", str(out), "-q"]) == 0
    capsys.readouterr()
    assert main(["runs", str(out), "--csv", str(tmp_path / "runs.csv"), "--format", "table"]) == 0
    text = capsys.readouterr().out
    assert "succeeded" in text
    assert "1 runs" in text
    assert (tmp_path / "runs.csv").read_text().count("\n") == 2
    assert main(["runs", str(tmp_path / "nothing")]) == 2


def test_rolling_batch_shows_plan_cost_beside_stability_cost(
    make_instance_folder, tmp_path: Path
) -> None:
    # two weeks of the tiny instance, rolling with 20 per TEU changed: week 47 moves 20 of L1's
    # 40 TEU (the 50 TEU ferry is full with L2's 30), week 48's ferry takes 100 TEU, so L1 moves
    # 20 TEU more on each of its 3 legs: stability cost 20 x 20 x 3 = 1,200
    import csv
    import io

    from conftest import TINY_FILES
    from helpers import run_cli

    toml = TINY_FILES["instance.toml"]
    w47 = make_instance_folder("w47")
    legs = TINY_FILES["legs.csv"].replace("ferry,430,20,300,50,", "ferry,430,20,300,100,")
    assert legs != TINY_FILES["legs.csv"]
    w48 = make_instance_folder("w48", toml=toml.replace("2026-W47", "2026-W48"), legs=legs)
    out = tmp_path / "weeks"
    args = ["batch", str(w48), str(w47), "--out", str(out), "--rolling", "--stability-weight", "20"]
    done = run_cli(*args)  # stdout is not a terminal: CSV
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [r["period"] for r in rows] == ["2026-W47", "2026-W48"]  # week order
    assert list(rows[0]) == [
        "instance", "period", "status", "objective", "gap", "total_seconds",
        "plan_cost", "stability_cost", "mip_start", "teu_changed_corridor",
    ]  # fmt: skip
    first, second = rows
    assert first["stability_cost"] == ""  # no previous week
    assert float(first["plan_cost"]) == pytest.approx(float(first["objective"]))
    assert float(second["stability_cost"]) == pytest.approx(1200.0)
    for row, week in zip(rows, ("w47", "w48"), strict=True):
        costs = read_plan(out / week).costs  # the plan's own components, stability apart
        plan_cost = costs.loc[costs["component"] != "stability", "cost"].sum()
        assert float(row["plan_cost"]) == pytest.approx(plan_cost)
        assert float(row["objective"]) == pytest.approx(costs["cost"].sum())
        # a report per week, the HTML one with its maps
        html = (out / week / "report.html").read_text(encoding="utf-8")
        assert html.startswith("<!DOCTYPE html")
        assert 'id="r0-lmap"' in html
        assert (out / week / "report.md").is_file()

    # on a terminal: the headers, "TEU changed corridor" among them (the rerun skips both weeks)
    done = run_cli(*args, "--format", "table", columns=200)
    assert done.returncode == 0, done.stderr
    header = next(line for line in done.stdout.splitlines() if "instance" in line)
    titles = ["plan cost", "stability cost", "objective", "TEU changed corridor", "MIP start"]
    assert all(t in header for t in titles), header
    assert header.index("plan cost") < header.index("stability cost")
    assert "2 skipped" in done.stdout

    # the ledger listing: seed, plan cost and stability cost
    done = run_cli("runs", str(out), "--format", "csv")
    assert done.returncode == 0, done.stderr
    runs = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [r["seed"] for r in runs] == ["0", "0"]
    assert [r["plan_cost"] for r in runs] == [r["plan_cost"] for r in rows]
    assert float(runs[1]["stability_cost"]) == pytest.approx(1200.0)
