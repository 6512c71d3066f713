"""The run ledger of a batch folder: ``DIR/runs.sqlite`` (stdlib sqlite3, WAL, one transaction per
record, written by the batch parent process only).

A job is inserted as ``running`` when it is handed to a worker (``record_start``) and updated once
when it ends (``record_finish``): ``succeeded``, ``failed`` or ``interrupted``. A batch that dies
without cleaning up leaves ``running`` rows; the next batch on the folder marks them
``interrupted`` (``mark_stale``) before it starts. Resume key: (instance SHA-256 of the canonical
content, model, options JSON in canonical form).

A ledger that SQLite cannot read (truncated, not a database) or whose ``runs`` table lacks the
columns below raises ``LedgerError``, as does a failed write (a full disk): the ledger is never
replaced or repaired behind the user's back.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from allocator.errors import LedgerError

LEDGER = "runs.sqlite"
SCHEMA_VERSION = 1
STATUSES = ("running", "succeeded", "failed", "interrupted")

COLUMNS: dict[str, str] = {
    "run_id": "TEXT PRIMARY KEY",
    "batch_id": "TEXT NOT NULL",
    "instance_path": "TEXT NOT NULL",
    "instance_name": "TEXT",
    "period": "TEXT",
    "instance_sha256": "TEXT",
    "model": "TEXT NOT NULL",
    "options_json": "TEXT NOT NULL",
    "status": "TEXT NOT NULL",
    "termination": "TEXT",
    "objective": "REAL",
    "bound": "REAL",
    "gap": "REAL",
    "build_seconds": "REAL",
    "solve_seconds": "REAL",
    "total_seconds": "REAL",
    "wall_seconds": "REAL",
    "peak_memory_mb": "REAL",
    "solver": "TEXT",
    "solver_version": "TEXT",
    "allocator_version": "TEXT",
    "host": "TEXT",
    "executor": "TEXT",
    "threads": "INTEGER",
    "started_at": "TEXT",
    "finished_at": "TEXT",
    "plan_path": "TEXT",
    "mip_start": "TEXT",
    "teu_changed_corridor": "REAL",
    "stability_cost": "REAL",
    "error": "TEXT",
}


def now() -> str:
    """UTC timestamp, ISO 8601 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def canonical_options(options: dict[str, Any]) -> str:
    """Options as canonical JSON (sorted keys, no spaces): part of the resume key."""
    return json.dumps(options, sort_keys=True, separators=(",", ":"), default=str)


class Ledger(sqlite3.Connection):
    """A connection to one ledger file, which it names in its errors."""

    path: Path


def unreadable(path: Path, exc: sqlite3.Error | str) -> LedgerError:
    """The error for a ledger file SQLite cannot use as a run ledger."""
    return LedgerError(
        f"{path} is not a readable run ledger ({exc}); move it away to start a new one"
    )


def connect(folder: str | os.PathLike[str]) -> Ledger:
    """Open (creating) ``folder/runs.sqlite`` in WAL mode with the runs table; LedgerError when
    the file is not a readable run ledger."""
    path = Path(folder) / LEDGER
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.stat().st_size:  # look before WAL mode rewrites its header
        with contextlib.closing(_open_read_only(path)) as ro:
            try:
                if ro.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    _check_schema(ro, path)
            except sqlite3.Error as exc:
                raise unreadable(path, exc) from None
    # explicit transactions
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, factory=Ledger)
    conn.path = path
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        with transaction(conn):
            cols = ",\n  ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
            conn.execute(f"CREATE TABLE IF NOT EXISTS runs (\n  {cols}\n)")
            _check_schema(conn, path)
            conn.execute(
                "CREATE INDEX IF NOT EXISTS runs_key "
                "ON runs (instance_sha256, model, options_json, status)"
            )
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except sqlite3.Error as exc:
        conn.close()
        raise unreadable(path, exc) from None
    except BaseException:
        conn.close()
        raise
    return conn


def _open_read_only(path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    except sqlite3.Error as exc:
        raise unreadable(path, exc) from None


def _check_schema(conn: sqlite3.Connection, path: Path) -> None:
    """LedgerError unless the ``runs`` table has every ledger column (a foreign database)."""
    try:
        have = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
    except sqlite3.Error as exc:
        raise unreadable(path, exc) from None
    missing = [c for c in COLUMNS if c not in have]
    if missing:
        raise unreadable(path, f"its table 'runs' lacks {', '.join(missing[:3])}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One immediate transaction: committed on success, rolled back on any exception. A failure
    of the file (a damaged database, a full disk) becomes a LedgerError naming it; a bad record
    (``sqlite3.IntegrityError``) stays what it is."""
    path = getattr(conn, "path", LEDGER)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError):
        raise
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot write the run ledger {path} ({exc})") from None


def record_start(conn: sqlite3.Connection, **values: Any) -> None:
    """Insert a job as ``running`` (one transaction). ``run_id``, ``batch_id``, ``instance_path``,
    ``model`` and ``options_json`` are required."""
    values = {"status": "running", "started_at": now(), **values}
    _check(values)
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    with transaction(conn):
        conn.execute(f"INSERT INTO runs ({names}) VALUES ({marks})", list(values.values()))


def record_finish(conn: sqlite3.Connection, run_id: str, status: str, **values: Any) -> None:
    """Set a job's final status and results (one transaction)."""
    if status not in STATUSES[1:]:
        raise ValueError(f"final status must be one of {STATUSES[1:]}, not {status!r}")
    values = {"status": status, "finished_at": now(), **values}
    _check(values)
    sets = ", ".join(f"{k} = ?" for k in values)
    with transaction(conn):
        conn.execute(f"UPDATE runs SET {sets} WHERE run_id = ?", [*values.values(), run_id])


def _check(values: dict[str, Any]) -> None:
    unknown = set(values) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown ledger columns {sorted(unknown)}")


def mark_stale(conn: sqlite3.Connection, reason: str = "batch died before the job ended") -> int:
    """Mark ``running`` rows of dead batches ``interrupted``; returns how many. Call only while
    holding the folder's batch lock (then no live batch owns a ``running`` row)."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = ?, error = ? "
            "WHERE status = 'running'",
            (now(), reason),
        )
    return cur.rowcount


def succeeded(conn: sqlite3.Connection) -> dict[tuple[str, str, str], sqlite3.Row]:
    """The latest succeeded row of every resume key (instance_sha256, model, options_json)."""
    try:
        rows = conn.execute(
            "SELECT * FROM runs WHERE status = 'succeeded' ORDER BY finished_at"
        ).fetchall()
    except sqlite3.Error as exc:
        raise unreadable(getattr(conn, "path", LEDGER), exc) from None
    return {(r["instance_sha256"], r["model"], r["options_json"]): r for r in rows}


def rows(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every row of the ledger in ``folder``, oldest first (read-only). FileNotFoundError when
    there is none, LedgerError when it is not a readable run ledger."""
    path = Path(folder) / LEDGER
    if not path.is_file():
        raise FileNotFoundError(f"no run ledger {path}: not a batch output folder")
    conn = _open_read_only(path)
    conn.row_factory = sqlite3.Row
    try:
        _check_schema(conn, path)
        out = conn.execute("SELECT * FROM runs ORDER BY started_at, rowid").fetchall()
    except sqlite3.Error as exc:
        raise unreadable(path, exc) from None
    finally:
        conn.close()
    return [dict(r) for r in out]


def export_csv(folder: str | os.PathLike[str], target: str | os.PathLike[str]) -> int:
    """Write every ledger row to a CSV file; returns the number of rows."""
    data = rows(folder)
    with open(target, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(data)
    return len(data)
