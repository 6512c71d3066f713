"""Outputs land where the user names them, and defaults land under out/, never in the working
folder itself: the README's commands through the CLI in a fresh working folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_cli

from allocator.cli import main


def test_readme_commands_write_nothing_beside_the_user(
    tiny_folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    inst = str(tiny_folder)

    def ok(*args: str) -> str:
        code = main(list(args))
        out = capsys.readouterr()
        assert code == 0, (args, out.err)
        return out.out + out.err

    ok("solve", inst, "-q")  # default out/<instance name>
    ok("solve", inst, "-q", "--out", "out/second")
    assert "out/report-tiny-and-1.html" in ok("report", "out/tiny", "out/second")
    ok("pareto", inst, "--objectives", "cost,co2", "--points", "2", "-q")
    ok("batch", inst, "--out", "out/weeks", "-q")
    assert "out/weeks/runs.csv" in ok("runs", "out/weeks", "--csv", "out/weeks/runs.csv")
    ok("convert", inst, "out/tiny.xlsx")
    # an output that is not named is an error (exit 2), not a file in the working folder
    for args in (("convert", inst), ("generate",)):
        done = run_cli(*args, cwd=work)
        assert done.returncode == 2
        assert "no output given" in done.stderr
    assert [p.name for p in work.iterdir()] == ["out"]
    written = {p.name for p in (work / "out").iterdir()}
    assert {"tiny", "second", "report-tiny-and-1.html", "weeks", "tiny.xlsx"} <= written
    assert any(name.startswith("tiny-pareto-co2") for name in written), written
    assert (work / "out" / "tiny" / "report.html").is_file()
    assert (work / "out" / "weeks" / "runs.csv").read_text().startswith("run_id")
    # a file the user names is written exactly there, also outside out/
    ok("runs", "out/weeks", "--csv", str(tmp_path / "elsewhere.csv"))
    ok("convert", inst, str(tmp_path / "named.json"))
    assert (tmp_path / "elsewhere.csv").is_file()
    assert (tmp_path / "named.json").is_file()
    assert [p.name for p in work.iterdir()] == ["out"]
