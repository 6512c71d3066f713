"""Check raw instance tables against the schema and the references between them; build the Instance."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter
from pydantic import ValidationError

from allocator.errors import InstanceError, Problem
from allocator.instance.csvtext import DECIMAL_COMMA
from allocator.instance.hints import close_matches, did_you_mean
from allocator.instance.io import (
    FormulaCell,
    RawInstance,
    RawTable,
    fold_reverse,
    instance_tables,
    read_raw,
)
from allocator.instance.model import ROUTE_SEPARATOR, Instance
from allocator.instance.schema import (
    COUNTRIES,
    MAX_PER_KIND,
    MODES,
    Column,
    Settings,
    TableSchema,
    load_schema,
)
from allocator.instance.schema.settings import ModeFactors
from allocator.instance.weektime import (
    HOURS_PER_WEEK,
    WEEKDAYS,
    clock_minutes,
    clock_text,
    timetable_hours,
    weekday_number,
    weektime_hours,
    weektime_text,
)

logger = logging.getLogger(__name__)

REVERSE_SUFFIX = "~r"
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
_DTYPES = {
    "str": "str",
    "float": "float64",
    "int": "Int64",
    "bool": "bool",
    "weektime": "float64",
    "weekday": "str",
    "clock": "str",
}
TYPO = 0.8  # similarity above which an unknown column or sheet name is taken for a typo
_NOUN = {
    "nodes": "node",
    "legs": "leg",
    "borders": "border",
    "classes": "class",
    "country": "country code",
}


def read_instance(path: str | os.PathLike[str], strict: bool = False) -> Instance:
    """Read and validate an instance from any container; raises InstanceError with every problem.

    ``strict``: unknown columns and unknown sheets are errors instead of warnings (or silently
    kept extra data); see :func:`validate`.
    """
    return validate(read_raw(path), strict=strict)


_WHERE = re.compile(r"^(?P<source>.*?)(?: (?:line|row) (?P<number>\d+)|\[(?P<index>\d+)\])$")


def _source_and_number(where: str) -> tuple[str, float]:
    m = _WHERE.match(where)
    if m is None:
        return where, -1.0
    return m["source"], float(m["number"] or m["index"])


def _shown_value(value: Any) -> Any:
    """A cell value as problems show it: plain numbers, dates as ISO text."""
    if isinstance(value, np.generic):  # shown as 600.0, not np.float64(600.0)
        return value.item()
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return value


class _Problems:
    """Collects problems, capping repeats of one kind so a bad column does not flood the report,
    and remembers the cells already reported so that checks built on them stay silent."""

    def __init__(self, initial: list[Problem], suppressed: set[str] | None = None) -> None:
        self.items = list(initial)
        self._counts: dict[tuple[str, str | None, str, str], int] = defaultdict(int)
        self.suppressed = suppressed or set()  # rows reported as malformed: no cell problems
        self.bad: set[tuple[str, int, str]] = set()  # (table, row, column) of reported cells
        self.headless: set[str] = set()  # tables whose header names no schema column

    def add(
        self,
        where: str,
        message: str,
        column: str | None = None,
        value: Any = None,
        *,
        kind: str = "",
        severity: str = "error",
        cell: tuple[str, int] | None = None,
    ) -> None:
        if cell is not None and column is not None:
            self.bad.add((cell[0], cell[1], column))
        if where in self.suppressed:
            return
        key = (_source_and_number(where)[0], column, kind or message, severity)
        self._counts[key] += 1
        if self._counts[key] <= MAX_PER_KIND:
            self.items.append(Problem(where, message, column, _shown_value(value), severity))

    def is_bad(self, table: str, i: int, column: str) -> bool:
        """True when the cell was reported (or its row was)."""
        return (table, i, column) in self.bad

    def finish(self) -> list[Problem]:
        """Every problem, sorted by file or sheet and row, with one "... and N more" line per
        capped kind (of the severity of the problems it stands for)."""
        for (source, column, kind, severity), n in self._counts.items():
            if n > MAX_PER_KIND:
                col = f", column '{column}'" if column else ""
                self.items.append(
                    Problem(
                        source,
                        f"... and {n - MAX_PER_KIND} more like '{kind}'{col}",
                        severity=severity,
                    )
                )
        order = {id(p): k for k, p in enumerate(self.items)}

        def key(p: Problem) -> tuple[str, float, int]:
            source, number = _source_and_number(p.where)
            if p.message.startswith("... and "):
                number = math.inf
            return source, number, order[id(p)]

        return sorted(self.items, key=key)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "error"]


def _suggest(value: str, candidates: Iterable[str]) -> str:
    return did_you_mean(value, candidates)


def validate(source: RawInstance | Instance, strict: bool = False) -> Instance:
    """Validate raw tables and settings, or re-check an edited Instance; return the typed Instance
    or raise InstanceError.

    Every problem is collected before raising, each located by file or sheet, row and column (for
    an Instance: by table and id, e.g. ``legs 'KZ_KUR-AZ_ALA'``), sorted by file and row.
    Warnings (no path for a lot, isolated nodes, unused borders, a column whose name is close to
    a schema column, an ignored sheet) travel on ``Instance.warnings``.

    ``strict``: every column that is not in the schema and every unknown sheet is an error.
    """
    if isinstance(source, Instance):
        return _revalidate(source, strict)
    raw = source
    schema = load_schema()
    suppressed = {t.where(i) for t in raw.tables.values() for i in t.broken}
    probs = _Problems(raw.problems, suppressed)
    tables = _match_tables(raw, schema, probs, strict)
    reported = {str(n).strip().casefold() for n in raw.unreadable}  # tables named, not read
    for name, ts in schema.items():
        if ts.required and name not in tables and name not in reported:
            probs.add(str(raw.path), f"required {raw.table_word} '{name}' is missing")
    settings = _settings(raw, probs)
    typed = {name: _type_table(ts, tables.get(name), probs, strict) for name, ts in schema.items()}
    reported |= probs.headless
    where = {name: _locator(tables.get(name)) for name in schema}

    for name, ts in schema.items():
        if ts.key:
            _check_unique(typed[name], ts.key, where[name], probs)
            _check_separator(typed[name], ts.key, where[name], probs)
    legs = _expand_reverse(typed["legs"], where["legs"], probs)
    ids = {
        "nodes": set(typed["nodes"]["id"].dropna()),
        "legs": set(legs["id"].dropna()),
        "borders": set(typed["borders"]["id"].dropna()),
        "classes": set(typed["classes"]["id"].dropna()),
        "country": COUNTRIES,
    }
    missing = {n for n in ("nodes", "legs", "borders", "classes") if n not in tables} | reported
    naming: dict[str, list[tuple[int, str]]] = defaultdict(list)  # table -> (21, "legs"), ...
    for name, ts in schema.items():
        _check_refs(typed[name], ts, ids, where[name], probs, missing, naming)
    _check_restrictions(
        typed["restrictions"], ids, set(legs["id"]), where["restrictions"], probs, missing, naming
    )
    for table, counts in naming.items():
        if schema[table].required or table in reported:
            continue  # "required table is missing" or the table's own problem says it all
        text = " and ".join(f"{n} {word if n > 1 else word[:-1]}" for n, word in counts)
        verb = "names" if len(counts) == 1 and counts[0][0] == 1 else "name"
        probs.add(
            str(raw.path),
            f"{raw.table_word} '{table}' is missing; {text} {verb} a {_NOUN[table]}",
        )
    _check_legs(typed["legs"], where["legs"], probs)
    _check_cargo(typed["cargo"], where["cargo"], probs)
    _check_timetable(typed["departures"], legs, typed["legs"], where, probs)
    if settings is not None:
        _check_times(typed["cargo"], typed["departures"], settings, where, probs)
    _check_tariffs(typed["tariffs"], typed["legs"], where, probs)
    if settings is not None:
        _check_carried(typed["carried"], typed["departures"], settings, where, probs)
    if not probs.errors:
        _warn(typed, legs, ids, where, probs)
    problems = probs.finish()
    if any(p.severity == "error" for p in problems) or settings is None:
        raise InstanceError(problems)

    def keyed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.set_index("id").rename_axis("id")

    cargo = typed["cargo"]  # the one place due_at becomes due days, which the models read
    cargo["due_days"] = cargo["due_days"].where(
        cargo["due_at"].isna(), (cargo["due_at"] - cargo["ready_at"]) / 24.0
    )

    return Instance(
        settings=settings,
        nodes=keyed(typed["nodes"]),
        legs=keyed(legs),
        borders=keyed(typed["borders"]),
        classes=keyed(typed["classes"]),
        cargo=keyed(cargo),
        restrictions=typed["restrictions"],
        tariffs=typed["tariffs"],
        departures=typed["departures"],
        carried=typed["carried"],
        source=raw.path,
        warnings=tuple(p for p in problems if p.severity == "warning"),
    )


def _revalidate(inst: Instance, strict: bool) -> Instance:
    """Validate an Instance again, e.g. after editing its tables in Python."""
    tables, labels = instance_tables(inst)
    fold_reverse(tables, labels)
    raw = RawInstance(
        path=inst.source or Path("<instance>"),
        settings=inst.settings.model_dump(mode="python"),
        tables={
            name: RawTable(name, frame, name, "row", 1, labels=labels[name])
            for name, frame in tables.items()
        },
        settings_source="settings",
    )
    return dataclasses.replace(validate(raw, strict=strict), source=inst.source)


def _match_tables(
    raw: RawInstance, schema: dict[str, TableSchema], probs: _Problems, strict: bool
) -> dict[str, RawTable]:
    """The raw tables by schema name (names matched trimmed and case-insensitively); unknown
    names are reported: an error, or a warning for a workbook sheet far from any table name."""
    tables: dict[str, RawTable] = {}
    for name, table in raw.tables.items():
        canonical = str(name).strip().casefold()
        if canonical in schema:
            if canonical in tables:
                probs.add(
                    table.source,
                    f"a second {raw.table_word} for table '{canonical}' "
                    f"(the first is {tables[canonical].source}); keep one",
                )
            else:
                tables[canonical] = table
            continue
        if raw.unknown_tables == "error" or strict or close_matches(name, schema, TYPO):
            probs.add(
                table.source,
                f"unknown table '{name}'; expected one of {', '.join(schema)}"
                + _suggest(name, set(schema)),
            )
        else:
            probs.add(
                table.source,
                f"not a table of the instance ({', '.join(schema)}); ignored",
                kind=f"unknown {raw.table_word}",
                severity="warning",
            )
    return tables


# ---------------------------------------------------------------- settings


def _settings_keys() -> list[str]:
    keys = []
    for name, info in Settings.model_fields.items():
        keys.append(name)
        if info.annotation is ModeFactors:
            keys += [f"{name}.{mode}" for mode in MODES]
    return keys


def _settings(raw: RawInstance, probs: _Problems) -> Settings | None:
    if raw.settings_unreadable:
        return None  # reported where it was read
    values = dict(raw.settings)
    ok = True
    for key, value in list(values.items()):
        if not isinstance(value, dt.date | dt.time):
            continue
        shown = _shown_value(value)
        if (
            Settings.model_fields.get(key) is not None
            and Settings.model_fields[key].annotation is str
        ):
            values[key] = shown  # a period typed as a date is still its text
            continue
        probs.add(
            raw.settings_where.get(key, raw.settings_source),
            f"a date ({shown}); {key} is not a date",
            key,
        )
        del values[key]  # reported; pydantic need not say it again
        ok = False
    for key in ("circuity", "co2_kg_per_teu_km", "speed_kmh"):
        if isinstance(values.get(key), dict):  # a partial per-mode table keeps the other defaults
            default = Settings.model_fields[key].default.model_dump()
            values[key] = default | values[key]
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            value = err.get("input") if err["type"] != "missing" else None
            message = "required setting is missing" if err["type"] == "missing" else err["msg"]
            if err["type"] == "extra_forbidden":
                message = "unknown setting" + _suggest(key, _settings_keys())
            if isinstance(value, dt.date | dt.time):
                message = f"a date ({_shown_value(value)}); {key} is not a date"
                value = None
            probs.add(
                raw.settings_where.get(key, raw.settings_source),
                message,
                key,
                value if not isinstance(value, dict) else None,
            )
        return None
    return settings if ok else None


# ---------------------------------------------------------------- typing


def _locator(table: RawTable | None) -> Any:
    if table is None:
        return lambda i: "(missing table)"
    return table.where


def _empty(series: pd.Series) -> pd.Series:
    if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
        return series.isna() | (series.str.strip() == "")
    return series.isna() | series.map(lambda v: isinstance(v, str) and v.strip() == "")


def _column_label(table: RawTable, j: int) -> str:
    if "sheet '" in table.source:
        return f"column {get_column_letter(j + 1)}"
    return f"field {j + 1}"


def _header(
    ts: TableSchema, table: RawTable, probs: _Problems, strict: bool
) -> tuple[dict[str, int], dict[str, int]]:
    """Positions of the schema columns and of the extra columns in the table's header; reports
    duplicate, unknown and unnamed columns."""
    frame = table.frame
    canonical = {c.casefold(): c for c in ts.column_names}
    schema_cols: dict[str, int] = {}
    extras: dict[str, int] = {}
    seen: dict[str, int] = {}
    for j, written in enumerate(frame.columns):
        name = str(written).strip()
        if not name or name.startswith("Unnamed:"):
            values = frame.iloc[:, j].reset_index(drop=True)
            filled = np.flatnonzero(~_empty(values).to_numpy())
            if len(filled):
                probs.add(
                    table.source,
                    f"{_column_label(table, j)} has no name in the header but holds values (first "
                    f"at {table.where(int(filled[0]))}); "
                    + ("name it or delete it" if strict else "they are ignored"),
                    kind="unnamed column",
                    severity="error" if strict else "warning",
                )
            continue
        key = name.casefold()
        if key in seen:
            probs.add(
                table.source,
                f"column '{name}' is given twice ({_column_label(table, seen[key])} and "
                f"{_column_label(table, j)}); keep one",
                kind="duplicate column",
            )
            continue
        seen[key] = j
        if key in canonical:
            schema_cols[canonical[key]] = j
            continue
        extras[name] = j
        hint = _suggest(name, ts.column_names)
        typo = bool(close_matches(name, ts.column_names, TYPO))
        if strict:
            probs.add(
                table.source,
                f"column '{name}' is not in the schema{hint}; strict reading allows schema "
                "columns only",
                kind="unknown column",
            )
        elif typo:
            probs.add(
                table.source,
                f"column '{name}' is not in the schema{hint}; kept as extra data",
                kind="unknown column",
                severity="warning",
            )
    return schema_cols, extras


def _type_table(
    ts: TableSchema, table: RawTable | None, probs: _Problems, strict: bool
) -> pd.DataFrame:
    frame = table.frame if table is not None else pd.DataFrame()
    n = len(frame)
    out: dict[str, pd.Series] = {}
    schema_cols: dict[str, int] = {}
    extras: dict[str, int] = {}
    required = [c.name for c in ts.columns if c.required]
    if table is not None and not len(frame.columns) and table.row_word != "item" and ts.required:
        probs.add(  # an empty optional sheet, or JSON list, is an empty table
            table.source,
            f"is empty; expected the column names in {table.row_word} 1 "
            f"({', '.join(required or ts.column_names)})",
        )
        probs.headless.add(ts.name)
        table = None
    if table is not None and len(frame.columns):
        schema_cols, extras = _header(ts, table, probs, strict)
        if not schema_cols and required:
            found = ", ".join(f"'{c}'" for c in list(extras)[:4]) or "nothing"
            probs.add(
                table.source,
                f"no column of the schema in the header (it holds {found}); expected the "
                f"columns {', '.join(required)}",
                kind="missing column",
            )
            probs.headless.add(ts.name)
            table = None  # one message for the table, not one per column
    for col in ts.columns:
        if col.name not in schema_cols:
            if col.required and table is not None and len(frame.columns):
                probs.add(
                    table.source, f"missing required column '{col.name}'", kind="missing column"
                )
            out[col.name] = _default(col, n)
            continue
        assert table is not None
        values = frame.iloc[:, schema_cols[col.name]].reset_index(drop=True)
        out[col.name] = _type_column(ts.name, col, values, table, probs)
    typed = pd.DataFrame(out, index=pd.RangeIndex(n))
    for col in ts.columns:
        typed[col.name] = typed[col.name].astype(_DTYPES[col.type])
    for name, j in extras.items():  # empty cells are missing, as in schema columns
        values = frame.iloc[:, j].reset_index(drop=True)
        if table is not None:
            values = _formulas(ts.name, name, values, table, probs)
        typed[name] = values.where(~_empty(values), None)
    return typed


def _default(col: Column, n: int) -> pd.Series:
    if col.type == "bool":
        return pd.Series([col.default == "true"] * n, dtype=bool)
    if col.type in ("float", "int", "weektime"):
        value = float(col.default) if col.default else np.nan
        return pd.Series([value] * n, dtype="float64")
    return pd.Series([col.default or None] * n, dtype=object)


def _formulas(
    tname: str, column: str, values: pd.Series, table: RawTable, probs: _Problems
) -> pd.Series:
    """Report formula cells without a computed value; they become missing (already reported)."""
    if not table.formulas:
        return values
    formula = values.map(lambda v: isinstance(v, FormulaCell))
    for i in np.flatnonzero(formula.to_numpy()):
        probs.add(
            table.where(i),
            f"formula '{values[i].formula}' has no computed value; open and save the workbook "
            "in Excel, or enter the number",
            column,
            kind="formula without value",
            cell=(tname, int(i)),
        )
    return values.where(~formula, None) if formula.any() else values


def _type_column(
    tname: str, col: Column, values: pd.Series, table: RawTable, probs: _Problems
) -> pd.Series:
    values = _formulas(tname, col.name, values, table, probs)
    empty = _empty(values)
    for i in np.flatnonzero(empty & col.required):
        if not probs.is_bad(tname, int(i), col.name):
            probs.add(table.where(i), "required value is empty", col.name, kind="empty")
    if col.type == "weektime":  # "Tue 06:00" is 30 hours; numbers are hours already
        texts = values.map(lambda v: weektime_hours(v) if isinstance(v, str) else None)
        hours = values.astype(object).where(texts.isna(), texts)
        typed = _numeric(tname, col, hours, empty, table, probs)
    elif col.type in ("float", "int"):
        typed = _numeric(tname, col, values, empty, table, probs)
    elif col.type in ("weekday", "clock"):
        typed = _time_text(tname, col, values, empty, table, probs)
    elif col.type == "bool":
        typed = _boolean(tname, col, values, empty, table, probs)
    else:
        typed = values.map(_as_text).where(~empty, None)
        if col.values:
            bad = ~empty & ~typed.isin(col.values)
            for i in np.flatnonzero(bad):
                probs.add(
                    table.where(i),
                    f"must be one of {', '.join(col.values)}" + _suggest(typed[i], set(col.values)),
                    col.name,
                    typed[i],
                    kind="not one of",
                    cell=(tname, int(i)),
                )
    return typed


def _as_text(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date | dt.time):
        return _shown_value(value)
    return str(value).strip()


_UNIT_WORDS = {"days": "days", "h": "hours", "km": "km", "TEU": "TEU"}


def _number_message(col: Column, value: Any) -> tuple[str, Any]:
    """Why a cell is not a number, and the value to show."""
    non_finite = {"nan", "inf", "-inf", "infinity", "-infinity"}
    if (
        col.type == "weektime"
        and not isinstance(value, dt.date | dt.time)
        and str(value).strip().lower() not in non_finite
    ):
        return (
            "expected hours from the start of the week or a weekday and time such as "
            "Tue 06:00 (Mon to Sun, 24-hour clock)",
            value,
        )
    if isinstance(value, dt.date | dt.time):
        unit = _UNIT_WORDS.get(col.unit)
        what = (
            f"a number of {unit}" if unit else "a number" + (f" ({col.unit})" if col.unit else "")
        )
        kind = "time" if isinstance(value, dt.time) else "date"
        return f"a {kind} ({_shown_value(value)}); {col.name} is {what}", None
    text = str(value).strip().lower()
    if text in non_finite:
        return (
            "NaN or infinite numbers are not allowed; leave the cell empty for 'unlimited'",
            value,
        )
    msg = f"expected a{'n integer' if col.type == 'int' else ' number'}"
    if isinstance(value, str) and DECIMAL_COMMA.fullmatch(value.strip()):
        msg += " (write decimals with a point, e.g. 12.5)"
    return msg, value


def _numeric(
    tname: str,
    col: Column,
    values: pd.Series,
    empty: pd.Series,
    table: RawTable,
    probs: _Problems,
) -> pd.Series:
    as_num = pd.to_numeric(values.where(~empty, None).map(_number_or_nan), errors="coerce")
    bad = ~empty & ~np.isfinite(as_num.to_numpy(dtype=float, na_value=np.nan))
    for i in np.flatnonzero(bad):
        msg, shown = _number_message(col, values[i])
        probs.add(table.where(i), msg, col.name, shown, kind="not a number", cell=(tname, int(i)))
    typed = as_num.where(~bad)
    if col.default:
        typed = typed.where(~empty, float(col.default))
    ok = typed.notna().to_numpy()
    arr = typed.to_numpy(dtype=float, na_value=np.nan)
    if col.type == "int":
        fractional = ok & (arr != np.round(arr))
        for i in np.flatnonzero(fractional):
            probs.add(
                table.where(i),
                "expected an integer",
                col.name,
                values[i],
                kind="not integer",
                cell=(tname, int(i)),
            )
        typed = typed.where(~fractional)  # reported; keep the column castable to Int64
    if col.min_value is not None:
        low = arr <= col.min_value if col.min_exclusive else arr < col.min_value
        word = "greater than" if col.min_exclusive else "at least"
        for i in np.flatnonzero(ok & low):
            probs.add(
                table.where(i),
                f"must be {word} {col.min_value:g}",
                col.name,
                values[i],
                kind="below",
                cell=(tname, int(i)),
            )
    if col.max_value is not None:
        for i in np.flatnonzero(ok & (arr > col.max_value)):
            probs.add(
                table.where(i),
                f"must be at most {col.max_text}",
                col.name,
                values[i],
                kind="above",
                cell=(tname, int(i)),
            )
    return typed.astype("float64")


def _time_text(
    tname: str,
    col: Column,
    values: pd.Series,
    empty: pd.Series,
    table: RawTable,
    probs: _Problems,
) -> pd.Series:
    """A weekday column as ``Mon`` .. ``Sun``, or a clock column as ``HH:MM``; other cells are
    reported and become missing."""
    if col.type == "weekday":
        number = values.map(lambda v: weekday_number(_time_cell(v)))
        typed = number.map(lambda k: None if pd.isna(k) else WEEKDAYS[int(k)])
        message = "expected a weekday: Mon to Sun, or 0 (Monday) to 6"
    else:
        typed = values.map(lambda v: clock_minutes(_time_cell(v))).map(
            lambda m: None if pd.isna(m) else clock_text(int(m))
        )
        message = "expected a time of day as HH:MM, 00:00 to 23:59"
    bad = ~empty & typed.isna()
    for i in np.flatnonzero(bad):
        probs.add(
            table.where(i),
            message,
            col.name,
            _shown_value(values[i]),
            kind=f"not a {col.type}",
            cell=(tname, int(i)),
        )
    return typed.where(~empty, None).astype(object)


def _time_cell(value: Any) -> Any:
    """A cell as the weekday and clock parsers take it (numpy numbers as Python numbers)."""
    return value.item() if isinstance(value, np.generic) else value


def _number_or_nan(value: Any) -> Any:
    if isinstance(value, bool | dt.date | dt.time):
        return np.nan
    return value.strip() if isinstance(value, str) else value


def _boolean(
    tname: str,
    col: Column,
    values: pd.Series,
    empty: pd.Series,
    table: RawTable,
    probs: _Problems,
) -> pd.Series:
    default = col.default == "true"
    out = []
    for i, v in enumerate(values):
        if empty[i]:
            out.append(default)
        elif isinstance(v, bool | np.bool_):
            out.append(bool(v))
        elif str(v).strip().lower() in _TRUE:
            out.append(True)
        elif str(v).strip().lower() in _FALSE:
            out.append(False)
        else:
            probs.add(
                table.where(i),
                "expected true or false",
                col.name,
                _shown_value(v),
                kind="not bool",
                cell=(tname, i),
            )
            out.append(default)
    return pd.Series(out, dtype=bool)


# ---------------------------------------------------------------- checks


def _check_unique(frame: pd.DataFrame, key: str, where: Any, probs: _Problems) -> None:
    ids = frame[key]
    dup = ids.notna() & ids.duplicated(keep="first")
    first = {v: i for i, v in reversed(list(enumerate(ids)))}
    for i in np.flatnonzero(dup):
        probs.add(
            where(i),
            f"duplicate id (first used at {where(first[ids[i]])})",
            key,
            ids[i],
            kind="duplicate",
        )


def _check_separator(frame: pd.DataFrame, key: str, where: Any, probs: _Problems) -> None:
    ids = frame[key]
    bad = [isinstance(v, str) and ROUTE_SEPARATOR in v for v in ids]
    for i in np.flatnonzero(bad):
        probs.add(
            where(i),
            f"an id must not contain '{ROUTE_SEPARATOR}', which joins the legs and nodes of a "
            "route in plan tables",
            key,
            ids[i],
            kind="separator in id",
        )


def _check_refs(
    frame: pd.DataFrame,
    ts: TableSchema,
    ids: dict[str, Any],
    where: Any,
    probs: _Problems,
    missing: set[str],
    naming: dict[str, list[tuple[int, str]]],
) -> None:
    """Unknown references; references into a table that is not given are counted in ``naming``
    (one root-cause message) instead."""
    for col in ts.columns:
        if col.ref not in ids:
            continue
        known = ids[col.ref]
        values = frame[col.name]
        if col.ref in missing:
            n = int(values.notna().sum())
            if n:
                naming[col.ref].append((n, ts.name))
            continue
        bad = values.notna() & ~values.isin(known)
        for i in np.flatnonzero(bad):
            hint = "ISO 3166-1 alpha-2" if col.ref == "country" else f"an id in {col.ref}"
            probs.add(
                where(i),
                f"unknown {_NOUN[col.ref]}; expected {hint}" + _suggest(values[i], known),
                col.name,
                values[i],
                kind=f"unknown {_NOUN[col.ref]}",
            )


def _check_restrictions(
    frame: pd.DataFrame,
    ids: dict[str, Any],
    leg_ids: set[str],
    where: Any,
    probs: _Problems,
    missing: set[str],
    naming: dict[str, list[tuple[int, str]]],
) -> None:
    targets = {
        "country": ids["country"],
        "border": ids["borders"],
        "leg": leg_ids,
        "mode": set(MODES),
        "node": ids["nodes"],
    }
    tables = {"border": "borders", "node": "nodes"}
    absent = Counter(scope for scope in frame["scope"] if tables.get(scope, "") in missing)
    for scope, n in absent.items():
        naming[tables[scope]].append((n, "restrictions"))
    for i, (scope, target) in enumerate(zip(frame["scope"], frame["target"], strict=True)):
        if scope in absent:
            continue
        if scope in targets and isinstance(target, str) and target not in targets[scope]:
            probs.add(
                where(i),
                f"unknown {scope} for scope '{scope}'" + _suggest(target, targets[scope]),
                "target",
                target,
                kind="unknown target",
            )


def _check_legs(legs: pd.DataFrame, where: Any, probs: _Problems) -> None:
    loop = legs["from"].notna() & (legs["from"] == legs["to"])
    for i in np.flatnonzero(loop):
        probs.add(where(i), "leg goes from a node to itself", "to", legs["to"][i], kind="self loop")
    service = legs["service_capacity_teu"].notna()
    reported = np.array(  # an invalid service_capacity_teu was reported; no follow-on problems
        [probs.is_bad("legs", i, "service_capacity_teu") for i in range(len(legs))], dtype=bool
    )
    service = service | reported
    for column in ("max_services", "min_headway_hours"):
        for i in np.flatnonzero(legs[column].notna() & ~service):
            probs.add(
                where(i),
                "given for a leg without service_capacity_teu (only service legs are dispatched on demand)",
                column,
                legs[column][i],
                kind="service without capacity",
            )
    for i in np.flatnonzero((legs["service_cost"] > 0) & ~service):
        probs.add(
            where(i),
            "given for a leg without service_capacity_teu (only service legs are dispatched on demand)",
            "service_cost",
            legs["service_cost"][i],
            kind="service without capacity",
        )


def _check_cargo(cargo: pd.DataFrame, where: Any, probs: _Problems) -> None:
    same = cargo["origin"].notna() & (cargo["origin"] == cargo["destination"])
    for i in np.flatnonzero(same):
        probs.add(
            where(i),
            "lot's destination equals its origin",
            "destination",
            cargo["destination"][i],
            kind="origin is destination",
        )


def _check_timetable(
    departures: pd.DataFrame,
    legs: pd.DataFrame,
    written: pd.DataFrame,
    where: dict[str, Any],
    probs: _Problems,
) -> None:
    """A (leg, day, time) is listed once; a leg that runs by the timetable has no dispatch on
    demand columns (service_capacity_teu, service_cost, max_services, min_headway_hours), which
    are reported on the leg's row (on its source row for a ``~r`` leg)."""
    key = departures[["leg", "day", "time"]]
    known = key.notna().all(axis=1).to_numpy()
    first: dict[tuple[str, str, str], int] = {}
    for i in np.flatnonzero(known):
        k = (key["leg"][i], key["day"][i], key["time"][i])
        if k in first:
            probs.add(
                where["departures"](i),
                f"departure {k[1]} {k[2]} of leg '{k[0]}' is listed twice (first at "
                f"{where['departures'](first[k])})",
                "time",
                k[2],
                kind="duplicate departure",
            )
        else:
            first.setdefault(k, int(i))
    runs = departures["leg"].dropna()
    first_row = {leg: int(i) for i, leg in reversed(list(runs.items()))}
    row_of = {leg: k for k, leg in enumerate(written["id"])}
    source = dict(zip(legs["id"], legs["reverse_of"], strict=True))
    on_demand = {
        "service_capacity_teu": legs["service_capacity_teu"].notna(),
        "service_cost": legs["service_cost"] > 0,
        "max_services": legs["max_services"].notna(),
        "min_headway_hours": legs["min_headway_hours"].notna(),
    }
    for column, given in on_demand.items():
        for leg_id, value in zip(legs["id"][given], legs[column][given], strict=True):
            if leg_id not in first_row:
                continue
            written_id = source[leg_id] if isinstance(source[leg_id], str) else leg_id
            i = row_of[written_id]
            if probs.is_bad("legs", i, column):
                continue
            probs.add(
                where["legs"](i),
                f"leg '{leg_id}' runs by the timetable (departures at "
                f"{where['departures'](first_row[leg_id])}); {column} is for legs dispatched "
                "on demand, so leave it empty",
                column,
                value,
                kind="timetable and on demand",
            )


def _check_times(
    cargo: pd.DataFrame,
    departures: pd.DataFrame,
    settings: Settings,
    where: dict[str, Any],
    probs: _Problems,
) -> None:
    """due_days or due_at, not both; due_at after ready_at; ready_at inside the horizon; every
    departure runs before the horizon and runoff end."""
    horizon, end = settings.horizon_hours, settings.horizon_hours + settings.runoff_hours
    ready, due_at = cargo["ready_at"], cargo["due_at"]

    def clean(i: int, *columns: str) -> bool:
        return not any(probs.is_bad("cargo", i, c) for c in columns)

    for i in np.flatnonzero(cargo["due_days"].notna() & due_at.notna()):
        probs.add(
            where["cargo"](i),
            "give due_days or due_at, not both",
            "due_at",
            _hours(due_at[i]),
            kind="due twice",
            cell=("cargo", int(i)),
        )
    for i in np.flatnonzero((due_at <= ready).fillna(False).to_numpy()):
        if clean(int(i), "due_at", "ready_at"):
            probs.add(
                where["cargo"](i),
                f"must be after ready_at ({_hours(ready[i])}); a time after the week is written "
                f"in hours (e.g. {due_at[i] + HOURS_PER_WEEK:g} for the next week)",
                "due_at",
                _hours(due_at[i]),
                kind="due before ready",
            )
    for i in np.flatnonzero((ready >= horizon).fillna(False).to_numpy()):
        if clean(int(i), "ready_at"):
            probs.add(
                where["cargo"](i),
                f"must lie within the planning horizon, before horizon_hours ({horizon:g} h)",
                "ready_at",
                _hours(ready[i]),
                kind="ready after horizon",
            )
    hours = timetable_hours(departures["day"], departures["time"])
    for i in np.flatnonzero(hours >= end):
        probs.add(
            where["departures"](i),
            f"never runs: it leaves {hours[i]:g} h after the week start, after the horizon and "
            f"runoff end ({horizon:g} + {settings.runoff_hours:g} h)",
            "time",
            departures["time"][i],
            kind="departure after end",
        )


def _check_carried(
    carried: pd.DataFrame,
    departures: pd.DataFrame,
    settings: Settings,
    where: dict[str, Any],
    probs: _Problems,
) -> None:
    """Carried flow leaves before the horizon and runoff end; on a leg run by the timetable it
    rides a run of the timetable (a departure of this week's clock, or one that left before it)."""
    end = settings.horizon_hours + settings.runoff_hours
    when = carried["departs_at"]
    for i in np.flatnonzero((when >= end).fillna(False).to_numpy()):
        probs.add(
            where["carried"](i),
            f"leaves after the horizon and runoff end ({settings.horizon_hours:g} + "
            f"{settings.runoff_hours:g} h)",
            "departs_at",
            when[i],
            kind="carried after end",
        )
    runs = timetable_hours(departures["day"], departures["time"])
    by_leg: dict[str, list[float]] = defaultdict(list)
    for leg_id, h in zip(departures["leg"], runs, strict=True):
        by_leg[leg_id].append(float(h))
    for i in np.flatnonzero((carried["leg"].isin(by_leg) & when.notna()).to_numpy()):
        hour = float(when[i]) % HOURS_PER_WEEK
        if not any(abs(hour - h) < 1e-6 for h in by_leg[carried["leg"][i]]):
            probs.add(
                where["carried"](i),
                f"leg '{carried['leg'][i]}' runs by the timetable and no run leaves at "
                f"{_hours(hour)} of the week",
                "departs_at",
                when[i],
                kind="carried off the timetable",
            )


def _hours(value: float) -> str:
    """A week time as problems show it: ``30 h (Tue 06:00)``, or ``200 h`` after the week."""
    if 0 <= value < HOURS_PER_WEEK:
        return f"{value:g} h ({weektime_text(value)})"
    return f"{value:g} h"


def _check_tariffs(
    tariffs: pd.DataFrame, legs: pd.DataFrame, where: dict[str, Any], probs: _Problems
) -> None:
    for i in np.flatnonzero(tariffs["to_km"].notna() & (tariffs["to_km"] <= tariffs["from_km"])):
        probs.add(where["tariffs"](i), "must be greater than from_km", "to_km", tariffs["to_km"][i])
    reported = pd.Series(
        [
            probs.is_bad("legs", i, "cost_per_teu") or probs.is_bad("legs", i, "mode")
            for i in range(len(legs))
        ],
        index=legs.index,
        dtype=bool,
    )
    needing = legs[legs["cost_per_teu"].isna() & legs["mode"].notna() & ~reported]
    for mode, rows in needing.groupby("mode"):
        bands = tariffs[tariffs["mode"] == mode].sort_values("from_km")
        if any(
            probs.is_bad("tariffs", int(j), c) for j in bands.index for c in ("from_km", "to_km")
        ):
            continue  # a band's bound was reported already
        first_leg = where["legs"](int(rows.index[0]))
        if bands.empty:
            probs.add(
                first_leg,
                f"no cost_per_teu and the tariffs table has no band for mode '{mode}' "
                f"({len(rows)} leg(s) of this mode lack a cost)",
                "cost_per_teu",
                kind="no tariff",
            )
            continue
        start = 0.0
        for j, band in bands.iterrows():
            if band["from_km"] != start:
                probs.add(
                    where["tariffs"](int(j)),
                    f"bands of mode '{mode}' must start at 0 and be contiguous; expected {start:g}",
                    "from_km",
                    band["from_km"],
                )
                break
            start = band["to_km"]
            if pd.isna(start):
                break


def _expand_reverse(legs: pd.DataFrame, where: Any, probs: _Problems) -> pd.DataFrame:
    legs = legs.assign(reverse_of=pd.Series([None] * len(legs), dtype="str"))
    forward = legs[legs["reverse"]]
    if forward.empty:
        return legs
    back = forward.copy()
    back["id"] = forward["id"] + REVERSE_SUFFIX
    back["from"], back["to"] = forward["to"].to_numpy(), forward["from"].to_numpy()
    back["reverse"] = False
    back["reverse_of"] = forward["id"].to_numpy()
    clash = back["id"].isin(set(legs["id"]))
    for i, new_id in zip(back.index[clash], back["id"][clash], strict=True):
        probs.add(
            where(int(i)),
            f"reverse leg id '{new_id}' is already used by another leg",
            "id",
            kind="reverse clash",
        )
    out = pd.concat([legs, back], ignore_index=True)
    return out.astype({"reverse_of": "str"})


def _warn(
    typed: dict[str, pd.DataFrame],
    legs: pd.DataFrame,
    ids: dict[str, Any],
    where: dict[str, Any],
    probs: _Problems,
) -> None:
    nodes, cargo, borders = typed["nodes"], typed["cargo"], typed["borders"]
    used = set(legs["from"]) | set(legs["to"])
    for i in np.flatnonzero(~nodes["id"].isin(used)):
        probs.add(
            where["nodes"](i),
            "isolated node: no leg starts or ends here",
            "id",
            nodes["id"][i],
            kind="isolated",
            severity="warning",
        )
    named = set(legs["border"].dropna())
    for i in np.flatnonzero(~borders["id"].isin(named)):
        probs.add(
            where["borders"](i),
            "border used by no leg",
            "id",
            borders["id"][i],
            kind="unused border",
            severity="warning",
        )
    country = dict(zip(nodes["id"], nodes["country"], strict=True))
    sides = {
        b: {f, t}
        for b, f, t in zip(
            borders["id"], borders["from_country"], borders["to_country"], strict=True
        )
    }
    leg_rows = typed["legs"]
    for i, (b, f, t) in enumerate(
        zip(leg_rows["border"], leg_rows["from"], leg_rows["to"], strict=True)
    ):
        if isinstance(b, str) and b in sides and not {country[f], country[t]} <= sides[b]:
            probs.add(
                where["legs"](i),
                f"leg's countries {country[f]}->{country[t]} are not the "
                f"sides of border '{b}' ({'/'.join(sorted(sides[b]))})",
                "border",
                b,
                kind="border countries",
                severity="warning",
            )
    for i in _unreachable_lots(nodes["id"], legs, cargo):
        probs.add(
            where["cargo"](i),
            "no path at all from origin to destination over the legs",
            "destination",
            cargo["destination"][i],
            kind="no path",
            severity="warning",
        )


def _unreachable_lots(node_ids: pd.Series, legs: pd.DataFrame, cargo: pd.DataFrame) -> list[int]:
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import breadth_first_order

    index = {n: k for k, n in enumerate(node_ids)}
    n = len(index)
    adj = csr_array(
        (
            np.ones(len(legs)),
            (legs["from"].map(index).to_numpy(), legs["to"].map(index).to_numpy()),
        ),
        shape=(n, n),
    )
    origins = cargo["origin"].map(index).to_numpy()
    dests = cargo["destination"].map(index).to_numpy()
    bad: list[int] = []
    for o in np.unique(origins):
        reach = np.zeros(n, dtype=bool)
        reach[breadth_first_order(adj, int(o), directed=True, return_predecessors=False)] = True
        rows = np.flatnonzero(origins == o)
        bad.extend(int(r) for r in rows[~reach[dests[rows]]])
    return sorted(bad)
