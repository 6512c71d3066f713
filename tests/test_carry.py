"""Cargo still moving when the week ends: reported in the week's timed plan, carried as fixed flow
into the next week's time model (``carried``), counted by the checker, and handed on by
``batch --rolling``. Optima worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import border, build, lot, node
from helpers import leg as static_leg

import allocator
from allocator.batch import ledger
from allocator.batch.runner import BatchOptions, run_batch
from allocator.errors import InstanceError
from allocator.instance.io import write_instance
from allocator.instance.model import Instance
from allocator.instance.validate import read_instance
from allocator.options import RunOptions
from allocator.report.markdown import headline
from allocator.results import Plan, read_plan, write_plan
from allocator.results.check import check_plan
from allocator.results.timeline import carry_over

HOURLY = [{"id": "general", "value_per_teu_day": 24.0}]  # 1 per TEU-hour
TIME = RunOptions(model="time", prices=False)


def week(
    cargo: list[dict[str, object]],
    carried: list[dict[str, object]] | None = None,
    period: str = "2026-W01",
    **extra: list[dict[str, object]],
) -> Instance:
    """A -> B by rail R (10 per TEU, 20 h), B -> C by ferry F across border KZAZ (5 per TEU, 5 h;
    10 TEU a departure at 1000, sent on demand at least 24 h apart); the border takes 12 TEU a
    day. The week is 168 h with a 168 h runoff."""
    tables: dict[str, list[dict[str, object]]] = {
        "nodes": [node("A"), node("B"), node("C", country="AZ")],
        "legs": [
            static_leg("R", "A", "B", 10, hours=20),
            static_leg(
                "F",
                "B",
                "C",
                5,
                hours=5,
                border="KZAZ",
                service_capacity_teu=10,
                service_cost=1000,
                min_headway_hours=24,
            ),
        ],
        "borders": [border("KZAZ", "Caspian", capacity_teu_per_day=12)],
        "classes": HOURLY,
        "cargo": cargo,
        **extra,
    }
    if carried is not None:
        tables["carried"] = carried
    return build({"period": period}, **tables)


def solve(inst: Instance) -> Plan:
    plan = allocator.run(inst, TIME).plan
    report = check_plan(plan, inst)
    assert report.errors == []
    assert report.recomputed_objective == pytest.approx(plan.objective, rel=1e-9)
    return plan


def late_lot() -> Instance:
    """L1, 10 TEU, ready at A at 150 h, due at C at 200 h: it leaves late in the week."""
    return week([lot("L1", "A", "C", 10, ready_at=150, due_at=200)])


def test_a_lot_moving_at_the_week_end_is_reported_with_its_position(tmp_path: Path) -> None:
    # L1 leaves A at 150 on R, is at B at 170 and takes a ferry at once (170, after the week's
    # 168 h): 10 x (10 + 5) + 1000 + 10 TEU x 25 h = 1400
    plan = solve(late_lot())
    assert plan.objective == pytest.approx(1400.0)
    moving = plan.in_transit
    assert len(moving) == 1
    row = moving.iloc[0]
    assert (row["lot"], row["state"], row["leg"], row["node"]) == ("L1", "on leg", "R", "B")
    assert (row["teu"], row["departs_h"], row["arrives_h"]) == pytest.approx((10, 150, 175))
    assert plan.info()["teu_in_transit"] == pytest.approx(10.0)
    assert plan.info()["horizon_hours"] == pytest.approx(168.0)
    shown = headline(plan)["TEU in transit at the week's end"]
    assert shown == "10.0 (carried in from last week: 0.0)"
    again = read_plan(write_plan(plan, tmp_path / "plan"))  # the table round-trips
    pd.testing.assert_frame_equal(again.in_transit, plan.in_transit, check_dtype=False)
    # next week's clock: R left 18 h before it began, the ferry it committed to leaves at 2 h
    carry = carry_over(again.timeline, again.carried, 168.0)
    assert carry.to_dict("records") == [
        {"lot": "L1", "leg": "R", "departs_at": -18.0, "teu": 10.0},
        {"lot": "L1", "leg": "F", "departs_at": 2.0, "teu": 10.0},
    ]


def test_a_lot_waiting_for_a_departure_after_the_week_is_reported_waiting() -> None:
    # R runs once a week, Sunday 00:00 (144 h): L1 (5 TEU, ready at A at 140) is at B at 164. L0
    # fills the ferry at 150; the next may leave 24 h later, at 174, so L1 waits at B as the week
    # ends. 5 x 10 + 15 x 5 + 2 x 1000 + L1 5 x 39 h + L0 10 x 5 h = 2370
    inst = week(
        [lot("L1", "A", "C", 5, ready_at=140), lot("L0", "B", "C", 10, ready_at=150)],
        departures=[{"leg": "R", "day": "Sun", "time": "00:00", "capacity_teu": 20}],
    )
    plan = solve(inst)
    assert plan.objective == pytest.approx(2370.0)
    moving = plan.in_transit
    assert list(moving["lot"]) == ["L1"]  # L0 arrived at 155
    row = moving.iloc[0]
    assert (row["state"], row["leg"], row["node"]) == ("waiting", "F", "B")
    assert (row["departs_h"], row["arrives_h"]) == (174.0, 179.0)


CARRIED_FULL = [
    {"lot": "L1", "leg": "R", "departs_at": -18.0, "teu": 10.0},
    {"lot": "L1", "leg": "F", "departs_at": 2.0, "teu": 10.0},
]


def test_the_carried_teu_fill_the_ferry_so_a_new_lot_takes_a_later_one() -> None:
    # L2 (4 TEU at B, ready at 0): alone it would sail at 0 for 1000 + 4 x 5 + 4 x 5 h = 1040.
    # The departure at 2 h is full with the carried 10 TEU and the next may leave 24 h after
    # it, at 26: 1000 + 4 x 5 + 4 TEU x (26 h waiting + 5 h) = 1144
    plan = solve(week([lot("L2", "B", "C", 4)], CARRIED_FULL))
    assert plan.objective == pytest.approx(1144.0)
    tl = plan.timeline.iloc[0]
    assert (tl["leg"], tl["departs_h"], tl["wait_h"]) == ("F", 26.0, 26.0)
    deps = plan.departures.set_index("departs_h")
    assert (deps.at[2.0, "committed"], deps.at[2.0, "services"]) == (1, 0)
    assert deps.at[2.0, "carried_teu"] == pytest.approx(10.0)
    assert (deps.at[26.0, "services"], deps.at[26.0, "committed"]) == (1, 0)
    carried = plan.carried.set_index("leg")
    assert carried.at["F", "arrives_h"] == pytest.approx(7.0)
    assert plan.info()["teu_carried"] == pytest.approx(10.0)
    assert plan.info()["teu_in_transit"] == 0.0


def test_a_new_lot_fills_a_committed_departure_without_paying_for_it_again() -> None:
    # 6 carried TEU leave on one departure at 2 h with 4 TEU to spare: L2 rides it without a
    # departure cost: 4 x 5 + 4 TEU x (2 h waiting + 5 h) = 48
    carried = [{"lot": "L1", "leg": "F", "departs_at": 2.0, "teu": 6.0}]
    plan = solve(week([lot("L2", "B", "C", 4)], carried))
    assert plan.objective == pytest.approx(48.0)
    dep = plan.departures.iloc[0]
    assert (dep["departs_h"], dep["services"], dep["committed"]) == (2.0, 0, 1)
    assert (dep["teu"], dep["carried_teu"]) == pytest.approx((4.0, 6.0))
    assert "services" not in set(plan.costs["component"])


def test_the_checker_rejects_a_plan_that_ignores_the_carried_teu() -> None:
    # planned without the carry, L2 sails at 0: fine alone, but with the 10 carried TEU crossing
    # on day 0 the border takes 14 TEU that day, over its 12, and the ferry's headway breaks
    ignorant = solve(week([lot("L2", "B", "C", 4)]))
    assert ignorant.objective == pytest.approx(1040.0)
    errors = check_plan(ignorant, week([lot("L2", "B", "C", 4)], CARRIED_FULL)).errors
    assert "border KZAZ: 14.000 TEU on day 0, over its 12 TEU a day" in errors
    assert "leg F: departures at 0 h and 2 h, closer than its headway 24 h" in errors


def test_the_carried_table_round_trips_and_is_validated(tmp_path: Path) -> None:
    inst = week([lot("L2", "B", "C", 4)], CARRIED_FULL)
    for target in ("w.json", "w.xlsx", "folder"):
        back = read_instance(write_instance(inst, tmp_path / target))
        pd.testing.assert_frame_equal(back.carried, inst.carried)
    bad = [{"lot": "L1", "leg": "G", "departs_at": 400.0, "teu": 0}]
    with pytest.raises(InstanceError) as caught:
        week([lot("L2", "B", "C", 4)], bad)
    text = str(caught.value)
    assert "test carried row 1, column 'leg': value 'G': unknown leg" in text
    assert "column 'teu': value 0: must be greater than 0" in text
    assert "value 400.0: leaves after the horizon and runoff end (168 + 168 h)" in text


def test_a_rolling_batch_of_the_time_family_carries_week_one_into_week_two(
    tmp_path: Path,
) -> None:
    w1 = write_instance(late_lot(), tmp_path / "in" / "w1")
    w2 = write_instance(week([lot("L2", "B", "C", 4)], period="2026-W02"), tmp_path / "in" / "w2")
    out = tmp_path / "out"
    report = run_batch([w2, w1], BatchOptions(out=out, run=TIME, rolling=True))
    rows = ledger.rows(out)
    assert [r["status"] for r in rows] == ["succeeded", "succeeded"], report
    assert [r["objective"] for r in rows] == pytest.approx([1400.0, 1144.0])
    plan = read_plan(out / "w2")
    assert plan.carried[["lot", "leg", "departs_h", "teu"]].to_dict("records") == [
        {"lot": "L1", "leg": "R", "departs_h": -18.0, "teu": 10.0},
        {"lot": "L1", "leg": "F", "departs_h": 2.0, "teu": 10.0},
    ]
    assert plan.info()["previous_period"] == "2026-W01"
    # the plan folder's instance holds the carry it was solved with
    solved = read_instance(out / "w2" / "instance.json")
    assert solved.carried[["leg", "departs_at"]].to_dict("records") == [
        {"leg": "R", "departs_at": -18.0},
        {"leg": "F", "departs_at": 2.0},
    ]
