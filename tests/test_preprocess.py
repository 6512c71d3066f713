"""numba kernels and their wrappers against slow twins (tests/naive.py, scipy, the plan checker)."""

from __future__ import annotations

import math

import naive
import numpy as np
import pytest
from helpers import FREE_TIME, build, leg, lot, node
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra as scipy_dijkstra

from allocator.preprocess import kernels, preprocess
from allocator.preprocess.graph import csr
from allocator.results.check import leg_costs


@given(
    st.lists(
        st.tuples(
            st.floats(-89, 89), st.floats(-179, 179), st.floats(-89, 89), st.floats(-179, 179)
        ),
        min_size=1,
        max_size=20,
    )
)
@settings(max_examples=30, deadline=None)
def test_haversine_matches_math_module(points):
    arr = np.array(points, dtype=float)
    got = kernels._haversine_km(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])
    want = [naive.haversine_km(*p) for p in points]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-6)


def test_haversine_known_distance():
    # Aktau (43.65, 51.15) to Alat (39.95, 49.4): 436 km great-circle
    got = kernels._haversine_km(
        np.array([43.65]), np.array([51.15]), np.array([39.95]), np.array([49.4])
    )
    assert got[0] == pytest.approx(436, abs=1.0)


@given(st.lists(st.floats(0, 5000), min_size=1, max_size=30), st.integers(0, 2))
@settings(max_examples=30, deadline=None)
def test_tariff_bands_match_naive(distances, mode):
    bands = [
        (0, 0.0, 500.0, 1.0, 50.0),
        (0, 500.0, 2000.0, 0.8, 150.0),
        (0, 2000.0, np.inf, 0.6, 550.0),
        (1, 0.0, 100.0, 2.0, 0.0),
        (1, 100.0, 300.0, 1.5, 10.0),
    ]
    b = np.array(bands)
    got = kernels._tariff_cost(
        np.full(len(distances), mode, dtype=np.int64),
        np.array(distances),
        b[:, 0].astype(np.int64),
        b[:, 1],
        b[:, 2],
        b[:, 3],
        b[:, 4],
    )
    want = [naive.tariff_cost(mode, d, bands) for d in distances]
    np.testing.assert_allclose(got, want, equal_nan=True)


@given(st.integers(1, 5), st.integers(1, 40), st.integers(0, 10_000))
@settings(max_examples=25, deadline=None)
def test_cost_matrix_matches_double_loop(n_class, n_leg, seed):
    rng = np.random.default_rng(seed)
    base, hours, co2 = (
        rng.uniform(0, 1000, n_leg),
        rng.uniform(0, 200, n_leg),
        rng.uniform(0, 900, n_leg),
    )
    value = rng.uniform(0, 100, n_class)
    allowed = rng.random((n_class, n_leg)) > 0.2
    cost, time = kernels._cost_matrix(base, hours, co2, value, 75.0, allowed)
    np.testing.assert_allclose(cost, naive.cost_matrix(base, hours, co2, value, 75.0, allowed))
    assert np.array_equal(np.isinf(time), ~allowed)
    np.testing.assert_allclose(time[allowed], np.broadcast_to(hours, allowed.shape)[allowed])


def _random_graph(
    rng: np.random.Generator, n: int, m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tails = rng.integers(0, n, m)
    heads = (tails + rng.integers(1, n, m)) % n  # no self loops
    return tails.astype(np.int64), heads.astype(np.int64), rng.uniform(1, 100, m)


@given(st.integers(2, 60), st.integers(1, 300), st.integers(0, 10_000))
@settings(max_examples=30, deadline=None)
def test_dijkstra_matches_naive_and_scipy(n, m, seed):
    rng = np.random.default_rng(seed)
    tails, heads, w = _random_graph(rng, n, m)
    w[rng.random(m) < 0.1] = np.inf  # forbidden legs are skipped
    ptr, order = csr(tails, n)
    sources = np.arange(min(n, 5), dtype=np.int64)
    dist, pred = kernels._dijkstra_many(
        ptr, order, heads[order], w[None, :], sources, np.zeros(len(sources), dtype=np.int64)
    )
    for s in sources:
        want = naive.dijkstra(n, tails.tolist(), heads.tolist(), w.tolist(), int(s))
        np.testing.assert_allclose(dist[s], want)
        for v in range(n):  # the predecessor leg ends at v and continues a shortest path
            if np.isfinite(dist[s, v]) and v != s:
                a = pred[s, v]
                assert heads[a] == v
                assert dist[s, tails[a]] + w[a] == pytest.approx(dist[s, v])
    finite = np.isfinite(w)
    # scipy keeps the cheapest of parallel arcs when summing duplicates; take the min explicitly
    best: dict[tuple[int, int], float] = {}
    for t, h, x in zip(tails[finite], heads[finite], w[finite], strict=True):
        best[(t, h)] = min(best.get((t, h), math.inf), x)
    if best:
        keys = np.array(list(best))
        g = csr_array((list(best.values()), (keys[:, 0], keys[:, 1])), shape=(n, n))
        np.testing.assert_allclose(scipy_dijkstra(g, indices=sources), dist)


def _line_instance():
    # A -> B -> D (fast) and A -> C -> D (slow); D -> A back; lots with and without due days
    return build(
        nodes=[node("A"), node("B"), node("C"), node("D")],
        legs=[
            leg("AB", "A", "B", 10, hours=24),
            leg("BD", "B", "D", 10, hours=24),
            leg("AC", "A", "C", 5, hours=10 * 24),
            leg("CD", "C", "D", 5, hours=10 * 24),
            leg("DA", "D", "A", 1, hours=24),
        ],
        classes=FREE_TIME,
        cargo=[
            lot("fast", "A", "D", 1, due_days=5),
            lot("any", "A", "D", 1),
            lot("late", "A", "D", 1, due_days=1),
        ],
    )


def test_pruning_keeps_exactly_the_legs_of_paths_within_due():
    inst = _line_instance()
    pre = preprocess(inst)
    com = pre.commodities.set_index(pre.commodities["lots"].map(lambda t: t[0]))
    usable = {
        lots[0]: set(pre.net.leg_ids[pre.usable_legs[pre.usable_ptr[k] : pre.usable_ptr[k + 1]]])
        for k, lots in enumerate(pre.commodities["lots"])
    }
    assert usable["fast"] == {"AB", "BD"}  # the slow branch takes 20 days
    assert usable["any"] == {"AB", "BD", "AC", "CD"}  # DA only closes a cycle
    assert usable["late"] == set()
    assert com.loc["late", "status"] == "no_route_within_due"
    assert com.loc["fast", "fastest_days"] == pytest.approx(2)
    assert com.loc["any", "cheapest_route"] == "AC > CD"
    assert com.loc["any", "cheapest_cost"] == pytest.approx(10)


@given(st.integers(3, 8), st.integers(3, 16), st.integers(0, 10_000))
@settings(max_examples=25, deadline=None)
def test_pruning_is_a_valid_reduction(n, m, seed):
    """Every simple origin-destination path within the due days and cheaper than the penalty
    uses only usable legs."""
    rng = np.random.default_rng(seed)
    tails, heads, hours = _random_graph(rng, n, m)
    cost = rng.uniform(10, 100, m)
    penalty = float(rng.uniform(50, 300))
    inst = build(
        nodes=[node(f"N{i}") for i in range(n)],
        legs=[
            leg(f"E{a}", f"N{tails[a]}", f"N{heads[a]}", float(cost[a]), hours=float(hours[a]))
            for a in range(m)
        ],
        classes=FREE_TIME,
        cargo=[
            lot(
                "L",
                "N0",
                f"N{n - 1}",
                1,
                due_days=float(rng.uniform(1, 8)),
                penalty_per_teu=penalty,
            )
        ],
    )
    pre = preprocess(inst)
    usable = set(pre.usable_legs.tolist())
    due_h = float(inst.cargo["due_days"].iloc[0]) * 24
    for path in naive.simple_paths(n, tails.tolist(), heads.tolist(), 0, n - 1):
        if sum(hours[a] for a in path) <= due_h + 1e-9 and sum(cost[a] for a in path) <= penalty:
            assert set(path) <= usable


def test_cost_matrix_wrapper_matches_checker_twin(eurasia):
    """The numba cost pipeline and the checker's pandas twin agree on every leg of the example."""
    pre = preprocess(eurasia)
    twin = leg_costs(eurasia)
    np.testing.assert_allclose(pre.legs.distance_km, twin["distance_km"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(pre.legs.hours, twin["hours"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(pre.legs.base_cost, twin["base_cost"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(pre.legs.co2_kg, twin["co2_kg"].to_numpy(), rtol=1e-9)


@given(st.integers(1, 40), st.integers(0, 200), st.integers(0, 10_000))
@settings(max_examples=30, deadline=None)
def test_csr_stars_match_adjacency_lists(n, m, seed):
    rng = np.random.default_rng(seed)
    tails = rng.integers(0, n, m)
    ptr, order = csr(tails, n)
    for u in range(n):
        assert sorted(order[ptr[u] : ptr[u + 1]].tolist()) == [a for a in range(m) if tails[a] == u]
