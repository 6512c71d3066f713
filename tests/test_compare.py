"""allocator compare: the numbers equal each plan's own tables and the differences add up."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest

from allocator.analysis.compare import (
    COST,
    PRICE,
    TEU_CORRIDOR,
    UTILISATION,
    compare_plans,
    differences,
    run_names,
)
from allocator.cli import main
from allocator.pipeline import read_run
from allocator.results import Plan

# the tiny instance (conftest): 40 + 30 TEU must cross the MNG-BAK ferry (50 TEU a week), so 20 TEU
# stay unmoved; the scenario doubles the ferry and everything moves
DOUBLE_FERRY = """\
name = "ferry-x2"
base = "."
[[change]]
kind = "scale_capacity"
of = "legs"
where = { id = "MNG-BAK" }
factor = 2
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import TINY_FILES

    root = tmp_path_factory.mktemp("compare")
    folder = root / "tiny"
    folder.mkdir()
    for name, text in TINY_FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    (root / "x2.toml").write_text(DOUBLE_FERRY, encoding="utf-8")
    args = ["solve", str(folder), "--scenario", str(root / "x2.toml"), "--out", str(root / "out")]
    assert main([*args, "--no-report", "--quiet"]) == 0
    return root / "out"


def plans(runs: Path) -> dict[str, Plan]:
    return {name: read_run(runs / name)[0] for name in ("base", "ferry-x2")}


def test_metrics_equal_each_plans_own_tables(runs: Path) -> None:
    ps = plans(runs)
    table = compare_plans(ps)
    assert table.index.name == "metric"
    assert list(table.columns) == ["base", "ferry-x2"]
    for name, plan in ps.items():
        s = plan.summary.iloc[0]
        col = table[name]
        assert col["total cost"] == pytest.approx(s["objective"])
        assert col["TEU moved"] == pytest.approx(s["teu_moved"])
        assert col["TEU unserved"] == pytest.approx(s["teu_unserved"])
        assert col["CO2 t"] == pytest.approx(s["co2_t"])
        assert col["average days"] == pytest.approx(s["avg_days"])
        for component, cost in plan.costs.groupby("component")["cost"].sum().items():
            assert col[COST + component] == pytest.approx(cost)
        routes = plan.routes.assign(corridor=plan.routes["corridor"].fillna("(none)"))
        for corridor, teu in routes.groupby("corridor")["teu"].sum().items():
            assert col[TEU_CORRIDOR + corridor] == pytest.approx(teu)
        legs = plan.legs.set_index("leg")
        assert col[UTILISATION + "leg MNG-BAK"] == pytest.approx(legs.loc["MNG-BAK", "utilisation"])
    # by hand: the ferry is full in the base (50 of 50), 70 of 100 TEU with the scenario
    assert table.loc[UTILISATION + "leg MNG-BAK"].tolist() == pytest.approx([1.0, 0.7])
    assert table.loc["TEU unserved"].tolist() == pytest.approx([20.0, 0.0])


def test_differences_add_up(runs: Path) -> None:
    table = compare_plans(plans(runs))
    diff = differences(table)["ferry-x2 - base"]
    components = [m for m in table.index if m.startswith(COST)]
    corridors = [m for m in table.index if m.startswith(TEU_CORRIDOR)]
    assert diff[components].sum() == pytest.approx(diff["total cost"], abs=1e-6)
    assert diff[corridors].sum() == pytest.approx(diff["TEU moved"], abs=1e-9)
    assert diff["TEU moved"] == pytest.approx(20.0)
    assert diff["TEU moved"] + diff["TEU unserved"] == pytest.approx(0.0, abs=1e-9)


def test_prices_come_from_the_bottlenecks_table(runs: Path) -> None:
    ps = plans(runs)
    table = compare_plans(ps)
    b = ps["base"].bottlenecks.set_index(["kind", "id"])
    # solve computes prices by default: the full ferry is the base run's bottleneck
    assert table.loc[PRICE + "leg MNG-BAK", "base"] == pytest.approx(
        b.loc[("leg", "MNG-BAK"), "price_per_teu"]
    )
    assert table.loc[PRICE + "leg MNG-BAK", "base"] > 0
    assert ps["ferry-x2"].bottlenecks.empty  # nothing binds once the ferry is doubled: price 0
    assert table.loc[PRICE + "leg MNG-BAK", "ferry-x2"] == 0.0


def test_a_run_without_prices_shows_none(runs: Path) -> None:
    ps = plans(runs)
    ps["ferry-x2"] = dataclasses.replace(
        ps["ferry-x2"],
        summary=ps["ferry-x2"].summary.drop(columns="prices_lp_objective"),
        bottlenecks=pd.DataFrame(),
    )
    table = compare_plans(ps)
    assert math.isnan(table.loc[PRICE + "leg MNG-BAK", "ferry-x2"])  # not computed there
    assert table.loc[PRICE + "leg MNG-BAK", "base"] > 0


def test_cli_writes_csv_and_markdown(runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    assert main(["compare", str(runs / "base"), str(runs / "ferry-x2"), "--out", str(out)]) == 0
    written = pd.read_csv(out / "compare.csv", index_col="metric")
    table = compare_plans(plans(runs))
    assert list(written.columns) == ["base", "ferry-x2", "ferry-x2 - base"]
    pd.testing.assert_series_equal(written["base"], table["base"], check_names=False)
    assert written.loc["TEU moved", "ferry-x2 - base"] == pytest.approx(20.0)
    md = (out / "compare.md").read_text(encoding="utf-8")
    assert "| TEU unserved | 20 | 0 | -20 |" in md
    assert "| utilisation: leg MNG-BAK | 100.0% | 70.0% | -30.0% |" in md


def test_solve_with_scenarios_also_writes_the_comparison(runs: Path) -> None:
    written = pd.read_csv(runs / "compare.csv", index_col="metric")
    assert written.loc["TEU unserved", "ferry-x2 - base"] == pytest.approx(-20.0)


def test_cli_report_writes_html(runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    args = ["compare", str(runs / "base"), str(runs / "ferry-x2"), "--out", str(out), "--report"]
    assert main(args) == 0
    assert (out / "report.html").read_text(encoding="utf-8").lstrip().startswith("<!DOCTYPE html")


def test_a_missing_run_exits_2(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(runs / "base"), str(tmp_path / "nope")]) == 2
    assert "not a plan folder" in capsys.readouterr().err


def test_run_names_are_unique() -> None:
    assert run_names(["a/w47/base", "a/w48/base", "a/w48/x"]) == ["w47/base", "w48/base", "w48/x"]
    assert run_names(["out/base", "out/s1"]) == ["base", "s1"]
