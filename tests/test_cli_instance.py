"""The validate and convert commands: exit codes, error output on stderr, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from allocator.cli import main
from allocator.instance.io import instance_hash
from allocator.instance.validate import read_instance


def _broken(make_instance_folder: Any, tiny_instance_files: dict[str, str]) -> Path:
    legs = tiny_instance_files["legs.csv"].replace("300,50,", "300,abc,")
    cargo = tiny_instance_files["cargo.csv"].replace(",30,", ",0,")
    return make_instance_folder("broken", legs=legs, cargo=cargo)


def test_validate_sound_instance_exits_0(
    tiny_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(tiny_folder)]) == 0
    out, err = capsys.readouterr()
    assert "sound" in out
    assert "lots" in out
    assert "error" not in err


def test_validate_invalid_instance_exits_2_with_errors_on_stderr(
    make_instance_folder: Any,
    tiny_instance_files: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = _broken(make_instance_folder, tiny_instance_files)
    assert main(["validate", str(folder)]) == 2
    out, err = capsys.readouterr()
    assert "legs.csv line 3, column 'capacity_teu': value 'abc': expected a number" in err
    assert "cargo.csv line 3, column 'teu': value '0': must be greater than 0" in err
    assert "is invalid" in err
    assert "2 error(s)" in err
    assert "Traceback" not in out + err
    assert "sound" not in out


def test_validate_prints_warnings_and_exits_0(
    make_instance_folder: Any,
    tiny_instance_files: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    nodes = tiny_instance_files["nodes.csv"] + "KZ_DOS,Dostyk,KZ,45.2,82.5,border,,\n"
    assert main(["validate", str(make_instance_folder(nodes=nodes))]) == 0
    out, err = capsys.readouterr()
    assert "warning" in err
    assert "isolated node" in err
    assert "1 warning(s)" in out


def test_validate_nonexistent_path_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-instance"
    assert main(["validate", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert f"{missing}: no such file or folder" in err
    assert "Traceback" not in out + err


def test_unreadable_json_exits_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"settings": {"name": "x"}, "nodes": [')
    assert main(["validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert f"{path}: is not valid JSON" in err
    assert "Traceback" not in out + err


def test_usage_error_exits_2_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 2
    out, err = capsys.readouterr()
    assert "Missing argument" in err
    assert "Traceback" not in out + err


def test_convert_round_trip(tiny_folder: Path, tmp_path: Path) -> None:
    xlsx, js, folder, pq = (tmp_path / n for n in ("t.xlsx", "t.json", "folder", "pq"))
    assert main(["convert", str(tiny_folder), str(xlsx)]) == 0
    assert main(["convert", str(xlsx), str(js)]) == 0
    assert main(["convert", str(js), str(folder)]) == 0
    assert main(["convert", str(folder), str(pq), "--table-format", "parquet"]) == 0
    assert (pq / "legs.parquet").exists()
    expected = instance_hash(read_instance(tiny_folder))
    for path in (xlsx, js, folder, pq):
        assert main(["validate", str(path)]) == 0
        assert instance_hash(read_instance(path)) == expected


def test_convert_invalid_source_exits_2_and_writes_nothing(
    make_instance_folder: Any,
    tiny_instance_files: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = _broken(make_instance_folder, tiny_instance_files)
    target = tmp_path / "out.json"
    assert main(["convert", str(folder), str(target)]) == 2
    assert not target.exists()
    assert "expected a number" in capsys.readouterr().err


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "allocator", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_subprocess_validate_exit_codes(
    tiny_folder: Path, make_instance_folder: Any, tiny_instance_files: dict[str, str]
) -> None:
    sound = _run("validate", str(tiny_folder))
    assert sound.returncode == 0, sound.stderr
    assert "sound" in sound.stdout
    broken = _run("validate", str(_broken(make_instance_folder, tiny_instance_files)))
    assert broken.returncode == 2
    assert "expected a number" in broken.stderr
    assert "must be greater than 0" in broken.stderr
    assert "Traceback" not in broken.stdout + broken.stderr
