"""The index sets and coefficients a formulation is built from, as flat numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd

from allocator.instance.model import Instance
from allocator.instance.weektime import HOURS_PER_WEEK
from allocator.preprocess import Preprocessed
from allocator.preprocess.costs import shortest_paths
from allocator.preprocess.paths import PathSet


@dataclass(frozen=True)
class ArcData:
    """Arrays of the arc formulation.

    A *flow group* ``g`` owns flow variables: one commodity each, or with ``aggregate='origin'``
    every commodity of one origin and class. Flow variable ``p`` is group ``pair_group[p]`` on leg
    ``pair_leg[p]`` at cost ``pair_cost[p]`` per TEU. Commodity ``k`` belongs to group ``com_group[k]``.
    """

    pair_group: np.ndarray
    pair_leg: np.ndarray
    pair_cost: np.ndarray
    group_teu: np.ndarray
    com_group: np.ndarray
    com_teu: np.ndarray
    com_penalty: np.ndarray
    com_origin: np.ndarray
    com_dest: np.ndarray
    leg_capacity: np.ndarray  # inf where unlimited
    leg_service_capacity: np.ndarray  # nan where not a service leg
    leg_service_cost: np.ndarray
    leg_max_services: np.ndarray  # inf where unlimited
    leg_fixed_cost: np.ndarray
    leg_border: np.ndarray  # border index or -1
    border_capacity: np.ndarray
    node_capacity: np.ndarray
    forbid_unserved: bool
    integer_teu: bool
    # per leg, for the trade-off blocks (define_co2_limit, define_days_limit; allocator.analysis.pareto)
    leg_co2_kg: np.ndarray = field(default_factory=lambda: np.zeros(0))  # kg CO2 per TEU
    leg_hours: np.ndarray = field(default_factory=lambda: np.zeros(0))  # hours per TEU crossing

    @property
    def n_pairs(self) -> int:
        """Number of flow variables."""
        return len(self.pair_leg)

    @property
    def service_legs(self) -> np.ndarray:
        """Indices of legs run by departures."""
        return np.flatnonzero(~np.isnan(self.leg_service_capacity))

    @property
    def candidate_legs(self) -> np.ndarray:
        """Indices of legs the plan may open at their fixed cost."""
        return np.flatnonzero(self.leg_fixed_cost > 0)

    def pairs_by(self, key: np.ndarray, n: int) -> list[list[int]]:
        """Flow-variable indices grouped by ``key[p]`` in ``0..n-1`` (negative keys dropped)."""
        order = np.argsort(key, kind="stable")
        bounds = np.searchsorted(key[order], np.arange(n + 1)).tolist()
        flat = order.tolist()
        return [flat[bounds[i] : bounds[i + 1]] for i in range(n)]

    @cached_property
    def pairs_by_leg(self) -> list[list[int]]:
        """Flow-variable indices of each leg."""
        return self.pairs_by(self.pair_leg, len(self.leg_capacity))


@dataclass(frozen=True)
class PathData:
    """Paths and their link to (commodity, leg) pairs: path ``p`` uses pairs
    ``path_pairs[paths.ptr[p]:paths.ptr[p+1]]``; pair ``i`` is on paths ``pair_paths[pair_ptr[i]:pair_ptr[i+1]]``."""

    paths: PathSet
    path_pairs: np.ndarray
    pair_ptr: np.ndarray
    pair_paths: np.ndarray


def arc_data(
    inst: Instance, pre: Preprocessed, *, aggregate: str = "none", integer_teu: bool = False
) -> ArcData:
    """Flow groups, flow variables and capacities of the arc formulation."""
    com = pre.commodities
    com_k, legs = pre.pairs()
    if aggregate == "origin":
        key = com["class_idx"].to_numpy() * pre.net.n_nodes + com["origin_idx"].to_numpy()
        _, com_group = np.unique(key, return_inverse=True)
        pair = np.unique(np.stack([com_group[com_k], legs]), axis=1)
        pair_group, pair_leg = pair[0], pair[1]
    elif aggregate == "none":
        com_group = np.arange(len(com))
        pair_group, pair_leg = com_k, legs
    else:
        raise ValueError(f"aggregate must be 'none' or 'origin', not {aggregate!r}")
    group_class = np.zeros(com_group.max() + 1 if len(com) else 0, dtype=np.int64)
    group_class[com_group] = com["class_idx"].to_numpy()
    teu = com["teu"].to_numpy(dtype=float)
    ls = inst.legs
    border_idx = pd.Index(inst.borders.index).get_indexer(ls["border"])
    return ArcData(
        pair_group=pair_group.astype(np.int64),
        pair_leg=pair_leg.astype(np.int64),
        pair_cost=pre.cost[group_class[pair_group], pair_leg],
        group_teu=np.bincount(com_group, weights=teu, minlength=len(group_class)),
        com_group=com_group.astype(np.int64),
        com_teu=teu,
        com_penalty=com["penalty_per_teu"].to_numpy(dtype=float),
        com_origin=com["origin_idx"].to_numpy(),
        com_dest=com["dest_idx"].to_numpy(),
        leg_capacity=ls["capacity_teu"].fillna(np.inf).to_numpy(dtype=float),
        leg_service_capacity=ls["service_capacity_teu"].to_numpy(dtype=float),
        leg_service_cost=ls["service_cost"].fillna(0.0).to_numpy(dtype=float),
        leg_max_services=ls["max_services"].astype("float64").fillna(np.inf).to_numpy(dtype=float),
        leg_fixed_cost=ls["fixed_cost"].fillna(0.0).to_numpy(dtype=float),
        leg_border=border_idx.astype(np.int64),
        border_capacity=inst.borders["capacity_teu"].fillna(np.inf).to_numpy(dtype=float),
        node_capacity=inst.nodes["handling_capacity_teu"].fillna(np.inf).to_numpy(dtype=float),
        forbid_unserved=inst.settings.unserved == "forbid",
        integer_teu=integer_teu,
        leg_co2_kg=pre.legs.co2_kg,
        leg_hours=pre.legs.hours,
    )


DEFAULT_STEP_MINUTES = 60.0
"""Step of the ``time`` family's grid when its recipe names none."""
_EPS = 1e-9  # a time within 1e-9 steps of a grid point is on it


@dataclass(frozen=True)
class Discretization:
    """Time points (whole minutes from the week start) per node: node ``i`` has the sorted points
    ``minutes[ptr[i]:ptr[i + 1]]``. Built into a network either *relaxed* (a leg arc reaches
    the latest point at its head at or before it would really arrive: never slower than reality,
    a lower bound) or *restricted* (the earliest point at or after: never faster, every plan holds).
    """

    ptr: np.ndarray
    minutes: np.ndarray
    relaxed: bool

    @classmethod
    def of(cls, points: list[np.ndarray], *, relaxed: bool) -> Discretization:
        """From one array of minutes per node (any order, repeats allowed)."""
        sets = [np.unique(np.asarray(p, dtype=np.int64)) for p in points]
        ptr = np.zeros(len(sets) + 1, dtype=np.int64)
        np.cumsum([len(p) for p in sets], out=ptr[1:])
        return cls(ptr, np.concatenate(sets) if sets else np.zeros(0, np.int64), relaxed)

    def add(self, node: np.ndarray, minutes: np.ndarray) -> Discretization:
        """With the points ``minutes[i]`` added at ``node[i]`` (the same mode)."""
        n_nodes = len(self.ptr) - 1
        span = int(max(self.minutes.max(initial=0), np.max(minutes, initial=0))) + 1
        keys = np.unique(np.concatenate([self.keys(span), node * span + minutes]))
        ptr = np.zeros(n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys // span, minlength=n_nodes), out=ptr[1:])
        return Discretization(ptr, (keys % span).astype(np.int64), self.relaxed)

    def at(self, node: int) -> np.ndarray:
        """The points of ``node``."""
        return self.minutes[self.ptr[node] : self.ptr[node + 1]]

    @property
    def n_points(self) -> int:
        """Number of (node, point) pairs."""
        return len(self.minutes)

    def keys(self, span: int) -> np.ndarray:
        """``node * span + minute`` of every point: sorted, for searching."""
        return np.repeat(np.arange(len(self.ptr) - 1), np.diff(self.ptr)) * span + self.minutes


@dataclass(frozen=True)
class TimeData:
    """The time-expanded network of the ``time`` family at step ``step_h`` hours.

    Time points are ``t * step_h`` hours from the week start, ``t = 0 .. n_steps`` (horizon plus
    runoff, rounded down to the grid). A *timed commodity* ``k`` is the lots of one arc-family
    commodity ready at the same time (one lot each under ``unsplittable_lots``): ``lot_com`` maps
    lots to it, ``com_pre`` it to its arc-family commodity. Release steps are rounded up, due
    steps down and leg hours up, so the model never moves cargo faster than reality.

    Timed *leg arcs* ``e``: commodity ``arc_com[e]`` leaves the tail of leg ``arc_leg[e]`` at step
    ``arc_tail[e]`` (in reality at ``arc_dep_h[e]`` hours) and is at its head, dwell done, at step
    ``arc_head[e]``; ``arc_cost[e]`` is its cost per TEU, ``arc_pair[e]`` its (commodity, leg)
    pair in the build's ArcData and ``arc_slot[e]`` its departure slot (-1 on a leg run neither
    on demand nor by timetable). *Timed nodes* (``node_key``, sorted, ``(k * n_nodes + node) *
    (n_steps + 1) + t``) are where a commodity can be; waiting arc ``h`` joins timed node
    ``hold_from[h]`` to the next one of the same commodity and node. An arc into its commodity's
    destination ends in the commodity's sink.

    *Departure slots* ``s``: a time at which a leg dispatched on demand may send departures (any
    number; ``slot_timetabled`` False), or one run of a timetabled departure (run or not).

    *Carried flow* ``c`` (the instance's ``carried`` table, fixed): ``carried_teu[c]`` TEU on leg
    ``carried_leg[c]`` leaving at ``carried_dep_h[c]`` hours (negative: before the week began),
    on slot ``carried_slot[c]`` (-1: no departure of this week's clock); ``slot_committed[s]``
    departures of slot ``s`` already run for it: one timetable run, or the fewest departures on
    demand that carry its TEU.
    """

    step_h: float
    n_steps: int
    n_nodes: int
    unsplittable: bool
    lot_com: np.ndarray
    com_pre: np.ndarray
    com_ready_h: np.ndarray
    com_due_h: np.ndarray  # inf: no due time
    com_release: np.ndarray  # step
    arc_com: np.ndarray
    arc_leg: np.ndarray
    arc_tail: np.ndarray
    arc_head: np.ndarray
    arc_dep_h: np.ndarray
    arc_cost: np.ndarray
    arc_pair: np.ndarray
    arc_slot: np.ndarray
    node_key: np.ndarray
    hold_from: np.ndarray
    slot_leg: np.ndarray
    slot_dep_h: np.ndarray
    slot_capacity: np.ndarray
    slot_cost: np.ndarray
    slot_timetabled: np.ndarray
    leg_headway_h: np.ndarray  # 0: no least gap
    leg_reach_h: np.ndarray  # transit and border dwell: hours until the head node is reached
    border_day_capacity: np.ndarray  # inf: unlimited
    node_day_capacity: np.ndarray
    carried_leg: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    carried_dep_h: np.ndarray = field(default_factory=lambda: np.zeros(0))
    carried_teu: np.ndarray = field(default_factory=lambda: np.zeros(0))
    carried_slot: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    slot_committed: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n_arcs(self) -> int:
        """Number of timed leg arcs."""
        return len(self.arc_com)

    @property
    def n_com(self) -> int:
        """Number of timed commodities."""
        return len(self.com_pre)

    @property
    def n_slots(self) -> int:
        """Number of departure slots."""
        return len(self.slot_leg)

    def node_parts(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(commodity, node, step) of timed node keys."""
        place, t = np.divmod(keys, self.n_steps + 1)
        k, node = np.divmod(place, self.n_nodes)
        return k, node, t

    def node_of(self, k: np.ndarray, node: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Timed node keys of (commodity, node, step)."""
        return (k * self.n_nodes + node) * (self.n_steps + 1) + t

    def ends(
        self, leg_from: np.ndarray, leg_to: np.ndarray, com_origin: np.ndarray, com_dest: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Timed node rows (positions in ``node_key``; ``len(node_key) + k`` is commodity ``k``'s
        sink) of every leg arc's tail and head, and of every commodity's source."""
        tail = np.searchsorted(
            self.node_key, self.node_of(self.arc_com, leg_from[self.arc_leg], self.arc_tail)
        )
        head_key = self.node_of(self.arc_com, leg_to[self.arc_leg], self.arc_head)
        head = np.where(
            leg_to[self.arc_leg] == com_dest[self.arc_com],
            len(self.node_key) + self.arc_com,
            np.searchsorted(self.node_key, head_key),
        )
        k = np.arange(self.n_com)
        source = np.searchsorted(
            self.node_key, self.node_of(k, com_origin, np.minimum(self.com_release, self.n_steps))
        )
        return tail, head, source


def _ceil(x: np.ndarray) -> np.ndarray:
    return np.ceil(np.asarray(x, dtype=float) - _EPS)


def _floor(x: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=float) + _EPS)


def _ranges(lo: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ``count[i]`` consecutive integers from ``lo[i]``: the row ``i`` of each and the integers."""
    count = np.maximum(count, 0).astype(np.int64)
    row = np.repeat(np.arange(len(count)), count)
    within = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    return row, np.asarray(lo, dtype=np.int64)[row] + within


def _on_points(
    points: Discretization,
    span: int,
    tail_node: np.ndarray,
    head_node: np.ndarray,
    earliest: np.ndarray,
    last_tail: np.ndarray,
    tau: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leg arcs of candidates (tail node, head node, earliest step at the tail, last step to
    leave, steps of the leg) on a discretization: the candidate row, tail point and head point
    of each.

    Relaxed: every point ``t`` of the tail whose interval up to the next point holds a possible
    departure time ``s`` (``earliest <= s <= last_tail``) gives an arc reaching the latest head
    point at or before ``t + tau`` (the arc is *too short* when that is before ``t + tau``; every
    plan of reality maps onto the network: a lower bound). Restricted: every point in
    ``[earliest, last_tail]`` gives an arc reaching the earliest head point at or after
    ``t + tau`` (none when there is no such point).
    """
    keys = points.keys(span)
    end = points.ptr[tail_node + 1]
    last_tail = np.minimum(last_tail, span - 2)
    if points.relaxed:
        first = np.searchsorted(keys, tail_node * span + earliest, side="right") - 1
        first = np.maximum(first, points.ptr[tail_node])
    else:
        first = np.searchsorted(keys, tail_node * span + earliest, side="left")
    stop = np.minimum(np.searchsorted(keys, tail_node * span + last_tail, side="right"), end)
    count = np.where(earliest <= last_tail, stop - first, 0)
    row, at = _ranges(first, count)
    t = points.minutes[at]
    reach = np.minimum(t + tau[row], span - 1)
    j = head_node[row]
    if points.relaxed:
        h = np.searchsorted(keys, j * span + reach, side="right") - 1
        ok = h >= points.ptr[j]
    else:
        h = np.searchsorted(keys, j * span + reach, side="left")
        ok = h < points.ptr[j + 1]
    h = np.minimum(h, len(keys) - 1)
    return row[ok], t[ok], points.minutes[h[ok]]


class TimeNetworkTooLarge(Exception):
    """A time network over its size limit, counted before it is made."""

    def __init__(self, arcs: int) -> None:
        super().__init__(f"{arcs:,} departure arcs")
        self.arcs = arcs


def time_data(
    inst: Instance,
    pre: Preprocessed,
    base: ArcData,
    step_minutes: float,
    points: Discretization | None = None,
    max_arcs: int | None = None,
) -> tuple[ArcData, TimeData]:
    """The timed network at ``step_minutes`` and the ArcData whose flow groups are its timed
    commodities and whose pairs are the (commodity, leg) pairs with a timed arc.

    With ``points``, legs run at any time depart only at the discretization's points (steps of
    one minute), its mode deciding where they arrive (``Discretization``); it needs no
    timetable (legs run by timetable are not part of it).

    With ``max_arcs``, a network whose legs run at any time already need more departure arcs
    raises ``TimeNetworkTooLarge`` before any arc is made."""
    if points is not None:
        step_minutes = 1.0
    if not step_minutes > 0:
        raise ValueError(f"step_minutes must be > 0, not {step_minutes!r}")
    step = float(step_minutes) / 60.0
    s, net, legs = inst.settings, pre.net, pre.legs
    n_nodes, n_legs = net.n_nodes, net.n_legs
    end_h = s.horizon_hours + s.runoff_hours
    n_steps = int(_floor(end_h / step))
    com = pre.commodities

    # timed commodities: lots of one commodity ready at the same time (one per lot when whole)
    ready, due = inst.ready_hours(), inst.due_hours()
    lot_pre = pre.lot_commodity.astype(np.int64)
    if s.unsplittable_lots:
        first = np.arange(len(lot_pre))
        lot_com = first.copy()
    else:
        keys = np.stack([lot_pre.astype(float), ready])
        _, first, lot_com = np.unique(keys, axis=1, return_index=True, return_inverse=True)
        lot_com = np.asarray(lot_com).ravel().astype(np.int64)
    com_pre = lot_pre[first]
    n_com = len(com_pre)
    com_teu = np.bincount(lot_com, weights=inst.cargo["teu"].to_numpy(float), minlength=n_com)
    ready_h, due_h = ready[first], due[first]
    release = _ceil(ready_h / step).astype(np.int64)
    due_step = np.minimum(_floor(np.where(np.isfinite(due_h), due_h / step, n_steps)), n_steps)
    origin = com["origin_idx"].to_numpy()[com_pre]
    dest = com["dest_idx"].to_numpy()[com_pre]
    cls = com["class_idx"].to_numpy()[com_pre]

    # least steps from the origin and to the destination bound when a commodity can be where
    tau = np.maximum(1.0, _ceil(legs.hours / step)).astype(np.int64)
    steps = np.where(np.isfinite(pre.time), np.maximum(1.0, _ceil(pre.time / step)), np.inf)
    fwd_src, fwd_row = np.unique(cls * n_nodes + origin, return_inverse=True)
    bwd_src, bwd_row = np.unique(cls * n_nodes + dest, return_inverse=True)
    fdist, _ = shortest_paths(net, steps, fwd_src % n_nodes, fwd_src // n_nodes)
    bdist, _ = shortest_paths(net, steps, bwd_src % n_nodes, bwd_src // n_nodes, reverse=True)

    # (commodity, usable leg) candidates with their window of steps
    ptr = pre.usable_ptr
    row, within = _ranges(ptr[com_pre], np.diff(ptr)[com_pre])
    pk, pa = row, pre.usable_legs[within]
    tail_node, head_node = net.leg_from[pa], net.leg_to[pa]
    earliest = release[pk] + fdist[fwd_row[pk], tail_node]  # first step at the tail
    latest = due_step[pk] - bdist[bwd_row[pk], head_node]  # last step at the head
    keep = (head_node != origin[pk]) & (tail_node != dest[pk])
    keep &= np.isfinite(earliest) & np.isfinite(latest) & (earliest <= n_steps)
    pk, pa, earliest, latest = pk[keep], pa[keep], earliest[keep], latest[keep]
    earliest = earliest.astype(np.int64)
    latest = np.minimum(latest, n_steps).astype(np.int64)

    dep = inst.departures
    timetabled = np.zeros(n_legs, dtype=bool)
    run_leg = dep["leg"].map(net.leg_to_idx).to_numpy(dtype=np.int64)
    timetabled[run_leg] = True
    on_demand = ~np.isnan(base.leg_service_capacity)

    # legs run at any time: every step of the window, or every point of the discretization
    free = ~timetabled[pa]
    if points is None:
        window = latest[free] - tau[pa[free]] - earliest[free] + 1
        if max_arcs is not None and (n_free := int(np.maximum(window, 0).sum())) > max_arcs:
            raise TimeNetworkTooLarge(n_free)
        row, tail = _ranges(earliest[free], window)
        f_com, f_leg = pk[free][row], pa[free][row]
        f_head = tail + tau[f_leg]
    else:
        fa = pa[free]
        row, tail, f_head = _on_points(
            points,
            n_steps + 2,
            net.leg_from[fa],
            net.leg_to[fa],
            earliest[free],
            latest[free] - tau[fa],
            tau[fa],
        )
        f_com, f_leg = pk[free][row], fa[row]
    f_dep = tail * step
    f_slot_key = np.where(on_demand[f_leg], f_leg * (n_steps + 1) + tail, -1)

    # timetabled legs: each run of the weekly pattern inside the window
    weeks = int(np.ceil(end_h / HOURS_PER_WEEK)) + 1
    run_row = np.repeat(np.arange(len(dep)), weeks)
    run_h = np.repeat(inst.departure_hours(), weeks) + HOURS_PER_WEEK * np.tile(
        np.arange(weeks), len(dep)
    )
    run_leg = run_leg[run_row]
    run_tail = _floor(run_h / step).astype(np.int64)
    run_head = _ceil((run_h + legs.hours[run_leg]) / step).astype(np.int64)
    runs = np.flatnonzero((run_h < end_h - _EPS) & (run_head <= n_steps))
    runs = runs[np.argsort(run_leg[runs], kind="stable")]
    run_ptr = np.zeros(n_legs + 1, dtype=np.int64)
    np.cumsum(np.bincount(run_leg[runs], minlength=n_legs), out=run_ptr[1:])
    tt = ~free
    row, within = _ranges(run_ptr[pa[tt]], np.diff(run_ptr)[pa[tt]])
    r = runs[within]
    fits = (run_tail[r] >= earliest[tt][row]) & (run_head[r] <= latest[tt][row])
    row, r = row[fits], r[fits]
    t_com, t_leg = pk[tt][row], pa[tt][row]

    arc_com = np.concatenate([f_com, t_com]).astype(np.int64)
    arc_leg = np.concatenate([f_leg, t_leg]).astype(np.int64)
    arc_tail = np.concatenate([tail, run_tail[r]]).astype(np.int64)
    arc_head = np.concatenate([f_head, run_head[r]]).astype(np.int64)
    arc_dep_h = np.concatenate([f_dep, run_h[r]]).astype(float)

    # departure slots: (leg, step) of legs run on demand, runs of the timetable, and the
    # departures carried flow rides
    run_base = n_legs * (n_steps + 1)
    slot_key = np.concatenate([f_slot_key, run_base + r])
    carried = inst.carried
    c_leg = carried["leg"].map(net.leg_to_idx).to_numpy(dtype=np.int64) if len(carried) else None
    c_leg = np.zeros(0, dtype=np.int64) if c_leg is None else c_leg
    c_dep = carried["departs_at"].to_numpy(dtype=float) if len(carried) else np.zeros(0)
    c_teu = carried["teu"].to_numpy(dtype=float) if len(carried) else np.zeros(0)
    c_key = _carried_slot_keys(c_leg, c_dep, step, n_steps, on_demand, run_leg, run_h, run_base)
    slots = np.unique(np.concatenate([slot_key, c_key]))
    slots = slots[slots >= 0]
    arc_slot = np.where(slot_key >= 0, np.searchsorted(slots, slot_key), -1).astype(np.int64)
    carried_slot = np.where(c_key >= 0, np.searchsorted(slots, c_key), -1).astype(np.int64)
    demand = slots < run_base  # sorted: slots on demand first, then timetable runs
    on_leg, run = slots[demand], slots[~demand] - run_base
    slot_leg = np.concatenate([on_leg // (n_steps + 1), run_leg[run]]).astype(np.int64)
    slot_dep_h = np.concatenate([(on_leg % (n_steps + 1)) * step, run_h[run]])
    slot_capacity = np.concatenate(
        [
            base.leg_service_capacity[slot_leg[demand]],
            dep["capacity_teu"].to_numpy(float)[run_row[run]],
        ]
    )
    slot_cost = np.concatenate(
        [
            base.leg_service_cost[slot_leg[demand]],
            dep["cost"].fillna(0.0).to_numpy(float)[run_row[run]],
        ]
    )

    # cost per TEU: freight, border, handling and CO2 price on every leg; the time value of the
    # door-to-door hours (ready to arrival) on the leg that reaches the destination
    value = inst.classes.loc[pre.class_ids, "value_per_teu_day"].to_numpy(dtype=float)
    arrives = net.leg_to[arc_leg] == dest[arc_com]
    door_h = arc_dep_h + legs.hours[arc_leg] - ready_h[arc_com]
    arc_cost = (
        legs.base_cost[arc_leg]
        + s.co2_price_per_t * legs.co2_kg[arc_leg] / 1000.0
        + np.where(arrives, value[cls[arc_com]] * door_h / 24.0, 0.0)
    )

    # departures already run for the carried flow: a timetable run, or enough to carry its TEU
    aboard = np.bincount(carried_slot[carried_slot >= 0], c_teu[carried_slot >= 0], len(slots))
    slot_committed = np.where(
        aboard > 0, np.where(~demand, 1.0, np.ceil(aboard / slot_capacity - 1e-9)), 0.0
    )

    pair_key, arc_pair = np.unique(arc_com * n_legs + arc_leg, return_inverse=True)
    pair_group, pair_leg = pair_key // n_legs, pair_key % n_legs

    # timed nodes: sources, arc tails, arc heads short of the destination

    def key(k: np.ndarray, i: np.ndarray, t: np.ndarray) -> np.ndarray:
        return (k * n_nodes + i) * (n_steps + 1) + t

    node_key = np.unique(
        np.concatenate(
            [
                key(np.arange(n_com), origin, np.minimum(release, n_steps)),
                key(arc_com, net.leg_from[arc_leg], arc_tail),
                key(arc_com[~arrives], net.leg_to[arc_leg[~arrives]], arc_head[~arrives]),
            ]
        )
    )
    place = node_key // (n_steps + 1)
    hold_from = np.flatnonzero(place[1:] == place[:-1]).astype(np.int64)

    nodes = inst.nodes
    node_dwell = nodes["dwell_hours"].to_numpy(dtype=float)
    d = replace(
        base,
        pair_group=pair_group.astype(np.int64),
        pair_leg=pair_leg.astype(np.int64),
        pair_cost=pre.cost[cls[pair_group], pair_leg] if len(pair_key) else np.zeros(0),
        group_teu=com_teu,
        com_group=np.arange(n_com, dtype=np.int64),
        com_teu=com_teu,
        com_penalty=com["penalty_per_teu"].to_numpy(dtype=float)[com_pre],
        com_origin=origin,
        com_dest=dest,
        integer_teu=False,
    )
    timed = TimeData(
        step_h=step,
        n_steps=n_steps,
        n_nodes=n_nodes,
        unsplittable=bool(s.unsplittable_lots),
        lot_com=lot_com,
        com_pre=com_pre,
        com_ready_h=ready_h,
        com_due_h=due_h,
        com_release=release,
        arc_com=arc_com,
        arc_leg=arc_leg,
        arc_tail=arc_tail,
        arc_head=arc_head,
        arc_dep_h=arc_dep_h,
        arc_cost=arc_cost,
        arc_pair=np.asarray(arc_pair).ravel().astype(np.int64),
        arc_slot=arc_slot,
        node_key=node_key.astype(np.int64),
        hold_from=hold_from,
        slot_leg=slot_leg,
        slot_dep_h=slot_dep_h.astype(float),
        slot_capacity=slot_capacity.astype(float),
        slot_cost=slot_cost.astype(float),
        slot_timetabled=~demand,
        leg_headway_h=inst.legs["min_headway_hours"].fillna(0.0).to_numpy(dtype=float),
        leg_reach_h=legs.hours - node_dwell[net.leg_to],
        border_day_capacity=inst.borders["capacity_teu_per_day"].fillna(np.inf).to_numpy(float),
        node_day_capacity=nodes["handling_capacity_teu_per_day"].fillna(np.inf).to_numpy(float),
        carried_leg=c_leg,
        carried_dep_h=c_dep,
        carried_teu=c_teu,
        carried_slot=carried_slot,
        slot_committed=slot_committed,
    )
    return d, timed


def _carried_slot_keys(
    leg: np.ndarray,
    dep_h: np.ndarray,
    step: float,
    n_steps: int,
    on_demand: np.ndarray,
    run_leg: np.ndarray,
    run_h: np.ndarray,
    run_base: int,
) -> np.ndarray:
    """The slot key of each carried row's departure: (leg, step) on demand (its time rounded
    up to the grid), the timetable run leaving then, -1 when it left before the week began or
    its leg runs neither way."""
    keys = np.full(len(leg), -1, dtype=np.int64)
    for c in np.flatnonzero(dep_h >= -_EPS):
        a, h = int(leg[c]), float(dep_h[c])
        if on_demand[a]:
            keys[c] = a * (n_steps + 1) + min(int(_ceil(h / step)), n_steps)
        else:
            hit = np.flatnonzero((run_leg == a) & (np.abs(run_h - h) < 1e-6))
            keys[c] = run_base + int(hit[0]) if len(hit) else -1
    return keys
