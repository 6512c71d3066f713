"""Re-check a written plan against its instance from the tables alone, without the model.

Everything here is recomputed with plain pandas (no numba, no Pyomo), so it also serves as an
independent twin of the cost matrix: flows balance per lot and node, no leg, service, border or
terminal capacity is exceeded, no class uses a leg it may not, candidate legs carry flow only when
opened, routes add up to the flows and respect due days, and the costs add up to the objective
(including the stability term of a rolling re-plan, recomputed from ``prev_flow_teu``/``prev_teu``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.instance.model import ROUTE_SEPARATOR, Instance
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
    freight = legs["cost_per_teu"].copy()
    for leg in freight[freight.isna()].index:
        bands = inst.tariffs[inst.tariffs["mode"] == legs.at[leg, "mode"]].sort_values("from_km")
        d = dist[leg]
        inside = bands[(bands["from_km"] <= d) & ((bands["to_km"].isna()) | (d < bands["to_km"]))]
        band = inside.iloc[0] if len(inside) else bands.iloc[-1]
        freight[leg] = band["fixed_per_teu"] + band["cost_per_teu_km"] * d
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
    cap = legs["capacity_teu"]
    for leg in load.index[(load > cap + TOL).to_numpy()]:
        rep.errors.append(f"leg {leg}: {load[leg]:.3f} TEU over capacity {cap[leg]:g}")
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
        if pd.notna(legs.at[leg, "max_services"]) and s > legs.at[leg, "max_services"]:
            rep.errors.append(
                f"service leg {leg}: {s:g} services over max_services {legs.at[leg, 'max_services']}"
            )
        if load[leg] > s * legs.at[leg, "service_capacity_teu"] + TOL:
            rep.errors.append(f"service leg {leg}: {load[leg]:.3f} TEU over {s:g} services' slots")
    candidate = legs["fixed_cost"] > 0
    opened = plan_legs["opened"].reindex(legs.index)
    opened = opened.map(lambda v: str(v).lower() in ("true", "1", "1.0"))
    for leg in legs.index[candidate & ~opened & (load > TOL)]:
        rep.errors.append(f"candidate leg {leg} carries {load[leg]:.3f} TEU but is not opened")

    border_load = load.groupby(legs["border"]).sum()
    for b, value in border_load.items():
        capacity = inst.borders.at[b, "capacity_teu"]
        if pd.notna(capacity) and value > capacity + TOL:
            rep.errors.append(f"border {b}: {value:.3f} TEU over capacity {capacity:g}")
    arriving = load.groupby(legs["to"]).sum()
    for node, value in arriving.items():
        capacity = inst.nodes.at[node, "handling_capacity_teu"]
        if pd.notna(capacity) and value > capacity + TOL:
            rep.errors.append(
                f"terminal {node}: {value:.3f} TEU arriving over capacity {capacity:g}"
            )

    forbidden = forbidden_pairs(inst)
    cls = flows["lot"].map(cargo["class"])
    used = flows[flows["teu"] > TOL]
    for lot, leg, c in zip(used["lot"], used["leg"], cls[used.index], strict=True):
        if (c, leg) in forbidden:
            rep.errors.append(f"lot {lot} of class {c} uses leg {leg}, which a restriction forbids")

    _check_routes(rep, plan, flows, inst)
    _check_cost(rep, plan, flows, inst, unserved, services, opened)
    return rep


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
    rows = []
    for lot, legs_text, teu in zip(routes["lot"], routes["legs"], routes["teu"], strict=True):
        rows.extend((lot, leg, float(teu)) for leg in str(legs_text).split(ROUTE_SEPARATOR))
    from_routes = (
        pd.DataFrame(rows, columns=["lot", "leg", "teu"]).groupby(["lot", "leg"])["teu"].sum()
    )
    from_flows = flows.groupby(["lot", "leg"])["teu"].sum()
    diff = from_routes.sub(from_flows, fill_value=0.0)
    if (diff.abs() > 1e-4).any():
        rep.errors.append(
            f"routes do not add up to flows for {int((diff.abs() > 1e-4).sum())} lot-leg pairs"
        )
    hours = leg_costs(inst)["hours"]
    due = inst.cargo["due_days"]
    exact = str(plan.summary["due_days_exact"].iloc[0]).lower() in ("true", "1")
    for lot, legs_text in zip(routes["lot"], routes["legs"], strict=True):
        days = hours[str(legs_text).split(ROUTE_SEPARATOR)].sum() / 24.0
        if pd.notna(due[lot]) and days > due[lot] + 1e-6:
            msg = f"lot {lot} route {legs_text} takes {days:.2f} days, over its due {due[lot]:g}"
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
    per_teu = (
        lc["base_cost"].reindex(flows["leg"]).to_numpy()
        + value.to_numpy() * lc["hours"].reindex(flows["leg"]).to_numpy() / 24.0
        + s.co2_price_per_t * lc["co2_kg"].reindex(flows["leg"]).to_numpy() / 1000.0
    )
    legs = inst.legs
    total = float((per_teu * flows["teu"].to_numpy()).sum())
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
