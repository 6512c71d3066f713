"""deliver: a plan is written only when it passes the checker, whole, and only over allocator's
own plan folders; the batch job and the CLI go through it."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import run_cli

from allocator.batch.job import JobSpec, run_job
from allocator.deliver import MARKER, deliver, slug
from allocator.errors import OutputError, PlanCheckError
from allocator.instance.generate import generate_instance
from allocator.instance.io import write_instance
from allocator.options import RunOptions
from allocator.pipeline import RunResult, run
from allocator.results import Plan, read_plan
from allocator.results.check import check_plan


@pytest.fixture(scope="module")
def solved() -> RunResult:
    """A small generated instance, solved (a second or so)."""
    return run(generate_instance(nodes=15, lots=20, seed=3), RunOptions(prices=False))


def _tables() -> set[str]:
    return {f"{t}.csv" for t in Plan.table_names()}


def _corrupted(res: RunResult) -> RunResult:
    """``res`` with 3 TEU more on the first flow: lots no longer balance."""
    assert res.plan is not None
    flows = res.plan.flows.copy()
    flows.loc[flows.index[0], "teu"] += 3.0
    return replace(res, plan=replace(res.plan, flows=flows))


def test_a_plan_failing_the_checker_is_never_written(solved: RunResult, tmp_path: Path) -> None:
    bad = _corrupted(solved)
    assert bad.plan is not None
    assert not check_plan(bad.plan, bad.instance).ok  # the corruption is a real violation
    with pytest.raises(PlanCheckError) as caught:
        deliver(bad, tmp_path / "plan")
    assert caught.value.exit_code == 5
    assert any("balance" in v for v in caught.value.violations), caught.value.violations
    assert not (tmp_path / "plan").exists()
    assert os.listdir(tmp_path) == []  # no temporary left either
    # over an existing plan folder, the failing plan leaves the good one as it was
    deliver(solved, tmp_path / "plan")
    before = {p.name: p.read_bytes() for p in (tmp_path / "plan").iterdir()}
    with pytest.raises(PlanCheckError):
        deliver(bad, tmp_path / "plan")
    assert {p.name: p.read_bytes() for p in (tmp_path / "plan").iterdir()} == before
    # out=None only checks
    with pytest.raises(PlanCheckError):
        deliver(bad, None)
    assert deliver(solved, None).ok


def test_a_plan_folder_holds_tables_reports_and_marker(solved: RunResult, tmp_path: Path) -> None:
    report = deliver(solved, tmp_path / "plan")
    assert report.ok
    folder = tmp_path / "plan"
    names = {p.name for p in folder.iterdir()}
    assert names == _tables() | {"instance.json", "report.md", "report.html", MARKER}
    assert 'format = "csv"' in (folder / MARKER).read_text(encoding="utf-8")
    assert (folder / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html")
    assert solved.plan is not None
    assert read_plan(folder).info()["objective"] == pytest.approx(solved.plan.objective)
    deliver(solved, tmp_path / "bare", report=False)
    assert not (tmp_path / "bare" / "report.md").exists()


def test_a_plan_folder_is_replaced_whole(solved: RunResult, tmp_path: Path) -> None:
    folder = tmp_path / "plan"
    deliver(solved, folder, fmt="parquet")
    assert (folder / "flows.parquet").is_file()
    (folder / "stray.txt").write_text("from an earlier run")
    deliver(solved, folder)  # csv now: nothing of the parquet plan survives
    names = {p.name for p in folder.iterdir()}
    assert "stray.txt" not in names
    assert not any(n.endswith(".parquet") for n in names)
    assert (folder / "flows.csv").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["plan"]  # no temporary, no old copy
    # an empty folder is taken as well
    (tmp_path / "empty").mkdir()
    deliver(solved, tmp_path / "empty")
    assert (tmp_path / "empty" / MARKER).is_file()


def test_other_folders_and_files_are_refused_untouched(solved: RunResult, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("important")
    with pytest.raises(OutputError, match="not a plan folder written by allocator") as caught:
        deliver(solved, docs)
    assert caught.value.exit_code == 2
    assert str(docs) in str(caught.value)
    assert [p.name for p in docs.iterdir()] == ["notes.txt"]
    assert (docs / "notes.txt").read_text() == "important"
    file = tmp_path / "plan"
    file.write_text("a file")
    with pytest.raises(OutputError, match="is a file"):
        deliver(solved, file)
    assert file.read_text() == "a file"
    # an Excel plan refuses a workbook path holding something else, and its report files
    (tmp_path / "book.xlsx").write_text("not a workbook")
    with pytest.raises(OutputError, match="not a plan workbook"):
        deliver(solved, tmp_path / "book", fmt="xlsx")
    (tmp_path / "sheet.md").write_text("my notes")
    with pytest.raises(OutputError, match="sheet.md"):
        deliver(solved, tmp_path / "sheet", fmt="xlsx")
    assert (tmp_path / "sheet.md").read_text() == "my notes"
    with pytest.raises(OutputError, match="format"):
        deliver(solved, tmp_path / "x", fmt="xls")
    assert not (tmp_path / "x").exists()


def test_an_excel_plan_with_its_reports(solved: RunResult, tmp_path: Path) -> None:
    deliver(solved, tmp_path / "week", fmt="xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["week.html", "week.md", "week.xlsx"]
    assert check_plan(read_plan(tmp_path / "week.xlsx"), solved.instance).ok
    deliver(solved, tmp_path / "week", fmt="xlsx")  # its own workbook is replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["week.html", "week.md", "week.xlsx"]


def test_cli_refuses_a_folder_that_is_not_a_plan(tmp_path: Path) -> None:
    inst = tmp_path / "inst"
    write_instance(generate_instance(nodes=10, lots=8, seed=1), inst)
    docs = tmp_path / "mydocs"
    docs.mkdir()
    (docs / "notes.txt").write_text("important\n")
    (docs / "sub").mkdir()
    (docs / "sub" / "more.txt").write_text("keep\n")
    done = run_cli("solve", str(inst), "--out", str(docs))
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert str(docs) in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert sorted(str(p.relative_to(docs)) for p in docs.rglob("*")) == [
        "notes.txt",
        "sub",
        "sub/more.txt",
    ]
    assert (docs / "notes.txt").read_text() == "important\n"
    assert (docs / "sub" / "more.txt").read_text() == "keep\n"
    # a file at --out, and a bad --format, are refused before any solve, the same way
    (tmp_path / "file").write_text("x")
    done = run_cli("solve", str(inst), "--out", str(tmp_path / "file"))
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1
    assert "is a file" in done.stderr
    done = run_cli("solve", str(inst), "--out", str(tmp_path / "p"), "--format", "xls")
    assert done.returncode == 2
    assert "format" in done.stderr
    assert not (tmp_path / "p").exists()


def test_a_name_with_dots_and_slashes_stays_under_out(tmp_path: Path) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    inst = tmp_path / "inst"
    write_instance(generate_instance(nodes=10, lots=8, seed=1), inst)
    toml = inst / "instance.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace('name = "generated-n10-k8-s1"', 'name = "../../x"'))
    victim = tmp_path / "x"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep")
    done = run_cli("solve", str(inst), "--quiet", cwd=work)
    assert done.returncode == 0, done.stderr
    assert [p.name for p in victim.iterdir()] == ["keep.txt"]
    assert (work / "out" / "x" / MARKER).is_file()
    assert [p.name for p in (work / "out").iterdir()] == ["x"]


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("../../x", "x"),
        ("..", "plan"),
        ("a/b\\c", "a-b-c"),
        (".hidden", "hidden"),
        ("eurasia+ferries-halved", "eurasia+ferries-halved"),
        ("Week 47 / 2026", "Week-47-2026"),
        ("x/../../y", "x-.-.-y"),
    ],
)
def test_slug(name: str, folder: str) -> None:
    assert slug(name) == folder
    assert "/" not in folder
    assert ".." not in folder


def test_the_batch_job_delivers_and_refuses_like_solve(tmp_path: Path) -> None:
    inst = tmp_path / "g"
    write_instance(generate_instance(nodes=12, lots=10, seed=2), inst)
    opts = RunOptions(prices=False)
    spec = JobSpec(
        run_id="r1", instance=str(inst), stem="g", target=str(tmp_path / "o" / "g"), run=opts
    )
    got = run_job(spec)
    assert got["status"] == "succeeded", got
    plan = tmp_path / "o" / "g"
    assert (plan / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html")
    assert (plan / "report.md").is_file()
    assert (plan / MARKER).is_file()
    foreign = tmp_path / "o" / "h"
    foreign.mkdir()
    (foreign / "data.csv").write_text("a,b\n")
    got = run_job(replace(spec, run_id="r2", target=str(foreign)))
    assert got["status"] == "failed"
    assert got["error"].startswith("OutputError: ")
    assert str(foreign) in got["error"]
    assert [p.name for p in foreign.iterdir()] == ["data.csv"]
