"""The timeline view of a timed plan (model family ``time``): TEU leaving by day and corridor,
cargo queued at borders by day, and the lots that arrive late or within ``NEAR_DUE_H`` hours of
their due time, as tables (``markdown``, ``html``) and matplotlib charts drawn to inline SVG.

Plans of the other families have no timeline (``has_timeline``) and show none of it.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from allocator.instance.model import ROUTE_SEPARATOR
from allocator.report.map import corridor_colour
from allocator.results import Plan, route_corridor
from allocator.results.check import is_timed
from allocator.results.timeline import day_of

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NEAR_DUE_H = 24.0  # a lot arriving less than this before its due time is near-late
GANTT_ROWS = 40  # routes drawn in the Gantt chart, most urgent first (the table lists all)
NO_CORRIDOR = "(none)"
WAIT_COLOUR, DUE_COLOUR = "#52606d", "#b2182b"


def has_timeline(plan: Plan) -> bool:
    """Whether the plan says when its lots move (a timed plan with at least one timed leg)."""
    return is_timed(plan) and not plan.timeline.empty


def _leg_corridor(plan: Plan) -> pd.Series:
    """Leg id -> its corridor as the report names it: the tag, ``local`` for feeders, ``(none)``
    for untagged legs."""
    tags = plan.legs.set_index(plan.legs["leg"].astype(str))["corridor"]
    return tags.map(lambda t: route_corridor([t]) or NO_CORRIDOR)


def departures_by_day(plan: Plan) -> pd.DataFrame:
    """Per day (0 is the week's Monday) and corridor: the departures run (timetable runs and
    departures of legs dispatched on demand, from ``departures``) and the TEU leaving on the
    corridor's legs (from ``timeline``: every leg, also those that run at any time; a lot counts
    on each leg it leaves on)."""
    corridor = _leg_corridor(plan)
    tl = plan.timeline
    teu = (
        tl.assign(
            day=day_of(tl["departs_h"].to_numpy(dtype=float)),
            corridor=tl["leg"].astype(str).map(corridor),
        )
        .groupby(["day", "corridor"])["teu"]
        .sum()
    )
    dep = plan.departures
    runs = pd.Series(dtype=float)
    if "services" in dep.columns and len(dep):
        runs = (
            dep.assign(
                day=day_of(dep["departs_h"].to_numpy(dtype=float)),
                corridor=dep["leg"].astype(str).map(corridor),
            )
            .groupby(["day", "corridor"])["services"]
            .sum()
        )
    out = pd.DataFrame({"departures": runs, "teu": teu}).fillna(0.0)
    out.index.names = ["day", "corridor"]
    out = out.reset_index().sort_values(["day", "corridor"], ignore_index=True)
    out["departures"] = out["departures"].round().astype(np.int64)
    return out[["day", "corridor", "departures", "teu"]]


def border_queue_days(plan: Plan) -> pd.DataFrame:
    """The plan's ``border_queues`` rows on which cargo queues or crosses."""
    q = plan.border_queues
    if "queued_teu" not in q.columns:
        return pd.DataFrame(columns=["border", "day", "queued_teu", "crossed_teu"])
    busy = (q["queued_teu"].astype(float) > 1e-9) | (q["crossed_teu"].astype(float) > 1e-9)
    return q[busy].reset_index(drop=True)


def near_due_routes(plan: Plan, within_h: float = NEAR_DUE_H) -> pd.DataFrame:
    """Timed routes arriving after their due time or less than ``within_h`` hours before it,
    most urgent first: lot, route, ready, the legs with their hours, arrival, due and slack
    (due minus arrival; negative: late)."""
    tl = plan.timeline.sort_values(["lot", "route", "departs_h"], kind="stable")
    rows = []
    for (lot, route), legs in tl.groupby(["lot", "route"], sort=False):
        last = legs.iloc[-1]
        slack = float(last["slack_h"])
        if not slack < within_h:  # NaN and inf (no due time) are never near
            continue
        rows.append(
            {
                "lot": str(lot),
                "route": int(route),
                "ready_h": float(legs["departs_h"].iloc[0] - legs["wait_h"].iloc[0]),
                "legs": ROUTE_SEPARATOR.join(
                    f"{leg} {dep:g}-{arr:g} h"
                    for leg, dep, arr in zip(
                        legs["leg"], legs["departs_h"], legs["arrives_h"], strict=True
                    )
                ),
                "arrives_h": float(last["arrives_h"]),
                "due_h": float(last["due_h"]),
                "slack_h": slack,
                "teu": float(last["teu"]),
            }
        )
    columns = ["lot", "route", "ready_h", "legs", "arrives_h", "due_h", "slack_h", "teu"]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["slack_h", "lot", "route"], ignore_index=True)


# ---------------------------------------------------------------- charts (matplotlib to SVG)


def _figure(width: float, height: float) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def _plain(text: object) -> str:
    """A label matplotlib shows as written (a ``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


def inline_svg(fig: Figure, prefix: str, label: str) -> str:
    """``fig`` as an SVG element for an HTML page: text as text, no XML prolog, namespaces,
    global style, clip paths or comments (nothing that names a URL), every id prefixed with
    ``prefix`` so that several charts share a page, and the ``chart timeline`` classes."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": prefix}):
        fig.savefig(
            buf, format="svg", metadata=dict.fromkeys(("Creator", "Date", "Format", "Type"))
        )
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"<style\b.*?</style>", "", text, flags=re.S)
    text = re.sub(r"<clipPath\b.*?</clipPath>", "", text, flags=re.S)
    text = re.sub(r'\s+clip-path="[^"]*"', "", text)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    text = re.sub(r'<svg\s+width="[^"]*"\s+height="[^"]*"', "<svg", text, count=1)
    text = re.sub(r'\sid="([^"]*)"', rf' id="{prefix}-\1"', text)
    text = re.sub(r'href="#([^"]*)"', rf'href="#{prefix}-\1"', text)
    escaped = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return text.replace("<svg", f'<svg class="chart timeline" role="img" aria-label="{escaped}"', 1)


def departures_chart(by_day: pd.DataFrame, prefix: str) -> str:
    """Stacked bars: TEU leaving per day, one colour per corridor (``departures_by_day``)."""
    pivot = by_day.pivot_table(
        index="day", columns="corridor", values="teu", aggfunc="sum", fill_value=0.0
    )
    days = pd.RangeIndex(int(pivot.index.max()) + 1)
    pivot = pivot.reindex(days, fill_value=0.0)
    order = sorted(pivot.columns, key=lambda c: -float(pivot[c].sum()))
    fig = _figure(9.0, 3.2)
    ax = fig.add_subplot()
    bottom = np.zeros(len(days))
    for i, corridor in enumerate(order):
        values = pivot[corridor].to_numpy(dtype=float)
        bars = ax.bar(
            days, values, bottom=bottom, color=corridor_colour(str(corridor), i), width=0.7
        )
        bars.set_label(_plain(corridor))
        for day, patch in zip(days, bars.patches, strict=True):
            patch.set_gid(f"bar-{i}-{day}")
        bottom += values
    ax.set_xticks(list(days))
    ax.set_xlabel("day (0 is the week's Monday)")
    ax.set_ylabel("TEU leaving")
    ax.legend(fontsize=8, frameon=False, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return inline_svg(fig, prefix, "TEU leaving by day and corridor")


def queue_chart(queues: pd.DataFrame, prefix: str) -> str:
    """TEU queued at the end of each day, one line per border that has a queue."""
    from matplotlib.ticker import MaxNLocator

    fig = _figure(9.0, 3.0)
    ax = fig.add_subplot()
    queued = queues[queues["queued_teu"].astype(float) > 1e-9]
    for i, border in enumerate(sorted(queued["border"].astype(str).unique())):
        mine = queues[queues["border"].astype(str) == border].sort_values("day")
        (line,) = ax.plot(
            mine["day"], mine["queued_teu"], marker="o", label=_plain(border), linewidth=1.5
        )
        line.set_gid(f"queue-{i}")
    ax.set_xlabel("day (0 is the week's Monday)")
    ax.set_ylabel("TEU queued at day end")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return inline_svg(fig, prefix, "TEU queued at borders at the end of each day")


def gantt_chart(plan: Plan, near: pd.DataFrame, prefix: str) -> str:
    """Horizontal bars, one row per route of ``near`` (at most ``GANTT_ROWS``, most urgent at the
    top): a thin line while the lot waits (from ready), its legs in their corridor's colour, a
    red mark at its due time."""
    shown = near.head(GANTT_ROWS)
    corridor = _leg_corridor(plan)
    colours = {c: corridor_colour(c, i) for i, c in enumerate(sorted(set(corridor)))}
    tl = plan.timeline.assign(lot=plan.timeline["lot"].astype(str))
    fig = _figure(9.0, 1.2 + 0.38 * len(shown))
    ax = fig.add_subplot()
    labels = []
    for y, row in enumerate(shown.itertuples(index=False)):
        legs = tl[(tl["lot"] == row.lot) & (tl["route"].astype(int) == row.route)]
        legs = legs.sort_values("departs_h")
        waits = [
            (dep - wait, wait)
            for dep, wait in zip(legs["departs_h"], legs["wait_h"], strict=True)
            if wait > 0
        ]
        moves = list(zip(legs["departs_h"], legs["arrives_h"] - legs["departs_h"], strict=True))
        ax.broken_barh(waits, (y - 0.06, 0.12), facecolors=WAIT_COLOUR)
        colour = [
            colours.get(corridor.get(str(leg), NO_CORRIDOR), "#5d6d7e") for leg in legs["leg"]
        ]
        bars = ax.broken_barh(moves, (y - 0.3, 0.6), facecolors=colour, edgecolor="white")
        bars.set_gid(f"row-{y}")
        due = float(row.due_h)
        ax.plot([due, due], [y - 0.42, y + 0.42], color=DUE_COLOUR, linewidth=2.5)
        many = (near["lot"] == row.lot).sum() > 1
        labels.append(_plain(f"{row.lot} (route {row.route})" if many else row.lot))
    ax.set_yticks(range(len(shown)), labels)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    end = float(max(shown["due_h"].max(), shown["arrives_h"].max()))
    ax.set_xticks(np.arange(0.0, end + 24.0, 24.0))
    ax.set_xlabel("hours from the week start (Monday 00:00); thin line: waiting, red: due")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return inline_svg(fig, prefix, "Lots late or within 24 h of their due time")
