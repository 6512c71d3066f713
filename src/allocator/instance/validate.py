"""Check raw instance tables against the schema and the references between them; build the Instance."""

from __future__ import annotations

import difflib
import logging
import os
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd
import pycountry
from pydantic import ValidationError

from allocator.errors import InstanceError, Problem
from allocator.instance.io import RawInstance, RawTable, read_raw
from allocator.instance.model import Instance
from allocator.instance.schema import (
    MAX_PER_KIND,
    MODES,
    Column,
    Settings,
    TableSchema,
    load_schema,
)

logger = logging.getLogger(__name__)

REVERSE_SUFFIX = "~r"
# XK Kosovo; ZZ is ISO 3166 user-assigned "unknown", used for MCND benchmark nodes (mcnd.py)
COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries) | {"XK", "ZZ"}
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
_DTYPES = {"str": "str", "float": "float64", "int": "Int64", "bool": "bool"}


def read_instance(path: str | os.PathLike[str]) -> Instance:
    """Read and validate an instance from any container; raises InstanceError with every problem."""
    return validate(read_raw(path))


class _Problems:
    """Collects problems, capping repeats of one kind so a bad column does not flood the report."""

    def __init__(self, initial: list[Problem]) -> None:
        self.items = list(initial)
        self._counts: dict[tuple[str, str | None, str], int] = defaultdict(int)

    def add(
        self,
        where: str,
        message: str,
        column: str | None = None,
        value: Any = None,
        *,
        kind: str = "",
        severity: str = "error",
    ) -> None:
        if isinstance(value, np.generic):  # shown as 600.0, not np.float64(600.0)
            value = value.item()
        key = (where.split(" line ")[0].split(" row ")[0].split("[")[0], column, kind or message)
        self._counts[key] += 1
        if self._counts[key] <= MAX_PER_KIND:
            self.items.append(Problem(where, message, column, value, severity))

    def finish(self) -> list[Problem]:
        for (source, column, kind), n in self._counts.items():
            if n > MAX_PER_KIND:
                col = f", column '{column}'" if column else ""
                self.items.append(
                    Problem(source, f"... and {n - MAX_PER_KIND} more like '{kind}'{col}")
                )
        return self.items

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "error"]


def _suggest(value: str, candidates: list[str] | set[str] | frozenset[str]) -> str:
    match = difflib.get_close_matches(str(value), sorted(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def validate(raw: RawInstance) -> Instance:
    """Validate raw tables and settings; return the typed Instance or raise InstanceError.

    Every problem is collected before raising, each located by file or sheet, row and column.
    Warnings (no path for a lot, isolated nodes, unused borders) travel on ``Instance.warnings``.
    """
    schema = load_schema()
    probs = _Problems(raw.problems)
    for name, table in raw.tables.items():
        if name not in schema:
            probs.add(
                table.source,
                f"unknown table '{name}'; expected one of {', '.join(schema)}"
                + _suggest(name, set(schema)),
            )
    for name, ts in schema.items():
        if ts.required and name not in raw.tables:
            probs.add(str(raw.path), f"required table '{name}' is missing")
    settings = _settings(raw, probs)
    typed = {name: _type_table(ts, raw.tables.get(name), probs) for name, ts in schema.items()}
    where = {name: _locator(raw.tables.get(name)) for name in schema}

    for name, ts in schema.items():
        if ts.key:
            _check_unique(typed[name], ts.key, where[name], probs)
    legs = _expand_reverse(typed["legs"], where["legs"], probs)
    ids = {
        "nodes": set(typed["nodes"]["id"].dropna()),
        "borders": set(typed["borders"]["id"].dropna()),
        "classes": set(typed["classes"]["id"].dropna()),
        "country": COUNTRIES,
    }
    for name, ts in schema.items():
        _check_refs(typed[name], ts, ids, where[name], probs)
    _check_restrictions(typed["restrictions"], ids, set(legs["id"]), where["restrictions"], probs)
    _check_legs(typed["legs"], where["legs"], probs)
    _check_cargo(typed["cargo"], where["cargo"], probs)
    _check_tariffs(typed["tariffs"], typed["legs"], where, probs)
    if not probs.errors:
        _warn(typed, legs, ids, where, probs)
    problems = probs.finish()
    if any(p.severity == "error" for p in problems) or settings is None:
        raise InstanceError(problems)

    def keyed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.set_index("id").rename_axis("id")

    return Instance(
        settings=settings,
        nodes=keyed(typed["nodes"]),
        legs=keyed(legs),
        borders=keyed(typed["borders"]),
        classes=keyed(typed["classes"]),
        cargo=keyed(typed["cargo"]),
        restrictions=typed["restrictions"],
        tariffs=typed["tariffs"],
        source=raw.path,
        warnings=tuple(p for p in problems if p.severity == "warning"),
    )


# ---------------------------------------------------------------- settings


def _settings(raw: RawInstance, probs: _Problems) -> Settings | None:
    values = dict(raw.settings)
    for key in ("circuity", "co2_kg_per_teu_km", "speed_kmh"):
        if isinstance(values.get(key), dict):  # a partial per-mode table keeps the other defaults
            default = Settings.model_fields[key].default.model_dump()
            values[key] = default | values[key]
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            value = err.get("input") if err["type"] != "missing" else None
            message = "required setting is missing" if err["type"] == "missing" else err["msg"]
            if err["type"] == "extra_forbidden":
                message = "unknown setting" + _suggest(key, set(Settings.model_fields))
            probs.add(
                raw.settings_source, message, key, value if not isinstance(value, dict) else None
            )
        return None


# ---------------------------------------------------------------- typing


def _locator(table: RawTable | None) -> Any:
    if table is None:
        return lambda i: "(missing table)"
    return table.where


def _empty(series: pd.Series) -> pd.Series:
    return series.isna() | series.map(lambda v: isinstance(v, str) and v.strip() == "")


def _type_table(ts: TableSchema, table: RawTable | None, probs: _Problems) -> pd.DataFrame:
    frame = table.frame if table is not None else pd.DataFrame()
    n = len(frame)
    out: dict[str, pd.Series] = {}
    for col in ts.columns:
        if col.name not in frame.columns:
            if col.required and table is not None:
                probs.add(
                    table.source, f"missing required column '{col.name}'", kind="missing column"
                )
            out[col.name] = _default(col, n)
            continue
        assert table is not None
        out[col.name] = _type_column(col, frame[col.name].reset_index(drop=True), table, probs)
    typed = pd.DataFrame(out, index=pd.RangeIndex(n))
    for col in ts.columns:
        typed[col.name] = typed[col.name].astype(_DTYPES[col.type])
    extras = [
        c for c in frame.columns if c not in typed.columns and not str(c).startswith("Unnamed")
    ]
    for c in extras:  # empty cells are missing, as in schema columns, whatever the container
        values = frame[c].reset_index(drop=True)
        typed[c] = values.where(~_empty(values), None)
    return typed


def _default(col: Column, n: int) -> pd.Series:
    if col.type == "bool":
        return pd.Series([col.default == "true"] * n, dtype=bool)
    if col.type in ("float", "int"):
        value = float(col.default) if col.default else np.nan
        return pd.Series([value] * n, dtype="float64")
    return pd.Series([col.default or None] * n, dtype=object)


def _type_column(col: Column, values: pd.Series, table: RawTable, probs: _Problems) -> pd.Series:
    empty = _empty(values)
    for i in np.flatnonzero(empty & col.required):
        probs.add(table.where(i), "required value is empty", col.name, kind="empty")
    if col.type in ("float", "int"):
        typed = _numeric(col, values, empty, table, probs)
    elif col.type == "bool":
        typed = _boolean(col, values, empty, table, probs)
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
                )
    return typed


def _as_text(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _numeric(
    col: Column, values: pd.Series, empty: pd.Series, table: RawTable, probs: _Problems
) -> pd.Series:
    as_num = pd.to_numeric(values.where(~empty, None).map(_number_or_nan), errors="coerce")
    bad = ~empty & ~np.isfinite(as_num.to_numpy(dtype=float, na_value=np.nan))
    for i in np.flatnonzero(bad):
        v = values[i]
        text = str(v).strip().lower()
        if text in {"nan", "inf", "-inf", "infinity", "-infinity"}:
            msg = "NaN or infinite numbers are not allowed; leave the cell empty for 'unlimited'"
        else:
            msg = f"expected a{'n integer' if col.type == 'int' else ' number'}"
        probs.add(table.where(i), msg, col.name, v, kind="not a number")
    typed = as_num.where(~bad)
    if col.default:
        typed = typed.where(~empty, float(col.default))
    ok = typed.notna().to_numpy()
    arr = typed.to_numpy(dtype=float, na_value=np.nan)
    if col.type == "int":
        fractional = ok & (arr != np.round(arr))
        for i in np.flatnonzero(fractional):
            probs.add(
                table.where(i), "expected an integer", col.name, values[i], kind="not integer"
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
            )
    if col.max:
        for i in np.flatnonzero(ok & (arr > float(col.max))):
            probs.add(
                table.where(i), f"must be at most {col.max}", col.name, values[i], kind="above"
            )
    return typed.astype("float64")


def _number_or_nan(value: Any) -> Any:
    if isinstance(value, bool):
        return np.nan
    return value.strip() if isinstance(value, str) else value


def _boolean(
    col: Column, values: pd.Series, empty: pd.Series, table: RawTable, probs: _Problems
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
            probs.add(table.where(i), "expected true or false", col.name, v, kind="not bool")
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


def _check_refs(
    frame: pd.DataFrame, ts: TableSchema, ids: dict[str, Any], where: Any, probs: _Problems
) -> None:
    for col in ts.columns:
        if col.ref not in ids:
            continue
        known = ids[col.ref]
        values = frame[col.name]
        bad = values.notna() & ~values.isin(known)
        noun = {"nodes": "node", "borders": "border", "classes": "class", "country": "country code"}
        for i in np.flatnonzero(bad):
            hint = "ISO 3166-1 alpha-2" if col.ref == "country" else f"an id in {col.ref}"
            probs.add(
                where(i),
                f"unknown {noun[col.ref]}; expected {hint}" + _suggest(values[i], known),
                col.name,
                values[i],
                kind="unknown ref",
            )


def _check_restrictions(
    frame: pd.DataFrame, ids: dict[str, Any], leg_ids: set[str], where: Any, probs: _Problems
) -> None:
    targets = {
        "country": ids["country"],
        "border": ids["borders"],
        "leg": leg_ids,
        "mode": set(MODES),
        "node": ids["nodes"],
    }
    for i, (scope, target) in enumerate(zip(frame["scope"], frame["target"], strict=True)):
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
    for column in ("max_services",):
        for i in np.flatnonzero(legs[column].notna() & ~service):
            probs.add(
                where(i),
                "given for a leg without service_capacity_teu (only service legs run by departures)",
                column,
                legs[column][i],
                kind="service without capacity",
            )
    for i in np.flatnonzero((legs["service_cost"] > 0) & ~service):
        probs.add(
            where(i),
            "given for a leg without service_capacity_teu (only service legs run by departures)",
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


def _check_tariffs(
    tariffs: pd.DataFrame, legs: pd.DataFrame, where: dict[str, Any], probs: _Problems
) -> None:
    for i in np.flatnonzero(tariffs["to_km"].notna() & (tariffs["to_km"] <= tariffs["from_km"])):
        probs.add(where["tariffs"](i), "must be greater than from_km", "to_km", tariffs["to_km"][i])
    needing = legs[legs["cost_per_teu"].isna() & legs["mode"].notna()]
    for mode, rows in needing.groupby("mode"):
        bands = tariffs[tariffs["mode"] == mode].sort_values("from_km")
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
