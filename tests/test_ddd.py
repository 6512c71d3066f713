"""Dynamic discretization discovery against hand-worked optima and against the full time-expanded
model at a step that divides every time (the full model is then exact)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import FREE_TIME, build, lot, node
from helpers import leg as static_leg
from test_time_model import CTSND

import allocator
from allocator.formulation import RecipeError, load_recipe
from allocator.instance.ctsnd import read_ctsnd
from allocator.instance.model import Instance
from allocator.methods.ddd import Discovery, lp_stalled
from allocator.methods.registry import Task
from allocator.options import RunOptions
from allocator.pipeline import RunResult
from allocator.preprocess import preprocess
from allocator.results.check import check_plan
from allocator.solve import SolveOptions


def solve(inst: Instance, model: str = "ddd", step: float | None = None) -> RunResult:
    """Solve to a zero gap; the checker must accept the plan and its recomputed cost."""
    opts = RunOptions(
        model=model, step_minutes=step, prices=False, solve=SolveOptions(mip_rel_gap=0.0)
    )
    res = allocator.run(inst, opts)
    report = check_plan(res.plan, inst)
    assert report.errors == []
    assert report.recomputed_objective == pytest.approx(res.plan.objective, rel=1e-9)
    return res


def leg(id: str, a: str, b: str, cost: float, hours: float, **kw: object) -> dict[str, object]:
    return static_leg(id, a, b, cost, hours=hours, **kw)


def late_feeder() -> Instance:
    """X (2 TEU) goes A->M (5 h) then takes the ferry M->B (5 h); Y (3 TEU) is ready at M at 0 h
    and due at B at 6 h. The ferry costs 1,000 a sailing (10 TEU) and every leg 10 per TEU."""
    ferry = {"service_capacity_teu": 10, "service_cost": 1000}
    return build(
        {"horizon_hours": 48, "runoff_hours": 0},
        nodes=[node("A"), node("M"), node("B")],
        legs=[leg("AM", "A", "M", 10, 5), leg("MB", "M", "B", 10, 5, **ferry)],
        classes=FREE_TIME,
        cargo=[
            lot("X", "A", "B", 2, ready_at=0, due_at=40, penalty_per_teu=10_000),
            lot("Y", "M", "B", 3, ready_at=0, due_at=6, penalty_per_teu=10_000),
        ],
    )


@pytest.fixture(scope="module", params=[True, False], ids=["lp-phase", "mip-only"])
def from_releases(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> str:
    """The ddd recipe starting from releases only (no points along the quickest routes), with
    and without the LP relaxations first."""
    path = tmp_path_factory.mktemp("recipe") / "ddd-releases.yaml"
    lp = "true" if request.param else "false"
    path.write_text(
        f"name: ddd-releases\nextends: ddd\noptions:\n  initial: releases\n  lp_phase: {lp}\n"
    )
    return str(path)


@pytest.fixture(scope="module")
def mip_only(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The ddd recipe without the LP relaxations first."""
    path = tmp_path_factory.mktemp("recipe") / "ddd-mip.yaml"
    path.write_text("name: ddd-mip\nextends: ddd\noptions:\n  lp_phase: false\n")
    return str(path)


@pytest.fixture(scope="module")
def no_dive(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The ddd recipe with the LP relaxations first but no dive after them."""
    path = tmp_path_factory.mktemp("recipe") / "ddd-no-dive.yaml"
    path.write_text("name: ddd-no-dive\nextends: ddd\noptions:\n  dive: false\n")
    return str(path)


def test_a_consolidation_the_first_relaxation_allows_is_refined_away(from_releases: str) -> None:
    # With only minute 0 at M, X seems to reach M at 0 and share Y's sailing (one sailing,
    # 1,070). In reality X is at M at 5 h and Y must sail by 1 h: two sailings,
    # 2 x 10 + 2 x 10 + 3 x 10 + 2 x 1,000 = 2,070.
    assert solve(late_feeder()).plan.objective == pytest.approx(2070.0)  # from quickest routes
    res = solve(late_feeder(), from_releases)
    assert res.plan.objective == pytest.approx(2070.0)
    assert res.result.iterations >= 2  # the first relaxation cheated and was refined
    assert res.result.bound == pytest.approx(2070.0)
    assert res.result.gap == pytest.approx(0.0, abs=1e-9)
    tl = res.plan.timeline.set_index("lot")
    assert tl.loc["Y", "departs_h"] <= 1.0 + 1e-9
    x_ferry = res.plan.timeline[
        (res.plan.timeline["lot"] == "X") & (res.plan.timeline["leg"] == "MB")
    ]
    assert x_ferry["departs_h"].iloc[0] >= 5.0 - 1e-9


def test_ctsnd_like_equals_the_exact_30_minute_model(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    path = tmp_path_factory.mktemp("ctsnd") / "tiny_ctsnd.txt"
    path.write_text(CTSND, encoding="ascii")
    inst = read_ctsnd(path)
    exact = solve(inst, "time", 30).plan.objective  # every time is a multiple of 30 minutes
    res = solve(inst)
    assert res.plan.objective == pytest.approx(exact, rel=1e-9)
    assert res.result.bound == pytest.approx(exact, rel=1e-9)


def random_week(seed: int, whole: bool) -> Instance:
    """Five nodes, on-demand and free legs with whole-hour transits, lots ready and due at
    whole hours: the hourly time model is exact on it."""
    rng = np.random.default_rng(seed)
    names = list("ABCDE")
    legs = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if rng.random() < 0.6:
                kw = {}
                if rng.random() < 0.7:
                    kw = {"service_capacity_teu": 10, "service_cost": float(rng.integers(200, 800))}
                cost, hours = float(rng.integers(5, 40)), float(rng.integers(2, 12))
                legs.append(leg(f"{a}{b}", a, b, cost, hours, **kw))
                legs.append(leg(f"{b}{a}", b, a, cost, hours, **kw))
    cargo = []
    for j in range(7):
        a, b = rng.choice(names, size=2, replace=False)
        ready = int(rng.integers(0, 24))
        cargo.append(
            lot(
                f"L{j}",
                str(a),
                str(b),
                int(rng.integers(1, 7)),
                ready_at=ready,
                due_at=ready + int(rng.integers(12, 40)),
                penalty_per_teu=3000,
            )
        )
    return build(
        {"horizon_hours": 72, "runoff_hours": 0, "unsplittable_lots": whole},
        nodes=[node(n) for n in names],
        legs=legs,
        classes=FREE_TIME,
        cargo=cargo,
    )


@pytest.mark.parametrize(("seed", "whole"), [(2, True), (3, True), (3, False), (5, False)])
def test_ddd_equals_the_exact_hourly_model(
    seed: int, whole: bool, mip_only: str, no_dive: str
) -> None:
    inst = random_week(seed, whole)
    exact = solve(inst, "time", 60).plan.objective
    for model in ("ddd", mip_only, no_dive):  # with and without the LPs first, the dive after
        res = solve(inst, model)
        assert res.plan.objective == pytest.approx(exact, rel=1e-7)
        assert res.result.bound <= res.plan.objective + 1e-6


@pytest.mark.parametrize(("seed", "whole"), [(2, True), (3, False), (5, False)])
def test_the_dive_gives_a_plan_of_reality_on_the_pairs_the_lps_used(seed: int, whole: bool) -> None:
    inst = random_week(seed, whole)
    exact = solve(inst, "time", 60).plan.objective
    pre = preprocess(inst, merge=True, prune=True)
    opts = SolveOptions(mip_rel_gap=0.0).for_settings(inst.settings)
    run = Discovery(Task(inst, pre, load_recipe("ddd"), opts))
    run.lp_phase(opts, float("inf"), 0.0)
    assert len(run.kernel) > 0
    assert run.lower <= exact + 1e-6  # the LPs bound the optimum from below
    run.dive(opts, 60.0, 0.0)
    assert run.best is not None
    # a plan of reality costs at least the optimum; the restricted solve may not reach it
    assert run.upper >= exact - 1e-6
    n_legs = pre.net.n_legs
    for piece in run.best.pieces:  # only the pairs the LPs used
        assert np.isin(piece.com * n_legs + piece.legs, run.kernel).all()


def test_a_timetable_is_refused_with_the_model_that_handles_it() -> None:
    inst = build(
        nodes=[node("A"), node("B")],
        legs=[leg("T", "A", "B", 10, 5)],
        classes=FREE_TIME,
        cargo=[lot("L", "A", "B", 1, ready_at=0)],
        departures=[{"leg": "T", "day": "Mon", "time": "08:00", "capacity_teu": 10}],
    )
    with pytest.raises(RecipeError, match="timetable.*--model time"):
        allocator.run(inst, RunOptions(model="ddd", prices=False))


def test_the_lp_phase_stops_when_two_lps_raise_the_bound_by_a_tenth_of_the_gap() -> None:
    # LP bounds of a timed Canad instance, one per LP of its phase
    bounds = [159_596.0, 161_436.0, 161_789.0, 161_885.0, 161_904.0] + [161_999.0] * 3
    # gap 1 %: stop once two LPs raised the bound by less than 0.1 % of it
    # (161,885 - 161,436 = 449 >= 161.9; 161,904 - 161,789 = 115 < 161.9)
    assert [lp_stalled(bounds[:n], 0.01) for n in range(1, 6)] == [False] * 4 + [True]
    # gap 0.1 %: the floor of 0.01 % (16.2) holds until the bound no longer moves
    # (161,999 - 161,904 = 95 >= 16.2 with seven LPs; 161,999 - 161,999 = 0 with eight)
    assert [lp_stalled(bounds[:n], 0.001) for n in range(1, 9)] == [False] * 7 + [True]
