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
def _fastest_to(n, in_ptr, in_legs, in_tail, w, t, dst, tmin):  # type: ignore[no-untyped-def]
    """Least hours from every node to ``dst`` over legs with finite weight (reverse Dijkstra)."""
    for i in range(n):
        tmin[i] = np.inf
    m = len(in_legs)
    heap_key = np.empty(m + 1)
    heap_node = np.empty(m + 1, dtype=np.int64)
    tmin[dst] = 0.0
    size = _heap_push(heap_key, heap_node, 0, 0.0, dst)
    while size > 0:
        d, v, size = _heap_pop(heap_key, heap_node, size)
        if d > tmin[v]:
            continue
        for e in range(in_ptr[v], in_ptr[v + 1]):
            a = in_legs[e]
            if w[a] == np.inf or t[a] == np.inf:
                continue
            u = in_tail[e]
            nd = d + t[a]
            if nd < tmin[u]:
                tmin[u] = nd
                size = _heap_push(heap_key, heap_node, size, nd, u)


@njit(cache=True)
def _grow(a, size):  # type: ignore[no-untyped-def]
    out = np.empty(size, dtype=a.dtype)
    out[: len(a)] = a
    return out


@njit(cache=True)
def _rcsp_one(n, out_ptr, out_legs, out_head, in_ptr, in_legs, in_tail, w, t, src, dst, due, max_labels, path_out, limit, lb):  # type: ignore[no-untyped-def]  # fmt: skip
    """Least-weight path src -> dst within ``due`` hours and below weight ``limit`` into
    ``path_out``. ``lb[v]`` is a lower bound on the weight from ``v`` to ``dst`` (A*; zeros for
    none): labels leave the heap by weight + lb, which at one node is the order of weight, so the
    dominance rule and the first settled destination label stay exact.

    Returns (status, number of legs, weight, hours); status FOUND, NO_PATH (none in time and
    below the limit) or LABEL_LIMIT.
    """
    if src == dst or not due >= 0.0:
        return NO_PATH, 0, np.inf, np.inf
    timed = due < np.inf
    tmin = np.zeros(n)
    if timed:
        _fastest_to(n, in_ptr, in_legs, in_tail, w, t, dst, tmin)
        if tmin[src] > due + EPS_HOURS:
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
def _price_chunk(n, out_ptr, out_legs, out_head, in_ptr, in_legs, in_tail, weight, hours, weight_row, hours_row, com_src, com_dst, com_due, which, corr_ptr, corr_leg, corr_val, max_labels, limit, lb, lb_row):  # type: ignore[no-untyped-def]  # fmt: skip
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
        )  # fmt: skip
        status[i], length[i], cost[i], hrs[i] = s, ln, cw, h
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
    chunk = max(1, CHUNK_CELLS // max(net.n_nodes, 1))
    status, cost, path_hours, lengths, parts = [], [], [], [], []
    threads = get_num_threads()
    if len(which) * n_legs < PARALLEL_WORK:
        set_num_threads(1)
    try:
        for lo in range(0, len(which), chunk):
            part = which[lo : lo + chunk]
            legs, ln, c, h, s = _price_chunk(
                net.n_nodes,
                *arrays,
                weight,
                hours,
                np.asarray(weight_row, dtype=np.int64),
                np.asarray(hours_row, dtype=np.int64),
                np.asarray(com_src, dtype=np.int64),
                np.asarray(com_dst, dtype=np.int64),
                np.asarray(com_due_hours, dtype=float),
                part,
                np.asarray(cptr, dtype=np.int64),
                np.asarray(cleg, dtype=np.int64),
                np.asarray(cval, dtype=float),
                int(max_labels),
                limits,
                lb,
                lb_row,
            )
            status.append(s)
            cost.append(c)
            path_hours.append(h)
            lengths.append(ln)
            cols = np.arange(legs.shape[1])
            parts.append(legs[cols[None, :] < ln[:, None]])  # row-major: path by path
    finally:
        set_num_threads(threads)
    if not parts:
        e = np.zeros(0, dtype=np.int64)
        return PathBatch(which, e, np.zeros(0), np.zeros(0), np.zeros(1, dtype=np.int64), e)
    length = np.concatenate(lengths)
    ptr = np.zeros(len(length) + 1, dtype=np.int64)
    np.cumsum(length, out=ptr[1:])
    return PathBatch(
        which,
        np.concatenate(status),
        np.concatenate(cost),
        np.concatenate(path_hours),
        ptr,
        np.concatenate(parts),
    )


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
