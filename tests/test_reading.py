"""Files as desktops write them: European Excel CSV (delimiter, decimal comma, encoding), short and
long rows, headers, workbooks written by scripts (formulas without values), title rows, dates,
case-insensitive names, unknown columns and sheets, strict reading, .dow line numbers.

Every file is written for real: CSV with the csv module in the named encoding, workbooks with
openpyxl; each test asserts where the problem is reported and the wording, or the values read.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from helpers import errors_of, only_error

from allocator.errors import InstanceError
from allocator.instance.dow import parse_dow
from allocator.instance.io import read_raw, write_instance
from allocator.instance.validate import read_instance

SAVE_HINT = "save it as CSV UTF-8 (comma delimited)"


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _write_csv(
    path: Path,
    rows: list[list[str]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    bom: bool = False,
    decimal_comma: bool = False,
) -> None:
    """Write ``rows`` as Excel would in a European locale (CRLF, optional BOM)."""
    if decimal_comma:
        rows = [rows[0]] + [[_comma(c) for c in row] for row in rows[1:]]
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    data = out.getvalue().encode(encoding)
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + data)


def _comma(cell: str) -> str:
    try:
        float(cell)
    except ValueError:
        return cell
    return cell.replace(".", ",")


CARGO = [
    ["id", "origin", "destination", "teu", "class", "due_days", "penalty_per_teu", "note"],
    ["L1", "KZ_AAU", "GE_TBS", "12.5", "general", "", "1234.5", "für Köln – Zoll 5 €"],
    ["L2", "KZ_AAU", "AZ_BAK", "30", "reefer", "12", "", ""],
]

# ---------------------------------------------------------------- European CSV


def test_semicolon_decimal_comma_windows_1252_cargo_reads_the_right_values(
    tiny_folder: Path,
) -> None:
    rows = [r[:] for r in CARGO]
    rows[1][6] = "1.234,5"  # a thousands separator as Excel writes it with a number format
    _write_csv(
        tiny_folder / "cargo.csv", rows, delimiter=";", encoding="cp1252", decimal_comma=True
    )
    assert b"12,5" in (tiny_folder / "cargo.csv").read_bytes()
    inst = read_instance(tiny_folder)
    assert inst.cargo.loc["L1", "teu"] == 12.5
    assert inst.cargo.loc["L1", "penalty_per_teu"] == 1234.5
    assert inst.cargo.loc["L2", "due_days"] == 12.0
    assert inst.cargo.loc["L1", "note"] == "für Köln – Zoll 5 €"
    assert inst.warnings == ()


def test_utf8_bom_and_tabs_are_read(tiny_folder: Path) -> None:
    _write_csv(tiny_folder / "cargo.csv", CARGO, delimiter="\t", bom=True, decimal_comma=True)
    inst = read_instance(tiny_folder)
    assert inst.cargo.loc["L1", "teu"] == 12.5
    assert list(inst.cargo.index) == ["L1", "L2"]


def test_windows_1250_names_are_decoded(
    tiny_folder: Path, tiny_instance_files: dict[str, str]
) -> None:
    rows = _rows(tiny_instance_files["nodes.csv"])
    rows[2][1] = "Małaszewicze Łódź"  # ł and Ł are symbols in Windows-1252: this is 1250
    _write_csv(tiny_folder / "nodes.csv", rows, delimiter=";", encoding="cp1250")
    inst = read_instance(tiny_folder)
    assert inst.nodes.loc["KZ_MNG", "name"] == "Małaszewicze Łódź"
    assert inst.nodes.loc["KZ_MNG", "lat"] == 43.6  # a decimal point: no decimal comma here


def test_ambiguous_single_byte_encoding_is_one_error_naming_the_file(
    tiny_folder: Path, tiny_instance_files: dict[str, str]
) -> None:
    rows = _rows(tiny_instance_files["nodes.csv"])
    rows[3][1] = "Praha Uhříněves"  # letters in Windows-1250 and in Windows-1252
    _write_csv(tiny_folder / "nodes.csv", rows, encoding="cp1250")
    [p] = errors_of(tiny_folder)
    assert p.where.endswith("nodes.csv line 4")
    assert "encoding is ambiguous: 'Uhříněves' in Windows-1250 or 'Uhøínìves' in Windows-1252" in (
        p.message
    )
    assert p.message.endswith(SAVE_HINT)


def test_mixed_decimal_separators_are_ambiguous(tiny_folder: Path) -> None:
    rows = [r[:] for r in CARGO]
    rows[1][3], rows[1][6] = "12,5", ""
    rows[2][3] = "0.25"
    _write_csv(tiny_folder / "cargo.csv", rows, delimiter=";")
    [p] = errors_of(tiny_folder)
    assert p.where.endswith("cargo.csv")
    assert p.message == (
        f"mixes decimal commas (line 2: '12,5') and decimal points (line 3: '0.25'); {SAVE_HINT}"
    )


def test_thousands_or_decimal_point_is_ambiguous(tiny_folder: Path) -> None:
    rows = [r[:] for r in CARGO]
    rows[1][3], rows[1][6] = "12", "1.234"
    _write_csv(tiny_folder / "cargo.csv", rows, delimiter=";")
    [p] = errors_of(tiny_folder)
    assert p.where.endswith("cargo.csv line 2")
    assert p.message.startswith("'1.234' may be a decimal or a thousands separator")


def test_undecidable_delimiter_is_one_error(tiny_folder: Path) -> None:
    p = only_error(tiny_folder, "cargo.csv", "id;origin,destination\nL1;KZ_AAU,GE_TBS\n")
    assert p.where.endswith("cargo.csv")
    assert p.message == (
        f"cannot tell whether the fields are separated by commas or semicolons; {SAVE_HINT}"
    )


@pytest.mark.parametrize(
    ("data", "where", "message"),
    [
        (b"", "cargo.csv", "is empty; expected a header line with the column names"),
        (b"id,teu\nL1,\x00\x01\x02\n", "cargo.csv line 2", "is not a text file (binary content)"),
        (b"PK\x03\x04rest of a zip", "cargo.csv", "is an Excel workbook or another zip file"),
        (b"id,name\n\x81\x8d\x8f\n", "cargo.csv", "is neither UTF-8 nor Windows-1250/1252"),
        (b'id,origin\nL1,"KZ_AAU\n', "cargo.csv line 2", "is not valid CSV"),
        (b"\xef\xbb\xbfid,name\nL1,\xb3\n", "cargo.csv line 2", "starts with a UTF-8 byte-order"),
    ],
    ids=["empty", "binary", "zip", "undecodable", "open quote", "bad bom"],
)
def test_unreadable_table_file_names_the_file_and_line(
    tiny_folder: Path, data: bytes, where: str, message: str
) -> None:
    (tiny_folder / "cargo.csv").write_bytes(data)
    [p] = errors_of(tiny_folder)  # no follow-on "required table 'cargo' is missing"
    assert p.where.endswith(where), p.where
    assert message in p.message


def test_table_path_outside_the_folder_names_that_file(tiny_folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "passwd"
    outside.parent.mkdir()
    outside.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/bin/sh\n")
    toml = tiny_folder / "instance.toml"
    toml.write_text(toml.read_text().replace('"classes.csv"', f'"{outside}"'))
    [p] = errors_of(tiny_folder)  # and no "unknown class" for every lot
    assert p.where == str(outside)
    assert p.message.startswith("no column of the schema in the header (it holds 'root:x:0:0:")
    assert p.message.endswith("expected the columns id, value_per_teu_day")


def test_a_folder_given_as_table_is_named(tiny_folder: Path) -> None:
    (tiny_folder / "sub").mkdir()
    toml = tiny_folder / "instance.toml"
    toml.write_text(toml.read_text().replace('"borders.csv"', '"sub"'))
    [p] = errors_of(tiny_folder)
    assert p.where.endswith("sub")
    assert p.message == "is a folder; a table is a .csv or .parquet file"


# ---------------------------------------------------------------- rows and headers


def test_short_row_is_a_located_error_not_padded(
    tiny_folder: Path, tiny_instance_files: dict[str, str]
) -> None:
    legs = tiny_instance_files["legs.csv"].replace("500,,,true\n", "500,,\n", 1)
    # one error: the shifted cells of that row are not reported again
    p = only_error(tiny_folder, "legs.csv", legs)
    assert p.where.endswith("legs.csv line 2")
    assert p.message == "9 fields, the header has 10; a value or its delimiter is missing"


def test_long_row_is_a_located_error_and_trailing_empty_fields_are_not(
    tiny_folder: Path, tiny_instance_files: dict[str, str]
) -> None:
    lines = tiny_instance_files["cargo.csv"].splitlines()
    lines[1] += ",,,"  # Excel's stray empty cells
    lines[2] += ",x"
    p = only_error(tiny_folder, "cargo.csv", "\n".join(lines) + "\n")
    assert p.where.endswith("cargo.csv line 3")
    assert p.message == "7 fields, the header has 6"


def test_corrected_rows_read_with_the_right_values(
    tiny_folder: Path, tiny_instance_files: dict[str, str]
) -> None:
    lines = tiny_instance_files["cargo.csv"].splitlines()
    lines[1] += ",,,"
    (tiny_folder / "cargo.csv").write_text("\n".join(lines) + "\n")
    inst = read_instance(tiny_folder)
    assert inst.cargo.loc["L1", "teu"] == 40.0
    assert inst.cargo.loc["L2", "due_days"] == 12.0


def test_duplicate_column_is_an_error(tiny_folder: Path) -> None:
    rows = [r[:5] + ["teu"] for r in CARGO[:1]] + [r[:5] + ["1"] for r in CARGO[1:]]
    _write_csv(tiny_folder / "cargo.csv", rows)
    [p] = errors_of(tiny_folder)
    assert p.where.endswith("cargo.csv")
    assert p.message == "column 'teu' is given twice (field 4 and field 6); keep one"


def test_misspelt_column_warns_with_did_you_mean_and_strict_makes_it_an_error(
    tiny_folder: Path, tiny_instance_files: dict[str, str]
) -> None:
    cargo = tiny_instance_files["cargo.csv"].replace("due_days", "due_day").replace(",12", ",3")
    (tiny_folder / "cargo.csv").write_text(cargo)
    inst = read_instance(tiny_folder)
    [w] = inst.warnings
    assert str(w) == (
        f"{w.where}: column 'due_day' is not in the schema (did you mean 'due_days'?); "
        "kept as extra data"
    )
    assert w.where.endswith("cargo.csv")
    assert inst.cargo["due_days"].isna().all()
    assert inst.cargo.loc["L2", "due_day"] == "3"
    [e] = [p for p in errors_of(tiny_folder, strict=True) if p.where.endswith("cargo.csv")]
    assert "column 'due_day' is not in the schema (did you mean 'due_days'?)" in e.message
    assert "strict" in e.message


def test_extra_column_far_from_the_schema_is_kept_silently_unless_strict(
    tiny_folder: Path,
) -> None:
    inst = read_instance(tiny_folder)  # nodes.csv has a 'note' column
    assert inst.warnings == ()
    [e] = errors_of(tiny_folder, strict=True)
    assert e.where.endswith("nodes.csv")
    assert e.message.startswith("column 'note' is not in the schema")


def test_column_and_table_names_match_trimmed_and_case_insensitively(
    tiny_folder: Path, tiny_instance_files: dict[str, str]
) -> None:
    cargo = tiny_instance_files["cargo.csv"].replace("teu,class,due_days", "TEU, Class , Due_Days")
    (tiny_folder / "cargo.csv").write_text(cargo)
    toml = tiny_folder / "instance.toml"
    toml.write_text(toml.read_text().replace('cargo = "cargo.csv"', 'Cargo = "cargo.csv"'))
    inst = read_instance(tiny_folder)
    assert inst.cargo.loc["L2", "due_days"] == 12.0
    assert inst.cargo.loc["L1", "teu"] == 40.0
    assert inst.cargo.loc["L1", "class"] == "general"
    assert inst.warnings == ()


def test_title_line_above_the_csv_header_is_one_error(
    tiny_folder: Path, tiny_instance_files: dict[str, str]
) -> None:
    text = "Cargo W47 (draft);;;;;\n" + tiny_instance_files["cargo.csv"].replace(",", ";")
    p = only_error(tiny_folder, "cargo.csv", text)
    assert p.where.endswith("cargo.csv line 1")
    assert p.message == (
        "the header is expected in line 1, but line 1 holds 'Cargo W47 (draft)' and the column "
        "names are in line 2; delete the lines above the header"
    )


# ---------------------------------------------------------------- Excel


def _xlsx(tiny_folder: Path, tmp_path: Path) -> Path:
    return write_instance(read_instance(tiny_folder), tmp_path / "tiny.xlsx")


def _col(ws: Any, name: str) -> int:
    return [c.value for c in ws[1]].index(name) + 1


def test_formula_without_a_computed_value_is_located_never_empty(
    tiny_folder: Path, tmp_path: Path
) -> None:
    path = _xlsx(tiny_folder, tmp_path)
    wb = openpyxl.load_workbook(path)
    ws = wb["legs"]
    ws.cell(row=3, column=_col(ws, "capacity_teu"), value="=2*280")  # a capacity: not unlimited
    ws = wb["cargo"]
    ws.cell(row=2, column=_col(ws, "teu"), value="=SUM(100,34)")  # required: not "empty"
    wb.save(path)
    errors = errors_of(path)
    assert [(p.where, p.column) for p in errors] == [
        ("tiny.xlsx sheet 'cargo' row 2", "teu"),
        ("tiny.xlsx sheet 'legs' row 3", "capacity_teu"),
    ]
    assert errors[1].message == (
        "formula '=2*280' has no computed value; open and save the workbook in Excel, "
        "or enter the number"
    )
    assert "formula '=SUM(100,34)' has no computed value" in errors[0].message


def _cache_formula_value(path: Path, formula: str, value: str) -> None:
    """Give a formula the computed value Excel stores on saving (openpyxl writes none)."""
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    tag = f"<f>{formula}</f>".encode()
    hits = [n for n, data in parts.items() if tag in data]
    assert len(hits) == 1
    data = (
        parts[hits[0]].replace(tag + b"<v></v>", tag).replace(tag, tag + f"<v>{value}</v>".encode())
    )
    parts[hits[0]] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in parts.items():
            z.writestr(name, content)


def test_formula_with_a_computed_value_reads_the_value(tiny_folder: Path, tmp_path: Path) -> None:
    path = _xlsx(tiny_folder, tmp_path)
    wb = openpyxl.load_workbook(path)
    ws = wb["legs"]
    ws.cell(row=3, column=_col(ws, "capacity_teu"), value="=2*280")
    wb.save(path)
    _cache_formula_value(path, "2*280", "560")
    inst = read_instance(path)
    assert inst.legs.loc["MNG-BAK", "capacity_teu"] == 560.0


def test_title_row_above_the_sheet_header_is_one_error(tiny_folder: Path, tmp_path: Path) -> None:
    path = _xlsx(tiny_folder, tmp_path)
    wb = openpyxl.load_workbook(path)
    wb["cargo"].insert_rows(1, amount=2)
    wb["cargo"]["A1"] = "Cargo W47 (draft)"
    wb.save(path)
    [p] = errors_of(path)
    assert p.where == "tiny.xlsx sheet 'cargo' row 1"
    assert p.message == (
        "the header is expected in row 1, but row 1 holds 'Cargo W47 (draft)' and the column "
        "names are in row 3; delete the rows above the header"
    )


def test_dates_are_shown_as_dates(tiny_folder: Path, tmp_path: Path) -> None:
    path = _xlsx(tiny_folder, tmp_path)
    wb = openpyxl.load_workbook(path)
    ws = wb["cargo"]
    ws.cell(row=2, column=_col(ws, "due_days"), value=dt.datetime(2026, 12, 15))
    settings = wb["settings"]
    rows = {c.value: c.row for c in settings["A"]}
    settings.cell(row=rows["period"], column=2, value=dt.datetime(2026, 11, 16))
    settings.cell(row=rows["time_limit_s"], column=2, value=dt.datetime(2026, 1, 1))
    wb.save(path)
    errors = errors_of(path)
    assert [(p.where, p.column, p.value, p.message) for p in errors] == [
        (
            "tiny.xlsx sheet 'cargo' row 2",
            "due_days",
            None,
            "a date (2026-12-15); due_days is a number of days",
        ),
        (
            f"tiny.xlsx sheet 'settings' row {rows['time_limit_s']}",
            "time_limit_s",
            None,
            "a date (2026-01-01); time_limit_s is not a date",
        ),
    ]  # the period typed as a date is its text


def test_period_typed_as_a_date_is_read_as_its_text(tiny_folder: Path, tmp_path: Path) -> None:
    path = _xlsx(tiny_folder, tmp_path)
    wb = openpyxl.load_workbook(path)
    settings = wb["settings"]
    row = next(c.row for c in settings["A"] if c.value == "period")
    settings.cell(row=row, column=2, value=dt.datetime(2026, 11, 16))
    wb.save(path)
    assert read_instance(path).settings.period == "2026-11-16"


def test_settings_errors_name_the_settings_row(tiny_folder: Path, tmp_path: Path) -> None:
    path = _xlsx(tiny_folder, tmp_path)
    wb = openpyxl.load_workbook(path)
    settings = wb["settings"]
    settings.append(["speed_kmh.rial", 25])
    wb.save(path)
    [p] = errors_of(path)
    assert p.where == f"tiny.xlsx sheet 'settings' row {settings.max_row}"
    assert p.message == "unknown setting (did you mean 'speed_kmh.rail'?)"


def test_sheet_names_match_trimmed_and_case_insensitively(
    tiny_folder: Path, tmp_path: Path
) -> None:
    path = _xlsx(tiny_folder, tmp_path)
    wb = openpyxl.load_workbook(path)
    wb["cargo"].title = "Cargo "
    wb["settings"].title = "renamed"  # openpyxl: a title may not differ only by case
    wb["renamed"].title = "Settings"
    ws = wb["legs"]
    ws.cell(row=1, column=_col(ws, "capacity_teu"), value=" Capacity_TEU")
    wb.save(path)
    inst = read_instance(path)
    assert len(inst.cargo) == 2
    assert inst.legs.loc["MNG-BAK", "capacity_teu"] == 50.0
    assert inst.settings.name == "tiny"
    assert inst.warnings == ()


def test_unknown_sheet_is_ignored_with_a_warning_and_an_error_when_strict(
    tiny_folder: Path, tmp_path: Path
) -> None:
    path = _xlsx(tiny_folder, tmp_path)
    wb = openpyxl.load_workbook(path)
    wb.create_sheet("my notes").append(["call the forwarder on Monday"])
    wb.save(path)
    inst = read_instance(path)
    [w] = inst.warnings
    assert w.where == "tiny.xlsx sheet 'my notes'"
    assert w.message.startswith("not a table of the instance (nodes, legs,")
    assert w.message.endswith("; ignored")
    [e] = [p for p in errors_of(path, strict=True) if "my notes" in p.where]  # nodes has 'note'
    assert e.severity == "error"
    assert e.message.startswith("unknown table 'my notes'")


def test_duplicate_sheet_column_names_the_columns(tiny_folder: Path, tmp_path: Path) -> None:
    path = _xlsx(tiny_folder, tmp_path)
    wb = openpyxl.load_workbook(path)
    ws = wb["cargo"]
    ws.cell(row=1, column=ws.max_column + 1, value="TEU")
    ws.cell(row=2, column=ws.max_column, value=5)
    wb.save(path)
    [p] = errors_of(path)
    assert p.where == "tiny.xlsx sheet 'cargo'"
    assert p.message == "column 'TEU' is given twice (column D and column J); keep one"


def test_missing_borders_sheet_is_one_root_cause(tiny_folder: Path, tmp_path: Path) -> None:
    path = _xlsx(tiny_folder, tmp_path)
    wb = openpyxl.load_workbook(path)
    del wb["borders"]
    wb.save(path)
    [p] = errors_of(path)
    assert p.where == str(path)
    assert p.message == "sheet 'borders' is missing; 1 leg names a border"


# ---------------------------------------------------------------- JSON and .dow


def test_json_settings_that_is_a_list_is_one_located_error(
    tiny_folder: Path, tmp_path: Path
) -> None:
    path = write_instance(read_instance(tiny_folder), tmp_path / "tiny.json")
    path.write_text(
        path.read_text()
        .replace('"settings": {', '"settings": [{', 1)
        .replace('},\n "nodes"', '}],\n "nodes"', 1)
    )
    [p] = errors_of(path)
    assert p.where == "tiny.json settings"
    assert p.message == "must be an object of settings (key: value), not a list"


def test_dow_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.dow"
    path.write_text("MULTIGEN.DAT:\n\n 2 1 1\n\n 1 2 5 10 3 1 1\n 1 2 x\n")
    with pytest.raises(InstanceError) as info:
        parse_dow(path)
    [p] = info.value.problems
    assert p.where == f"{path} line 6"
    assert p.message.startswith("not an integer")


def test_dow_number_too_large_for_int64_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "big.dow"
    path.write_text("MULTIGEN.DAT:\n 2 1 1\n 1 2 5 10 3 1 1\n\n 1 2 99999999999999999999\n")
    with pytest.raises(InstanceError) as info:
        read_raw(path)
    [p] = info.value.problems
    assert p.where == f"{path} line 5"
    assert p.message == "number 99999999999999999999 is too large (64-bit integers)"


def test_empty_sheet_of_a_required_table_is_one_error_and_of_an_optional_one_no_rows(
    tiny_folder: Path, tmp_path: Path
) -> None:
    path = _xlsx(tiny_folder, tmp_path)
    wb = openpyxl.load_workbook(path)
    for name in ("restrictions", "classes"):
        ws = wb[name]
        ws.delete_rows(1, ws.max_row)
    wb.save(path)
    [p] = errors_of(path)  # no "unknown class" for each lot
    assert p.where == "tiny.xlsx sheet 'classes'"
    assert p.message == "is empty; expected the column names in row 1 (id, value_per_teu_day)"
    wb = openpyxl.load_workbook(path)
    wb["classes"].append(["id", "value_per_teu_day"])
    wb["classes"].append(["general", 20])
    wb["classes"].append(["reefer", 45])
    wb.save(path)
    assert read_instance(path).restrictions.empty


def test_cli_strict_flag_turns_unknown_columns_into_errors(
    tiny_folder: Path, tiny_instance_files: dict[str, str], tmp_path: Path, capsys: Any
) -> None:
    from allocator.cli import main

    cargo = tiny_instance_files["cargo.csv"].replace("due_days", "due_day")
    (tiny_folder / "cargo.csv").write_text(cargo)
    assert main(["validate", str(tiny_folder)]) == 0
    assert "did you mean 'due_days'" in capsys.readouterr().err
    assert main(["validate", str(tiny_folder), "--strict"]) == 2
    assert main(["solve", str(tiny_folder), "--strict", "--out", str(tmp_path / "p")]) == 2
    assert not (tmp_path / "p").exists()  # refused before anything is solved or written
