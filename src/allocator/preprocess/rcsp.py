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
def _rcsp_one(n, out_ptr, out_legs, out_head, in_ptr, in_legs, in_tail, w, t, src, dst, due, max_labels, path_out):  # type: ignore[no-untyped-def]  # fmt: skip
    """Least-weight path src -> dst within ``due`` hours into ``path_out``.

    Returns (status, number of legs, weight, hours); status FOUND, NO_PATH or LABEL_LIMIT.
    """
    if src == dst or not due >= 0.0:
        return NO_PATH, 0, np.inf, np.inf
    timed = due < np.inf
    tmin = np.zeros(n)
    if timed:
        _fastest_to(n, in_ptr, in_legs, in_tail, w, t, dst, tmin)
        if tmin[src] > due + EPS_HOURS:
            return NO_PATH, 0, np.inf, np.inf
    best_hours = np.full(n, np.inf)  # least hours of a settled label per node
    tentative = np.full(n, np.inf)  # least weight of a label made per node (untimed only)
    cap = max(min(4 * n + 16, max_labels), 1)
    lab_h = np.empty(cap)
    lab_node = np.empty(cap, dtype=np.int64)
    lab_pred = np.empty(cap, dtype=np.int64)
    lab_leg = np.empty(cap, dtype=np.int64)
    heap_key = np.empty(cap)
    heap_lab = np.empty(cap, dtype=np.int64)
    lab_h[0], lab_node[0], lab_pred[0], lab_leg[0] = 0.0, src, -1, -1
    tentative[src] = 0.0
    n_lab = 1
    size = _heap_push(heap_key, heap_lab, 0, 0.0, 0)
    while size > 0:
        wl, lab, size = _heap_pop(heap_key, heap_lab, size)
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
                lab_node = _grow(lab_node, cap)
                lab_pred = _grow(lab_pred, cap)
                lab_leg = _grow(lab_leg, cap)
                heap_key = _grow(heap_key, cap)
                heap_lab = _grow(heap_lab, cap)
            lab_h[n_lab] = h
            lab_node[n_lab] = v
            lab_pred[n_lab] = lab
            lab_leg[n_lab] = a
            size = _heap_push(heap_key, heap_lab, size, wl + wa, n_lab)
            n_lab += 1
    return NO_PATH, 0, np.inf, np.inf


@njit(cache=True, parallel=True)
def _rcsp_many(n, out_ptr, out_legs, out_head, in_ptr, in_legs, in_tail, weight, hours, hours_row, com_src, com_dst, com_due, max_labels):  # type: ignore[no-untyped-def]  # fmt: skip
    n_com = len(com_src)
    legs = np.full((n_com, max(n, 1)), -1, dtype=np.int64)
    length = np.zeros(n_com, dtype=np.int64)
    cost = np.full(n_com, np.inf)
    hrs = np.full(n_com, np.inf)
    status = np.zeros(n_com, dtype=np.int64)
    for k in prange(n_com):
        s, ln, c, h = _rcsp_one(
            n, out_ptr, out_legs, out_head, in_ptr, in_legs, in_tail, weight[k], hours[hours_row[k]], com_src[k], com_dst[k], com_due[k], max_labels,
            legs[k],
        )  # fmt: skip
        status[k], length[k], cost[k], hrs[k] = s, ln, c, h
    return legs, length, cost, hrs, status


@dataclass(frozen=True)
class PricedPaths:
    """One least-weight in-time path per commodity (``status`` FOUND), padded with -1."""

    legs: np.ndarray
    length: np.ndarray
    cost: np.ndarray
    hours: np.ndarray
    status: np.ndarray

    def path(self, k: int) -> np.ndarray:
        """Leg indices of commodity ``k``'s path (empty when none)."""
        return self.legs[k, : self.length[k]]

    @property
    def exact(self) -> bool:
        """False when some commodity hit the label limit (its answer is then unknown)."""
        return bool(np.all(self.status != LABEL_LIMIT))


def cheapest_in_time(
    net: Network,
    weight: np.ndarray,
    hours: np.ndarray,
    hours_row: np.ndarray,
    com_src: np.ndarray,
    com_dst: np.ndarray,
    com_due_hours: np.ndarray,
    max_labels: int = DEFAULT_MAX_LABELS,
) -> PricedPaths:
    """Least-weight path within due hours for every commodity (see the module docstring).

    ``weight[k, leg]`` >= 0 per commodity (inf = leg not allowed), ``hours[r, leg]`` with
    ``hours_row[k]`` the row of commodity ``k`` (e.g. its class), due hours ``inf`` for none and
    negative to skip the commodity. ``max_labels`` caps the labels per commodity (status
    LABEL_LIMIT when hit).
    """
    n_com = len(com_src)
    weight = np.ascontiguousarray(weight, dtype=float)
    hours = np.ascontiguousarray(hours, dtype=float)
    if weight.shape != (n_com, net.n_legs) or hours.shape[1:] != (net.n_legs,):
        raise ValueError(
            f"weight must be (commodities, legs) = {(n_com, net.n_legs)}, got {weight.shape}; "
            f"hours (rows, legs), got {hours.shape}"
        )
    if np.any(np.isnan(weight)) or np.any(weight < 0):
        raise ValueError("leg weights must be >= 0 (inf for a forbidden leg), not negative or NaN")
    if np.any(np.isnan(hours)) or np.any(hours < 0):
        raise ValueError("leg hours must be >= 0")
    threads = get_num_threads()
    if n_com * net.n_legs < PARALLEL_WORK:
        set_num_threads(1)
    try:
        out = _rcsp_many(
            net.n_nodes,
            net.out_ptr.astype(np.int64),
            net.out_legs.astype(np.int64),
            net.out_head.astype(np.int64),
            net.in_ptr.astype(np.int64),
            net.in_legs.astype(np.int64),
            net.in_tail.astype(np.int64),
            weight,
            hours,
            np.asarray(hours_row, dtype=np.int64),
            np.asarray(com_src, dtype=np.int64),
            np.asarray(com_dst, dtype=np.int64),
            np.asarray(com_due_hours, dtype=float),
            int(max_labels),
        )
    finally:
        set_num_threads(threads)
    return PricedPaths(*out)
