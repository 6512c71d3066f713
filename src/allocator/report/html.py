"""One self-contained HTML report of one plan, or of several side by side.

The page loads nothing: inline CSS, system font stacks, inline SVG for the static maps (over the
packaged Natural Earth outline, see ``allocator/report/outline/``) and the charts, and inline
scripts, all packaged: the route search (``templates/filter.js``) and, when a run has a map,
Leaflet (``report/vendor/``, inlined as shipped), the interactive map (``templates/map.js``) and
its data as one JSON block. The markup lives in Jinja2 templates (``report/templates/``, the CSS
inlined from ``report.css``); this module builds only the context of formatted text, which the
engine escapes. The exceptions are the SVG drawn by ``report.map`` (``trusted_svg``), the
vendored Leaflet files (``vendored``) and the JSON block (``json_script``, escaped for a script
element).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, NamedTuple, TypeGuard

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from allocator.analysis.compare import ScenarioNote, leg_changes, run_names
from allocator.instance.io import atomic_path
from allocator.instance.model import ROUTE_SEPARATOR, Instance
from allocator.report.map import (
    GAIN,
    LOSS,
    InteractiveMap,
    corridor_colour,
    corridor_order,
    detail_window,
    interactive_map,
    legend,
    outline_defs,
    outline_geojson,
    render_map,
)
from allocator.report.markdown import NO_BOUND
from allocator.report.timeline import (
    NEAR_DUE_H,
    border_queue_days,
    departures_by_day,
    departures_chart,
    gantt_chart,
    has_timeline,
    near_due_routes,
    queue_chart,
)
from allocator.results import Plan, binding_capacities, is_local_tag, route_corridor

COMPONENTS = {
    "freight": "freight",
    "border": "border fees",
    "handling": "terminal handling",
    "time_value": "time value of cargo",
    "co2": "CO2 price",
    "services": "services (departures)",
    "fixed": "fixed cost of opened legs",
    "penalty": "penalty for unserved TEU",
}

LEAFLET_VERSION = "1.9.4"  # of the files in report/vendor/ (see its README)

# the cost of a route (Plan.routes.cost): what the corridor split counts per corridor
ROUTE_COMPONENTS = ("freight", "border", "handling", "time_value", "co2")

# the CLI names report runs with the same function as ``allocator compare``
run_labels = run_names


@cache
def environment() -> jinja2.Environment:
    """The template engine: package templates, every value escaped, undefined names an error."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("allocator.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def trusted_svg(markup: str) -> Markup:
    """SVG (and the map legend) drawn by ``report.map``, which escapes every text it writes, and
    the timeline charts drawn by matplotlib (``report.timeline``), which escapes its text too."""
    return Markup(markup)


@cache
def vendored(name: str) -> Markup:
    """A file of the vendored Leaflet (``report/vendor/``), inlined in a script or style element
    as shipped; ValueError if it could close that element."""
    text = files("allocator.report").joinpath("vendor", name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():
        raise ValueError(f"vendor/{name} would close its element")
    return Markup(text)


def json_script(data: Mapping[str, Any]) -> Markup:
    """``data`` as JSON for a ``<script type="application/json">`` element: ``<``, ``>`` and
    ``&`` written as ``\\u`` escapes, so no text in it can end the element (``</script>``) or
    open a comment; JSON.parse reads it back unchanged."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


# ---------------------------------------------------------------- formatting


def _isnum(v: Any) -> TypeGuard[int | float | np.integer | np.floating]:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def num(v: Any, decimals: int = 0) -> str:
    """A number with thousands separators; '–' for missing."""
    if v is None or (_isnum(v) and not math.isfinite(float(v))):
        return "–"
    if not _isnum(v):
        return str(v)
    return f"{float(v):,.{decimals}f}"


def pct(v: Any) -> str:
    """A share as a percentage."""
    return "–" if v is None or not _isnum(v) or not math.isfinite(float(v)) else f"{v:.0%}"


def auto(v: Any) -> str:
    """Any cell: numbers by magnitude, booleans as yes/no, missing or infinite as '–'."""
    if v is None or (_isnum(v) and not math.isfinite(float(v))) or v is pd.NA:
        return "–"
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if _isnum(v):
        x = float(v)
        if x == int(x) or abs(x) >= 1000:
            return f"{x:,.0f}"
        if abs(x) >= 10:
            return f"{x:,.1f}"
        return f"{x:.3g}"
    return str(v)


def _gap(v: Any) -> str:
    """The status card's small print: the gap, or "no bound yet" while it is infinite."""
    return f"gap {auto(v)}" if _isnum(v) and math.isfinite(float(v)) else NO_BOUND


def _text(v: Any, missing: str = "") -> str:
    return missing if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


# ---------------------------------------------------------------- the template context


class Delta(NamedTuple):
    """A side-by-side cell: the value and, in small print, its difference to the first run."""

    value: str
    change: str


@dataclass(frozen=True)
class Table:
    """A table: (header, numeric) columns, rows of text cells and an optional total row."""

    cls: str
    columns: Sequence[tuple[str, bool]]
    rows: Sequence[Sequence[str | Delta]]
    foot: Sequence[str] | None = None


@dataclass(frozen=True)
class MapView:
    """The network map, its legend, for spread-out networks a detail map, and the data of the
    interactive map."""

    overview: Markup
    legend: Markup
    detail: Markup | None
    interactive: InteractiveMap


class Bar(NamedTuple):
    """A bar of the corridor chart: its length relative to the longest, its figure, and after the
    figure the corridor's share of the TEU (TEU panel only)."""

    length: float
    value: str
    extra: str


@dataclass(frozen=True)
class Chart:
    """TEU and route cost per corridor, largest first: (corridor, colour) and two bar panels,
    each (name, unit, one bar per corridor)."""

    corridors: Sequence[tuple[str, str]]
    panels: Sequence[tuple[str, str, Sequence[Bar]]]


@dataclass(frozen=True)
class Prices:
    """The bottleneck section: binding capacities with their prices, or without them when the run
    computed none, and the corridor prices."""

    computed: bool
    table: Table | None  # None: nothing binding
    corridor_prices: Table | None
    corridor_routes: str


class RouteRow(NamedTuple):
    """One route of one lot, as text; ``search`` is the lower-case text the search box matches
    (lot, node ids and names, leg ids)."""

    lot: str
    route: str  # "2 of 3" when the lot is split, else ""
    origin: str
    destination: str
    cls: str
    corridor: str
    path: str  # node names along the route
    legs: str  # leg ids along the route
    days: str
    due: str
    status: str  # "late", "on time" or "no due"
    teu: str
    cost_per_teu: str
    search: str


@dataclass(frozen=True)
class RouteTable:
    """Every route of the plan, one row per lot (and route, when the lot is split)."""

    rows: Sequence[RouteRow]
    lots: int
    currency: str


@dataclass(frozen=True)
class TimelineView:
    """A timed plan's timeline: TEU leaving by day and corridor, border queues by day and the
    routes arriving late or within ``near_due_h`` hours of their due time (charts as SVG)."""

    departures_chart: Markup
    departures: Table
    queue_chart: Markup | None  # None: no cargo waits overnight at a border
    queues: Table | None  # None: no border crossed
    gantt: Markup | None  # None: every lot arrives with time to spare
    near_due: Table | None
    near_due_h: str


@dataclass(frozen=True)
class PlanView:
    """Everything the sections of one plan show."""

    uid: str
    currency: str
    cards: Sequence[tuple[str, str, str]]  # (figure, value, unit or remark)
    meta: Sequence[tuple[str, str]]
    map: MapView | None  # None: the run has no instance
    chart: Chart | None  # None: no cargo moved
    prices: Prices
    unserved: Table | None  # None: every lot served
    costs: Table | None  # None: no cost
    objective: str  # "" when the plan has no finite objective
    route_cost: str  # the route components (ROUTE_COMPONENTS) over every corridor
    feeder_cost: str  # of which on local feeder and untagged legs; "" when none
    routes: RouteTable | None  # None: no cargo moved
    timeline: TimelineView | None  # None: not a timed plan


# ---------------------------------------------------------------- plan views


def main_corridor(label: Any) -> str:
    """A route's corridor with the local feeder legs folded in: 'local+northern' -> 'northern'."""
    return route_corridor(label.split("+") if isinstance(label, str) else ()) or "(none)"


def corridor_table(plan: Plan) -> pd.DataFrame:
    """TEU, share and route cost per main corridor, largest first."""
    routes = plan.routes
    if routes.empty:
        return pd.DataFrame(columns=["corridor", "teu", "share", "cost"])
    out = (
        routes.assign(corridor=routes["corridor"].map(main_corridor))
        .groupby("corridor")
        .agg(teu=("teu", "sum"), cost=("cost", "sum"))
        .reset_index()
    )
    out["share"] = out["teu"] / out["teu"].sum()
    return out.sort_values("teu", ascending=False).reset_index(drop=True)[
        ["corridor", "teu", "share", "cost"]
    ]


def corridor_chart(split: pd.DataFrame, currency: str) -> Chart | None:
    """TEU and route cost of each corridor (``corridor_table``); None when no cargo moved."""
    if split.empty:
        return None

    def bars(values: pd.Series, texts: list[str], extras: list[str]) -> list[Bar]:
        longest = float(values.max()) or 1.0
        return [
            Bar(float(v) / longest, t, e) for v, t, e in zip(values, texts, extras, strict=True)
        ]

    teu, cost = split["teu"].astype(float), split["cost"].astype(float)
    teu_bars = bars(teu, [f"{v:,.0f}" for v in teu], [f" ({s:.0%})" for s in split["share"]])
    money = [f"{v / 1e6:,.2f} M" if v >= 1e5 else f"{v:,.0f}" for v in cost]
    cost_bars = bars(cost, money, [""] * len(cost))
    return Chart(
        corridors=[(str(c), corridor_colour(str(c), i)) for i, c in enumerate(split["corridor"])],
        panels=[("TEU moved", "", teu_bars), ("route cost", f" ({currency})", cost_bars)],
    )


def headline(plan: Plan) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """The numbers a planner reads first, and the run's particulars below them."""
    s = plan.info()
    total = float(s.get("teu_total", math.nan))
    moved = float(s.get("teu_moved", math.nan))
    unserved = float(s.get("teu_unserved", math.nan))
    cards = [
        ("total cost", num(s.get("objective")), str(s.get("currency", ""))),
        ("TEU moved", num(moved), f"{moved / total:.1%} of {num(total)} TEU" if total > 0 else ""),
        ("TEU unserved", num(unserved), f"{unserved / total:.1%}" if total > 0 else ""),
        ("CO2", num(s.get("co2_t"), 1), "t"),
        ("average transit", num(s.get("avg_days"), 1), "days (TEU-weighted)"),
        ("status", _text(s.get("status")), _gap(s.get("gap"))),
    ]
    meta = [
        ("instance", _text(s.get("instance"))),
        ("period", _text(s.get("period"))),
        ("model", _text(s.get("model"))),
        ("solver", f"{_text(s.get('solver'))} {_text(s.get('solver_version'))}"),
        ("solve time", f"{num(s.get('total_s'), 2)} s"),
        ("routes over due days", auto(s.get("late_routes"))),
    ]
    return cards, meta


def prices(plan: Plan, currency: str) -> Prices:
    """Binding capacities with their prices (Plan.bottlenecks); without prices, the capacities used
    to at least 99.9 % (from the plan's utilisation alone)."""
    b = plan.bottlenecks
    computed = "price_per_teu" in b.columns
    table = None
    if computed and not b.empty:
        table = Table(
            "bottlenecks",
            [
                ("kind", False),
                ("id", False),
                ("corridor", False),
                ("load TEU", True),
                ("capacity TEU", True),
                ("utilisation", True),
                (f"price {currency}/TEU", True),
            ],
            [
                [
                    str(r.kind),
                    str(r.id),
                    _text(r.corridor, "–"),
                    num(r.load_teu),
                    num(r.capacity_teu),
                    pct(r.utilisation),
                    num(r.price_per_teu, 2),
                ]
                for r in b.itertuples(index=False)
            ],
        )
    elif not computed:
        binding = binding_capacities(plan)
        if not binding.empty:
            table = Table(
                "binding",
                [("kind", False), ("id", False), ("load TEU", True), ("utilisation", True)],
                [
                    [str(r.kind), str(r.id), num(r.load_teu), pct(r.utilisation)]
                    for r in binding.itertuples(index=False)
                ],
            )
    routes = corridor_prices(plan, currency) if computed else None
    return Prices(computed, table, routes, num(len(routes.rows)) if routes else "")


def corridor_prices(plan: Plan, currency: str) -> Table | None:
    """Plan.corridor_prices: cost and reduced cost of every corridor route; None when absent."""
    c = plan.corridor_prices
    if c.empty or "reduced_cost_per_teu" not in c.columns:
        return None
    return Table(
        "corridor-prices",
        [
            ("class", False),
            ("from → to", False),
            ("corridor", False),
            (f"cost {currency}/TEU", True),
            (f"reduced cost {currency}/TEU", True),
            ("used", False),
        ],
        [
            [
                _text(r["class"]),
                f"{_text(r['origin'])} → {_text(r['destination'])}",
                _text(r["corridor"], "–"),
                num(r["cost_per_teu"], 2),
                num(r["reduced_cost_per_teu"], 2),
                auto(bool(r["used"]) if pd.notna(r["used"]) else None),
            ]
            for r in c.to_dict("records")
        ],
    )


def unserved_table(plan: Plan, currency: str) -> Table | None:
    """Unserved lots with the engine's reasons (and the why-not detail when present); None when
    every lot is served."""
    u = plan.unserved
    if u.empty:
        return None
    has_detail = (
        "detail" in u.columns and u["detail"].fillna("").astype(str).str.strip().ne("").any()
    )
    head = [
        ("lot", False),
        ("from → to", False),
        ("class", False),
        ("unserved TEU", True),
        ("lot TEU", True),
        (f"penalty {currency}", True),
        ("reason", False),
    ]
    rows = []
    for r in u.to_dict("records"):
        row = [
            str(r["lot"]),
            f"{r['origin']} → {r['destination']}",
            str(r["class"]),
            num(r["teu"], 1),
            num(r["lot_teu"]),
            num(r["penalty"]),
            _text(r["reason"]),
        ]
        if has_detail:
            row.append(_text(r.get("detail")))
        rows.append(row)
    foot = ["total", "", "", num(u["teu"].sum(), 1), num(u["lot_teu"].sum())]
    foot += [num(u["penalty"].sum()), ""]
    if has_detail:
        head.append(("why not", False))
        foot.append("")
    return Table("unserved", head, rows, foot)


def cost_table(plan: Plan) -> Table | None:
    """Cost by component (rows) and corridor (columns); the total is the objective. None when the
    plan has no cost."""
    c = plan.costs
    if c.empty:
        return None
    pivot = c.pivot_table(
        index="component", columns="corridor", values="cost", aggfunc="sum", fill_value=0.0
    )
    order = [k for k in COMPONENTS if k in pivot.index] + [
        k for k in pivot.index if k not in COMPONENTS
    ]
    pivot = pivot.loc[order]
    # corridors by cost, the pseudo-corridors "(none)" / "(unserved)" last
    cols = sorted(pivot.columns, key=lambda k: (str(k).startswith("("), -pivot[k].sum(), str(k)))
    pivot = pivot[cols]
    total = float(pivot.to_numpy().sum())
    head = (
        [("component", False)] + [(str(k), True) for k in cols] + [("total", True), ("share", True)]
    )
    rows = [
        [COMPONENTS.get(str(comp), str(comp))]
        + [num(v) if abs(v) > 1e-9 else "" for v in row]
        + [num(row.sum()), f"{row.sum() / total:.1%}" if total else "–"]
        for comp, row in pivot.iterrows()
    ]
    foot = ["total"] + [num(pivot[k].sum()) for k in cols] + [num(total), "100.0%"]
    return Table("costs", head, rows, foot)


def route_costs(plan: Plan) -> tuple[float, float]:
    """The route components of the cost breakdown (``ROUTE_COMPONENTS``): their total, which
    equals the corridor split's route cost, and the part paid on local feeder and untagged legs,
    which the breakdown keeps in columns of their own and the split counts with the corridor
    each route runs on."""
    c = plan.costs
    if c.empty:
        return 0.0, 0.0
    routes = c[c["component"].isin(ROUTE_COMPONENTS)]
    feeders = routes["corridor"].map(lambda t: is_local_tag(t) or t == "(none)")
    return float(routes["cost"].sum()), float(routes.loc[feeders, "cost"].sum())


def _named(node: str, names: Mapping[str, str]) -> str:
    name = names.get(node, "")
    return f"{name} ({node})" if name and name != node else node


def route_table(plan: Plan, inst: Instance | None, currency: str) -> RouteTable | None:
    """Plan.routes with the lots' origin, destination and class (from the instance, else the
    route's ends) and the nodes' names; None when no cargo moved."""
    r = plan.routes
    if r.empty:
        return None
    names = {str(k): str(v) for k, v in inst.nodes["name"].items()} if inst is not None else {}
    cargo: dict[str, tuple[str, str, str]] = {}  # lot -> origin, destination, class
    if inst is not None:
        c = inst.cargo
        ends = c[["origin", "destination", "class"]].astype(str).itertuples(index=False)
        cargo = {str(lot): tuple(e) for lot, e in zip(c.index, ends, strict=True)}
    splits = r.groupby("lot")["route"].transform("size")
    rows = []
    for rec, n in zip(r.to_dict("records"), splits, strict=True):
        lot = str(rec["lot"])
        nodes = str(rec["nodes"]).split(ROUTE_SEPARATOR)
        legs = str(rec["legs"]).split(ROUTE_SEPARATOR)
        origin, destination, cls = cargo.get(lot, (nodes[0], nodes[-1], "–"))
        days, due = _float(rec["days"]), _float(rec["due_days"])
        status = "no due" if not math.isfinite(due) else "late" if rec["late"] else "on time"
        words = [lot, *nodes, *(names.get(x, "") for x in nodes), *legs]
        rows.append(
            RouteRow(
                lot=lot,
                route=f"{rec['route']} of {n}" if n > 1 else "",
                origin=_named(origin, names),
                destination=_named(destination, names),
                cls=cls,
                corridor=main_corridor(rec["corridor"]),
                path=" → ".join(names.get(x, x) for x in nodes),
                legs=" · ".join(legs),
                days=num(days, 1),
                due=num(due, 1),
                status=status,
                teu=num(rec["teu"], 1),
                cost_per_teu=num(rec["cost_per_teu"]),
                search=" ".join(w for w in words if w).lower(),
            )
        )
    return RouteTable(rows, int(r["lot"].nunique()), currency)


def timeline_view(plan: Plan, uid: str) -> TimelineView | None:
    """The timeline section of a timed plan (``report.timeline``); None for other plans."""
    if not has_timeline(plan):
        return None
    by_day = departures_by_day(plan)
    departures = Table(
        "departures-by-day",
        [("day", True), ("corridor", False), ("departures", True), ("TEU leaving", True)],
        [
            [str(r.day), str(r.corridor), num(r.departures), num(r.teu, 1)]
            for r in by_day.itertuples()
        ],
    )
    q = border_queue_days(plan)
    queues = None
    if len(q):
        queues = Table(
            "border-queues",
            [
                ("border", False),
                ("day", True),
                ("TEU queued at day end", True),
                ("TEU crossed", True),
                ("TEU per day", True),
            ],
            [
                [str(r.border), str(r.day), num(r.queued_teu, 1), num(r.crossed_teu, 1)]
                + [num(r.capacity_teu_per_day)]
                for r in q.itertuples()
            ],
        )
    waiting = q["queued_teu"].astype(float).gt(1e-9).any() if len(q) else False
    near = near_due_routes(plan)
    near_table = None
    if len(near):
        near_table = Table(
            "near-due",
            [
                ("lot", False),
                ("route", True),
                ("ready h", True),
                ("legs (leaving-arriving h)", False),
                ("arrives h", True),
                ("due h", True),
                ("slack h", True),
                ("TEU", True),
            ],
            [
                [str(r.lot), str(r.route), num(r.ready_h, 1), str(r.legs), num(r.arrives_h, 1)]
                + [num(r.due_h, 1), num(r.slack_h, 1), num(r.teu, 1)]
                for r in near.itertuples()
            ],
        )
    return TimelineView(
        departures_chart=trusted_svg(departures_chart(by_day, f"{uid}-departures")),
        departures=departures,
        queue_chart=trusted_svg(queue_chart(q, f"{uid}-queues")) if waiting else None,
        queues=queues,
        gantt=trusted_svg(gantt_chart(plan, near, f"{uid}-gantt")) if len(near) else None,
        near_due=near_table,
        near_due_h=f"{NEAR_DUE_H:g}",
    )


def _float(v: Any) -> float:
    return float(v) if _isnum(v) else math.nan


def map_view(plan: Plan, inst: Instance, uid: str) -> MapView:
    """The map of the legs and borders, with a detail map of the densest part when it helps."""
    flow = plan.legs["flow_teu"].to_numpy(dtype=float) if not plan.legs.empty else np.zeros(0)
    window = detail_window(inst)
    detail = None
    if window is not None:
        detail = trusted_svg(render_map(plan.legs, plan.borders, inst, uid, window=window))
    return MapView(
        overview=trusted_svg(render_map(plan.legs, plan.borders, inst, uid, frame=window)),
        legend=trusted_svg(
            legend(
                float(flow.max()) if flow.size and flow.max() > 0 else 1.0,
                corridor_order(plan.legs),
            )
        ),
        detail=detail,
        interactive=interactive_map(plan.legs, inst),
    )


def plan_view(plan: Plan, inst: Instance | None, uid: str) -> PlanView:
    """Every section of one plan's report; ``uid`` prefixes the element ids of its maps."""
    s = plan.info()
    currency = str(s.get("currency", ""))
    cards, meta = headline(plan)
    objective = s.get("objective")
    route_cost, feeder_cost = route_costs(plan)
    return PlanView(
        uid=uid,
        currency=currency,
        cards=cards,
        meta=meta,
        map=map_view(plan, inst, uid) if inst is not None else None,
        chart=corridor_chart(corridor_table(plan), currency),
        prices=prices(plan, currency),
        unserved=unserved_table(plan, currency),
        costs=cost_table(plan),
        objective=num(objective) if _isnum(objective) and math.isfinite(float(objective)) else "",
        route_cost=num(route_cost),
        feeder_cost=num(feeder_cost) if feeder_cost > 0 else "",
        routes=route_table(plan, inst, currency),
        timeline=timeline_view(plan, uid),
    )


# ---------------------------------------------------------------- several plans


def minimal_comparison(plans: Mapping[str, Plan]) -> pd.DataFrame:
    """One row per metric (index ``metric``), one column per run: headline figures and TEU by corridor."""
    metrics = {
        "instance": "instance",
        "status": "status",
        "model": "model",
        "objective": "total cost",
        "teu_moved": "TEU moved",
        "teu_unserved": "TEU unserved",
        "co2_t": "CO2 t",
        "avg_days": "average days",
        "late_routes": "routes over due days",
        "gap": "gap",
    }
    data: dict[str, dict[str, Any]] = {}
    splits = {name: corridor_table(p).set_index("corridor")["teu"] for name, p in plans.items()}
    corridors = sorted({c for s in splits.values() for c in s.index})
    for name, plan in plans.items():
        s = plan.info()
        col = {label: s.get(key) for key, label in metrics.items()}
        for c in corridors:
            col[f"TEU {c}"] = float(splits[name].get(c, 0.0))
        col["binding capacities"] = len(binding_capacities(plan))
        data[name] = col
    frame = pd.DataFrame(data)
    frame.index.name = "metric"
    return frame


def comparison_table(frame: pd.DataFrame) -> Table:
    """The side-by-side table; numeric rows show the difference to the first run."""
    rows: list[list[str | Delta]] = []
    for metric, row in frame.iterrows():
        values = list(row)
        first = values[0] if values else None
        cells: list[str | Delta] = [str(metric)]
        share = any(w in str(metric).lower() for w in ("utilisation", "share"))
        for i, v in enumerate(values):
            cell = f"{float(v):.1%}" if share and _isnum(v) and math.isfinite(float(v)) else auto(v)
            if (
                i > 0
                and _isnum(v)
                and _isnum(first)
                and math.isfinite(float(v))
                and math.isfinite(float(first))
            ):
                d = float(v) - float(first)
                if abs(d) > 1e-9:
                    size = f"{abs(d):.1%}" if share else auto(abs(d))
                    cells.append(Delta(cell, f"{'+' if d > 0 else '−'}{size}"))
                    continue
            cells.append(cell)
        rows.append(cells)
    head = [("metric", False)] + [(str(c), True) for c in frame.columns]
    return Table("comparison", head, rows)


@dataclass(frozen=True)
class ChangeMap:
    """A run's legs gaining or losing TEU against the first run, drawn on one map."""

    name: str
    svg: Markup
    gained: str  # TEU-legs gained, summed over the legs that gained
    lost: str
    legs: int  # legs whose flow changed


def change_maps(
    plans: Mapping[str, Plan], instances: Mapping[str, Instance | None]
) -> list[ChangeMap]:
    """One difference map per run after the first that has an instance (its coordinates)."""
    names = list(plans)
    first = plans[names[0]]
    out = []
    for i, name in enumerate(names[1:], start=1):
        inst = instances.get(name)
        if inst is None:
            continue
        delta = leg_changes(first, plans[name])
        # the legs' from/to/mode/corridor from either plan, the run's own rows first
        rows = pd.concat([plans[name].legs, first.legs]).drop_duplicates("leg")
        rows = rows.set_index("leg").reindex(delta.index).reset_index()
        rows["flow_teu"] = delta.to_numpy()
        svg = render_map(rows, plans[name].borders, inst, f"d{i}", change=names[0])
        out.append(
            ChangeMap(
                name=name,
                svg=trusted_svg(svg),
                gained=num(delta[delta > 0].sum()),
                lost=num(abs(float(delta[delta < 0].sum()))),
                legs=len(delta),
            )
        )
    return out


# ---------------------------------------------------------------- page


def render_html(
    plans: Mapping[str, Plan],
    instances: Mapping[str, Instance | None] | None = None,
    comparison: pd.DataFrame | None = None,
    scenarios: Mapping[str, ScenarioNote] | None = None,
) -> str:
    """The report page as one string; several plans get, first, what each scenario run changed
    (``scenarios``, by run name), the side-by-side view (from ``comparison``, or headline figures
    when it is None) and the difference maps, then each run folded."""
    from allocator._version import __version__

    if not plans:
        raise ValueError("write_html_report needs at least one plan")
    instances = instances or {}
    runs = [
        (name, plan_view(plan, instances.get(name), f"r{i}"))
        for i, (name, plan) in enumerate(plans.items())
    ]
    first = runs[0][0]
    if len(runs) == 1:
        s = plans[first].info()
        title = f"Plan {s.get('instance', first)}"
        subtitle = [_text(s.get("period")), first, _text(s.get("currency"))]
        table, frame, changes = None, None, []
    else:
        title = f"Comparison of {len(runs)} runs"
        subtitle = []
        frame = comparison if comparison is not None else minimal_comparison(plans)
        table = comparison_table(frame)
        changes = change_maps(plans, instances)
    notes = scenarios or {}
    maps = {plan.uid: plan.map.interactive for _, plan in runs if plan.map is not None}
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            title=title,
            subtitle=subtitle,
            runs=runs,
            comparison=table,
            baseline=str(frame.columns[0]) if frame is not None and len(frame.columns) else "",
            scenarios=[(name, notes[name]) for name in plans if name in notes],
            change_maps=changes,
            gain=GAIN,
            loss=LOSS,
            outline=trusted_svg(outline_defs()),
            map_data=json_script({"outline": outline_geojson(), "maps": maps}) if maps else "",
            leaflet_js=vendored("leaflet.js") if maps else "",
            leaflet_css=vendored("leaflet.css") if maps else "",
            leaflet_version=LEAFLET_VERSION,
            version=__version__,
        )
    )


def write_html_report(
    target: str | Path,
    plans: Mapping[str, Plan],
    instances: Mapping[str, Instance | None] | None = None,
    comparison: pd.DataFrame | None = None,
    scenarios: Mapping[str, ScenarioNote] | None = None,
) -> Path:
    """Write one self-contained HTML report atomically; several plans get the side-by-side view
    first (see ``render_html``)."""
    target = Path(target)
    text = render_html(plans, instances, comparison, scenarios)
    with atomic_path(target) as work:
        work.write_text(text, encoding="utf-8")
    return target
