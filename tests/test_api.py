"""The public API: what ``import allocator`` offers, and that it behaves as the CLI does."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import allocator
from allocator.cli import main
from allocator.errors import InstanceError
from allocator.instance.model import Instance
from allocator.instance.validate import validate
from allocator.results import read_plan, write_plan
from allocator.results.check import check_plan
from allocator.results.plan import KEYS


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


# ---------------------------------------------------------------- notebooks, ids, edits


@pytest.fixture(scope="module")
def eurasia_result() -> allocator.RunResult:
    return allocator.run(Path(__file__).resolve().parents[1] / "instances" / "eurasia")


def test_plan_tables_by_id(eurasia_result: allocator.RunResult, tmp_path: Path) -> None:
    plan = eurasia_result.plan
    write_plan(plan, tmp_path / "before")
    leg = plan.table("legs").loc["KZ_KUR-AZ_ALA"]
    flows = plan.flows[plan.flows["leg"] == "KZ_KUR-AZ_ALA"]
    assert leg["flow_teu"] == pytest.approx(flows["teu"].sum())
    assert (leg["from"], leg["to"], leg["mode"]) == ("KZ_KUR", "AZ_ALA", "ferry")
    lot, via = flows["lot"].iloc[0], "KZ_KUR-AZ_ALA"
    assert plan.table("flows").loc[(lot, via), "teu"] == flows["teu"].iloc[0]
    assert plan.table("terminals").loc["DE_DUI", "name"] == "Duisburg"
    for name in KEYS:
        assert plan.table(name).index.is_unique, name
    assert plan.table("flows").index.names == ["lot", "leg"]
    # the tidy tables are untouched: columns and a plain row index, the files the same
    assert isinstance(plan.legs.index, pd.RangeIndex)
    assert plan.legs.columns[0] == "leg"
    write_plan(plan, tmp_path / "after")
    for file in sorted((tmp_path / "before").iterdir()):
        assert (tmp_path / "after" / file.name).read_bytes() == file.read_bytes(), file.name
    with pytest.raises(KeyError, match="has no ids"):
        plan.table("summary")


def test_a_table_not_computed_is_indexed_and_empty(tiny_folder: Path) -> None:
    plan = allocator.run(tiny_folder, allocator.RunOptions(prices=False)).plan
    assert plan.bottlenecks.columns.empty
    empty = plan.table("bottlenecks")
    assert empty.empty
    assert empty.index.names == ["kind", "id"]


def test_notebook_view_is_short_and_escaped(eurasia_result: allocator.RunResult) -> None:
    res = eurasia_result
    text = res._repr_html_()
    assert len(text) < 20_000
    assert text.startswith("<div><p><strong>RunResult</strong> eurasia-2026-W47, colgen: optimal")
    assert f"{res.plan.objective:,.2f} USD" in text
    assert "<td>0.00%</td>" in text  # gap
    assert f"{res.plan.info()['teu_total']:,.2f}" in text
    routes = text.split("<strong>routes</strong>")[1].split("<strong>legs</strong>")[0]
    assert f"(first 5 of {len(res.plan.routes)} rows)" in routes
    assert routes.count("</tr>") == 1 + 5  # header and five rows
    assert res.plan.routes["lot"].iloc[4] in routes
    assert "<strong>unserved</strong> (0 rows)" in text
    # ids are escaped, and a missing bound is said in words
    routes = res.plan.routes.assign(lot="<script>alert(1)</script>")
    summary = res.plan.summary.assign(bound=float("-inf"), gap=float("inf"))
    odd = dataclasses.replace(res.plan, routes=routes, summary=summary)
    html = odd._repr_html_()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<td>– (no bound)</td>" in html


def test_validate_checks_edited_settings(eurasia: Instance) -> None:
    edited = dataclasses.replace(
        eurasia, settings=eurasia.settings.model_copy(update={"co2_price_per_t": -1.0})
    )
    with pytest.raises(InstanceError) as info:
        validate(edited)
    [p] = info.value.problems
    assert (p.where, p.column) == ("settings", "co2_price_per_t")
    priced = eurasia.settings.model_copy(update={"co2_price_per_t": 100.0})
    again = validate(dataclasses.replace(eurasia, settings=priced))
    assert again.settings.co2_price_per_t == 100.0
    assert again.legs.equals(eurasia.legs)
