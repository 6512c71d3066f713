"""The public API: what ``import allocator`` offers, and that it behaves as the CLI does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import allocator
from allocator.cli import main
from allocator.results import read_plan


def test_every_public_name_resolves() -> None:
    for name in allocator.__all__:
        assert getattr(allocator, name) is not None, name
    assert set(allocator.__all__) <= set(dir(allocator))


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'solve_it'"):
        _ = allocator.solve_it  # type: ignore[attr-defined]


def test_import_is_light() -> None:
    # reading instances must not pay for the solver stack: those load on first use of run
    code = (
        "import sys, allocator; "
        "print(sorted(m for m in ('pyomo', 'highspy', 'numba') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_run_has_the_defaults_of_the_cli(tiny_folder: Path, tmp_path: Path) -> None:
    # the same instance through allocator.run() and `allocator solve`: same model, same plan,
    # prices on in both
    res = allocator.run(tiny_folder)
    assert main(["solve", str(tiny_folder), "--out", str(tmp_path / "cli"), "-q"]) == 0
    written = read_plan(tmp_path / "cli")
    assert res.plan.objective == pytest.approx(written.objective, rel=1e-9)
    assert res.plan.info()["model"] == written.info()["model"]
    assert not res.plan.bottlenecks.empty
    pd.testing.assert_frame_equal(
        res.plan.bottlenecks.reset_index(drop=True),
        written.bottlenecks.reset_index(drop=True),
        check_dtype=False,
    )
