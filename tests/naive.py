"""Slow, obviously correct twins of the numba kernels (the STUMPY pattern)."""

from __future__ import annotations

import heapq
import math

import numpy as np


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance with the math module."""
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(h)))


def tariff_cost(
    mode: int, distance: float, bands: list[tuple[int, float, float, float, float]]
) -> float:
    """bands: (mode, from_km, to_km, rate, fixed); the band holding the distance, else the last one."""
    mine = sorted((b for b in bands if b[0] == mode), key=lambda b: b[1])
    if not mine:
        return math.nan
    for _, lo, hi, rate, fixed in mine:
        if lo <= distance < hi:
            return fixed + rate * distance
    below = [b for b in mine if b[1] <= distance]
    band = below[-1] if below else None
    return math.nan if band is None else band[4] + band[3] * distance


def dijkstra(
    n: int, tails: list[int], heads: list[int], weight: list[float], source: int
) -> list[float]:
    """Textbook Dijkstra with heapq over an edge list."""
    out: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for t, h, w in zip(tails, heads, weight, strict=True):
        if math.isfinite(w):
            out[t].append((h, w))
    dist = [math.inf] * n
    dist[source] = 0.0
    heap = [(0.0, source)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for v, w in out[u]:
            if d + w < dist[v]:
                dist[v] = d + w
                heapq.heappush(heap, (d + w, v))
    return dist


def simple_paths(
    n: int, tails: list[int], heads: list[int], source: int, target: int
) -> list[list[int]]:
    """Every simple path (as leg indices) from source to target, by depth-first search."""
    out: list[list[int]] = [[] for _ in range(n)]
    for a, t in enumerate(tails):
        out[t].append(a)
    paths: list[list[int]] = []

    def walk(u: int, seen: set[int], legs: list[int]) -> None:
        if u == target:
            paths.append(list(legs))
            return
        for a in out[u]:
            v = heads[a]
            if v not in seen:
                walk(v, seen | {v}, [*legs, a])

    walk(source, {source}, [])
    return paths


def cost_matrix(
    base: np.ndarray,
    hours: np.ndarray,
    co2: np.ndarray,
    value: np.ndarray,
    co2_price: float,
    allowed: np.ndarray,
) -> np.ndarray:
    """C[class, leg] by a double Python loop."""
    out = np.full(allowed.shape, np.inf)
    for c in range(allowed.shape[0]):
        for a in range(allowed.shape[1]):
            if allowed[c, a]:
                out[c, a] = base[a] + value[c] * hours[a] / 24.0 + co2_price * co2[a] / 1000.0
    return out
