"""Dynamic discretization discovery (DDD): the timed problem solved exactly, to the minute, over
partially time-expanded networks (Boland, Hewitt, Marshall, Savelsbergh 2017).

Each iteration solves the ``time`` blocks over a *relaxed* discretization (``Discretization``: a
few time points per node, every leg arc reaching a point at or before its real arrival), so its
optimum is a lower bound. Its plan is then scheduled in continuous time (``Discovery.schedule``):
each lot's legs in order, lots that share a departure in the plan dispatched together. A schedule
that keeps every shared departure costs what the relaxation's plan costs: the plan is optimal.
Otherwise lots leave the departures they cannot share in time, which still gives a plan of
reality (an upper bound), and the arcs that cheated are lengthened: the minute at which each
really arrives becomes a point of its head (``Discovery.refine``). A relaxation's plan whose arcs
all have their true length is always a schedule, so an iteration that does not stop adds points
and the loop ends, at the latest when every arc is exact.

The loop starts with relaxations solved as LPs (``lp_phase``): each lengthens every used arc that
is too short, which raises the bound for a few seconds per iteration, until no used arc is short,
the bound stalls or the phase has had its share of the time. A dive (``dive``) then solves the
relaxation restricted to the (lot, leg) pairs the LPs used, a far smaller MIP whose schedule is an
early plan of reality; when it is within the gap of the LP bound the loop ends there. Otherwise the
relaxations are MIPs.

The delivered plan is the best schedule, built as a *restricted* time model over its own dispatch
and arrival minutes and the current points (every arc there at least its true length, so every
plan of it holds) and re-solved from the schedule as a MIP start, which can only improve it. Its
bound is the best relaxation bound.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from allocator.formulation import BuiltModel, Discretization, RecipeError, build
from allocator.instance.model import Instance
from allocator.methods.registry import Task, register
from allocator.preprocess import Preprocessed
from allocator.preprocess.costs import shortest_paths
from allocator.solve import SolveOptions, SolveResult, Termination, report_progress, solve

logger = logging.getLogger(__name__)

EPS = 1e-6
MAX_ITERATIONS = 1000
FINAL_SHARE = 0.1  # share of the time limit kept for the restricted model's solve
DEFAULT_GAP = 0.01
POLISH_S = 30.0  # at most this long, and this share of the time left, to re-time a schedule
POLISH_SHARE = 0.2
LOOSE_GAP = 0.05  # the most a relaxation is left from its optimum while the gap is wide
LP_SHARE = 0.25  # the most of the time limit the LP relaxations may take
LP_STALL = 2  # the LP phase ends when this many iterations raised the bound ...
LP_STALL_SHARE = 0.1  # ... by less than this share of the requested gap (of the bound) ...
LP_STALL_MIN = 1e-4  # ... or of this share of the bound, if more
DIVE_SHARE = 0.15  # the most of the time limit the dive after the LP phase may take


@dataclass(frozen=True)
class Piece:
    """A share of one timed commodity on one path of a relaxation's plan: its leg arcs in order."""

    com: int
    share: float  # of the commodity's TEU
    arcs: np.ndarray  # in the relaxation's network
    legs: np.ndarray


@dataclass
class Schedule:
    """Dispatch minute of every leg of every piece. ``split``: pieces taken out of a shared
    departure; ``conflict``: every piece of a shared departure some piece had to leave; ``late``: pieces whose path cannot reach the destination by the due time at all
    (no schedule then); ``cost``: the schedule's cost (inf without one)."""

    pieces: list[Piece]
    dispatch: list[np.ndarray]
    unserved: np.ndarray
    split: set[int] = field(default_factory=set)
    late: set[int] = field(default_factory=set)
    conflict: set[int] = field(default_factory=set)  # pieces of a shared departure that failed
    cost: float = np.inf


def unsupported(inst: Instance) -> list[str]:
    """What dynamic discretization discovery does not model (the time family does)."""
    why = []
    if len(inst.departures):
        why.append("legs run by timetable (the departures table)")
    if inst.legs["min_headway_hours"].fillna(0.0).gt(0).any():
        why.append("least headways between departures")
    if inst.borders["capacity_teu_per_day"].notna().any():
        why.append("daily border capacities")
    if inst.nodes["handling_capacity_teu_per_day"].notna().any():
        why.append("daily terminal capacities")
    if len(inst.carried):
        why.append("flow carried from last week (the carried table)")
    return why


def lp_stalled(bounds: Sequence[float], gap: float) -> bool:
    """True when the LP phase has stalled: over its last ``LP_STALL`` LPs the bound (``bounds``,
    one per LP in order) rose by less than ``LP_STALL_SHARE`` of the requested gap ``gap`` (at
    least ``LP_STALL_MIN``), as a share of the last bound."""
    stall = max(LP_STALL_SHARE * gap, LP_STALL_MIN)
    return len(bounds) > LP_STALL and bounds[-1] - bounds[-1 - LP_STALL] < stall * abs(bounds[-1])


def minutes_up(hours: np.ndarray) -> np.ndarray:
    """Hours as whole minutes, rounded up."""
    return np.ceil(np.asarray(hours, dtype=float) * 60.0 - 1e-9).astype(np.int64)


def initial_points(inst: Instance, pre: Preprocessed, *, paths: bool = True) -> Discretization:
    """Minute 0 at every node and every lot's release at its origin; with ``paths`` also the
    minute each lot reaches every node of its quickest route, waiting nowhere (so no relaxation
    makes that route faster than it is)."""
    n, net = pre.net.n_nodes, pre.net
    com = pre.commodities
    origin = com["origin_idx"].to_numpy()[pre.lot_commodity]
    release = minutes_up(inst.ready_hours())
    nodes = [np.arange(n), origin]
    minutes = [np.zeros(n, dtype=np.int64), release]
    if paths and len(origin):
        dest = com["dest_idx"].to_numpy()[pre.lot_commodity]
        cls = com["class_idx"].to_numpy()[pre.lot_commodity]
        steps = np.where(
            np.isfinite(pre.time), np.maximum(1.0, np.ceil(pre.time * 60.0 - 1e-9)), np.inf
        )
        src, row = np.unique(cls * n + origin, return_inverse=True)
        dist, pred = shortest_paths(net, steps, src % n, src // n)
        row = np.asarray(row).ravel()
        for k in range(len(origin)):
            node, seen = int(dest[k]), 0
            while node != origin[k] and seen < n:
                a = int(pred[row[k], node])
                if a < 0:
                    break
                node, seen = int(net.leg_from[a]), seen + 1
                if np.isfinite(dist[row[k], node]):
                    nodes.append(np.array([node]))
                    minutes.append(np.array([release[k] + int(dist[row[k], node])]))
    node_all, minute_all = np.concatenate(nodes), np.concatenate(minutes).astype(np.int64)
    return Discretization.of([minute_all[node_all == i] for i in range(n)], relaxed=True)


class Discovery:
    """The state of one DDD run: the instance's minutes, the current discretization, bounds."""

    def __init__(self, task: Task) -> None:
        self.task, self.inst, self.pre = task, task.inst, task.pre
        net, legs = task.pre.net, task.pre.legs
        self.leg_from, self.leg_to = net.leg_from, net.leg_to
        self.tau = np.maximum(1, minutes_up(legs.hours))  # as the time network rounds them
        initial = str(task.recipe.options.get("initial", "paths"))
        self.points = initial_points(task.inst, task.pre, paths=initial == "paths")
        classes = task.inst.classes.loc[task.pre.class_ids, "value_per_teu_day"]
        self.class_value = classes.to_numpy(dtype=float)
        self.lower = -np.inf
        self.best: Schedule | None = None
        self.plan: tuple[BuiltModel, SolveResult] | None = None  # a restricted model, solved
        self.iterations = 0
        self.kernel = np.zeros(0, dtype=np.int64)  # (commodity, leg) keys the LPs used
        self.t0 = time.perf_counter()
        self.progress: list[tuple[float, float, float]] = []

    # -- one relaxation --------------------------------------------------------------------------
    def pieces(self, built: BuiltModel) -> tuple[list[Piece], np.ndarray]:
        """The relaxation's plan as paths, and the unserved share of every timed commodity.

        From the commodity's origin, each step takes the arc of the plan with flow left that
        leaves the current node earliest at or after the current point (on a relaxed network an
        arc may reach its head at a point before the one it left: paths follow nodes)."""
        t, m, d = built.timed, built.model, built.data
        assert t is not None
        z = _flows(built)
        unserved = np.array([m.unserved[k].value or 0.0 for k in range(t.n_com)]) / d.com_teu
        used = np.flatnonzero(z > EPS)
        by_com: dict[int, list[int]] = {}
        for e in used.tolist():
            by_com.setdefault(int(t.arc_com[e]), []).append(e)
        out: list[Piece] = []
        for k, arcs in by_com.items():
            left = {e: float(z[e]) for e in arcs}
            total, dest = 1.0 - float(unserved[k]), int(d.com_dest[k])
            while total > EPS:
                node, point, path, amount = int(d.com_origin[k]), int(t.com_release[k]), [], 1.0
                for _ in range(len(arcs)):
                    here = [
                        e for e in arcs if left[e] > EPS and self.leg_from[t.arc_leg[e]] == node
                    ]
                    if not here:
                        break
                    later = [e for e in here if t.arc_tail[e] >= point]
                    e = min(later or here, key=lambda a: (int(t.arc_tail[a]), -left[a]))
                    path.append(e)
                    amount = min(amount, left[e])
                    node, point = int(self.leg_to[t.arc_leg[e]]), int(t.arc_head[e])
                    if node == dest:
                        break
                if not path or node != dest:
                    break
                amount = min(amount, total)
                for e in path:
                    left[e] -= amount
                total -= amount
                arr = np.array(path, dtype=np.int64)
                out.append(Piece(k, amount, arr, t.arc_leg[arr]))
        return out, np.clip(unserved, 0.0, 1.0)

    def schedule(self, built: BuiltModel, ps: list[Piece], unserved: np.ndarray) -> Schedule:
        """Dispatch minutes for the pieces: the earliest times at which every piece rides its
        legs in order with the pieces it shares a departure with (longest paths over the
        dispatch groups); a piece that would then be late leaves the first shared departure
        that delays it, until no piece is late."""
        t = built.timed
        assert t is not None
        sched = Schedule(ps, [np.zeros(0, np.int64)] * len(ps), unserved)
        if not ps:
            sched.cost = self.cost(built, sched)
            return sched
        arcs = np.concatenate([p.arcs for p in ps])
        piece = np.repeat(np.arange(len(ps)), [len(p.arcs) for p in ps])
        start = np.zeros(len(ps) + 1, dtype=np.int64)
        np.cumsum([len(p.arcs) for p in ps], out=start[1:])
        first = np.zeros(len(arcs), dtype=bool)
        first[start[:-1]] = True
        prev = np.where(first, 0, np.arange(len(arcs)) - 1)
        tau = self.tau[t.arc_leg[arcs]]
        com = np.array([p.com for p in ps])
        release = t.com_release[com][piece]
        due = np.where(np.isfinite(t.com_due_h), np.floor(t.com_due_h * 60.0 + 1e-9), t.n_steps)
        due = np.minimum(due, t.n_steps)[com]
        # latest dispatch on each leg that still reaches the destination by the due time
        after = np.append(np.cumsum(tau[::-1])[::-1], 0)  # tau of this leg and all later ones
        rest = after[: len(arcs)] - after[start[1:]][piece]  # ... of this piece
        latest = due[piece] - rest
        sched.late = {int(p) for p in np.unique(piece[first & (release > latest)])}
        if sched.late:
            return sched
        # dispatch groups: the relaxation's departure slots, and one group per leg without
        slot = t.arc_slot[arcs]
        group = np.where(slot >= 0, slot, t.n_slots + np.arange(len(arcs)))
        _, group = np.unique(group, return_inverse=True)
        group = group.astype(np.int64).ravel()
        n_groups = int(group.max()) + 1
        best = None
        for latecomers in (False, True):
            gamma, settled, split, conflict = _settle(
                group, n_groups, first, prev, release, tau, latest, piece, latecomers
            )
            dispatch = gamma[settled].astype(np.int64)
            sched.dispatch = [dispatch[start[i] : start[i + 1]] for i in range(len(ps))]
            cost = self.cost(built, sched)
            sched.conflict |= conflict
            if best is None or cost < best[0]:
                best = (cost, sched.dispatch, split)
        assert best is not None
        sched.cost, sched.dispatch, sched.split = best
        return sched

    def cost(self, built: BuiltModel, sched: Schedule) -> float:
        """What the schedule costs in reality: freight with the value of door-to-door time at the
        real arrival, one departure per capacity's worth of TEU leaving a leg together, opened
        candidate legs and unserved TEU (inf when a leg would exceed its weekly departures)."""
        t, d = built.timed, built.data
        assert t is not None
        teu = d.com_teu
        total = float(np.sum(d.com_penalty * teu * sched.unserved))
        loads: dict[tuple[int, int], float] = {}
        opened: set[int] = set()
        cls = self.pre.commodities["class_idx"].to_numpy()[t.com_pre]
        for p, when in zip(sched.pieces, sched.dispatch, strict=True):
            q = teu[p.com] * p.share
            legs = t.arc_leg[p.arcs]
            total += q * float(t.arc_cost[p.arcs].sum())
            # the relaxation valued arrival at its point; reality at the real minute
            late_min = float(when[-1] - t.arc_tail[p.arcs[-1]])
            total += q * self.class_value[cls[p.com]] * late_min / 60.0 / 24.0
            for a, w in zip(legs.tolist(), when.tolist(), strict=True):
                if not np.isnan(d.leg_service_capacity[a]):
                    loads[(a, w)] = loads.get((a, w), 0.0) + q
                if d.leg_fixed_cost[a] > 0:
                    opened.add(a)
        runs = np.zeros(len(d.leg_capacity))
        for (a, _), q in loads.items():
            n = np.ceil(q / d.leg_service_capacity[a] - 1e-9)
            runs[a] += n
            total += n * d.leg_service_cost[a]
        if np.any(runs > d.leg_max_services + EPS):
            return np.inf
        return total + float(sum(d.leg_fixed_cost[a] for a in opened))

    def refine(self, built: BuiltModel, sched: Schedule) -> int:
        """Lengthen the too-short arcs of the late and split pieces (every used one when they
        have none): the minute each really reaches its head becomes a point there. Returns the
        number of points added."""
        chosen = sched.late | sched.split | sched.conflict
        if not chosen:
            return 0  # the plan holds as it is
        for who in (chosen, set(range(len(sched.pieces)))):
            arcs = [sched.pieces[i].arcs for i in sorted(who)]
            if not arcs:
                continue
            added = self.lengthen(built, np.unique(np.concatenate(arcs)))
            if added:
                return added
        return 0

    def lengthen(self, built: BuiltModel, e: np.ndarray) -> int:
        """Of the relaxation's arcs ``e``, those shorter than reality (not into their
        commodity's destination) get the minute they really reach their head as a point there.
        Returns the number of points added."""
        t = built.timed
        assert t is not None
        reach = t.arc_tail[e] + self.tau[t.arc_leg[e]]
        head = self.leg_to[t.arc_leg[e]]
        dest = built.data.com_dest[t.arc_com[e]]
        short = (t.arc_head[e] < reach) & (head != dest) & (reach <= t.n_steps)
        if not short.any():
            return 0
        before = self.points.n_points
        self.points = self.points.add(head[short], reach[short])
        return self.points.n_points - before

    def lengthen_used(self, built: BuiltModel) -> int:
        """Lengthen every arc the relaxation's (LP) solution uses that is shorter than reality.
        Returns the points added."""
        return self.lengthen(built, np.flatnonzero(_flows(built) > EPS))

    def lp_phase(self, opts: SolveOptions, deadline: float, gap: float) -> None:
        """Relaxations solved as LPs, each lengthening its used short arcs: the bound rises for
        a few seconds an iteration. Ends when no used arc is short, when the bound stalls
        (``lp_stalled`` at the requested ``gap``), or at ``deadline``."""
        seen: list[float] = []
        while time.perf_counter() < deadline:
            built = build(self.inst, self.pre, self.task.recipe, points=self.points)
            left = deadline - time.perf_counter()
            lp = dataclasses.replace(
                opts, time_limit_s=max(left, 1.0), relax=True, lp_first=False, mip_start=None
            )
            result = solve(built, lp)
            self.iterations += 1
            if result.termination != Termination.OPTIMAL:
                return
            self.lower = max(self.lower, float(result.objective))
            seen.append(float(result.objective))
            self.kernel = np.union1d(self.kernel, self.pair_keys(built, _flows(built) > EPS))
            added = self.lengthen_used(built)
            report_progress(
                "discretization (LP)",
                time.perf_counter() - self.t0,
                iteration=self.iterations,
                points=self.points.n_points,
                bound=self.lower,
            )
            logger.info(
                "ddd LP: %d points, %d arcs, bound %.6g (solve %.1f s), %d points added",
                self.points.n_points,
                built.timed.n_arcs if built.timed else 0,
                result.objective,
                result.solve_seconds,
                added,
            )
            if added == 0:
                return
            if lp_stalled(seen, gap):
                return

    def pair_keys(self, built: BuiltModel, used: np.ndarray) -> np.ndarray:
        """The (timed commodity, leg) keys of the arcs ``used`` (a mask over ``built``'s arcs)."""
        t = built.timed
        assert t is not None
        return np.unique(t.arc_com[used] * self.pre.net.n_legs + t.arc_leg[used])

    def dive(self, opts: SolveOptions, seconds: float, gap: float) -> None:
        """A plan of reality from the relaxation on the current points restricted to the
        (commodity, leg) pairs the LP phase used: a far smaller MIP, whose plan is scheduled (and
        polished when lots left shared departures) like any relaxation's. Its optimum bounds
        nothing (the restriction drops arcs); only its schedule counts, as an upper bound."""
        start = time.perf_counter()
        built = build(self.inst, self.pre, self.task.recipe, points=self.points)
        t = built.timed
        assert t is not None
        keys = t.arc_com * self.pre.net.n_legs + t.arc_leg
        cols = built.column_bounds["timed_flow"]
        upper = np.where(np.isin(keys, self.kernel), cols.upper, 0.0)
        bounds = dict(built.column_bounds)
        bounds["timed_flow"] = dataclasses.replace(cols, upper=upper)
        restricted = dataclasses.replace(built, column_bounds=bounds)
        left = seconds - (time.perf_counter() - start)
        result = solve(
            restricted,
            dataclasses.replace(
                opts,
                time_limit_s=max(left, 1.0) if np.isfinite(left) else None,
                mip_rel_gap=0.5 * gap,
                lp_first=False,
                mip_start=None,
            ),
        )
        if not result.has_solution:
            return
        ps, unserved = self.pieces(built)
        sched = self.schedule(built, ps, unserved)
        if sched.cost < (self.best.cost if self.best else np.inf):
            self.best = sched
        left = seconds - (time.perf_counter() - start)
        if sched.split and sched.cost > self.lower * (1.0 + gap) and left >= 1.0:
            self.polish(sched, opts, left, gap)
        elapsed = time.perf_counter() - self.t0
        self.progress.append((elapsed, self.upper, self.lower))
        logger.info(
            "ddd dive: %d of %d arcs (solve %.1f s), objective %.6g, plan %.6g, %d split",
            int(np.count_nonzero(upper)),
            t.n_arcs,
            result.solve_seconds,
            result.objective,
            self.upper,
            len(sched.split),
        )

    # -- plans of reality ------------------------------------------------------------------------
    @property
    def upper(self) -> float:
        """The cheapest plan of reality so far: a schedule, or a restricted model's plan."""
        best = self.best.cost if self.best else np.inf
        return min(best, float(self.plan[1].objective) if self.plan else np.inf)

    @property
    def gap(self) -> float:
        """The relative gap between the cheapest plan of reality and the bound (inf without a
        plan)."""
        upper = self.upper
        return (upper - self.lower) / max(abs(upper), 1e-10) if np.isfinite(upper) else np.inf

    def polish(
        self, sched: Schedule, opts: SolveOptions, seconds: float | None, gap: float
    ) -> None:
        """Solve the restricted model over the schedule's minutes and the current points for at
        most ``seconds``, from the schedule (the solve stage re-solves without it when HiGHS
        hands back the start under a better objective); keep its plan when it is the cheapest so
        far."""
        built, start = self.restricted(sched)
        result = solve(
            built,
            dataclasses.replace(
                opts, time_limit_s=seconds, mip_rel_gap=gap, lp_first=False, mip_start=start
            ),
        )
        if result.has_solution and (
            self.plan is None or result.objective < float(self.plan[1].objective)
        ):
            self.plan = (built, result)

    def restricted(self, sched: Schedule) -> tuple[BuiltModel, dict[str, float] | None]:
        """The time model over the schedule's own minutes and the current points (restricted:
        every plan of it holds) and the schedule as a start of it."""
        n = self.pre.net.n_nodes
        nodes = [np.arange(n), np.repeat(np.arange(n), np.diff(self.points.ptr))]
        minutes = [np.zeros(n), self.points.minutes]
        origin = self.pre.commodities["origin_idx"].to_numpy()[self.pre.lot_commodity]
        nodes.append(origin)
        minutes.append(minutes_up(self.inst.ready_hours()))
        for p, when in zip(sched.pieces, sched.dispatch, strict=True):
            legs = p.legs
            nodes += [self.leg_from[legs], self.leg_to[legs]]
            minutes += [when, when + self.tau[legs]]
        node, minute = np.concatenate(nodes), np.concatenate(minutes).astype(np.int64)
        points = Discretization.of(
            [minute[node == i] for i in range(self.pre.net.n_nodes)], relaxed=False
        )
        built = build(self.inst, self.pre, self.task.recipe, points=points)
        return built, self.start_values(built, sched, points)

    def start_values(
        self, built: BuiltModel, sched: Schedule, points: Discretization
    ) -> dict[str, float] | None:
        """Variable values of ``built`` (over ``points``) for the schedule: each dispatch on the
        arc leaving at the latest point at or before it (on the schedule's own restricted network
        the dispatch itself), waits by conservation. None when an arc is missing.

        Relaxations get no start: after one, HiGHS 1.16 can hand back the start as its solution
        while it reports a better objective, and without starts they converged in fewer
        iterations (c52_.1111_.25_1: 3 against 5, where the run with starts stopped short of 1 %)."""
        t, m, d = built.timed, built.model, built.data
        assert t is not None
        key = {
            (int(k), int(a), int(w)): e
            for e, (k, a, w) in enumerate(zip(t.arc_com, t.arc_leg, t.arc_tail, strict=True))
        }
        z = np.zeros(t.n_arcs)
        for p, when in zip(sched.pieces, sched.dispatch, strict=True):
            for a, w in zip(p.legs.tolist(), when.tolist(), strict=True):
                at = points.at(int(self.leg_from[a]))
                point = int(at[max(0, np.searchsorted(at, w, side="right") - 1)])
                e = key.get((p.com, a, point))
                if e is None:
                    return None
                z[e] += p.share
        tail, head, source = t.ends(self.leg_from, self.leg_to, d.com_origin, d.com_dest)
        n_nodes = len(t.node_key)
        net = np.zeros(n_nodes + t.n_com)
        np.add.at(net, source, 1.0 - sched.unserved)
        np.add.at(net, head, z)
        np.add.at(net, tail, -z)
        # what waits from a timed node to the next of its (commodity, node): running sum
        place = t.node_key // (t.n_steps + 1)
        run = np.cumsum(net[:n_nodes])
        starts = np.flatnonzero(np.r_[True, place[1:] != place[:-1]])
        base = np.repeat(np.r_[0.0, run][starts], np.diff(np.r_[starts, n_nodes]))
        held = run - base
        wait = np.clip(held[t.hold_from], 0.0, 1.0)
        values: dict[str, float] = {}
        for i in range(t.n_arcs):
            values[m.timed_flow[i].name] = float(z[i])
        for h in range(len(t.hold_from)):
            values[m.timed_wait[h].name] = float(wait[h])
        for k in range(t.n_com):
            values[m.unserved[k].name] = float(sched.unserved[k] * d.com_teu[k])
        on = np.flatnonzero(t.arc_slot >= 0)
        load = np.bincount(
            t.arc_slot[on], weights=z[on] * d.com_teu[t.arc_com[on]], minlength=t.n_slots
        )
        runs = np.ceil(load / t.slot_capacity - 1e-9)
        for s in range(t.n_slots):
            values[m.departures[s].name] = float(runs[s])
        per_leg = np.bincount(t.slot_leg, weights=runs, minlength=len(d.leg_capacity))
        for a in m.SERVICE_LEGS:
            values[m.services[a].name] = float(per_leg[a])
        flow_leg = np.bincount(
            t.arc_leg, weights=z * d.com_teu[t.arc_com], minlength=len(d.leg_capacity)
        )
        for a in m.CANDIDATE_LEGS:
            values[m.open[a].name] = 1.0 if flow_leg[a] > EPS else 0.0
        return values


def _flows(built: BuiltModel) -> np.ndarray:
    """The solved share of every timed arc of ``built`` (0 where unset)."""
    t, m = built.timed, built.model
    assert t is not None
    return np.array([m.timed_flow[i].value or 0.0 for i in range(t.n_arcs)])


def _settle(
    group: np.ndarray,
    n_groups: int,
    first: np.ndarray,
    prev: np.ndarray,
    release: np.ndarray,
    tau: np.ndarray,
    latest: np.ndarray,
    piece: np.ndarray,
    latecomers: bool,
) -> tuple[np.ndarray, np.ndarray, set[int], set[int]]:
    """Dispatch groups that let every piece arrive in time: while a piece would be late, take a
    piece out of the first shared group that delays it: the late piece itself, or with
    ``latecomers`` the group's last-arriving piece (which sets its time). Returns the group
    times, the groups, the pieces taken out and every piece of a group that lost one."""
    group = group.copy()
    split: set[int] = set()
    conflict: set[int] = set()
    for _ in range(len(group) + 1):
        gamma, own, converged = _earliest(group, n_groups, first, prev, release, tau)
        bad = gamma[group] > latest + EPS
        if not converged:
            bad |= gamma[group] > own + EPS
        if not bad.any():
            return gamma, group, split, conflict
        shared = np.bincount(group, minlength=n_groups)[group] > 1
        delayed = shared & (gamma[group] > own + EPS)
        for p in np.unique(piece[bad]).tolist():
            mine = np.flatnonzero((piece == p) & delayed)
            if not len(mine):
                mine = np.flatnonzero((piece == p) & shared)
            if not len(mine):
                continue
            i = int(mine[0])
            members = np.flatnonzero(group == group[i])
            conflict.update(piece[members].tolist())
            if latecomers:
                i = int(members[np.argmax(own[members])])
            group[i] = n_groups  # out of the shared departure, on its own
            n_groups += 1
            split.add(int(piece[i]))
            if latecomers:
                break  # the group's time changed: look again
    raise RuntimeError("scheduling did not settle")  # pragma: no cover


def _earliest(
    group: np.ndarray,
    n_groups: int,
    first: np.ndarray,
    prev: np.ndarray,
    release: np.ndarray,
    tau: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Earliest dispatch of every group (longest paths): a group leaves when its last member can;
    each member's own earliest time (its release, or its previous leg's dispatch plus transit);
    whether the times settled (False: a cycle of groups pushing each other later)."""
    gamma = np.full(n_groups, -np.inf)
    own = release.astype(float)
    for _ in range(len(group) + 1):
        own = np.where(first, release, gamma[group[prev]] + tau[prev])
        new = np.full(n_groups, -np.inf)
        np.maximum.at(new, group, own)
        if np.array_equal(new, gamma):
            return gamma, own, True
        gamma = new
    return gamma, own, False


@register("ddd")
def solve_ddd(task: Task) -> tuple[BuiltModel, SolveResult]:
    """Dynamic discretization discovery to the requested gap within the time limit."""
    why = unsupported(task.inst)
    if why:
        raise RecipeError(
            f"{task.inst.name}: the ddd model does not handle {', '.join(why)}; "
            "use --model time, which does"
        )
    opts = task.opts
    gap = DEFAULT_GAP if opts.mip_rel_gap is None else float(opts.mip_rel_gap)
    limit = float(opts.time_limit_s) if opts.time_limit_s is not None else np.inf
    run = Discovery(task)
    deadline = run.t0 + limit * (1.0 - FINAL_SHARE)
    if task.recipe.options.get("lp_phase", True):
        run.lp_phase(opts, min(deadline, run.t0 + LP_SHARE * limit), gap)
    dive_s = min(DIVE_SHARE * limit, deadline - time.perf_counter())
    if task.recipe.options.get("dive", True) and len(run.kernel) and dive_s >= 1.0:
        run.dive(opts, dive_s, gap)
    termination = Termination.OPTIMAL
    last: tuple[BuiltModel, SolveResult] | None = None
    ratio, tight = run.gap, False
    while ratio > gap + 1e-12:
        left = deadline - time.perf_counter()
        if left <= 0 or run.iterations >= MAX_ITERATIONS:
            termination = Termination.TIME_LIMIT
            break
        built = build(task.inst, task.pre, task.recipe, points=run.points)
        # far from the gap the relaxation is the weak part: solve it only as well as needed
        loose = max(0.5 * gap, min(LOOSE_GAP, 0.5 * ratio)) if np.isfinite(ratio) else LOOSE_GAP
        if tight:
            loose = 0.5 * gap
        result = solve(
            built,
            dataclasses.replace(
                opts, time_limit_s=left, mip_rel_gap=loose, lp_first=False, mip_start=None
            ),
        )
        run.iterations += 1
        last = (built, result)
        if not result.has_solution:
            termination = result.termination
            if result.termination in (Termination.INFEASIBLE, Termination.INFEASIBLE_OR_UNBOUNDED):
                return built, dataclasses.replace(result, iterations=run.iterations)
            break
        run.lower = max(run.lower, float(result.bound))
        ps, unserved = run.pieces(built)
        sched = run.schedule(built, ps, unserved)
        if sched.cost < (run.best.cost if run.best else np.inf):
            run.best = sched
        if sched.split and sched.cost > run.lower * (1.0 + gap):
            # lots left shared departures: let the solver re-time them over their own minutes
            cap = min(POLISH_S, POLISH_SHARE * (deadline - time.perf_counter()))
            if cap >= 1.0:
                run.polish(sched, opts, cap, gap)
        upper = run.upper
        elapsed = time.perf_counter() - run.t0
        run.progress.append((elapsed, upper, run.lower))
        ratio = run.gap
        report_progress(
            "discretization",
            elapsed,
            iteration=run.iterations,
            points=run.points.n_points,
            plan=upper,
            bound=run.lower,
            gap=ratio,
        )
        logger.info(
            "ddd %d: %d points, %d arcs (build %.1f s, solve %.1f s), bound %.6g, plan %.6g, "
            "gap %.3g, %d late, %d split",
            run.iterations,
            run.points.n_points,
            built.timed.n_arcs if built.timed else 0,
            built.seconds,
            result.solve_seconds,
            run.lower,
            upper,
            ratio,
            len(sched.late),
            len(sched.split),
        )
        if ratio <= gap + 1e-12:
            break
        if run.refine(built, sched) == 0:
            if loose <= 0.5 * gap:
                break  # nothing left to lengthen: the relaxation is exact on what it uses
            tight = True  # the relaxation's plan holds: only its own gap is left to close
    if run.best is None:
        assert last is not None
        built, result = last
        return built, dataclasses.replace(
            result,
            termination=termination if termination != Termination.OPTIMAL else result.termination,
            has_solution=False,
            objective=np.nan,
            bound=run.lower,
            iterations=run.iterations,
        )
    return _deliver(run, task, gap, limit)


def _deliver(
    run: Discovery, task: Task, gap: float, limit: float
) -> tuple[BuiltModel, SolveResult]:
    """The best plan: the best schedule solved as a restricted model over its own minutes from
    the schedule (unless a restricted solve already gave a plan no dearer than it)."""
    assert run.best is not None
    if run.plan is None or run.best.cost < float(run.plan[1].objective) - EPS:
        left = max(limit * FINAL_SHARE, limit - (time.perf_counter() - run.t0))
        run.polish(run.best, task.opts, left if np.isfinite(limit) else None, gap)
    if run.plan is None:
        raise RuntimeError("the restricted model over the best schedule gave no plan")
    built, result = run.plan
    objective = float(result.objective)
    bound = min(run.lower, objective)
    ratio = (objective - bound) / max(abs(objective), 1e-10)
    elapsed = time.perf_counter() - run.t0
    run.progress.append((elapsed, objective, bound))
    return built, dataclasses.replace(
        result,
        termination=Termination.OPTIMAL if ratio <= gap + 1e-9 else Termination.TIME_LIMIT,
        bound=bound,
        gap=ratio,
        solve_seconds=elapsed,
        iterations=run.iterations,
        progress=tuple(run.progress),
    )
