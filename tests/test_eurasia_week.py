"""The timed week of the Eurasia example (instances/eurasia/week): it loads with the base week's
cargo and the timed data, and the time family plans it within every lot's ready and due time;
the Brest slowdown keeps the daily capacity at Brest and can only cost more."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

import allocator
from allocator import read_instance
from allocator.instance.model import Instance
from allocator.instance.scenario import apply_scenario
from allocator.options import RunOptions
from allocator.pipeline import RunResult
from allocator.results.check import check_plan
from allocator.solve import SolveOptions

EURASIA = Path(__file__).resolve().parents[1] / "instances" / "eurasia"
WEEK = EURASIA / "week"
STEP_MINUTES = 1440  # the grid of the shipped benchmark
# China -> Duisburg / Malaszewicze lots (the Brest crossing) and the Dalian - Vorsino components
# (the block train timetable, due in 20 days)
LOT_PREFIXES = ("XIA-DUI-", "XIA-MAA-", "DAL-VRS-G")


@pytest.fixture(scope="module")
def week() -> Instance:
    return read_instance(WEEK)


@pytest.fixture(scope="module")
def base_cargo() -> pd.DataFrame:
    return read_instance(EURASIA).cargo


def test_the_week_validates_without_warnings(week: Instance) -> None:
    assert week.warnings == ()


def test_the_week_carries_the_base_lots(week: Instance, base_cargo: pd.DataFrame) -> None:
    assert list(week.cargo.index) == list(base_cargo.index)
    assert week.cargo["teu"].tolist() == base_cargo["teu"].tolist()


def test_the_week_keeps_the_base_due_days(week: Instance, base_cargo: pd.DataFrame) -> None:
    pd.testing.assert_series_equal(week.cargo["due_days"], base_cargo["due_days"])


def test_every_lot_is_ready_inside_the_week(week: Instance) -> None:
    ready = week.ready_hours()
    assert ready.min() >= 0.0
    assert ready.max() < 168.0


def test_lots_are_ready_on_several_days(week: Instance) -> None:
    assert len(np.unique(week.ready_hours() // 24)) >= 5


def test_the_caspian_lines_have_headways_both_ways(week: Instance) -> None:
    headway = week.legs["min_headway_hours"].dropna()
    lines = {"KZ_AAU-AZ_ALA", "KZ_KUR-AZ_ALA", "RU_ASF-IR_BAZ", "RU_OYA-IR_AMD"}
    assert set(headway.index) == lines | {f"{leg}~r" for leg in lines}


def test_the_block_trains_run_by_timetable(week: Instance) -> None:
    assert set(week.departures["leg"]) == {"CN_XIA-CN_URM", "CN_DAL-RU_VRS"}


def test_the_china_and_brest_crossings_have_daily_capacities(week: Instance) -> None:
    per_day = week.borders["capacity_teu_per_day"].dropna().to_dict()
    assert per_day == {"DOS_ALS": 760.0, "HOR_ALT": 656.0, "BRE_MAL": 1170.0}


@pytest.mark.parametrize("table", ["cargo", "legs", "borders", "departures"])
def test_make_week_writes_the_committed_tables(tmp_path: Path, table: str) -> None:
    spec = importlib.util.spec_from_file_location("make_week", WEEK / "make_week.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_all(tmp_path)
    assert (tmp_path / f"{table}.csv").read_bytes() == (WEEK / f"{table}.csv").read_bytes()


def test_green_channels_cut_the_azerbaijani_dwell(week: Instance) -> None:
    green = apply_scenario(WEEK / "scenarios" / "green-channels.toml")
    crossings = ["YALAMA", "BEYUK_KESIK", "ASTARA"]
    assert (green.borders.loc[crossings, "dwell_hours"] == 6.0).all()
    assert (week.borders.loc[crossings, "dwell_hours"] > 6.0).all()
    assert green.nodes.loc["AZ_ALA", "dwell_hours"] == 24.0


def _part(inst: Instance) -> Instance:
    keep = [lot for lot in inst.cargo.index if lot.startswith(LOT_PREFIXES)]
    return dataclasses.replace(inst, cargo=inst.cargo.loc[keep])


def _solve(inst: Instance) -> RunResult:
    opts = RunOptions(
        model="time",
        step_minutes=STEP_MINUTES,
        solve=SolveOptions(time_limit_s=60.0, mip_rel_gap=1e-6),
        prices=False,
    )
    res = allocator.run(inst, opts)
    assert check_plan(res.plan, inst).errors == []
    return res


@pytest.fixture(scope="module")
def base(week: Instance) -> tuple[Instance, RunResult]:
    inst = _part(week)
    return inst, _solve(inst)


@pytest.fixture(scope="module")
def slowdown(week: Instance) -> tuple[Instance, RunResult]:
    inst = apply_scenario(WEEK / "scenarios" / "brest-slowdown.toml", base=_part(week))
    return inst, _solve(inst)


def test_the_part_of_the_week_is_planned_optimally(base: tuple[Instance, RunResult]) -> None:
    _, res = base
    assert res.plan.summary["status"].iloc[0] == "optimal"


def test_no_lot_leaves_before_it_is_ready(base: tuple[Instance, RunResult]) -> None:
    inst, res = base
    first = res.plan.timeline.groupby("lot")["departs_h"].min()
    ready = inst.cargo.loc[first.index, "ready_at"].astype(float)
    assert (first >= ready - 1e-9).all()


def test_every_lot_with_due_days_arrives_in_time(base: tuple[Instance, RunResult]) -> None:
    inst, res = base
    last = res.plan.timeline.groupby("lot")["arrives_h"].max()
    cargo = inst.cargo.loc[last.index]
    due = cargo["ready_at"].astype(float) + 24.0 * cargo["due_days"].astype(float)
    timed = due.notna()
    assert timed.sum() >= 4
    assert (last[timed] <= due[timed] + 1e-9).all()


def test_route_days_run_from_ready_to_arrival(base: tuple[Instance, RunResult]) -> None:
    inst, res = base
    routes = res.plan.routes
    last = res.plan.timeline.groupby(["lot", "route"])["arrives_h"].max()
    arrival = last.loc[list(zip(routes["lot"], routes["route"], strict=True))].to_numpy()
    ready = inst.cargo.loc[routes["lot"], "ready_at"].to_numpy(dtype=float)
    assert routes["days"].to_numpy() == pytest.approx((arrival - ready) / 24.0)
    assert not routes["late"].any()


def test_every_lot_without_due_days_is_moved(base: tuple[Instance, RunResult]) -> None:
    # 45 days of horizon and runoff leave every such lot a route (the express lots due in 20 days
    # may stay: at a one-day grid every leg takes a whole day)
    inst, res = base
    open_ended = set(inst.cargo.index[inst.cargo["due_days"].isna()])
    assert len(open_ended) >= 10
    assert open_ended.isdisjoint(res.plan.unserved["lot"])


def _brest_per_day(inst: Instance, res: RunResult) -> pd.Series:
    legs = set(inst.legs.index[inst.legs["border"] == "BRE_MAL"])
    tl = res.plan.timeline
    crossing = tl[tl["leg"].isin(legs)]
    return crossing.groupby(crossing["departs_h"] // 24.0)["teu"].sum()


def test_the_slowdown_crosses_brest(slowdown: tuple[Instance, RunResult]) -> None:
    assert _brest_per_day(*slowdown).sum() > 0


def test_the_slowdown_keeps_brest_within_its_daily_capacity(
    slowdown: tuple[Instance, RunResult],
) -> None:
    inst, res = slowdown
    capacity = float(inst.borders.loc["BRE_MAL", "capacity_teu_per_day"])
    assert capacity == 585.0
    assert _brest_per_day(inst, res).max() <= capacity + 1e-6


def test_the_slowdown_costs_no_less_than_the_base(
    base: tuple[Instance, RunResult], slowdown: tuple[Instance, RunResult]
) -> None:
    # the scenario only tightens the base (longer dwell, fewer TEU a day), so its optimum is at
    # least the base optimum, which is at least the base's proven bound
    bound = float(base[1].plan.summary["bound"].iloc[0])
    assert float(slowdown[1].plan.summary["objective"].iloc[0]) >= bound


def test_a_time_model_too_large_is_refused_before_it_is_built(tmp_path: Path) -> None:
    # the week at the recipe's 60-minute step: 9.9 million departure arcs (and 3.9 million
    # waiting arcs), counted and refused before any is made (exit 2), nothing written
    out = tmp_path / "plan"
    res = run_cli("solve", str(WEEK), "--model", "time", "--out", str(out))
    assert res.returncode == 2, res.stderr
    assert "60-minute step needs at least 9,855,247 departure arcs" in res.stderr
    assert "--step-minutes 1440" in res.stderr
    assert "--model ddd" in res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()
