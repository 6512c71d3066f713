"""Random damage to the shipped Eurasia CSV files never gives a traceback: reading raises only
InstanceError with located problems, the CLI exits 0 or 2, and every instance that is accepted
solves to a plan that passes the independent checker."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator.cli import main
from allocator.errors import InstanceError
from allocator.instance.validate import read_instance
from allocator.options import RunOptions
from allocator.pipeline import run
from allocator.results.check import check_plan

EURASIA = Path(__file__).resolve().parents[1] / "instances" / "eurasia"
TABLES = ("nodes", "legs", "borders", "classes", "cargo", "restrictions", "tariffs")
OPS = ("delete cell", "duplicate row", "swap headers", "number to text", "add field", "drop row")

Mutation = tuple[str, str, int, int, int]  # table, op, row, column, other column (draws)


def _read(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def _mutate(rows: list[list[str]], op: str, r: int, c: int, d: int) -> None:
    """Apply one mutation in place; row and column draws are taken modulo the table's size."""
    header, body = rows[0], rows[1:]
    width = len(header)
    c, d = c % width, d % width
    if op == "swap headers":
        header[c], header[d] = header[d], header[c]
        return
    if not body:
        return
    i = 1 + r % len(body)
    if op == "delete cell":
        if rows[i]:  # an earlier mutation may have shortened the row
            del rows[i][c % len(rows[i])]
    elif op == "duplicate row":
        rows.insert(i, list(rows[i]))
    elif op == "number to text":
        numeric = [j for j, v in enumerate(rows[i]) if _is_number(v)] or [c]
        rows[i][numeric[c % len(numeric)]] = "twelve"
    elif op == "add field":
        rows[i].insert(c, "extra")
    elif op == "drop row":
        del rows[i]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


mutations = st.lists(
    st.tuples(
        st.sampled_from(TABLES),
        st.sampled_from(OPS),
        st.integers(0, 10_000),
        st.integers(0, 100),
        st.integers(0, 100),
    ),
    min_size=1,
    max_size=3,
)


@pytest.mark.slow
@settings(
    max_examples=15,
    deadline=timedelta(seconds=90),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutations)
def test_mutated_eurasia_is_located_or_solves_and_checks(changes: list[Mutation]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "eurasia"
        folder.mkdir()
        for name in ("instance.toml",) + tuple(f"{t}.csv" for t in TABLES):
            shutil.copy(EURASIA / name, folder / name)
        for table, op, r, c, d in changes:
            path = folder / f"{table}.csv"
            rows = _read(path)
            _mutate(rows, op, r, c, d)
            with path.open("w", encoding="utf-8", newline="") as f:
                csv.writer(f, lineterminator="\n").writerows(rows)

        assert main(["validate", str(folder)]) in (0, 2)  # never a traceback
        try:
            inst = read_instance(folder)
        except InstanceError as exc:
            errors = [p for p in exc.problems if p.severity == "error"]
            assert errors
            for p in errors:  # every problem names a file of the instance
                assert ".csv" in p.where or "instance.toml" in p.where, str(p)
            return
        res = run(inst, RunOptions(prices=False))
        assert res.plan is not None
        report = check_plan(res.plan, inst)
        assert report.ok, (changes, report.errors)
