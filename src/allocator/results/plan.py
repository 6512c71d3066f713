"""A plan as tidy tables, the plan-level notions read from them, and writing and reading plans."""

from __future__ import annotations

import html
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.errors import PlanReadError, Problem
from allocator.instance.io import atomic_path, write_instance
from allocator.instance.model import Instance

LOCAL_CORRIDOR = "local"  # feeder legs: part of whichever corridor they feed

KEYS: dict[str, tuple[str, ...]] = {
    "flows": ("lot", "leg"),
    "routes": ("lot", "route"),
    "legs": ("leg",),
    "borders": ("border",),
    "terminals": ("node",),
    "unserved": ("lot",),
    "costs": ("component", "corridor"),
    "bottlenecks": ("kind", "id"),
    "corridor_prices": ("class", "origin", "destination", "corridor"),
    "departures": ("leg", "departs_h"),
    "timeline": ("lot", "route", "departs_h"),
    "in_transit": ("lot", "route"),
    "carried": ("lot", "leg", "departs_h"),
    "border_queues": ("border", "day"),
}
"""The columns that identify a row of each plan table (``Plan.table`` indexes by them)."""
REPR_ROWS = 5  # rows of each table a notebook shows


@dataclass(frozen=True)
class Plan:
    """A solved plan as tidy tables (one row per lot x leg, lot x route, leg, border, node, ...)."""

    summary: pd.DataFrame
    flows: pd.DataFrame
    routes: pd.DataFrame
    legs: pd.DataFrame
    borders: pd.DataFrame
    terminals: pd.DataFrame
    unserved: pd.DataFrame
    costs: pd.DataFrame
    # filled by allocator.analysis.prices after a solve; empty when not computed
    bottlenecks: pd.DataFrame = field(default_factory=pd.DataFrame)
    corridor_prices: pd.DataFrame = field(default_factory=pd.DataFrame)
    # timed plans (model family time): departures that run, each lot's times, the cargo queued at
    # borders by day, the lots still moving when the week ends and the flow carried in from last
    # week; empty otherwise
    departures: pd.DataFrame = field(default_factory=pd.DataFrame)
    timeline: pd.DataFrame = field(default_factory=pd.DataFrame)
    border_queues: pd.DataFrame = field(default_factory=pd.DataFrame)
    in_transit: pd.DataFrame = field(default_factory=pd.DataFrame)
    carried: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __repr__(self) -> str:
        s = self.info()
        objective = s.get("objective")
        cost = f"{objective:,.2f}" if isinstance(objective, int | float) else objective
        return (
            f"Plan({s.get('instance')!r}, model={s.get('model')!r}, status={s.get('status')!r}, "
            f"objective={cost}, {len(self.routes)} routes, {len(self.flows)} flows, "
            f"{len(self.unserved)} unserved)"
        )

    def _repr_html_(self) -> str:
        """A notebook's view: the headline figures, then the first rows of routes, legs and
        unserved lots (every value escaped)."""
        s = self.info()
        moved, total = _shown(s.get("teu_moved")), _shown(s.get("teu_total"))
        facts = [
            ("status", s.get("status")),
            ("objective", f"{_shown(s.get('objective'))} {s.get('currency', '')}".strip()),
            ("bound", _shown(s.get("bound"))),
            ("gap", _shown_gap(s.get("gap"))),
            ("TEU moved", f"{moved} of {total}"),
            ("TEU unserved", _shown(s.get("teu_unserved"))),
        ]
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td>{html.escape(str(v))}</td></tr>"
            for k, v in facts
        )
        title = f"{s.get('instance')}, {s.get('model')}"
        parts = [f"<p><strong>Plan</strong> {html.escape(title)}</p><table>{rows}</table>"]
        for name in ("routes", "legs", "unserved"):
            frame: pd.DataFrame = getattr(self, name)
            shown = f"first {REPR_ROWS} of " if len(frame) > REPR_ROWS else ""
            parts.append(f"<p><strong>{name}</strong> ({shown}{len(frame)} rows)</p>")
            if not frame.empty:
                parts.append(
                    frame.head(REPR_ROWS).to_html(
                        index=False, escape=True, na_rep="", float_format=_shown, border=0
                    )
                )
        return "<div>" + "".join(parts) + "</div>"

    def table(self, name: str) -> pd.DataFrame:
        """Plan table ``name`` indexed by the ids of its rows (``KEYS``): legs by leg, flows by
        (lot, leg), routes by (lot, route), ... e.g. ``plan.table("legs").loc["KZ_KUR-AZ_ALA"]``.

        A copy: the tidy tables themselves keep their columns and a plain row index, as they are
        written and read."""
        frame: pd.DataFrame = getattr(self, name)
        if name not in KEYS:
            raise KeyError(f"plan table '{name}' has no ids; indexed tables: {', '.join(KEYS)}")
        keys = list(KEYS[name])
        if not set(keys) <= set(frame.columns):  # a table not computed (no columns)
            frame = frame.reindex(columns=keys + [c for c in frame.columns if c not in keys])
        return frame.set_index(keys)

    @classmethod
    def table_names(cls) -> list[str]:
        """Table names in writing order."""
        return [f.name for f in fields(cls)]

    def info(self) -> dict[str, Any]:
        """The summary row as a dict."""
        return self.summary.iloc[0].to_dict()

    @property
    def status(self) -> str:
        """How the solve ended (``optimal``, ``time_limit``, ...), or ``due_days_relaxed`` for an
        arc model's plan in which lots arrive after their due days."""
        return str(self.summary["status"].iloc[0])

    @property
    def objective(self) -> float:
        """Objective value reported by the solver."""
        return float(self.summary["objective"].iloc[0])


def _shown(value: object) -> str:
    """A number as a notebook shows it (``35,048,686.81``), '–' when missing; text as it is."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.2f}" if math.isfinite(value) else "–"
    return "–" if value is None else str(value)


def _shown_gap(value: object) -> str:
    if isinstance(value, int | float) and math.isfinite(value):
        return f"{value:.2%}"
    return "– (no bound)"


# ---------------------------------------------------------------- corridors and binding capacities


def is_local_tag(tag: object) -> bool:
    """Untagged legs and legs tagged ``local`` (feeders) name no corridor; they join every one."""
    text = "" if tag is None or tag != tag else str(tag).strip()  # NaN: untagged
    return text == "" or text.lower() == LOCAL_CORRIDOR


def route_corridor(tags: Iterable[object]) -> str:
    """A route's corridor from the corridor tags of its legs (or the parts of a corridor label):
    the named tags, each once in their order, joined by '+'.

    Feeder legs tagged ``local`` and untagged legs do not name a corridor: 'local' + 'northern'
    is 'northern'. A route over local legs only is 'local'; over untagged legs only, ''. Pass
    the tags sorted for the canonical label of a route (as ``extract`` does).
    """
    tags = [str(t).strip() for t in tags if not (t is None or t != t)]
    named = [t for t in dict.fromkeys(tags) if not is_local_tag(t)]
    if named:
        return "+".join(named)
    return LOCAL_CORRIDOR if any(tags) else ""


BINDING = 0.999  # utilisation from which a capacity counts as binding


def corridor_split(plan: Plan) -> pd.DataFrame:
    """TEU and cost per corridor combination of the routes, largest first."""
    routes = plan.routes
    if routes.empty:
        return pd.DataFrame(columns=["corridor", "teu", "share", "cost"])
    out = routes.assign(corridor=routes["corridor"].fillna("(none)").replace("", "(none)"))
    out = out.groupby("corridor").agg(teu=("teu", "sum"), cost=("cost", "sum")).reset_index()
    out["share"] = out["teu"] / out["teu"].sum()
    return out.sort_values("teu", ascending=False).reset_index(drop=True)[
        ["corridor", "teu", "share", "cost"]
    ]


def binding_capacities(plan: Plan) -> pd.DataFrame:
    """Legs, service legs, borders and terminals used to at least 99.9 % of their capacity."""
    legs = plan.legs[plan.legs["utilisation"] >= BINDING]
    frames = [
        pd.DataFrame(
            {
                "kind": legs["services"].notna().map({True: "service leg", False: "leg"}),
                "id": legs["leg"],
                "load_teu": legs["flow_teu"],
                "utilisation": legs["utilisation"],
            }
        ),
    ]
    b = plan.borders[plan.borders["utilisation"] >= BINDING]
    frames.append(
        pd.DataFrame(
            {
                "kind": "border",
                "id": b["border"],
                "load_teu": b["load_teu"],
                "utilisation": b["utilisation"],
            }
        )
    )
    t = plan.terminals[plan.terminals["utilisation"] >= BINDING]
    frames.append(
        pd.DataFrame(
            {
                "kind": "terminal",
                "id": t["node"],
                "load_teu": t["arriving_teu"],
                "utilisation": t["utilisation"],
            }
        )
    )
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- writing and reading plans

FORMATS = ("csv", "parquet", "xlsx")
RUN_INSTANCE = "instance.json"  # the solved instance inside a plan folder
# plans written before these existed, and plans of one-period models (no timed tables)
OPTIONAL_TABLES = (
    "bottlenecks",
    "corridor_prices",
    "departures",
    "timeline",
    "border_queues",
    "in_transit",
    "carried",
)
TEXT_COLUMNS = (
    "lot",
    "leg",
    "legs",
    "nodes",
    "from",
    "to",
    "mode",
    "corridor",
    "border",
    "node",
    "name",
    "country",
    "origin",
    "destination",
    "class",
    "reason",
    "component",
    "instance",
    "period",
    "model",
    "status",
    "instance_sha256",
    "detail",  # unserved why-not text
    "kind",  # bottlenecks (ids like MCND node "1" stay text)
    "id",
    "lots",  # departures: the lots aboard
    "state",  # in_transit: where a lot is when the week ends
    "time",  # departures: weekday and time (Tue 08:00)
)


def write_plan(
    plan: Plan, out: str | os.PathLike[str], fmt: str = "csv", instance: Instance | None = None
) -> Path:
    """Write the plan atomically: a folder of CSV or Parquet files, or one Excel workbook.

    With ``instance``, a plan folder also holds the solved instance as ``instance.json``, so the
    folder alone can be reported on, compared and re-checked (``allocator.pipeline.read_run``).
    """
    out = Path(out)
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    target = out.with_suffix(".xlsx") if fmt == "xlsx" else out
    with atomic_path(target) as work:
        if fmt == "xlsx":
            _write_plan_excel(plan, work)
        else:
            work.mkdir(parents=True)
            for name in Plan.table_names():
                frame: pd.DataFrame = getattr(plan, name)
                if fmt == "parquet":
                    frame.to_parquet(work / f"{name}.parquet", index=False)
                else:
                    frame.to_csv(work / f"{name}.csv", index=False, lineterminator="\n")
            if instance is not None:
                write_instance(instance, work / RUN_INSTANCE)
    return target


# (column name test, unit, Excel number format): the first that matches a column gives its unit
# and how the workbook shows it; the values themselves stay exact, so the plan reads back unchanged
UNITS: tuple[tuple[Callable[[str], bool], str, str], ...] = (
    (lambda c: c in ("utilisation", "gap"), "share (1 = 100 %)", "0.0%"),
    (lambda c: c.endswith("_s"), "seconds", "0.00"),
    (lambda c: c.endswith("days"), "days", "0.0"),
    (lambda c: c == "hours", "hours", "0.0"),
    (lambda c: c.endswith("_km"), "km", "#,##0"),
    (lambda c: c.endswith("_kg"), "kg CO2", "#,##0"),
    (lambda c: c.endswith("_t"), "t CO2", "#,##0.0"),
    (lambda c: "per_teu" in c, "USD per TEU", "#,##0.00"),
    (
        lambda c: c in ("cost", "penalty", "objective", "bound", "prices_lp_objective"),
        "USD",
        "#,##0",
    ),
    (lambda c: c == "teu" or "teu" in c.split("_"), "TEU", "#,##0.0"),
    (lambda c: c == "services", "departures", "0"),
)


def column_unit(column: str) -> tuple[str, str]:
    """(unit, Excel number format) of a plan column; ('', '') for text and counts."""
    for test, unit, number_format in UNITS:
        if test(column):
            return unit, number_format
    return "", ""


def _write_plan_excel(plan: Plan, path: Path) -> None:
    from openpyxl.styles import Font

    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        plan.summary.T.reset_index().set_axis(["key", "value"], axis=1).to_excel(
            writer, sheet_name="summary", index=False
        )
        readme = []
        for name in Plan.table_names()[1:]:
            frame: pd.DataFrame = getattr(plan, name)
            frame.to_excel(writer, sheet_name=name, index=False)
            readme += [(name, c, column_unit(c)[0]) for c in frame.columns]
        readme += [("summary", key, column_unit(key)[0]) for key in plan.summary.columns]
        pd.DataFrame(readme, columns=["sheet", "column", "unit"]).to_excel(
            writer, sheet_name="README", index=False
        )
        for name, sheet in writer.sheets.items():
            sheet.freeze_panes = "A2"
            for cell in sheet[1]:
                cell.font = Font(bold=True)
            if sheet.max_row > 1 and name != "README":
                sheet.auto_filter.ref = sheet.dimensions
            for column in sheet.columns:
                width = max(len(str(c.value if c.value is not None else "")) for c in column[:200])
                sheet.column_dimensions[column[0].column_letter].width = min(60, width + 2)
                number_format = column_unit(str(column[0].value))[1]
                if number_format and name not in ("summary", "README"):
                    for cell in column[1:]:
                        cell.number_format = number_format
            if name == "summary":  # one value per row: its format follows its key
                for key, value in sheet.iter_rows(min_row=2, max_col=2):
                    value.number_format = column_unit(str(key.value))[1] or "General"


# the columns every plan table has (empty tables may have none), and which hold numbers
PLAN_COLUMNS: dict[str, tuple[str, ...]] = {
    "summary": ("instance", "model", "status", "objective", "due_days_exact"),
    "flows": ("lot", "leg", "teu"),
    "routes": ("lot", "legs", "teu", "cost"),
    "legs": ("leg", "flow_teu", "capacity_teu", "utilisation"),
    "borders": ("border", "load_teu", "capacity_teu", "utilisation"),
    "terminals": ("node", "arriving_teu", "capacity_teu", "utilisation"),
    "unserved": ("lot", "teu"),
    "costs": ("cost",),
    "departures": ("leg", "departs_h", "services", "teu"),
    "timeline": ("lot", "route", "leg", "departs_h", "arrives_h", "teu"),
    "in_transit": ("lot", "route", "teu", "state", "leg", "departs_h", "arrives_h"),
    "carried": ("lot", "leg", "departs_h", "arrives_h", "teu"),
    "border_queues": ("border", "day", "queued_teu", "crossed_teu"),
}
NUMBER_COLUMNS = frozenset(
    {
        "objective", "bound", "gap", "teu", "cost", "flow_teu", "capacity_teu", "utilisation",
        "load_teu", "arriving_teu", "teu_total", "teu_moved", "teu_unserved", "cost_per_teu",
        "prev_teu", "price_per_teu", "penalty", "lot_teu", "departs_h", "arrives_h", "wait_h",
        "due_h", "slack_h", "services", "slots_teu", "committed", "carried_teu",
        "horizon_hours", "teu_in_transit", "teu_carried", "ready_h", "day", "queued_teu",
        "crossed_teu", "capacity_teu_per_day",
    }
)  # fmt: skip


def read_plan(path: str | os.PathLike[str]) -> Plan:
    """Read a plan written by ``write_plan`` (CSV or Parquet folder, or .xlsx).

    Every table is checked as it is read: the summary has one row, each table its columns
    (``PLAN_COLUMNS``), number columns hold numbers. PlanReadError lists every problem, located
    by file (or sheet), line or row, column and value; a missing path is a FileNotFoundError.
    """
    path = Path(path)
    tables: dict[str, pd.DataFrame | None] = {}  # None: there, but unreadable
    where: dict[str, tuple[str, int]] = {}  # table -> (its file or sheet, line of the first row)
    problems: list[Problem] = []
    text = dict.fromkeys(TEXT_COLUMNS, str)
    if path.suffix.lower() == ".xlsx":
        try:
            sheets = pd.read_excel(path, sheet_name=None, dtype=text)
        except (OSError, KeyError, ValueError) as exc:  # FileNotFoundError stays itself
            if isinstance(exc, FileNotFoundError):
                raise
            raise PlanReadError([Problem(str(path), f"not a plan workbook: {exc}")]) from None
        kv = sheets.pop("summary", None)
        if kv is not None and {"key", "value"} <= set(kv.columns):
            summary = pd.DataFrame([dict(zip(kv["key"], kv["value"], strict=True))])
            tables["summary"] = summary.infer_objects()
        elif kv is not None:
            problems.append(Problem(f"{path} sheet 'summary'", "needs columns 'key' and 'value'"))
        tables.update(sheets)
        where = {name: (f"{path} sheet '{name}'", 2) for name in Plan.table_names()}
        where["summary"] = (f"{path} sheet 'summary'", 0)
    else:
        if not path.is_dir():
            raise FileNotFoundError(2, "no such plan folder", str(path))
        for name in Plan.table_names():
            csv, parquet = path / f"{name}.csv", path / f"{name}.parquet"
            file = parquet if parquet.exists() else csv
            if not file.exists():
                continue
            where[name] = (str(file), 2 if file is csv else 1)
            try:
                if file is parquet:
                    tables[name] = pd.read_parquet(parquet)
                else:
                    tables[name] = pd.read_csv(csv, dtype=text)
            except pd.errors.EmptyDataError:  # a table with no columns (not computed)
                tables[name] = pd.DataFrame()
            except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
                problems.append(Problem(str(file), f"cannot be read as a table: {exc}"))
                tables[name] = None
    for name in Plan.table_names():
        frame = tables.get(name)
        if frame is not None:
            tables[name] = _checked(frame, name, *where.get(name, (str(path), 2)), problems)
        elif name not in tables and name not in OPTIONAL_TABLES:
            problems.append(Problem(str(path), f"plan table '{name}' is missing"))
    if problems:
        raise PlanReadError(problems)
    return Plan(
        **{name: _or_empty(tables.get(name)) for name in Plan.table_names()}  # optional tables
    )


def _or_empty(frame: pd.DataFrame | None) -> pd.DataFrame:
    return pd.DataFrame() if frame is None else frame


def _checked(
    frame: pd.DataFrame, name: str, where: str, first: int, problems: list[Problem]
) -> pd.DataFrame:
    """``frame`` with its number columns as numbers; the problems of a table that is not one."""
    if name == "summary" and len(frame) != 1:
        problems.append(Problem(where, f"the summary has {len(frame)} rows, not 1"))
        return frame
    if frame.columns.empty and frame.empty and name != "summary":
        return frame  # written from a table with no columns
    missing = [c for c in PLAN_COLUMNS.get(name, ()) if c not in frame.columns]
    if missing:
        problems.append(Problem(where, f"plan table '{name}' lacks column(s) {', '.join(missing)}"))
    out = frame.copy()
    for column in NUMBER_COLUMNS.intersection(frame.columns):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            i = int(bad.to_numpy().argmax())
            line = f"{where}, line {first + i}" if first else where  # summary: one row
            problems.append(Problem(line, "not a number", column, frame[column].iloc[i]))
        out[column] = values
    return out
