"""Human-readable views of a plan: the terminal summary and a markdown report."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from allocator.instance.io import atomic_path
from allocator.report.timeline import (
    NEAR_DUE_H,
    border_queue_days,
    departures_by_day,
    has_timeline,
    near_due_routes,
)
from allocator.results import Plan, binding_capacities, corridor_split

PRICES_NOTE = (
    "Shadow prices are not defined on the MILP itself: these are the duals of the LP with the "
    "integer decisions (departures run, candidate legs opened) fixed at the plan's values, in "
    "currency per TEU of extra capacity per period (the decrease of the optimal cost for one "
    "more TEU). Binding rows only: full, or with a positive price. Per corridor and lot class, "
    "the cheapest route at these prices and its reduced cost are in `corridor_prices`."
)


def has_prices(plan: Plan) -> bool:
    """Whether bottleneck prices were computed for the plan (the table has its columns)."""
    return "price_per_teu" in plan.bottlenecks.columns


NO_BOUND = "no bound yet"


def gap_text(gap: object) -> str:
    """The relative MIP gap as shown to a planner: "no bound yet" while the solver has no finite
    bound (a time limit that stopped it with a plan before its first bound)."""
    if isinstance(gap, int | float) and math.isfinite(gap):
        return format(gap, ".2e")
    return NO_BOUND


def headline(plan: Plan) -> dict[str, str]:
    """The numbers a planner reads first, formatted."""
    s = plan.info()
    cur = s.get("currency", "")

    def num(v: object, fmt: str = ",.0f") -> str:
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)

    timed = {}
    if not plan.timeline.empty:  # a timed plan: what moves on past the week, what came in
        timed["TEU in transit at the week's end"] = (
            f"{num(s.get('teu_in_transit'), ',.1f')} (carried in from last week: "
            f"{num(s.get('teu_carried'), ',.1f')})"
        )
    return {
        "instance": f"{s['instance']} ({s['period']})",
        "model": str(s["model"]),
        "status": str(s["status"]),
        "total cost": f"{num(s['objective'])} {cur}",
        "gap": gap_text(s["gap"]),
        "TEU moved": f"{num(s['teu_moved'])} of {num(s['teu_total'])}",
        "TEU unserved": num(s["teu_unserved"]),
        "CO2": f"{num(s['co2_t'], ',.1f')} t",
        "average days": num(s["avg_days"], ".1f"),
        "routes over due days": str(s["late_routes"]),
        **timed,
        "time": f"preprocess {num(s['preprocess_s'], '.2f')} s, build {num(s['build_s'], '.2f')} s, "
        f"hand-off {num(s['handoff_s'], '.2f')} s, solve {num(s['solve_s'], '.2f')} s",
    }


def print_summary(plan: Plan, console: Console) -> None:
    """Rich tables: headline, corridor split and binding capacities."""
    table = Table(title="plan", show_header=False, title_justify="left")
    for key, value in headline(plan).items():
        table.add_row(key, value)
    console.print(table)
    split = corridor_split(plan)
    if not split.empty:
        t = Table("corridor", "TEU", "share", "cost", title="TEU by corridor", title_justify="left")
        for row in split.head(10).itertuples(index=False):
            t.add_row(str(row.corridor), f"{row.teu:,.1f}", f"{row.share:.0%}", f"{row.cost:,.0f}")
        console.print(t)
    if has_prices(plan):  # bottleneck prices
        if not plan.bottlenecks.empty:
            t = Table(
                "kind", "id", "corridor", "load TEU", "utilisation", "price/TEU",
                title="bottleneck prices (LP with integer decisions fixed)", title_justify="left",
            )  # fmt: skip
            for row in plan.bottlenecks.head(15).itertuples(index=False):
                t.add_row(
                    row.kind, str(row.id), str(row.corridor), f"{row.load_teu:,.1f}",
                    f"{row.utilisation:.0%}", f"{row.price_per_teu:,.2f}",
                )  # fmt: skip
            console.print(t)
        return
    binding = binding_capacities(plan)
    if not binding.empty:
        t = Table(
            "kind",
            "id",
            "load TEU",
            "utilisation",
            title="binding capacities",
            title_justify="left",
        )
        for row in binding.itertuples(index=False):
            t.add_row(row.kind, str(row.id), f"{row.load_teu:,.1f}", f"{row.utilisation:.0%}")
        console.print(t)


def _md_table(frame: pd.DataFrame, floatfmt: str = ",.1f") -> str:
    if frame.empty:
        return "_none_\n"
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [format(v, floatfmt) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_markdown(plan: Plan) -> str:
    """A one-file markdown report of the plan; a timed plan's ends with its timeline."""
    parts = [f"# Plan: {plan.info()['instance']}\n"]
    parts.append(_md_table(pd.DataFrame(list(headline(plan).items()), columns=["", "value"])))
    parts.append("\n## TEU by corridor\n")
    split = corridor_split(plan).assign(share=lambda f: (f["share"] * 100).round(1))
    parts.append(_md_table(split.rename(columns={"share": "share %"})))
    if has_prices(plan):  # bottleneck prices replace the utilisation-only list
        parts.append("\n## Bottleneck prices\n")
        parts.append(PRICES_NOTE + "\n")
        parts.append(_md_table(plan.bottlenecks, ",.2f"))
    else:
        parts.append("\n## Binding capacities\n")
        parts.append(_md_table(binding_capacities(plan)))
    parts.append("\n## Unserved lots\n")
    columns = ["lot", "origin", "destination", "class", "teu", "reason"]
    columns += ["detail"] if "detail" in plan.unserved.columns else []
    parts.append(_md_table(plan.unserved[columns]))
    parts.append("\n## Cost by component\n")
    parts.append(_md_table(plan.costs.groupby("component", sort=False)["cost"].sum().reset_index()))
    if has_timeline(plan):
        parts.append(timeline_markdown(plan))
    return "\n".join(parts)


def timeline_markdown(plan: Plan) -> str:
    """The timeline section of a timed plan: TEU leaving by day and corridor, border queues by
    day and the routes arriving late or within 24 h of their due time."""
    parts = ["\n## Timeline\n", "### Departures by day and corridor\n"]
    parts.append(
        "Departures run (timetable runs and departures on demand) and TEU leaving on the "
        "corridor's legs, every leg counted; day 0 is the week's Monday.\n"
    )
    parts.append(_md_table(departures_by_day(plan).rename(columns={"teu": "TEU leaving"})))
    parts.append("\n### Border queues by day\n")
    parts.append(
        "TEU at the border waiting for the crossing at the end of the day, and TEU crossing "
        "that day (both directions), against the border's TEU per day.\n"
    )
    queues = border_queue_days(plan).rename(
        columns={
            "queued_teu": "queued at day end",
            "crossed_teu": "crossed",
            "capacity_teu_per_day": "capacity per day",
        }
    )
    parts.append(_md_table(queues))
    parts.append(f"\n### Lots late or within {NEAR_DUE_H:g} h of their due time\n")
    parts.append("Hours from the week start; slack is the due time minus the arrival.\n")
    parts.append(_md_table(near_due_routes(plan)))
    return "\n".join(parts)


def write_markdown(plan: Plan, path: str | Path) -> Path:
    """Write ``render_markdown`` atomically."""
    path = Path(path)
    with atomic_path(path) as work:
        work.write_text(render_markdown(plan), encoding="utf-8")
    return path
