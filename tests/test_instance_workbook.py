"""An instance workbook written by allocator: header help, drop-downs and number checks from the
schema and the instance's own ids, a hidden ``lists`` sheet for long lists, exact round trip."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import openpyxl
import pycountry
import pytest
from conftest import EURASIA
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from allocator.cli import main
from allocator.instance.io import to_json_dict, write_instance
from allocator.instance.validate import read_instance

LAST_ROW = 1_048_576


def _checks(ws: Worksheet) -> dict[str, DataValidation]:
    """The validations of a sheet by the header of the column they cover."""
    headers = {c.column_letter: c.value for c in ws[1]}
    out = {}
    for dv in ws.data_validations.dataValidation:
        [cells] = list(dv.sqref.ranges)
        letter = cells.coord.split(":")[0].rstrip("0123456789")
        assert cells.coord == f"{letter}2:{letter}{LAST_ROW}", cells.coord  # the whole column
        out[headers[letter]] = dv
    return out


def _range_values(wb: openpyxl.Workbook, formula: str) -> list[str]:
    """The cells a ``lists!$A$2:$A$N`` formula refers to; the range must cover exactly them."""
    sheet, cells = formula.split("!")
    ws = wb[sheet]
    first, last = cells.replace("$", "").split(":")
    column = first.rstrip("0123456789")
    values = [c.value for c in ws[f"{first}:{last}"] for c in c]
    assert ws[f"{column}{int(last[len(column) :]) + 1}"].value is None  # nothing left out
    return values


def _csv_column(name: str, column: str) -> list[str]:
    with (EURASIA / f"{name}.csv").open(encoding="utf-8") as f:
        return [row[column] for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def eurasia_xlsx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("workbook") / "eurasia.xlsx"
    assert main(["convert", str(EURASIA), str(out), "-q"]) == 0
    return out


def test_drop_downs_offer_schema_values_and_the_instances_ids(eurasia_xlsx: Path) -> None:
    wb = openpyxl.load_workbook(eurasia_xlsx)
    legs, cargo, nodes = _checks(wb["legs"]), _checks(wb["cargo"]), _checks(wb["nodes"])
    assert legs["mode"].type == "list"
    assert legs["mode"].formula1 == '"rail,road,sea,ferry,river"'
    assert nodes["kind"].formula1 == '"port,rail_terminal,border,hub,city"'
    assert _checks(wb["restrictions"])["scope"].formula1 == '"country,border,leg,mode,node"'
    # class references: the four classes fit inline
    classes = _csv_column("classes", "id")
    assert cargo["class"].formula1 == '"' + ",".join(classes) + '"'
    assert _checks(wb["restrictions"])["class"].formula1 == cargo["class"].formula1
    assert legs["border"].formula1 == '"' + ",".join(_csv_column("borders", "id")) + '"'
    # 57 node ids exceed 255 characters: one range of the hidden sheet, shared by every node column
    node_ids = _csv_column("nodes", "id")
    assert len(",".join(node_ids)) > 255
    formula = legs["from"].formula1
    assert formula.startswith("lists!")
    assert _range_values(wb, formula) == node_ids
    for dv in (legs["to"], cargo["origin"], cargo["destination"]):
        assert dv.formula1 == formula
    countries = _range_values(wb, nodes["country"].formula1)
    assert set(countries) >= {c.alpha_2 for c in pycountry.countries}
    assert {"KZ", "CN", "DE", "XK"} <= set(countries)
    assert _checks(wb["borders"])["from_country"].formula1 == nodes["country"].formula1
    assert wb["lists"].sheet_state == "hidden"
    # free text and restriction targets (the kind depends on the row) have no list
    assert "name" not in nodes
    assert "target" not in _checks(wb["restrictions"])
    assert "id" not in legs
    # Excel warns about a value outside the list but lets a new id stand
    assert {dv.errorStyle for dv in legs.values()} == {"warning"}
    assert all(dv.allow_blank for dv in legs.values())


def test_number_cells_are_checked_against_the_schemas_bounds(eurasia_xlsx: Path) -> None:
    wb = openpyxl.load_workbook(eurasia_xlsx)
    nodes, legs, cargo = _checks(wb["nodes"]), _checks(wb["legs"]), _checks(wb["cargo"])
    lat = nodes["lat"]
    assert (lat.type, lat.operator, lat.formula1, lat.formula2) == (
        "decimal",
        "between",
        "-90",
        "90",
    )
    assert (cargo["teu"].operator, cargo["teu"].formula1) == ("greaterThan", "0")
    assert (legs["capacity_teu"].operator, legs["capacity_teu"].formula1) == (
        "greaterThanOrEqual",
        "0",
    )
    assert legs["max_services"].type == "whole"
    assert "reverse" not in legs  # booleans accept yes/no/1/0 as well


def test_header_cells_carry_the_columns_help(eurasia_xlsx: Path) -> None:
    wb = openpyxl.load_workbook(eurasia_xlsx)
    header = {c.value: c for c in wb["legs"][1]}
    text = header["distance_km"].comment.text
    assert "Route length" in text
    assert "Unit: km" in text
    assert "Optional." in text
    assert "Allowed: ≥ 0" in text
    mode = header["mode"].comment.text
    assert "Required." in mode
    assert "Allowed: one of rail, road, sea, ferry, river" in mode
    lot = {c.value: c for c in wb["cargo"][1]}["origin"].comment.text
    assert "Allowed: id of a row in nodes" in lot
    settings = {r[0]: r for r in wb["settings"].iter_rows(min_row=2, values_only=True)}
    assert settings["unserved"][1] == "penalty"
    assert settings["unserved"][2].startswith("penalty: a lot may stay unmoved")
    assert "per mode" in settings["speed_kmh.rail"][2]
    [unserved] = wb["settings"].data_validations.dataValidation
    row = [r[0].value for r in wb["settings"].iter_rows()].index("unserved") + 1
    assert (str(unserved.sqref), unserved.formula1) == (f"B{row}", '"penalty,forbid"')


def test_a_setting_left_empty_reads_back_as_its_default(tmp_path: Path) -> None:
    # the Eurasia example without a period: the empty text is written as an empty cell
    original = read_instance(EURASIA)
    blank = original.settings.model_copy(update={"period": ""})
    inst = dataclasses.replace(original, settings=blank)
    again = read_instance(write_instance(inst, tmp_path / "blank.xlsx"))
    assert again.settings.period == ""
    assert to_json_dict(again) == to_json_dict(inst)


def test_the_workbook_reads_back_exactly_without_a_word_about_the_lists_sheet(
    eurasia_xlsx: Path,
) -> None:
    original = read_instance(EURASIA)
    again = read_instance(eurasia_xlsx)
    assert to_json_dict(again) == to_json_dict(original)
    assert [p.message for p in again.warnings] == [p.message for p in original.warnings]
    assert not any("lists" in p.where or "lists" in p.message for p in again.warnings)


def test_a_visible_sheet_called_lists_is_a_planners_sheet(
    eurasia_xlsx: Path, tmp_path: Path
) -> None:
    wb = openpyxl.load_workbook(eurasia_xlsx)
    wb["lists"].sheet_state = "visible"
    wb.save(tmp_path / "shown.xlsx")
    warned = [p for p in read_instance(tmp_path / "shown.xlsx").warnings if "'lists'" in p.where]
    assert [p.message.split(" (")[0] for p in warned] == ["not a table of the instance"]


def _classes_workbook(make_instance_folder, tmp_path: Path, third: str) -> openpyxl.Workbook:
    """The tiny instance (classes general, reefer) with a third class ``third``, as a workbook."""
    folder = make_instance_folder(
        tmp_path.name, classes=f'id,value_per_teu_day\ngeneral,20\nreefer,45\n"{third}",5\n'
    )
    out = write_instance(read_instance(folder), tmp_path / "tiny.xlsx")
    return openpyxl.load_workbook(out)


def test_a_list_of_255_characters_is_inline_and_one_more_goes_to_the_lists_sheet(
    make_instance_folder, tmp_path: Path
) -> None:
    fits = "x" * (255 - len("general,reefer,"))
    wb = _classes_workbook(make_instance_folder, tmp_path / "a", fits)
    assert _checks(wb["cargo"])["class"].formula1 == f'"general,reefer,{fits}"'
    assert len(_checks(wb["cargo"])["class"].formula1) == 257  # the list and its quotes
    assert [c.value for c in wb["lists"][1]] == ["country"]  # the only long list

    wb = _classes_workbook(make_instance_folder, tmp_path / "b", fits + "x")
    formula = _checks(wb["cargo"])["class"].formula1
    assert formula == "lists!$B$2:$B$4"
    assert _range_values(wb, formula) == ["general", "reefer", fits + "x"]
    assert [c.value for c in wb["lists"][1]] == ["country", "classes"]
    assert wb["lists"].sheet_state == "hidden"


def test_an_id_with_a_comma_or_quote_goes_to_the_lists_sheet(
    make_instance_folder, tmp_path: Path
) -> None:
    wb = _classes_workbook(make_instance_folder, tmp_path, "bulk, bagged")
    formula = _checks(wb["cargo"])["class"].formula1
    assert _range_values(wb, formula) == ["general", "reefer", "bulk, bagged"]
    assert read_instance(tmp_path / "tiny.xlsx").classes.index.tolist() == [
        "general",
        "reefer",
        "bulk, bagged",
    ]


def test_generate_writes_the_same_checks(tmp_path: Path) -> None:
    out = tmp_path / "g.xlsx"
    assert main(["generate", str(out), "--nodes", "40", "--lots", "30", "-q"]) == 0
    wb = openpyxl.load_workbook(out)
    legs = _checks(wb["legs"])
    node_ids = [r[0] for r in wb["nodes"].iter_rows(min_row=2, values_only=True)]
    assert _range_values(wb, legs["from"].formula1) == node_ids
    assert legs["mode"].formula1 == '"rail,road,sea,ferry,river"'
