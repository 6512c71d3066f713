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
from allocator.results.check import check_plan


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


def test_readme_python_snippet_runs(tmp_path: Path) -> None:
    # the README's Python example, as written, with its paths pointed at the repository and tmp
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    repo = Path(__file__).resolve().parents[1]
    code = code.replace('"instances/eurasia"', repr(str(repo / "instances" / "eurasia")))
    code = code.replace('"out/api"', repr(str(tmp_path / "api")))
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
    res = namespace["res"]
    assert res.result.termination == "optimal"
    checked = check_plan(res.plan, res.instance)  # the plan re-verified without the model
    assert checked.ok, checked.errors
    assert checked.recomputed_objective == pytest.approx(res.plan.objective, rel=1e-9)
    assert (tmp_path / "api" / "report.html").is_file()
    assert (tmp_path / "api" / "flows.csv").is_file()
    # a short repr: status, objective, bound and gap, not the tables
    text = repr(res)
    assert len(text) < 400
    assert "optimal" in text
