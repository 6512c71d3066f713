"""The CLI for people and scripts: no-bound plans, a silent stdout, JSON, CSV, narrow terminals."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from helpers import run_cli

from allocator.cli import main
from allocator.instance.io import write_instance
from allocator.report.markdown import print_summary, render_markdown
from allocator.results import read_plan
from tests.helpers import short_capacity

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def short(tmp_path: Path) -> Path:
    """20 TEU over one leg of 15 TEU: 5 TEU of the one lot stay unserved."""
    folder = tmp_path / "short"
    write_instance(short_capacity(), folder)
    return folder


def _without_bound(plan_folder: Path) -> None:
    """Edit a written plan's summary as HiGHS leaves it when a time limit stops it with a plan
    and before its first bound: bound -inf, gap inf."""
    path = plan_folder / "summary.csv"
    rows = list(csv.DictReader(path.open()))
    rows[0]["bound"], rows[0]["gap"], rows[0]["status"] = "-inf", "inf", "time_limit"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_a_plan_without_a_bound_reports_no_bound_yet(
    short: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_folder = tmp_path / "plan"
    assert main(["solve", str(short), "-o", str(plan_folder), "-q"]) == 0
    _without_bound(plan_folder)
    plan = read_plan(plan_folder)
    assert plan.info()["gap"] == float("inf")
    assert "| gap | no bound yet |" in render_markdown(plan)
    from rich.console import Console

    buffer = io.StringIO()
    print_summary(plan, Console(file=buffer, width=120))
    assert "no bound yet" in buffer.getvalue()
    capsys.readouterr()
    assert main(["report", str(plan_folder)]) == 0
    assert "no bound yet" in (plan_folder / "report.html").read_text()
    # several runs side by side, one without a bound; the default lands under out/
    monkeypatch.chdir(tmp_path)
    assert main(["solve", str(short), "-o", str(tmp_path / "other"), "-q"]) == 0
    assert main(["report", str(plan_folder), str(tmp_path / "other")]) == 0
    written = tmp_path / "out" / "report-plan-and-1.html"
    assert written.is_file()
    assert not (tmp_path / "report.html").exists()


def test_quiet_solve_prints_nothing_on_stdout_and_one_unserved_line(
    short: Path, tmp_path: Path
) -> None:
    done = run_cli("solve", str(short), "-o", str(tmp_path / "q"), "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # neither the HiGHS banner nor the summary
    assert "HiGHS" not in done.stderr
    # 20 TEU demand, 15 TEU capacity: one lot with 5 TEU unserved
    assert f"1 lots (5 TEU) unserved, see {tmp_path / 'q' / 'unserved.csv'}" in " ".join(
        done.stderr.split()
    )


def test_solve_and_check_json_are_one_document(
    short: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["solve", str(short), "-o", str(tmp_path / "j"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    # 15 TEU at 100 moved, 5 TEU at the 500 penalty: 1,500 + 2,500
    assert doc["objective"] == pytest.approx(4000.0)
    assert doc["teu_unserved"] == pytest.approx(5.0)
    assert doc["plan"] == str(tmp_path / "j")
    assert main(["check", str(tmp_path / "j"), str(short), "--json"]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert checked["sound"] is True
    assert checked["recomputed_objective"] == pytest.approx(4000.0)
    assert main(["validate", str(short), "--json"]) == 0
    valid = json.loads(capsys.readouterr().out)
    assert valid["sound"] is True


def test_runs_prints_csv_when_piped_and_fits_80_columns_on_a_terminal(
    short: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "batch"
    assert main(["batch", str(short), "--out", str(out), "-q", "--seed", "7"]) == 0
    capsys.readouterr()
    assert main(["runs", str(out)]) == 0  # stdout is not a terminal: CSV
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1
    assert rows[0]["status"] == "succeeded"
    assert rows[0]["seed"] == "7"
    assert float(rows[0]["objective"]) == pytest.approx(4000.0)
    from allocator.cli import console

    monkeypatch.setattr(console, "width", 80)
    assert main(["runs", str(out), "--format", "table"]) == 0
    captured = capsys.readouterr()
    assert "…" not in captured.out  # cells are never cut
    assert "succeeded" in captured.out
    assert "4,000" in captured.out
    table = [line for line in captured.out.splitlines() if "runs.sqlite" not in line]  # title
    assert max(len(line) for line in table) <= 80
    assert "not shown at this width" in captured.err
    assert main(["runs", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["seed"] == 7


def test_version_help_and_flags(tmp_path: Path) -> None:
    from allocator._version import __version__

    done = run_cli("--version", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == f"allocator {__version__}"
    top = run_cli("-h", cwd=tmp_path)
    assert top.returncode == 0
    assert "1 unexpected error" in " ".join(top.stdout.split())
    assert "--install-completion" in top.stdout
    solve_help = run_cli("solve", "-h", cwd=tmp_path)
    assert "--verbose" in solve_help.stdout
    assert "<bool>" not in solve_help.stdout


def test_models_wraps_descriptions_and_marks_the_base(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from allocator.formulation import load_recipe

    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert "arc (base)" in rows
    full = " ".join(load_recipe("arc-agg").description.split())
    assert rows["arc-agg"]["description"] == full  # never cut


def test_generate_takes_instance_seed_and_the_old_names(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert (
        main(["generate", "--out", str(a), "--nodes", "8", "--lots", "5", "--instance-seed", "3"])
        == 0
    )
    assert main(["generate", str(b), "--nodes", "8", "--lots", "5", "--seed", "3"]) == 0
    assert a.read_text() == b.read_text()
    assert main(["generate", "--nodes", "8"]) == 2  # no output named


def test_plan_repr_is_short(short: Path, tmp_path: Path) -> None:
    assert main(["solve", str(short), "-o", str(tmp_path / "r"), "-q"]) == 0
    text = repr(read_plan(tmp_path / "r"))
    assert len(text) < 300
    assert "objective=4,000.00" in text
    assert "1 unserved" in text


def test_verbose_raises_the_log_level_of_every_command(tiny_folder: Path, tmp_path: Path) -> None:
    import logging

    from allocator.cli import main

    log = logging.getLogger("allocator")
    before = log.level
    try:
        log.setLevel(logging.WARNING)
        assert main(["validate", str(tiny_folder), "-q"]) == 0
        assert log.level == logging.WARNING  # without -v nothing changes
        assert main(["validate", str(tiny_folder), "-v"]) == 0
        assert log.level == logging.INFO
        log.setLevel(logging.WARNING)
        assert main(["generate", str(tmp_path / "g"), "--nodes", "5", "--lots", "3", "-v"]) == 0
        assert log.level == logging.INFO
    finally:
        log.setLevel(before)


def test_a_long_solve_shows_one_live_line_on_a_terminal(tmp_path: Path) -> None:
    # stderr on a pseudo-terminal: the live line shows the stage, the best plan and the gap;
    # on a pipe (every other test) nothing of it is printed
    import os
    import pty
    import subprocess
    import sys

    dow = Path(__file__).resolve().parents[1] / "benchmarks/data/mcnd/C/c33.dow"
    main_fd, sub_fd = pty.openpty()
    env = {**os.environ, "COLUMNS": "160", "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "allocator", "solve", str(dow), "--model", "colgen"]
        + ["--out", str(tmp_path / "plan"), "--no-prices", "--no-report"],
        stdout=subprocess.PIPE,
        stderr=sub_fd,
        env=env,
    )
    os.close(sub_fd)
    chunks = []
    while True:
        try:
            data = os.read(main_fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out, _ = proc.communicate(timeout=300)
    os.close(main_fd)
    seen = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, seen
    assert "gap" in seen
    assert "columns" in seen
    assert "column generation" in seen or "branch and price" in seen
    assert "solving" not in out.decode()  # the line goes to stderr only


def test_progress_line_formats_what_is_known() -> None:
    from allocator.cli._output import progress_line

    line = progress_line(
        {
            "stage": "branch and price",
            "elapsed": 12.34,
            "round": 7,
            "columns": 1234,
            "lp": 5.5,
            "plan": 1000.0,
            "bound": 990.0,
            "gap": 0.01,
        }
    )
    assert line == (
        "branch and price, round 7, 1,234 columns, LP 5.50, plan 1,000.00, bound 990.00, "
        "gap 1.00%, 12.3 s"
    )
    assert progress_line({"stage": "branch and bound", "elapsed": 1.0, "plan": float("inf")}) == (
        "branch and bound, 1.0 s"
    )
