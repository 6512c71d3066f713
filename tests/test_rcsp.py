"""Resource-constrained shortest path (pricing) kernel against brute-force enumeration of simple paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import simple_paths

from allocator.preprocess import graph, rcsp
from allocator.preprocess.graph import Network
from allocator.preprocess.rcsp import FOUND, LABEL_LIMIT, NO_PATH, cheapest_in_time


def network(n: int, tails: list[int], heads: list[int]) -> Network:
    """A Network from leg end points (nodes 0..n-1)."""
    return graph.network(
        np.array([str(i) for i in range(n)], dtype=object),
        np.array([f"L{i}" for i in range(len(tails))], dtype=object),
        np.array(tails, dtype=np.int64),
        np.array(heads, dtype=np.int64),
    )


def brute_force(
    n: int,
    tails: list[int],
    heads: list[int],
    w: list[float],
    t: list[float],
    s: int,
    d: int,
    due: float,
) -> float:
    """Least weight over every simple path s -> d within ``due`` hours (inf when none)."""
    if s == d or due < 0:
        return math.inf
    fits = [
        sum(w[a] for a in p)
        for p in simple_paths(n, tails, heads, s, d)
        if all(math.isfinite(w[a]) for a in p) and sum(t[a] for a in p) <= due + 1e-9
    ]
    return min(fits, default=math.inf)


@st.composite
def cases(draw: st.DrawFn) -> tuple:
    n = draw(st.integers(2, 6))
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    legs = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=14))  # parallel legs allowed
    w = draw(
        st.lists(
            st.one_of(st.integers(0, 20).map(float), st.just(math.inf)),
            min_size=len(legs),
            max_size=len(legs),
        )
    )
    t = draw(st.lists(st.integers(0, 30).map(float), min_size=len(legs), max_size=len(legs)))
    coms = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1),
                st.integers(0, n - 1),
                st.one_of(st.just(math.inf), st.integers(0, 60).map(float)),
            ),
            min_size=1,
            max_size=4,
        )
    )
    return n, [a for a, _ in legs], [b for _, b in legs], w, t, coms


@settings(max_examples=200, deadline=None)
@given(cases())
def test_rcsp_equals_brute_force(case: tuple) -> None:
    n, tails, heads, w, t, coms = case
    net = network(n, tails, heads)
    src = [s for s, _, _ in coms]
    dst = [d for _, d, _ in coms]
    due = [x for _, _, x in coms]
    weight = np.tile(np.array(w), (len(coms), 1))
    res = cheapest_in_time(net, weight, np.array([t]), np.zeros(len(coms)), src, dst, due)
    # the same with the least hours to each destination computed once, not per search
    rows = np.arange(len(coms))
    tmin = rcsp.fastest_hours(net, weight, np.tile(np.array(t), (len(coms), 1)), dst, rows)
    known = rcsp.price_commodities(
        net, weight, np.array([t]), rows, np.zeros(len(coms)), src, dst, due, fastest=(tmin, rows)
    )
    assert known.status.tolist() == res.status.tolist()
    assert np.array_equal(known.cost, res.cost)
    for k, (s, d, limit) in enumerate(coms):
        expected = brute_force(n, tails, heads, w, t, s, d, limit)
        if math.isinf(expected):
            assert res.status[k] == NO_PATH
            continue
        assert res.status[k] == FOUND
        assert res.cost[k] == pytest.approx(expected)
        legs = res.path(k).tolist()
        nodes = [s] + [heads[a] for a in legs]
        assert all(tails[a] == u for a, u in zip(legs, nodes[:-1], strict=True))
        assert nodes[-1] == d
        assert len(set(nodes)) == len(nodes)  # loopless
        assert sum(w[a] for a in legs) == pytest.approx(res.cost[k])
        assert sum(t[a] for a in legs) == pytest.approx(res.hours[k])
        assert res.hours[k] <= limit + 1e-9


@pytest.mark.parametrize("parallel_work", [0, rcsp.PARALLEL_WORK])  # prange on several threads, one
def test_slow_cheap_path_gives_way_to_a_fast_one(
    parallel_work: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rcsp, "PARALLEL_WORK", parallel_work)
    # 0 -> 1 -> 3 weighs 2 in 20 h; 0 -> 2 -> 3 weighs 101 in 12 h; 0 -> 3 weighs 500 in 1 h
    net = network(4, [0, 1, 0, 2, 0], [1, 3, 2, 3, 3])
    w = np.array([[1.0, 1.0, 50.0, 51.0, 500.0]] * 3)
    t = np.array([[10.0, 10.0, 6.0, 6.0, 1.0]])
    res = cheapest_in_time(net, w, t, [0, 0, 0], [0, 0, 0], [3, 3, 3], [math.inf, 15.0, 5.0])
    assert res.cost.tolist() == [2.0, 101.0, 500.0]
    assert [res.path(k).tolist() for k in range(3)] == [[0, 1], [2, 3], [4]]
    assert res.hours.tolist() == [20.0, 12.0, 1.0]
    assert res.exact


def test_label_limit_is_reported_not_hidden() -> None:
    # a ladder whose Pareto front (weight up, hours down) needs more labels than allowed
    n = 12
    tails, heads, w, t = [], [], [], []
    for i in range(n - 1):
        tails += [i, i]
        heads += [i + 1, i + 1]
        w += [1.0, 2.0]
        t += [2.0, 1.0]
    net = network(n, tails, heads)
    res = cheapest_in_time(
        net, np.array([w]), np.array([t]), [0], [0], [n - 1], [12.0], max_labels=20
    )
    assert res.status[0] == LABEL_LIMIT
    assert not res.exact
    # with room it is exact: 11 steps within 12 h -> at most one slow (2 h) step: weight 11 + 10
    ok = cheapest_in_time(net, np.array([w]), np.array([t]), [0], [0], [n - 1], [12.0])
    assert ok.status[0] == FOUND
    assert ok.cost[0] == pytest.approx(1 * 1 + 10 * 2)


def test_negative_weights_are_refused() -> None:
    net = network(2, [0], [1])
    with pytest.raises(ValueError, match=">= 0"):
        cheapest_in_time(net, np.array([[-1.0]]), np.array([[1.0]]), [0], [0], [1], [math.inf])


@settings(max_examples=60, deadline=None)
@given(cases(), st.integers(0, 2**31))
def test_one_tree_per_origin_equals_one_search_per_commodity(case: tuple, seed: int) -> None:
    # commodities that share an origin are priced by one Dijkstra tree (with due hours, the
    # members whose tree path is late by a search each); the answers (weights, and in-time
    # paths of that weight, under per-commodity limits) are those of a search per commodity
    # and of the brute force
    n, tails, heads, w, t, coms = case
    net = network(n, tails, heads)
    rng = np.random.default_rng(seed)
    m = 3 * len(coms)
    src = rng.integers(0, 2, m)  # two origins: groups of several commodities
    dst = rng.integers(0, n, m)
    limit = np.where(rng.random(m) < 0.3, rng.uniform(0, 40, m), np.inf)
    due = np.where(rng.random(m) < 0.5, rng.uniform(0, 60, m), np.inf)
    args = (net, np.array([w]), np.array([t]), np.zeros(m), np.zeros(m), src, dst, due)
    trees = rcsp.price_commodities(*args, limit=limit)
    old = rcsp.TREE_MIN_MEMBERS
    try:
        rcsp.TREE_MIN_MEMBERS = 10**9
        singles = rcsp.price_commodities(*args, limit=limit)
    finally:
        rcsp.TREE_MIN_MEMBERS = old
    assert trees.status.tolist() == singles.status.tolist()
    for i in range(m):
        best = brute_force(n, tails, heads, w, t, int(src[i]), int(dst[i]), float(due[i]))
        assert (trees.status[i] == FOUND) == (best < limit[i])
    found = trees.status == FOUND
    assert np.allclose(trees.cost[found], singles.cost[found])
    for i in np.flatnonzero(found):
        assert trees.hours[i] <= due[i] + 1e-9
        legs = trees.path(i).tolist()
        nodes = [int(src[i])] + [heads[a] for a in legs]
        assert all(tails[a] == u for a, u in zip(legs, nodes[:-1], strict=True))
        assert nodes[-1] == dst[i]
        assert sum(w[a] for a in legs) == pytest.approx(trees.cost[i])
        assert sum(t[a] for a in legs) == pytest.approx(trees.hours[i])
        assert trees.cost[i] < limit[i]
