"""Resource-constrained shortest paths per commodity (label setting in numba, parallel over commodities).

The pricing problem of column generation (``allocator.methods.colgen``): for commodity ``k`` find the path
from its origin to its destination of least weight ``sum w[k, a]`` whose hours ``sum T[a]`` fit its
due hours. Leg weights must be non-negative: in the path master every leg row is a ``<=`` row of a
minimisation, so its dual is ``<= 0`` and the reduced leg cost ``C - duals >= C >= 0``.

Label setting: a label is a partial path from the origin, ``(weight, hours)`` at its last node.
Labels leave a heap in non-decreasing weight. A label is dominated by a label at the same node with
no more weight and no more hours; because labels leave the heap by weight, that is exactly "an
earlier settled label at the node has hours <= mine", so each node keeps only the least hours
settled so far. Labels whose hours plus the fastest hours to the destination exceed the due hours
are dropped. With non-negative weights the first label settled at the destination is optimal, and
it is loopless (a repeated node would be dominated by its own earlier visit). Without a due limit
(``inf``) hours play no part and the algorithm is Dijkstra's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import get_num_threads, njit, prange, set_num_threads

from allocator.preprocess.costs import shortest_paths
from allocator.preprocess.graph import Network
from allocator.preprocess.kernels import _heap_pop, _heap_push

FOUND, NO_PATH, LABEL_LIMIT = 1, 0, -1
DEFAULT_MAX_LABELS = 1_000_000
EPS_HOURS = 1e-9
# Below this many commodities x legs one thread is faster: each parallel region costs a thread
# wake-up (30 ms per call measured on c33, 39 commodities, on the busy 2-vCPU machine; 0.2 ms on one
# thread), more than the few Dijkstra-sized searches it shares out.
PARALLEL_WORK = 1_000_000


@njit(cache=True)
def _grow(a, size):  # type: ignore[no-untyped-def]
    out = np.empty(size, dtype=a.dtype)
    out[: len(a)] = a
    return out


@njit(cache=True)
def _rcsp_one(n, out_ptr, out_legs, out_head, in_ptr, in_legs, in_tail, w, t, src, dst, due, max_labels, path_out, limit, lb, fastest):  # type: ignore[no-untyped-def]  # fmt: skip
    """Least-weight path src -> dst within ``due`` hours and below weight ``limit`` into
    ``path_out``. ``lb[v]`` is a lower bound on the weight from ``v`` to ``dst`` (A*; zeros for
    none): labels leave the heap by weight + lb, which at one node is the order of weight, so the
    dominance rule and the first settled destination label stay exact. ``fastest[v]``: the least
    hours from ``v`` to ``dst`` over legs of finite weight (only read with a finite ``due``).

    Returns (status, number of legs, weight, hours); status FOUND, NO_PATH (none in time and
    below the limit) or LABEL_LIMIT.
    """
    if src == dst or not due >= 0.0:
        return NO_PATH, 0, np.inf, np.inf
    timed = due < np.inf
    tmin = fastest
    if timed and tmin[src] > due + EPS_HOURS:
        return NO_PATH, 0, np.inf, np.inf
    if lb[src] >= limit:
        return NO_PATH, 0, np.inf, np.inf
    best_hours = np.full(n, np.inf)  # least hours of a settled label per node
    tentative = np.full(n, np.inf)  # least weight of a label made per node (untimed only)
    cap = max(min(4 * n + 16, max_labels), 1)
    lab_h = np.empty(cap)
    lab_w = np.empty(cap)
    lab_node = np.empty(cap, dtype=np.int64)
    lab_pred = np.empty(cap, dtype=np.int64)
    lab_leg = np.empty(cap, dtype=np.int64)
    heap_key = np.empty(cap)
    heap_lab = np.empty(cap, dtype=np.int64)
    lab_h[0], lab_w[0], lab_node[0], lab_pred[0], lab_leg[0] = 0.0, 0.0, src, -1, -1
    tentative[src] = 0.0
    n_lab = 1
    size = _heap_push(heap_key, heap_lab, 0, lb[src], 0)
    while size > 0:
        key, lab, size = _heap_pop(heap_key, heap_lab, size)
        if key >= limit:
            return NO_PATH, 0, np.inf, np.inf  # every label left weighs at least the limit
        wl = lab_w[lab]
        u = lab_node[lab]
        hl = lab_h[lab] if timed else 0.0
        if hl >= best_hours[u]:
            continue  # dominated by a settled label: no more weight, no more hours
        best_hours[u] = hl
        if u == dst:  # the first settled label at the destination is optimal
            length = 0
            x = lab
            while lab_pred[x] >= 0:
                length += 1
                x = lab_pred[x]
            x = lab
            for i in range(length - 1, -1, -1):
                path_out[i] = lab_leg[x]
                x = lab_pred[x]
            return FOUND, length, wl, lab_h[lab]
        for e in range(out_ptr[u], out_ptr[u + 1]):
            a = out_legs[e]
            wa = w[a]
            if wa == np.inf:
                continue
            v = out_head[e]
            h = lab_h[lab] + t[a]
            if wl + wa + lb[v] >= limit:
                continue
            if timed:
                if h + tmin[v] > due + EPS_HOURS or h >= best_hours[v]:
                    continue
            elif wl + wa >= tentative[v]:
                continue  # a label at v with no more weight exists (Dijkstra)
            else:
                tentative[v] = wl + wa
            if n_lab == cap:
                if cap >= max_labels:
                    return LABEL_LIMIT, 0, np.inf, np.inf
                cap = min(2 * cap, max_labels)
                lab_h = _grow(lab_h, cap)
                lab_w = _grow(lab_w, cap)
                lab_node = _grow(lab_node, cap)
                lab_pred = _grow(lab_pred, cap)
                lab_leg = _grow(lab_leg, cap)
                heap_key = _grow(heap_key, cap)
                heap_lab = _grow(heap_lab, cap)
            lab_h[n_lab] = h
            lab_w[n_lab] = wl + wa
            lab_node[n_lab] = v
            lab_pred[n_lab] = lab
            lab_leg[n_lab] = a
            size = _heap_push(heap_key, heap_lab, size, wl + wa + lb[v], n_lab)
            n_lab += 1
    return NO_PATH, 0, np.inf, np.inf


@njit(cache=True, parallel=True)
def _price_chunk(n, out_ptr, out_legs, out_head, in_ptr, in_legs, in_tail, weight, hours, weight_row, hours_row, com_src, com_dst, com_due, which, corr_ptr, corr_leg, corr_val, max_labels, limit, lb, lb_row, fastest, fastest_row):  # type: ignore[no-untyped-def]  # fmt: skip
    m = len(which)
    zeros = np.zeros(n)
    legs = np.full((m, max(n, 1)), -1, dtype=np.int64)
    length = np.zeros(m, dtype=np.int64)
    cost = np.full(m, np.inf)
    hrs = np.full(m, np.inf)
    status = np.zeros(m, dtype=np.int64)
    for i in prange(m):
        k = which[i]
        w = weight[weight_row[k]]
        if corr_ptr[k + 1] > corr_ptr[k]:  # commodity-specific duals (strong linking rows)
            w = w.copy()
            for e in range(corr_ptr[k], corr_ptr[k + 1]):
                w[corr_leg[e]] += corr_val[e]
        s, ln, cw, h = _rcsp_one(
            n, out_ptr, out_legs, out_head, in_ptr, in_legs, in_tail, w, hours[hours_row[k]], com_src[k], com_dst[k], com_due[k], max_labels,
            legs[i], limit[k], lb[lb_row[k]] if lb_row[k] >= 0 else zeros,
            fastest[fastest_row[k]] if fastest_row[k] >= 0 else zeros,
        )  # fmt: skip
        status[i], length[i], cost[i], hrs[i] = s, ln, cw, h
    return legs, length, cost, hrs, status


@njit(cache=True, parallel=True)
def _tree_chunk(n, out_ptr, out_legs, out_head, leg_from, weight, hours, group_src, group_wrow, group_hrow, member_ptr, members, com_dst, limit):  # type: ignore[no-untyped-def]  # fmt: skip
    """One Dijkstra tree per group (commodities of one origin and weight row, no due hours):
    the least-weight path to each member's destination, when lighter than its limit."""
    m = len(members)
    legs = np.full((m, max(n, 1)), -1, dtype=np.int64)
    length = np.zeros(m, dtype=np.int64)
    cost = np.full(m, np.inf)
    hrs = np.full(m, np.inf)
    status = np.zeros(m, dtype=np.int64)
    for g in prange(len(group_src)):
        w = weight[group_wrow[g]]
        t = hours[group_hrow[g]]
        src = group_src[g]
        stop = -np.inf
        for i in range(member_ptr[g], member_ptr[g + 1]):
            stop = max(stop, limit[members[i]])
        dist = np.full(n, np.inf)
        pred = np.full(n, -1, dtype=np.int64)
        heap_key = np.empty(len(out_legs) + 1)
        heap_node = np.empty(len(out_legs) + 1, dtype=np.int64)
        dist[src] = 0.0
        size = _heap_push(heap_key, heap_node, 0, 0.0, src)
        while size > 0:
            d, u, size = _heap_pop(heap_key, heap_node, size)
            if d >= stop:
                break
            if d > dist[u]:
                continue
            for e in range(out_ptr[u], out_ptr[u + 1]):
                a = out_legs[e]
                wa = w[a]
                if wa == np.inf:
                    continue
                v = out_head[e]
                nd = d + wa
                if nd < dist[v]:
                    dist[v] = nd
                    pred[v] = a
                    size = _heap_push(heap_key, heap_node, size, nd, v)
        for i in range(member_ptr[g], member_ptr[g + 1]):
            k = members[i]
            dst = com_dst[k]
            if dst == src or not dist[dst] < limit[k]:
                continue  # NO_PATH (status 0)
            ln = 0
            v = dst
            while v != src:
                ln += 1
                v = leg_from[pred[v]]
            v = dst
            h = 0.0
            for j in range(ln - 1, -1, -1):
                a = pred[v]
                legs[i, j] = a
                h += t[a]
                v = leg_from[a]
            status[i], length[i], cost[i], hrs[i] = FOUND, ln, dist[dst], h
    return legs, length, cost, hrs, status


@dataclass(frozen=True)
class PathBatch:
    """Least-weight in-time paths of the commodities ``com`` (status FOUND, NO_PATH or
    LABEL_LIMIT), the found ones as CSR: path ``i`` uses legs ``legs[ptr[i]:ptr[i + 1]]``."""

    com: np.ndarray
    status: np.ndarray
    cost: np.ndarray
    hours: np.ndarray
    ptr: np.ndarray
    legs: np.ndarray

    def path(self, i: int) -> np.ndarray:
        """Leg indices of the ``i``-th priced commodity's path (empty when none)."""
        return self.legs[self.ptr[i] : self.ptr[i + 1]]

    @property
    def exact(self) -> bool:
        """False when some commodity hit the label limit (its answer is then unknown)."""
        return bool(np.all(self.status != LABEL_LIMIT))


CHUNK_CELLS = 8_000_000  # padded path cells per pricing chunk (64 MB of int64)


def price_commodities(
    net: Network,
    weight: np.ndarray,
    hours: np.ndarray,
    weight_row: np.ndarray,
    hours_row: np.ndarray,
    com_src: np.ndarray,
    com_dst: np.ndarray,
    com_due_hours: np.ndarray,
    which: np.ndarray | None = None,
    corrections: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    max_labels: int = DEFAULT_MAX_LABELS,
    limit: np.ndarray | None = None,
    lower_bound: tuple[np.ndarray, np.ndarray] | None = None,
    fastest: tuple[np.ndarray, np.ndarray] | None = None,
) -> PathBatch:
    """Least-weight in-time path of every commodity in ``which`` (default all; see the
    module docstring).

    Commodity ``k`` prices with weights ``weight[weight_row[k]] >= 0`` (inf = leg not allowed;
    e.g. one row per class) and hours ``hours[hours_row[k]]``, plus optional commodity-specific
    additions ``corrections = (ptr, leg, value)`` in CSR by commodity (value >= 0). Due hours
    ``inf`` for none, negative to skip. Memory is one row per weight class, not per commodity;
    commodities are priced in chunks, in parallel; ``max_labels`` caps the labels per commodity.
    ``limit[k]``: only paths lighter than it are wanted (NO_PATH otherwise; e.g. the balance dual
    in pricing, as only negative reduced costs matter). ``lower_bound = (lb, row)``: ``lb[row[k]]``
    bounds the weight from every node to ``k``'s destination from below (A*; row -1 for none).
    ``fastest = (tmin, row)``: ``tmin[row[k]]`` is the least hours from every node to ``k``'s
    destination over the legs of finite weight, for every ``k`` with due hours (the label
    search's time bound; ``fastest_hours``). Without it, it is computed here for the commodities
    searched; a caller that prices the same commodities again and again computes it once.
    """
    n_com, n_legs = len(com_src), net.n_legs
    which = np.arange(n_com) if which is None else np.asarray(which, dtype=np.int64)
    if corrections is None:
        corrections = (np.zeros(n_com + 1, dtype=np.int64), np.zeros(0, np.int64), np.zeros(0))
    cptr, cleg, cval = corrections
    weight = np.ascontiguousarray(weight, dtype=float)
    hours = np.ascontiguousarray(hours, dtype=float)
    if weight.shape[1:] != (n_legs,) or hours.shape[1:] != (n_legs,):
        raise ValueError(
            f"weight and hours must be (rows, legs) with {n_legs} legs, got {weight.shape} "
            f"and {hours.shape}"
        )
    if np.any(np.isnan(weight)) or np.any(weight < 0) or np.any(np.asarray(cval) < 0):
        raise ValueError("leg weights must be >= 0 (inf for a forbidden leg), not negative or NaN")
    if np.any(np.isnan(hours)) or np.any(hours < 0):
        raise ValueError("leg hours must be >= 0")
    limits = np.full(n_com, np.inf) if limit is None else np.asarray(limit, dtype=float)
    if lower_bound is None:
        lb, lb_row = np.zeros((1, net.n_nodes)), np.full(n_com, -1, dtype=np.int64)
    else:
        lb = np.ascontiguousarray(lower_bound[0], dtype=float)
        lb_row = np.asarray(lower_bound[1], dtype=np.int64)
    arrays = (
        net.out_ptr.astype(np.int64),
        net.out_legs.astype(np.int64),
        net.out_head.astype(np.int64),
        net.in_ptr.astype(np.int64),
        net.in_legs.astype(np.int64),
        net.in_tail.astype(np.int64),
    )
    wrow = np.asarray(weight_row, dtype=np.int64)
    hrow = np.asarray(hours_row, dtype=np.int64)
    src = np.asarray(com_src, dtype=np.int64)
    dst = np.asarray(com_dst, dtype=np.int64)
    due = np.asarray(com_due_hours, dtype=float)
    # commodities without corrections that share an origin and weights: one Dijkstra tree.
    # Exact without due hours; with them the tree screens: no path lighter than the limit
    # means no in-time one either, and a least-weight path that is in time is the answer.
    # Only the members whose tree path is late are searched one by one.
    treeable = (due[which] > 0) & (np.diff(cptr)[which] == 0)
    key = (wrow[which] * (hrow.max(initial=0) + 1) + hrow[which]) * net.n_nodes + src[which]
    _, inv, count = np.unique(key, return_inverse=True, return_counts=True)
    by_tree = treeable & (count[inv] >= TREE_MIN_MEMBERS)
    threads = get_num_threads()
    if len(which) * n_legs < PARALLEL_WORK:
        set_num_threads(1)
    try:
        pieces = []
        if np.any(by_tree):
            pos = np.flatnonzero(by_tree)
            priced = _price_trees(
                net, weight, hours, wrow, hrow, src, dst, which[pos], key[pos], limits
            )
            late = (priced[0] == FOUND) & (priced[2] > due[which[pos]] + EPS_HOURS)
            if np.any(late):
                by_tree[pos[late]] = False
                keep = np.flatnonzero(~late)
                pos, priced = pos[keep], _reorder(priced, keep)
            pieces.append((pos, priced))
        if np.any(~by_tree):
            single = which[~by_tree]
            if fastest is None:
                tmin, tmin_row = _fastest_table(net, weight, hours, wrow, hrow, dst, due, single)
            else:
                tmin = np.ascontiguousarray(fastest[0], dtype=float)
                tmin_row = np.asarray(fastest[1], dtype=np.int64)
            pieces.append((np.flatnonzero(~by_tree), _price_singles(
                net, arrays, weight, hours, wrow, hrow, src, dst, due, single,
                (cptr, cleg, cval), max_labels, limits, lb, lb_row, tmin, tmin_row,
            )))  # fmt: skip
    finally:
        set_num_threads(threads)
    return _merge(which, pieces)


TREE_MIN_MEMBERS = 3  # commodities per origin from which one tree beats a search each


Priced = tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray
]  # status cost hours len legs


def _price_singles(net: Network, arrays: tuple[np.ndarray, ...], weight: np.ndarray, hours: np.ndarray, wrow: np.ndarray, hrow: np.ndarray, src: np.ndarray, dst: np.ndarray, due: np.ndarray, which: np.ndarray, corrections: tuple[np.ndarray, np.ndarray, np.ndarray], max_labels: int, limits: np.ndarray, lb: np.ndarray, lb_row: np.ndarray, tmin: np.ndarray, tmin_row: np.ndarray) -> Priced:  # fmt: skip
    """One label-setting search per commodity (``_rcsp_one``), in chunks."""
    cptr, cleg, cval = corrections
    chunk = max(1, CHUNK_CELLS // max(net.n_nodes, 1))
    out: list[Priced] = []
    for lo in range(0, len(which), chunk):
        legs, ln, c, h, s = _price_chunk(
            net.n_nodes, *arrays, weight, hours, wrow, hrow, src, dst, due, which[lo : lo + chunk],
            np.asarray(cptr, dtype=np.int64), np.asarray(cleg, dtype=np.int64),
            np.asarray(cval, dtype=float), int(max_labels), limits, lb, lb_row, tmin, tmin_row,
        )  # fmt: skip
        out.append((s, c, h, ln, _unpad(legs, ln)))
    return _concat(out)


def _price_trees(net: Network, weight: np.ndarray, hours: np.ndarray, wrow: np.ndarray, hrow: np.ndarray, src: np.ndarray, dst: np.ndarray, which: np.ndarray, key: np.ndarray, limits: np.ndarray) -> Priced:  # fmt: skip
    """One Dijkstra tree per group of ``which`` with equal ``key`` (origin and weight rows)."""
    order = np.argsort(key, kind="stable")
    members, keys = which[order], key[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    bounds = np.r_[starts, len(members)]
    chunk = max(1, CHUNK_CELLS // max(net.n_nodes, 1))
    out: list[Priced] = []
    g0 = 0
    while g0 < len(starts):  # whole groups per chunk, about ``chunk`` members each
        g1 = int(np.searchsorted(bounds, bounds[g0] + chunk, side="right")) - 1
        g1 = max(g1, g0 + 1)
        lo, hi = bounds[g0], bounds[g1]
        part = members[lo:hi]
        first = part[bounds[g0:g1] - lo]
        legs, ln, c, h, s = _tree_chunk(
            net.n_nodes, net.out_ptr.astype(np.int64), net.out_legs.astype(np.int64),
            net.out_head.astype(np.int64), net.leg_from.astype(np.int64), weight, hours,
            src[first], wrow[first], hrow[first], (bounds[g0 : g1 + 1] - lo).astype(np.int64),
            part, dst, limits,
        )  # fmt: skip
        out.append((s, c, h, ln, _unpad(legs, ln)))
        g0 = g1
    s, c, h, ln, legs = _concat(out)
    back = np.empty(len(order), dtype=np.int64)  # tree order -> the order of ``which``
    back[order] = np.arange(len(order))
    return _reorder((s, c, h, ln, legs), back)


def _unpad(legs: np.ndarray, length: np.ndarray) -> np.ndarray:
    cols = np.arange(legs.shape[1])
    return legs[cols[None, :] < length[:, None]]  # row-major: path by path


def _concat(parts: list[Priced]) -> Priced:
    if not parts:
        e = np.zeros(0, dtype=np.int64)
        return e, np.zeros(0), np.zeros(0), e, e
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(5))  # type: ignore[return-value]


def _reorder(priced: Priced, order: np.ndarray) -> Priced:
    """The entries of ``priced`` taken in ``order`` (paths moved with their legs)."""
    s, c, h, ln, legs = priced
    ptr = np.zeros(len(ln) + 1, dtype=np.int64)
    np.cumsum(ln, out=ptr[1:])
    new_len = ln[order]
    new_ptr = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(new_len, out=new_ptr[1:])
    idx = np.repeat(ptr[order], new_len) + (
        np.arange(int(new_ptr[-1])) - np.repeat(new_ptr[:-1], new_len)
    )
    return s[order], c[order], h[order], new_len, legs[idx]


def _merge(which: np.ndarray, pieces: list[tuple[np.ndarray, Priced]]) -> PathBatch:
    """One PathBatch in the order of ``which`` from pieces priced at positions ``pos``."""
    pos = np.concatenate([p for p, _ in pieces]) if pieces else np.zeros(0, dtype=np.int64)
    priced = _concat([q for _, q in pieces])
    back = np.empty(len(pos), dtype=np.int64)
    back[pos] = np.arange(len(pos))
    s, c, h, ln, legs = _reorder(priced, back) if len(pos) else priced
    ptr = np.zeros(len(ln) + 1, dtype=np.int64)
    np.cumsum(ln, out=ptr[1:])
    return PathBatch(which, s, c, h, ptr, legs)


def _fastest_table(
    net: Network,
    weight: np.ndarray,
    hours: np.ndarray,
    wrow: np.ndarray,
    hrow: np.ndarray,
    dst: np.ndarray,
    due: np.ndarray,
    which: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``fastest`` table of the commodities ``which`` with due hours: one row per (weight
    row, hours row, destination)."""
    row = np.full(len(dst), -1, dtype=np.int64)
    timed = which[np.isfinite(due[which]) & (due[which] >= 0)]
    key = (wrow[timed] * (hrow.max(initial=0) + 1) + hrow[timed]) * net.n_nodes + dst[timed]
    groups, first, inv = np.unique(key, return_index=True, return_inverse=True)
    row[timed] = inv
    k = timed[first]
    table = fastest_hours(net, weight[wrow[k]], hours[hrow[k]], dst[k], np.arange(len(groups)))
    return table, row


def fastest_hours(
    net: Network, weight: np.ndarray, hours: np.ndarray, dest: np.ndarray, row: np.ndarray
) -> np.ndarray:
    """Least hours from every node to ``dest[i]`` over the legs of finite ``weight[row[i]]``
    with hours ``hours[row[i]]`` (one reverse Dijkstra each): the ``fastest`` table of
    ``price_commodities``."""
    masked = np.where(np.isfinite(weight), hours, np.inf)
    dist, _ = shortest_paths(net, masked, dest, row, reverse=True)
    return dist


def cheapest_in_time(
    net: Network,
    weight: np.ndarray,
    hours: np.ndarray,
    hours_row: np.ndarray,
    com_src: np.ndarray,
    com_dst: np.ndarray,
    com_due_hours: np.ndarray,
    max_labels: int = DEFAULT_MAX_LABELS,
) -> PathBatch:
    """Least-weight in-time path of every commodity with its own weight row ``weight[k]``."""
    rows = np.arange(len(com_src))
    if len(weight) != len(rows):
        raise ValueError(f"weight must have one row per commodity ({len(rows)}), not {len(weight)}")
    return price_commodities(
        net, weight, hours, rows, hours_row, com_src, com_dst, com_due_hours, max_labels=max_labels
    )
