"""Why not? A reason for every unserved lot, and the capacity increases an infeasible plan needs.

Every explanation is found by the engine, never guessed:

* **no route**: reachability from the origin is re-run with each restriction row of the lot's
  class lifted; the rows whose lifting opens a route are named (if no single row does, a minimal
  set is found by a deletion filter: lift all, then put each back unless that closes the route
  again). If even no restriction at all leaves a route, no chain of legs connects origin and
  destination: the detail names how far each side reaches and the shortest missing link.
* **no route within due days**: the fastest route and its days against the due days.
* **cost above penalty**: the cheapest in-time route costs more per TEU than leaving it unmoved.
* **capacity**: the full legs, borders, terminals and service departures (or a departure not
  run, a candidate leg not opened) on the lot's cheapest in-time route and, when bottleneck
  prices were computed, on its cheapest route at capacity prices, with the prices and the TEU
  that would be needed (the unserved TEU). "In time" follows the arc models: legs that lie on
  some path within the due days.

Under ``unserved = forbid`` a lot without a route stops the run before any model is built
(``unroutable_error``), and an infeasible instance gets an elastic re-solve
(``elastic_capacity``, named in ``no_plan_error``): the arc model with slack TEU on every
capacity row (``formulation.arc.define_capacity_slack``), solved lexicographically: least extra
TEU first (phase 1), then least cost with the extra TEU held at that minimum (phase 2).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from allocator.analysis.prices import in_time_legs
from allocator.errors import AllocatorError, InfeasibleError, SolverError
from allocator.formulation import Recipe, build, load_recipe
from allocator.instance.model import ROUTE_SEPARATOR, Instance
from allocator.preprocess import Network, Preprocessed, preprocess
from allocator.preprocess.costs import cost_matrix, restriction_scopes, shortest_paths
from allocator.preprocess.graph import route_legs
from allocator.preprocess.kernels import haversine_km
from allocator.results import Plan
from allocator.solve import SolveOptions, SolveResult, Termination, solve

logger = logging.getLogger(__name__)

CHUNK = 1024  # commodities per Dijkstra call (bounds the weight matrix in memory)
FULL_TOL = 1e-6  # relative: a capacity is full when load >= capacity (1 - FULL_TOL)
COST_REASON = "cost above penalty"


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.4g}"


# ---------------------------------------------------------------- restrictions and reachability


def restriction_blocks(inst: Instance, net: Network) -> list[tuple[int, str, np.ndarray]]:
    """Each restriction row as (row position, class, legs it forbids), as ``allowed_matrix`` reads it."""
    per_leg = restriction_scopes(inst, net)
    out = []
    for i, (cls, scope, target) in enumerate(
        zip(
            inst.restrictions["class"],
            inst.restrictions["scope"],
            inst.restrictions["target"],
            strict=True,
        )
    ):
        blocked = np.zeros(net.n_legs, dtype=bool)
        for attr in per_leg[str(scope)]:
            blocked |= pd.Series(attr).eq(target).to_numpy()
        out.append((i, str(cls), blocked))
    return out


def describe_restriction(inst: Instance, i: int) -> str:
    """'class X may not use border Y (reason)' for restriction row ``i``."""
    r = inst.restrictions.iloc[i]
    reason = r.get("reason")
    why = f" ({reason})" if isinstance(reason, str) and reason.strip() else ""
    return f"'{r['class']} may not use {r['scope']} {r['target']}'{why}"


def reach(net: Network, usable: np.ndarray, start: int, *, reverse: bool = False) -> np.ndarray:
    """Nodes reachable from ``start`` over usable legs (that reach ``start``, with ``reverse``)."""
    ptr, legs, heads = (
        (net.in_ptr, net.in_legs, net.in_tail)
        if reverse
        else (net.out_ptr, net.out_legs, net.out_head)
    )
    seen = np.zeros(net.n_nodes, dtype=bool)
    seen[start] = True
    queue = deque([start])
    while queue:
        u = queue.popleft()
        for e in range(ptr[u], ptr[u + 1]):
            v = int(heads[e])
            if usable[legs[e]] and not seen[v]:
                seen[v] = True
                queue.append(v)
    return seen


class _Context:
    """Per-instance data the explanations share (computed once)."""

    def __init__(self, inst: Instance, pre: Preprocessed) -> None:
        self.inst, self.pre, self.net = inst, pre, pre.net
        self.blocks = restriction_blocks(inst, pre.net)
        self._unrestricted: np.ndarray | None = None
        self._reach: dict[tuple[str, frozenset[int], int], np.ndarray] = {}

    def reach_from(self, cls: str, lifted: frozenset[int], origin: int) -> np.ndarray:
        """Nodes the class reaches from ``origin`` with ``lifted`` restriction rows taken away
        (cached: lots of one class and origin share it)."""
        key = (cls, lifted, origin)
        if key not in self._reach:
            self._reach[key] = reach(self.net, self.usable(cls, set(lifted)), origin)
        return self._reach[key]

    def unrestricted_cost(self) -> np.ndarray:
        """C[class, leg] with no restriction applied."""
        if self._unrestricted is None:
            every = np.ones_like(self.pre.allowed)
            self._unrestricted, _ = cost_matrix(self.inst, self.pre.legs, every, self.pre.class_ids)
        return self._unrestricted

    def usable(self, cls: str, lifted: set[int]) -> np.ndarray:
        """Legs the class may use with the restriction rows in ``lifted`` taken away."""
        ok = np.ones(self.net.n_legs, dtype=bool)
        for i, c, blocked in self.blocks:
            if c == cls and i not in lifted:
                ok &= ~blocked
        return ok

    def legs_text(self, legs: list[int]) -> str:
        return ROUTE_SEPARATOR.join(self.net.leg_ids[legs])


def no_route_detail(inst: Instance, pre: Preprocessed, k: int, ctx: _Context | None = None) -> str:
    """Why commodity ``k`` has no route at all: the restriction(s) that cut it, or the missing link."""
    ctx = ctx or _Context(inst, pre)
    net = ctx.net
    com = pre.commodities.iloc[k]
    cls, o, d = str(com["class"]), int(com["origin_idx"]), int(com["dest_idx"])
    rows = [i for i, c, _ in ctx.blocks if c == cls]

    def opens(lifted: set[int]) -> bool:
        return bool(ctx.reach_from(cls, frozenset(lifted), o)[d])

    def route(lifted: set[int]) -> str:
        cost = ctx.unrestricted_cost()[int(com["class_idx"])].copy()
        cost[~ctx.usable(cls, lifted)] = np.inf
        _, pred = shortest_paths(net, cost[None, :], np.array([o]), np.array([0]))
        return ctx.legs_text(route_legs(pred[0], net, o, d))

    singles = [i for i in rows if opens({i})]
    if len(singles) == 1:
        i = singles[0]
        return (
            f"no route: restriction {describe_restriction(inst, i)} cuts it; without it the "
            f"cheapest route would be {route({i})}"
        )
    if singles:
        names = "; ".join(describe_restriction(inst, i) for i in singles)
        return f"no route: lifting any one of these restrictions opens a route: {names}"
    if rows and opens(set(rows)):
        needed = set(rows)
        for i in rows:  # deletion filter: a minimal set whose lifting opens a route
            if opens(needed - {i}):
                needed.discard(i)
        names = "; ".join(describe_restriction(inst, i) for i in sorted(needed))
        return (
            f"no route: restrictions {names} together cut it; without all of them the cheapest "
            f"route would be {route(needed)}"
        )
    return _missing_link(inst, net, o, d)


def _missing_link(inst: Instance, net: Network, o: int, d: int) -> str:
    every = np.ones(net.n_legs, dtype=bool)
    ahead = reach(net, every, o)
    behind = reach(net, every, d, reverse=True)
    ids, names = net.node_ids, inst.nodes["name"].to_numpy(dtype=object)
    head = f"no route even without restrictions: no chain of legs connects {ids[o]} to {ids[d]}"
    if ahead.sum() == 1:
        return f"{head}; no leg leaves {ids[o]}"
    if behind.sum() == 1:
        return f"{head}; no leg arrives at {ids[d]}"
    lat = inst.nodes["lat"].to_numpy(dtype=float)
    lon = inst.nodes["lon"].to_numpy(dtype=float)
    a, b = np.flatnonzero(ahead), np.flatnonzero(behind)
    ua, vb = np.repeat(a, len(b)), np.tile(b, len(a))
    km = haversine_km(lat[ua], lon[ua], lat[vb], lon[vb])
    i = int(np.argmin(km))
    u, v = int(ua[i]), int(vb[i])
    return (
        f"{head}: from {ids[o]} the legs reach {int(ahead.sum()) - 1} other node(s), and "
        f"{int(behind.sum()) - 1} node(s) lead to {ids[d]}; the shortest missing link is "
        f"{ids[u]} ({names[u]}) -> {ids[v]} ({names[v]}), {km[i]:,.0f} km"
    )


def _fastest_routes(pre: Preprocessed, ks: list[int]) -> dict[int, list[int]]:
    """Commodity -> the legs of its fastest route; one search per (class, origin)."""
    com = pre.commodities
    origin = com["origin_idx"].to_numpy()[ks]
    dest = com["dest_idx"].to_numpy()[ks]
    cls = com["class_idx"].to_numpy()[ks]
    out: dict[int, list[int]] = {}
    key = cls.astype(np.int64) * pre.net.n_nodes + origin
    trees, tree_of = np.unique(key, return_inverse=True)
    tree_of = tree_of.reshape(-1)
    for start in range(0, len(trees), CHUNK):
        part = trees[start : start + CHUNK]
        src, row = part % pre.net.n_nodes, part // pre.net.n_nodes
        _, pred = shortest_paths(pre.net, pre.time, src, row)
        for i in np.flatnonzero((tree_of >= start) & (tree_of < start + len(part))):
            o, d = int(origin[i]), int(dest[i])
            out[ks[i]] = route_legs(pred[tree_of[i] - start], pre.net, o, d)
    return out


def due_detail(pre: Preprocessed, k: int, legs: list[int] | None = None) -> str:
    """The fastest possible days of commodity ``k`` against its due days (``legs``: its fastest
    route, when known)."""
    com = pre.commodities.iloc[k]
    legs = _fastest_routes(pre, [k])[k] if legs is None else legs
    return (
        f"no route within {com['due_days']:g} due days: the fastest route "
        f"{' > '.join(pre.net.leg_ids[legs])} takes {com['fastest_days']:.1f} days"
    )


# ---------------------------------------------------------------- capacity


def _capacity_state(plan: Plan, inst: Instance, pre: Preprocessed) -> dict[str, Any]:
    legs = plan.legs
    price: dict[tuple[str, str], float] = {}
    b = plan.bottlenecks
    if len(b.columns) and len(b):
        price = {
            (str(k), str(i)): float(p)
            for k, i, p in zip(b["kind"], b["id"], b["price_per_teu"], strict=True)
        }
    ls = inst.legs
    opened = legs["opened"]
    return {
        "flow": legs["flow_teu"].to_numpy(dtype=float),
        "cap": legs["capacity_teu"].to_numpy(dtype=float),
        "services": legs["services"].to_numpy(dtype=float),
        "slots": legs["service_slots_teu"].to_numpy(dtype=float),
        # plain arrays and dicts: the route loop reads them per leg
        "closed": (opened.notna() & ~opened.fillna(True).astype(bool)).to_numpy(),
        "fixed_cost": ls["fixed_cost"].to_numpy(dtype=float),
        "service_size": ls["service_capacity_teu"].to_numpy(dtype=float),
        "service_cost": ls["service_cost"].fillna(0.0).to_numpy(dtype=float),
        "max_services": ls["max_services"].astype("float64").to_numpy(dtype=float),
        "border": ls["border"].to_numpy(dtype=object),
        "border_cap": inst.borders["capacity_teu"].astype("float64").to_dict(),
        "node_cap": inst.nodes["handling_capacity_teu"].astype("float64").to_dict(),
        "border_load": plan.borders.set_index("border")["load_teu"].to_dict(),
        "terminal_load": plan.terminals.set_index("node")["arriving_teu"].to_dict(),
        "price": price,
    }


def _full(load: float, cap: float) -> bool:
    return bool(np.isfinite(cap) and load >= cap * (1 - FULL_TOL) - FULL_TOL)


def _blockers(
    legs: list[int], inst: Instance, pre: Preprocessed, st: dict[str, Any]
) -> list[tuple[str, str]]:
    """(short name, text) of every full capacity or missing departure on a route."""
    net = pre.net
    out: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()  # (kind, id): each border or terminal once

    def priced(kind: str, ident: str) -> str:
        p = st["price"].get((kind, ident))
        return f", price {_fmt(p)}/TEU" if p else ""

    for a in legs:
        leg = str(net.leg_ids[a])
        flow = st["flow"][a]
        if st["closed"][a]:
            out.append(
                (
                    f"leg {leg}",
                    f"candidate leg {leg} not opened (fixed cost {_fmt(st['fixed_cost'][a])})",
                )
            )
        if _full(flow, st["cap"][a]):
            out.append(
                (
                    f"leg {leg}",
                    f"leg {leg} full ({_fmt(flow)} of {_fmt(st['cap'][a])} TEU{priced('leg', leg)})",
                )
            )
        if np.isfinite(st["services"][a]):
            s, slots = st["services"][a], st["slots"][a]
            size = float(st["service_size"][a])
            top = st["max_services"][a]
            if s == 0:
                out.append(
                    (
                        f"service {leg}",
                        f"service {leg} runs no departures (one costs "
                        f"{_fmt(float(st['service_cost'][a]))} for {_fmt(size)} TEU)",
                    )
                )
            elif _full(flow, slots):
                at_max = "" if np.isnan(top) or s < int(top) else ", the most allowed"
                out.append(
                    (
                        f"service {leg}",
                        f"service {leg} full ({int(s)} departure(s){at_max}, {_fmt(flow)} of "
                        f"{_fmt(slots)} TEU slots{priced('service', leg)})",
                    )
                )
        border = st["border"][a]
        if isinstance(border, str) and ("border", border) not in seen:
            load = float(st["border_load"].get(border, 0.0))
            cap = float(st["border_cap"][border])
            if _full(load, cap):
                seen.add(("border", border))
                out.append(
                    (
                        f"border {border}",
                        f"border {border} full ({_fmt(load)} of {_fmt(cap)} TEU{priced('border', border)})",
                    )
                )
        node = str(net.node_ids[net.leg_to[a]])
        if ("terminal", node) not in seen:
            cap = float(st["node_cap"][node])
            load = float(st["terminal_load"].get(node, 0.0))
            if _full(load, cap):
                seen.add(("terminal", node))
                out.append(
                    (
                        f"terminal {node}",
                        f"terminal {node} full ({_fmt(load)} of {_fmt(cap)} TEU{priced('terminal', node)})",
                    )
                )
    return out


def _cheapest_routes(
    pre: Preprocessed, ks: np.ndarray, leg_price: np.ndarray | None
) -> list[list[tuple[str, list[int], float]]]:
    """Per commodity: (label, legs, cost per TEU) of its cheapest route and, with prices, of its
    cheapest route at capacity prices when that differs. Due days as in the arc models: legs on
    some in-time path. Commodities without due days share one search per (class, origin)."""
    net = pre.net
    com = pre.commodities
    cls = com["class_idx"].to_numpy()[ks].astype(np.int64)
    origin, dest = com["origin_idx"].to_numpy()[ks], com["dest_idx"].to_numpy()[ks]
    timed = np.isfinite(com["due_days"].to_numpy(dtype=float)[ks])
    cheapest: list[list[int]] = [[] for _ in range(len(ks))]
    at_prices: list[list[int]] = [[] for _ in range(len(ks))]

    def trace(
        members: np.ndarray, pred: np.ndarray, tree: np.ndarray, into: list[list[int]]
    ) -> None:
        for i, t in zip(members.tolist(), tree.tolist(), strict=True):
            into[i] = route_legs(pred[t], net, int(origin[i]), int(dest[i]))

    own = np.flatnonzero(timed)  # the legs on some in-time path of each: weights of its own
    for start in range(0, len(own), CHUNK):
        part = own[start : start + CHUNK]
        w = pre.cost[cls[part]].copy()
        w[~in_time_legs(pre, ks[part])] = np.inf
        rows = np.arange(len(part))
        trace(part, shortest_paths(net, w, origin[part], rows)[1], rows, cheapest)
        if leg_price is not None:
            priced = shortest_paths(net, w + leg_price[None, :], origin[part], rows)[1]
            trace(part, priced, rows, at_prices)
    shared = np.flatnonzero(~timed)
    trees, tree_of = np.unique(cls[shared] * net.n_nodes + origin[shared], return_inverse=True)
    tree_of = tree_of.reshape(-1)
    for start in range(0, len(trees), CHUNK):
        part = trees[start : start + CHUNK]
        src, row = part % net.n_nodes, part // net.n_nodes
        on = (tree_of >= start) & (tree_of < start + len(part))
        members, tree = shared[on], tree_of[on] - start
        trace(members, shortest_paths(net, pre.cost, src, row)[1], tree, cheapest)
        if leg_price is not None:
            priced = shortest_paths(net, pre.cost + leg_price[None, :], src, row)[1]
            trace(members, priced, tree, at_prices)
    out: list[list[tuple[str, list[int], float]]] = []
    for i in range(len(ks)):
        legs, alt = cheapest[i], at_prices[i]
        cost = pre.cost[cls[i]]
        found = [("cheapest route", legs, float(cost[legs].sum()))] if legs else []
        if alt and alt != legs:
            found.append(("cheapest at capacity prices", alt, float(cost[alt].sum())))
        out.append(found)
    return out


def _capacity_details(
    ks: list[int],
    plan: Plan,
    inst: Instance,
    pre: Preprocessed,
    leg_price: np.ndarray | None,
) -> dict[int, tuple[str, str]]:
    """Commodity -> (reason, detail text) for unserved commodities that have an in-time route."""
    if not ks:
        return {}
    net = pre.net
    com = pre.commodities
    st = _capacity_state(plan, inst, pre)
    out: dict[int, tuple[str, str]] = {}
    for k, routes in zip(ks, _cheapest_routes(pre, np.array(ks), leg_price), strict=True):
        penalty = float(com["penalty_per_teu"].iloc[k])
        if not routes:  # cannot happen for status ok; kept for safety
            out[k] = ("capacity", "capacity: {teu} TEU unmoved; no in-time route found")
            continue
        if routes[0][2] > penalty * (1 + 1e-9) + 1e-9:
            _, legs, cost = routes[0]
            out[k] = (
                COST_REASON,
                f"not worth moving: its cheapest in-time route {' > '.join(net.leg_ids[legs])} "
                f"costs {_fmt(cost)}/TEU, more than the penalty of {_fmt(penalty)}/TEU for "
                f"leaving a TEU unmoved",
            )
            continue
        parts, needed = [], []
        for label, legs, cost in routes:
            found = _blockers(legs, inst, pre, st)
            at_prices = (
                f", {_fmt(cost + float(leg_price[legs].sum()))}/TEU at capacity prices"
                if leg_price is not None
                else ""
            )
            head = f"{label} {' > '.join(net.leg_ids[legs])} ({_fmt(cost)}/TEU{at_prices})"
            if found:
                parts.append(f"{head}: " + "; ".join(text for _, text in found))
                needed = needed or [name for name, _ in found]
            elif cost > penalty * (1 + 1e-9) + 1e-9:
                parts.append(f"{head}: no full capacity, but dearer than the penalty")
            else:
                parts.append(f"{head}: no full capacity on it")
        text = f"penalty {_fmt(penalty)}/TEU; " + ". ".join(parts)
        if needed:
            text += f". Moving it needs {{teu}} TEU more at {', '.join(dict.fromkeys(needed))}"
        out[k] = ("capacity", "capacity: {teu} TEU unmoved, " + text)
    return out


def explain_unserved(
    plan: Plan, inst: Instance, pre: Preprocessed, leg_price: np.ndarray | None = None
) -> Plan:
    """The plan with a ``detail`` column in ``unserved`` (and ``reason`` 'cost above penalty'
    where the cheapest in-time route costs more than the penalty). ``leg_price``: the
    bottleneck prices per leg (``bottlenecks.Prices.leg_price``), when computed."""
    un = plan.unserved.copy()
    if un.empty:
        un["detail"] = pd.Series(dtype=object)
        return dataclasses.replace(plan, unserved=un)
    lot_pos = inst.cargo.index.get_indexer(un["lot"])
    ks = pre.lot_commodity[lot_pos]
    status = pre.commodities["status"].to_numpy()
    ctx = _Context(inst, pre)
    by_k: dict[int, tuple[str | None, str]] = {}
    capacity_ks = []
    unique = list(dict.fromkeys(int(k) for k in ks))
    fastest = _fastest_routes(pre, [k for k in unique if status[k] == "no_route_within_due"])
    for k in unique:
        if status[k] == "no_route":
            by_k[k] = (None, no_route_detail(inst, pre, k, ctx))
        elif status[k] == "no_route_within_due":
            by_k[k] = (None, due_detail(pre, k, fastest[k]))
        else:
            capacity_ks.append(k)
    by_k |= _capacity_details(capacity_ks, plan, inst, pre, leg_price)
    reasons, details = [], []
    for reason, k, teu in zip(un["reason"], ks, un["teu"], strict=True):
        new_reason, text = by_k[int(k)]
        reasons.append(new_reason or reason)
        details.append(text.replace("{teu}", _fmt(float(teu))))
    un["reason"] = reasons
    un["detail"] = details
    return dataclasses.replace(plan, unserved=un)


# ---------------------------------------------------------------- elastic re-solve (forbid)

INCREASE_COLUMNS = ["kind", "id", "name", "capacity_teu", "needed_teu", "increase_teu"]
SLACK_TOL = 1e-6  # TEU: less extra capacity in phase 1 means none is needed
REPORT_TOL = 1e-4  # TEU: smaller increases are solver tolerance, not reported


@dataclass(frozen=True)
class Elastic:
    """Result of the elastic re-solve.

    ``status``: ``relaxed`` (``increases`` make it feasible), ``no_increase_needed`` (the arc
    model is feasible as it is), ``still_infeasible`` (no capacity increase helps),
    ``no_capacity_rows`` or ``not_solved`` (stopped without an answer, e.g. at the time limit).
    """

    status: str
    increases: pd.DataFrame
    extra_teu: float = 0.0


def elastic_capacity(
    inst: Instance, pre: Preprocessed, recipe: Recipe, opts: SolveOptions
) -> Elastic:
    """The least total extra TEU of capacity (then least cost) that makes the instance feasible."""
    base = recipe if recipe.family == "arc" else load_recipe("arc-strong")
    skip = {"define_linking_strong", "define_linking_strong_cuts", "define_stability"}
    blocks = tuple(b for b in base.blocks if b not in skip) + ("define_capacity_slack",)
    if not pre.pruned:  # a path method's arrays: the arc model needs the usable legs
        pre = preprocess(inst, merge=len(pre.commodities) < len(inst.cargo))
    built = build(inst, pre, dataclasses.replace(base, blocks=blocks))
    m = built.model
    empty = pd.DataFrame(columns=INCREASE_COLUMNS)
    if not len(m.capacity_slack):
        return Elastic("no_capacity_rows", empty)
    opts = dataclasses.replace(opts, mip_start=None)
    first = solve(built, opts)
    if not first.ok:
        bad = first.termination in (Termination.INFEASIBLE, Termination.INFEASIBLE_OR_UNBOUNDED)
        return Elastic("still_infeasible" if bad else "not_solved", empty)
    extra = float(first.objective)
    if extra <= SLACK_TOL:
        return Elastic("no_increase_needed", empty)
    slack = list(m.capacity_slack.values())
    m.con_capacity_slack_total = pyo.Constraint(expr=sum(slack) <= extra * (1 + 1e-9) + 1e-7)
    m.obj_capacity_slack.deactivate()
    m.obj_total_cost.activate()
    second = solve(
        built, opts
    )  # least cost at the least extra TEU; phase 1's values stay otherwise
    if not second.ok:
        logger.info("elastic phase 2 ended %s; reporting phase 1", second.termination)
    d = built.data
    net = pre.net
    records = []
    noise = max(REPORT_TOL, 1e-6 * extra)  # solver tolerance, not an increase
    for (kind, key), var in zip(built.slack_rows, slack, strict=True):
        e = float(var.value or 0.0)
        if e <= noise:
            continue
        if kind == "leg":
            ident, name, cap = str(net.leg_ids[key]), "", float(d.leg_capacity[key])
        elif kind == "service":
            top = float(d.leg_max_services[key])
            ident, name = (
                str(net.leg_ids[key]),
                f"{top:g} departures x {d.leg_service_capacity[key]:g} TEU",
            )
            cap = float(d.leg_service_capacity[key]) * top
        elif kind == "border":
            ident = str(inst.borders.index[key])
            name, cap = str(inst.borders["name"].iloc[key]), float(d.border_capacity[key])
        else:
            ident = str(net.node_ids[key])
            name, cap = str(inst.nodes["name"].iloc[key]), float(d.node_capacity[key])
        records.append((kind, ident, name, cap, cap + e, e))
    out = pd.DataFrame.from_records(records, columns=INCREASE_COLUMNS)
    out = out.sort_values(["increase_teu", "kind", "id"], ascending=[False, True, True])
    return Elastic("relaxed", out.reset_index(drop=True), extra)


def elastic_message(elastic: Elastic, model_name: str, inst: Instance | None = None) -> str:
    """Lines naming the capacity increases (or why there are none) for an InfeasibleError."""
    if elastic.status == "relaxed":
        lines = [
            "an elastic re-solve (capacities allowed to grow; least extra TEU, then least cost) "
            f"finds {_fmt(elastic.extra_teu)} extra TEU of capacity make it feasible:"
        ]
        for r in elastic.increases.itertuples(index=False):
            what = {
                "leg": "leg",
                "service": "service leg",
                "border": "border",
                "terminal": "terminal",
            }[r.kind]
            named = f" ({r.name})" if r.name else ""
            more = ""
            if r.kind == "service" and inst is not None:
                size = float(inst.legs.at[r.id, "service_capacity_teu"])
                more = f", i.e. {math.ceil(r.increase_teu / size - 1e-9)} more departure(s) of {_fmt(size)} TEU"
            lines.append(
                f"{what} {r.id}{named}: capacity {_fmt(r.capacity_teu)} TEU, needs "
                f"{_fmt(r.needed_teu)} TEU (+{_fmt(r.increase_teu)} TEU{more})"
            )
        return "\n  ".join(lines)
    if elastic.status == "no_increase_needed":
        return (
            "the arc model has a plan with the capacities as they are: the "
            f"{model_name} model is more restrictive (path models: raise --paths, or use "
            "--model arc-strong)"
        )
    if elastic.status == "still_infeasible":
        return "no increase of leg, border, terminal or service capacity would make it feasible"
    if elastic.status == "no_capacity_rows":
        return "it has no capacity row whose increase could help"
    return "the elastic re-solve (which capacity increases would help) stopped without an answer"


# ---------------------------------------------------------------- why there is no plan


def unroutable_error(inst: Instance, pre: Preprocessed) -> InfeasibleError | None:
    """Under ``forbid``: the error naming every lot without a route (in time), or None."""
    com = pre.commodities
    bad = com[com["status"] != "ok"]
    if bad.empty:
        return None
    ctx = _Context(inst, pre)
    lines = []
    for k, lots, o, d, c, status, due, fastest in zip(
        bad.index,
        bad["lots"],
        bad["origin"],
        bad["destination"],
        bad["class"],
        bad["status"],
        bad["due_days"],
        bad["fastest_days"],
        strict=True,
    ):
        why = (
            _no_route(inst, pre, int(k), ctx)
            if status == "no_route"
            else (f"no route within {due:g} due days (fastest {fastest:.1f} days)")
        )
        lines.append(f"lots {', '.join(lots)} ({o} -> {d}, class {c}): {why}")
    return InfeasibleError(
        f"{inst.name}: no feasible plan; settings say unserved = forbid but\n  "
        + "\n  ".join(lines)
    )


def _no_route(inst: Instance, pre: Preprocessed, k: int, ctx: _Context) -> str:
    """'no route: <the restriction or missing link that cuts it>' for commodity ``k``."""
    try:
        return "no route: " + no_route_detail(inst, pre, k, ctx).removeprefix("no route: ")
    except Exception:  # the lot still has no route; only the explanation is missing
        logger.exception("%s: no-route explanation failed", inst.name)
        return "no route"


def no_plan_error(
    inst: Instance, pre: Preprocessed, recipe: Recipe, result: SolveResult, opts: SolveOptions
) -> AllocatorError:
    """The error of a solve that ended without a plan: InfeasibleError (under ``forbid`` with
    the capacity increases an elastic re-solve finds) or SolverError."""
    t = result.termination
    if t == Termination.TIME_LIMIT_NO_SOLUTION:
        return SolverError(f"{inst.name}: {_stopped_where(result, opts)}", termination=t)
    if t not in (Termination.INFEASIBLE, Termination.INFEASIBLE_OR_UNBOUNDED):
        return SolverError(f"{inst.name}: solver stopped without a plan ({t})", termination=t)
    forbid = inst.settings.unserved == "forbid"
    hint = " (every lot must move: settings say unserved = forbid)" if forbid else ""
    head = f"{inst.name}: no feasible plan exists{hint}"
    return elastic_error(head, inst, pre, recipe, opts) if forbid else InfeasibleError(head)


def _stopped_where(result: SolveResult, opts: SolveOptions) -> str:
    """Which stage the time limit stopped, and what to try: the planner's next step."""
    size = f"{result.n_vars:,} columns, {result.n_cons:,} rows"
    limit = f"{opts.time_limit_s:g} s" if opts.time_limit_s is not None else "the time limit"
    if result.is_mip and not np.isfinite(result.root_bound):
        stage = f"the LP relaxation ({size}) did not finish within {limit}"
    else:
        stage = f"no plan found within {limit} ({size}"
        stage += f", root LP bound {result.root_bound:,.2f})" if result.is_mip else ")"
    return (
        f"{stage}; raise --time-limit, try --model colgen (column generation, smaller LPs) or "
        "a smaller instance, and --log FILE shows the solver's progress"
    )


def elastic_error(
    head: str, inst: Instance, pre: Preprocessed, recipe: Recipe, opts: SolveOptions
) -> InfeasibleError:
    """InfeasibleError whose message names the capacity increases that would make it feasible."""
    try:
        elastic = elastic_capacity(inst, pre, recipe, opts)
        return InfeasibleError(f"{head}\n  {elastic_message(elastic, recipe.name, inst)}")
    except Exception:  # the infeasibility stands; the explanation is a bonus
        logger.exception("%s: elastic re-solve failed", inst.name)
        return InfeasibleError(head)
