"""Compare solved plans side by side: one row per metric, one column per run.

The metrics are read from each plan's own tables (summary, costs, routes, legs, borders,
terminals, bottlenecks), so the numbers equal what each run's report says, and the parts add up:
the cost components to the total cost, the TEU by corridor to the TEU moved.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.instance.io import atomic_path
from allocator.results import BINDING, Plan, corridor_split

COMPONENTS = ("freight", "border", "handling", "time_value", "co2", "services", "fixed", "penalty")
MIN_BOTTLENECKS = 5  # show at least this many of the most utilised capacities
MAX_BOTTLENECKS = 20

# metric names (the index of the comparison); prefixes of the grouped ones
TOTAL_COST = "total cost"
COST = "cost: "
TEU_TOTAL, TEU_MOVED, TEU_UNSERVED = "TEU total", "TEU moved", "TEU unserved"
CO2_T, AVG_DAYS, LATE = "CO2 t", "average days", "late routes"
TEU_CORRIDOR = "TEU by corridor: "
UTILISATION = "utilisation: "
PRICE = "price per TEU: "
SCENARIOS_FILE = "scenarios.json"  # beside compare.csv: what each scenario run changed


@dataclass(frozen=True)
class ScenarioNote:
    """What a scenario run is: the scenario file's description and one line per change applied
    (``apply_scenario``'s notes); the base run has neither."""

    description: str
    changes: tuple[str, ...]


def write_scenarios(notes: Mapping[str, ScenarioNote], out: str | os.PathLike[str]) -> Path:
    """Write ``scenarios.json`` (run name -> description and changes) into ``out`` atomically."""
    doc = {
        name: {"description": n.description, "changes": list(n.changes)}
        for name, n in notes.items()
    }
    target = Path(out) / SCENARIOS_FILE
    with atomic_path(target) as work:
        work.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def read_scenarios(folder: str | os.PathLike[str]) -> dict[str, ScenarioNote]:
    """The notes ``write_scenarios`` wrote into ``folder``; empty when there are none."""
    path = Path(folder) / SCENARIOS_FILE
    if not path.is_file():
        return {}
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {
        str(name): ScenarioNote(
            str(n.get("description", "")), tuple(map(str, n.get("changes", [])))
        )
        for name, n in doc.items()
    }


def run_scenarios(
    runs: Sequence[str | os.PathLike[str]], names: Sequence[str]
) -> dict[str, ScenarioNote]:
    """What each run folder from a scenario solve (``solve BASE -s ...``) is: its entry in the
    ``scenarios.json`` the solve wrote beside it (keyed there by folder name), here by the run's
    name in ``names``; runs without an entry are left out."""
    notes = {}
    for name, run in zip(names, runs, strict=True):
        folder = Path(run).resolve()
        note = read_scenarios(folder.parent).get(folder.name)
        if note is not None:
            notes[name] = note
    return notes


def leg_changes(first: Plan, other: Plan) -> pd.Series:
    """TEU on each leg in ``other`` minus in ``first`` (legs of either plan), by leg id; legs
    whose flow did not change are left out."""

    def flows(plan: Plan) -> pd.Series:
        if plan.legs.empty:
            return pd.Series(dtype=float)
        return plan.legs.set_index("leg")["flow_teu"].astype(float)

    a, b = flows(first), flows(other)
    delta = b.reindex(a.index.union(b.index), fill_value=0.0) - a.reindex(
        a.index.union(b.index), fill_value=0.0
    )
    return delta[delta.abs() > 1e-6]


def _utilisations(plan: Plan) -> pd.Series:
    """Utilisation of every leg, border and terminal with a finite capacity, keyed 'kind id'."""
    parts = []
    for kind, table, key in (
        ("leg", plan.legs, "leg"),
        ("border", plan.borders, "border"),
        ("terminal", plan.terminals, "node"),
    ):
        if table.empty or "utilisation" not in table.columns:
            continue
        u = pd.to_numeric(table["utilisation"], errors="coerce")
        keep = np.isfinite(u.to_numpy(dtype=float))
        parts.append(
            pd.Series(u[keep].to_numpy(), index=[f"{kind} {i}" for i in table.loc[keep, key]])
        )
    return pd.concat(parts) if parts else pd.Series(dtype=float)


def _prices(plan: Plan) -> pd.Series | None:
    """Dual price per TEU of each binding capacity, keyed 'kind id'; None when the run has no
    prices (a run with prices has ``prices_lp_objective`` in its summary; its table lists the
    binding rows only, so a capacity missing from it has price 0)."""
    b = plan.bottlenecks
    lp = plan.summary.get("prices_lp_objective")
    computed = lp is not None and bool(pd.notna(lp.iloc[0]))
    if b.empty or not {"kind", "id", "price_per_teu"} <= set(b.columns):
        return pd.Series(dtype=float) if computed else None
    keys = [f"{k} {i}" for k, i in zip(b["kind"], b["id"], strict=True)]
    values = pd.to_numeric(b["price_per_teu"]).to_numpy()
    return pd.Series(values, index=keys).groupby(level=0).max()


def compare_plans(plans: Mapping[str, Plan]) -> pd.DataFrame:
    """Metrics x runs: total cost, cost by component, TEU total/moved/unserved, CO2 t, average
    days, late routes, TEU by corridor (route corridor tags, as in the report), utilisation of
    the bottlenecks (every leg, border or terminal at >= 99.9 % in some run, at least the 5 most
    utilised, at most 20) and their price per TEU where ``Plan.bottlenecks`` has one (0 in a run
    where the capacity is not binding, NaN in a run without computed prices)."""
    if not plans:
        raise ValueError("compare_plans needs at least one plan")
    names = list(plans)
    rows: dict[str, dict[str, float]] = {}

    def put(metric: str, run: str, value: float) -> None:
        rows.setdefault(metric, {})[run] = float(value)

    components: list[str] = [
        c for c in COMPONENTS if any(c in set(p.costs["component"]) for p in plans.values())
    ]
    extra = {c for p in plans.values() for c in p.costs["component"]} - set(components)
    components += sorted(extra)
    corridors: dict[str, float] = {}
    splits = {}
    for name, plan in plans.items():
        split = corridor_split(plan)
        splits[name] = split.set_index("corridor")["teu"]
        for corridor, teu in splits[name].items():
            corridors[str(corridor)] = max(corridors.get(str(corridor), 0.0), float(teu))
    util = {name: _utilisations(plan) for name, plan in plans.items()}
    prices = {name: _prices(plan) for name, plan in plans.items()}

    for name, plan in plans.items():
        s = plan.info()
        put(TOTAL_COST, name, s["objective"])
        by_component = plan.costs.groupby("component")["cost"].sum()
        for c in components:
            put(COST + c, name, by_component.get(c, 0.0))
        put(TEU_TOTAL, name, s["teu_total"])
        put(TEU_MOVED, name, s["teu_moved"])
        put(TEU_UNSERVED, name, s["teu_unserved"])
        put(CO2_T, name, s["co2_t"])
        put(AVG_DAYS, name, s["avg_days"] if s["avg_days"] == s["avg_days"] else math.nan)
        put(LATE, name, s["late_routes"])
        for corridor in sorted(corridors, key=lambda c: (-corridors[c], c)):
            put(TEU_CORRIDOR + corridor, name, splits[name].get(corridor, 0.0))

    peak = pd.concat(util.values(), axis=1).max(axis=1) if util else pd.Series(dtype=float)
    peak = peak.sort_values(ascending=False, kind="stable")
    chosen = list(peak.index[peak >= BINDING])
    chosen += [k for k in peak.index[:MIN_BOTTLENECKS] if k not in chosen]
    priced = sorted({k for p in prices.values() if p is not None for k in p.index})
    for key in chosen[:MAX_BOTTLENECKS]:
        for name in names:
            put(UTILISATION + key, name, util[name].get(key, math.nan))
    for key in priced:
        for name in names:
            p = prices[name]
            put(PRICE + key, name, math.nan if p is None else p.get(key, 0.0))

    table = pd.DataFrame.from_dict(rows, orient="index")[names]
    table.index.name = "metric"
    return table


def differences(table: pd.DataFrame) -> pd.DataFrame:
    """Each run after the first minus the first run, one column ``'<run> - <first>'`` each."""
    first = table.columns[0]
    return pd.DataFrame(
        {f"{run} - {first}": table[run] - table[first] for run in table.columns[1:]},
        index=table.index,
    )


def side_by_side(table: pd.DataFrame) -> pd.DataFrame:
    """The values, each later run followed by its difference to the first."""
    diff = differences(table)
    first = table.columns[0]
    columns: dict[str, pd.Series] = {first: table[first]}
    for run in table.columns[1:]:
        columns[run] = table[run]
        columns[f"{run} - {first}"] = diff[f"{run} - {first}"]
    return pd.DataFrame(columns, index=table.index)


def run_names(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Short unique names for run folders: the folder name, with parents where names repeat; a
    folder given more than once is numbered ("x", "x (2)")."""
    parts = [Path(p).resolve().parts[1:] or (str(p),) for p in paths]
    distinct = set(parts)
    depth = next(
        d
        for d in range(1, max(len(p) for p in parts) + 1)
        if len({p[-d:] for p in distinct}) == len(distinct)
    )
    seen: dict[str, int] = {}
    names = []
    for p in parts:
        name = "/".join(p[-depth:])
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return names


def format_value(value: float, metric: str) -> str:
    """A metric value as shown in tables (utilisation in %, days with 2 decimals)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if metric.startswith(UTILISATION):
        return f"{value:.1%}"
    if metric in (AVG_DAYS,):
        return f"{value:,.2f}"
    return f"{value:,.1f}" if abs(value) < 1000 and value != round(value) else f"{value:,.0f}"


def format_difference(value: float, metric: str) -> str:
    """A difference as shown in tables: signed, and "0" where it rounds to nothing."""
    text = format_value(value, metric)
    if text == "-":
        return text
    if not text.lstrip("+-").strip("0.,%"):
        return "0"
    return "+" + text if value > 0 else text


def render_markdown(
    table: pd.DataFrame, currency: str = "", scenarios: Mapping[str, ScenarioNote] | None = None
) -> str:
    """compare.md: the scenarios' descriptions and changes (when given), then the side-by-side
    table with differences to the first run."""
    full = side_by_side(table)
    cur = f" (costs and prices in {currency})" if currency else ""
    lines = [f"# Comparison of {len(table.columns)} runs{cur}\n"]
    for name, note in (scenarios or {}).items():
        lines.append(f"**{name}**: {note.description or '(no description)'}\n")
        lines += [f"- {change}" for change in note.changes]
        lines += [""] if note.changes else []
    lines += [
        f"Differences are to the first run, `{table.columns[0]}`. Utilisation is of the capacity "
        "the plan runs (for service legs: the departures it runs).\n",
        "| metric | " + " | ".join(full.columns) + " |",
        "|---|" + "---:|" * len(full.columns),
    ]
    diff_columns = {f"{run} - {table.columns[0]}" for run in table.columns[1:]}
    for metric, row in full.iterrows():
        cells = [
            (format_difference if col in diff_columns else format_value)(v, str(metric))
            for col, v in row.items()
        ]
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_comparison(
    table: pd.DataFrame,
    out: str | os.PathLike[str],
    currency: str = "",
    scenarios: Mapping[str, ScenarioNote] | None = None,
) -> Path:
    """Write ``compare.csv`` (values and differences) and ``compare.md`` into ``out``, each
    atomically; with ``scenarios`` also ``scenarios.json``, which compare.md opens with."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "compare.csv") as work:
        side_by_side(table).to_csv(work, lineterminator="\n")
    with atomic_path(out / "compare.md") as work:
        work.write_text(render_markdown(table, currency, scenarios), encoding="utf-8")
    if scenarios:
        write_scenarios(scenarios, out)
    return out
