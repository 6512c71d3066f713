"""k cheapest loopless paths per commodity (Yen's algorithm in numba, parallel over commodities).

Leg weights are the generalised costs ``C[class, leg]`` (inf = forbidden for the class). Paths are
enumerated in non-decreasing cost order and kept only when their hours ``sum T[class, leg]`` fit
the commodity's due days, so the path formulation enforces due days exactly. Enumeration stops at
``k`` kept paths or after ``max_enum`` enumerated ones; a commodity's paths are *complete* when it
stopped earlier because no loopless path was left (then they are all its in-time paths).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from allocator.preprocess.graph import Network

INF = np.inf


@njit(cache=True)
def _dijkstra_blocked(n, out_ptr, out_legs, out_head, w, src, dst, node_blocked, leg_blocked, dist, pred, done):  # fmt: skip
    """O(n^2 + m) Dijkstra from src avoiding blocked nodes and legs; returns dist[dst]."""
    for i in range(n):
        dist[i] = INF
        pred[i] = -1
        done[i] = False
    dist[src] = 0.0
    for _ in range(n):
        u = -1
        best = INF
        for i in range(n):
            if not done[i] and dist[i] < best:
                best = dist[i]
                u = i
        if u == -1 or u == dst:
            break
        done[u] = True
        for e in range(out_ptr[u], out_ptr[u + 1]):
            a = out_legs[e]
            v = out_head[e]
            if leg_blocked[a] or node_blocked[v] or done[v]:
                continue
            wa = w[a]
            if wa == INF:
                continue
            nd = best + wa
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = a
    return dist[dst]


@njit(cache=True)
def _yen_one(n, out_ptr, out_legs, out_head, leg_from, leg_to, w, t, src, dst, due, k, max_enum, res_legs, res_len, res_cost, res_hours):  # fmt: skip
    """Yen's algorithm for one commodity; writes up to k paths within ``due`` hours into res_*.

    Returns (paths kept, complete): complete when every loopless path was enumerated."""
    if src == dst or k <= 0:
        return 0, src == dst
    n_legs = len(leg_from)
    dist = np.empty(n)
    pred = np.empty(n, dtype=np.int64)
    done = np.empty(n, dtype=np.bool_)
    node_blocked = np.zeros(n, dtype=np.bool_)
    leg_blocked = np.zeros(n_legs, dtype=np.bool_)
    a_legs = np.full((max_enum, n), -1, dtype=np.int64)
    a_len = np.zeros(max_enum, dtype=np.int64)
    cap = max_enum * n + 1
    b_legs = np.full((cap, n), -1, dtype=np.int64)
    b_len = np.zeros(cap, dtype=np.int64)
    b_cost = np.zeros(cap)
    b_used = np.zeros(cap, dtype=np.bool_)
    n_b = 0
    spur = np.empty(n, dtype=np.int64)

    c = _dijkstra_blocked(
        n, out_ptr, out_legs, out_head, w, src, dst, node_blocked, leg_blocked, dist, pred, done
    )
    if c == INF:
        return 0, True
    length = 0
    v = dst
    while v != src:
        spur[length] = pred[v]
        length += 1
        v = leg_from[pred[v]]
    for i in range(length):
        a_legs[0, i] = spur[length - 1 - i]
    a_len[0] = length
    n_a = 1
    found = 0
    current = 0  # index in A of the path just accepted
    while True:
        # keep the accepted path if it is in time
        ln = a_len[current]
        hrs = 0.0
        cst = 0.0
        for i in range(ln):
            hrs += t[a_legs[current, i]]
            cst += w[a_legs[current, i]]
        if hrs <= due + 1e-9:
            for i in range(ln):
                res_legs[found, i] = a_legs[current, i]
            res_len[found] = ln
            res_cost[found] = cst
            res_hours[found] = hrs
            found += 1
        if found >= k or n_a >= max_enum:
            return found, False
        prev = current
        plen = a_len[prev]
        root_cost = 0.0
        for i in range(plen):
            spur_node = src if i == 0 else leg_to[a_legs[prev, i - 1]]
            # block the next leg of every accepted path sharing this root
            for p in range(n_a):
                if a_len[p] > i:
                    same = True
                    for j in range(i):
                        if a_legs[p, j] != a_legs[prev, j]:
                            same = False
                            break
                    if same:
                        leg_blocked[a_legs[p, i]] = True
            # block the root's nodes before the spur node
            node_blocked[src] = i > 0
            for j in range(i - 1):
                node_blocked[leg_to[a_legs[prev, j]]] = True
            sc = _dijkstra_blocked(
                n, out_ptr, out_legs, out_head, w, spur_node, dst, node_blocked, leg_blocked,
                dist, pred, done,
            )  # fmt: skip
            if sc < INF:
                slen = 0
                v = dst
                while v != spur_node:
                    spur[slen] = pred[v]
                    slen += 1
                    v = leg_from[pred[v]]
                total = i + slen
                # duplicate among candidates?
                dup = False
                for b in range(n_b):
                    if b_len[b] == total:
                        same = True
                        for j in range(i):
                            if b_legs[b, j] != a_legs[prev, j]:
                                same = False
                                break
                        if same:
                            for j in range(slen):
                                if b_legs[b, i + j] != spur[slen - 1 - j]:
                                    same = False
                                    break
                        if same:
                            dup = True
                            break
                if not dup and n_b < cap:
                    for j in range(i):
                        b_legs[n_b, j] = a_legs[prev, j]
                    for j in range(slen):
                        b_legs[n_b, i + j] = spur[slen - 1 - j]
                    b_len[n_b] = total
                    b_cost[n_b] = root_cost + sc
                    n_b += 1
            # unblock
            for p in range(n_a):
                if a_len[p] > i:
                    leg_blocked[a_legs[p, i]] = False
            node_blocked[src] = False
            for j in range(i - 1):
                node_blocked[leg_to[a_legs[prev, j]]] = False
            root_cost += w[a_legs[prev, i]]
        # the cheapest unused candidate becomes the next path
        best = -1
        best_cost = INF
        for b in range(n_b):
            if not b_used[b] and (
                b_cost[b] < best_cost or (b_cost[b] == best_cost and b_len[b] < b_len[best])
            ):
                best = b
                best_cost = b_cost[b]
        if best < 0:
            return found, True  # no loopless path left
        b_used[best] = True
        for j in range(b_len[best]):
            a_legs[n_a, j] = b_legs[best, j]
        a_len[n_a] = b_len[best]
        current = n_a
        n_a += 1
    return found, False


@njit(cache=True, parallel=True)
def _k_shortest(n, out_ptr, out_legs, out_head, leg_from, leg_to, cost, hours, com_src, com_dst, com_cls, com_due, k, max_enum):  # fmt: skip
    n_com = len(com_src)
    res_legs = np.full((n_com, k, max(n, 1)), -1, dtype=np.int64)
    res_len = np.zeros((n_com, k), dtype=np.int64)
    res_cost = np.zeros((n_com, k))
    res_hours = np.zeros((n_com, k))
    count = np.zeros(n_com, dtype=np.int64)
    complete = np.zeros(n_com, dtype=np.bool_)
    for c in prange(n_com):
        cls = com_cls[c]
        count[c], complete[c] = _yen_one(
            n, out_ptr, out_legs, out_head, leg_from, leg_to, cost[cls], hours[cls],
            com_src[c], com_dst[c], com_due[c], k, max_enum,
            res_legs[c], res_len[c], res_cost[c], res_hours[c],
        )  # fmt: skip
    return res_legs, res_len, res_cost, res_hours, count, complete


@dataclass(frozen=True)
class PathSet:
    """Paths as CSR: path ``p`` belongs to commodity ``com[p]`` and uses legs ``legs[ptr[p]:ptr[p+1]]``."""

    com: np.ndarray
    ptr: np.ndarray
    legs: np.ndarray
    cost: np.ndarray
    hours: np.ndarray
    complete: np.ndarray | None = None  # per commodity: all its in-time paths are here

    @property
    def n_paths(self) -> int:
        """Number of paths."""
        return len(self.com)

    def path(self, p: int) -> np.ndarray:
        """Leg indices of path ``p``."""
        return self.legs[self.ptr[p] : self.ptr[p + 1]]


def run_k_shortest(
    net: Network,
    cost: np.ndarray,
    hours: np.ndarray,
    com_src: np.ndarray,
    com_dst: np.ndarray,
    com_cls: np.ndarray,
    com_due_hours: np.ndarray,
    k: int,
    max_enum: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The Yen kernel on ``net`` with typed arrays: (legs, lengths, costs, hours, counts,
    complete flags) per commodity."""
    return _k_shortest(
        net.n_nodes,
        net.out_ptr.astype(np.int64),
        net.out_legs.astype(np.int64),
        net.out_head.astype(np.int64),
        net.leg_from.astype(np.int64),
        net.leg_to.astype(np.int64),
        np.ascontiguousarray(cost, dtype=float),
        np.ascontiguousarray(hours, dtype=float),
        np.asarray(com_src, dtype=np.int64),
        np.asarray(com_dst, dtype=np.int64),
        np.asarray(com_cls, dtype=np.int64),
        np.asarray(com_due_hours, dtype=float),
        int(k),
        int(max_enum),
    )


def k_shortest_paths(
    net: Network,
    cost: np.ndarray,
    hours: np.ndarray,
    com_src: np.ndarray,
    com_dst: np.ndarray,
    com_cls: np.ndarray,
    com_due_hours: np.ndarray,
    k: int,
    max_enum: int | None = None,
) -> PathSet:
    """Up to ``k`` cheapest loopless paths within due hours per commodity (see module docstring).

    ``cost`` and ``hours`` are ``[class, leg]`` (inf = forbidden). ``max_enum`` bounds the paths
    Yen enumerates per commodity, in time or not (default ``max(4k, k + 20)``).
    """
    max_enum = max(4 * k, k + 20) if max_enum is None else max(max_enum, 1)
    res_legs, res_len, res_cost, res_hours, count, complete = run_k_shortest(
        net, cost, hours, com_src, com_dst, com_cls, com_due_hours, k, max_enum
    )
    keep = np.arange(k)[None, :] < count[:, None]
    lens = res_len[keep]
    ptr = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=ptr[1:])
    flat = res_legs[keep]
    legs = flat[np.arange(flat.shape[1])[None, :] < lens[:, None]] if len(flat) else np.zeros(0)
    return PathSet(
        com=np.repeat(np.arange(len(count)), count),
        ptr=ptr,
        legs=legs.astype(np.int64),
        cost=res_cost[keep],
        hours=res_hours[keep],
        complete=complete,
    )
