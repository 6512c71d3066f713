"""Validation: every error located by file, line/row/index and column; warnings; all at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from helpers import errors_of, problems_of

from allocator.instance.io import to_json_dict, write_instance
from allocator.instance.validate import MAX_PER_KIND, read_instance

Edit = tuple[str, str, str]  # (table or "toml", old text, new text)


def _folder(make: Any, files: dict[str, str], edits: list[Edit], **extra: str | None) -> Path:
    """The tiny instance with each ``old`` text replaced once by ``new``."""
    replace: dict[str, str | None] = dict(extra)
    for table, old, new in edits:
        file = "instance.toml" if table == "toml" else f"{table}.csv"
        text = replace.get(table) or files[file]
        assert old in text, f"{old!r} not in {file}"
        replace[table] = text.replace(old, new, 1)
    return make(**replace)


TARIFFS_TOML = (
    "toml",
    'restrictions = "restrictions.csv"\n',
    'restrictions = "restrictions.csv"\ntariffs = "tariffs.csv"\n',
)

# id, edits, extra files, where (suffix), column, value, message fragment
CASES: list[tuple[str, list[Edit], dict[str, str], str, str | None, Any, str]] = [
    (
        "missing required column",
        [("cargo", "id,origin,destination,teu,", "id,origin,destination,tue,")],
        {},
        "cargo.csv",
        None,
        None,
        "missing required column 'teu'",
    ),
    (
        "wrong type",
        [("legs", "300,50,", "300,abc,")],
        {},
        "legs.csv line 3",
        "capacity_teu",
        "abc",
        "expected a number",
    ),
    (
        "negative capacity",
        [("legs", "300,50,", "300,-5,")],
        {},
        "legs.csv line 3",
        "capacity_teu",
        "-5",
        "must be at least 0",
    ),
    (
        "NaN capacity",
        [("legs", "300,50,", "300,nan,")],
        {},
        "legs.csv line 3",
        "capacity_teu",
        "nan",
        "NaN or infinite numbers are not allowed",
    ),
    (
        "infinite capacity",
        [("legs", "300,50,", "300,inf,")],
        {},
        "legs.csv line 3",
        "capacity_teu",
        "inf",
        "leave the cell empty for 'unlimited'",
    ),
    (
        "empty required value",
        [("cargo", "L2,KZ_AAU,", "L2,,")],
        {},
        "cargo.csv line 3",
        "origin",
        None,
        "required value is empty",
    ),
    (
        "not one of the allowed values",
        [("legs", "KZ_MNG,rail,", "KZ_MNG,rial,")],
        {},
        "legs.csv line 2",
        "mode",
        "rial",
        "must be one of rail, road, sea, ferry, river (did you mean 'rail'?)",
    ),
    (
        "unknown node",
        [("legs", "AAU-MNG,KZ_AAU,", "AAU-MNG,KZ_AKT,")],
        {},
        "legs.csv line 2",
        "from",
        "KZ_AKT",
        "unknown node; expected an id in nodes (did you mean 'KZ_AAU'?)",
    ),
    (
        "unknown border",
        [("legs", ",KZAZ,", ",KZAX,")],
        {},
        "legs.csv line 3",
        "border",
        "KZAX",
        "unknown border; expected an id in borders (did you mean 'KZAZ'?)",
    ),
    (
        "unknown class",
        [("cargo", ",general,", ",generel,")],
        {},
        "cargo.csv line 2",
        "class",
        "generel",
        "unknown class; expected an id in classes (did you mean 'general'?)",
    ),
    (
        "leg from a node to itself",
        [("legs", "BAK-TBS,AZ_BAK,GE_TBS", "BAK-TBS,AZ_BAK,AZ_BAK")],
        {},
        "legs.csv line 4",
        "to",
        "AZ_BAK",
        "leg goes from a node to itself",
    ),
    (
        "latitude out of range",
        [("nodes", "43.6,51.1", "93.6,51.1")],
        {},
        "nodes.csv line 3",
        "lat",
        "93.6",
        "must be at most 90",
    ),
    (
        "longitude out of range",
        [("nodes", "40.3,49.9", "40.3,-190")],
        {},
        "nodes.csv line 4",
        "lon",
        "-190",
        "must be at least -180",
    ),
    (
        "unknown country code",
        [("nodes", "Tbilisi,GE,", "Tbilisi,XX,")],
        {},
        "nodes.csv line 5",
        "country",
        "XX",
        "unknown country code; expected ISO 3166-1 alpha-2",
    ),
    (
        "unknown border country code",
        [("borders", "Caspian,KZ,AZ", "Caspian,KZ,AZE")],
        {},
        "borders.csv line 2",
        "to_country",
        "AZE",
        "unknown country code",
    ),
    (
        "cargo origin equals destination",
        [("cargo", "L2,KZ_AAU,AZ_BAK", "L2,AZ_BAK,AZ_BAK")],
        {},
        "cargo.csv line 3",
        "destination",
        "AZ_BAK",
        "lot's destination equals its origin",
    ),
    (
        "bad bool",
        [("legs", "500,,,true", "500,,,maybe")],
        {},
        "legs.csv line 2",
        "reverse",
        "maybe",
        "expected true or false",
    ),
    (
        "teu zero",
        [("cargo", ",30,", ",0,")],
        {},
        "cargo.csv line 3",
        "teu",
        "0",
        "must be greater than 0",
    ),
    (
        "tariff bands missing for a mode used by a leg without cost",
        [("legs", "2000,70,500,", "2000,70,,")],
        {},
        "legs.csv line 2",
        "cost_per_teu",
        None,
        "no cost_per_teu and the tariffs table has no band for mode 'rail'",
    ),
    (
        "tariff bands not contiguous",
        [("legs", "2000,70,500,", "2000,70,,"), TARIFFS_TOML],
        {"tariffs": "mode,from_km,to_km,cost_per_teu_km\nrail,0,500,1\nrail,600,,0.5\n"},
        "tariffs.csv line 3",
        "from_km",
        600.0,
        "bands of mode 'rail' must start at 0 and be contiguous; expected 500",
    ),
    (
        "tariff band ends before it starts",
        [TARIFFS_TOML],
        {"tariffs": "mode,from_km,to_km,cost_per_teu_km\nroad,0,500,1\nroad,500,400,1\n"},
        "tariffs.csv line 3",
        "to_km",
        400.0,
        "must be greater than from_km",
    ),
    (
        "reverse id clash",
        [("legs", "BAK-TBS,", "AAU-MNG~r,")],
        {},
        "legs.csv line 2",
        "id",
        None,
        "reverse leg id 'AAU-MNG~r' is already used by another leg",
    ),
    (
        "max_services not an integer",
        [
            (
                "legs",
                "capacity_teu,border,reverse",
                "capacity_teu,border,reverse,service_capacity_teu,max_services",
            ),
            ("legs", "300,50,KZAZ,false", "300,50,KZAZ,false,40,2.5"),
        ],
        {},
        "legs.csv line 3",
        "max_services",
        "2.5",
        "expected an integer",
    ),
    (
        "max_services on a leg that is no service",
        [
            ("legs", "capacity_teu,border,reverse", "capacity_teu,border,reverse,max_services"),
            ("legs", "300,50,KZAZ,false", "300,50,KZAZ,false,3"),
        ],
        {},
        "legs.csv line 3",
        "max_services",
        3,
        "given for a leg without service_capacity_teu",
    ),
    (
        "unknown setting",
        [("toml", 'period = "2026-W47"', 'perod = "2026-W47"')],
        {},
        "instance.toml [settings]",
        "perod",
        "2026-W47",
        "unknown setting (did you mean 'period'?)",
    ),
    (
        "bad unserved value",
        [("toml", 'period = "2026-W47"', 'period = "2026-W47"\nunserved = "maybe"')],
        {},
        "instance.toml [settings]",
        "unserved",
        "maybe",
        "'penalty' or 'forbid'",
    ),
    (
        "bad per-mode setting",
        [("toml", "rail = 1.3", "rail = -1.3")],
        {},
        "instance.toml [settings]",
        "circuity.rail",
        -1.3,
        "greater than or equal to 0",
    ),
    (
        "missing name setting",
        [("toml", 'name = "tiny"\n', "")],
        {},
        "instance.toml [settings]",
        "name",
        None,
        "required setting is missing",
    ),
    (
        "unknown table",
        [("toml", 'cargo = "cargo.csv"\n', 'cargo = "cargo.csv"\ncargos = "more_cargo.csv"\n')],
        {"more_cargo": "id\n"},
        "more_cargo.csv",
        None,
        None,
        "unknown table 'cargos'; expected one of nodes, legs, departures, borders, classes, cargo, "
        "restrictions, tariffs, carried (did you mean 'cargo'?)",
    ),
    (
        "missing required table",
        [("toml", 'classes = "classes.csv"\n', "")],
        {},
        "instance.toml",
        None,
        None,
        "required table 'classes' is missing",
    ),
    (
        "table file not found",
        [("toml", '"borders.csv"', '"borderz.csv"')],
        {},
        "instance.toml [tables]",
        None,
        None,
        "file for table 'borders' not found",
    ),
    (
        "unknown toml section",
        [("toml", "[tables]", "[tabels]\nx = 1\n\n[tables]")],
        {},
        "instance.toml",
        None,
        None,
        "unknown section 'tabels'; expected [settings] and [tables]",
    ),
]


@pytest.mark.parametrize(
    ("edits", "extra", "where", "column", "value", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_error_is_located_and_explained(
    make_instance_folder: Any,
    tiny_instance_files: dict[str, str],
    edits: list[Edit],
    extra: dict[str, str],
    where: str,
    column: str | None,
    value: Any,
    message: str,
) -> None:
    folder = _folder(make_instance_folder, tiny_instance_files, edits, **extra)
    errors = errors_of(folder)
    hits = [p for p in errors if message in p.message]
    assert hits, f"no error with {message!r} in {[str(p) for p in errors]}"
    p = hits[0]
    assert p.where.endswith(where), p.where
    assert p.column == column
    assert p.value == value
    assert message in str(p)


def test_duplicate_id_names_the_first_line(
    make_instance_folder: Any, tiny_instance_files: dict[str, str]
) -> None:
    folder = _folder(make_instance_folder, tiny_instance_files, [("cargo", "L2,", "L1,")])
    [p] = errors_of(folder)
    assert p.where.endswith("cargo.csv line 3")
    assert (p.column, p.value) == ("id", "L1")
    assert p.message.startswith("duplicate id (first used at ")
    assert p.message.endswith("cargo.csv line 2)")


@pytest.mark.parametrize(
    ("scope", "target", "message"),
    [
        ("country", "QQ", "unknown country for scope 'country'"),
        ("border", "KZAX", "unknown border for scope 'border' (did you mean 'KZAZ'?)"),
        ("leg", "AAU-MNX", "unknown leg for scope 'leg' (did you mean 'AAU-MNG'?)"),
        ("mode", "plane", "unknown mode for scope 'mode'"),
        ("node", "KZ_AKT", "unknown node for scope 'node' (did you mean 'KZ_AAU'?)"),
    ],
)
def test_unknown_restriction_target_per_scope(
    make_instance_folder: Any, scope: str, target: str, message: str
) -> None:
    folder = make_instance_folder(restrictions=f"class,scope,target\nreefer,{scope},{target}\n")
    [p] = errors_of(folder)
    assert p.where.endswith("restrictions.csv line 2")
    assert (p.column, p.value) == ("target", target)
    assert p.message == message


def test_restriction_may_name_a_reverse_leg(make_instance_folder: Any) -> None:
    inst = read_instance(
        make_instance_folder(restrictions="class,scope,target\nreefer,leg,AAU-MNG~r\n")
    )
    assert "AAU-MNG~r" in inst.legs.index
    assert list(inst.restrictions["target"]) == ["AAU-MNG~r"]


def test_all_problems_are_reported_at_once(
    make_instance_folder: Any, tiny_instance_files: dict[str, str]
) -> None:
    folder = _folder(
        make_instance_folder,
        tiny_instance_files,
        [
            ("legs", "300,50,", "300,abc,"),
            ("legs", "BAK-TBS,AZ_BAK,GE_TBS", "BAK-TBS,AZ_BAK,AZ_BAK"),
            ("cargo", ",30,", ",0,"),
        ],
    )
    errors = errors_of(folder)
    assert len(errors) >= 3
    found = {(p.where.rsplit("/", 1)[-1], p.column) for p in errors}
    assert {
        ("legs.csv line 3", "capacity_teu"),
        ("legs.csv line 4", "to"),
        ("cargo.csv line 3", "teu"),
    } <= found


def test_many_problems_of_one_kind_are_capped(
    make_instance_folder: Any, tiny_instance_files: dict[str, str]
) -> None:
    n = MAX_PER_KIND + 5
    rows = "".join(f"X{i},KZ_AAU,GE_TBS,zero,general,\n" for i in range(n))
    folder = make_instance_folder(cargo=tiny_instance_files["cargo.csv"] + rows)
    errors = errors_of(folder)
    assert sum(p.message == "expected a number" for p in errors) == MAX_PER_KIND
    assert any("... and 5 more like 'not a number'" in p.message for p in errors)


def test_csv_line_numbers_count_blank_lines(
    make_instance_folder: Any, tiny_instance_files: dict[str, str]
) -> None:
    cargo = (
        tiny_instance_files["cargo.csv"].replace("\nL2,", "\n\n,,,,,\nL2,").replace(",30,", ",abc,")
    )
    [p] = errors_of(make_instance_folder(cargo=cargo))
    assert p.where.endswith("cargo.csv line 5"), p.where  # header 1, L1 2, blank 3, empty 4
    assert (p.column, p.value) == ("teu", "abc")


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    [p] = problems_of(tmp_path / "nowhere")
    assert p.message == "no such file or folder"
    assert p.where == str(tmp_path / "nowhere")


def test_folder_without_instance_toml(tmp_path: Path) -> None:
    [p] = problems_of(tmp_path)
    assert p.where.endswith("instance.toml")
    assert "needs instance.toml" in p.message


def test_invalid_toml_is_named(make_instance_folder: Any) -> None:
    [p] = problems_of(make_instance_folder(toml="[settings\nname = 1\n"))
    assert p.where.endswith("instance.toml")
    assert p.message.startswith("is not valid TOML")


# ---------------------------------------------------------------- Excel


def _xlsx(tiny_folder: Path, tmp_path: Path) -> Path:
    return write_instance(read_instance(tiny_folder), tmp_path / "tiny.xlsx")


def test_excel_row_numbers_match_the_spreadsheet(tiny_folder: Path, tmp_path: Path) -> None:
    path = _xlsx(tiny_folder, tmp_path)
    wb = openpyxl.load_workbook(path)
    legs = wb["legs"]
    header = [c.value for c in legs[1]]
    legs.cell(row=3, column=header.index("capacity_teu") + 1, value="abc")
    cargo = wb["cargo"]
    cargo.insert_rows(3)  # a blank spreadsheet row between L1 (row 2) and L2 (now row 4)
    cargo.cell(row=4, column=[c.value for c in cargo[1]].index("teu") + 1, value=0)
    wb.save(path)
    errors = errors_of(path)
    by_column = {p.column: p for p in errors}
    assert by_column["capacity_teu"].where == "tiny.xlsx sheet 'legs' row 3"
    assert by_column["capacity_teu"].value == "abc"
    assert by_column["teu"].where == "tiny.xlsx sheet 'cargo' row 4"
    assert by_column["teu"].message == "must be greater than 0"
    assert len(errors) == 2  # the blank row itself is no problem


def test_excel_unknown_setting_and_sheet(tiny_folder: Path, tmp_path: Path) -> None:
    path = _xlsx(tiny_folder, tmp_path)
    wb = openpyxl.load_workbook(path)
    wb["settings"].append(["circuity.rial", 1.1])
    row = wb["settings"].max_row
    wb.create_sheet("cargos").append(["id"])
    wb.save(path)
    errors = errors_of(path)
    setting = next(p for p in errors if p.column == "circuity.rial")
    assert setting.where == f"tiny.xlsx sheet 'settings' row {row}"
    assert setting.message.startswith("unknown setting")
    assert setting.value == 1.1
    table = next(p for p in errors if "unknown table" in p.message)
    assert table.where == "tiny.xlsx sheet 'cargos'"
    assert "did you mean 'cargo'" in table.message


# ---------------------------------------------------------------- JSON


def _json(tiny_folder: Path, tmp_path: Path, change: Any) -> Path:
    doc = to_json_dict(read_instance(tiny_folder))
    change(doc)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(doc))
    return path


def test_json_locations_are_table_index(tiny_folder: Path, tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["cargo"][1]["teu"] = 0
        doc["legs"][2]["from"] = "KZ_AKT"

    errors = errors_of(_json(tiny_folder, tmp_path, change))
    by_column = {p.column: p for p in errors}
    assert by_column["teu"].where == "tiny.json cargo[1]"
    assert by_column["teu"].value == 0
    assert by_column["from"].where == "tiny.json legs[2]"
    assert "did you mean 'KZ_AAU'" in by_column["from"].message


def test_json_unknown_table_and_bad_table(tiny_folder: Path, tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["nodez"] = []
        doc["borders"] = {"id": "KZAZ"}

    messages = {p.where: p.message for p in errors_of(_json(tiny_folder, tmp_path, change))}
    assert "unknown table 'nodez'" in messages["tiny.json nodez"]
    assert "did you mean 'nodes'" in messages["tiny.json nodez"]
    assert messages["tiny.json borders"] == "must be a list of objects"


def test_json_missing_required_table(tiny_folder: Path, tmp_path: Path) -> None:
    errors = errors_of(_json(tiny_folder, tmp_path, lambda doc: doc.pop("cargo")))
    assert any(p.message == "required table 'cargo' is missing" for p in errors)


# ---------------------------------------------------------------- warnings


def test_warnings_do_not_stop_the_instance(
    make_instance_folder: Any, tiny_instance_files: dict[str, str]
) -> None:
    folder = make_instance_folder(
        nodes=tiny_instance_files["nodes.csv"] + "KZ_DOS,Dostyk,KZ,45.2,82.5,border,,\n",
        borders=tiny_instance_files["borders.csv"] + "KZCN,Khorgos,KZ,CN,,,,true\n",
        # no leg goes back over the one-way ferry, so Baku -> Aktau has no path
        cargo=tiny_instance_files["cargo.csv"] + "L3,AZ_BAK,KZ_MNG,5,general,\n",
    )
    inst = read_instance(folder)
    assert len(inst.cargo) == 3
    assert all(p.severity == "warning" for p in inst.warnings)
    found = {(p.where.rsplit("/", 1)[-1], p.value, p.message) for p in inst.warnings}
    assert found == {
        ("nodes.csv line 6", "KZ_DOS", "isolated node: no leg starts or ends here"),
        ("borders.csv line 3", "KZCN", "border used by no leg"),
        ("cargo.csv line 4", "KZ_MNG", "no path at all from origin to destination over the legs"),
    }


def test_leg_border_of_other_countries_is_a_warning(
    make_instance_folder: Any, tiny_instance_files: dict[str, str]
) -> None:
    folder = _folder(
        make_instance_folder, tiny_instance_files, [("legs", "20,200,,,true", "20,200,,KZAZ,true")]
    )
    [p] = read_instance(folder).warnings
    assert p.where.endswith("legs.csv line 4")
    assert p.message == "leg's countries AZ->GE are not the sides of border 'KZAZ' (AZ/KZ)"


def test_sound_instance_has_no_warnings(tiny_folder: Path) -> None:
    inst = read_instance(tiny_folder)
    assert inst.warnings == ()
    assert sorted(inst.legs.index) == ["AAU-MNG", "AAU-MNG~r", "BAK-TBS", "BAK-TBS~r", "MNG-BAK"]
    assert inst.legs.loc["AAU-MNG~r", "from"] == "KZ_MNG"
    assert inst.legs.loc["AAU-MNG~r", "reverse_of"] == "AAU-MNG"
    assert inst.settings.circuity.rail == 1.3
    assert inst.settings.circuity.road == 1.2  # partial per-mode table keeps the defaults
