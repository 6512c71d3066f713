"""The time family, solved by HiGHS on small instances whose optimum is worked out by hand: due
times that force the fast route, a ferry that sails when full, a border's daily capacity, a
timetable, the checker on corrupted timelines, the grid's rounding against a finer grid, and the
refusal of a network over the size limit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from helpers import border, build, lot, node
from helpers import leg as static_leg

import allocator
import allocator.formulation as formulation
from allocator.errors import InfeasibleError, OptionsError
from allocator.instance.ctsnd import read_ctsnd
from allocator.instance.model import Instance
from allocator.options import RunOptions
from allocator.pipeline import RunResult
from allocator.preprocess import preprocess
from allocator.results import read_plan, write_plan
from allocator.results.check import check_plan

HOURLY = [{"id": "general", "value_per_teu_day": 24.0}]  # 1 per TEU-hour, waiting or moving


def leg(id: str, a: str, b: str, cost: float, hours: float, **kw: object) -> dict[str, object]:
    return static_leg(id, a, b, cost, hours=hours, **kw)


def solve(inst: Instance, step_minutes: float = 60) -> RunResult:
    """Solve with the time model at ``step_minutes``; the checker must accept the plan."""
    res = allocator.run(inst, RunOptions(model="time", step_minutes=step_minutes, prices=False))
    report = check_plan(res.plan, inst)
    assert report.errors == []
    assert report.recomputed_objective == pytest.approx(res.plan.objective, rel=1e-9)
    return res


def rows(frame: pd.DataFrame, **where: object) -> pd.DataFrame:
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column] == value
    return frame[mask]


# ---------------------------------------------------------------- (a) due time forces the fast leg


def two_routes(due_at: float | None) -> Instance:
    """A->B by slow S (100 per TEU, 30 h) or fast F (400 per TEU, 10.5 h); 2 TEU ready at 0;
    time is worth 1 per TEU-hour."""
    cargo = lot("L", "A", "B", 2, ready_at=0, penalty_per_teu=10_000)
    if due_at is not None:
        cargo["due_at"] = due_at
    return build(
        nodes=[node("A"), node("B")],
        legs=[leg("S", "A", "B", 100, 30), leg("F", "A", "B", 400, 10.5)],
        classes=HOURLY,
        cargo=[cargo],
    )


def test_without_a_due_time_the_slow_leg_is_cheaper() -> None:
    # S: 2 x (100 + 30) = 260; F: 2 x (400 + 10.5) = 821
    plan = solve(two_routes(None)).plan
    assert plan.objective == pytest.approx(260.0)
    assert list(plan.timeline["leg"]) == ["S"]


def test_a_due_time_forces_the_fast_leg_at_its_real_hours() -> None:
    # due 11 h: S (30 h) is late; F takes 10.5 h, 11 h on the hourly grid, still in time;
    # cost 2 x (400 + 10.5): the time value is of the real hours, not the rounded ones
    plan = solve(two_routes(11.0)).plan
    assert plan.objective == pytest.approx(821.0)
    tl = plan.timeline
    assert list(tl["leg"]) == ["F"]
    assert tl["departs_h"].iloc[0] == pytest.approx(0.0)
    assert tl["arrives_h"].iloc[0] == pytest.approx(10.5)
    assert tl["slack_h"].iloc[0] == pytest.approx(0.5)
    assert plan.routes["days"].iloc[0] == pytest.approx(10.5 / 24)


def test_due_times_round_down_and_hours_up() -> None:
    # due 10.9 h: on the hourly grid F arrives at 11 > 10 (the due time rounded down), so the lot
    # stays at its penalty 2 x 10000; at a 6-minute step F takes exactly 10.5 h and is in time
    assert solve(two_routes(10.9)).plan.objective == pytest.approx(20_000.0)
    assert solve(two_routes(10.9), step_minutes=6).plan.objective == pytest.approx(821.0)


# ---------------------------------------------------------------- (b) a ferry that sails when full


def ferry(*cargo: dict[str, object], headway: float | None = None, whole: bool = False) -> Instance:
    """Ferry F A->B: 10 TEU a departure at 1000, 10 per TEU, 5 h, sent on demand."""
    extra = {} if headway is None else {"min_headway_hours": headway}
    return build(
        {"unsplittable_lots": whole},
        nodes=[node("A"), node("B")],
        legs=[leg("F", "A", "B", 10, 5, service_capacity_teu=10, service_cost=1000, **extra)],
        classes=HOURLY,
        cargo=list(cargo),
    )


def test_the_ferry_waits_for_the_second_lot_and_sails_once() -> None:
    # L1 5 TEU ready at 0, L2 5 TEU ready at 6. Two sailings (0 and 6): 2000 + 100 + 5 x 5 + 5 x 5
    # = 2150. One sailing at 6: 1000 + 100 + L1's 11 h x 5 + L2's 5 h x 5 = 1180.
    inst = ferry(lot("L1", "A", "B", 5, ready_at=0), lot("L2", "A", "B", 5, ready_at=6))
    plan = solve(inst).plan
    assert plan.objective == pytest.approx(1180.0)
    dep = plan.departures
    assert len(dep) == 1
    assert (dep["leg"].iloc[0], dep["departs_h"].iloc[0]) == ("F", pytest.approx(6.0))
    assert (dep["services"].iloc[0], dep["teu"].iloc[0]) == (1, pytest.approx(10.0))
    assert dep["lots"].iloc[0] == "L1, L2"
    assert rows(plan.timeline, lot="L1")["wait_h"].iloc[0] == pytest.approx(6.0)
    assert plan.legs.set_index("leg").at["F", "services"] == 1
    costs = plan.costs.groupby("component")["cost"].sum()
    assert costs["services"] == pytest.approx(1000.0)
    assert costs["time_value"] == pytest.approx(80.0)


@pytest.mark.parametrize(
    ("headway", "whole", "optimum"),
    [
        # 12 TEU need two departures (2000 + 120 + 12 x 5 h = 2180 before any wait); L1 (6 TEU)
        # is ready at 0, L2 (6 TEU) at 2. No headway: sail at 0 and at 2, nobody waits.
        (None, False, 2180.0),
        # headway 8 h, departures t1 and t2 >= t1 + 8. t1 = 0 takes L1 alone, L2 waits for 8:
        # 6 x 6 h = 36. t1 = 2 takes 10 TEU, 2 TEU wait for 10: L1 all at 2 (6 x 2) and L2's
        # last 2 TEU at 10 (2 x 8) = 28, the least: 2208
        (8.0, False, 2208.0),
        # whole lots: t1 = 2 takes one lot and the other waits for 10 (6 x 2 + 6 x 8 = 60 at
        # best), so t1 = 0, t2 = 8: 2216
        (8.0, True, 2216.0),
    ],
)
def test_a_headway_keeps_two_departures_apart(
    headway: float | None, whole: bool, optimum: float
) -> None:
    inst = ferry(
        lot("L1", "A", "B", 6, ready_at=0, due_at=20),
        lot("L2", "A", "B", 6, ready_at=2, due_at=20),
        headway=headway,
        whole=whole,
    )
    plan = solve(inst).plan
    assert plan.objective == pytest.approx(optimum)
    when = sorted(plan.departures["departs_h"])
    if headway is not None:
        assert when[1] - when[0] >= headway - 1e-9
    if whole:
        assert when == [pytest.approx(0.0), pytest.approx(8.0)]
        assert plan.routes.groupby("lot").size().max() == 1


# ---------------------------------------------------------------- (c) a border's daily capacity


def test_a_border_processing_10_teu_a_day_makes_one_lot_wait_a_day() -> None:
    # Two lots of 10 TEU ready at 0 over leg X (10 per TEU, 5 h transit + 1 h border dwell);
    # the border takes 10 TEU a day: one lot crosses on day 0 (arrives 6), the other leaves at
    # 24 at the earliest (arrives 30). 200 + 10 x 6 + 10 x 30 = 560.
    inst = build(
        nodes=[node("A", country="KZ"), node("B", country="AZ")],
        legs=[leg("X", "A", "B", 10, 5, border="KZAZ")],
        borders=[border("KZAZ", "Kazakh-Azeri", capacity_teu_per_day=10, dwell_hours=1)],
        classes=HOURLY,
        cargo=[lot("L1", "A", "B", 10, due_at=100), lot("L2", "A", "B", 10, due_at=100)],
    )
    plan = solve(inst).plan
    assert plan.objective == pytest.approx(560.0)
    by_departure = plan.timeline.groupby(["departs_h", "arrives_h"])["teu"].sum()
    assert by_departure.to_dict() == {
        (0.0, 6.0): pytest.approx(10),
        (24.0, 30.0): pytest.approx(10),
    }


def test_a_terminal_handling_10_teu_a_day_makes_one_lot_wait_a_day() -> None:
    # as above with the limit at the arriving terminal B: TEU reach B 6 h after leaving A (no
    # border); the second lot may reach B on day 1 at the earliest: leaves 18, arrives 24:
    # 200 + 10 x 6 + 10 x 24 = 500
    inst = build(
        nodes=[node("A"), node("B", handling_capacity_teu_per_day=10)],
        legs=[leg("X", "A", "B", 10, 6)],
        classes=HOURLY,
        cargo=[lot("L1", "A", "B", 10, due_at=100), lot("L2", "A", "B", 10, due_at=100)],
    )
    plan = solve(inst).plan
    assert plan.objective == pytest.approx(500.0)
    by_arrival = plan.timeline.groupby("arrives_h")["teu"].sum()
    assert by_arrival.to_dict() == {6.0: pytest.approx(10), 24.0: pytest.approx(10)}


# ---------------------------------------------------------------- (d) a timetable


def test_a_lot_ready_after_the_days_only_departure_takes_the_next_days() -> None:
    # T runs every day at 08:00 (20 TEU, 300 a run), 50 per TEU, 10 h. The lot (2 TEU) is ready
    # Monday 09:00, after Monday's run: it leaves Tuesday 08:00 (32 h), arrives 42 h.
    # 2 x 50 + 300 + 2 x 33 h = 466.
    inst = build(
        nodes=[node("A"), node("B")],
        legs=[leg("T", "A", "B", 50, 10)],
        departures=[
            {"leg": "T", "day": day, "time": "08:00", "capacity_teu": 20, "cost": 300}
            for day in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
        ],
        classes=HOURLY,
        cargo=[lot("L", "A", "B", 2, ready_at="Mon 09:00")],
    )
    plan = solve(inst).plan
    assert plan.objective == pytest.approx(466.0)
    tl = plan.timeline.iloc[0]
    assert (tl["departs_h"], tl["arrives_h"], tl["wait_h"]) == pytest.approx((32.0, 42.0, 23.0))
    dep = plan.departures.iloc[0]
    assert (dep["leg"], dep["day"], dep["cost"]) == ("T", 1, pytest.approx(300.0))
    assert plan.legs.set_index("leg").at["T", "services"] == 1


# ---------------------------------------------------------------- (e) the checker in time


def test_the_checker_rejects_a_departure_before_the_lot_arrives(tmp_path: Path) -> None:
    # A->B (10 h), B->C (5 h); the lot ready at 2 leaves A at 2 and B at 12 at the earliest
    inst = build(
        nodes=[node("A"), node("B"), node("C")],
        legs=[leg("AB", "A", "B", 100, 10), leg("BC", "B", "C", 100, 5)],
        classes=HOURLY,
        cargo=[lot("L", "A", "C", 2, ready_at=2, due_at=40)],
    )
    plan = solve(inst).plan
    again = read_plan(write_plan(plan, tmp_path / "plan", instance=inst))  # files round-trip
    pd.testing.assert_frame_equal(again.timeline, plan.timeline, check_dtype=False)
    pd.testing.assert_frame_equal(again.departures, plan.departures, check_dtype=False)
    assert check_plan(again, inst).errors == []
    tl = plan.timeline.copy()
    second = tl.index[tl["leg"] == "BC"][0]
    tl.loc[second, ["departs_h", "arrives_h"]] = [11.0, 16.0]
    errors = check_plan(dataclasses.replace(plan, timeline=tl), inst).errors
    assert "lot L leaves on leg BC at 11 h, before it arrives at B (12 h)" in errors
    early = plan.timeline.copy()
    early.loc[early["leg"] == "AB", ["departs_h", "arrives_h"]] = [1.0, 11.0]
    errors = check_plan(dataclasses.replace(plan, timeline=early), inst).errors
    assert "lot L leaves on leg AB at 1 h, before it is ready (2 h)" in errors


def test_the_checker_rejects_an_over_full_sailing() -> None:
    # 12 TEU need two sailings of 10; putting both lots on the first overfills it
    inst = ferry(lot("L1", "A", "B", 6, ready_at=0), lot("L2", "A", "B", 6, ready_at=0))
    plan = solve(inst).plan
    assert list(plan.departures["services"]) == [2]  # both leave together on two departures
    deps = plan.departures.assign(services=1, slots_teu=10.0, cost=1000.0)
    legs = plan.legs.assign(services=plan.legs["services"].where(plan.legs["leg"] != "F", 1.0))
    bad = dataclasses.replace(plan, departures=deps, legs=legs)
    errors = check_plan(bad, inst).errors
    assert "leg F: 12.000 TEU leave at 0 h on 1 departures of 10 TEU" in errors


def test_the_checker_rejects_a_run_not_in_the_timetable() -> None:
    inst = build(
        nodes=[node("A"), node("B")],
        legs=[leg("T", "A", "B", 50, 10)],
        departures=[{"leg": "T", "day": "Mon", "time": "08:00", "capacity_teu": 1}],
        classes=HOURLY,
        cargo=[lot("L", "A", "B", 1)],
    )
    plan = solve(inst).plan
    tl = plan.timeline.assign(departs_h=9.0, arrives_h=19.0, wait_h=9.0)
    errors = check_plan(dataclasses.replace(plan, timeline=tl), inst).errors
    assert "leg T: 1.000 TEU leave at 9 h, when no timetabled departure runs" in errors


# ---------------------------------------------------------------- (f) the grid against a finer one

CTSND = """NODES,4
1,1,-,-
2,2,-,-
3,3,-,-
4,4,-,-
ARCS,6
0,1,2,1,100,10,60.0,60,60.0
1,2,4,1,100,10,30.0,30,30.0
2,1,3,2,80,10,30.0,30,30.0
3,3,4,2,80,10,60.0,60,60.0
4,2,3,1,50,10,30.0,30,30.0
5,1,4,5,300,20,120.0,120,120.0
COMMODITIES,4
0,1,4,6,0,120.0,0,120.0
1,1,4,5,30,210.0,30,210.0
2,2,4,4,60,120.0,60,120.0
3,1,3,3,0,60.0,0,60.0
horizon=210
"""


@pytest.fixture(scope="module")
def ctsnd_like(tmp_path_factory: pytest.TempPathFactory) -> Instance:
    """A CTSND instance (dispatch on demand, whole lots, every lot must move) whose times are all
    multiples of 30 minutes."""
    path = tmp_path_factory.mktemp("ctsnd") / "tiny_ctsnd.txt"
    path.write_text(CTSND, encoding="ascii")
    return read_ctsnd(path)


@pytest.fixture(scope="module")
def exact(ctsnd_like: Instance) -> float:
    """The optimum at a 1-minute step: the continuous-time optimum (every time is whole minutes)."""
    return solve(ctsnd_like, step_minutes=1).plan.objective


@pytest.mark.parametrize("step", [30, 15])
def test_a_step_dividing_every_time_is_exact(ctsnd_like: Instance, exact: float, step: int) -> None:
    plan = solve(ctsnd_like, step_minutes=step).plan
    assert plan.objective == pytest.approx(exact, rel=1e-9)
    assert plan.summary["teu_unserved"].iloc[0] == 0
    assert plan.routes.groupby("lot").size().max() == 1  # whole lots: one route each


def test_a_coarser_step_only_restricts(ctsnd_like: Instance, exact: float) -> None:
    # 45, 60 and 120 minutes round 30-minute legs and releases up and dues down: each grid's
    # plans are plans in reality, so its optimum is no better, or there is no plan at all
    found = []
    for step in (45, 60, 120):
        try:
            found.append(solve(ctsnd_like, step_minutes=step).plan.objective)
        except InfeasibleError:
            continue  # rounding left no plan in which every lot arrives in time
    assert found  # at least one coarser grid has a plan
    assert min(found) >= exact - 1e-6


# ---------------------------------------------------------------- a network too large is refused


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        (957, "60-minute step needs 958 arc and waiting columns, over the 957"),
        (632, "60-minute step needs at least 633 departure arcs, over the 632"),
    ],
)
def test_a_time_network_over_the_limit_is_refused_with_its_size(
    monkeypatch: pytest.MonkeyPatch, limit: int, message: str
) -> None:
    """By hand, at 60 minutes over 336 hours (the week and its run-off): S (30 h) leaves at steps
    0..306 and F (10.5 h, 11 steps) at 0..325, 633 departure arcs; A's timed nodes 0..325 hold
    325 waiting arcs; 958 columns. Over the limit by the departure arcs alone, the refusal comes
    before any arc is made, and says so."""
    inst = two_routes(None)
    pre = preprocess(inst, prune=True)
    recipe = formulation.load_recipe("time")
    monkeypatch.setattr(formulation, "MAX_TIME_COLUMNS", limit)
    with pytest.raises(OptionsError, match=message):
        formulation.build(inst, pre, recipe)
    monkeypatch.setattr(formulation, "MAX_TIME_COLUMNS", 958)
    built = formulation.build(inst, pre, recipe)
    assert built.timed.n_arcs + len(built.timed.hold_from) == 958
