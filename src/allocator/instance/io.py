"""Read and write instance files: a folder with instance.toml, an Excel workbook, or one JSON file."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import tomli_w

from allocator.errors import InstanceError, Problem
from allocator.instance.schema import load_schema

if TYPE_CHECKING:
    from allocator.instance.model import Instance

logger = logging.getLogger(__name__)

SETTINGS_SHEET = "settings"


@dataclass
class RawTable:
    """One table as read from a file, before typing: cells are str, numbers, bools or None."""

    name: str
    frame: pd.DataFrame
    source: str
    row_word: str = "line"  # "line" (CSV), "row" (Excel, Parquet), "item" (JSON)
    first_row: int = 2
    numbers: list[int] | None = None  # line/row number of each row when blank rows were dropped

    def where(self, i: int) -> str:
        """Where row ``i`` (0-based) is, as the user sees it."""
        if self.row_word == "item":
            return f"{self.source}[{i}]"
        number = self.numbers[i] if self.numbers is not None else i + self.first_row
        return f"{self.source} {self.row_word} {number}"


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


# ---------------------------------------------------------------- reading

READERS: dict[str, Callable[[Path], RawInstance]] = {}
"""Readers of single-file formats beyond the three containers, by lower-case suffix; a format's
module registers itself here (``allocator.instance`` imports them all)."""


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
        if (
            suffix in READERS
        ):  # benchmark formats (e.g. Canad ``.dow``), registered by their modules
            return READERS[suffix](p)
    except InstanceError:
        raise
    except Exception as exc:  # unreadable file: name it, no traceback
        raise InstanceError([Problem(str(p), f"cannot be read: {exc}")]) from exc
    raise InstanceError(
        [
            Problem(
                str(p),
                "unknown container; expected a folder, instance .toml, .xlsx, .json or MCND .dow",
            )
        ]
    )


def _read_folder(toml_path: Path) -> RawInstance:
    if not toml_path.exists():
        raise InstanceError(
            [Problem(str(toml_path), "missing: a folder instance needs instance.toml")]
        )
    try:
        doc = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
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
    for name, rel in table_paths.items():
        file = (toml_path.parent / str(rel)).resolve()
        shown = _shown(file)
        if not file.exists():
            problems.append(
                Problem(f"{toml_path} [tables]", f"file for table '{name}' not found: {shown}")
            )
            continue
        if file.suffix.lower() == ".parquet":
            frame = pd.read_parquet(file).astype(object)
            frame = frame.where(frame.notna(), None)
            tables[name] = RawTable(name, frame, shown, "row", 1)
        else:
            frame = pd.read_csv(
                file,
                dtype=str,
                keep_default_na=False,
                skipinitialspace=True,
                skip_blank_lines=False,
            )
            frame.columns = [str(c).strip() for c in frame.columns]
            frame, numbers = _drop_blank_rows(frame, 2)  # blank lines still count as lines
            tables[name] = RawTable(name, frame, shown, "line", 2, numbers)
    settings = doc.get("settings", {})
    return RawInstance(toml_path, settings, tables, f"{toml_path} [settings]", problems)


def _shown(file: Path) -> str:
    try:
        return str(file.relative_to(Path.cwd()))
    except ValueError:
        return str(file)


def _read_excel(path: Path) -> RawInstance:
    sheets = pd.read_excel(path, sheet_name=None, dtype=object, engine="openpyxl")
    tables: dict[str, RawTable] = {}
    settings: dict[str, Any] = {}
    for name, frame in sheets.items():
        frame = frame.where(frame.notna(), None)
        frame.columns = [str(c).strip() for c in frame.columns]
        if name == SETTINGS_SHEET:
            settings = _unflatten(
                {str(k): v for k, v in zip(frame.iloc[:, 0], frame.iloc[:, 1], strict=True) if k}
            )
        else:
            frame, numbers = _drop_blank_rows(frame, 2)  # blank rows still count as rows
            tables[name] = RawTable(name, frame, f"{path.name} sheet '{name}'", "row", 2, numbers)
    return RawInstance(path, settings, tables, f"{path.name} sheet '{SETTINGS_SHEET}'")


def _read_json(path: Path) -> RawInstance:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InstanceError([Problem(str(path), f"is not valid JSON: {exc}")]) from exc
    if not isinstance(doc, dict):
        raise InstanceError([Problem(str(path), "must hold one object with settings and tables")])
    tables = {}
    problems = []
    for name, rows in doc.items():
        if name == "settings":
            continue
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            problems.append(Problem(f"{path.name} {name}", "must be a list of objects"))
            continue
        frame = pd.DataFrame.from_records(rows).astype(object) if rows else pd.DataFrame()
        frame = frame.where(frame.notna(), None)
        tables[name] = RawTable(name, frame, f"{path.name} {name}", "item", 0)
    settings = doc.get("settings", {})
    return RawInstance(path, settings, tables, f"{path.name} settings", problems)


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
        frame: pd.DataFrame = getattr(inst, name)
        if name == "legs":
            frame = frame[frame["reverse_of"].isna()].drop(columns="reverse_of")
        if table.key:
            frame = frame.reset_index()
        out[name] = frame.reset_index(drop=True)
    return out


def _cell(value: Any) -> Any:
    """A table cell as a plain JSON/TOML value (None when missing)."""
    if value is None or value is pd.NA:
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
        doc[name] = [
            {k: _cell(v) for k, v in zip(frame.columns, row, strict=True)}
            for row in frame.itertuples(index=False, name=None)
        ]
    return doc


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


def _write_excel(inst: Instance, path: Path) -> None:
    flat = _flatten(inst.settings.model_dump(mode="json"))
    settings = pd.DataFrame({"key": list(flat), "value": list(flat.values())})
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        settings.to_excel(writer, sheet_name=SETTINGS_SHEET, index=False)
        for name, frame in input_tables(inst).items():
            if frame.empty and not load_schema()[name].required:
                continue
            frame.to_excel(writer, sheet_name=name, index=False)
        for sheet in writer.sheets.values():
            for column in sheet.columns:
                width = max(len(str(c.value or "")) for c in column)
                sheet.column_dimensions[column[0].column_letter].width = min(40, width + 2)
            sheet.freeze_panes = "A2"
