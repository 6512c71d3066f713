"""numba kernels of the preprocessing core: arrays in, arrays out, no ids and no pandas."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

EARTH_RADIUS_KM = 6371.0088


@njit(cache=True)
def _haversine_km(lat1, lon1, lat2, lon2):  # type: ignore[no-untyped-def]
    """Great-circle distance in km between arrays of points given in degrees."""
    n = lat1.shape[0]
    out = np.empty(n)
    for i in range(n):
        p1 = np.radians(lat1[i])
        p2 = np.radians(lat2[i])
        dp = p2 - p1
        dl = np.radians(lon2[i] - lon1[i])
        h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
        out[i] = 2 * EARTH_RADIUS_KM * np.arcsin(min(1.0, np.sqrt(h)))
    return out


@njit(cache=True)
def _tariff_cost(leg_mode, distance, band_mode, band_from, band_to, band_rate, band_fixed):  # type: ignore[no-untyped-def]
    """Freight cost per TEU from distance bands: fixed + rate * km of the band holding the distance.

    Bands are sorted by (mode, from_km); a distance past the last band of its mode uses that band.
    Legs whose mode has no band get NaN.
    """
    n = leg_mode.shape[0]
    out = np.full(n, np.nan)
    for i in range(n):
        best = -1
        for b in range(band_mode.shape[0]):
            if band_mode[b] != leg_mode[i]:
                continue
            if band_from[b] <= distance[i]:
                best = b
                if distance[i] < band_to[b]:
                    break
        if best >= 0:
            out[i] = band_fixed[best] + band_rate[best] * distance[i]
    return out


@njit(cache=True, parallel=True)
def _cost_matrix(base_cost, hours, co2_kg, value_per_day, co2_price_per_t, allowed):  # type: ignore[no-untyped-def]
    """Generalised cost C[class, leg] and hours T[class, leg]; +inf where the class is forbidden."""
    n_class, n_leg = allowed.shape
    cost = np.empty((n_class, n_leg))
    time = np.empty((n_class, n_leg))
    for a in prange(n_leg):
        fixed = base_cost[a] + co2_price_per_t * co2_kg[a] / 1000.0
        days = hours[a] / 24.0
        for c in range(n_class):
            if allowed[c, a]:
                cost[c, a] = fixed + value_per_day[c] * days
                time[c, a] = hours[a]
            else:
                cost[c, a] = np.inf
                time[c, a] = np.inf
    return cost, time


@njit(cache=True)
def _heap_push(heap_key, heap_node, size, key, node):  # type: ignore[no-untyped-def]
    i = size
    heap_key[i] = key
    heap_node[i] = node
    while i > 0:
        parent = (i - 1) // 2
        if heap_key[parent] <= heap_key[i]:
            break
        heap_key[parent], heap_key[i] = heap_key[i], heap_key[parent]
        heap_node[parent], heap_node[i] = heap_node[i], heap_node[parent]
        i = parent
    return size + 1


@njit(cache=True)
def _heap_pop(heap_key, heap_node, size):  # type: ignore[no-untyped-def]
    key = heap_key[0]
    node = heap_node[0]
    size -= 1
    heap_key[0] = heap_key[size]
    heap_node[0] = heap_node[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        if left + 1 < size and heap_key[left + 1] < heap_key[left]:
            child = left + 1
        if heap_key[i] <= heap_key[child]:
            break
        heap_key[i], heap_key[child] = heap_key[child], heap_key[i]
        heap_node[i], heap_node[child] = heap_node[child], heap_node[i]
        i = child
    return key, node, size


@njit(cache=True)
def _dijkstra(ptr, arc_leg, arc_head, weight, source, dist, pred):  # type: ignore[no-untyped-def]
    """One-source Dijkstra over CSR (``ptr``, ``arc_leg``, ``arc_head``) with leg weights.

    Fills ``dist`` (inf where unreachable) and ``pred`` (the leg entering each node, -1 if none).
    Legs with infinite weight are skipped.
    """
    n_arc = arc_leg.shape[0]
    heap_key = np.empty(n_arc + 1)
    heap_node = np.empty(n_arc + 1, dtype=np.int64)
    dist[:] = np.inf
    pred[:] = -1
    dist[source] = 0.0
    size = _heap_push(heap_key, heap_node, 0, 0.0, source)
    while size > 0:
        key, u, size = _heap_pop(heap_key, heap_node, size)
        if key > dist[u]:
            continue
        for j in range(ptr[u], ptr[u + 1]):
            w = weight[arc_leg[j]]
            if not np.isfinite(w):
                continue
            v = arc_head[j]
            nd = key + w
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = arc_leg[j]
                size = _heap_push(heap_key, heap_node, size, nd, v)


@njit(cache=True, parallel=True)
def _dijkstra_many(ptr, arc_leg, arc_head, weights, sources, source_row):  # type: ignore[no-untyped-def]
    """Dijkstra from every source in parallel; source ``s`` uses leg weights ``weights[source_row[s]]``.

    Returns ``dist[s, node]`` and ``pred[s, node]`` (leg index entering the node on a shortest path).
    """
    n_src = sources.shape[0]
    n_node = ptr.shape[0] - 1
    dist = np.empty((n_src, n_node))
    pred = np.empty((n_src, n_node), dtype=np.int64)
    for s in prange(n_src):
        _dijkstra(ptr, arc_leg, arc_head, weights[source_row[s]], sources[s], dist[s], pred[s])
    return dist, pred


@njit(cache=True)
def _usable(
    fwd_t,
    bwd_t,
    fwd_c,
    bwd_c,
    k,
    a,
    fr,
    br,
    cls,
    origin,
    dest,
    due,
    limit,
    leg_from,
    leg_to,
    time,
    cost,
):  # type: ignore[no-untyped-def]
    if leg_to[a] == origin[k] or leg_from[a] == dest[k]:
        return False  # legs into the origin or out of the destination only close cycles
    t = fwd_t[fr[k], leg_from[a]] + time[cls[k], a] + bwd_t[br[k], leg_to[a]]
    if not (t <= due[k] and np.isfinite(t)):
        return False  # on no origin-destination path within the due hours
    c = fwd_c[fr[k], leg_from[a]] + cost[cls[k], a] + bwd_c[br[k], leg_to[a]]
    return c <= limit[k]  # any path over the leg costs more than leaving the TEU unmoved


@njit(cache=True, parallel=True)
def _count_usable(
    fwd_t, bwd_t, fwd_c, bwd_c, fr, br, cls, origin, dest, due, limit, leg_from, leg_to, time, cost
):  # type: ignore[no-untyped-def]
    """Number of legs each commodity may use (see ``_usable``)."""
    n_com = fr.shape[0]
    counts = np.zeros(n_com, dtype=np.int64)
    for k in prange(n_com):
        c = 0
        for a in range(leg_from.shape[0]):
            if _usable(
                fwd_t,
                bwd_t,
                fwd_c,
                bwd_c,
                k,
                a,
                fr,
                br,
                cls,
                origin,
                dest,
                due,
                limit,
                leg_from,
                leg_to,
                time,
                cost,
            ):
                c += 1
        counts[k] = c
    return counts


@njit(cache=True, parallel=True)
def _usable_legs(
    fwd_t,
    bwd_t,
    fwd_c,
    bwd_c,
    fr,
    br,
    cls,
    origin,
    dest,
    due,
    limit,
    leg_from,
    leg_to,
    time,
    cost,
    offsets,
):  # type: ignore[no-untyped-def]
    """Leg indices each commodity may use, concatenated per commodity at ``offsets``.

    A leg is usable by commodity k when it lies on an origin-destination path that fits the due
    hours and whose generalised cost lower bound does not exceed ``limit[k]`` (the penalty of
    leaving a TEU unmoved, or inf when every TEU must move). Both are valid reductions.
    """
    out = np.empty(offsets[-1], dtype=np.int64)
    for k in prange(fr.shape[0]):
        pos = offsets[k]
        for a in range(leg_from.shape[0]):
            if _usable(
                fwd_t,
                bwd_t,
                fwd_c,
                bwd_c,
                k,
                a,
                fr,
                br,
                cls,
                origin,
                dest,
                due,
                limit,
                leg_from,
                leg_to,
                time,
                cost,
            ):
                out[pos] = a
                pos += 1
    return out


# --- public wrappers: the only callers of the kernels outside this module


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance in km between arrays of points given in degrees."""
    return _haversine_km(
        np.asarray(lat1, dtype=float),
        np.asarray(lon1, dtype=float),
        np.asarray(lat2, dtype=float),
        np.asarray(lon2, dtype=float),
    )


def tariff_cost(
    leg_mode: np.ndarray,
    distance: np.ndarray,
    band_mode: np.ndarray,
    band_from: np.ndarray,
    band_to: np.ndarray,
    band_rate: np.ndarray,
    band_fixed: np.ndarray,
) -> np.ndarray:
    """Freight cost per TEU of each leg from distance bands (see ``_tariff_cost``)."""
    return _tariff_cost(leg_mode, distance, band_mode, band_from, band_to, band_rate, band_fixed)


def usable_legs(
    fwd_t: np.ndarray,
    bwd_t: np.ndarray,
    fwd_c: np.ndarray,
    bwd_c: np.ndarray,
    fr: np.ndarray,
    br: np.ndarray,
    cls: np.ndarray,
    origin: np.ndarray,
    dest: np.ndarray,
    due: np.ndarray,
    limit: np.ndarray,
    leg_from: np.ndarray,
    leg_to: np.ndarray,
    time: np.ndarray,
    cost: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The legs each commodity may use, in CSR form: ``legs[ptr[k]:ptr[k + 1]]`` for commodity
    ``k`` (see ``_usable_legs``). ``fr``/``br`` are each commodity's row of the forward (from
    its origin) and backward (to its destination) time and cost matrices."""
    args = (fwd_t, bwd_t, fwd_c, bwd_c, fr, br, cls, origin, dest, due, limit, leg_from, leg_to)
    counts = _count_usable(*args, time, cost)
    ptr = np.zeros(len(fr) + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr, _usable_legs(*args, time, cost, ptr)
