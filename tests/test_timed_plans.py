"""Timed plans end to end: the ``--step-minutes`` flag reaches the time model, the border queue
table on a hand-solved week (written, read back and re-checked), and the timeline section of the
markdown report, present only for timed plans and listing only the lots near their due time."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from helpers import border_queue_week, build, lot, node
from helpers import leg as static_leg

import allocator
from allocator.cli import main
from allocator.instance.io import write_instance
from allocator.instance.model import Instance
from allocator.options import RunOptions
from allocator.report.markdown import render_markdown
from allocator.results import Plan, read_plan, write_plan
from allocator.results.check import check_plan

HOURLY = [{"id": "general", "value_per_teu_day": 24.0}]  # 1 per TEU-hour


def timed_plan(inst: Instance) -> Plan:
    """The time model's plan at its default step (60 minutes), accepted by the checker."""
    plan = allocator.run(inst, RunOptions(model="time", prices=False)).plan
    assert plan is not None
    assert check_plan(plan, inst).errors == []
    return plan


# ---------------------------------------------------------------- the flag reaches the model


@pytest.fixture(scope="module")
def fast_leg_due_at_10_9(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A->B by slow S (100 per TEU, 30 h) or fast F (400 per TEU, 10.5 h); 2 TEU ready at 0,
    due at 10.9 h, penalty 10,000 per TEU; time is worth 1 per TEU-hour."""
    inst = build(
        nodes=[node("A"), node("B")],
        legs=[
            static_leg("S", "A", "B", 100, hours=30),
            static_leg("F", "A", "B", 400, hours=10.5),
        ],
        classes=HOURLY,
        cargo=[lot("L", "A", "B", 2, ready_at=0, due_at=10.9, penalty_per_teu=10_000)],
    )
    path = tmp_path_factory.mktemp("due") / "due.json"
    write_instance(inst, path)
    return path


@pytest.mark.parametrize(
    ("flag", "objective", "unserved"),
    [
        # hourly (the recipe's step, also without the flag): F takes 11 steps and the due time
        # rounds down to 10, so both TEU stay at their penalty: 2 x 10,000
        ([], 20_000.0, 2.0),
        (["--step-minutes", "60"], 20_000.0, 2.0),
        # half-hourly: F takes exactly 21 steps (10.5 h), the due time rounds down to 21 steps:
        # in time, 2 x (400 + 10.5) = 821
        (["--step-minutes", "30"], 821.0, 0.0),
    ],
)
def test_step_minutes_reaches_the_time_model(
    fast_leg_due_at_10_9: Path, tmp_path: Path, flag: list[str], objective: float, unserved: float
) -> None:
    out = tmp_path / "plan"
    args = ["solve", str(fast_leg_due_at_10_9), "--model", "time", *flag]
    assert main([*args, "--out", str(out), "--no-report", "--no-prices", "-q"]) == 0
    plan = read_plan(out)
    assert plan.objective == pytest.approx(objective)
    assert plan.summary["teu_unserved"].iloc[0] == pytest.approx(unserved)
    step = float(flag[1]) if flag else 60.0
    assert plan.summary["step_minutes"].iloc[0] == pytest.approx(step)
    if not unserved:
        assert plan.timeline["arrives_h"].tolist() == [pytest.approx(10.5)]


def test_batch_passes_step_minutes_on(fast_leg_due_at_10_9: Path, tmp_path: Path) -> None:
    out = tmp_path / "batch"
    args = ["batch", str(fast_leg_due_at_10_9), "--out", str(out), "--model", "time"]
    assert main([*args, "--step-minutes", "30", "--workers", "1", "-q"]) == 0
    assert read_plan(out / "due").objective == pytest.approx(821.0)


# ---------------------------------------------------------------- border queues by day


@pytest.fixture(scope="module")
def week() -> tuple[Instance, Plan]:
    inst = border_queue_week()
    return inst, timed_plan(inst)


def test_a_daily_border_capacity_queues_cargo_overnight(week: tuple[Instance, Plan]) -> None:
    _, plan = week
    assert plan.objective == pytest.approx(1720.0)
    # at B from 12 h; the border takes 10 TEU a day. End of day 0 (24 h): 20 TEU still wait
    # (one lot left at 12); end of day 1 (48 h): 10 TEU (one more left at 24, the last leaves
    # at 48, so it was there at midnight); day 2: the last crosses, nothing left
    queues = plan.border_queues
    assert queues["border"].tolist() == ["KZAZ"] * 3
    assert queues["day"].tolist() == [0, 1, 2]
    assert queues["queued_teu"].tolist() == pytest.approx([20.0, 10.0, 0.0])
    assert queues["crossed_teu"].tolist() == pytest.approx([10.0, 10.0, 10.0])
    assert queues["capacity_teu_per_day"].tolist() == pytest.approx([10.0] * 3)
    crossing = plan.timeline[plan.timeline["leg"] == "BC"].sort_values("departs_h")
    assert crossing["departs_h"].tolist() == pytest.approx([12.0, 24.0, 48.0])
    assert crossing["wait_h"].tolist() == pytest.approx([0.0, 12.0, 36.0])
    assert set(plan.timeline["ready_h"]) == {0.0}
    # the feeder's single run, with its weekday and time and every lot aboard
    dep = plan.departures
    assert dep[["leg", "day", "time", "services"]].values.tolist() == [["AB", 0, "Mon 00:00", 1]]
    assert (dep["teu"].iloc[0], dep["lots"].iloc[0]) == (pytest.approx(30.0), "L1, L2, L3")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_border_queues_round_trip(week: tuple[Instance, Plan], tmp_path: Path, fmt: str) -> None:
    inst, plan = week
    again = read_plan(write_plan(plan, tmp_path / "plan", fmt, inst))
    for name in ("border_queues", "departures", "timeline"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(plan, name), check_dtype=False)
    assert check_plan(again, inst).errors == []


def test_the_checker_recomputes_the_border_queues(week: tuple[Instance, Plan]) -> None:
    inst, plan = week
    wrong = plan.border_queues.copy()
    wrong.loc[wrong["day"] == 0, "queued_teu"] = 10.0
    errors = check_plan(dataclasses.replace(plan, border_queues=wrong), inst).errors
    assert errors == [
        "border KZAZ day 0: border_queues says 10.000 queued, 10.000 crossing, "
        "the timeline gives 20.000 queued, 10.000 crossing"
    ]
    short = plan.border_queues[plan.border_queues["day"] != 2]
    errors = check_plan(dataclasses.replace(plan, border_queues=short), inst).errors
    assert errors == [
        "border KZAZ day 2: border_queues says no row, "
        "the timeline gives 0.000 queued, 10.000 crossing"
    ]


def test_plans_of_other_models_have_no_border_queues(week: tuple[Instance, Plan]) -> None:
    inst, _ = week
    plan = allocator.run(inst, RunOptions(model="arc-strong", prices=False)).plan
    assert plan is not None
    assert plan.border_queues.empty
    assert plan.timeline.empty


# ---------------------------------------------------------------- the markdown timeline


def test_markdown_timeline_lists_only_the_lot_near_its_due_time(
    week: tuple[Instance, Plan],
) -> None:
    inst, plan = week
    text = render_markdown(plan)
    timeline = text.split("\n## Timeline\n")[1]
    by_day = timeline.split("### Border queues by day")[0]
    assert "| 0 | local | 1 | 30.0 |" in by_day  # the feeder's run, 30 TEU aboard
    assert "| 0 | middle | 0 | 10.0 |" in by_day  # border crossings: no departures, 10 TEU
    assert "| 2 | middle | 0 | 10.0 |" in by_day
    queues = timeline.split("### Border queues by day")[1].split("### Lots late")[0]
    assert "| KZAZ | 0 | 20.0 | 10.0 | 10.0 |" in queues
    assert "| KZAZ | 1 | 10.0 | 10.0 | 10.0 |" in queues
    near = timeline.split("### Lots late or within 24 h of their due time")[1]
    rows = [line for line in near.splitlines() if line.startswith("| L")]
    assert len(rows) == 1
    assert rows[0].startswith("| L1 | 1 | 0.0 | AB 0-12 h > BC ")
    other = allocator.run(inst, RunOptions(model="arc-strong", prices=False)).plan
    assert other is not None
    assert "Timeline" not in render_markdown(other)
