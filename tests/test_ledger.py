"""The run ledger: WAL sqlite, one transaction per record, stale rows, resume keys, CSV export."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest

from allocator.batch import ledger


def _start(conn: sqlite3.Connection, run_id: str, sha: str = "abc", options: str = "{}") -> None:
    ledger.record_start(
        conn,
        run_id=run_id,
        batch_id="b1",
        instance_path=f"/data/{run_id}",
        instance_sha256=sha,
        model="arc-strong",
        options_json=options,
    )


def test_connect_uses_wal_and_creates_the_table(tmp_path: Path) -> None:
    conn = ledger.connect(tmp_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == ledger.SCHEMA_VERSION
    cols = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
    assert cols == list(ledger.COLUMNS)
    conn.close()
    ledger.connect(tmp_path).close()  # re-opening an existing ledger is fine


def test_start_then_finish_is_visible_to_another_connection(tmp_path: Path) -> None:
    conn = ledger.connect(tmp_path)
    _start(conn, "r1")
    other = sqlite3.connect(tmp_path / ledger.LEDGER)
    assert other.execute("SELECT status FROM runs").fetchall() == [("running",)]
    ledger.record_finish(conn, "r1", "succeeded", objective=12.5, plan_path="/p", gap=0.0)
    assert other.execute("SELECT status, objective FROM runs").fetchall() == [("succeeded", 12.5)]
    row = ledger.rows(tmp_path)[0]
    assert row["started_at"] <= row["finished_at"]
    other.close()
    conn.close()


def test_bad_records_are_refused_and_leave_nothing(tmp_path: Path) -> None:
    conn = ledger.connect(tmp_path)
    with pytest.raises(ValueError, match="unknown ledger columns"):
        ledger.record_start(conn, run_id="x", batch_id="b", nonsense=1)
    with pytest.raises(sqlite3.IntegrityError):  # NOT NULL model: the transaction rolls back
        ledger.record_start(conn, run_id="x", batch_id="b", instance_path="p", options_json="{}")
    assert ledger.rows(tmp_path) == []
    _start(conn, "r1")
    with pytest.raises(ValueError, match="final status"):
        ledger.record_finish(conn, "r1", "running")
    assert conn.in_transaction is False
    conn.close()


def test_mark_stale_and_succeeded_keys(tmp_path: Path) -> None:
    conn = ledger.connect(tmp_path)
    _start(conn, "ok", sha="h1")
    ledger.record_finish(conn, "ok", "succeeded")
    _start(conn, "dead", sha="h2")  # a batch that died while this job ran
    _start(conn, "bad", sha="h3")
    ledger.record_finish(conn, "bad", "failed", error="boom")
    assert ledger.mark_stale(conn) == 1
    status = {r["run_id"]: r["status"] for r in ledger.rows(tmp_path)}
    assert status == {"ok": "succeeded", "dead": "interrupted", "bad": "failed"}
    assert set(ledger.succeeded(conn)) == {("h1", "arc-strong", "{}")}
    assert ledger.mark_stale(conn) == 0
    conn.close()


def test_canonical_options_ignore_key_order() -> None:
    a = ledger.canonical_options({"b": 1, "a": None, "c": {"y": 2, "x": 1}})
    b = ledger.canonical_options({"c": {"x": 1, "y": 2}, "a": None, "b": 1})
    assert a == b == '{"a":null,"b":1,"c":{"x":1,"y":2}}'


def test_export_csv(tmp_path: Path) -> None:
    conn = ledger.connect(tmp_path)
    for i in range(3):
        _start(conn, f"r{i}")
    conn.close()
    target = tmp_path / "runs.csv"
    assert ledger.export_csv(tmp_path, target) == 3
    with open(target, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["run_id"] for r in rows] == ["r0", "r1", "r2"]
    assert list(rows[0]) == list(ledger.COLUMNS)


def test_rows_of_a_missing_ledger(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ledger.rows(tmp_path)
