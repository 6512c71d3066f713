"""Yen's k shortest loopless paths (numba) against DFS enumeration of every simple path."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import simple_paths

from allocator.preprocess import graph
from allocator.preprocess.graph import Network
from allocator.preprocess.paths import k_shortest_paths


def network(n: int, tails: list[int], heads: list[int]) -> Network:
    """A Network from leg end points (nodes 0..n-1)."""
    return graph.network(
        np.array([str(i) for i in range(n)], dtype=object),
        np.array([f"a{i}" for i in range(len(tails))], dtype=object),
        np.array(tails, dtype=np.int64),
        np.array(heads, dtype=np.int64),
    )


@st.composite
def graphs(draw: st.DrawFn) -> tuple:
    n = draw(st.integers(2, 6))
    m = draw(st.integers(1, 14))
    tails, heads = [], []
    for _ in range(m):
        t = draw(st.integers(0, n - 1))
        h = draw(st.integers(0, n - 2))
        tails.append(t)
        heads.append(h if h < t else h + 1)  # no self-loops; parallel legs allowed
    cost = [draw(st.sampled_from([1.0, 2.0, 3.0, 5.0, np.inf])) for _ in range(m)]
    hours = [draw(st.sampled_from([0.0, 1.0, 4.0])) for _ in range(m)]
    src = draw(st.integers(0, n - 1))
    dst = draw(st.integers(0, n - 1))
    due = draw(st.sampled_from([np.inf, 0.0, 4.0, 6.0]))
    k = draw(st.integers(1, 8))
    return n, tails, heads, cost, hours, src, dst, due, k


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_yen_matches_enumeration(case: tuple) -> None:
    n, tails, heads, cost, hours, src, dst, due, k = case
    net = network(n, tails, heads)
    c, h = np.array([cost]), np.array([hours])
    ps = k_shortest_paths(
        net, c, h, np.array([src]), np.array([dst]), np.array([0]), np.array([due]), k,
        max_enum=10_000,
    )  # fmt: skip
    every = [] if src == dst else simple_paths(n, tails, heads, src, dst)
    ok = [
        p
        for p in every
        if all(np.isfinite(cost[a]) for a in p) and sum(hours[a] for a in p) <= due + 1e-9
    ]
    want = sorted(sum(cost[a] for a in p) for p in ok)[:k]
    assert sorted(ps.cost.tolist()) == want
    seen = set()
    for p in range(ps.n_paths):
        legs = ps.path(p).tolist()
        assert legs in ok  # a real simple path within due hours
        assert ps.cost[p] == sum(cost[a] for a in legs)
        assert ps.hours[p] == sum(hours[a] for a in legs)
        seen.add(tuple(legs))
    assert len(seen) == ps.n_paths  # no path twice
    # complete: Yen ran out of loopless paths before k in-time ones (then it has all of them)
    assert bool(ps.complete[0]) == (len(ok) < k)


def test_several_commodities_and_classes() -> None:
    # 0 -> 1 -> 2 and 0 -> 2; class 1 may not use the direct leg
    net = network(3, [0, 1, 0], [1, 2, 2])
    cost = np.array([[1.0, 1.0, 5.0], [1.0, 1.0, np.inf]])
    hours = np.zeros((2, 3))
    ps = k_shortest_paths(
        net, cost, hours, np.array([0, 0, 2]), np.array([2, 2, 0]), np.array([0, 1, 0]),
        np.array([np.inf] * 3), 5,
    )  # fmt: skip
    assert ps.com.tolist() == [0, 0, 1]
    assert [ps.path(p).tolist() for p in range(3)] == [[0, 1], [2], [0, 1]]
