"""The baseline a user would write by hand: a plain Pyomo arc model, no preprocessing, appsi_highs.

One flow variable per (lot, leg) the lot's class may use, flow balance for every lot and node,
costs from pandas, the same capacity rows, and ``SolverFactory('appsi_highs')``.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from allocator.instance.model import Instance
from allocator.results.check import forbidden_pairs, leg_costs


def build_plain(inst: Instance) -> pyo.ConcreteModel:
    """The hand-written model."""
    legs, cargo, s = inst.legs, inst.cargo, inst.settings
    lc = leg_costs(inst)
    forbidden = forbidden_pairs(inst)
    value = cargo["class"].map(inst.classes["value_per_teu_day"])
    m = pyo.ConcreteModel()
    m.LOTS = pyo.Set(initialize=list(cargo.index))
    m.LEGS = pyo.Set(initialize=list(legs.index))
    m.NODES = pyo.Set(initialize=list(inst.nodes.index))
    m.PAIRS = pyo.Set(
        dimen=2,
        initialize=[
            (k, a)
            for k in cargo.index
            for a in legs.index
            if (cargo.at[k, "class"], a) not in forbidden
        ],
    )
    m.flow = pyo.Var(m.PAIRS, domain=pyo.NonNegativeReals)
    unserved_ub = 0.0 if s.unserved == "forbid" else None
    m.unserved = pyo.Var(
        m.LOTS,
        bounds=lambda m, k: (0, unserved_ub if unserved_ub is not None else cargo.at[k, "teu"]),
    )
    service = [a for a in legs.index if not np.isnan(legs.at[a, "service_capacity_teu"])]
    max_services = legs["max_services"].astype("float64")
    m.services = pyo.Var(
        service,
        domain=pyo.NonNegativeIntegers,
        bounds=lambda m, a: (0, None if np.isnan(max_services[a]) else float(max_services[a])),
    )
    candidate = [a for a in legs.index if legs.at[a, "fixed_cost"] > 0]
    m.open = pyo.Var(candidate, domain=pyo.Binary)

    out_legs = {n: [] for n in inst.nodes.index}
    in_legs = {n: [] for n in inst.nodes.index}
    for a in legs.index:
        out_legs[legs.at[a, "from"]].append(a)
        in_legs[legs.at[a, "to"]].append(a)
    pairs_of_leg: dict[str, list] = {a: [] for a in legs.index}
    for k, a in m.PAIRS:
        pairs_of_leg[a].append((k, a))

    def balance(m, k, n):
        supply = 0
        if cargo.at[k, "origin"] == n:
            supply = cargo.at[k, "teu"] - m.unserved[k]
        elif cargo.at[k, "destination"] == n:
            supply = -(cargo.at[k, "teu"] - m.unserved[k])
        out = sum(m.flow[k, a] for a in out_legs[n] if (k, a) in m.PAIRS)
        inn = sum(m.flow[k, a] for a in in_legs[n] if (k, a) in m.PAIRS)
        if isinstance(out, int) and isinstance(inn, int) and isinstance(supply, int):
            return pyo.Constraint.Skip
        return out - inn == supply

    m.balance = pyo.Constraint(m.LOTS, m.NODES, rule=balance)
    cap = [a for a in legs.index if not np.isnan(legs.at[a, "capacity_teu"]) and a not in candidate]
    m.capacity = pyo.Constraint(
        cap, rule=lambda m, a: sum(m.flow[p] for p in pairs_of_leg[a]) <= legs.at[a, "capacity_teu"]
    )
    m.service = pyo.Constraint(
        service,
        rule=lambda m, a: (
            sum(m.flow[p] for p in pairs_of_leg[a])
            <= legs.at[a, "service_capacity_teu"] * m.services[a]
        ),
    )
    borders = inst.borders[inst.borders["capacity_teu"].notna()].index
    m.border = pyo.Constraint(
        list(borders),
        rule=lambda m, b: (
            sum(m.flow[p] for a in legs.index[legs["border"] == b] for p in pairs_of_leg[a])
            <= inst.borders.at[b, "capacity_teu"]
        ),
    )
    terminals = inst.nodes[inst.nodes["handling_capacity_teu"].notna()].index
    m.terminal = pyo.Constraint(
        list(terminals),
        rule=lambda m, n: (
            sum(m.flow[p] for a in in_legs[n] for p in pairs_of_leg[a])
            <= inst.nodes.at[n, "handling_capacity_teu"]
        ),
    )
    total = float(cargo["teu"].sum())

    def weak(m, a):
        u = legs.at[a, "capacity_teu"]
        return (
            sum(m.flow[p] for p in pairs_of_leg[a])
            <= min(total if np.isnan(u) else u, total) * m.open[a]
        )

    m.weak = pyo.Constraint(candidate, rule=weak)
    m.strong = pyo.Constraint(
        [p for a in candidate for p in pairs_of_leg[a]],
        rule=lambda m, k, a: (
            m.flow[k, a]
            <= min(
                cargo.at[k, "teu"],
                np.inf if np.isnan(legs.at[a, "capacity_teu"]) else legs.at[a, "capacity_teu"],
            )
            * m.open[a]
        ),
    )
    penalty = cargo["penalty_per_teu"].fillna(s.default_penalty_per_teu)
    per_teu = {
        (k, a): lc.at[a, "base_cost"]
        + value[k] * lc.at[a, "hours"] / 24
        + s.co2_price_per_t * lc.at[a, "co2_kg"] / 1000
        for k, a in m.PAIRS
    }
    m.obj = pyo.Objective(
        expr=sum(per_teu[p] * m.flow[p] for p in m.PAIRS)
        + sum(legs.at[a, "service_cost"] * m.services[a] for a in service)
        + sum(legs.at[a, "fixed_cost"] * m.open[a] for a in candidate)
        + sum(penalty[k] * m.unserved[k] for k in m.LOTS)
    )
    return m


def solve_plain(m: pyo.ConcreteModel, time_limit_s: float, mip_rel_gap: float) -> float:
    """Solve with appsi_highs and return the objective."""
    opt = pyo.SolverFactory("appsi_highs")
    opt.config.time_limit = time_limit_s
    opt.config.mip_gap = mip_rel_gap
    opt.config.load_solution = True
    opt.solve(m)
    return float(pyo.value(m.obj))
