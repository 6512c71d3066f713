"""A plan as tidy tables, the plan-level notions read from them, and writing and reading plans."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.errors import InstanceError, Problem
from allocator.instance.io import atomic_path, write_instance
from allocator.instance.model import Instance

LOCAL_CORRIDOR = "local"  # feeder legs: part of whichever corridor they feed


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

    def __repr__(self) -> str:
        s = self.info()
        objective = s.get("objective")
        cost = f"{objective:,.2f}" if isinstance(objective, int | float) else objective
        return (
            f"Plan({s.get('instance')!r}, model={s.get('model')!r}, status={s.get('status')!r}, "
            f"objective={cost}, {len(self.routes)} routes, {len(self.flows)} flows, "
            f"{len(self.unserved)} unserved)"
        )

    @classmethod
    def table_names(cls) -> list[str]:
        """Table names in writing order."""
        return [f.name for f in fields(cls)]

    def info(self) -> dict[str, Any]:
        """The summary row as a dict."""
        return self.summary.iloc[0].to_dict()

    @property
    def objective(self) -> float:
        """Objective value reported by the solver."""
        return float(self.summary["objective"].iloc[0])


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
OPTIONAL_TABLES = ("bottlenecks", "corridor_prices")  # plans written before these existed
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


def read_plan(path: str | os.PathLike[str]) -> Plan:
    """Read a plan written by ``write_plan`` (CSV or Parquet folder, or .xlsx)."""
    path = Path(path)
    tables: dict[str, pd.DataFrame] = {}
    if path.suffix.lower() == ".xlsx":
        sheets = pd.read_excel(path, sheet_name=None, dtype=dict.fromkeys(TEXT_COLUMNS, str))
        kv = sheets.pop("summary")
        summary = pd.DataFrame([dict(zip(kv["key"], kv["value"], strict=True))])
        tables = {"summary": summary.infer_objects(), **sheets}
    else:
        for name in Plan.table_names():
            csv, parquet = path / f"{name}.csv", path / f"{name}.parquet"
            if parquet.exists():
                tables[name] = pd.read_parquet(parquet)
            elif csv.exists():
                try:
                    tables[name] = pd.read_csv(csv, dtype=dict.fromkeys(TEXT_COLUMNS, str))
                except pd.errors.EmptyDataError:  # a table with no columns (not computed)
                    tables[name] = pd.DataFrame()
            elif name in OPTIONAL_TABLES:
                tables[name] = pd.DataFrame()
            else:
                raise InstanceError([Problem(str(path), f"plan table '{name}' is missing")])
    return Plan(**{name: tables.get(name, pd.DataFrame()) for name in Plan.table_names()})
