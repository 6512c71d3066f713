"""Scenarios: a base instance plus a list of changes, applied to give a new, re-validated Instance.

A scenario is a TOML file (format in docs/planning.md#scenarios)::

    name = "ferries-halved"
    base = ".."                       # the base instance, relative to this file
    description = "Caspian rail ferries: half the sailings."

    [[change]]
    kind = "scale_capacity"           # scale_capacity | close | scale_demand | settings | add_legs | set
    of = "legs"                       # legs | borders | terminals
    where = { mode = "ferry", country = ["KZ", "TM"] }
    factor = 0.5
    service = "departures"            # service legs: scale max_services (or "slots": TEU/departure)

Changes apply in file order, each to the result of the ones before. The result is validated like
any instance read from files; every problem names the scenario file, the ``[[change]]`` (counted
from 1) and the key. Closing is done with restriction rows (per class), so nothing is removed.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from allocator.errors import InstanceError, Problem
from allocator.instance.hints import did_you_mean
from allocator.instance.io import (
    RawInstance,
    RawTable,
    as_object,
    fold_reverse,
    instance_tables,
    is_missing,
)
from allocator.instance.model import Instance
from allocator.instance.schema import MODES, Settings, load_schema

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"  # a folder name beside compare.csv (no dot)
BASE_RUN = "base"  # folder of the base run; no scenario may take this name
REVERSE_SUFFIX = "~r"

Selector = dict[str, str | list[str]]
_SINGULAR = {
    "legs": "leg",
    "borders": "border",
    "terminals": "node",
    "countries": "country",
    "lots": "lot",
}


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScaleCapacity(_Change):
    """Multiply the capacity of the selected legs, borders or terminals by ``factor``.

    Legs: ``capacity_teu`` where given; service legs also their departures: ``service = "slots"``
    scales ``service_capacity_teu`` (TEU per departure), ``"departures"`` scales ``max_services``
    (the result must be whole). Unlimited capacities stay unlimited.
    """

    kind: Literal["scale_capacity"]
    of: Literal["legs", "borders", "terminals"]
    where: Selector = Field(default_factory=dict)
    factor: float = Field(ge=0)
    service: Literal["slots", "departures"] = "slots"


class Close(_Change):
    """Forbid the selected legs, borders, countries or terminals to ``classes`` (default: all)."""

    kind: Literal["close"]
    of: Literal["legs", "borders", "countries", "terminals"]
    where: Selector = Field(default_factory=dict)
    classes: list[str] | None = None
    reason: str | None = None


class ScaleDemand(_Change):
    """Multiply the TEU of the selected lots by ``factor``."""

    kind: Literal["scale_demand"]
    where: Selector = Field(default_factory=dict)
    factor: float = Field(gt=0)


class SetSettings(_Change):
    """Change settings (``co2_price_per_t``, ``default_penalty_per_teu``, per-mode tables, ...)."""

    kind: Literal["settings"]
    set: dict[str, Any] = Field(min_length=1)


class AddLegs(_Change):
    """Add legs, one table per leg with the columns of legs.csv (``fixed_cost`` > 0: a candidate)."""

    kind: Literal["add_legs"]
    legs: list[dict[str, Any]] = Field(min_length=1)


class SetValues(_Change):
    """Set columns of the selected legs, borders or terminals to the values in ``values``, e.g.
    a border's ``dwell_hours`` and ``capacity_teu_per_day``."""

    kind: Literal["set"]
    of: Literal["legs", "borders", "terminals"]
    where: Selector = Field(default_factory=dict)
    values: dict[str, Any] = Field(min_length=1)


Change = Annotated[
    ScaleCapacity | Close | ScaleDemand | SetSettings | AddLegs | SetValues,
    Field(discriminator="kind"),
]
# the table holding what each ``of`` selects
_TABLE_OF = {"legs": "legs", "borders": "borders", "terminals": "nodes"}

# selector keys per kind of thing selected
SELECT_KEYS: dict[str, tuple[str, ...]] = {
    "legs": ("id", "mode", "country", "corridor", "border", "from", "to"),
    "borders": ("id", "country", "corridor"),
    "terminals": ("id", "country", "kind", "corridor"),
    "countries": ("id",),
    "lots": ("id", "origin", "destination", "origin_country", "destination_country", "class"),
}


KIND_MODELS: dict[str, type[_Change]] = {
    model.model_fields["kind"].annotation.__args__[0]: model  # type: ignore[union-attr]
    for model in (ScaleCapacity, Close, ScaleDemand, SetSettings, AddLegs, SetValues)
}


class Scenario(BaseModel):
    """A scenario file: a name, the base instance and the changes, in order."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, max_length=80)
    base: str = Field(min_length=1)
    description: str = ""
    change: list[Change] = Field(default_factory=list)
    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        """The scenario file, when read from one."""
        return self._source

    @property
    def base_path(self) -> Path:
        """The base instance path, resolved against the scenario file's folder."""
        folder = self._source.parent if self._source is not None else Path.cwd()
        return (folder / self.base).resolve()

    @property
    def label(self) -> str:
        """How problems name the scenario: its file, else its name."""
        return str(self._source) if self._source is not None else f"scenario '{self.name}'"


def _change_where(label: str, index: int, kind: str | None = None) -> str:
    return f"{label} [[change]] #{index + 1}" + (f" ({kind})" if kind else "")


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and check a scenario file; raise InstanceError naming the file and key of each problem."""
    p = Path(path)
    if not p.is_file():
        raise InstanceError([Problem(str(p), "no such scenario file")])
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InstanceError([Problem(str(p), f"is not valid TOML: {exc}")]) from exc
    return scenario_from_dict(doc, source=p)


def scenario_from_dict(doc: dict[str, Any], source: Path | None = None) -> Scenario:
    """A Scenario from a parsed TOML document (``[[change]]`` is the list under ``change``)."""
    label = str(source) if source is not None else "scenario"
    try:
        scenario = Scenario.model_validate(doc)
    except ValidationError as exc:
        raise InstanceError(_keys(_pydantic_problems(exc, label, doc))) from None
    scenario._source = source
    problems = []
    if scenario.name == BASE_RUN:
        problems.append(Problem(label, f"'{BASE_RUN}' is the name of the base run", "name"))
    for i, ch in enumerate(scenario.change):
        if isinstance(ch, ScaleCapacity | Close | ScaleDemand | SetValues):
            of = "lots" if isinstance(ch, ScaleDemand) else ch.of
            for key in ch.where:
                if key not in SELECT_KEYS[of]:
                    problems.append(
                        Problem(
                            _change_where(label, i, ch.kind),
                            f"unknown selector for {of}; expected one of "
                            f"{', '.join(SELECT_KEYS[of])}" + did_you_mean(key, SELECT_KEYS[of]),
                            f"where.{key}",
                        )
                    )
        if isinstance(ch, SetSettings):
            for key in ch.set:
                if key == "name":
                    problems.append(
                        Problem(
                            _change_where(label, i, ch.kind),
                            "the name comes from the scenario name",
                            "set.name",
                        )
                    )
                elif key not in Settings.model_fields:
                    problems.append(
                        Problem(
                            _change_where(label, i, ch.kind),
                            "unknown setting" + did_you_mean(key, Settings.model_fields),
                            f"set.{key}",
                        )
                    )
        if isinstance(ch, SetValues):
            columns = load_schema()[_TABLE_OF[ch.of]].column_names
            for key in ch.values:
                if key not in columns or key == "id":
                    problems.append(
                        Problem(
                            _change_where(label, i, ch.kind),
                            f"not a column of {ch.of} that a scenario may set"
                            + did_you_mean(key, [c for c in columns if c != "id"]),
                            f"values.{key}",
                        )
                    )
        if isinstance(ch, AddLegs):
            columns = load_schema()["legs"].column_names
            for j, row in enumerate(ch.legs):
                for key in row:
                    if key not in columns:
                        problems.append(
                            Problem(
                                _change_where(label, i, ch.kind),
                                "unknown leg column" + did_you_mean(key, columns),
                                f"legs[{j}].{key}",
                            )
                        )
    if problems:
        raise InstanceError(_keys(problems))
    return scenario


def _pydantic_problems(exc: ValidationError, label: str, doc: dict[str, Any]) -> list[Problem]:
    """One Problem per pydantic error: file, [[change]] #n and the dotted key."""
    problems = []
    raw = doc.get("change")
    changes: list[Any] = raw if isinstance(raw, list) else []
    for err in exc.errors():
        loc = list(err["loc"])
        where, kind = label, None
        if len(loc) >= 2 and loc[0] == "change" and isinstance(loc[1], int):
            i = loc[1]
            kind = (
                changes[i].get("kind")
                if i < len(changes) and isinstance(changes[i], dict)
                else None
            )
            where = _change_where(label, i, kind if isinstance(kind, str) else None)
            loc = loc[3:] if len(loc) > 2 and loc[2] == kind else loc[2:]
        key = ".".join(str(part) for part in loc) or None
        message = err["msg"]
        if err["type"] == "missing":
            message = "required key is missing"
        elif err["type"] == "extra_forbidden":
            model = Scenario if where == label else KIND_MODELS.get(str(kind))
            known = model.model_fields if model is not None else ()
            message = "unknown key" + did_you_mean(str(loc[-1]), known)
        elif err["type"] == "union_tag_not_found":
            message = (
                "missing 'kind'; expected scale_capacity, close, scale_demand, settings or add_legs"
            )
            key = "kind"
        elif err["type"] == "union_tag_invalid":
            message = (
                "unknown kind; expected scale_capacity, close, scale_demand, settings or add_legs"
                + did_you_mean(str(err.get("ctx", {}).get("tag", "")), KIND_MODELS)
            )
            key = "kind"
        value = err.get("input") if err["type"] not in ("missing", "extra_forbidden") else None
        if isinstance(value, dict | list):
            value = None
        problems.append(Problem(where, message, key, value))
    return problems


# ---------------------------------------------------------------- applying


@dataclass
class _Work:
    """The tables being changed, with a label per row for problem messages."""

    label: str
    tables: dict[str, pd.DataFrame]
    labels: dict[str, list[str]]
    settings: dict[str, Any]

    def touch(self, table: str, rows: Iterable[int], where: str) -> None:
        frame = self.tables[table]
        positions = frame.index.get_indexer(list(rows))
        for pos in positions:
            key = frame.iloc[pos]["id"] if "id" in frame.columns else pos
            self.labels[table][pos] = f"{where} -> {table} '{key}'"


def _start(base: Instance, label: str) -> _Work:
    tables, labels = instance_tables(base, "base ")
    settings = base.settings.model_dump(mode="python")
    return _Work(label, tables, labels, settings)


def _values(sel: Selector, key: str) -> list[str]:
    v = sel[key]
    return [v] if isinstance(v, str) else [str(x) for x in v]


def _select(
    work: _Work, of: str, sel: Selector, where: str, problems: list[Problem]
) -> tuple[pd.DataFrame, pd.Index]:
    """Row labels of ``of`` matching every key of ``sel`` (a key matches any of its values)."""
    t = work.tables
    nodes, legs = t["nodes"], t["legs"]
    node_country = dict(zip(nodes["id"], nodes["country"], strict=True))
    countries = set(nodes["country"])
    if of == "lots":
        frame = t["cargo"]
    elif of == "terminals":
        frame = nodes
    elif of == "countries":
        frame = pd.DataFrame({"id": sorted(countries)})
    else:
        frame = t[of]
    mask = pd.Series(True, index=frame.index)
    for key in sel:
        values = _values(sel, key)
        known: set[str]
        if key == "id":
            known = set(frame["id"])
        elif key in ("mode",):
            known = set(MODES)
        elif key in ("country", "origin_country", "destination_country"):
            known = countries
        elif key == "corridor":
            known = {c for c in legs["corridor"] if isinstance(c, str)}
        elif key == "border":
            known = set(t["borders"]["id"])
        elif key in ("from", "to", "origin", "destination"):
            known = set(nodes["id"])
        elif key == "kind":
            known = set(nodes["kind"])
        else:  # class
            known = set(t["classes"]["id"])
        for v in values:
            if v in known:
                continue
            if key in ("country", "origin_country", "destination_country") or of == "countries":
                text = f"no node lies in country '{v}'"
            else:
                noun = f"{_SINGULAR[of]} id" if key == "id" else key
                text = f"unknown {noun} '{v}'"
            problems.append(Problem(where, text + did_you_mean(v, known), f"where.{key}", v))
        want = set(values)
        if key == "id":
            hit = frame["id"].isin(want)
        elif of == "legs" and key == "country":
            hit = legs["from"].map(node_country).isin(want) | legs["to"].map(node_country).isin(
                want
            )
        elif of == "legs" and key in ("mode", "corridor", "border", "from", "to"):
            hit = frame[key].isin(want)
        elif of == "borders" and key == "country":
            hit = frame["from_country"].isin(want) | frame["to_country"].isin(want)
        elif of == "borders" and key == "corridor":
            named = set(legs.loc[legs["corridor"].isin(want), "border"].dropna())
            hit = frame["id"].isin(named)
        elif of == "terminals" and key in ("country", "kind"):
            hit = frame[key].isin(want)
        elif of == "terminals" and key == "corridor":
            on = legs[legs["corridor"].isin(want)]
            hit = frame["id"].isin(set(on["from"]) | set(on["to"]))
        elif of == "lots" and key in ("origin", "destination", "class"):
            hit = frame[key].isin(want)
        else:  # lots by origin_country / destination_country
            end = frame[key.removesuffix("_country")]
            hit = end.map(node_country).isin(want)
        mask &= hit.to_numpy()
    if not mask.any() and not any(p.where == where for p in problems):
        shown = ", ".join(f"{k} = {_values(sel, k)}" for k in sel) or "(everything)"
        problems.append(Problem(where, f"selects no {of}: {shown}", "where"))
    return frame, frame.index[mask.to_numpy()]


def _scale(value: Any, factor: float) -> Any:
    """value x factor; missing stays missing, a non-number is left for validation to report."""
    if is_missing(value) or isinstance(value, bool):
        return value
    try:
        return float(value) * factor
    except (TypeError, ValueError):
        return value


def _apply_scale_capacity(
    work: _Work, ch: ScaleCapacity, where: str, problems: list[Problem], notes: list[str]
) -> None:
    _, rows = _select(work, ch.of, ch.where, where, problems)
    if not len(rows):
        return
    t = work.tables
    reported = len(problems)
    if ch.of == "legs":
        legs = t["legs"]
        changed = []
        for r in rows:
            did = False
            if not is_missing(legs.at[r, "capacity_teu"]):
                legs.at[r, "capacity_teu"] = _scale(legs.at[r, "capacity_teu"], ch.factor)
                did = True
            if not is_missing(legs.at[r, "service_capacity_teu"]):
                if ch.service == "slots":
                    legs.at[r, "service_capacity_teu"] = _scale(
                        legs.at[r, "service_capacity_teu"], ch.factor
                    )
                    did = True
                elif is_missing(legs.at[r, "max_services"]):
                    problems.append(
                        Problem(
                            where,
                            f"leg '{legs.at[r, 'id']}' has no max_services (unlimited departures) "
                            'to scale; use service = "slots"',
                            "service",
                        )
                    )
                else:
                    new = _scale(legs.at[r, "max_services"], ch.factor)
                    if not isinstance(new, float):
                        pass  # not a number: validation reports it
                    elif abs(new - round(new)) > 1e-9:
                        problems.append(
                            Problem(
                                where,
                                f"scaling leg '{legs.at[r, 'id']}' gives {new:g} departures, not a "
                                'whole number; use service = "slots" or another factor',
                                "factor",
                                ch.factor,
                            )
                        )
                    else:
                        legs.at[r, "max_services"] = round(new)
                        did = True
            if did:
                changed.append(r)
        if not changed and len(problems) == reported:
            problems.append(
                Problem(
                    where, "the selected legs have no capacity to scale (all unlimited)", "where"
                )
            )
        work.touch("legs", changed, where)
        notes.append(f"capacity of {len(changed)} leg(s) x{ch.factor:g}")
        return
    table, column = (
        ("borders", "capacity_teu") if ch.of == "borders" else ("nodes", "handling_capacity_teu")
    )
    frame = t[table]
    changed = [r for r in rows if not is_missing(frame.at[r, column])]
    for r in changed:
        frame.at[r, column] = _scale(frame.at[r, column], ch.factor)
    if not changed:
        problems.append(
            Problem(
                where, f"the selected {ch.of} have no capacity to scale (all unlimited)", "where"
            )
        )
    work.touch(table, changed, where)
    notes.append(f"capacity of {len(changed)} {ch.of} x{ch.factor:g}")


def _apply_close(
    work: _Work, ch: Close, where: str, problems: list[Problem], notes: list[str]
) -> None:
    t = work.tables
    classes = list(t["classes"]["id"])
    wanted = ch.classes if ch.classes is not None else classes
    for c in wanted:
        if c not in classes:
            problems.append(
                Problem(where, "unknown class" + did_you_mean(c, classes), "classes", c)
            )
    if ch.of == "countries" and "id" not in ch.where:
        problems.append(
            Problem(where, "give the countries to close: where = { id = [...] }", "where")
        )
        return
    frame, rows = _select(work, ch.of, ch.where, where, problems)
    if not len(rows):
        return
    scope = {"legs": "leg", "borders": "border", "countries": "country", "terminals": "node"}[ch.of]
    targets = [str(v) for v in frame.loc[rows, "id"]]
    reason = ch.reason or f"closed by scenario ({where})"
    old = t["restrictions"]
    have = set(zip(old["class"], old["scope"], old["target"], strict=True))
    new = [
        {"class": c, "scope": scope, "target": target, "reason": reason}
        for c in wanted
        if c in classes
        for target in targets
        if (c, scope, target) not in have
    ]
    if new:
        added = as_object(pd.DataFrame(new, columns=old.columns if len(old.columns) else None))
        t["restrictions"] = pd.concat([old, added], ignore_index=True)
        work.labels["restrictions"] += [
            f"{where} -> restriction {r['class']}/{scope}/{r['target']}" for r in new
        ]
    notes.append(
        f"closed {len(targets)} {ch.of} to {len(wanted)} class(es): {len(new)} restriction(s)"
    )


def _apply_scale_demand(
    work: _Work, ch: ScaleDemand, where: str, problems: list[Problem], notes: list[str]
) -> None:
    _, rows = _select(work, "lots", ch.where, where, problems)
    cargo = work.tables["cargo"]
    for r in rows:
        cargo.at[r, "teu"] = _scale(cargo.at[r, "teu"], ch.factor)
    work.touch("cargo", rows, where)
    if len(rows):
        notes.append(f"TEU of {len(rows)} lot(s) x{ch.factor:g}")


def _apply_settings(
    work: _Work, ch: SetSettings, where: str, problems: list[Problem], notes: list[str]
) -> None:
    merged = dict(work.settings)
    for key, value in ch.set.items():
        if key == "name" or key not in Settings.model_fields:
            continue  # reported when the file was read
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merged[key] | value  # a per-mode table changes only the modes given
        else:
            merged[key] = value
    try:
        Settings.model_validate(merged)
    except ValidationError as exc:
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            problems.append(Problem(where, err["msg"], f"set.{key}", err.get("input")))
        return
    work.settings = merged
    notes.append("settings: " + ", ".join(f"{k} = {v}" for k, v in ch.set.items()))


def _apply_add_legs(
    work: _Work, ch: AddLegs, where: str, problems: list[Problem], notes: list[str]
) -> None:
    legs = work.tables["legs"]
    rows, labels = [], []
    for j, record in enumerate(ch.legs):
        row = dict.fromkeys(legs.columns) | dict(record)
        row["reverse_of"] = None
        rows.append(row)
        labels.append(f"{where} legs[{j}]")
        if record.get("reverse") is True:  # the twin, folded back into reverse = true at the end
            twin = dict(row) | {
                "id": f"{record.get('id')}{REVERSE_SUFFIX}",
                "from": record.get("to"),
                "to": record.get("from"),
                "reverse": False,
                "reverse_of": record.get("id"),
            }
            row["reverse"] = False
            rows.append(twin)
            labels.append(f"{where} legs[{j}] (reverse)")
    added = pd.DataFrame.from_records(rows, columns=legs.columns).astype(object)
    work.tables["legs"] = pd.concat([legs, added], ignore_index=True)
    work.labels["legs"] += labels
    notes.append(f"added {len(ch.legs)} leg(s): {', '.join(str(r.get('id')) for r in ch.legs)}")


def _apply_set(
    work: _Work, ch: SetValues, where: str, problems: list[Problem], notes: list[str]
) -> None:
    _, rows = _select(work, ch.of, ch.where, where, problems)
    table = _TABLE_OF[ch.of]
    frame = work.tables[table]
    for key, value in ch.values.items():
        if key not in frame.columns:
            frame[key] = pd.Series(None, index=frame.index, dtype=object)
        for r in rows:
            frame.at[r, key] = value
    work.touch(table, rows, where)
    if len(rows):
        notes.append(
            f"set {', '.join(f'{k} = {v}' for k, v in ch.values.items())} on {len(rows)} {ch.of}"
        )


def apply_scenario(
    scenario: Scenario | str | os.PathLike[str],
    base: Instance | str | os.PathLike[str] | None = None,
    notes: list[str] | None = None,
) -> Instance:
    """The base instance with the scenario's changes applied, validated like any instance.

    ``base`` defaults to the scenario's own ``base``. The result is named ``<base name>+<scenario
    name>``. Raises InstanceError listing every problem (unknown ids or keys in a selector, a
    selector matching nothing, invalid values in the result), each naming the change it comes
    from. ``notes`` (if given) receives one line per change saying what it did.
    """
    from allocator.instance.validate import read_instance, validate

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if base is None:
        base = sc.base_path
    inst = base if isinstance(base, Instance) else read_instance(base)
    work = _start(inst, sc.label)
    problems: list[Problem] = []
    lines: list[str] = []
    for i, ch in enumerate(sc.change):
        where = _change_where(sc.label, i, ch.kind)
        if isinstance(ch, ScaleCapacity):
            _apply_scale_capacity(work, ch, where, problems, lines)
        elif isinstance(ch, Close):
            _apply_close(work, ch, where, problems, lines)
        elif isinstance(ch, ScaleDemand):
            _apply_scale_demand(work, ch, where, problems, lines)
        elif isinstance(ch, SetSettings):
            _apply_settings(work, ch, where, problems, lines)
        elif isinstance(ch, AddLegs):
            _apply_add_legs(work, ch, where, problems, lines)
        else:
            _apply_set(work, ch, where, problems, lines)
    if problems:
        raise InstanceError(_keys(problems))
    fold_reverse(work.tables, work.labels)
    settings = dict(work.settings) | {"name": f"{inst.name}+{sc.name}"}
    raw = RawInstance(
        path=sc.source or Path(f"<scenario {sc.name}>"),
        settings=settings,
        tables={
            name: RawTable(
                name,
                frame.reset_index(drop=True),
                f"{name} table",
                "row",
                1,
                labels=work.labels[name],
            )
            for name, frame in work.tables.items()
            if not (frame.empty and not load_schema()[name].required)
        },
        settings_source=f"{sc.label} (settings after the changes)",
    )
    result = validate(raw)
    if notes is not None:
        notes.extend(lines)
    return result


def _keys(problems: list[Problem]) -> list[Problem]:
    """Scenario problems locate TOML keys, not table columns."""
    return [dataclasses.replace(p, label="key") for p in problems]
