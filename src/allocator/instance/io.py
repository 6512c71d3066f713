"""Read and write instance files: a folder with instance.toml, an Excel workbook, or one JSON file."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import os
import shutil
import tempfile
import tomllib
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import openpyxl
import pandas as pd
import tomli_w
from openpyxl.comments import Comment
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from allocator.errors import InstanceError, Problem
from allocator.instance.csvtext import header_index, read_csv_text, title_problem
from allocator.instance.schema import (
    COUNTRIES,
    NUMBER_TYPES,
    Column,
    Settings,
    TableSchema,
    load_schema,
)
from allocator.instance.weektime import WEEKDAYS

if TYPE_CHECKING:
    from allocator.instance.model import Instance

logger = logging.getLogger(__name__)

SETTINGS_SHEET = "settings"


@dataclass
class RawTable:
    """One table as read from a file, before typing: cells are str, numbers, bools, dates or None.

    Column names are as written (trimmed); ``validate`` matches them to the schema, ignoring case.
    """

    name: str
    frame: pd.DataFrame
    source: str
    row_word: str = "line"  # "line" (CSV), "row" (Excel, Parquet), "item" (JSON)
    first_row: int = 2
    numbers: list[int] | None = None  # line/row number of each row when blank rows were dropped
    labels: list[str] | None = None  # where each row is, when rows are not numbered (edits)
    broken: set[int] = field(default_factory=set)  # rows already reported as malformed
    formulas: bool = False  # holds FormulaCell cells (a workbook sheet)

    def where(self, i: int) -> str:
        """Where row ``i`` (0-based) is, as the user sees it."""
        if self.labels is not None:
            return self.labels[i]
        if self.row_word == "item":
            return f"{self.source}[{i}]"
        number = self.numbers[i] if self.numbers is not None else i + self.first_row
        return f"{self.source} {self.row_word} {number}"


@dataclass(frozen=True)
class FormulaCell:
    """An Excel formula cell the workbook holds no computed value for (written by a script and
    never opened in Excel); ``validate`` reports it where it is used, never reads it as empty."""

    formula: str


def _drop_blank_rows(frame: pd.DataFrame, first_row: int) -> tuple[pd.DataFrame, list[int] | None]:
    """Drop rows with every cell empty; return the frame and the numbers of the rows kept."""
    blank = frame.apply(lambda c: c.isna() | (c.astype(str).str.strip() == "")).all(axis=1)
    if not blank.any():
        return frame, None
    numbers = [int(i) + first_row for i in np.flatnonzero(~blank.to_numpy())]
    return frame[~blank.to_numpy()].reset_index(drop=True), numbers


@dataclass
class RawInstance:
    """Everything read from instance files, not yet validated."""

    path: Path
    settings: dict[str, Any]
    tables: dict[str, RawTable]
    settings_source: str
    problems: list[Problem] = field(default_factory=list)
    settings_where: dict[str, str] = field(default_factory=dict)  # dotted key -> its row
    table_word: str = "table"  # what the container calls a table ("sheet" in a workbook)
    unknown_tables: str = "error"  # unknown table names: "error", or "warning" (workbook sheets)
    unreadable: set[str] = field(default_factory=set)  # tables named but not read (reported)
    settings_unreadable: bool = False  # the settings could not be read (reported)


# ---------------------------------------------------------------- reading

READERS: dict[str, Callable[[Path], RawInstance]] = {}
"""Readers of single-file formats beyond the three containers, by lower-case suffix; a format's
module registers itself here (``allocator.instance`` imports them all)."""

SNIFFERS: list[tuple[Callable[[bytes], bool], Callable[[Path], RawInstance]]] = []
"""Readers of single-file formats whose files carry no telling suffix (``planar30``, ``grid1``):
a test of the file's first ``SNIFF_BYTES`` bytes and the reader to use when it passes, tried in
order when the suffix names no format; a format's module registers itself here."""

SNIFF_BYTES = 4096


def read_raw(path: str | os.PathLike[str]) -> RawInstance:
    """Read any container into raw tables; unreadable files raise InstanceError naming them."""
    p = Path(path)
    if not p.exists():
        raise InstanceError([Problem(str(p), "no such file or folder")])
    try:
        if p.is_dir():
            return _read_folder(p / "instance.toml")
        suffix = p.suffix.lower()
        if suffix == ".toml":
            return _read_folder(p)
        if suffix in (".xlsx", ".xlsm"):
            return _read_excel(p)
        if suffix == ".json":
            return _read_json(p)
        if suffix in READERS:  # benchmark formats (e.g. Canad ``.dow``), registered by modules
            return READERS[suffix](p)
        with p.open("rb") as f:
            head = f.read(SNIFF_BYTES)
        for looks_like, reader in SNIFFERS:  # benchmark formats known by their first lines
            if looks_like(head):
                return reader(p)
    except InstanceError:
        raise
    except Exception as exc:  # unreadable file: name it, no traceback
        raise InstanceError([Problem(str(p), f"cannot be read: {exc}")]) from exc
    raise InstanceError(
        [
            Problem(
                str(p),
                "unknown container; expected a folder, instance .toml, .xlsx, .json, MCND .dow, "
                "a linear multicommodity flow file (planar, grid) or a timed Canad (CTSND) file",
            )
        ]
    )


def table_schema(name: str) -> TableSchema | None:
    """The schema of table ``name``, matched trimmed and case-insensitively; None if unknown."""
    return load_schema().get(str(name).strip().casefold())


def _schema_names(name: str) -> tuple[set[str], set[str]]:
    """Case-folded column names of table ``name``: all of them, and the number columns."""
    ts = table_schema(name)
    if ts is None:
        return set(), set()
    numeric = {c.name.casefold() for c in ts.columns if c.type in NUMBER_TYPES}
    return {c.casefold() for c in ts.column_names}, numeric


def _read_folder(toml_path: Path) -> RawInstance:
    if not toml_path.exists():
        raise InstanceError(
            [Problem(str(toml_path), "missing: a folder instance needs instance.toml")]
        )
    try:
        doc = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InstanceError([Problem(str(toml_path), f"is not valid TOML: {exc}")]) from exc
    problems: list[Problem] = []
    unknown = set(doc) - {"settings", "tables"}
    problems += [
        Problem(str(toml_path), f"unknown section '{k}'; expected [settings] and [tables]")
        for k in sorted(unknown)
    ]
    table_paths = doc.get("tables", {})
    if not isinstance(table_paths, dict):
        raise InstanceError(
            [Problem(str(toml_path), "[tables] must map table names to file paths")]
        )
    tables = {}
    unreadable: set[str] = set()
    for name, rel in table_paths.items():
        file = (toml_path.parent / str(rel)).resolve()
        shown = _shown(file)
        if not file.exists():
            problems.append(
                Problem(f"{toml_path} [tables]", f"file for table '{name}' not found: {shown}")
            )
            unreadable.add(name)
            continue
        try:
            tables[name], found = _read_table_file(name, file, shown)
        except InstanceError as exc:
            problems += exc.problems
            unreadable.add(name)
            continue
        problems += found
    settings = doc.get("settings", {})
    bad_settings = not isinstance(settings, dict)
    if bad_settings:
        problems.append(Problem(f"{toml_path} [settings]", "must be a table of settings"))
        settings = {}
    return RawInstance(
        toml_path,
        settings,
        tables,
        f"{toml_path} [settings]",
        problems,
        unreadable=unreadable,
        settings_unreadable=bad_settings,
    )


def _read_table_file(name: str, file: Path, shown: str) -> tuple[RawTable, list[Problem]]:
    """One table file of a folder instance and the problems of its rows; InstanceError names the
    file (and line) it cannot read at all."""
    if file.is_dir():
        raise InstanceError([Problem(shown, "is a folder; a table is a .csv or .parquet file")])
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InstanceError([Problem(shown, f"cannot be read: {exc.strerror or exc}")]) from exc
    if file.suffix.lower() == ".parquet":
        try:
            frame = pd.read_parquet(io.BytesIO(data)).astype(object)
        except Exception as exc:  # pyarrow's errors have no common base class
            raise InstanceError([Problem(shown, f"is not a readable Parquet file: {exc}")]) from exc
        frame = frame.where(frame.notna(), None)
        frame.columns = [str(c).strip() for c in frame.columns]
        return RawTable(name, frame, shown, "row", 1), []
    columns, numeric = _schema_names(name)
    text = read_csv_text(data, shown, columns, numeric)
    frame = pd.DataFrame(text.rows, columns=[h.strip() for h in text.header], dtype="str")
    return RawTable(name, frame, shown, "line", 2, text.numbers, broken=text.broken), text.problems


def _shown(file: Path) -> str:
    try:
        return str(file.relative_to(Path.cwd()))
    except ValueError:
        return str(file)


def _read_excel(path: Path) -> RawInstance:
    sheets = _workbook_rows(path)
    tables: dict[str, RawTable] = {}
    settings: dict[str, Any] = {}
    settings_where: dict[str, str] = {}
    problems: list[Problem] = []
    settings_source = f"{path.name} sheet '{SETTINGS_SHEET}'"
    for title, rows in sheets.items():
        source = f"{path.name} sheet '{title}'"
        if title.strip().casefold() == SETTINGS_SHEET:
            settings_source = source
            flat: dict[str, Any] = {}
            for number, row in enumerate(rows[1:], start=2):
                key = str(row[0]).strip() if row and row[0] is not None else ""
                if not key:
                    continue
                value = row[1] if len(row) > 1 else None
                if isinstance(value, FormulaCell):
                    problems.append(_formula_problem(f"{source} row {number}", key, value))
                    continue
                value = value.strip() if isinstance(value, str) else value
                if value is None or value == "":
                    continue  # a blank value is a setting not given: its default applies
                flat[key] = value
                settings_where[key] = f"{source} row {number}"
            settings = _unflatten(flat)
            continue
        columns, _ = _schema_names(title)
        k = header_index([[str(c or "") for c in r] for r in rows], columns)
        if k > 0:
            problems.append(title_problem(f"{source} row 1", "row", rows[0], k + 1))
        header = [str(c).strip() if c is not None else "" for c in (rows[k] if rows else [])]
        width = max([len(header)] + [len(r) for r in rows[k + 1 :] if any(_filled(c) for c in r)])
        header += [""] * (width - len(header))
        body = [(r + [None] * width)[:width] for r in rows[k + 1 :]]
        frame = pd.DataFrame(body, columns=header, dtype=object)
        frame, numbers = _drop_blank_rows(frame, k + 2)
        if numbers is None:
            numbers = list(range(k + 2, k + 2 + len(frame)))
        formulas = any(isinstance(c, FormulaCell) for r in body for c in r)
        tables[title] = RawTable(title, frame, source, "row", 2, numbers, formulas=formulas)
    return RawInstance(
        path,
        settings,
        tables,
        settings_source,
        problems,
        settings_where=settings_where,
        table_word="sheet",
        unknown_tables="warning",
    )


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _formula_problem(where: str, column: str, cell: FormulaCell) -> Problem:
    return Problem(
        where,
        f"formula '{cell.formula}' has no computed value; open and save the workbook in Excel, "
        "or enter the number",
        column,
    )


def _workbook_rows(path: Path) -> dict[str, list[list[Any]]]:
    """Every sheet's cell values, row by row (row 1 first); formulas without a computed value
    become FormulaCell. Formulas are read from the workbook, values from its cached results."""
    wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        sheets: dict[str, list[list[Any]]] = {}
        formulas: dict[str, list[tuple[int, int, str]]] = {}
        for ws in wb.worksheets:
            if ws.title.strip().casefold() == LISTS_SHEET and ws.sheet_state != "visible":
                continue  # the drop-down lists allocator writes
            ws.reset_dimensions()  # workbooks written by scripts may state no or wrong dimensions
            rows = []
            for r, cells in enumerate(ws.iter_rows()):
                row = []
                for c, cell in enumerate(cells):
                    if cell.data_type == "f":
                        formulas.setdefault(ws.title, []).append((r, c, str(cell.value)))
                    row.append(cell.value)
                rows.append(row)
            sheets[ws.title] = rows
    finally:
        wb.close()
    if formulas:
        values = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            for title, cells in formulas.items():
                ws = values[title]
                ws.reset_dimensions()
                cached = [[cell.value for cell in row] for row in ws.iter_rows()]
                for r, c, formula in cells:
                    value = cached[r][c] if r < len(cached) and c < len(cached[r]) else None
                    text = formula if formula.startswith("=") else f"={formula}"
                    sheets[title][r][c] = FormulaCell(text) if value is None else value
        finally:
            values.close()
    return sheets


def _read_json(path: Path) -> RawInstance:
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        repeated.extend(k for k in dict.fromkeys(keys) if keys.count(k) > 1)
        return dict(items)

    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"), object_pairs_hook=pairs)
    except UnicodeDecodeError as exc:
        raise InstanceError([Problem(str(path), f"is not UTF-8 text: {exc.reason}")]) from exc
    except json.JSONDecodeError as exc:
        raise InstanceError([Problem(str(path), f"is not valid JSON: {exc}")]) from exc
    if not isinstance(doc, dict):
        raise InstanceError([Problem(str(path), "must hold one object with settings and tables")])
    tables = {}
    unreadable: set[str] = set()
    problems = [
        Problem(path.name, f"key '{k}' is given twice in one object; keep one") for k in repeated
    ]
    for name, rows in doc.items():
        if name == "settings":
            continue
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            problems.append(Problem(f"{path.name} {name}", "must be a list of objects"))
            unreadable.add(name)
            continue
        frame = pd.DataFrame.from_records(rows).astype(object) if rows else pd.DataFrame()
        frame = frame.where(frame.notna(), None)
        tables[name] = RawTable(name, frame, f"{path.name} {name}", "item", 0)
    settings = doc.get("settings", {})
    bad_settings = not isinstance(settings, dict)
    if bad_settings:
        problems.append(
            Problem(
                f"{path.name} settings",
                f"must be an object of settings (key: value), not a {type(settings).__name__}",
            )
        )
        settings = {}
    return RawInstance(
        path,
        settings,
        tables,
        f"{path.name} settings",
        problems,
        unreadable=unreadable,
        settings_unreadable=bad_settings,
    )


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


# ---------------------------------------------------------------- editing an Instance's tables


def is_missing(value: Any) -> bool:
    """True for None, pandas NA and NaN."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def as_object(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame of plain Python cells with None for missing, as the validator reads raw files."""
    out = frame.astype(object)
    return out.map(lambda v: None if is_missing(v) else (v.item() if hasattr(v, "item") else v))


def stated(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Table ``name`` of an Instance as the user states it: a lot with ``due_at`` has its
    ``due_days`` (derived by validation from due_at and ready_at) left missing again."""
    if name != "cargo" or "due_at" not in frame.columns:
        return frame
    derived = frame["due_at"].notna()
    if not derived.any():
        return frame
    return frame.assign(due_days=frame["due_days"].mask(derived))


def instance_tables(
    inst: Instance, prefix: str = ""
) -> tuple[dict[str, pd.DataFrame], dict[str, list[str]]]:
    """An Instance's tables as raw frames (ids as a column, every leg explicit with ``reverse``
    false, ``reverse_of`` kept) and a label per row (``{prefix}legs 'ID'``, ``{prefix}tariffs
    row 2``) for problem messages."""
    tables: dict[str, pd.DataFrame] = {}
    labels: dict[str, list[str]] = {}
    for name, ts in load_schema().items():
        frame = stated(name, getattr(inst, name))
        frame = frame.reset_index() if ts.key else frame.reset_index(drop=True)
        tables[name] = as_object(frame).reset_index(drop=True)
        if ts.key:
            labels[name] = [f"{prefix}{name} '{i}'" for i in tables[name][ts.key]]
        else:
            labels[name] = [f"{prefix}{name} row {k + 1}" for k in range(len(frame))]
    tables["legs"]["reverse"] = False  # twins are folded back by fold_reverse
    return tables, labels


def fold_reverse(tables: dict[str, pd.DataFrame], labels: dict[str, list[str]]) -> None:
    """Fold every ``X~r`` leg still identical to its source ``X`` back into ``X.reverse = true``;
    a twin that differs stays a leg of its own. Drops the ``reverse_of`` column."""
    legs = tables["legs"]
    pos = {v: k for k, v in enumerate(legs["id"])}
    same = [c for c in legs.columns if c not in ("id", "from", "to", "reverse", "reverse_of")]
    drop = []
    for k, source in enumerate(legs["reverse_of"]):
        if is_missing(source) or source not in pos:
            continue
        s = pos[source]
        a, b = legs.iloc[s], legs.iloc[k]
        equal = all(
            (is_missing(a[c]) and is_missing(b[c])) or (not is_missing(a[c]) and a[c] == b[c])
            for c in same
        )
        if equal and a["from"] == b["to"] and a["to"] == b["from"]:
            legs.iat[s, legs.columns.get_loc("reverse")] = True
            drop.append(k)
    keep = [k for k in range(len(legs)) if k not in set(drop)]
    tables["legs"] = legs.iloc[keep].drop(columns="reverse_of").reset_index(drop=True)
    labels["legs"] = [labels["legs"][k] for k in keep]


# ---------------------------------------------------------------- writing


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    work = tmp / target.name
    try:
        yield work
        if target.is_dir() and not target.is_symlink():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(work, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def input_tables(inst: Instance) -> dict[str, pd.DataFrame]:
    """The instance's tables as the user wrote them: keyed tables with their id column first,
    reverse legs folded back into the ``reverse`` flag of their source leg."""
    schema = load_schema()
    out = {}
    for name, table in schema.items():
        frame = stated(name, getattr(inst, name))
        if name == "legs":
            frame = frame[frame["reverse_of"].isna()].drop(columns="reverse_of")
        if table.key:
            frame = frame.reset_index()
        out[name] = frame.reset_index(drop=True)
    return out


def _cell(value: Any) -> Any:
    """A table cell as a plain JSON/TOML value (None when missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def to_json_dict(inst: Instance) -> dict[str, Any]:
    """The instance as one JSON-ready dict: settings plus a list of records per non-empty table."""
    doc: dict[str, Any] = {"settings": inst.settings.model_dump(mode="json")}
    for name, frame in input_tables(inst).items():
        if frame.empty and not load_schema()[name].required:
            continue
        columns = [_column_cells(frame[c]) for c in frame.columns]
        doc[name] = [
            dict(zip(frame.columns, row, strict=True)) for row in zip(*columns, strict=True)
        ]
    return doc


def _column_cells(column: pd.Series) -> list[Any]:
    """A column's cells as plain JSON/TOML values (``_cell`` of each, column at a time;
    ``tolist`` reads an Arrow column in one call, not cell by cell)."""
    return [_cell(v) for v in column.tolist()]


def instance_hash(inst: Instance) -> str:
    """SHA-256 of the canonical content, the same whichever container it came from."""
    text = json.dumps(to_json_dict(inst), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def write_instance(inst: Instance, path: str | os.PathLike[str], table_format: str = "csv") -> Path:
    """Write the instance atomically as a folder (``table_format`` csv or parquet), .xlsx or .json."""
    path = Path(path)
    suffix = path.suffix.lower()
    with atomic_path(path) as work:
        if suffix == ".json":
            work.write_text(json.dumps(to_json_dict(inst), indent=1, ensure_ascii=False) + "\n")
        elif suffix == ".xlsx":
            _write_excel(inst, work)
        elif suffix == "":
            _write_folder(inst, work, table_format)
        else:
            raise InstanceError(
                [Problem(str(path), "unknown output; use a folder, .xlsx or .json")]
            )
    return path


def _text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Frame for CSV: bools as true/false, missing as empty."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == bool:
            out[col] = out[col].map({True: "true", False: "false"})
    return out


def _write_folder(inst: Instance, folder: Path, table_format: str) -> None:
    folder.mkdir(parents=True)
    paths = {}
    for name, frame in input_tables(inst).items():
        if frame.empty and not load_schema()[name].required:
            continue
        file = f"{name}.{'parquet' if table_format == 'parquet' else 'csv'}"
        if table_format == "parquet":
            frame.to_parquet(folder / file, index=False)
        else:
            _text_frame(frame).to_csv(folder / file, index=False, lineterminator="\n")
        paths[name] = file
    doc = {"settings": inst.settings.model_dump(mode="json"), "tables": paths}
    (folder / "instance.toml").write_text(tomli_w.dumps(doc))


OFFERED_SHEETS = frozenset({"departures"})
"""Optional tables a workbook holds even when empty (the header with its help), so a planner can
type a timetable into any workbook allocator writes."""


def _write_excel(inst: Instance, path: Path) -> None:
    """One sheet per table, each header cell commented with the column's help from the schema,
    drop-down lists and number checks on the cells (``_add_checks``), and a ``settings`` sheet
    with a description beside each key."""
    flat = _flatten(inst.settings.model_dump(mode="json"))
    fields = Settings.model_fields
    settings = pd.DataFrame(
        {
            "key": list(flat),
            "value": list(flat.values()),
            "description": [fields[k.split(".")[0]].description or "" for k in flat],
        }
    )
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        settings.to_excel(writer, sheet_name=SETTINGS_SHEET, index=False)
        for name, frame in input_tables(inst).items():
            if frame.empty and not load_schema()[name].required and name not in OFFERED_SHEETS:
                continue
            frame.to_excel(writer, sheet_name=name, index=False)
        for sheet in list(writer.book.worksheets):
            for column in sheet.columns:
                width = max(len(str(c.value or "")) for c in column)
                sheet.column_dimensions[column[0].column_letter].width = min(40, width + 2)
            sheet.freeze_panes = "A2"
        _add_checks(writer.book, inst, list(flat))


# ---------------------------------------------------------------- workbook help and drop-downs

LISTS_SHEET = "lists"
"""The hidden sheet of an instance workbook that holds drop-down lists too long to write inline;
reading skips it."""
INLINE_LIST_LIMIT = 255  # characters Excel takes in a list written into the validation itself
EXCEL_LAST_ROW = 1_048_576


def column_choices(inst: Instance, column: Column) -> list[str]:
    """The values a drop-down offers for ``column``: its allowed values from the schema, the
    weekdays, or the instance's own ids (nodes, legs, borders, classes) or the ISO country codes
    it refers to; [] when the column has no list (numbers, free text, restriction targets)."""
    if column.values:
        return list(column.values)
    if column.type == "weekday":
        return list(WEEKDAYS)
    if column.ref in ("nodes", "legs", "borders", "classes"):
        return [str(i) for i in getattr(inst, column.ref).index]
    if column.ref == "country":
        return sorted(COUNTRIES)
    return []


def list_formula(values: list[str], lists: Worksheet, key: str, known: dict[str, str]) -> str:
    """The ``formula1`` of a list validation offering ``values``: written inline (``"a,b"``)
    when Excel allows (at most 255 characters, no comma or quote in a value), else a range of
    ``lists``, one column per distinct list (``key``, reused through ``known``)."""
    inline = ",".join(values)
    if len(inline) <= INLINE_LIST_LIMIT and not any("," in v or '"' in v for v in values):
        return f'"{inline}"'
    if key not in known:
        j = len(known) + 1
        lists.cell(1, j, key)
        for i, value in enumerate(values, start=2):
            cell = lists.cell(i, j, value)
            cell.data_type = "s"  # an id such as "=X" stays text
        letter = get_column_letter(j)
        known[key] = f"{LISTS_SHEET}!${letter}$2:${letter}${len(values) + 1}"
    return known[key]


def _number_check(column: Column) -> DataValidation | None:
    """A validation keeping a number column's cells numbers within the schema's bounds."""
    if column.type not in ("float", "int") or column.min_value is None:
        return None
    kind = "whole" if column.type == "int" else "decimal"
    low = f"{column.min_value:g}"
    if column.max:
        return DataValidation(kind, operator="between", formula1=low, formula2=column.max)
    return DataValidation(
        kind, operator="greaterThan" if column.min_exclusive else "greaterThanOrEqual", formula1=low
    )


def _help(column: Column) -> str:
    """A header cell's comment: the column's description, unit, default and allowed values."""
    lines = [column.description]
    if column.unit:
        lines.append(f"Unit: {column.unit}")
    lines.append("Required." if column.required else "Optional.")
    if column.default:
        lines.append(f"Default: {column.default}")
    if column.allowed:
        lines.append(f"Allowed: {column.allowed.replace('`', '')}")
    return "\n".join(lines)


def _add_checks(book: Workbook, inst: Instance, settings_keys: list[str]) -> None:
    """Comment every header cell with its help, and add drop-downs (allowed values, ids of the
    instance) and number checks to the cells of each column; lists longer than Excel takes
    inline go to the hidden ``lists`` sheet. A value outside a check gets Excel's warning, which
    the planner may override (a new node typed in a leg before its row in ``nodes``)."""
    lists = book.create_sheet(LISTS_SHEET)
    lists.sheet_state = "hidden"
    known: dict[str, str] = {}
    schema = load_schema()
    for sheet in book.worksheets:
        ts = schema.get(sheet.title)
        if ts is None:
            continue
        for header in sheet[1]:
            if header.value not in ts.column_names:
                continue
            column = ts.column(str(header.value))
            help_text = _help(column)
            header.comment = Comment(
                help_text, "allocator", height=40 + 20 * help_text.count("\n"), width=320
            )
            choices = column_choices(inst, column)
            if choices:
                key = column.ref or f"{ts.name}.{column.name}"
                check = DataValidation("list", formula1=list_formula(choices, lists, key, known))
            else:
                check = _number_check(column)
            if check is None:
                continue
            letter = header.column_letter
            check.allow_blank = True
            check.showErrorMessage = True
            check.errorStyle = "warning"
            check.errorTitle = column.name
            check.error = f"{column.name}: {column.allowed.replace('`', '')}"
            check.add(f"{letter}2:{letter}{EXCEL_LAST_ROW}")
            sheet.add_data_validation(check)
    settings = book[SETTINGS_SHEET]
    unserved = typing.get_args(Settings.model_fields["unserved"].annotation)
    row = settings_keys.index("unserved") + 2
    check = DataValidation("list", formula1=f'"{",".join(unserved)}"', allow_blank=False)
    check.add(f"B{row}")
    settings.add_data_validation(check)
    if not known:
        book.remove(lists)
