"""Weekly re-planning: last period's plan as a MIP start, and stability against it.

``prepare`` runs between building the model and solving it: it adds the stability block
(``define_stability``) when a weight is given, and maps the previous plan onto this period's
commodities, legs, departures and opened legs as a MIP start (``SolveOptions.mip_start``).
``annotate`` adds the comparison with the previous plan to the new plan's tables.

The mapping, lot by lot (lot ids recur week to week): each route of the previous plan whose legs
all exist and are usable by the lot's commodity this period is kept, scaled down when the lot
shrank; the rest of the lot's TEU starts unserved. Capacities that changed (a ferry with fewer
departures, a congested border) are then repaired by scaling down the routes through the most
overloaded resource until none is over. Departures are the fewest that carry the mapped load,
candidate legs are opened where it flows. ``allocator.solve`` checks the start and reports it
``accepted`` or ``rejected``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from scipy.sparse import coo_array, csc_array

from allocator.formulation import ArcData
from allocator.formulation.arc import define_stability
from allocator.instance.model import Instance
from allocator.preprocess import Network, Preprocessed
from allocator.results import Plan

logger = logging.getLogger(__name__)

EPS = 1e-9
SCOPES = ("lot", "leg")
UNSERVED = "(unserved)"


def previous_leg_flow(prev: Plan, net: Network) -> np.ndarray:
    """Last period's TEU per leg of this network (0 for a new leg; legs that are gone drop out)."""
    flow = prev.legs.set_index(prev.legs["leg"].astype(str))["flow_teu"].astype(float)
    return flow.groupby(level=0).sum().reindex(net.leg_ids).fillna(0.0).to_numpy()


def prepare(
    m: pyo.ConcreteModel,
    inst: Instance,
    pre: Preprocessed,
    prev: Plan,
    weight: float = 0.0,
    warm_start: bool = True,
    scope: str = "lot",
) -> dict[str, float] | None:
    """Add the stability term (when ``weight > 0``) and return the MIP start (when ``warm_start``).

    ``scope`` is ``lot`` (deviation per flow variable from last period's TEU of its lots) or
    ``leg`` (deviation per leg from last period's leg volume); see ``define_stability``.
    """
    if scope not in SCOPES:
        raise ValueError(f"stability scope must be one of {SCOPES}, not {scope!r}")
    family = getattr(getattr(m, "recipe", None), "family", "")
    if family != "arc" or not isinstance(getattr(m, "data", None), ArcData):
        logger.warning("warm start and stability need an arc-family model, not %r", family)
        return None
    d: ArcData = m.data
    lots, coms, paths, amounts = _mapped_paths(inst, pre, d, prev)
    pair_of = _pair_index(d)
    prev_pairs = np.zeros(d.n_pairs)
    rows = []
    for lot, k, legs, teu in zip(lots, coms, paths, amounts, strict=True):
        g = int(d.com_group[k])
        for a in legs:
            prev_pairs[pair_of[(g, int(a))]] += teu
            rows.append((lot, pre.net.leg_ids[a], teu))
    m.stability_prev = previous_leg_flow(prev, pre.net)
    m.stability_prev_pairs = prev_pairs
    m.stability_prev_lots = (
        pd.DataFrame(rows, columns=["lot", "leg", "prev_teu"])
        .groupby(["lot", "leg"], as_index=False)["prev_teu"]
        .sum()
    )
    m.stability_weight = float(weight)
    m.stability_scope = scope
    if weight > 0:
        define_stability(m, d, pre.net)
    return mip_start(m, inst, pre, prev) if warm_start else None


def _pair_index(d: ArcData) -> dict[tuple[int, int], int]:
    """Flow variable of each (group, leg)."""
    pairs = zip(d.pair_group.tolist(), d.pair_leg.tolist(), strict=True)
    return {key: p for p, key in enumerate(pairs)}


def _mapped_paths(
    inst: Instance, pre: Preprocessed, d: ArcData, prev: Plan
) -> tuple[list[str], list[int], list[np.ndarray], list[float]]:
    """(lot, commodity, leg indices, TEU) of last period's routes that fit this period's model,
    scaled down where a lot shrank."""
    net = pre.net
    cargo = inst.cargo
    lot_pos = {lot: i for i, lot in enumerate(cargo.index)}
    pair_of = _pair_index(d)
    routes = prev.routes
    kept: dict[str, list[tuple[np.ndarray, float]]] = {}
    for lot, legs_text, teu in zip(
        routes["lot"].astype(str), routes["legs"].astype(str), routes["teu"], strict=True
    ):
        if lot not in lot_pos or not float(teu) > EPS:
            continue
        k = int(pre.lot_commodity[lot_pos[lot]])
        g = int(d.com_group[k])
        ids = legs_text.split(" > ")
        if any(leg not in net.leg_to_idx for leg in ids):
            continue
        legs = np.array([net.leg_to_idx[leg] for leg in ids], dtype=np.int64)
        if any((g, int(a)) not in pair_of for a in legs):
            continue
        if net.leg_from[legs[0]] != d.com_origin[k] or net.leg_to[legs[-1]] != d.com_dest[k]:
            continue
        kept.setdefault(lot, []).append((legs, float(teu)))
    lots, coms, paths, amounts = [], [], [], []
    for lot, rows in kept.items():
        i = lot_pos[lot]
        routed = sum(t for _, t in rows)
        scale = min(1.0, float(cargo["teu"].iloc[i]) / routed) if routed > 0 else 0.0
        for legs, teu in rows:
            lots.append(lot)
            coms.append(int(pre.lot_commodity[i]))
            paths.append(legs)
            amounts.append(teu * scale)
    return lots, coms, paths, amounts


def _capacities(pre: Preprocessed, d: ArcData) -> np.ndarray:
    """Capacity of every resource: legs (incl. all departures), then borders, then terminals."""
    slots = d.leg_service_capacity * d.leg_max_services  # nan off service legs
    leg_cap = np.fmin(d.leg_capacity, np.where(np.isnan(slots), np.inf, slots))
    return np.concatenate([leg_cap, d.border_capacity, d.node_capacity])


def _usage(pre: Preprocessed, d: ArcData, paths: list[np.ndarray]) -> csc_array:
    """Resources used per TEU by each path (rows) in the order of ``_capacities``."""
    net = pre.net
    n_legs, n_borders = net.n_legs, len(d.border_capacity)
    rows, cols = [], []
    for i, legs in enumerate(paths):
        borders = d.leg_border[legs]
        used = np.concatenate(
            [legs, n_legs + borders[borders >= 0], n_legs + n_borders + net.leg_to[legs]]
        )
        rows.append(np.full(len(used), i))
        cols.append(used)
    shape = (len(paths), n_legs + n_borders + net.n_nodes)
    if not paths:
        return csc_array(shape)
    r, c = np.concatenate(rows), np.concatenate(cols)
    return coo_array((np.ones(len(r)), (r, c)), shape=shape).tocsc()  # duplicates add up


def _repair(use: csc_array, cap: np.ndarray, amounts: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Scale paths down until ``base`` plus their load exceeds no capacity (``base`` fits)."""
    amounts = amounts.copy()
    room = np.maximum(cap - base, 0.0)
    finite = np.isfinite(cap)
    for _ in range(len(cap) + 1):
        load = use.T @ amounts
        over = finite & (load - room > 1e-7 * np.maximum(1.0, cap))
        if not over.any():
            break
        ratio = np.where(over, load / np.maximum(room, EPS), 0.0)
        r = int(np.argmax(ratio))
        through = use.indices[use.indptr[r] : use.indptr[r + 1]]
        amounts[through] *= room[r] / load[r] * (1 - 1e-9)
    return amounts


def _fill_paths(
    pre: Preprocessed, d: ArcData, routed: np.ndarray
) -> tuple[list[int], list[np.ndarray], list[float]]:
    """This period's cheapest route for the TEU of each commodity the old plan does not cover."""
    net = pre.net
    pair_of = _pair_index(d)
    coms, paths, amounts = [], [], []
    left = d.com_teu - routed
    for k, route in enumerate(pre.commodities["cheapest_route"]):
        if left[k] <= EPS or not route:
            continue
        legs = np.array([net.leg_to_idx[leg] for leg in str(route).split(" > ")], dtype=np.int64)
        g = int(d.com_group[k])
        if all((g, int(a)) in pair_of for a in legs):
            coms.append(k)
            paths.append(legs)
            amounts.append(float(left[k]))
    return coms, paths, amounts


def mip_start(
    m: pyo.ConcreteModel,
    inst: Instance,
    pre: Preprocessed,
    prev: Plan,
) -> dict[str, float]:
    """Last period's plan as values of every variable of ``m``, keyed by variable name."""
    d: ArcData = m.data
    net = pre.net
    cap = _capacities(pre, d)
    # last period's routes first (they keep the capacity they fit in), then cheapest routes
    _, coms, paths, amounts = _mapped_paths(inst, pre, d, prev)
    use = _usage(pre, d, paths)
    amount = _repair(use, cap, np.asarray(amounts, dtype=float), np.zeros(len(cap)))
    if d.integer_teu:
        amount = np.floor(amount + 1e-9)
    routed = np.bincount(np.asarray(coms, dtype=np.int64), amount, minlength=len(d.com_teu))
    fill_coms, fill_paths, fill_amounts = _fill_paths(pre, d, routed)
    fill_use = _usage(pre, d, fill_paths)
    fill = _repair(fill_use, cap, np.asarray(fill_amounts, dtype=float), use.T @ amount)
    if d.integer_teu:
        fill = np.floor(fill + 1e-9)
    coms, paths = coms + fill_coms, paths + fill_paths
    amount = np.concatenate([amount, fill])
    pair_of = _pair_index(d)
    x = np.zeros(d.n_pairs)
    routed = np.zeros(len(d.com_teu))
    for k, legs, teu in zip(coms, paths, amount, strict=True):
        g = int(d.com_group[k])
        for a in legs:
            x[pair_of[(g, int(a))]] += teu
        routed[k] += teu
    unserved = np.maximum(d.com_teu - routed, 0.0)
    load = np.bincount(d.pair_leg, weights=x, minlength=net.n_legs)
    start: dict[str, float] = {}
    for p, var in m.flow.items():
        start[var.name] = float(x[p])
    for k, var in m.unserved.items():
        start[var.name] = float(unserved[k])
    for a in m.SERVICE_LEGS:
        need = np.ceil(load[a] / d.leg_service_capacity[a] - 1e-9) if load[a] > EPS else 0.0
        start[m.services[a].name] = float(max(need, 0.0))
    for a in m.CANDIDATE_LEGS:
        start[m.open[a].name] = 1.0 if load[a] > EPS else 0.0
    if hasattr(m, "dev_plus"):
        lot_scope = m.stability_scope == "lot"
        now, ref = (x, m.stability_prev_pairs) if lot_scope else (load, m.stability_prev)
        for key in m.STABILITY_KEYS:
            start[m.dev_plus[key].name] = float(max(now[key] - ref[key], 0.0))
            start[m.dev_minus[key].name] = float(max(ref[key] - now[key], 0.0))
    logger.info(
        "warm start: %d routes of %d commodities mapped (%d new), %.1f of %.1f TEU routed",
        len(paths),
        len(set(coms)),
        len(fill_paths),
        float(amount.sum()),
        float(d.com_teu.sum()),
    )
    return start


def corridor_shares(plan: Plan) -> pd.DataFrame:
    """TEU per (lot, corridor combination of its routes), unserved TEU as corridor ``(unserved)``."""
    routes = plan.routes.assign(corridor=plan.routes["corridor"].fillna("").astype(str))
    parts = [
        routes[["lot", "corridor", "teu"]],
        plan.unserved[["lot", "teu"]].assign(corridor=UNSERVED),
    ]
    frame = pd.concat(parts, ignore_index=True)
    frame["lot"] = frame["lot"].astype(str)
    frame["teu"] = frame["teu"].astype(float)
    return frame.groupby(["lot", "corridor"])["teu"].sum()


def teu_changed_corridor(plan: Plan, prev: Plan) -> float:
    """TEU that moved corridor: over lots in both plans, this period's TEU times half the L1
    distance between the lot's corridor shares now and in ``prev`` (unserved counts as a corridor).
    """
    now, before = corridor_shares(plan), corridor_shares(prev)
    total_now = now.groupby(level="lot").sum()
    total_before = before.groupby(level="lot").sum()
    lots = total_now.index.intersection(total_before.index)
    lots = lots[(total_now[lots] > EPS) & (total_before[lots] > EPS)]
    if len(lots) == 0:
        return 0.0
    share_now = (now / total_now.reindex(now.index, level="lot")).loc[lots]
    share_before = (before / total_before.reindex(before.index, level="lot")).loc[lots]
    diff = share_now.sub(share_before, fill_value=0.0).abs().groupby(level="lot").sum() / 2
    return float((diff * total_now[lots]).sum())


def _stability_by_leg(m: pyo.ConcreteModel, legs: pd.DataFrame) -> np.ndarray:
    """|change| per leg that the stability term charges: per leg, or summed over its variables."""
    if m.stability_scope == "leg":
        return np.abs(legs["flow_teu"].to_numpy(dtype=float) - m.stability_prev)
    d: ArcData = m.data
    x = np.array([v.value or 0.0 for v in m.flow.values()], dtype=float)
    change = np.abs(x - m.stability_prev_pairs)
    return np.bincount(d.pair_leg, weights=change, minlength=len(legs))


def _groups(m: pyo.ConcreteModel) -> str:
    """How lots form the model's flow groups, for the checker."""
    if m.data.n_pairs and m.recipe.options.get("aggregate", "none") == "origin":
        return "origin_class"
    return "lot" if m.data.integer_teu else "commodity"


def annotate(plan: Plan, m: pyo.ConcreteModel, result: Any, prev: Plan | None) -> Plan:
    """Add the MIP start status and, with a previous plan, the comparison with it.

    ``legs`` gains ``prev_flow_teu``; ``flows`` gains ``prev_teu`` (last period's TEU of the lot
    on the leg as mapped onto this period, with rows of zero TEU where only last period used
    the leg); ``costs`` a ``stability`` component per corridor; ``summary`` gains ``mip_start``,
    ``mip_start_objective``, ``previous_period``, ``stability_weight``, ``stability_scope``,
    ``stability_groups``, ``stability_cost`` and ``teu_changed_corridor``. If the solver's
    deviation variables were not tight (an incumbent stopped at a limit), the objective is that
    of the same plan with tight deviations, so the costs still add up to it.
    """
    summary = plan.summary.copy()
    summary["mip_start"] = result.mip_start_status
    summary["mip_start_objective"] = result.mip_start_objective
    if prev is None or not hasattr(m, "stability_prev"):
        return replace(plan, summary=summary)
    weight = float(m.stability_weight)
    legs = plan.legs.copy()
    legs["prev_flow_teu"] = m.stability_prev
    flows = plan.flows.merge(m.stability_prev_lots, on=["lot", "leg"], how="outer")
    flows = flows.fillna({"teu": 0.0, "prev_teu": 0.0}).sort_values(["lot", "leg"])
    change = _stability_by_leg(m, legs)
    cost = weight * float(change.sum())
    costs = plan.costs
    if weight > 0:
        model_cost = weight * sum(
            (m.dev_plus[k].value or 0.0) + (m.dev_minus[k].value or 0.0) for k in m.STABILITY_KEYS
        )
        if m.stability_scope == "lot":
            model_cost += weight * float(
                sum(x.value or 0.0 for p, x in m.flow.items() if m.stability_prev_pairs[p] <= 0)
            )
        if model_cost - cost > 1e-6 * max(1.0, cost):
            summary["objective"] = summary["objective"] - (model_cost - cost)
        extra = (
            pd.DataFrame(
                {
                    "component": "stability",
                    "corridor": legs["corridor"].fillna("(none)").astype(str),
                    "cost": weight * change,
                }
            )
            .groupby(["component", "corridor"], sort=False)["cost"]
            .sum()
            .reset_index()
        )
        extra = extra[extra["cost"].abs() > 1e-6]
        costs = pd.concat([costs, extra], ignore_index=True)
    period = prev.summary["period"].iloc[0]
    summary["previous_period"] = "" if pd.isna(period) else str(period)
    summary["stability_weight"] = weight
    summary["stability_scope"] = m.stability_scope
    summary["stability_groups"] = _groups(m)
    summary["stability_cost"] = cost
    summary["teu_changed_corridor"] = teu_changed_corridor(plan, prev)
    return replace(
        plan, summary=summary, legs=legs, flows=flows.reset_index(drop=True), costs=costs
    )
