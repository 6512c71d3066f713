"""Time-expanded formulation (the ``time`` family): one ``define_*`` per variable or constraint family.

Notation: timed commodities :math:`k` (the lots of one commodity ready at the same time) with
:math:`q_k` TEU; their timed networks at step :math:`\\Delta` (``TimeData``): leg arcs
:math:`e \\in L_k` (leg :math:`a` left at time :math:`t_e`, its head reached, dwell done, at the
next grid point), waiting arcs, timed nodes :math:`v \\in N_k` and one sink; :math:`z_{ke} \\in
[0, 1]` the share of :math:`q_k` on arc :math:`e`. Departure slots :math:`\\sigma` carry
:math:`n_\\sigma` departures. The TEU of commodity :math:`k` on leg :math:`a` over the week,
:math:`x_{ka} = \\sum_{e \\in L_k(a)} q_k z_{ke}`, is the expression ``m.flow``, so the per-period
leg, border, terminal, service-count and linking blocks of the arc family apply unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression
from scipy.sparse import csr_array

from allocator.formulation.built import BuildContext
from allocator.formulation.data import TimeData
from allocator.formulation.rows import ArrayConstraint


def _timed(ctx: BuildContext) -> TimeData:
    if ctx.timed is None:
        raise ValueError("a time block needs a build of the time family")
    return ctx.timed


def _rows(
    row: np.ndarray,
    col: np.ndarray,
    coef: np.ndarray,
    n_rows: int,
    lower: np.ndarray,
    upper: np.ndarray,
    x: list[pyo.Var],
) -> ArrayConstraint:
    """``lower <= A x <= upper`` with ``A[row, col] = coef`` (duplicates summed)."""
    a = csr_array((coef, (row, col)), shape=(n_rows, len(x)))
    a.sum_duplicates()
    return ArrayConstraint(a.data, a.indices, a.indptr, lower, upper, x)


def _arc_teu(t: TimeData, ctx: BuildContext) -> np.ndarray:
    """TEU of a whole commodity on each leg arc (the coefficient of ``z``)."""
    return ctx.data.com_teu[t.arc_com]


def define_timed_flow(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Share of commodity :math:`k` on timed arc :math:`e`: :math:`0 \le z_{ke} \le 1`, binary
    under ``unsplittable_lots``; the TEU on leg :math:`a`: :math:`x_{ka} = \sum_{e \in L_k(a)} q_k z_{ke}`.

    Waiting arcs are continuous in both cases: with whole lots on the legs, conservation keeps
    them whole.
    """
    t = _timed(ctx)
    n, n_hold = t.n_arcs, len(t.hold_from)
    domain = pyo.Binary if t.unsplittable else pyo.UnitInterval
    m.timed_flow = pyo.Var(range(n), domain=domain)
    ctx.bounds(m.timed_flow, np.zeros(n), np.ones(n), t.unsplittable)
    m.timed_wait = pyo.Var(range(n_hold), domain=pyo.UnitInterval)
    ctx.bounds(m.timed_wait, np.zeros(n_hold), np.ones(n_hold), False)
    z, teu = list(m.timed_flow.values()), _arc_teu(t, ctx).tolist()
    by_pair = ctx.data.pairs_by(t.arc_pair, ctx.data.n_pairs)

    def rule(m: pyo.ConcreteModel, p: int) -> LinearExpression:
        arcs = by_pair[p]
        return LinearExpression(
            constant=0.0, linear_coefs=[teu[e] for e in arcs], linear_vars=[z[e] for e in arcs]
        )

    m.flow = pyo.Expression(range(ctx.data.n_pairs), rule=rule)


def define_timed_balance(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Flow conservation per commodity at every timed node; what leaves its origin at its
    release reaches its sink (its destination by its due time), or is unserved.

    .. math:: \sum_{e \in \delta^+_k(v)} z_{ke} - \sum_{e \in \delta^-_k(v)} z_{ke}
              = 1 - u_k / q_k \text{ at } (o_k, r_k), \quad -(1 - u_k / q_k) \text{ at the sink},
              \quad 0 \text{ at every other } v \in N_k
    """
    t, d, net = _timed(ctx), ctx.data, ctx.net
    n_nodes_timed, n_com = len(t.node_key), t.n_com
    sink = n_nodes_timed + np.arange(n_com)
    tail, head, source = t.ends(net.leg_from, net.leg_to, d.com_origin, d.com_dest)
    n, h = t.n_arcs, len(t.hold_from)
    ks = np.arange(n_com)
    row = np.concatenate([tail, head, t.hold_from, t.hold_from + 1, source, sink])
    col = np.concatenate([np.arange(n), np.arange(n), n + np.arange(h), n + np.arange(h)])
    col = np.concatenate([col, n + h + ks, n + h + ks])
    share = 1.0 / d.com_teu
    coef = np.concatenate([np.ones(n), -np.ones(n), np.ones(h), -np.ones(h), share, -share])
    rhs = np.zeros(n_nodes_timed + n_com)
    rhs[source] += 1.0
    rhs[sink] -= 1.0
    x = [*m.timed_flow.values(), *m.timed_wait.values(), *m.unserved.values()]
    m.con_timed_balance = _rows(row, col, coef, len(rhs), rhs, rhs, x)


def define_departures(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Departures of slot :math:`\sigma`: :math:`n_\sigma \in \{0, 1, \dots\}` at a time a leg
    dispatched on demand may sail, :math:`n_\sigma \in \{0, 1\}` for one run of a timetabled
    departure."""
    t = _timed(ctx)
    on = np.flatnonzero(t.arc_slot >= 0)
    most = np.bincount(t.arc_slot[on], weights=_arc_teu(t, ctx)[on], minlength=t.n_slots)
    # never more departures than the TEU that could leave on the slot fill
    upper = np.where(t.slot_timetabled, 1.0, np.ceil(most / t.slot_capacity - 1e-9))
    m.departures = pyo.Var(range(t.n_slots), domain=pyo.NonNegativeIntegers)
    ctx.bounds(m.departures, np.zeros(t.n_slots), upper, True)


def define_departure_capacity(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""TEU leaving on a slot fit its departures: :math:`\sum_k \sum_{e \in L_k(\sigma)} q_k z_{ke} \le K_\sigma n_\sigma`."""
    t = _timed(ctx)
    on = np.flatnonzero(t.arc_slot >= 0)
    s = t.n_slots
    row = np.concatenate([t.arc_slot[on], np.arange(s)])
    col = np.concatenate([on, t.n_arcs + np.arange(s)])
    coef = np.concatenate([_arc_teu(t, ctx)[on], -t.slot_capacity])
    x = [*m.timed_flow.values(), *m.departures.values()]
    m.con_departure_capacity = _rows(row, col, coef, s, np.full(s, -np.inf), np.zeros(s), x)


def define_departure_linking(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""A commodity rides a slot only if a departure runs: :math:`z_{ke} \le n_\sigma` for
    :math:`e \in L_k(\sigma)` (valid, as :math:`z_{ke} \le 1`; it tightens the LP bound, the
    disaggregated linking of fixed-charge network design)."""
    t = _timed(ctx)
    on = np.flatnonzero(t.arc_slot >= 0)
    r = len(on)
    m.con_departure_linking = _rows(
        np.concatenate([np.arange(r), np.arange(r)]),
        np.concatenate([on, t.n_arcs + t.arc_slot[on]]),
        np.concatenate([np.ones(r), -np.ones(r)]),
        r,
        np.full(r, -np.inf),
        np.zeros(r),
        [*m.timed_flow.values(), *m.departures.values()],
    )


def define_departure_count(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Departures of a leg dispatched on demand over the week: :math:`s_a = \sum_{\sigma \in D_a} n_\sigma`
    (at most :math:`S_a` by ``define_services``)."""
    t = _timed(ctx)
    by_leg = ctx.data.pairs_by(np.where(t.slot_timetabled, -1, t.slot_leg), ctx.net.n_legs)
    n = list(m.departures.values())
    m.con_departure_count = pyo.Constraint(
        m.SERVICE_LEGS,
        rule=lambda m, a: m.services[a] - sum(n[i] for i in by_leg[a]) == 0,
    )


def define_headway(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""At most one departure of a leg dispatched on demand within its least headway
    :math:`\eta_a > 0` from any slot :math:`\sigma'`:
    :math:`\sum_{\sigma \in D_a: t_{\sigma'} \le t_\sigma < t_{\sigma'} + \eta_a} n_\sigma \le 1`."""
    t = _timed(ctx)
    gap = t.leg_headway_h[t.slot_leg]
    lead = np.flatnonzero(~t.slot_timetabled & (gap > 0))
    rows, cols = [], []
    order = lead[np.lexsort((t.slot_dep_h[lead], t.slot_leg[lead]))]
    leg, when = t.slot_leg[order], t.slot_dep_h[order]
    for i, s in enumerate(order):
        j = i
        while j < len(order) and leg[j] == leg[i] and when[j] < when[i] + gap[s] - 1e-9:
            rows.append(i)
            cols.append(int(order[j]))
            j += 1
    r = len(order)
    m.con_headway = _rows(
        np.array(rows, dtype=np.int64),
        np.array(cols, dtype=np.int64),
        np.ones(len(rows)),
        r,
        np.full(r, -np.inf),
        np.ones(r),
        list(m.departures.values()),
    )


def _daily(
    m: pyo.ConcreteModel,
    ctx: BuildContext,
    owner: np.ndarray,
    hours: np.ndarray,
    cap: np.ndarray,
    taken: pd.Series | None = None,
) -> ArrayConstraint:
    """Rows ``sum of TEU on the arcs of one owner in one day <= cap[owner]`` (owner -1: none);
    with ``taken`` (TEU by row key ``owner * (n_steps + 2) + day``) only the rows it names, each
    less its TEU."""
    t = _timed(ctx)
    days = t.n_steps + 2
    arcs = np.flatnonzero(owner >= 0)
    arcs = arcs[np.isfinite(cap[owner[arcs]])]
    key = owner[arcs] * days + np.floor(hours[arcs] / 24.0 + 1e-9).astype(np.int64)
    if taken is not None:
        hit = np.isin(key, taken.index.to_numpy())
        arcs, key = arcs[hit], key[hit]
    keys, row = np.unique(key, return_inverse=True)
    upper = cap[keys // days] if len(keys) else np.zeros(0)
    if taken is not None and len(keys):
        upper = upper - taken.reindex(keys).to_numpy()
    return _rows(
        np.asarray(row).ravel(),
        arcs,
        _arc_teu(t, ctx)[arcs],
        len(keys),
        np.full(len(keys), -np.inf),
        upper,
        list(m.timed_flow.values()),
    )


def define_daily_border_capacity(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""TEU crossing border :math:`b` (both directions) on legs leaving in one day:
    :math:`\sum_{a \in A_b} \sum_k \sum_{e \in L_k(a): \mathrm{day}(t_e) = \theta} q_k z_{ke} \le U^D_b`."""
    t = _timed(ctx)
    m.con_daily_border_capacity = _daily(
        m, ctx, ctx.data.leg_border[t.arc_leg], t.arc_dep_h, t.border_day_capacity
    )


def define_daily_terminal_capacity(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""TEU reaching node :math:`j` in one day (leaving at :math:`t_e`, there after transit and
    border dwell :math:`T^0_a`):
    :math:`\sum_{a \in \delta^-(j)} \sum_k \sum_{e \in L_k(a): \mathrm{day}(t_e + T^0_a) = \theta} q_k z_{ke} \le H^D_j`."""
    t = _timed(ctx)
    reach = t.arc_dep_h + t.leg_reach_h[t.arc_leg]
    m.con_daily_terminal_capacity = _daily(
        m, ctx, ctx.net.leg_to[t.arc_leg], reach, t.node_day_capacity
    )


def define_timed_objective(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Total cost.

    .. math:: \min \sum_k \sum_{e \in L_k} C^T_{ke} q_k z_{ke} + \sum_\sigma c_\sigma n_\sigma
              + \sum_a F_a y_a + \sum_k \pi_k u_k
    """
    t, d = _timed(ctx), ctx.data
    coefs = (_arc_teu(t, ctx) * t.arc_cost).tolist() + t.slot_cost.tolist()
    variables = [*m.timed_flow.values(), *m.departures.values()]
    coefs += [float(d.leg_fixed_cost[a]) for a in m.CANDIDATE_LEGS]
    variables += [m.open[a] for a in m.CANDIDATE_LEGS]
    coefs += d.com_penalty.tolist()
    variables += list(m.unserved.values())
    expr = LinearExpression(constant=0.0, linear_coefs=coefs, linear_vars=variables)
    m.obj_total_cost = pyo.Objective(expr=expr, sense=pyo.minimize)


def _carried_daily(
    m: pyo.ConcreteModel,
    ctx: BuildContext,
    owner: np.ndarray,
    hours: np.ndarray,
    cap: np.ndarray,
    carried: tuple[np.ndarray, np.ndarray],
) -> ArrayConstraint:
    """The rows of ``_daily`` that carried flow shares, less its TEU: ``carried`` is the owner
    (-1: none) and hours of each carried row; rows before the week began count nowhere."""
    t = _timed(ctx)
    days = t.n_steps + 2
    c_owner, c_hours = carried
    on = (c_owner >= 0) & (c_hours >= -1e-9)
    c_key = c_owner[on] * days + np.floor(c_hours[on] / 24.0 + 1e-9).astype(np.int64)
    taken = pd.Series(t.carried_teu[on]).groupby(c_key).sum()
    return _daily(m, ctx, owner, hours, cap, taken)


def define_carried_flow(m: pyo.ConcreteModel, ctx: BuildContext) -> None:
    r"""Flow carried from last week's plan, fixed: :math:`\bar q_\gamma` TEU on leg
    :math:`a_\gamma` leaving at its hour, on the departures of a slot :math:`\sigma` if any. It
    leaves room on every capacity it meets in this week's clock, and the departures it rides
    already run (:math:`\bar n_\sigma` of them, paid last week):

    .. math:: \sum_k \sum_{e \in L_k(\sigma)} q_k z_{ke} \le K_\sigma (n_\sigma + \bar n_\sigma)
              - \bar Q_\sigma, \qquad z_{ke} \le n_\sigma + [\bar n_\sigma > 0],
              \qquad s_a \le S_a - \textstyle\sum_{\sigma \in D_a} \bar n_\sigma

    with :math:`\bar Q_\sigma` the carried TEU aboard; no new departure within the headway of a
    committed one; the weekly capacities of legs and borders less the carried TEU leaving in the
    week, of terminals less the carried TEU reaching them in it, and the daily capacities less
    the carried TEU of that day (by departure for borders, by arrival for terminals). Run after
    the blocks it tightens.
    """
    t, d, net = _timed(ctx), ctx.data, ctx.net
    if not len(t.carried_teu):
        return
    committed = t.slot_committed
    carried_slot = t.carried_slot
    aboard = np.bincount(
        carried_slot[carried_slot >= 0], t.carried_teu[carried_slot >= 0], minlength=t.n_slots
    )
    # departures: room left on those running, riding them needs no new one
    if hasattr(m, "con_departure_capacity"):
        upper = np.asarray(m.con_departure_capacity._upper, dtype=float)
        m.con_departure_capacity._upper = upper + committed * t.slot_capacity - aboard
    if hasattr(m, "con_departure_linking"):
        on = np.flatnonzero(t.arc_slot >= 0)
        upper = np.asarray(m.con_departure_linking._upper, dtype=float)
        m.con_departure_linking._upper = upper + (committed[t.arc_slot[on]] > 0)
    bounds = ctx.column_bounds.get("departures")
    if bounds is not None:
        top = bounds.upper.copy()
        gap = t.leg_headway_h[t.slot_leg]
        for s in np.flatnonzero(committed > 0):
            near = (t.slot_leg == t.slot_leg[s]) & (np.abs(t.slot_dep_h - t.slot_dep_h[s]) < gap)
            top[near & ~t.slot_timetabled] = 0.0  # a headway from the departure already running
        top[t.slot_timetabled & (committed > 0)] = 0.0  # the run runs already
        ctx.bounds(m.departures, bounds.lower, top, bounds.integer)
    if hasattr(m, "services"):
        per_leg = np.bincount(t.slot_leg, committed, minlength=net.n_legs)
        for a in m.SERVICE_LEGS:
            top = d.leg_max_services[a] - per_leg[a]
            if per_leg[a] > 0 and np.isfinite(top):
                m.services[a].setub(max(float(top), 0.0))
    # weekly capacities: legs and borders by departure, terminals by arrival, in the week
    leaving = t.carried_dep_h >= -1e-9
    reach = t.carried_dep_h + t.leg_reach_h[t.carried_leg]
    on_leg = np.bincount(t.carried_leg[leaving], t.carried_teu[leaving], minlength=net.n_legs)
    border = d.leg_border[t.carried_leg]
    out = leaving & (border >= 0)
    on_border = np.bincount(border[out], t.carried_teu[out], minlength=len(d.border_capacity))
    arriving = reach >= -1e-9
    heads = net.leg_to[t.carried_leg[arriving]]
    at_node = np.bincount(heads, t.carried_teu[arriving], minlength=net.n_nodes)
    x = ctx.flows(m)
    candidate = d.leg_fixed_cost > 0  # their capacity is in their linking rows
    for name, load, cap, by in (
        ("leg", on_leg, np.where(candidate, np.inf, d.leg_capacity), d.pairs_by_leg),
        (
            "border",
            on_border,
            d.border_capacity,
            d.pairs_by(d.leg_border[d.pair_leg], len(d.border_capacity)),
        ),
        ("terminal", at_node, d.node_capacity, d.pairs_by(net.leg_to[d.pair_leg], net.n_nodes)),
    ):
        keys = [i for i in np.flatnonzero((load > 0) & np.isfinite(cap)).tolist() if by[i]]
        room = {i: float(cap[i] - load[i]) for i in keys}
        con = pyo.Constraint(
            keys, rule=lambda m, i, by=by, room=room: sum(x[p] for p in by[i]) <= room[i]
        )
        setattr(m, f"con_carried_{name}_capacity", con)
    m.con_carried_daily_border_capacity = _carried_daily(
        m,
        ctx,
        d.leg_border[t.arc_leg],
        t.arc_dep_h,
        t.border_day_capacity,
        (border, t.carried_dep_h),
    )
    m.con_carried_daily_terminal_capacity = _carried_daily(
        m,
        ctx,
        net.leg_to[t.arc_leg],
        t.arc_dep_h + t.leg_reach_h[t.arc_leg],
        t.node_day_capacity,
        (net.leg_to[t.carried_leg], reach),
    )
