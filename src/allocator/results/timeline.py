"""A time-family solution as timed routes: when each lot leaves and reaches every node, which
departures run and who rides them, how much cargo queues at each border at the end of each day
(the plan's ``timeline``, ``departures`` and ``border_queues`` tables), which lots are still
moving when the week ends (``in_transit``), the flow carried into the week from the last one
(``carried``) and what this week carries into the next (``carry_over``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from allocator.formulation import BuiltModel, TimeData
from allocator.instance.model import Instance
from allocator.instance.weektime import weektime_text
from allocator.preprocess import Preprocessed

EPS = 1e-6
TIMELINE_COLUMNS = [
    "lot",
    "route",
    "leg",
    "ready_h",
    "departs_h",
    "arrives_h",
    "wait_h",
    "teu",
    "due_h",
    "slack_h",
]
DEPARTURE_COLUMNS = [
    "leg",
    "day",
    "time",
    "departs_h",
    "services",
    "teu",
    "slots_teu",
    "cost",
    "lots",
    "committed",
    "carried_teu",
]
IN_TRANSIT_COLUMNS = ["lot", "route", "teu", "state", "leg", "node", "departs_h", "arrives_h"]
CARRIED_COLUMNS = ["lot", "leg", "departs_h", "arrives_h", "teu"]
ON_LEG, WAITING, NOT_LEFT = "on leg", "waiting", "not left"
"""Where a lot is when the week ends: moving on a leg (or in the dwell at its end), waiting at
a node for its next leg, or not yet left its origin."""
QUEUE_COLUMNS = ["border", "day", "queued_teu", "crossed_teu", "capacity_teu_per_day"]
HOURS_PER_DAY = 24.0


@dataclass(frozen=True)
class TimedRoute:
    """One lot's share of a timed path: its leg arcs (``TimeData`` indices) and TEU."""

    lot: int
    arcs: list[int]
    teu: float


def _values(var: pyo.Var, n: int) -> np.ndarray:
    return np.array([var[i].value or 0.0 for i in range(n)], dtype=float)


def timed_paths(
    built: BuiltModel, inst: Instance, pre: Preprocessed
) -> tuple[list[TimedRoute], np.ndarray]:
    """The solution split into timed paths per lot (largest first within a commodity), and the
    unserved TEU of every timed commodity.

    The timed network is acyclic (every leg arc and waiting arc moves forward in time), so
    walking from a commodity's source along arcs with flow left always reaches its sink.
    """
    t, d, m = built.timed, built.data, built.model
    if t is None:
        raise ValueError("timed paths need a time-family model")
    net = pre.net
    z = _values(m.timed_flow, t.n_arcs)
    wait = _values(m.timed_wait, len(t.hold_from))
    unserved = _values(m.unserved, t.n_com)
    tail, head, source = t.ends(net.leg_from, net.leg_to, d.com_origin, d.com_dest)
    out: dict[int, list[tuple[int, int, bool]]] = defaultdict(list)  # node -> (next, arc, leg?)
    residual: dict[tuple[bool, int], float] = {}
    for e in np.flatnonzero(z > EPS).tolist():
        out[int(tail[e])].append((int(head[e]), e, True))
        residual[(True, e)] = float(z[e])
    for h in np.flatnonzero(wait > EPS).tolist():
        v = int(t.hold_from[h])
        out[v].append((v + 1, h, False))
        residual[(False, h)] = float(wait[h])
    lots_of: dict[int, list[int]] = defaultdict(list)
    for lot, k in enumerate(t.lot_com.tolist()):
        lots_of[k].append(lot)
    teu = inst.cargo["teu"].to_numpy(dtype=float)
    n_timed = len(t.node_key)
    routes: list[TimedRoute] = []
    for k in range(t.n_com):
        left = 1.0 - unserved[k] / d.com_teu[k]
        while left > EPS:
            v, walk = int(source[k]), []
            while v != n_timed + k and len(walk) <= len(residual):
                step = next(((w, a, leg) for w, a, leg in out[v] if residual[(leg, a)] > EPS), None)
                if step is None:
                    break
                walk.append(step)
                v = step[0]
            if v != n_timed + k:
                break  # rounding left a sliver without a path
            amount = min(left, *(residual[(leg, a)] for _, a, leg in walk))
            for _, a, leg in walk:
                residual[(leg, a)] -= amount
            left -= amount
            arcs = [a for _, a, leg in walk if leg]
            routes.extend(TimedRoute(lot, arcs, amount * teu[lot]) for lot in lots_of[k])
    return routes, unserved


def timeline_table(
    routes: list[TimedRoute], t: TimeData, inst: Instance, pre: Preprocessed
) -> pd.DataFrame:
    """One row per lot, route and leg: the lot's ready time, when it leaves and is ready at the
    far end (dwell done), the hours it waited before the leg, its TEU, and its due time and
    slack at the destination."""
    hours = pre.legs.hours
    ready, due = inst.ready_hours(), inst.due_hours()
    lot_ids = inst.cargo.index.to_numpy(dtype=object)
    leg_ids = pre.net.leg_ids
    rows = []
    counter: dict[int, int] = defaultdict(int)
    for r in routes:
        counter[r.lot] += 1
        dep = t.arc_dep_h[r.arcs]
        arr = dep + hours[t.arc_leg[r.arcs]]
        before = np.concatenate([[ready[r.lot]], arr[:-1]])
        slack = due[r.lot] - arr[-1]
        for i, e in enumerate(r.arcs):
            rows.append(
                (
                    lot_ids[r.lot],
                    counter[r.lot],
                    leg_ids[t.arc_leg[e]],
                    float(ready[r.lot]),
                    float(dep[i]),
                    float(arr[i]),
                    float(dep[i] - before[i]),
                    r.teu,
                    float(due[r.lot]),
                    float(slack),
                )
            )
    return pd.DataFrame.from_records(rows, columns=TIMELINE_COLUMNS)


def departures_table(
    built: BuiltModel, routes: list[TimedRoute], inst: Instance, pre: Preprocessed
) -> pd.DataFrame:
    """One row per departure slot that runs: leg, day (0 is the week's Monday), weekday and time
    (``Tue 08:00``), hours from the week start, departures leaving together, TEU aboard, slots,
    cost and the lots aboard; with carried flow also the departures already running for it
    (``committed``, paid last week, not in ``services``) and its TEU aboard (``carried_teu``, not
    in ``teu``)."""
    t = built.timed
    if t is None:
        raise ValueError("departures need a time-family model")
    n = _values(built.model.departures, t.n_slots)
    committed = t.slot_committed if len(t.slot_committed) else np.zeros(t.n_slots)
    on = t.carried_slot >= 0
    carried = np.bincount(t.carried_slot[on], t.carried_teu[on], minlength=t.n_slots)
    used = np.flatnonzero(n + committed > 0.5)
    teu = np.zeros(t.n_slots)
    lots: dict[int, list[str]] = defaultdict(list)
    lot_ids = inst.cargo.index.to_numpy(dtype=object)
    for r in routes:
        for e in r.arcs:
            s = int(t.arc_slot[e])
            if s >= 0:
                teu[s] += r.teu
                if lot_ids[r.lot] not in lots[s]:
                    lots[s].append(lot_ids[r.lot])
    runs = np.round(n[used])
    return pd.DataFrame(
        {
            "leg": pre.net.leg_ids[t.slot_leg[used]],
            "day": day_of(t.slot_dep_h[used]),
            "time": [weektime_text(h) for h in t.slot_dep_h[used]],
            "departs_h": t.slot_dep_h[used],
            "services": runs.astype(np.int64),
            "teu": teu[used],
            "slots_teu": runs * t.slot_capacity[used],
            "cost": runs * t.slot_cost[used],
            "lots": [", ".join(lots[int(s)]) for s in used],
            "committed": committed[used].astype(np.int64),
            "carried_teu": carried[used],
        },
        columns=DEPARTURE_COLUMNS,
    )


def carried_table(inst: Instance, hours: np.ndarray, leg_index: pd.Index) -> pd.DataFrame:
    """The instance's carried flow as the plan shows it: lot, leg, when it leaves and is ready
    at the far end (``hours`` per leg, in ``leg_index`` order), TEU."""
    c = inst.carried
    if c.empty:
        return pd.DataFrame(columns=CARRIED_COLUMNS)
    dep = c["departs_at"].to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "lot": c["lot"].to_numpy(dtype=object),
            "leg": c["leg"].to_numpy(dtype=object),
            "departs_h": dep,
            "arrives_h": dep + hours[leg_index.get_indexer(c["leg"])],
            "teu": c["teu"].to_numpy(dtype=float),
        },
        columns=CARRIED_COLUMNS,
    )


def in_transit_table(timeline: pd.DataFrame, legs: pd.DataFrame, end_h: float) -> pd.DataFrame:
    """One row per lot and route not at its destination (dwell done) when the week ends at
    ``end_h``: its TEU, where it is then (``state``: on a leg, waiting at a node for ``leg``, or
    not left its origin), the leg and the node (the head of the leg it is on, else where it
    waits), when that leg leaves, and when the route reaches its destination."""
    rows = []
    tl = timeline.sort_values(["lot", "route", "departs_h"], kind="stable")
    for (lot, route), r in tl.groupby(["lot", "route"], sort=False):
        if float(r["arrives_h"].iloc[-1]) <= end_h + EPS:
            continue
        i = int(np.argmax(r["arrives_h"].to_numpy(dtype=float) > end_h + EPS))
        leg, dep = r["leg"].iloc[i], float(r["departs_h"].iloc[i])
        if dep < end_h - EPS:
            state, node = ON_LEG, legs.at[leg, "to"]
        else:
            state, node = (WAITING if i else NOT_LEFT), legs.at[leg, "from"]
        final = float(r["arrives_h"].iloc[-1])
        rows.append((lot, route, float(r["teu"].iloc[0]), state, leg, node, dep, final))
    return pd.DataFrame.from_records(rows, columns=IN_TRANSIT_COLUMNS)


def carry_over(timeline: pd.DataFrame, carried: pd.DataFrame, end_h: float) -> pd.DataFrame:
    """What a week carries into the next, as the next week's ``carried`` table: every leg its
    lots (and the flow it carried itself) are on or committed to after the week ends at
    ``end_h`` — the legs they are on then and those leaving later — in the next week's clock
    (``departs_at`` less ``end_h``: negative for a leg left before the end)."""
    parts = [
        frame[frame["arrives_h"].astype(float) > end_h + EPS][["lot", "leg", "departs_h", "teu"]]
        for frame in (timeline, carried)
        if "arrives_h" in frame.columns
    ]
    if not parts:
        return pd.DataFrame(columns=["lot", "leg", "departs_at", "teu"])
    out = pd.concat(parts, ignore_index=True).astype({"departs_h": float, "teu": float})
    out = out.groupby(["lot", "leg", "departs_h"], sort=False)["teu"].sum().reset_index()
    return pd.DataFrame(
        {
            "lot": out["lot"].astype(str),
            "leg": out["leg"].astype(str),
            "departs_at": out["departs_h"] - end_h,
            "teu": out["teu"],
        }
    )


def day_of(hours: np.ndarray) -> np.ndarray:
    """The day (0 is the week's Monday) of times in hours from the week start."""
    return np.floor(np.asarray(hours, dtype=float) / HOURS_PER_DAY + 1e-9).astype(np.int64)


def border_queue_table(timeline: pd.DataFrame, inst: Instance) -> pd.DataFrame:
    """One row per border crossed and day, from day 0 to the last day cargo crosses it: the TEU
    queued at the end of the day, the TEU crossing that day and the border's daily capacity.

    TEU crossing on day ``d``: on the border's legs (both directions) leaving that day, as the
    daily capacity counts them. TEU queued at the end of day ``d``: on the border's legs, at the
    leg's tail (the previous leg's dwell done, or ready at the origin) before midnight
    ``24 (d + 1)`` and leaving at or after it: they wait overnight for the crossing.
    """
    border_of = inst.legs["border"]
    if timeline.empty:
        return pd.DataFrame(columns=QUEUE_COLUMNS)
    border = timeline["leg"].map(border_of).to_numpy(dtype=object)
    on = np.flatnonzero(pd.notna(border))
    if not len(on):
        return pd.DataFrame(columns=QUEUE_COLUMNS)
    b = border[on]
    dep = timeline["departs_h"].to_numpy(dtype=float)[on]
    at_tail = dep - timeline["wait_h"].to_numpy(dtype=float)[on]
    teu = timeline["teu"].to_numpy(dtype=float)[on]
    crossed = pd.DataFrame({"border": b, "day": day_of(dep), "teu": teu})
    # queued at the end of days day(at_tail) .. day(dep) - 1: at_tail < 24 (d + 1) <= dep
    first, last = day_of(at_tail), day_of(dep) - 1
    nights = np.maximum(last - first + 1, 0)
    row = np.repeat(np.arange(len(on)), nights)
    night = first[row] + np.arange(len(row)) - np.repeat(np.cumsum(nights) - nights, nights)
    queued = pd.DataFrame({"border": b[row], "day": night, "teu": teu[row]})
    frames = []
    for name, cross in crossed.groupby("border", sort=True):
        days = pd.RangeIndex(int(cross["day"].max()) + 1, name="day")
        mine = queued[queued["border"] == name]
        frames.append(
            pd.DataFrame(
                {
                    "border": name,
                    "day": days,
                    "queued_teu": mine.groupby("day")["teu"].sum().reindex(days, fill_value=0.0),
                    "crossed_teu": cross.groupby("day")["teu"].sum().reindex(days, fill_value=0.0),
                    "capacity_teu_per_day": inst.borders.at[name, "capacity_teu_per_day"],
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out["capacity_teu_per_day"] = out["capacity_teu_per_day"].astype(float)
    return out[QUEUE_COLUMNS]
