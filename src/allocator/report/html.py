"""One self-contained HTML report of one plan, or of several side by side.

The page has no external URLs at all: inline CSS, system font stacks, inline SVG for the map (over
the packaged Natural Earth outline, see ``allocator/data/``) and the charts, and no JavaScript.
Every text taken from the plan or the instance goes through ``html.escape``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import pandas as pd

from allocator.instance.io import atomic_path
from allocator.instance.model import Instance
from allocator.report.map import detail_window, legend, outline_defs, render_map
from allocator.results import Plan, binding_capacities, route_corridor

CORRIDOR_COLOURS = {
    "northern": "#3b6fb6",
    "middle": "#e08a2c",
    "instc": "#3f9a5b",
    "sea": "#2a9ab3",
    "local": "#8c8c8c",
}
OTHER_COLOURS = ("#8e5ea2", "#c4566b", "#6b8e23", "#b8860b", "#4b6584", "#a0522d")
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

CSS = """
:root{--ink:#1f2933;--muted:#616e7c;--line:#d9dee4;--soft:#f5f7fa;--accent:#2f5d8c}
*{box-sizing:border-box}
body{margin:0;background:#eef1f4;color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",
"Liberation Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:0 0 10px}
h3{font-size:15px;margin:18px 0 8px}
.sub{color:var(--muted);margin:0 0 18px}
section,.card{background:#fff;border:1px solid var(--line);border-radius:8px}
section{padding:16px 18px;margin:16px 0}
section.run{background:transparent;border:0;padding:0;margin:32px 0 0}
section.run>h2{font-size:20px;border-bottom:2px solid var(--accent);padding-bottom:4px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px;margin:8px 0 4px}
.card{padding:10px 12px}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:20px;font-weight:600;font-variant-numeric:tabular-nums;white-space:nowrap}
.card .u{color:var(--muted);font-size:12px}
.meta{display:flex;flex-wrap:wrap;gap:6px 18px;color:var(--muted);font-size:13px;margin-top:8px}
.meta b{color:var(--ink);font-weight:600}
.note{color:var(--muted);font-size:13px;margin:6px 0}
.warn{background:#fff7e6;border:1px solid #f0d39a;border-radius:6px;padding:8px 10px;font-size:13px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600;white-space:nowrap}
td.n,th.n{text-align:right;white-space:nowrap}
tfoot td{font-weight:600;border-top:2px solid #b8c0ca;border-bottom:0}
tbody tr:hover{background:#fafbfc}
.delta{display:block;color:var(--muted);font-size:11px}
.scroll{overflow-x:auto}
svg.map{width:100%;height:auto;display:block;border:1px solid var(--line);border-radius:6px}
svg.map .sea{fill:#e8f0f7}
svg.map .land{fill:#fbfaf7;stroke:#c8c3b8;stroke-width:.7}
svg.map .host{fill:#f1ece0;stroke:#b9b1a2;stroke-width:.8}
svg.map .leg{fill:none;stroke-linecap:round;stroke-linejoin:round}
svg.map .leg.unused{stroke:#b4bac2;stroke-width:1;stroke-dasharray:3 3;opacity:.75}
svg.map .leg.used{opacity:.92}
svg.map .leg:hover{opacity:1;filter:drop-shadow(0 0 2px #000)}
svg.map .border rect{stroke:#fff;stroke-width:1.4}
svg.map .frame{fill:none;stroke:#2f5d8c;stroke-width:1.2;stroke-dasharray:6 4}
svg.map .node{fill:#fff;stroke:#4a5561;stroke-width:1.1}
svg.map .node.used{fill:#1f2933;stroke:#fff;stroke-width:1.2}
svg.map text{font-size:12px;fill:#1f2933;paint-order:stroke;stroke:#fff;stroke-width:3.2px;
stroke-linejoin:round}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin:8px 0 0;font-size:12px;color:var(--muted)}
.legend span{display:inline-flex;align-items:center;gap:5px}
svg.chart{width:100%;height:auto;display:block}
svg.chart text{font-size:12px;fill:#1f2933}
svg.chart .axis{fill:var(--muted)}
svg.chart .grid{stroke:#e4e7eb}
nav ul{margin:6px 0 0;padding-left:18px}
details{margin-top:12px}
summary{cursor:pointer;color:var(--accent);font-size:13px}
details table{margin-top:8px}
footer{color:var(--muted);font-size:12px;margin-top:28px}
@media print{body{background:#fff}section{break-inside:avoid}}
"""


# ---------------------------------------------------------------- formatting


def _isnum(v: Any) -> TypeGuard[int | float | np.integer | np.floating]:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def num(v: Any, decimals: int = 0) -> str:
    """A number with thousands separators; '–' for missing."""
    if v is None or (_isnum(v) and not math.isfinite(float(v))):
        return "–"
    if not _isnum(v):
        return escape(str(v))
    return f"{float(v):,.{decimals}f}"


def pct(v: Any) -> str:
    """A share as a percentage."""
    return "–" if v is None or not _isnum(v) or not math.isfinite(float(v)) else f"{v:.0%}"


def auto(v: Any) -> str:
    """Any cell: numbers by magnitude, booleans as yes/no, text escaped."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
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
    return escape(str(v))


def _text(v: Any, missing: str = "") -> str:
    return missing if v is None or (isinstance(v, float) and math.isnan(v)) else escape(str(v))


def table(
    head: Sequence[tuple[str, bool]],
    rows: Sequence[Sequence[str]],
    cls: str,
    foot: Sequence[str] | None = None,
) -> str:
    """An HTML table from (header, numeric) columns and already escaped cells."""
    align = [' class="n"' if numeric else "" for _, numeric in head]
    out = [f'<div class="scroll"><table class="{cls}"><thead><tr>']
    out += [f"<th{a}>{escape(h)}</th>" for (h, _), a in zip(head, align, strict=True)]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append(
            "<tr>" + "".join(f"<td{a}>{c}</td>" for c, a in zip(row, align, strict=True)) + "</tr>"
        )
    out.append("</tbody>")
    if foot is not None:
        cells = "".join(f"<td{a}>{c}</td>" for c, a in zip(foot, align, strict=True))
        out.append(f"<tfoot><tr>{cells}</tr></tfoot>")
    out.append("</table></div>")
    return "".join(out)


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


def _colour(corridor: str, i: int) -> str:
    return CORRIDOR_COLOURS.get(corridor, OTHER_COLOURS[i % len(OTHER_COLOURS)])


def corridor_chart(split: pd.DataFrame, currency: str) -> str:
    """Two horizontal bar panels (TEU, route cost) sharing the corridor labels."""
    if split.empty:
        return '<p class="note">No cargo was moved.</p>'
    row_h, top, label_w, panel_w, gap = 28, 30, 200, 330, 60
    width = label_w + 2 * panel_w + gap + 20
    height = top + row_h * len(split) + 8
    panels = (
        ("teu", "TEU moved", lambda v: f"{v:,.0f}"),
        (
            "cost",
            f"route cost ({currency})",
            lambda v: f"{v / 1e6:,.2f} M" if v >= 1e5 else f"{v:,.0f}",
        ),
    )
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="TEU and cost by corridor">'
    ]
    for p, (col, title, fmt) in enumerate(panels):
        x0 = label_w + p * (panel_w + gap)
        vmax = float(split[col].max()) or 1.0
        out.append(f'<text x="{x0}" y="16" font-weight="600">{escape(title)}</text>')
        out.append(f'<line class="grid" x1="{x0}" y1="{top - 6}" x2="{x0}" y2="{height - 4}"/>')
        for i, row in enumerate(split.itertuples(index=False)):
            y = top + i * row_h
            v = float(getattr(row, col))
            w = max(1.0, (panel_w - 70) * v / vmax)
            extra = f" ({row.share:.0%})" if col == "teu" else ""
            out.append(
                f'<rect class="bar" x="{x0}" y="{y}" width="{w:.1f}" height="{row_h - 9}" rx="2" '
                f'fill="{_colour(str(row.corridor), i)}"><title>{escape(str(row.corridor))}: '
                f"{escape(fmt(v))} {escape(title.split(' (')[0])}{extra}</title></rect>"
            )
            out.append(
                f'<text x="{x0 + w + 6:.1f}" y="{y + row_h / 2}" class="axis">{escape(fmt(v))}{extra}</text>'
            )
    for i, row in enumerate(split.itertuples(index=False)):
        mid = top + i * row_h + row_h / 2
        out.append(
            f'<text x="{label_w - 10}" y="{mid}" text-anchor="end">{escape(str(row.corridor))}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def headline_cards(plan: Plan) -> str:
    """The numbers a planner reads first."""
    s = plan.info()
    cur = escape(str(s.get("currency", "")))
    total = float(s.get("teu_total", math.nan))
    moved = float(s.get("teu_moved", math.nan))
    unserved = float(s.get("teu_unserved", math.nan))
    share = f"{moved / total:.1%} of {num(total)} TEU" if total > 0 else ""
    cards = [
        ("total cost", num(s.get("objective")), cur),
        ("TEU moved", num(moved), share),
        ("TEU unserved", num(unserved), f"{unserved / total:.1%}" if total > 0 else ""),
        ("CO2", num(s.get("co2_t"), 1), "t"),
        ("average transit", num(s.get("avg_days"), 1), "days (TEU-weighted)"),
        ("status", _text(s.get("status")), f"gap {auto(s.get('gap'))}"),
    ]
    body = "".join(
        f'<div class="card" data-key="{escape(k)}"><div class="k">{escape(k)}</div>'
        f'<div class="v">{v}</div><div class="u">{u}</div></div>'
        for k, v, u in cards
    )
    meta = [
        ("instance", _text(s.get("instance"))),
        ("period", _text(s.get("period"))),
        ("model", _text(s.get("model"))),
        ("solver", f"{_text(s.get('solver'))} {_text(s.get('solver_version'))}"),
        ("solve time", f"{num(s.get('total_s'), 2)} s"),
        ("routes over due days", auto(s.get("late_routes"))),
    ]
    meta_html = "".join(f"<span>{escape(k)} <b>{v}</b></span>" for k, v in meta)
    return f'<div class="cards">{body}</div><div class="meta">{meta_html}</div>'


def bottleneck_section(plan: Plan, currency: str) -> str:
    """Binding capacities with their prices (Plan.bottlenecks), or a note when not computed."""
    cur = escape(currency)
    b = plan.bottlenecks
    out = ["<h2>Bottlenecks and their prices</h2>"]
    note = (
        f'<p class="note">Price: how much the optimal cost would fall per extra TEU of capacity '
        f"({cur} per TEU per period). Prices are the duals of the linear programme solved with the "
        "integer decisions (services, opened legs) fixed at their optimal values; shadow prices are "
        "not defined on the MILP itself.</p>"
    )
    if "price_per_teu" in b.columns and b.empty:  # computed, nothing binding
        out.append(note)
        out.append('<p class="note">No capacity is binding: every price is zero.</p>')
        return "".join(out) + corridor_prices_details(plan, currency)
    if b.empty or "price_per_teu" not in b.columns:
        out.append(
            '<p class="warn">Prices were not computed for this plan. The capacities below are used '
            "to at least 99.9 % (from the plan's utilisation alone, without prices).</p>"
        )
        binding = binding_capacities(plan)
        if binding.empty:
            out.append('<p class="note">No capacity is binding.</p>')
        else:
            rows = [
                [escape(str(r.kind)), escape(str(r.id)), num(r.load_teu), pct(r.utilisation)]
                for r in binding.itertuples(index=False)
            ]
            head = [("kind", False), ("id", False), ("load TEU", True), ("utilisation", True)]
            out.append(table(head, rows, "binding"))
        return "".join(out)
    out.append(note)
    rows = [
        [
            escape(str(r.kind)),
            escape(str(r.id)),
            _text(r.corridor, "–"),
            num(r.load_teu),
            num(r.capacity_teu),
            pct(r.utilisation),
            num(r.price_per_teu, 2),
        ]
        for r in b.itertuples(index=False)
    ]
    head = [
        ("kind", False),
        ("id", False),
        ("corridor", False),
        ("load TEU", True),
        ("capacity TEU", True),
        ("utilisation", True),
        (f"price {currency}/TEU", True),
    ]
    out.append(table(head, rows, "bottlenecks"))
    return "".join(out) + corridor_prices_details(plan, currency)


def corridor_prices_details(plan: Plan, currency: str) -> str:
    """Plan.corridor_prices in a folded block: cost and reduced cost of every corridor route."""
    c = plan.corridor_prices
    if c.empty or "reduced_cost_per_teu" not in c.columns:
        return ""
    rows = [
        [
            _text(r["class"]),
            f"{_text(r['origin'])} → {_text(r['destination'])}",
            _text(r["corridor"], "–"),
            num(r["cost_per_teu"], 2),
            num(r["reduced_cost_per_teu"], 2),
            auto(bool(r["used"]) if pd.notna(r["used"]) else None),
        ]
        for r in c.to_dict("records")
    ]
    head = [
        ("class", False),
        ("from → to", False),
        ("corridor", False),
        (f"cost {currency}/TEU", True),
        (f"reduced cost {currency}/TEU", True),
        ("used", False),
    ]
    return (
        f"<details><summary>Corridor prices: {len(c):,} routes by class and corridor "
        "(reduced cost: how much cheaper a corridor would have to be before the plan uses it; "
        "0 for corridors used)</summary>" + table(head, rows, "corridor-prices") + "</details>"
    )


def unserved_section(plan: Plan, currency: str) -> str:
    """Unserved lots with the engine's reasons (and the why-not detail when present)."""
    u = plan.unserved
    out = ["<h2>Unserved lots</h2>"]
    if u.empty:
        out.append('<p class="note">Every lot is served in full.</p>')
        return "".join(out)
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
    if has_detail:
        head.append(("why not", False))
    rows = []
    for r in u.to_dict("records"):
        row = [
            escape(str(r["lot"])),
            f"{escape(str(r['origin']))} → {escape(str(r['destination']))}",
            escape(str(r["class"])),
            num(r["teu"], 1),
            num(r["lot_teu"]),
            num(r["penalty"]),
            _text(r["reason"]),
        ]
        if has_detail:
            row.append(_text(r.get("detail")))
        rows.append(row)
    foot = [
        "total",
        "",
        "",
        num(u["teu"].sum(), 1),
        num(u["lot_teu"].sum()),
        num(u["penalty"].sum()),
        "",
    ]
    if has_detail:
        foot.append("")
    out.append(table(head, rows, "unserved", foot))
    return "".join(out)


def cost_section(plan: Plan, currency: str) -> str:
    """Cost by component (rows) and corridor (columns); the total is the objective."""
    c = plan.costs
    out = [f"<h2>Cost breakdown ({escape(currency)})</h2>"]
    if c.empty:
        out.append('<p class="note">No cost.</p>')
        return "".join(out)
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
    rows = []
    for comp, row in pivot.iterrows():
        rows.append(
            [escape(COMPONENTS.get(str(comp), str(comp)))]
            + [num(v) if abs(v) > 1e-9 else "" for v in row]
            + [num(row.sum()), f"{row.sum() / total:.1%}" if total else "–"]
        )
    foot = ["total"] + [num(pivot[k].sum()) for k in cols] + [num(total), "100.0%"]
    out.append(table(head, rows, "costs", foot))
    objective = plan.info().get("objective")
    if _isnum(objective) and math.isfinite(float(objective)):
        out.append(
            f'<p class="note">The components add up to the objective ({num(objective)} {escape(currency)}).</p>'
        )
    return "".join(out)


def plan_sections(plan: Plan, inst: Instance | None, uid: str) -> str:
    """Every section of one plan's report."""
    s = plan.info()
    cur = str(s.get("currency", ""))
    out = [f'<section class="headline">{headline_cards(plan)}</section>']
    out.append('<section class="network"><h2>Network</h2>')
    if inst is None:
        out.append(
            '<p class="warn">No map: this run has no instance (instance.json is missing from the '
            "plan folder; pass --instance).</p>"
        )
    else:
        flow = plan.legs["flow_teu"].to_numpy(dtype=float) if not plan.legs.empty else np.zeros(0)
        window = detail_window(inst)
        out.append(render_map(plan.legs, plan.borders, inst, uid, frame=window))
        out.append(legend(float(flow.max()) if flow.size and flow.max() > 0 else 1.0))
        out.append(
            '<p class="note">Width proportional to TEU, colour by utilisation of the leg\'s capacity. '
            "Sea legs are drawn along approximate sea lanes; hover a leg, border or node for its "
            "figures. Map outline: Natural Earth (public domain).</p>"
        )
        if window is not None:
            out.append("<h3>Detail: the densest part of the network</h3>")
            out.append(render_map(plan.legs, plan.borders, inst, uid, window=window))
    out.append("</section>")
    split = corridor_table(plan)
    out.append(
        '<section class="corridors"><h2>Corridor split</h2>'
        + corridor_chart(split, cur)
        + '<p class="note">Route cost: freight, border, handling, time value and CO2 of the routes; '
        "services, fixed costs and penalties are in the cost breakdown. Local feeder legs are "
        "counted with the corridor they feed.</p></section>"
    )
    out.append(f'<section class="bottlenecks">{bottleneck_section(plan, cur)}</section>')
    out.append(f'<section class="unserved">{unserved_section(plan, cur)}</section>')
    out.append(f'<section class="costs">{cost_section(plan, cur)}</section>')
    return "".join(out)


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


def comparison_section(frame: pd.DataFrame) -> str:
    """The side-by-side table; numeric rows show the difference to the first run."""
    names = [str(c) for c in frame.columns]
    head = [("metric", False)] + [(n, True) for n in names]
    rows = []
    for metric, row in frame.iterrows():
        values = list(row)
        first = values[0] if values else None
        cells = [escape(str(metric))]
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
                    cell += f'<span class="delta">{"+" if d > 0 else "−"}{size}</span>'
            cells.append(cell)
        rows.append(cells)
    return (
        '<section class="comparison" id="side-by-side"><h2>Side by side</h2>'
        f'<p class="note">Small figures: difference to {escape(names[0]) if names else ""}.</p>'
        + table(head, rows, "comparison")
        + "</section>"
    )


def run_labels(paths: Sequence[str | Path]) -> list[str]:
    """Short unique names of run folders: the folder name, with parents added where needed."""
    parts = [Path(p).resolve().parts[1:] or (str(p),) for p in paths]
    for depth in range(1, max(len(p) for p in parts) + 1):
        names = ["/".join(p[-depth:]) for p in parts]
        if len(set(names)) == len(names):
            return names
    # the same folder given twice: number the repeats
    seen: dict[str, int] = {}
    out = []
    for p in parts:
        name = p[-1]
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


# ---------------------------------------------------------------- page


def render_html(
    plans: Mapping[str, Plan],
    instances: Mapping[str, Instance | None] | None = None,
    comparison: pd.DataFrame | None = None,
) -> str:
    """The report page as one string."""
    from allocator._version import __version__

    if not plans:
        raise ValueError("write_html_report needs at least one plan")
    instances = instances or {}
    names = list(plans)
    body = []
    if len(plans) == 1:
        s = plans[names[0]].info()
        title = f"Plan {s.get('instance', names[0])}"
        body.append(f"<h1>{escape(str(title))}</h1>")
        body.append(
            f'<p class="sub">{_text(s.get("period"))} · {escape(names[0])} · '
            f"{_text(s.get('currency'))}</p>"
        )
        body.append(plan_sections(plans[names[0]], instances.get(names[0]), "r0"))
    else:
        title = f"Comparison of {len(plans)} runs"
        body.append(f"<h1>{escape(title)}</h1>")
        links = "".join(f'<li><a href="#r{i}">{escape(n)}</a></li>' for i, n in enumerate(names))
        body.append(f'<nav class="sub">Runs:<ul>{links}</ul></nav>')
        frame = comparison if comparison is not None else minimal_comparison(plans)
        body.append(comparison_section(frame))
        for i, name in enumerate(names):
            body.append(
                f'<section class="run" id="r{i}"><h2>{escape(name)}</h2>'
                + plan_sections(plans[name], instances.get(name), f"r{i}")
                + "</section>"
            )
    body.append(
        f"<footer>Written by allocator {escape(__version__)}. One self-contained file: no "
        "external resources.</footer>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(str(title))}</title><style>{CSS}</style></head><body>"
        + outline_defs()
        + "<main>"
        + "".join(body)
        + "</main></body></html>\n"
    )


def write_html_report(
    target: str | Path,
    plans: Mapping[str, Plan],
    instances: Mapping[str, Instance | None] | None = None,
    comparison: pd.DataFrame | None = None,
) -> Path:
    """Write one self-contained HTML report atomically; several plans get the side-by-side view first."""
    target = Path(target)
    text = render_html(plans, instances, comparison)
    with atomic_path(target) as work:
        work.write_text(text, encoding="utf-8")
    return target
