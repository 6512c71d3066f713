"""Faults on real processes and real file systems: a full disk, a read-only folder, output paths
that cannot take a plan, out-of-range options, damaged plans and ledgers, kill -9 of a batch
parent and of a worker, two batches on one folder. Each asserts the exit code, the one-line
message and that nothing half-written is left (docs/reliability.md lists the promises)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import N_INSTANCES

from allocator.batch import ledger
from allocator.cli import main
from allocator.deliver import MARKER

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, list[str]]:
    """Exit code and the stderr lines of ``allocator ARGS`` (no traceback possible in-process:
    an escaped exception fails the test)."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return code, lines


def _leftovers(folder: Path) -> list[str]:
    """Temporary or replaced folders an interrupted write would leave."""
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp") or ".old-" in p.name]


@contextlib.contextmanager
def _tmpfs(where: Path, size: str, *options: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``where`` for the test, always unmounted."""
    if not ROOT:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ---------------------------------------------------------------- solve: paths and disks


def test_a_full_disk_fails_in_one_line_and_leaves_nothing(
    tmp_path: Path, tiny_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _tmpfs(tmp_path / "full", "48k") as full:
        code, lines = _cli(capsys, "solve", tiny_folder, "--out", full / "plan", "-q")
        assert code == 2
        assert lines == [f"error: cannot write {full / 'plan'}: No space left on device"]
        assert list(full.iterdir()) == []  # no plan, no temporary folder


def test_a_read_only_folder_keeps_its_plan(
    tmp_path: Path, tiny_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _tmpfs(tmp_path / "ro", "4m") as ro:
        assert _cli(capsys, "solve", tiny_folder, "--out", ro / "plan", "-q")[0] == 0
        before = _snapshot(ro / "plan")
        assert MARKER in before
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        code, lines = _cli(capsys, "solve", tiny_folder, "--out", ro / "plan", "-q")
        assert code == 2
        assert lines == [f"error: cannot write {ro / 'plan'}: Read-only file system"]
        assert _snapshot(ro / "plan") == before
        assert _leftovers(ro) == []


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("afile", "{out} is a file, not a plan folder"),
        ("afile/plan", "cannot write {out}: "),
        (".", ". is not a name for a plan folder"),
    ],
)
def test_output_paths_that_cannot_take_a_plan(
    tmp_path: Path,
    tiny_folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    out: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("keep\n")
    code, lines = _cli(capsys, "solve", tiny_folder, "--out", out, "-q")
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith("error: " + message.format(out=out))
    assert (tmp_path / "afile").read_text() == "keep\n"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--paths", "-2", "--model", "path"], "--paths must be at least 1, not -2"),
        (["--paths", "0", "--model", "path"], "--paths must be at least 1, not 0"),
        (
            ["--step-minutes", "0", "--model", "time"],
            "--step-minutes must be greater than 0, not 0",
        ),
        (["--step-minutes", "-30"], "--step-minutes must be greater than 0, not -30"),
        (["--time-limit", "-5"], "--time-limit must be greater than 0, not -5"),
        (["--time-limit", "0"], "--time-limit must be greater than 0, not 0"),
        (["--gap", "-0.1"], "--gap must be at least 0, not -0.1"),
        (["--threads", "-3"], "--threads must be at least 0, not -3"),
    ],
)
def test_options_out_of_range_are_refused_before_solving(
    tmp_path: Path,
    tiny_folder: Path,
    capsys: pytest.CaptureFixture[str],
    option: list[str],
    message: str,
) -> None:
    commands = [["solve", tiny_folder], ["batch", tiny_folder]]
    solve_only = "--paths" in option or "--step-minutes" in option  # options batch does not have
    for command in commands[: 1 if solve_only else 2]:
        code, lines = _cli(capsys, *command, "--out", tmp_path / "out", *option, "-q")
        assert (code, lines) == (2, [f"error: {message}"])
        assert not (tmp_path / "out").exists()


def test_a_refused_highs_option_names_option_and_value() -> None:
    import highspy

    from allocator.errors import SolverError
    from allocator.solve.highs import set_option

    h = highspy.Highs()
    set_option(h, "output_flag", False)
    with pytest.raises(SolverError, match=r"HiGHS refused option mip_rel_gap = -1\.0"):
        set_option(h, "mip_rel_gap", -1.0)


# ---------------------------------------------------------------- damaged plans


@pytest.mark.parametrize(
    ("table", "damage", "message"),
    [
        ("flows", lambda t: t.replace(",20.0\n", ",abc\n", 1), "flows.csv, line 2, column 'teu': "),
        ("summary", lambda t: 'garbage;;"\n', "summary.csv: the summary has 0 rows, not 1"),
        ("routes", lambda t: "lot,route\nL1,1\n", "plan table 'routes' lacks column(s) legs"),
    ],
)
def test_check_of_a_damaged_plan_is_located(
    tmp_path: Path,
    tiny_folder: Path,
    capsys: pytest.CaptureFixture[str],
    table: str,
    damage,
    message: str,
) -> None:
    plan = tmp_path / "plan"
    assert _cli(capsys, "solve", tiny_folder, "--out", plan, "-q")[0] == 0
    assert _cli(capsys, "check", plan, tiny_folder)[0] == 0
    file = plan / f"{table}.csv"
    file.write_text(damage(file.read_text()))
    code, lines = _cli(capsys, "check", plan, tiny_folder)
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {plan}/")
    assert message in lines[0]


# ---------------------------------------------------------------- ledgers


def _foreign(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE runs (a INTEGER)")
        conn.execute("INSERT INTO runs VALUES (1)")
        conn.commit()


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda p: os.truncate(p, 8192), "database disk image is malformed"),
        (lambda p: p.write_bytes(b"not a database\n" * 2000), "file is not a database"),
        (lambda p: (p.unlink(), _foreign(p)), "its table 'runs' lacks run_id"),
    ],
    ids=["truncated", "garbage", "foreign"],
)
def test_a_damaged_ledger_is_refused_untouched(
    tmp_path: Path, tiny_folder: Path, capsys: pytest.CaptureFixture[str], damage, why: str
) -> None:
    out = tmp_path / "out"
    assert _cli(capsys, "batch", tiny_folder, "--out", out, "-q")[0] == 0
    path = out / ledger.LEDGER
    with contextlib.closing(sqlite3.connect(path)) as conn:  # fold the WAL into the file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.rmtree(out / tiny_folder.name)
    damage(path)
    before = path.read_bytes()
    for args in (["batch", tiny_folder, "--out", out, "-q"], ["runs", out]):
        code, lines = _cli(capsys, *args)
        assert code == 2
        assert len(lines) == 1
        assert lines[0].startswith(f"error: {path}") or lines[0].startswith(f"error: {out}")
        assert f"is not a readable run ledger ({why}" in lines[0]
        assert lines[0].endswith("move it away to start a new one")
    assert path.read_bytes() == before
    assert not (out / tiny_folder.name).exists()


# ---------------------------------------------------------------- killed and concurrent batches


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _count(out: Path, status: str) -> int:
    try:
        with contextlib.closing(sqlite3.connect(out / ledger.LEDGER, timeout=5)) as conn:
            sql = "SELECT count(*) FROM runs WHERE status = ?"
            return int(conn.execute(sql, (status,)).fetchone()[0])
    except sqlite3.Error:
        return 0


def _wait(test, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def _assert_no_temporaries(out: Path) -> None:
    assert _leftovers(out) == []
    for p in out.iterdir():
        if p.is_dir():
            assert (p / MARKER).is_file(), f"half-written plan folder {p.name}"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_kill_9_of_the_batch_parent_kills_its_workers_and_a_rerun_completes_the_rest(
    tmp_path: Path, generated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "allocator", "batch", str(generated), "--out", str(out)]
    cmd += ["--workers", "2", "--threads", "1", "-q"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait(lambda: _count(out, "succeeded") >= 1, 90, "a first job succeeded")
        # a second batch on the same folder is refused while the first holds the lock
        code, lines = _cli(capsys, *cmd[3:])
        assert (code, lines[-1:]) == (2, [f"error: another batch is running on {out}"])
        workers = _children(proc.pid)
        assert workers, "the batch runs no worker processes"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        _wait(lambda: not any(_alive(w) for w in workers), 5, "the workers died")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    done = _count(out, "succeeded")
    assert 1 <= done < N_INSTANCES
    before = len(ledger.rows(out))
    rerun = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr
    rows = ledger.rows(out)
    assert len(rows) - before == N_INSTANCES - done  # exactly the rest ran
    assert _count(out, "succeeded") == N_INSTANCES
    assert _count(out, "running") == 0
    _assert_no_temporaries(out)


_BENCH_PARENT = """
import multiprocessing as mp, os, sys, time
from allocator.research.bench import guarded
if __name__ == "__main__":
    ctx = mp.get_context("spawn")
    if sys.argv[1] == "guarded":
        child = ctx.Process(target=guarded, args=(os.getpid(), time.sleep, 120))
    else:
        child = ctx.Process(target=time.sleep, args=(120,))
    child.start()
    print(child.pid, flush=True)
    child.join()
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
@pytest.mark.parametrize("how", ["guarded", "plain"])
def test_kill_9_of_a_bench_parent_kills_its_run(tmp_path: Path, how: str) -> None:
    """A benchmark run's process (``run_killable`` starts it through ``guarded``) ends with its
    parent; a plain spawned process outlives it (what the guard is for)."""
    script = tmp_path / "parent.py"
    script.write_text(_BENCH_PARENT, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script), how], env=_env(), stdout=subprocess.PIPE, text=True
    )
    child = 0
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        time.sleep(1.0)  # the child may still be importing: the guard covers that too
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if how == "guarded":
            _wait(lambda: not _alive(child), 60, "the run's process died with its parent")
        else:
            time.sleep(3.0)
            assert _alive(child), "a plain spawned process outlived its parent"
    finally:
        if proc.poll() is None:
            proc.kill()
        if child and _alive(child):
            os.kill(child, signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_kill_9_of_a_worker_ends_its_job_and_the_batch_cleanly(
    tmp_path: Path, generated: Path
) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "allocator", "batch", str(generated / "g0")]
    cmd += [str(generated / "g1"), "--out", str(out), "--workers", "1", "--threads", "1", "-q"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait(lambda: _count(out, "running") >= 1, 60, "a job started")

        def worker() -> list[int]:
            return [
                c
                for c in _children(proc.pid)
                if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()
            ]

        _wait(lambda: bool(worker()), 30, "a worker process started")
        os.kill(worker()[0], signal.SIGKILL)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "Traceback" not in stderr.decode()
    rows = ledger.rows(out)
    assert proc.returncode in (0, 1)  # the killed job is re-run alone once (docs/batch.md)
    assert {r["status"] for r in rows} <= {"succeeded", "failed"}
    assert (proc.returncode == 0) == all(r["status"] == "succeeded" for r in rows)
    _assert_no_temporaries(out)
    rerun = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert _count(out, "succeeded") == 2
