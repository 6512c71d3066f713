"""Turn the solver's values in a built model into a Plan of tidy tables."""

from __future__ import annotations

import heapq
import logging
from collections import defaultdict

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from allocator.formulation import ArcData, BuiltModel
from allocator.instance.model import ROUTE_SEPARATOR, Instance
from allocator.preprocess import Preprocessed
from allocator.results.plan import Plan, route_corridor
from allocator.results.timeline import (
    border_queue_table,
    carried_table,
    departures_table,
    in_transit_table,
    timed_paths,
    timeline_table,
)
from allocator.solve import SolveResult

logger = logging.getLogger(__name__)

EPS = 1e-6
# the plan status of an arc model's plan in which lots arrive after their due days: arc models
# enforce due days by pruning legs only, so their optimum is that of a relaxation
DUE_DAYS_RELAXED = "due_days_relaxed"
REASONS = {
    "no_route": "no route",
    "no_route_within_due": "no route within due days",
    "ok": "capacity",
}


def _values(var: pyo.Var | pyo.Expression, n: int) -> np.ndarray:
    # pyo.value also reads Expressions (the path formulation's pair flows)
    values = (pyo.value(var[i], exception=False) for i in range(n))
    return np.array([0.0 if v is None else v for v in values], dtype=float)


def _decompose(
    origin: int,
    sinks: list[tuple[int, int, float]],
    residual: dict[int, float],
    leg_from: np.ndarray,
    leg_to: np.ndarray,
    hours: np.ndarray,
) -> list[tuple[int, list[int], float]]:
    """Split one group's leg flows into paths: (commodity, legs, TEU), fastest paths first.

    ``sinks`` lists (commodity, destination node, TEU served). A positive flow meeting conservation
    always has a path from the origin to each sink with demand left, so the search cannot fail
    beyond rounding.
    """
    out_legs: dict[int, list[int]] = defaultdict(list)
    for a in residual:
        out_legs[int(leg_from[a])].append(a)
    paths = []
    for k, dest, served in sinks:
        left = served
        while left > EPS:
            dist = {origin: 0.0}
            pred: dict[int, int] = {}
            heap = [(0.0, origin)]
            while heap:
                d, u = heapq.heappop(heap)
                if u == dest:
                    break
                if d > dist[u]:
                    continue
                for a in out_legs[u]:
                    if residual[a] <= EPS:
                        continue
                    v, nd = int(leg_to[a]), d + hours[a]
                    if nd < dist.get(v, np.inf):
                        dist[v], pred[v] = nd, a
                        heapq.heappush(heap, (nd, v))
            if dest not in pred:
                logger.warning("flow decomposition left %.6f TEU of commodity %d unrouted", left, k)
                break
            legs, node = [], dest
            while node != origin:
                legs.append(pred[node])
                node = int(leg_from[pred[node]])
            legs.reverse()
            amount = min(left, min(residual[a] for a in legs))
            for a in legs:
                residual[a] -= amount
            paths.append((k, legs, amount))
            left -= amount
    return paths


def extract(
    built: BuiltModel,
    result: SolveResult,
    inst: Instance,
    pre: Preprocessed,
    *,
    instance_sha256: str,
    seconds: dict[str, float],
) -> Plan:
    """Read the solution loaded into the built model into a Plan (``result`` must be ok).

    Arc models' leg flows are decomposed into routes (fastest first); path models give their
    routes directly (``BuiltModel.routes``), with due days exact per path; time models' timed
    flows are decomposed into timed routes, which also give the ``timeline``, ``departures`` and
    ``border_queues``.
    """
    if built.timed is not None:
        return _extract_timed(built, result, inst, pre, instance_sha256, seconds)
    m, d = built.model, built.data
    net = pre.net
    if built.paths is not None:  # pair flows summed from path flows (no expression evaluation)
        ps = built.paths.paths
        h = _values(m.path_flow, ps.n_paths)
        flow = np.bincount(
            built.paths.path_pairs, weights=np.repeat(h, np.diff(ps.ptr)), minlength=d.n_pairs
        )
    else:
        flow = _values(m.flow, d.n_pairs) if d.n_pairs else np.zeros(0)
    unserved_com = _values(m.unserved, len(d.com_teu))
    com = pre.commodities
    lot_ids = inst.cargo.index.to_numpy(dtype=object)
    lot_share = (
        inst.cargo["teu"].to_numpy(dtype=float)
        / com["teu"].to_numpy(dtype=float)[pre.lot_commodity]
    )
    lots_of: dict[int, list[int]] = defaultdict(list)
    for lot, k in enumerate(pre.lot_commodity):
        lots_of[int(k)].append(lot)

    # routes: decompose each group's flow, then split commodity paths over its lots
    route_rows = []
    positive = flow > EPS
    by_group: dict[int, dict[int, float]] = defaultdict(dict)
    for p in np.flatnonzero(positive):
        by_group[int(d.pair_group[p])][int(d.pair_leg[p])] = float(flow[p])
    com_of_group: dict[int, list[int]] = defaultdict(list)
    for k, g in enumerate(d.com_group):
        com_of_group[int(g)].append(k)
    path_routes = built.routes()  # path formulations: (k, legs, TEU) directly
    for g, residual in by_group.items() if path_routes is None else ():
        ks = com_of_group[g]
        sinks = [(k, int(d.com_dest[k]), float(d.com_teu[k] - unserved_com[k])) for k in ks]
        for k, legs, amount in _decompose(
            int(d.com_origin[ks[0]]), sinks, residual, net.leg_from, net.leg_to, pre.legs.hours
        ):
            cls = int(com["class_idx"].iloc[k])
            for lot in lots_of[k]:
                route_rows.append((lot, legs, amount * lot_share[lot], cls))
    for k, legs, amount in path_routes or ():
        cls = int(com["class_idx"].iloc[k])
        for lot in lots_of[k]:
            route_rows.append((lot, legs, amount * lot_share[lot], cls))

    routes = _routes_table(inst, pre, route_rows, lot_ids)
    flows = _flows_table(routes, lot_ids, net.leg_ids, route_rows)
    unserved_lot = unserved_com[pre.lot_commodity] * lot_share
    legs = _legs_table(inst, pre, m, d, flow)
    summary = _summary(
        inst, pre, result, built.recipe.name, instance_sha256, seconds, routes, unserved_lot
    )
    summary["due_days_exact"] = path_routes is not None  # path models enforce due days per path
    if path_routes is None and int(summary["late_routes"].iloc[0]) > 0 and result.ok:
        summary["status"] = DUE_DAYS_RELAXED  # never "optimal" when a lot arrives late
    return _plan(inst, pre, m, d, summary, flows, routes, legs, unserved_lot)


def _extract_timed(
    built: BuiltModel,
    result: SolveResult,
    inst: Instance,
    pre: Preprocessed,
    instance_sha256: str,
    seconds: dict[str, float],
) -> Plan:
    """A time model's plan: routes are timed paths, days are door to door (ready to arrival)."""
    t, m, d, net = built.timed, built.model, built.data, pre.net
    assert t is not None  # extract dispatches here only for time models
    timed, unserved_com = timed_paths(built, inst, pre)
    lot_ids = inst.cargo.index.to_numpy(dtype=object)
    lot_teu = inst.cargo["teu"].to_numpy(dtype=float)
    unserved_lot = unserved_com[t.lot_com] * lot_teu / d.com_teu[t.lot_com]
    lot_class = pre.commodities["class_idx"].to_numpy()[pre.lot_commodity]
    route_rows = [(r.lot, t.arc_leg[r.arcs].tolist(), r.teu, int(lot_class[r.lot])) for r in timed]
    timeline = timeline_table(timed, t, inst, pre)
    departures = departures_table(built, timed, inst, pre)
    routes = _door_to_door(_routes_table(inst, pre, route_rows, lot_ids), timeline, inst, pre)
    flows = _flows_table(routes, lot_ids, net.leg_ids, route_rows)
    flow = np.zeros(d.n_pairs)
    for r in timed:
        np.add.at(flow, t.arc_pair[r.arcs], r.teu)
    legs = _legs_table(inst, pre, m, d, flow)
    on_timetable = departures[~departures["leg"].map(net.leg_to_idx).isin(list(m.SERVICE_LEGS))]
    if len(on_timetable):
        runs = on_timetable.groupby("leg")[["services", "slots_teu"]].sum()
        at = legs["leg"].isin(runs.index).to_numpy()
        legs.loc[at, "services"] = runs["services"].reindex(legs.loc[at, "leg"]).to_numpy()
        slots = runs["slots_teu"].reindex(legs.loc[at, "leg"]).to_numpy()
        legs.loc[at, "service_slots_teu"] = slots
        cap = np.fmin(legs.loc[at, "capacity_teu"].to_numpy(dtype=float), slots)
        legs.loc[at, "utilisation"] = legs.loc[at, "flow_teu"].to_numpy() / cap
    summary = _summary(
        inst, pre, result, built.recipe.name, instance_sha256, seconds, routes, unserved_lot
    )
    summary["due_days_exact"] = True  # every timed route arrives by its lot's due time
    summary["step_minutes"] = t.step_h * 60.0
    horizon = inst.settings.horizon_hours
    in_transit = in_transit_table(timeline, inst.legs, horizon)
    carried = carried_table(inst, pre.legs.hours, pd.Index(net.leg_ids))
    summary["horizon_hours"] = horizon
    summary["teu_in_transit"] = float(in_transit["teu"].sum())
    # each carried lot once: its TEU on the leg that carries most of it
    summary["teu_carried"] = float(
        carried.groupby(["lot", "leg"])["teu"].sum().groupby("lot").max().sum()
    )
    return _plan(
        inst,
        pre,
        m,
        d,
        summary,
        flows,
        routes,
        legs,
        unserved_lot,
        timeline=timeline,
        departures=departures,
        in_transit=in_transit,
        carried=carried,
        border_queues=border_queue_table(timeline, inst),
    )


def _plan(
    inst: Instance,
    pre: Preprocessed,
    m: pyo.ConcreteModel,
    d: ArcData,
    summary: pd.DataFrame,
    flows: pd.DataFrame,
    routes: pd.DataFrame,
    legs: pd.DataFrame,
    unserved_lot: np.ndarray,
    timeline: pd.DataFrame | None = None,
    departures: pd.DataFrame | None = None,
    **timed: pd.DataFrame,
) -> Plan:
    """The plan from its routes, flows and legs: the border, terminal, unserved and cost tables
    follow from them (a timed plan also passes its timeline, departures and other timed tables)."""
    more = {} if timeline is None else {"timeline": timeline, "departures": departures, **timed}
    return Plan(
        summary=summary,
        flows=flows,
        routes=routes,
        legs=legs,
        borders=_borders_table(inst, legs),
        terminals=_terminals_table(inst, legs),
        unserved=_unserved_table(inst, pre, unserved_lot),
        costs=_costs_table(inst, pre, m, d, flows, unserved_lot, timeline, departures),
        **more,
    )


def _door_to_door(
    routes: pd.DataFrame, timeline: pd.DataFrame, inst: Instance, pre: Preprocessed
) -> pd.DataFrame:
    """Timed routes' days from ready to arrival (waiting included), their cost per TEU with the
    time value of those days, and lateness against the due time."""
    if routes.empty:
        return routes
    last = timeline.groupby(["lot", "route"], sort=False)["arrives_h"].max()
    arrival = last.reindex(pd.MultiIndex.from_frame(routes[["lot", "route"]])).to_numpy()
    cargo = inst.cargo.loc[routes["lot"]]
    days = (arrival - cargo["ready_at"].to_numpy(dtype=float)) / 24.0
    value = cargo["class"].map(inst.classes["value_per_teu_day"]).to_numpy(dtype=float)
    legs, net = pre.legs, pre.net
    s = inst.settings
    per_leg = legs.base_cost + s.co2_price_per_t * legs.co2_kg / 1000.0
    static = [
        float(per_leg[[net.leg_to_idx[x] for x in text.split(ROUTE_SEPARATOR)]].sum())
        for text in routes["legs"]
    ]
    cost = np.array(static) + value * days
    due = inst.due_hours()[inst.cargo.index.get_indexer(routes["lot"])]
    return routes.assign(
        cost_per_teu=cost,
        cost=cost * routes["teu"].to_numpy(dtype=float),
        days=days,
        late=arrival > due + 1e-6,
    )


def _routes_table(
    inst: Instance,
    pre: Preprocessed,
    rows: list[tuple[int, list[int], float, int]],
    lot_ids: np.ndarray,
) -> pd.DataFrame:
    net = pre.net
    due = inst.cargo["due_days"].to_numpy(dtype=float)
    corridor = inst.legs["corridor"].fillna("").to_numpy(dtype=object)
    records = []
    counter: dict[int, int] = defaultdict(int)
    for lot, legs, teu, cls in rows:
        counter[lot] += 1
        legs_arr = np.array(legs, dtype=np.int64)
        cost = float(pre.cost[cls, legs_arr].sum())
        days = float(pre.legs.hours[legs_arr].sum() / 24.0)
        nodes = [net.node_ids[net.leg_from[legs_arr[0]]], *net.node_ids[net.leg_to[legs_arr]]]
        tags = route_corridor(sorted(corridor[legs_arr]))
        records.append(
            {
                "lot": lot_ids[lot],
                "route": counter[lot],
                "legs": ROUTE_SEPARATOR.join(net.leg_ids[legs_arr]),
                "nodes": ROUTE_SEPARATOR.join(nodes),
                "corridor": tags,
                "teu": teu,
                "cost_per_teu": cost,
                "cost": cost * teu,
                "days": days,
                "due_days": due[lot],
                "late": bool(np.isfinite(due[lot]) and days > due[lot] + 1e-9),
                "co2_kg": float(pre.legs.co2_kg[legs_arr].sum()) * teu,
            }
        )
    columns = [
        "lot",
        "route",
        "legs",
        "nodes",
        "corridor",
        "teu",
        "cost_per_teu",
        "cost",
        "days",
        "due_days",
        "late",
        "co2_kg",
    ]
    return pd.DataFrame.from_records(records, columns=columns)


def _flows_table(
    routes: pd.DataFrame,
    lot_ids: np.ndarray,
    leg_ids: np.ndarray,
    rows: list[tuple[int, list[int], float, int]],
) -> pd.DataFrame:
    acc: dict[tuple[int, int], float] = defaultdict(float)
    for lot, legs, teu, _ in rows:
        for a in legs:
            acc[(lot, a)] += teu
    keys = sorted(acc)
    return pd.DataFrame(
        {
            "lot": [lot_ids[lot] for lot, _ in keys],
            "leg": [leg_ids[a] for _, a in keys],
            "teu": [acc[k] for k in keys],
        }
    )


def _legs_table(
    inst: Instance, pre: Preprocessed, m: pyo.ConcreteModel, d: ArcData, flow: np.ndarray
) -> pd.DataFrame:
    net = pre.net
    load = np.bincount(d.pair_leg, weights=flow, minlength=net.n_legs)
    ls = inst.legs
    services = np.full(net.n_legs, np.nan)
    for a in m.SERVICE_LEGS:
        services[a] = round(m.services[a].value or 0.0)
    opened = pd.array([pd.NA] * net.n_legs, dtype="boolean")
    for a in m.CANDIDATE_LEGS:
        opened[a] = bool(round(m.open[a].value or 0.0))
    slots = services * ls["service_capacity_teu"].to_numpy(dtype=float)
    cap = np.fmin(ls["capacity_teu"].to_numpy(dtype=float), slots)
    with np.errstate(invalid="ignore", divide="ignore"):
        util = np.where(np.isfinite(cap) & (cap > 0), load / cap, np.nan)
    return pd.DataFrame(
        {
            "leg": net.leg_ids,
            "from": ls["from"].to_numpy(),
            "to": ls["to"].to_numpy(),
            "mode": ls["mode"].to_numpy(),
            "corridor": ls["corridor"].to_numpy(),
            "border": ls["border"].to_numpy(),
            "flow_teu": load,
            "capacity_teu": ls["capacity_teu"].to_numpy(dtype=float),
            "services": services,
            "service_slots_teu": slots,
            "utilisation": util,
            "opened": opened,
            "distance_km": pre.legs.distance_km,
            "hours": pre.legs.hours,
            "co2_kg": load * pre.legs.co2_kg,
        }
    )


def _borders_table(inst: Instance, legs: pd.DataFrame) -> pd.DataFrame:
    load = legs.groupby("border")["flow_teu"].sum()
    b = inst.borders
    out = pd.DataFrame(
        {
            "border": b.index.to_numpy(),
            "name": b["name"].to_numpy(),
            "load_teu": load.reindex(b.index).fillna(0.0).to_numpy(),
            "capacity_teu": b["capacity_teu"].to_numpy(dtype=float),
        }
    )
    out["utilisation"] = out["load_teu"] / out["capacity_teu"]
    return out


def _terminals_table(inst: Instance, legs: pd.DataFrame) -> pd.DataFrame:
    arriving = legs.groupby("to")["flow_teu"].sum()
    n = inst.nodes
    out = pd.DataFrame(
        {
            "node": n.index.to_numpy(),
            "name": n["name"].to_numpy(),
            "country": n["country"].to_numpy(),
            "arriving_teu": arriving.reindex(n.index).fillna(0.0).to_numpy(),
            "capacity_teu": n["handling_capacity_teu"].to_numpy(dtype=float),
        }
    )
    out["utilisation"] = out["arriving_teu"] / out["capacity_teu"]
    return out[(out["arriving_teu"] > EPS) | out["capacity_teu"].notna()].reset_index(drop=True)


def _unserved_table(inst: Instance, pre: Preprocessed, unserved_lot: np.ndarray) -> pd.DataFrame:
    status = pre.commodities["status"].to_numpy()[pre.lot_commodity]
    keep = unserved_lot > EPS
    cargo = inst.cargo
    penalty = cargo["penalty_per_teu"].fillna(inst.settings.default_penalty_per_teu).to_numpy()
    return pd.DataFrame(
        {
            "lot": cargo.index.to_numpy()[keep],
            "origin": cargo["origin"].to_numpy()[keep],
            "destination": cargo["destination"].to_numpy()[keep],
            "class": cargo["class"].to_numpy()[keep],
            "teu": unserved_lot[keep],
            "lot_teu": cargo["teu"].to_numpy()[keep],
            "penalty": unserved_lot[keep] * penalty[keep],
            "reason": [REASONS[s] for s in status[keep]],
            "fastest_days": pre.commodities["fastest_days"].to_numpy()[pre.lot_commodity][keep],
            "cheapest_route": pre.commodities["cheapest_route"].to_numpy()[pre.lot_commodity][keep],
        }
    )


def _costs_table(
    inst: Instance,
    pre: Preprocessed,
    m: pyo.ConcreteModel,
    d: ArcData,
    flows: pd.DataFrame,
    unserved_lot: np.ndarray,
    timeline: pd.DataFrame | None = None,
    departures: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Cost by component and corridor; the components add up to the objective.

    A timed plan (``timeline`` and ``departures`` given) values the door-to-door hours of each
    leg of the timeline (the wait before it and its own hours) and adds the timetable's
    departures to the departures of legs run on demand."""
    net = pre.net
    legs = pre.legs
    leg_idx = flows["leg"].map(net.leg_to_idx).to_numpy(dtype=np.int64)
    cls = inst.cargo.loc[flows["lot"], "class"].map({c: i for i, c in enumerate(pre.class_ids)})
    value = inst.classes["value_per_teu_day"].to_numpy(dtype=float)[cls.to_numpy(dtype=np.int64)]
    teu = flows["teu"].to_numpy(dtype=float)
    corridor = inst.legs["corridor"].fillna("(none)").to_numpy(dtype=object)
    parts = {
        "freight": legs.freight_cost[leg_idx] * teu,
        "border": legs.border_cost[leg_idx] * teu,
        "handling": legs.handling_cost[leg_idx] * teu,
        "time_value": value * legs.hours[leg_idx] / 24.0 * teu,
        "co2": inst.settings.co2_price_per_t * legs.co2_kg[leg_idx] / 1000.0 * teu,
    }
    frames = [
        pd.DataFrame({"component": name, "corridor": corridor[leg_idx], "cost": amount})
        for name, amount in parts.items()
        if name != "time_value" or timeline is None
    ]
    services = [(a, (m.services[a].value or 0.0) * d.leg_service_cost[a]) for a in m.SERVICE_LEGS]
    if timeline is not None and departures is not None:
        t_leg = timeline["leg"].map(net.leg_to_idx).to_numpy(dtype=np.int64)
        t_value = inst.cargo.loc[timeline["lot"], "class"].map(inst.classes["value_per_teu_day"])
        hours = timeline["wait_h"] + timeline["arrives_h"] - timeline["departs_h"]
        amount = t_value.to_numpy(dtype=float) * hours.to_numpy(dtype=float) / 24.0
        frames.append(
            pd.DataFrame(
                {
                    "component": "time_value",
                    "corridor": corridor[t_leg],
                    "cost": amount * timeline["teu"].to_numpy(dtype=float),
                }
            )
        )
        run_leg = departures["leg"].map(net.leg_to_idx).to_numpy(dtype=np.int64)
        on_demand = set(m.SERVICE_LEGS)
        services += [
            (int(a), float(c))
            for a, c in zip(run_leg, departures["cost"], strict=True)
            if int(a) not in on_demand
        ]
    fixed = [(a, (m.open[a].value or 0.0) * d.leg_fixed_cost[a]) for a in m.CANDIDATE_LEGS]
    for name, rows in (("services", services), ("fixed", fixed)):
        if rows:
            frames.append(
                pd.DataFrame(
                    {
                        "component": name,
                        "corridor": [corridor[a] for a, _ in rows],
                        "cost": [c for _, c in rows],
                    }
                )
            )
    penalty = inst.cargo["penalty_per_teu"].fillna(inst.settings.default_penalty_per_teu).to_numpy()
    frames.append(
        pd.DataFrame(
            {
                "component": ["penalty"],
                "corridor": ["(unserved)"],
                "cost": [float((unserved_lot * penalty).sum())],
            }
        )
    )
    out = (
        pd.concat(frames).groupby(["component", "corridor"], sort=False)["cost"].sum().reset_index()
    )
    return out[out["cost"].abs() > EPS].reset_index(drop=True)


def _summary(
    inst: Instance,
    pre: Preprocessed,
    result: SolveResult,
    model_name: str,
    sha: str,
    seconds: dict[str, float],
    routes: pd.DataFrame,
    unserved_lot: np.ndarray,
) -> pd.DataFrame:
    from allocator._version import __version__

    moved = float(routes["teu"].sum()) if len(routes) else 0.0
    days = float((routes["days"] * routes["teu"]).sum() / moved) if moved > 0 else np.nan
    row = {
        "instance": inst.name,
        "period": inst.settings.period,
        "currency": inst.settings.currency,
        "model": model_name,
        "status": str(result.termination),
        "objective": result.objective,
        "bound": result.bound,
        "gap": result.gap,
        "teu_total": float(inst.cargo["teu"].sum()),
        "teu_moved": moved,
        "teu_unserved": float(unserved_lot.sum()),
        "co2_t": float(routes["co2_kg"].sum() / 1000.0) if len(routes) else 0.0,
        "avg_days": days,
        "late_routes": int(routes["late"].sum()) if len(routes) else 0,
        "due_days_exact": False,
        "solver": result.solver,
        "solver_version": result.solver_version,
        "allocator_version": __version__,
        "n_vars": result.n_vars,
        "n_cons": result.n_cons,
        "n_nonzeros": result.n_nonzeros,
        "nodes_explored": result.nodes,
        "preprocess_s": seconds.get("preprocess", np.nan),
        "build_s": seconds.get("build", np.nan),
        "handoff_s": result.handoff_seconds,
        "solve_s": result.solve_seconds,
        "total_s": seconds.get("total", np.nan),
        "instance_sha256": sha,
    }
    return pd.DataFrame([row])
