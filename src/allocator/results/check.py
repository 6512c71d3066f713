"""Re-check a written plan against its instance from the tables alone, without the model.

Everything here is recomputed with plain pandas (no numba, no Pyomo), so it also serves as an
independent twin of the cost matrix: flows balance per lot and node, no leg, service, border or
terminal capacity is exceeded, no class uses a leg it may not, candidate legs carry flow only when
opened, routes add up to the flows and respect due days, and the costs add up to the objective
(including the stability term of a rolling re-plan, recomputed from ``prev_flow_teu``/``prev_teu``).

A timed plan (one with a ``timeline``) is also checked in time: every lot leaves when ready and
never before it has reached the node (dwell done), arrives by its due time, every departure it
takes exists (a timetable run, or a departure of a leg dispatched on demand) and has room,
departures keep their leg's headway and weekly maximum, and borders and terminals stay within
their TEU per day; its time value is that of its door-to-door hours, waiting included. The
flow an earlier week carries into it (the instance's ``carried`` table) counts in every capacity
of the timed plan: on the departures it rides (which already run: one timetable run, or the
fewest departures on demand that carry it, not in the plan's ``services``), in the weekly
capacity of legs and borders when it leaves in the week and of terminals when it arrives in it,
in its leg's weekly departures and headway, and in the daily capacities of the day it crosses a
border or reaches a terminal. Its
``border_queues`` table (TEU queued at each border at the end of each day, TEU crossing that day)
equals the one recomputed here from the timeline, the lots' ready times and the leg hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.instance.model import ROUTE_SEPARATOR, Instance
from allocator.instance.weektime import HOURS_PER_WEEK
from allocator.results import Plan

TOL = 1e-5  # TEU
REL_TOL = 1e-6  # objective


@dataclass
class CheckReport:
    """Violations found (``errors``) and remarks that do not invalidate the plan (``warnings``)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    recomputed_objective: float = float("nan")

    @property
    def ok(self) -> bool:
        """True when no error was found."""
        return not self.errors


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance in km (numpy; the twin of the numba kernel)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * np.arcsin(np.minimum(1.0, np.sqrt(h)))


def leg_costs(inst: Instance) -> pd.DataFrame:
    """Per leg: distance, hours, base cost per TEU (freight, border, handling) and CO2 kg per TEU."""
    legs, nodes, s = inst.legs, inst.nodes, inst.settings
    a, b = nodes.loc[legs["from"]], nodes.loc[legs["to"]]
    gc = haversine_km(
        a["lat"].to_numpy(), a["lon"].to_numpy(), b["lat"].to_numpy(), b["lon"].to_numpy()
    )
    # astype(float): mapping an empty str column gives a str column
    circuity = legs["mode"].map(lambda m: s.circuity.get(m)).astype(float).to_numpy()
    dist = legs["distance_km"].fillna(pd.Series(gc * circuity, index=legs.index))
    speed = legs["mode"].map(lambda m: s.speed_kmh.get(m)).astype(float)
    transit = legs["transit_hours"].fillna(dist / speed)
    freight = legs["cost_per_teu"].astype(float).copy()
    tariffed = freight.isna().to_numpy()
    for mode in legs["mode"][tariffed].unique():
        # the first band (by from_km) holding the distance, else the last band
        bands = inst.tariffs[inst.tariffs["mode"] == mode].sort_values("from_km")
        at = tariffed & (legs["mode"] == mode).to_numpy()
        d = dist.to_numpy(dtype=float)[at][:, None]
        lo = bands["from_km"].to_numpy(dtype=float)[None, :]
        hi = bands["to_km"].to_numpy(dtype=float)[None, :]
        inside = (lo <= d) & (np.isnan(hi) | (d < hi))
        band = np.where(inside.any(axis=1), inside.argmax(axis=1), len(bands) - 1)
        fixed = bands["fixed_per_teu"].to_numpy(dtype=float)[band]
        per_km = bands["cost_per_teu_km"].to_numpy(dtype=float)[band]
        freight[at] = fixed + per_km * d[:, 0]
    border = inst.borders.reindex(legs["border"]).set_index(legs.index)
    border_cost = border["fee_per_teu"].fillna(0) + np.where(
        border["gauge_change"].fillna(False).astype(bool),
        border["transshipment_cost_per_teu"].fillna(0),
        0,
    )
    handling = b["handling_cost_per_teu"].to_numpy()
    hours = transit + border["dwell_hours"].fillna(0) + b["dwell_hours"].to_numpy()
    co2 = (
        legs["co2_kg_per_teu_km"].fillna(
            legs["mode"].map(lambda m: s.co2_kg_per_teu_km.get(m)).astype(float)
        )
        * dist
    )
    return pd.DataFrame(
        {
            "distance_km": dist,
            "hours": hours,
            "base_cost": freight + border_cost + handling,
            "co2_kg": co2,
        }
    )


def forbidden_pairs(inst: Instance) -> set[tuple[str, str]]:
    """(class, leg) pairs a restriction forbids."""
    legs, nodes = inst.legs, inst.nodes
    country_from = legs["from"].map(nodes["country"])
    country_to = legs["to"].map(nodes["country"])
    out = set()
    rules = inst.restrictions
    for cls, scope, target in zip(rules["class"], rules["scope"], rules["target"], strict=True):
        if scope == "mode":
            hit = legs["mode"] == target
        elif scope == "leg":
            hit = legs.index == target
        elif scope == "border":
            hit = legs["border"] == target
        elif scope == "node":
            hit = (legs["from"] == target) | (legs["to"] == target)
        else:
            hit = (country_from == target) | (country_to == target)
        out.update((cls, leg) for leg in legs.index[np.asarray(hit)])
    return out


def check_plan(plan: Plan, inst: Instance) -> CheckReport:
    """Every check listed in the module docstring; returns all violations at once."""
    rep = CheckReport()
    cargo, legs = inst.cargo, inst.legs
    flows = plan.flows.copy()
    flows["teu"] = flows["teu"].astype(float)
    unknown_lots = set(flows["lot"]) - set(cargo.index)
    unknown_legs = set(flows["leg"]) - set(legs.index)
    if unknown_lots or unknown_legs:
        rep.errors.append(
            f"flows name unknown lots {sorted(unknown_lots)[:5]} or legs {sorted(unknown_legs)[:5]}"
        )
        return rep
    if (flows["teu"] < -TOL).any():
        rep.errors.append("negative flows")

    unserved = plan.unserved.groupby("lot")["teu"].sum().reindex(cargo.index).fillna(0.0)
    if (unserved < -TOL).any() or (unserved > cargo["teu"] + TOL).any():
        rep.errors.append("unserved TEU outside [0, lot TEU]")
    if inst.settings.unserved == "forbid" and unserved.sum() > TOL:
        rep.errors.append(f"{unserved.sum():.3f} TEU unserved although settings say forbid")
    _check_balance(rep, flows, inst, cargo["teu"] - unserved)

    load = flows.groupby("leg")["teu"].sum().reindex(legs.index).fillna(0.0)
    carried = carried_flow(inst)
    if not is_timed(plan):
        carried = carried.iloc[:0]  # the one-period models plan without carried flow
    leaving = carried[carried["departs_h"] >= -1e-9]
    c_load = leaving.groupby("leg")["teu"].sum().reindex(legs.index).fillna(0.0)
    committed = _committed(carried, inst)
    c_services = committed.groupby("leg")["committed"].sum().reindex(legs.index).fillna(0.0)
    cap = legs["capacity_teu"]
    for leg in load.index[(load + c_load > cap + TOL).to_numpy()]:
        with_carried = f" ({c_load[leg]:.3f} carried)" if c_load[leg] > 0 else ""
        rep.errors.append(
            f"leg {leg}: {load[leg] + c_load[leg]:.3f} TEU{with_carried} over capacity {cap[leg]:g}"
        )
    plan_legs = plan.legs.set_index("leg")
    if not np.allclose(plan_legs["flow_teu"].reindex(legs.index).fillna(0.0), load, atol=1e-4):
        rep.errors.append("legs table flow_teu differs from the sum of flows")
    service = legs["service_capacity_teu"].notna()
    services = plan_legs["services"].reindex(legs.index)
    for leg in legs.index[service]:
        s = services[leg]
        if pd.isna(s) or abs(s - round(s)) > 1e-6 or s < -1e-9:
            rep.errors.append(f"service leg {leg}: services {s!r} is not a whole number")
            continue
        top, run = legs.at[leg, "max_services"], s + c_services[leg]
        if pd.notna(top) and run > top:
            rep.errors.append(f"service leg {leg}: {run:g} services over max_services {top}")
        if load[leg] + c_load[leg] > run * legs.at[leg, "service_capacity_teu"] + TOL:
            rep.errors.append(
                f"service leg {leg}: {load[leg] + c_load[leg]:.3f} TEU over {run:g} services' slots"
            )
    candidate = legs["fixed_cost"] > 0
    opened = plan_legs["opened"].reindex(legs.index)
    opened = opened.map(lambda v: str(v).lower() in ("true", "1", "1.0"))
    for leg in legs.index[candidate & ~opened & (load > TOL)]:
        rep.errors.append(f"candidate leg {leg} carries {load[leg]:.3f} TEU but is not opened")

    border_load = (load + c_load).groupby(legs["border"]).sum()
    for b, value in border_load.items():
        capacity = inst.borders.at[b, "capacity_teu"]
        if pd.notna(capacity) and value > capacity + TOL:
            rep.errors.append(f"border {b}: {value:.3f} TEU over capacity {capacity:g}")
    reaching = carried[carried["reach_h"] >= -1e-9]
    arriving = (
        load.groupby(legs["to"]).sum().add(reaching.groupby("to")["teu"].sum(), fill_value=0.0)
    )
    for node, value in arriving.items():
        capacity = inst.nodes.at[node, "handling_capacity_teu"]
        if pd.notna(capacity) and value > capacity + TOL:
            rep.errors.append(
                f"terminal {node}: {value:.3f} TEU arriving over capacity {capacity:g}"
            )

    forbidden = forbidden_pairs(inst)
    used = flows[flows["teu"] > TOL]
    cls = used["lot"].map(cargo["class"])
    hit = pd.MultiIndex.from_arrays([cls, used["leg"]]).isin(list(forbidden))
    for lot, leg, c in zip(used["lot"][hit], used["leg"][hit], cls[hit], strict=True):
        rep.errors.append(f"lot {lot} of class {c} uses leg {leg}, which a restriction forbids")

    _check_routes(rep, plan, flows, inst)
    if is_timed(plan):
        _check_timeline(rep, plan, inst)
    _check_cost(rep, plan, flows, inst, unserved, services, opened)
    return rep


def is_timed(plan: Plan) -> bool:
    """Whether the plan says when its lots move (a plan of a time model)."""
    return "departs_h" in plan.timeline.columns


def carried_flow(inst: Instance) -> pd.DataFrame:
    """The instance's carried flow with, per row, its leg's border and head node and the time
    it reaches that node (before the dwell there), by the checker's own leg hours."""
    c = inst.carried
    if c.empty:
        columns = ["lot", "leg", "departs_h", "teu", "border", "to", "reach_h"]
        return pd.DataFrame(columns=columns).astype({"departs_h": float, "teu": float})
    legs, nodes = inst.legs, inst.nodes
    leg = c["leg"].astype(str)
    hours = leg_costs(inst)["hours"].reindex(leg).to_numpy()
    head_dwell = legs["to"].map(nodes["dwell_hours"]).reindex(leg).to_numpy(dtype=float)
    dep = c["departs_at"].to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "lot": c["lot"].astype(str).to_numpy(),
            "leg": leg.to_numpy(),
            "departs_h": dep,
            "teu": c["teu"].to_numpy(dtype=float),
            "border": legs["border"].reindex(leg).to_numpy(),
            "to": legs["to"].reindex(leg).to_numpy(),
            "reach_h": dep + hours - head_dwell,
        }
    )


def _committed(carried: pd.DataFrame, inst: Instance) -> pd.DataFrame:
    """Departures already running for carried flow, per leg and time in the week: one run of a
    timetabled leg, the fewest departures that carry its TEU on a leg dispatched on demand."""
    leaving = carried[carried["departs_h"] >= -1e-9]
    aboard = leaving.groupby(["leg", "departs_h"])["teu"].sum().reset_index()
    per_departure = inst.legs["service_capacity_teu"].reindex(aboard["leg"]).to_numpy(dtype=float)
    timetabled = aboard["leg"].isin(set(inst.departures["leg"])).to_numpy()
    on_demand = np.ceil(aboard["teu"].to_numpy(dtype=float) / per_departure - 1e-9)
    count = np.where(timetabled, 1.0, np.where(np.isnan(per_departure), 0.0, on_demand))
    return aboard.assign(committed=count)


def _timed_routes(plan: Plan, inst: Instance) -> pd.DataFrame:
    """The timeline sorted per lot and route in time, with the checker's own leg hours, the
    time each leg reaches its head (before the dwell there) and the lot's ready and due times."""
    tl = plan.timeline.copy()
    for column in ("departs_h", "arrives_h", "teu"):
        tl[column] = tl[column].astype(float)
    tl["lot"], tl["leg"] = tl["lot"].astype(str), tl["leg"].astype(str)
    lc = leg_costs(inst)
    legs, nodes = inst.legs, inst.nodes
    tl["hours"] = lc["hours"].reindex(tl["leg"]).to_numpy()
    head_dwell = legs["to"].map(nodes["dwell_hours"]).reindex(tl["leg"]).to_numpy(dtype=float)
    tl["reach_h"] = tl["departs_h"] + tl["hours"] - head_dwell
    tl["ready_h"] = (
        pd.Series(inst.ready_hours(), index=inst.cargo.index).reindex(tl["lot"]).to_numpy()
    )
    tl["due_at"] = pd.Series(inst.due_hours(), index=inst.cargo.index).reindex(tl["lot"]).to_numpy()
    return tl.sort_values(["lot", "route", "departs_h"], kind="stable").reset_index(drop=True)


def _timetable_runs(inst: Instance) -> pd.DataFrame:
    """Every run of the weekly timetable inside horizon plus runoff: leg, hours, slots, cost."""
    dep = inst.departures
    end = inst.settings.horizon_hours + inst.settings.runoff_hours
    first = inst.departure_hours()
    rows = []
    for leg, h, cap, cost in zip(dep["leg"], first, dep["capacity_teu"], dep["cost"], strict=True):
        week = 0
        while h + week * HOURS_PER_WEEK < end - 1e-9:
            cost = 0.0 if pd.isna(cost) else float(cost)
            rows.append((leg, h + week * HOURS_PER_WEEK, float(cap), cost))
            week += 1
    return pd.DataFrame(rows, columns=["leg", "hours", "capacity_teu", "cost"])


def _run_of(runs: pd.DataFrame, leg: str, hours: float) -> pd.Series | None:
    """The timetable run of ``leg`` leaving at ``hours`` (None when there is none)."""
    hit = runs[(runs["leg"] == leg) & ((runs["hours"] - hours).abs() < 1e-6)]
    return None if hit.empty else hit.iloc[0]


def _check_timeline(rep: CheckReport, plan: Plan, inst: Instance) -> None:
    """The timed checks of the module docstring; errors name the lot, leg and time."""
    tl = _timed_routes(plan, inst)
    legs = inst.legs
    err = rep.errors.append
    routes = plan.routes.assign(lot=plan.routes["lot"].astype(str))
    for (lot, route), rows in tl.groupby(["lot", "route"], sort=False):
        match = routes[(routes["lot"] == lot) & (routes["route"].astype(int) == int(route))]
        text = ROUTE_SEPARATOR.join(rows["leg"])
        if match.empty or str(match["legs"].iloc[0]) != text:
            err(f"lot {lot} route {route}: the timeline's legs {text} are not the route's")
        elif not np.allclose(rows["teu"], float(match["teu"].iloc[0]), atol=1e-4):
            err(f"lot {lot} route {route}: the timeline's TEU differ from the route's")
        ready = float(rows["ready_h"].iloc[0])
        at = ready  # when the lot is at the tail of the next leg, dwell done
        for leg, dep, arr, hours in zip(
            rows["leg"], rows["departs_h"], rows["arrives_h"], rows["hours"], strict=True
        ):
            if dep < at - 1e-6:
                where = "is ready" if at == ready else f"arrives at {legs.at[leg, 'from']}"
                err(f"lot {lot} leaves on leg {leg} at {dep:g} h, before it {where} ({at:g} h)")
            if abs(arr - (dep + hours)) > 1e-6:
                err(f"lot {lot} on leg {leg}: arrives at {arr:g} h, not {dep + hours:g} h")
            at = dep + hours
        due = float(rows["due_at"].iloc[0])
        if at > due + 1e-6:
            err(f"lot {lot} reaches its destination at {at:g} h, after its due time {due:g} h")

    carried = carried_flow(inst)
    committed = _committed(carried, inst)
    leaving = carried[carried["departs_h"] >= -1e-9]
    # each departure's TEU: this week's lots and the carried flow aboard
    aboard = (
        pd.concat([tl[["leg", "departs_h", "teu"]], leaving[["leg", "departs_h", "teu"]]])
        .groupby(["leg", "departs_h"])["teu"]
        .sum()
    )
    deps = plan.departures
    if "departs_h" in deps.columns:
        deps = deps.assign(
            leg=deps["leg"].astype(str),
            departs_h=deps["departs_h"].astype(float),
            services=deps["services"].astype(float),
        )
    else:
        deps = pd.DataFrame(columns=["leg", "departs_h", "services"])
    runs = _timetable_runs(inst)
    timetabled = set(runs["leg"])
    on_demand = legs["service_capacity_teu"].notna()
    for (leg, dep), teu in aboard.items():
        if leg in timetabled:
            run = _run_of(runs, leg, dep)
            if run is None:
                err(
                    f"leg {leg}: {teu:.3f} TEU leave at {dep:g} h, when no timetabled departure runs"
                )
            elif teu > run["capacity_teu"] + TOL:
                err(
                    f"leg {leg}: {teu:.3f} TEU on the departure at {dep:g} h, over its "
                    f"{run['capacity_teu']:g} TEU"
                )
        elif on_demand[leg]:
            hit = deps[(deps["leg"] == leg) & ((deps["departs_h"] - dep).abs() < 1e-6)]
            ran = committed[
                (committed["leg"] == leg) & ((committed["departs_h"] - dep).abs() < 1e-6)
            ]
            n = float(hit["services"].sum()) + float(ran["committed"].sum())
            room = n * float(legs.at[leg, "service_capacity_teu"])
            if teu > room + TOL:
                err(
                    f"leg {leg}: {teu:.3f} TEU leave at {dep:g} h on {n:g} departures of "
                    f"{room:g} TEU"
                )
    services = plan.legs.set_index(plan.legs["leg"].astype(str))["services"]
    for leg in legs.index[on_demand]:
        mine = deps[deps["leg"] == leg]
        total = float(mine["services"].sum())
        if abs(total - float(pd.to_numeric(services.get(leg), errors="coerce") or 0.0)) > 1e-6:
            err(f"leg {leg}: {total:g} departures in the departures table, not the legs table's")
        ran = committed[committed["leg"] == leg].rename(columns={"committed": "services"})
        mine = pd.concat([mine[["departs_h", "services"]], ran[["departs_h", "services"]]])
        mine = mine.groupby("departs_h", as_index=False)["services"].sum()
        mine = mine[mine["services"] > 1e-9].sort_values("departs_h")
        total = float(mine["services"].sum())
        top = legs.at[leg, "max_services"]
        if pd.notna(top) and total > top + 1e-6:
            err(f"leg {leg}: {total:g} departures in the week, over max_services {top}")
        gap = legs.at[leg, "min_headway_hours"]
        if pd.notna(gap) and gap > 0:
            when = mine["departs_h"].to_numpy(dtype=float)
            many = mine["services"].to_numpy(dtype=float) > 1 + 1e-6
            close = np.flatnonzero(np.diff(when) < gap - 1e-6)
            for i in np.flatnonzero(many):
                err(
                    f"leg {leg}: {mine['services'].iloc[i]:g} departures at {when[i]:g} h, "
                    f"closer than its headway {gap:g} h"
                )
            for i in close:
                err(
                    f"leg {leg}: departures at {when[i]:g} h and {when[i + 1]:g} h, closer "
                    f"than its headway {gap:g} h"
                )

    border = tl["leg"].map(legs["border"])
    per_day = pd.concat(
        [
            tl.assign(border=border)[["border", "departs_h", "teu"]],
            leaving[["border", "departs_h", "teu"]],
        ]
    )
    per_day = per_day.assign(day=np.floor(per_day["departs_h"].astype(float) / 24.0 + 1e-9))
    for (b, day), teu in (
        per_day.dropna(subset=["border"]).groupby(["border", "day"])["teu"].sum().items()
    ):
        cap = inst.borders.at[b, "capacity_teu_per_day"]
        if pd.notna(cap) and teu > cap + TOL:
            err(f"border {b}: {teu:.3f} TEU on day {int(day)}, over its {cap:g} TEU a day")
    at_node = pd.concat(
        [
            tl.assign(node=tl["leg"].map(legs["to"]))[["node", "reach_h", "teu"]],
            carried[carried["reach_h"] >= -1e-9].rename(columns={"to": "node"})[
                ["node", "reach_h", "teu"]
            ],
        ]
    )
    at_node = at_node.assign(day=np.floor(at_node["reach_h"].astype(float) / 24.0 + 1e-9))
    for (node, day), teu in at_node.groupby(["node", "day"])["teu"].sum().items():
        cap = inst.nodes.at[node, "handling_capacity_teu_per_day"]
        if pd.notna(cap) and teu > cap + TOL:
            err(
                f"terminal {node}: {teu:.3f} TEU arrive on day {int(day)}, over its {cap:g} TEU a day"
            )
    _check_border_queues(rep, plan, tl, inst)


def border_queues(tl: pd.DataFrame, inst: Instance) -> dict[tuple[str, int], tuple[float, float]]:
    """(border, day) -> (TEU queued at the end of the day, TEU crossing that day), for every
    border crossed and every day from 0 to its last crossing, from a timeline sorted per lot and
    route in time (``_timed_routes``).

    A lot is at the tail of a leg from its ready time (first leg) or from the previous leg's
    departure plus its hours; on a border's leg it is queued at the end of day ``d`` when it is
    there before ``24 (d + 1)`` and leaves at or after it.
    """
    border_of = inst.legs["border"]
    queued: dict[tuple[str, int], float] = {}
    crossed: dict[tuple[str, int], float] = {}
    last_day: dict[str, int] = {}
    previous: tuple[str, int] | None = None
    at = 0.0
    for lot, route, leg, dep, hours, ready, teu in zip(
        tl["lot"], tl["route"], tl["leg"], tl["departs_h"], tl["hours"], tl["ready_h"], tl["teu"],
        strict=True,
    ):  # fmt: skip
        if (lot, int(route)) != previous:
            at, previous = float(ready), (lot, int(route))
        b = border_of.get(leg)
        if isinstance(b, str):
            day = int(np.floor(dep / 24.0 + 1e-9))
            crossed[(b, day)] = crossed.get((b, day), 0.0) + teu
            last_day[b] = max(last_day.get(b, 0), day)
            d = 0
            while 24.0 * (d + 1) <= dep + 1e-9:
                if at < 24.0 * (d + 1) - 1e-9:
                    queued[(b, d)] = queued.get((b, d), 0.0) + teu
                d += 1
        at = dep + hours
    return {
        (b, d): (queued.get((b, d), 0.0), crossed.get((b, d), 0.0))
        for b, last in last_day.items()
        for d in range(last + 1)
    }


def _check_border_queues(rep: CheckReport, plan: Plan, tl: pd.DataFrame, inst: Instance) -> None:
    """The plan's ``border_queues`` against ``border_queues`` of its timeline (skipped when the
    plan has no such table: plans written before it)."""
    table = plan.border_queues
    if "queued_teu" not in table.columns:
        return
    mine = border_queues(tl, inst)
    theirs = {
        (str(b), int(d)): (float(q), float(c))
        for b, d, q, c in zip(
            table["border"], table["day"], table["queued_teu"], table["crossed_teu"], strict=True
        )
    }
    for key in sorted(set(mine) | set(theirs)):
        want, have = mine.get(key), theirs.get(key)
        if have is None or want is None or not np.allclose(have, want, atol=1e-4):
            b, d = key
            shown = "no row" if have is None else f"{have[0]:.3f} queued, {have[1]:.3f} crossing"
            recomputed = (
                "no row" if want is None else f"{want[0]:.3f} queued, {want[1]:.3f} crossing"
            )
            rep.errors.append(
                f"border {b} day {d}: border_queues says {shown}, the timeline gives {recomputed}"
            )


def _check_balance(rep: CheckReport, flows: pd.DataFrame, inst: Instance, moved: pd.Series) -> None:
    legs = inst.legs
    out = flows.assign(node=flows["leg"].map(legs["from"])).groupby(["lot", "node"])["teu"].sum()
    inn = flows.assign(node=flows["leg"].map(legs["to"])).groupby(["lot", "node"])["teu"].sum()
    net = out.sub(inn, fill_value=0.0)
    cargo = inst.cargo
    expected = pd.concat(
        [
            pd.Series(
                moved.to_numpy(), index=pd.MultiIndex.from_arrays([cargo.index, cargo["origin"]])
            ),
            pd.Series(
                -moved.to_numpy(),
                index=pd.MultiIndex.from_arrays([cargo.index, cargo["destination"]]),
            ),
        ]
    )
    expected.index.names = ["lot", "node"]
    diff = net.sub(expected, fill_value=0.0)
    for (lot, node), value in diff[diff.abs() > TOL].items():
        rep.errors.append(f"lot {lot} does not balance at node {node}: off by {value:.4f} TEU")


def _check_routes(rep: CheckReport, plan: Plan, flows: pd.DataFrame, inst: Instance) -> None:
    routes = plan.routes
    parts = routes["legs"].fillna("").astype(str).str.split(ROUTE_SEPARATOR, regex=False).to_list()
    count = np.array([len(p) for p in parts], dtype=np.int64)
    route = np.repeat(np.arange(len(routes)), count)
    leg = np.concatenate(parts) if parts else np.zeros(0, dtype=object)
    from_routes = (
        pd.DataFrame(
            {
                "lot": routes["lot"].to_numpy()[route],
                "leg": leg,
                "teu": routes["teu"].to_numpy(dtype=float)[route],
            }
        )
        .groupby(["lot", "leg"])["teu"]
        .sum()
    )
    from_flows = flows.groupby(["lot", "leg"])["teu"].sum()
    diff = from_routes.sub(from_flows, fill_value=0.0)
    if (diff.abs() > 1e-4).any():
        rep.errors.append(
            f"routes do not add up to flows for {int((diff.abs() > 1e-4).sum())} lot-leg pairs"
        )
    hours = np.nan_to_num(leg_costs(inst)["hours"].reindex(leg).to_numpy(dtype=float))
    days = np.bincount(route, weights=hours, minlength=len(routes)) / 24.0
    due = inst.cargo["due_days"].reindex(routes["lot"]).to_numpy(dtype=float)
    exact = str(plan.summary["due_days_exact"].iloc[0]).lower() in ("true", "1")
    for i in np.flatnonzero(~np.isnan(due) & (days > due + 1e-6)):
        lot, legs_text = routes["lot"].iloc[i], routes["legs"].iloc[i]
        msg = f"lot {lot} route {legs_text} takes {days[i]:.2f} days, over its due {due[i]:g}"
        (rep.errors if exact else rep.warnings).append(
            msg if exact else msg + " (arc models enforce due days by pruning only)"
        )


def _check_cost(
    rep: CheckReport,
    plan: Plan,
    flows: pd.DataFrame,
    inst: Instance,
    unserved: pd.Series,
    services: pd.Series,
    opened: pd.Series,
) -> None:
    lc = leg_costs(inst)
    s = inst.settings
    value = flows["lot"].map(inst.cargo["class"]).map(inst.classes["value_per_teu_day"])
    timed = is_timed(plan)
    hours = 0.0 if timed else lc["hours"].reindex(flows["leg"]).to_numpy()
    per_teu = (
        lc["base_cost"].reindex(flows["leg"]).to_numpy()
        + value.to_numpy() * hours / 24.0
        + s.co2_price_per_t * lc["co2_kg"].reindex(flows["leg"]).to_numpy() / 1000.0
    )
    legs = inst.legs
    total = float((per_teu * flows["teu"].to_numpy()).sum())
    if timed:
        total += _timed_cost(plan, inst)
    total += float((services.fillna(0.0) * legs["service_cost"].fillna(0.0)).sum())
    total += float((opened.astype(float) * legs["fixed_cost"].fillna(0.0)).sum())
    penalty = inst.cargo["penalty_per_teu"].fillna(s.default_penalty_per_teu)
    total += float((unserved * penalty).sum())
    total += _stability_cost(plan, flows, inst)  # batch/rolling
    rep.recomputed_objective = total
    objective = plan.objective
    if not np.isclose(total, objective, rtol=REL_TOL, atol=1e-4):
        rep.errors.append(f"recomputed cost {total:.4f} differs from the objective {objective:.4f}")
    if not np.isclose(plan.costs["cost"].sum(), objective, rtol=REL_TOL, atol=1e-4):
        rep.errors.append(
            f"cost table adds up to {plan.costs['cost'].sum():.4f}, not {objective:.4f}"
        )


def _timed_cost(plan: Plan, inst: Instance) -> float:
    """A timed plan's time value (door to door: from ready to the arrival of the last leg, by the
    checker's leg hours) and the cost of the timetable runs it takes."""
    tl = _timed_routes(plan, inst)
    total = 0.0
    if len(tl):
        last = tl.groupby(["lot", "route"], sort=False).last()
        value = last.index.get_level_values("lot").map(inst.cargo["class"])
        per_day = value.map(inst.classes["value_per_teu_day"]).to_numpy(dtype=float)
        door = last["departs_h"] + last["hours"] - last["ready_h"]
        total += float((per_day * door.to_numpy() / 24.0 * last["teu"].to_numpy()).sum())
    runs = _timetable_runs(inst)
    deps = plan.departures
    if len(runs) and "departs_h" in deps.columns:
        for leg, dep, n in zip(deps["leg"], deps["departs_h"], deps["services"], strict=True):
            run = _run_of(runs, str(leg), float(dep))
            if run is not None:
                total += float(n) * float(run["cost"])
    return total


# --- batch/rolling


def _stability_cost(plan: Plan, flows: pd.DataFrame, inst: Instance) -> float:
    """The stability term of a plan solved against last period's plan (``allocator.analysis.rolling``).

    Scope ``leg``: W x sum over legs of |TEU - prev_flow_teu| (legs table). Scope ``lot``: W x the
    sum over flow groups and legs of |TEU - prev_teu| (flows table), lots grouped as the model
    grouped them (``stability_groups``: lot, commodity or origin_class).
    """
    info = plan.summary.iloc[0]
    weight = pd.to_numeric(info.get("stability_weight", 0.0), errors="coerce")
    if not (weight > 0):
        return 0.0
    if str(info.get("stability_scope", "leg")) == "leg":
        legs = plan.legs.set_index(plan.legs["leg"].astype(str))
        load = flows.groupby("leg")["teu"].sum().reindex(legs.index).fillna(0.0)
        prev = legs["prev_flow_teu"].astype(float).fillna(0.0)
        return float(weight) * float((load - prev).abs().sum())
    cargo = inst.cargo
    keys = {
        "lot": [],
        "origin_class": ["origin", "class"],
        "commodity": ["origin", "destination", "class", "due_days", "penalty_per_teu"],
    }[str(info.get("stability_groups", "commodity"))]
    table = cargo.assign(
        due_days=cargo["due_days"].fillna(np.inf),
        penalty_per_teu=cargo["penalty_per_teu"].fillna(inst.settings.default_penalty_per_teu),
    )
    group = (
        table.groupby(keys, dropna=False).ngroup()
        if keys
        else pd.Series(np.arange(len(table)), index=table.index)
    )
    f = plan.flows.assign(
        group=plan.flows["lot"].map(group),
        teu=plan.flows["teu"].astype(float),
        prev_teu=plan.flows["prev_teu"].astype(float).fillna(0.0),
    )
    by = f.groupby(["group", "leg"])[["teu", "prev_teu"]].sum()
    return float(weight) * float((by["teu"] - by["prev_teu"]).abs().sum())
