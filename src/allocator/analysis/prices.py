"""Bottleneck prices: what one more TEU of a leg, border, terminal or service slot is worth.

Shadow prices are not defined on the MILP itself (whole departures, opened legs). After a solve,
the integer decisions are fixed at the plan's values (departures ``s_a``, opened legs ``y_a``),
every other column is continuous, and the LP that remains is re-solved: through
``allocator.solve.solve_lp_duals`` on the Pyomo model, or, for column generation, by its own
master with the integer columns fixed and routes priced until none improves
(``BuiltModel.fixed_prices``). Its duals are the prices: for a ``<=`` capacity row of a
minimisation the dual ``y <= 0`` and ``price_per_teu = -y >= 0`` is the decrease of the optimal
cost per extra TEU of capacity per period (valid within the row's ranging interval; at a
degenerate optimum HiGHS returns one of the valid prices).

Rows priced: leg capacity, service slots ``sum x <= K_a s_a`` (with ``s_a`` fixed, so the price of
one more slot on the departures run), border capacity, terminal capacity, and the weak linking
row of an opened candidate leg when its capacity ``U_a`` can bind (it is that leg's capacity).
Left out of the LP: the strong linking rows of opened candidate legs and a weak linking row whose
capacity cannot bind (both redundant once ``y_a = 1``; kept, they would only share the prices
degenerately). The linking rows of closed legs stay: they hold the legs' flows at 0.

The flow-balance duals give each commodity's *potential*: the value of delivering one TEU,
``y[origin] - y[destination]`` (arc models) or the dual of the commodity's balance row (path
models). A route's reduced cost is ``sum_a (C[class, a] + price_a) - potential``, where
``price_a`` adds the prices of every capacity row a TEU on leg ``a`` passes; routes the plan uses
have reduced cost 0.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap
from pyomo.core.base.constraint import ConstraintData
from pyomo.core.base.var import VarData

from allocator.formulation import ArcData, BuiltModel
from allocator.formulation.arc import strong_linking_terms
from allocator.instance.model import ROUTE_SEPARATOR, Instance
from allocator.preprocess import Preprocessed
from allocator.preprocess.costs import shortest_paths
from allocator.preprocess.graph import route_legs
from allocator.preprocess.rcsp import FOUND, price_commodities
from allocator.results import LOCAL_CORRIDOR, Plan, is_local_tag, route_corridor
from allocator.solve import SolveOptions, Termination, solve_lp_duals

logger = logging.getLogger(__name__)

BOTTLENECK_COLUMNS = [
    "kind",
    "id",
    "corridor",
    "load_teu",
    "capacity_teu",
    "utilisation",
    "price_per_teu",
]
CORRIDOR_COLUMNS = [
    "class",
    "origin",
    "destination",
    "corridor",
    "cost_per_teu",
    "reduced_cost_per_teu",
    "used",
]
PRICE_TOL = 1e-6  # currency per TEU: a smaller price is 0
TIGHT_TOL = 1e-6  # relative: a row is full when load >= capacity (1 - TIGHT_TOL)
CHUNK = 4096  # Dijkstra sources per call (bounds the distance matrix in memory)
NOTE = (
    "Shadow prices are not defined on the MILP itself: these are the duals of the LP with the "
    "integer decisions (departures run, candidate legs opened) fixed at the plan's values; "
    "currency per TEU of extra capacity per period."
)


@dataclass(frozen=True)
class Prices:
    """Duals of the fixed LP: every priced capacity row, per-leg sums, commodity potentials."""

    termination: Termination
    objective: float
    rows: pd.DataFrame  # kind, index, capacity_teu, price_per_teu (every capacity row priced)
    leg_price: np.ndarray  # per leg: sum of the prices of the rows a TEU on the leg passes
    potential: np.ndarray  # per commodity: value of delivering one TEU (origin - destination)
    # per commodity its flow group, and the legs each group has flow variables on (arc models)
    group: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    group_legs: list[np.ndarray] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the fixed LP was solved to optimality."""
        return self.termination == Termination.OPTIMAL


def _value(var: VarData) -> float:
    return float(round(var.value or 0.0))


def _opened(m: pyo.ConcreteModel) -> dict[int, float]:
    return {int(a): _value(m.open[a]) for a in m.CANDIDATE_LEGS}


def _demand_on(d: ArcData, a: int) -> float:
    return float(d.group_teu[d.pair_group[d.pairs_by_leg[a]]].sum())


def _weak_is_capacity(d: ArcData, a: int) -> bool:
    """Whether an opened candidate leg's weak linking row is its (possibly binding) capacity."""
    return bool(float(d.leg_capacity[a]) < _demand_on(d, a))


def lp_prices(built: BuiltModel, pre: Preprocessed, opts: SolveOptions | None = None) -> Prices:
    """Fix departures and opened legs at their solved values, re-solve the LP, read the duals.

    A method that solves that LP itself (``BuiltModel.fixed_prices``: column generation, whose
    master holds every route that can price out) gives the duals; otherwise the Pyomo model is
    compiled and solved with the integer columns fixed."""
    m, d = built.model, built.data
    net = pre.net
    services = {int(a): _value(m.services[a]) for a in m.SERVICE_LEGS}
    opened = _opened(m)
    weak = getattr(m, "con_linking_weak", None)
    weak_rows: dict[int, ConstraintData] = {}  # opened candidate legs whose capacity can bind
    drop: list[ConstraintData] = []
    if weak is not None and weak.active:
        for a, con in weak.items():
            if opened.get(int(a), 0.0) < 0.5:
                continue  # closed: the row holds the leg's flows at 0
            if _weak_is_capacity(d, int(a)):
                weak_rows[int(a)] = con
            else:
                drop.append(con)
    limit = float((opts or SolveOptions()).under().time_limit_s or 60.0)
    if built.fixed_prices is not None:
        fixed = built.fixed_prices(limit)
        termination, objective, seconds = (
            Termination(fixed.termination),
            fixed.objective,
            fixed.seconds,
        )

        def price(kind: str, key: int, con: ConstraintData) -> float:
            value = float(fixed.price["leg" if kind == "weak" else kind][key])
            return value if value > PRICE_TOL else 0.0

        potential = _capped(d, fixed.potential)
    else:
        fix = ComponentMap((m.services[a], v) for a, v in services.items())
        fix.update((m.open[a], v) for a, v in opened.items())
        strong = getattr(m, "con_linking_strong", None)
        if strong is not None and strong.active:
            _, strong_leg, _ = strong_linking_terms(d, net.n_legs)
            drop += [con for i, con in strong.items() if opened.get(int(strong_leg[i]), 0.0) > 0.5]
        lp = solve_lp_duals(m, fix, drop, opts, built.column_bounds)
        termination, objective, seconds = lp.termination, lp.objective, lp.seconds

        def price(kind: str, key: int, con: ConstraintData) -> float:
            dual = lp.row_duals.get(con)
            if dual is None:  # dropped by the compiler: no free variable left in the row
                return float("nan")
            value = -float(dual)
            return value if value > PRICE_TOL else 0.0

        potential = (
            _potentials(built, pre, lp.row_duals) if termination == Termination.OPTIMAL else None
        )
    empty = pd.DataFrame(columns=["kind", "index", "capacity_teu", "price_per_teu"])
    if termination != Termination.OPTIMAL or potential is None:
        logger.warning("bottleneck prices: the fixed LP ended %s", termination)
        return Prices(
            termination,
            float("nan"),
            empty,
            np.zeros(net.n_legs),
            np.full(len(d.com_teu), np.nan),
            d.com_group,
            [],
            seconds,
        )

    records: list[tuple[str, int, float, float]] = []
    families = (
        ("leg", "con_leg_capacity", lambda a: float(d.leg_capacity[a])),
        ("service", "con_service_capacity", lambda a: d.leg_service_capacity[a] * services[a]),
        ("border", "con_border_capacity", lambda b: float(d.border_capacity[b])),
        ("terminal", "con_terminal_capacity", lambda j: float(d.node_capacity[j])),
    )
    for kind, name, capacity in families:
        family = getattr(m, name, None)
        if family is None or not family.active:
            continue
        for key, con in family.items():
            records.append((kind, int(key), float(capacity(int(key))), price(kind, int(key), con)))
    for a, con in weak_rows.items():
        records.append(("leg", a, float(d.leg_capacity[a]), price("weak", a, con)))
    rows = pd.DataFrame.from_records(
        records, columns=["kind", "index", "capacity_teu", "price_per_teu"]
    )
    return Prices(
        termination,
        objective,
        rows,
        _leg_prices(rows, d, pre),
        potential,
        d.com_group,
        _group_legs(d),
        seconds,
    )


def _group_legs(d: ArcData) -> list[np.ndarray]:
    """Legs each flow group has a flow variable on."""
    n_groups = int(d.com_group.max()) + 1 if len(d.com_group) else 0
    order = np.argsort(d.pair_group, kind="stable")
    bounds = np.searchsorted(d.pair_group[order], np.arange(n_groups + 1))
    legs = d.pair_leg[order]
    return [legs[bounds[g] : bounds[g + 1]] for g in range(n_groups)]


def _leg_prices(rows: pd.DataFrame, d: ArcData, pre: Preprocessed) -> np.ndarray:
    """Per leg, the sum of the prices of the capacity rows one TEU on it passes."""
    net = pre.net
    out = np.zeros(net.n_legs)
    price = rows["price_per_teu"].fillna(0.0).to_numpy(dtype=float)
    index = rows["index"].to_numpy(dtype=np.int64)
    kind = rows["kind"].to_numpy(dtype=object)
    on_leg = (kind == "leg") | (kind == "service")
    np.add.at(out, index[on_leg], price[on_leg])
    border = np.zeros(len(d.border_capacity) + 1)  # last slot: legs without a border
    np.add.at(border, index[kind == "border"], price[kind == "border"])
    out += border[np.where(d.leg_border >= 0, d.leg_border, len(d.border_capacity))]
    node = np.zeros(net.n_nodes)
    np.add.at(node, index[kind == "terminal"], price[kind == "terminal"])
    return out + node[net.leg_to]


def _potentials(
    built: BuiltModel, pre: Preprocessed, duals: Mapping[ConstraintData, float]
) -> np.ndarray:
    """Value of delivering one TEU of each commodity, from the balance duals."""
    m, d = built.model, built.data
    path_balance = getattr(m, "con_path_balance", None)
    if path_balance is not None:  # path models: sum_p h_kp + u_k = q_k
        value = np.array([float(duals.get(con, 0.0)) for _, con in path_balance.items()])
    else:
        n = pre.net.n_nodes
        y = np.array([float(duals.get(con, 0.0)) for _, con in m.con_flow_balance.items()])
        keys = np.asarray(built.balance_keys)
        at_origin = y[np.searchsorted(keys, d.com_group * n + d.com_origin)]
        at_dest = y[np.searchsorted(keys, d.com_group * n + d.com_dest)]
        value = at_origin - at_dest
    return _capped(d, value)


def _capped(d: ArcData, value: np.ndarray) -> np.ndarray:
    """Commodity potentials as a planner compares routes with them: a TEU left unmoved saves its
    penalty, so delivering it is worth no more; the LP reports more only for a lot left entirely
    unmoved (u_k at its bound: a degenerate dual), where the penalty is as valid a dual."""
    return value if d.forbid_unserved else np.minimum(value, d.com_penalty)


# ---------------------------------------------------------------- tables


def leg_tags(inst: Instance) -> np.ndarray:
    """Corridor tag of every leg ('' when untagged)."""
    return inst.legs["corridor"].fillna("").astype(str).str.strip().to_numpy(dtype=object)


def _corridor(legs: np.ndarray, tags: np.ndarray) -> str:
    """A route's corridor as in the plan's routes; 'local' for a route over no named corridor."""
    return route_corridor(sorted(tags[legs])) or LOCAL_CORRIDOR


def _tags_joined(tags: np.ndarray, legs: np.ndarray) -> str:
    """The corridors of some legs joined by '+', or 'local' when none has one (as routes are)."""
    return "+".join(dict.fromkeys(str(t) for t in tags[legs] if t)) or LOCAL_CORRIDOR


def bottleneck_table(plan: Plan, inst: Instance, pre: Preprocessed, prices: Prices) -> pd.DataFrame:
    """Full or priced capacity rows (kind, id, corridor, load, capacity, utilisation, price)."""
    net = pre.net
    tags = leg_tags(inst)
    load_leg = plan.legs["flow_teu"].to_numpy(dtype=float)
    border_idx = pd.Index(inst.borders.index).get_indexer(inst.legs["border"])
    records = []
    for kind, index, capacity, price in prices.rows.itertuples(index=False):
        if kind in ("leg", "service"):
            ident, load = net.leg_ids[index], load_leg[index]
            corridor = _tags_joined(tags, np.array([index]))
        elif kind == "border":
            legs = np.flatnonzero(border_idx == index)
            ident = inst.borders.index[index]
            load, corridor = float(load_leg[legs].sum()), _tags_joined(tags, legs)
        else:
            legs = np.flatnonzero(net.leg_to == index)
            ident = net.node_ids[index]
            load, corridor = float(load_leg[legs].sum()), _tags_joined(tags, legs)
        full = capacity > 0 and load >= capacity * (1 - TIGHT_TOL) - TIGHT_TOL
        priced = bool(np.isfinite(price) and price > 0)
        if capacity > 0 and (full or priced):
            records.append(
                (
                    kind,
                    ident,
                    corridor,
                    load,
                    capacity,
                    load / capacity,
                    float(np.nan_to_num(price)),
                )
            )
    out = pd.DataFrame.from_records(records, columns=BOTTLENECK_COLUMNS)
    if out.empty:
        return out
    out = out.sort_values(
        ["price_per_teu", "utilisation", "kind", "id"], ascending=[False, False, True, True]
    )
    return out.reset_index(drop=True)


def in_time_legs(pre: Preprocessed, ks: np.ndarray) -> np.ndarray:
    """``ok[i, a]``: leg ``a`` lies on some path of commodity ``ks[i]`` within its due days (the
    arc models' due-day rule, as in preprocessing)."""
    com = pre.commodities
    net = pre.net
    cls = com["class_idx"].to_numpy()[ks]
    o, d = com["origin_idx"].to_numpy()[ks], com["dest_idx"].to_numpy()[ks]
    fwd, _ = shortest_paths(net, pre.time, o, cls)
    bwd, _ = shortest_paths(net, pre.time, d, cls, reverse=True)
    due = com["due_days"].to_numpy(dtype=float)[ks] * 24.0
    through = fwd[:, net.leg_from] + pre.time[cls] + bwd[:, net.leg_to]
    return through <= due[:, None] + 1e-9


def corridor_prices(plan: Plan, inst: Instance, pre: Preprocessed, prices: Prices) -> pd.DataFrame:
    """Per (class, origin, destination) of the lots and corridor: the cheapest route at capacity
    prices over that corridor's legs plus local legs, and its reduced cost.

    Corridors of a row: every single tag, plus every tag combination the plan's routes of that row
    use (e.g. ``instc+northern``), so each route used has a row. Due days follow the model: arc
    models (``due_days_exact`` false) let a lot with due days use the legs that lie on some
    in-time path of it, plus the legs its flow group has variables on (arc-agg relaxes due days
    to the group's legs), so a route may be late, as in the plan; path models want the route
    itself in time (the cheapest in-time route, by the resource-constrained pricing search). Rows
    of several commodities (different due days or penalties) keep the smallest reduced cost.
    Closed candidate legs are left out. Commodities with an in-time route, or moved by the plan.
    """
    net = pre.net
    com = pre.commodities
    tags = leg_tags(inst)
    local = np.array([is_local_tag(t) for t in tags], dtype=bool)
    singles = sorted({str(t) for t in tags[~local]}) or [LOCAL_CORRIDOR]  # no tags: one corridor
    opened = plan.legs["opened"]
    available = ~(opened.notna() & ~opened.fillna(True).astype(bool)).to_numpy(dtype=bool)
    row_key = list(zip(com["class"], com["origin"], com["destination"], strict=True))
    exact = str(plan.summary["due_days_exact"].iloc[0]).lower() in ("true", "1")

    used: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    cargo = inst.cargo
    routes = plan.routes[plan.routes["teu"] > 1e-9] if len(plan.routes) else plan.routes
    for lot, legs in zip(routes.get("lot", []), routes.get("legs", []), strict=True):
        idx = [net.leg_to_idx[leg] for leg in str(legs).split(ROUTE_SEPARATOR)]
        key = (cargo.at[lot, "class"], cargo.at[lot, "origin"], cargo.at[lot, "destination"])
        used[key].add(_corridor(np.array(idx), tags))

    sets: dict[tuple[int, str], int] = {}  # (class index, corridor) -> weight row
    entries: list[tuple[int, int, str]] = []  # (commodity, weight row, corridor)
    ok = np.array(com["status"] == "ok", dtype=bool)
    moved = pre.lot_commodity[cargo.index.get_indexer(routes.get("lot", pd.Series(dtype=str)))]
    ok[moved] = True  # arc-agg may move a lot its own due days leave no route for
    for k in np.flatnonzero(ok):
        cls = int(com["class_idx"].iloc[k])
        names = set(singles) | used.get(row_key[k], set())
        for name in sorted(names):
            row = sets.setdefault((cls, name), len(sets))
            entries.append((int(k), row, name))
    if not entries:
        return pd.DataFrame(columns=CORRIDOR_COLUMNS)

    weights = np.full((len(sets), net.n_legs), np.inf)
    hours = np.full((len(sets), net.n_legs), np.inf)
    for (cls, name), row in sets.items():
        members = set(name.split("+")) - {LOCAL_CORRIDOR}
        mask = available & (local | np.isin(tags.astype(str), list(members)))
        weights[row, mask] = pre.cost[cls, mask] + prices.leg_price[mask]
        hours[row, mask] = pre.time[cls, mask]
    weights[~np.isfinite(weights)] = np.inf

    origin = com["origin_idx"].to_numpy()
    dest = com["dest_idx"].to_numpy()
    due_h = com["due_days"].to_numpy(dtype=float) * 24.0
    e_com = np.array([k for k, _, _ in entries], dtype=np.int64)
    e_row = np.array([r for _, r, _ in entries], dtype=np.int64)
    timed = np.isfinite(due_h[e_com])
    found: dict[int, float] = {}  # entry -> route price
    late: list[int] = []
    # arc models: a lot with due days gets its own weights (the legs the model lets it use)
    own = np.flatnonzero(timed) if not exact else np.zeros(0, dtype=np.int64)
    for start in range(0, len(own), CHUNK):
        part = own[start : start + CHUNK]
        ks = e_com[part]
        w = weights[e_row[part]]
        in_time = in_time_legs(pre, ks)
        for i, usable in enumerate(in_time):
            usable[prices.group_legs[prices.group[ks[i]]]] = True  # ... and its group's
            w[i, ~usable] = np.inf
        dist, _ = shortest_paths(net, w, origin[ks], np.arange(len(part)))
        cost = dist[np.arange(len(part)), dest[ks]]
        found |= {int(e): float(c) for e, c in zip(part, cost, strict=True) if np.isfinite(c)}
    # the rest share one shortest-path tree per (origin, weight row)
    shared = np.flatnonzero(~timed) if not exact else np.arange(len(entries))
    key = origin[e_com[shared]] * len(sets) + e_row[shared]
    trees, tree_of = np.unique(key, return_inverse=True)
    tree_of = tree_of.reshape(-1)
    for start in range(0, len(trees), CHUNK):
        part = trees[start : start + CHUNK]
        dist, pred = shortest_paths(net, weights, part // len(sets), part % len(sets))
        mine = np.flatnonzero((tree_of >= start) & (tree_of < start + len(part)))
        e, t = shared[mine], tree_of[mine] - start
        cost = dist[t, dest[e_com[e]]]
        ok = np.isfinite(cost)
        for i in np.flatnonzero(ok & timed[e]) if exact else ():
            k, row = int(e_com[e[i]]), int(e_row[e[i]])  # path models: the route must be in time
            legs = route_legs(pred[t[i]], net, int(origin[k]), int(dest[k]))
            if float(hours[row, legs].sum()) > due_h[k] + 1e-9:
                late.append(int(e[i]))
                ok[i] = False
        found |= {int(x): float(c) for x, c in zip(e[ok], cost[ok], strict=True)}
    if late:  # path models, cheapest corridor route too slow: the cheapest in-time one (RCSP)
        rows = np.array([entries[e][1] for e in late], dtype=np.int64)
        ks = np.array([entries[e][0] for e in late], dtype=np.int64)
        batch = price_commodities(net, weights, hours, rows, rows, origin[ks], dest[ks], due_h[ks])
        found |= {e: float(batch.cost[j]) for j, e in enumerate(late) if batch.status[j] == FOUND}

    best: dict[tuple[str, str, str, str], tuple[float, float]] = {}
    for e, cost in found.items():
        k, _, name = entries[e]
        rc = cost - float(prices.potential[k])
        key = (*row_key[k], name)
        if key not in best or rc < best[key][1]:
            best[key] = (cost, rc)
    records = [
        (
            cls,
            o,
            dst,
            name,
            cost,
            0.0 if abs(rc) < PRICE_TOL * max(1.0, abs(cost)) else rc,
            name in used.get((cls, o, dst), set()),
        )
        for (cls, o, dst, name), (cost, rc) in best.items()
    ]
    out = pd.DataFrame.from_records(records, columns=CORRIDOR_COLUMNS)
    out = out.sort_values(["class", "origin", "destination", "reduced_cost_per_teu", "corridor"])
    return out.reset_index(drop=True)


def add_prices(
    plan: Plan,
    built: BuiltModel,
    inst: Instance,
    pre: Preprocessed,
    opts: SolveOptions | None = None,
) -> tuple[Plan, Prices]:
    """The plan with ``bottlenecks`` and ``corridor_prices`` filled (and the fixed LP's objective
    as ``prices_lp_objective`` in the summary), and the prices themselves."""
    t0 = time.perf_counter()
    prices = lp_prices(built, pre, opts)
    if not prices.ok:
        summary = plan.summary.assign(prices_lp_objective=np.nan)
        return dataclasses.replace(
            plan,
            summary=summary,
            bottlenecks=pd.DataFrame(columns=BOTTLENECK_COLUMNS),
            corridor_prices=pd.DataFrame(columns=CORRIDOR_COLUMNS),
        ), prices
    bottlenecks = bottleneck_table(plan, inst, pre, prices)
    corridors = corridor_prices(plan, inst, pre, prices)
    summary = plan.summary.assign(prices_lp_objective=prices.objective)
    logger.info(
        "bottleneck prices: LP %.6g (plan %.6g), %d binding rows, %.2f s",
        prices.objective,
        plan.objective,
        len(bottlenecks),
        time.perf_counter() - t0,
    )
    out = dataclasses.replace(
        plan, summary=summary, bottlenecks=bottlenecks, corridor_prices=corridors
    )
    return out, prices
