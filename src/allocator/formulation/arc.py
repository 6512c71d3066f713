"""Arc-based formulation: one ``define_*`` function per variable or constraint family.

Notation: groups :math:`g` (a commodity, or all commodities of one origin and class), commodities
:math:`k \\in g` with :math:`q_k` TEU, legs :math:`a=(i,j)`, flow variables :math:`x_{ga}` for the
usable pairs only, :math:`C_{ga}` the generalised cost per TEU of the group's class on leg :math:`a`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression
from scipy.sparse import csr_array

from allocator.formulation.built import BuildContext
from allocator.formulation.data import ArcData
from allocator.formulation.rows import ArrayConstraint, Cut, Values


def define_flow(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""TEU of group :math:`g` on leg :math:`a`: :math:`x_{ga} \ge 0` (integer with ``integer_teu``)."""
    d = ctx.data
    domain = pyo.NonNegativeIntegers if d.integer_teu else pyo.NonNegativeReals
    m.flow = pyo.Var(range(d.n_pairs), domain=domain)
    ctx.bounds(m.flow, np.zeros(d.n_pairs), np.full(d.n_pairs, np.inf), d.integer_teu)


def define_unserved(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""TEU of commodity :math:`k` left unmoved: :math:`0 \le u_k \le q_k`, and :math:`u_k = 0` under ``forbid``."""
    d = ctx.data
    domain = pyo.NonNegativeIntegers if d.integer_teu else pyo.NonNegativeReals
    ub = np.zeros_like(d.com_teu) if d.forbid_unserved else d.com_teu

    m.unserved = pyo.Var(
        range(len(d.com_teu)), domain=domain, bounds=lambda m, k: (0, float(ub[k]))
    )


def define_services(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Departures of service leg :math:`a`: :math:`s_a \in \{0, 1, \dots, S_a\}`."""
    d = ctx.data
    legs = [int(a) for a in d.service_legs]
    m.SERVICE_LEGS = pyo.Set(initialize=legs, ordered=True)

    def bounds(m: pyo.ConcreteModel, a: int) -> tuple[float, float | None]:
        top = d.leg_max_services[a]
        return (0, float(top) if np.isfinite(top) else None)

    m.services = pyo.Var(m.SERVICE_LEGS, domain=pyo.NonNegativeIntegers, bounds=bounds)


def define_open(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Whether candidate leg :math:`a` (fixed cost :math:`F_a > 0`) is opened: :math:`y_a \in \{0,1\}`."""
    m.CANDIDATE_LEGS = pyo.Set(initialize=[int(a) for a in ctx.data.candidate_legs], ordered=True)
    m.open = pyo.Var(m.CANDIDATE_LEGS, domain=pyo.Binary)


def define_flow_balance(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Flow conservation per group and node.

    .. math:: \sum_{a \in \delta^+(i)} x_{ga} - \sum_{a \in \delta^-(i)} x_{ga}
              = \sum_{k \in g: o_k = i} (q_k - u_k) - \sum_{k \in g: d_k = i} (q_k - u_k)
    """
    d, net = ctx.data, ctx.net
    n = net.n_nodes
    keys = np.concatenate(
        [
            d.pair_group * n + net.leg_from[d.pair_leg],
            d.pair_group * n + net.leg_to[d.pair_leg],
            d.com_group * n + d.com_origin,
            d.com_group * n + d.com_dest,
        ]
    )
    rows, row_of = np.unique(keys, return_inverse=True)
    p, k = d.n_pairs, len(d.com_teu)
    # out - in + sum_origin u - sum_dest u = sum_origin q - sum_dest q
    rhs = np.bincount(
        row_of[2 * p :], weights=np.concatenate([d.com_teu, -d.com_teu]), minlength=len(rows)
    )
    columns = np.concatenate([np.arange(p), np.arange(p), p + np.arange(k), p + np.arange(k)])
    signs = np.repeat([1.0, -1.0, 1.0, -1.0], [p, p, k, k])
    a = csr_array((signs, (row_of, columns)), shape=(len(rows), p + k))
    a.eliminate_zeros()
    # rows straight from arrays: no Pyomo expression per row (the build's largest family)
    m.con_flow_balance = ArrayConstraint(
        a.data,
        a.indices,
        a.indptr,
        rhs,
        rhs,
        [*m.flow.values(), *m.unserved.values()],
    )
    ctx.balance_keys = rows


def _leg_sum(x: list[Any], by_leg: list[list[int]], a: int) -> Any:
    return sum(x[p] for p in by_leg[a])


def define_leg_capacity(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Leg capacity per period, for legs that are not candidates: :math:`\sum_g x_{ga} \le U_a`."""
    d, net, x = ctx.data, ctx.net, ctx.flows(m)
    by_leg = d.pairs_by_leg
    legs = [
        a
        for a in range(net.n_legs)
        if np.isfinite(d.leg_capacity[a]) and d.leg_fixed_cost[a] <= 0 and len(by_leg[a])
    ]
    m.con_leg_capacity = pyo.Constraint(
        legs, rule=lambda m, a: _leg_sum(x, by_leg, a) <= float(d.leg_capacity[a])
    )


def define_service_capacity(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Slots of the departures run: :math:`\sum_g x_{ga} \le K_a s_a` for service legs."""
    d, x = ctx.data, ctx.flows(m)
    by_leg = d.pairs_by_leg
    legs = [int(a) for a in d.service_legs if len(by_leg[a])]
    m.con_service_capacity = pyo.Constraint(
        legs,
        rule=lambda m, a: (
            _leg_sum(x, by_leg, a) - float(d.leg_service_capacity[a]) * m.services[a] <= 0
        ),
    )


def define_border_capacity(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Border crossing capacity shared by the legs naming it: :math:`\sum_{a \in A_b} \sum_g x_{ga} \le U_b`."""
    d, x = ctx.data, ctx.flows(m)
    by_border = d.pairs_by(d.leg_border[d.pair_leg], len(d.border_capacity))
    borders = [
        b
        for b in range(len(d.border_capacity))
        if np.isfinite(d.border_capacity[b]) and len(by_border[b])
    ]
    m.con_border_capacity = pyo.Constraint(
        borders,
        rule=lambda m, b: sum(x[p] for p in by_border[b]) <= float(d.border_capacity[b]),
    )


def define_terminal_capacity(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Handling capacity of the node TEU arrive at: :math:`\sum_{a \in \delta^-(j)} \sum_g x_{ga} \le H_j`."""
    d, net, x = ctx.data, ctx.net, ctx.flows(m)
    by_node = d.pairs_by(net.leg_to[d.pair_leg], net.n_nodes)
    nodes = [j for j in range(net.n_nodes) if np.isfinite(d.node_capacity[j]) and len(by_node[j])]
    m.con_terminal_capacity = pyo.Constraint(
        nodes,
        rule=lambda m, j: sum(x[p] for p in by_node[j]) <= float(d.node_capacity[j]),
    )


def _link_capacity(d: ArcData, by_leg: list[list[int]], a: int) -> float:
    demand = float(d.group_teu[d.pair_group[by_leg[a]]].sum())
    return min(float(d.leg_capacity[a]), demand)


def define_linking_weak(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Candidate legs carry flow only when opened: :math:`\sum_g x_{ga} \le \min(U_a, \sum_g q_g)\, y_a`."""
    d, x = ctx.data, ctx.flows(m)
    by_leg = d.pairs_by_leg
    legs = [int(a) for a in d.candidate_legs if len(by_leg[a])]
    m.con_linking_weak = pyo.Constraint(
        legs,
        rule=lambda m, a: _leg_sum(x, by_leg, a) - _link_capacity(d, by_leg, a) * m.open[a] <= 0,
    )


def define_linking_strong(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Disaggregated linking per group: :math:`x_{ga} \le \min(q_g, U_a)\, y_a`."""
    pairs, leg, bound = strong_linking_terms(ctx.data, ctx.net.n_legs)
    x = ctx.flows(m)
    m.con_linking_strong = pyo.Constraint(
        range(len(pairs)),
        rule=lambda m, i: x[int(pairs[i])] - float(bound[i]) * m.open[int(leg[i])] <= 0,
    )


def strong_linking_terms(d: ArcData, n_legs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Flow variables on candidate legs, their legs and :math:`\min(q_g, U_a)` (strong linking)."""
    candidate = np.zeros(n_legs, dtype=bool)
    candidate[d.candidate_legs] = True
    pairs = np.flatnonzero(candidate[d.pair_leg])
    bound = np.minimum(d.group_teu[d.pair_group[pairs]], d.leg_capacity[d.pair_leg[pairs]])
    return pairs, d.pair_leg[pairs], bound


def define_linking_strong_cuts(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Disaggregated linking :math:`x_{ga} \le \min(q_g, U_a)\, y_a` added lazily as cuts.

    No rows are built; the built model's ``separator`` returns the inequalities the current LP
    solution violates (by more than 1e-6 TEU). ``solve`` runs it in a root cutting-plane loop
    before branch and bound. The inequalities are valid but not needed for integer feasibility, so
    the MIP over the rows found is exact, with the root bound of the full strong formulation.
    """
    pairs, legs, bound = strong_linking_terms(ctx.data, ctx.net.n_legs)
    x = ctx.flows(m)
    flow_vars = [x[int(p)] for p in pairs]
    open_vars = [m.open[int(a)] for a in legs]
    added = np.zeros(len(pairs), dtype=bool)

    def separator(values: Values) -> list[Cut]:
        if not len(pairs):
            return []
        violated = (values(flow_vars) - bound * values(open_vars) > 1e-6) & ~added
        rows = np.flatnonzero(violated)
        added[rows] = True
        return [([flow_vars[i], open_vars[i]], [1.0, -float(bound[i])], -np.inf, 0.0) for i in rows]

    ctx.separator = separator


def define_objective(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Total cost.

    .. math:: \min \sum_{g,a} C_{ga} x_{ga} + \sum_{a} c^S_a s_a + \sum_a F_a y_a + \sum_k \pi_k u_k
    """
    set_total_cost(m, ctx.data, ctx.flows(m), ctx.data.pair_cost.tolist())


def set_total_cost(
    m: pyo.ConcreteModel, d: ArcData, flow_vars: list[Any], flow_costs: list[float]
) -> None:
    """The objective: the given flow terms plus penalties, departures and opened legs."""
    coefs = flow_costs + d.com_penalty.tolist()
    variables = flow_vars + list(m.unserved.values())
    coefs += [float(d.leg_service_cost[a]) for a in m.SERVICE_LEGS]
    variables += [m.services[a] for a in m.SERVICE_LEGS]
    coefs += [float(d.leg_fixed_cost[a]) for a in m.CANDIDATE_LEGS]
    variables += [m.open[a] for a in m.CANDIDATE_LEGS]
    expr = LinearExpression(constant=0.0, linear_coefs=coefs, linear_vars=variables)
    m.obj_total_cost = pyo.Objective(expr=expr, sense=pyo.minimize)


# --- re-planning: stability against last period's plan ----------------------------


def define_stability(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Penalise changing volumes against last period's plan (rolling re-planning).

    Applied only when the build is given a reference (``build(..., stability=...)``, see
    ``allocator.formulation.stability``) with weight :math:`W > 0`; after ``define_objective``; a
    no-op otherwise. With scope ``leg`` the reference is last period's TEU per leg
    :math:`\bar v_a` (``Reference.leg_teu``), for the legs with flow variables or
    :math:`\bar v_a > 0`:

    .. math:: \sum_g x_{ga} - \bar v_a = \delta^+_a - \delta^-_a, \quad \delta^\pm_a \ge 0,
              \qquad \min \dots + W \sum_a (\delta^+_a + \delta^-_a)

    With ``"lot"`` (the default of ``allocator batch``) it is last period's TEU of the group's
    lots per leg :math:`\bar x_{ga}` (``Reference.pair_teu``): deviations
    :math:`x_{ga} - \bar x_{ga} = \delta^+_{ga} - \delta^-_{ga}` where :math:`\bar x_{ga} > 0`
    and :math:`W x_{ga}` elsewhere. It bounds the leg term from above (triangle inequality), so
    it steadies leg volumes too, and it also stops lots swapping corridors. At an optimum
    :math:`\delta^+ + \delta^- = |\cdot|`.
    """
    ref = ctx.stability
    if ref is None or ref.weight <= 0:
        return
    weight = ref.weight
    d, net, x = ctx.data, ctx.net, ctx.flows(m)
    if ref.scope == "lot":
        prev = np.asarray(ref.pair_teu, dtype=float)
        keys = np.flatnonzero(prev > 0).tolist()
        rest = np.flatnonzero(prev <= 0).tolist()
        m.STABILITY_KEYS = pyo.Set(initialize=keys, ordered=True)
        m.dev_plus = pyo.Var(m.STABILITY_KEYS, domain=pyo.NonNegativeReals)
        m.dev_minus = pyo.Var(m.STABILITY_KEYS, domain=pyo.NonNegativeReals)
        m.con_stability = pyo.Constraint(
            m.STABILITY_KEYS,
            rule=lambda m, p: x[p] - m.dev_plus[p] + m.dev_minus[p] == float(prev[p]),
        )
        plain = [x[p] for p in rest]
    else:
        prev = np.asarray(ref.leg_teu, dtype=float)
        by_leg = d.pairs_by_leg
        keys = [a for a in range(net.n_legs) if len(by_leg[a]) or prev[a] > 0]
        m.STABILITY_KEYS = pyo.Set(initialize=keys, ordered=True)
        m.dev_plus = pyo.Var(m.STABILITY_KEYS, domain=pyo.NonNegativeReals)
        m.dev_minus = pyo.Var(m.STABILITY_KEYS, domain=pyo.NonNegativeReals)
        m.con_stability = pyo.Constraint(
            m.STABILITY_KEYS,
            rule=lambda m, a: (
                _leg_sum(x, by_leg, a) - m.dev_plus[a] + m.dev_minus[a] == float(prev[a])
            ),
        )
        plain = []
    variables = [m.dev_plus[k] for k in keys] + [m.dev_minus[k] for k in keys] + plain
    extra = LinearExpression(
        constant=0.0, linear_coefs=[weight] * len(variables), linear_vars=variables
    )
    m.obj_total_cost.set_value(m.obj_total_cost.expr + extra)


# --- trade-offs: epsilon-constraint blocks used by allocator.analysis.pareto -----------------


def _epsilon_row(
    m: pyo.ConcreteModel, ctx: BuildContext, coefs: np.ndarray, expr: str, limit: str, row: str
) -> None:
    """``m.<expr>`` = sum coefs[p] x_p, a mutable Param ``m.<limit>`` and the row expr <= limit,
    inactive until a caller (allocator.analysis.pareto) sets the limit and activates it."""
    linear = LinearExpression(
        constant=0.0, linear_coefs=[float(c) for c in coefs], linear_vars=list(ctx.flows(m))
    )
    setattr(m, expr, pyo.Expression(expr=linear))
    setattr(m, limit, pyo.Param(mutable=True, initialize=0.0, within=pyo.Reals))
    setattr(m, row, pyo.Constraint(expr=getattr(m, expr) <= getattr(m, limit)))
    getattr(m, row).deactivate()


def define_co2_limit(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""CO2 of the plan in tonnes, capped by :math:`\varepsilon` (epsilon-constraint method).

    .. math:: \mathrm{CO_2} = \sum_{g,a} \frac{e_a}{1000}\, x_{ga} \le \varepsilon

    :math:`e_a` is the kg CO2 per TEU on leg :math:`a` (``co2_kg_per_teu_km`` x distance), so the
    left side equals the plan's ``co2_t``. ``m.co2_t`` is the expression (also the objective of
    the min-CO2 end point), ``m.co2_limit_t`` the mutable :math:`\varepsilon` (t) and
    ``m.con_co2_limit`` the row, inactive until ``allocator.analysis.pareto`` sets it.
    """
    d = ctx.data
    _epsilon_row(m, ctx, d.leg_co2_kg[d.pair_leg] / 1000.0, "co2_t", "co2_limit_t", "con_co2_limit")


def define_days_limit(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""TEU-days in transit of the plan, capped by :math:`\varepsilon` (epsilon-constraint method).

    .. math:: \mathrm{TEUdays} = \sum_{g,a} \frac{T_{c(g),a}}{24}\, x_{ga} \le \varepsilon

    :math:`T_{c,a}` is the hours of leg :math:`a` (transit, border and arrival dwell), the same
    for every class allowed on it, so the left side equals the sum over routes of days x TEU
    (average days x TEU moved). ``m.teu_days``, ``m.teu_days_limit`` (TEU-days) and
    ``m.con_days_limit`` as in ``define_co2_limit``.
    """
    d = ctx.data
    _epsilon_row(
        m, ctx, d.leg_hours[d.pair_leg] / 24.0, "teu_days", "teu_days_limit", "con_days_limit"
    )


# --- why-not: elastic capacities for an infeasible instance under forbid ------------

CAPACITY_FAMILIES = (
    ("leg", "con_leg_capacity"),
    ("service", "con_service_capacity"),
    ("border", "con_border_capacity"),
    ("terminal", "con_terminal_capacity"),
    ("leg", "con_linking_weak"),  # a candidate leg's capacity U_a, once opened
)


def define_capacity_slack(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Elastic capacities: extra TEU :math:`e_r \ge 0` on every capacity row (in no recipe).

    Switched on by ``allocator.analysis.whynot.elastic_capacity`` (appended after ``define_objective``,
    with weak linking only) to find the capacity increases that make an infeasible instance
    under ``unserved = forbid`` feasible:

    .. math:: \sum_g x_{ga} \le U_a + e^L_a, \qquad \sum_g x_{ga} \le K_a s_a + e^S_a, \qquad
              \sum_{a \in A_b} \sum_g x_{ga} \le U_b + e^B_b, \qquad
              \sum_{a \in \delta^-(j)} \sum_g x_{ga} \le H_j + e^T_j

    and, for a candidate leg with :math:`U_a < \sum_g q_g` (its capacity can bind),
    :math:`\sum_g x_{ga} \le U_a y_a + e^L_a,\ e^L_a \le (\sum_g q_g - U_a)\, y_a`: extra capacity
    only on an opened leg. The original rows are deactivated and rebuilt from their bodies as
    ``con_capacity_elastic``; the cost objective is deactivated and
    ``obj_capacity_slack`` :math:`\min \sum_r e_r` (least extra TEU) is the active objective.
    The built model's ``slack_rows`` list ``(kind, index)`` of each slack: leg index, service
    leg, border index or node index.
    """
    rows: list[tuple[str, int, Any, float, float]] = []  # kind, index, body, upper, room
    d, x = ctx.data, ctx.flows(m)
    by_leg = d.pairs_by_leg
    for kind, name in CAPACITY_FAMILIES:
        family = getattr(m, name, None)
        if family is None or not family.active:
            continue
        if name != "con_linking_weak":
            for key, con in family.items():
                rows.append((kind, int(key), con.body, float(pyo.value(con.upper)), np.inf))
            family.deactivate()
            continue
        for key, con in family.items():
            demand = float(d.group_teu[d.pair_group[by_leg[key]]].sum())
            cap = float(d.leg_capacity[key])
            if cap < demand:  # the capacity can bind: rebuilt as U_a y_a + e_a
                body = _leg_sum(x, by_leg, key) - cap * m.open[key]
                rows.append((kind, int(key), body, 0.0, demand - cap))
                con.deactivate()
    ctx.slack_rows = [(kind, key) for kind, key, _, _, _ in rows]
    m.capacity_slack = pyo.Var(range(len(rows)), domain=pyo.NonNegativeReals)
    m.con_capacity_elastic = pyo.Constraint(
        range(len(rows)), rule=lambda m, i: rows[i][2] - m.capacity_slack[i] <= rows[i][3]
    )
    room = [(i, r[1], r[4]) for i, r in enumerate(rows) if np.isfinite(r[4])]
    m.con_capacity_slack_opened = pyo.Constraint(
        range(len(room)),
        rule=lambda m, j: m.capacity_slack[room[j][0]] - room[j][2] * m.open[room[j][1]] <= 0,
    )
    slack = list(m.capacity_slack.values())
    m.obj_total_cost.deactivate()
    m.obj_capacity_slack = pyo.Objective(
        expr=LinearExpression(constant=0.0, linear_coefs=[1.0] * len(slack), linear_vars=slack),
        sense=pyo.minimize,
    )
