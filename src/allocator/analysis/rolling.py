"""Weekly re-planning: last period's plan as a MIP start, and the comparison with it.

The stability term itself is a formulation block (``define_stability``), given last period's
plan through ``build(..., stability=...)`` (``allocator.formulation.stability``). Here:
``mip_start`` maps the previous plan onto the built model's commodities, legs, departures and
opened legs as a MIP start (``SolveOptions.mip_start``); ``annotate`` adds the comparison with
the previous plan to the new plan's tables.

The mapping, lot by lot (lot ids recur week to week): each route of the previous plan whose legs
all exist and are usable by the lot's commodity this period is kept, scaled down when the lot
shrank (``formulation.stability.mapped_paths``); the rest of the lot's TEU starts unserved.
Capacities that changed (a ferry with fewer departures, a congested border) are then repaired by
scaling down the routes through the most overloaded resource until none is over. Departures are
the fewest that carry the mapped load, candidate legs are opened where it flows.
``allocator.solve`` checks the start and reports it ``accepted`` or ``rejected``.

A timed plan also hands on its carry (``with_carry``): the lots still moving when its week ended,
on the legs and departures it committed them to, become this week's ``carried`` flow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy.sparse import coo_array, csc_array

from allocator.formulation import ArcData, BuiltModel
from allocator.formulation.stability import mapped_paths, pair_index
from allocator.instance.model import ROUTE_SEPARATOR, Instance
from allocator.instance.validate import validate
from allocator.preprocess import Preprocessed
from allocator.results import Plan
from allocator.results.timeline import carry_over
from allocator.solve import SolveResult

logger = logging.getLogger(__name__)

EPS = 1e-9
UNSERVED = "(unserved)"


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
    pair_of = pair_index(d)
    coms, paths, amounts = [], [], []
    left = d.com_teu - routed
    for k, route in enumerate(pre.commodities["cheapest_route"]):
        if left[k] <= EPS or not route:
            continue
        legs = np.array(
            [net.leg_to_idx[leg] for leg in str(route).split(ROUTE_SEPARATOR)], dtype=np.int64
        )
        g = int(d.com_group[k])
        if all((g, int(a)) in pair_of for a in legs):
            coms.append(k)
            paths.append(legs)
            amounts.append(float(left[k]))
    return coms, paths, amounts


def mip_start(
    built: BuiltModel, inst: Instance, pre: Preprocessed, prev: Plan
) -> dict[str, float] | None:
    """Last period's plan as values of every variable of the built model, keyed by variable
    name; None (with a warning) for a model that is not of the arc family."""
    if built.recipe.family != "arc":
        logger.warning("a warm start needs an arc-family model, not %r", built.recipe.family)
        return None
    m, d = built.model, built.data
    net = pre.net
    cap = _capacities(pre, d)
    # last period's routes first (they keep the capacity they fit in), then cheapest routes
    _, coms, paths, amounts = mapped_paths(inst, pre, d, prev.routes)
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
    pair_of = pair_index(d)
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
    if hasattr(m, "dev_plus") and built.stability is not None:
        lot_scope = built.stability.scope == "lot"
        now, ref = (x, built.stability.pair_teu) if lot_scope else (load, built.stability.leg_teu)
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


def with_carry(inst: Instance, prev: Plan) -> Instance:
    """``inst`` with what ``prev``, last week's timed plan, carries past its week's end as its
    ``carried`` table (``results.timeline.carry_over``), validated again; ``inst`` itself when
    ``prev`` is not timed, carries nothing, or the instance states its own carried flow (a
    planner's table wins). Rows on legs this week lacks are left out with a warning."""
    info = prev.info()
    horizon = pd.to_numeric(info.get("horizon_hours"), errors="coerce")
    if not inst.carried.empty or not np.isfinite(horizon):
        return inst
    carry = carry_over(prev.timeline, prev.carried, float(horizon))
    known = carry["leg"].isin(inst.legs.index)
    if not known.all():
        logger.warning(
            "carry: %d row(s) on legs this week lacks left out: %s",
            int((~known).sum()),
            ", ".join(sorted(set(carry.loc[~known, "leg"])))[:200],
        )
    if not known.any():
        return inst
    return validate(replace(inst, carried=carry[known].reset_index(drop=True)))


def warm_start(
    prev: Plan, inst: Instance, pre: Preprocessed
) -> Callable[[BuiltModel], dict[str, float] | None]:
    """``mip_start`` of ``prev`` for whichever model a method builds (``methods.Task.start``)."""
    return lambda built: mip_start(built, inst, pre, prev)


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


def _stability_by_leg(built: BuiltModel, legs: pd.DataFrame) -> np.ndarray:
    """|change| per leg that the stability term charges: per leg, or summed over its variables."""
    ref = built.stability
    assert ref is not None
    if ref.scope == "leg":
        return np.abs(legs["flow_teu"].to_numpy(dtype=float) - ref.leg_teu)
    x = np.array([v.value or 0.0 for v in built.model.flow.values()], dtype=float)
    change = np.abs(x - ref.pair_teu)
    return np.bincount(built.data.pair_leg, weights=change, minlength=len(legs))


def _groups(built: BuiltModel) -> str:
    """How lots form the model's flow groups, for the checker."""
    d = built.data
    if d.n_pairs and built.recipe.options.get("aggregate", "none") == "origin":
        return "origin_class"
    return "lot" if d.integer_teu else "commodity"


def annotate(plan: Plan, built: BuiltModel, result: SolveResult, prev: Plan | None) -> Plan:
    """Add the MIP start status and, with a previous plan, its period (``previous_period``) and
    the comparison with it.

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
    ref = built.stability
    if prev is not None:
        period = prev.summary["period"].iloc[0]
        summary["previous_period"] = "" if pd.isna(period) else str(period)
    if prev is None or ref is None:
        return replace(plan, summary=summary)
    m = built.model
    weight = ref.weight if hasattr(m, "STABILITY_KEYS") else 0.0  # the recipe applied the term
    legs = plan.legs.copy()
    legs["prev_flow_teu"] = ref.leg_teu
    flows = plan.flows.merge(ref.lots, on=["lot", "leg"], how="outer")
    flows = flows.fillna({"teu": 0.0, "prev_teu": 0.0}).sort_values(["lot", "leg"])
    change = _stability_by_leg(built, legs)
    cost = weight * float(change.sum())
    costs = plan.costs
    if weight > 0:
        model_cost = weight * sum(
            (m.dev_plus[k].value or 0.0) + (m.dev_minus[k].value or 0.0) for k in m.STABILITY_KEYS
        )
        if ref.scope == "lot":
            model_cost += weight * float(
                sum(x.value or 0.0 for p, x in m.flow.items() if ref.pair_teu[p] <= 0)
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
    summary["stability_weight"] = weight
    summary["stability_scope"] = ref.scope
    summary["stability_groups"] = _groups(built)
    summary["stability_cost"] = cost
    summary["teu_changed_corridor"] = teu_changed_corridor(plan, prev)
    return replace(
        plan, summary=summary, legs=legs, flows=flows.reset_index(drop=True), costs=costs
    )
