"""The plan workbook a planner opens: number formats, filters, a README sheet; values exact."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import allocator
from allocator.results import read_plan, write_plan


def _column(sheet: openpyxl.worksheet.worksheet.Worksheet, name: str) -> list:
    header = [c.value for c in sheet[1]]
    return list(
        sheet.iter_rows(min_row=2, min_col=header.index(name) + 1, max_col=header.index(name) + 1)
    )


def test_workbook_has_formats_filters_and_units(tiny_folder: Path, tmp_path: Path) -> None:
    plan = allocator.run(tiny_folder).plan
    target = write_plan(plan, tmp_path / "plan", "xlsx")
    book = openpyxl.load_workbook(target)
    routes = book["routes"]
    assert routes.auto_filter.ref == routes.dimensions  # every column filterable
    assert routes.freeze_panes == "A2"
    assert {row[0].number_format for row in _column(routes, "teu")} == {"#,##0.0"}
    assert {row[0].number_format for row in _column(routes, "cost_per_teu")} == {"#,##0.00"}
    assert {row[0].number_format for row in _column(routes, "days")} == {"0.0"}
    assert {row[0].number_format for row in _column(book["legs"], "utilisation")} == {"0.0%"}
    readme = pd.DataFrame(list(book["README"].values)[1:], columns=["sheet", "column", "unit"])
    keys = zip(readme["sheet"], readme["column"], strict=True)
    units = dict(zip(keys, readme["unit"], strict=True))
    assert units[("flows", "teu")] == "TEU"
    assert units[("routes", "cost_per_teu")] == "USD per TEU"
    assert units[("summary", "objective")] == "USD"
    assert units[("legs", "co2_kg")] == "kg CO2"
    # every column of every table is listed
    for name in plan.table_names()[1:]:
        listed = set(readme.loc[readme["sheet"] == name, "column"])
        assert listed == set(getattr(plan, name).columns), name
    # formats only change how numbers look: the plan reads back with exact values
    again = read_plan(target)
    pd.testing.assert_series_equal(again.routes["cost_per_teu"], plan.routes["cost_per_teu"])
    assert again.objective == pytest.approx(plan.objective, rel=1e-12)
