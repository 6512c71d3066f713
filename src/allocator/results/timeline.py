"""A time-family solution as timed routes: when each lot leaves and reaches every node, which
departures run and who rides them (the plan's ``timeline`` and ``departures`` tables)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from allocator.formulation import BuiltModel, TimeData
from allocator.instance.model import Instance
from allocator.preprocess import Preprocessed

EPS = 1e-6
TIMELINE_COLUMNS = [
    "lot",
    "route",
    "leg",
    "departs_h",
    "arrives_h",
    "wait_h",
    "teu",
    "due_h",
    "slack_h",
]
DEPARTURE_COLUMNS = ["leg", "day", "departs_h", "services", "teu", "slots_teu", "cost", "lots"]


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
    """One row per lot, route and leg: when it leaves and is ready at the far end (dwell done),
    the hours it waited before the leg, its TEU, and its due time and slack at the destination."""
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
    """One row per departure slot that runs: leg, day (0 is the week's Monday), hours from the
    week start, departures leaving together, TEU aboard, slots, cost and the lots aboard."""
    t = built.timed
    if t is None:
        raise ValueError("departures need a time-family model")
    n = _values(built.model.departures, t.n_slots)
    used = np.flatnonzero(n > 0.5)
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
            "day": np.floor(t.slot_dep_h[used] / 24.0 + 1e-9).astype(np.int64),
            "departs_h": t.slot_dep_h[used],
            "services": runs.astype(np.int64),
            "teu": teu[used],
            "slots_teu": runs * t.slot_capacity[used],
            "cost": runs * t.slot_cost[used],
            "lots": [", ".join(lots[int(s)]) for s in used],
        },
        columns=DEPARTURE_COLUMNS,
    )
