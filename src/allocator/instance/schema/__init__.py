"""The instance format as data: one CSV per table (column, type, unit, default, ...) plus the settings model."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import pycountry

from allocator.instance.schema.settings import MAX_MAGNITUDE, MODES, Settings

__all__ = [
    "COUNTRIES",
    "MAX_MAGNITUDE",
    "MAX_PER_KIND",
    "MODES",
    "NUMBER_TYPES",
    "REF_TEXT",
    "Column",
    "Settings",
    "TableSchema",
    "load_schema",
]

MAX_PER_KIND = 20  # problems validation lists per (table, column, kind) before "... and N more"

# XK Kosovo; ZZ is ISO 3166 user-assigned "unknown", used for MCND benchmark nodes (mcnd.py)
COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries) | {"XK", "ZZ"}
"""The codes a ``country`` column takes: ISO 3166-1 alpha-2."""

NUMBER_TYPES = ("float", "int", "weektime")
"""Column types held as numbers (a ``weektime`` cell may also be written as ``Tue 06:00``)."""

TYPE_TEXT = {
    "weektime": "hours from the week start, or weekday and time (`Tue 06:00`)",
    "weekday": "`Mon` … `Sun`, or 0 … 6",
    "clock": "`HH:MM`, 00:00 to 23:59",
}
"""What a column of a time type takes, in words (markdown)."""

REF_TEXT = {
    "nodes": "id of a row in `nodes`",
    "legs": "id of a leg (`~r` legs too)",
    "borders": "id of a row in `borders`",
    "classes": "id of a row in `classes`",
    "country": "ISO 3166-1 alpha-2 code",
    "scope": "id of the kind named by `scope`",
}
"""What a column's ``ref`` asks for, in words (markdown)."""


@dataclass(frozen=True)
class Column:
    """One column of an instance table, as written in ``schema/<table>.csv``."""

    name: str
    type: str  # str | float | int | bool | weektime | weekday | clock (weektime.py)
    unit: str
    default: str
    required: bool
    values: tuple[str, ...]
    ref: str  # nodes | legs | borders | classes | country | scope | ""
    min: str  # "0" inclusive, ">0" exclusive, "" none
    max: str
    description: str

    @property
    def min_value(self) -> float | None:
        """Lower bound as a number, or None."""
        return float(self.min.lstrip(">")) if self.min else None

    @property
    def max_value(self) -> float | None:
        """Upper bound as a number: the column's ``max``, else MAX_MAGNITUDE for number columns."""
        if self.max:
            return float(self.max)
        return MAX_MAGNITUDE if self.type in NUMBER_TYPES else None

    @property
    def max_text(self) -> str:
        """The upper bound as written (``90``, ``1e9``)."""
        if self.max or self.max_value is None:
            return self.max
        return f"{self.max_value:g}".replace("e+0", "e").replace("e+", "e")

    @property
    def min_exclusive(self) -> bool:
        """True when the lower bound itself is not allowed."""
        return self.min.startswith(">")

    @property
    def allowed(self) -> str:
        """The values the column takes, in words (markdown): ``one of `rail`, `road`…``,
        ``id of a row in `nodes```, ``≥ 0``, ``-90 ≤ value ≤ 90``; '' when anything goes."""
        parts = [TYPE_TEXT[self.type]] if self.type in TYPE_TEXT else []
        if self.values:
            parts.append("one of " + ", ".join(f"`{v}`" for v in self.values))
        if self.ref:
            parts.append(REF_TEXT.get(self.ref, self.ref))
        if self.min and self.max:
            low = "<" if self.min_exclusive else "≤"
            parts.append(f"{self.min_value:g} {low} value ≤ {self.max}")
        elif self.min:
            parts.append(f"{'>' if self.min_exclusive else '≥'} {self.min_value:g}")
        elif self.max:
            parts.append(f"≤ {self.max}")
        return "; ".join(parts)


@dataclass(frozen=True)
class TableSchema:
    """The columns of one table and whether the table itself is required."""

    name: str
    required: bool
    key: str
    description: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        """Schema columns in their canonical order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        return next(c for c in self.columns if c.name == name)


def _read_csv(name: str) -> list[dict[str, str]]:
    text = files("allocator.instance.schema").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def load_schema() -> dict[str, TableSchema]:
    """Every table's schema, keyed by table name, in the canonical table order."""
    schema = {}
    for row in _read_csv("tables.csv"):
        columns = tuple(
            Column(
                name=c["attribute"],
                type=c["type"],
                unit=c["unit"],
                default=c["default"],
                required=c["required"] == "true",
                values=tuple(v for v in c["values"].split("|") if v),
                ref=c["ref"],
                min=c["min"],
                max=c["max"],
                description=c["description"],
            )
            for c in _read_csv(f"{row['table']}.csv")
        )
        schema[row["table"]] = TableSchema(
            name=row["table"],
            required=row["required"] == "true",
            key=row["key"],
            description=row["description"],
            columns=columns,
        )
    return schema
