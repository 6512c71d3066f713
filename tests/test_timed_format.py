"""The timed instance format: week times, the departures timetable, daily capacities and the time
settings are read from every container, typed, validated with located problems and written back
without loss; the one-period models see due days derived from due_at."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import openpyxl
import pandas as pd
import pytest
from helpers import errors_of

from allocator.errors import InstanceError, Problem
from allocator.instance.io import to_json_dict, write_instance
from allocator.instance.schema.docs import json_schema
from allocator.instance.validate import read_instance, validate
from allocator.preprocess import commodities_of

TOML = """\
[settings]
name = "tiny-timed"
period = "2026-W47"
horizon_hours = 120
runoff_hours = 40
time_step_hours = 6
unsplittable_lots = true

[tables]
nodes = "nodes.csv"
legs = "legs.csv"
borders = "borders.csv"
classes = "classes.csv"
cargo = "cargo.csv"
departures = "departures.csv"
"""

# L1 ready Tue 06:00 (30 h), due Fri 18:00 (114 h); L2 ready 12.5 h, due in 2 days; L3 ready
# tue 6:00 (30 h), due at 150 h (after the week's horizon, inside the runoff); L4 no due time.
CARGO = """\
id,origin,destination,teu,class,ready_at,due_at,due_days
L1,KZ_AAU,GE_TBS,40,general,Tue 06:00,Fri 18:00,
L2,KZ_AAU,AZ_BAK,30,reefer,12.5,,2
L3,KZ_MNG,GE_TBS,10,general,tue 6:00,150,
L4,KZ_MNG,AZ_BAK,5,general,,,
"""

LEGS = """\
id,from,to,mode,distance_km,transit_hours,cost_per_teu,capacity_teu,service_capacity_teu,service_cost,max_services,min_headway_hours,border,reverse
AAU-MNG,KZ_AAU,KZ_MNG,rail,2000,70,500,,,,,,,true
MNG-BAK,KZ_MNG,AZ_BAK,ferry,430,20,300,,,,,,KZAZ,false
BAK-TBS,AZ_BAK,GE_TBS,rail,500,20,200,,60,900,5,12,,true
"""

DEPARTURES = """\
leg,day,time,capacity_teu,cost
MNG-BAK,Tue,06:00,30,1500
MNG-BAK,fri,18:30,30,
AAU-MNG~r,0,7:05,20,200
"""

NODES = """\
id,name,country,lat,lon,kind,handling_capacity_teu_per_day
KZ_AAU,Almaty-1,KZ,43.2,76.9,rail_terminal,
KZ_MNG,Aktau,KZ,43.6,51.1,port,80
AZ_BAK,Baku Alat,AZ,40.3,49.9,port,
GE_TBS,Tbilisi,GE,41.7,44.8,city,
"""

BORDERS = """\
id,name,from_country,to_country,capacity_teu,capacity_teu_per_day,dwell_hours,fee_per_teu,gauge_change
KZAZ,Caspian,KZ,AZ,80,25,24,10,false
"""


@pytest.fixture
def timed(make_instance_folder: Any) -> Any:
    """Make the timed tiny folder; keyword arguments replace its files as in make_instance_folder."""

    def make(**replace: str | None) -> Path:
        files = {
            "toml": TOML,
            "cargo": CARGO,
            "legs": LEGS,
            "departures": DEPARTURES,
            "nodes": NODES,
            "borders": BORDERS,
            "restrictions": None,
        }
        return make_instance_folder("timed", **(files | replace))

    return make


def _one(problems: list[Problem], column: str) -> Problem:
    hits = [p for p in problems if p.column == column]
    assert len(hits) == 1, [str(p) for p in problems]
    return hits[0]


# ---------------------------------------------------------------- reading and typed access


def test_week_times_read_as_hours_and_due_at_gives_the_due_days(timed: Any) -> None:
    inst = read_instance(timed())
    assert inst.ready_hours().tolist() == [30.0, 12.5, 30.0, 0.0]
    due = inst.due_hours()
    assert due[:3].tolist() == [114.0, 12.5 + 48.0, 150.0]
    assert math.isinf(due[3])
    days = inst.cargo["due_days"]
    assert days["L1"] == pytest.approx((114 - 30) / 24)  # derived from due_at
    assert days["L2"] == 2.0  # as written
    assert days["L3"] == pytest.approx((150 - 30) / 24)
    assert pd.isna(days["L4"])
    # the one-period models group lots by these due days
    com, _ = commodities_of(inst, merge=False)
    assert com["due_days"].tolist()[:3] == pytest.approx([3.5, 2.0, 5.0])
    assert math.isinf(com["due_days"].iloc[3])


def test_timetable_settings_and_daily_capacities_are_typed(timed: Any) -> None:
    inst = read_instance(timed())
    dep = inst.departures
    assert dep["leg"].tolist() == ["MNG-BAK", "MNG-BAK", "AAU-MNG~r"]
    assert dep["day"].tolist() == ["Tue", "Fri", "Mon"]
    assert dep["time"].tolist() == ["06:00", "18:30", "07:05"]
    assert dep["cost"].tolist() == [1500.0, 0.0, 200.0]  # default 0
    assert inst.departure_hours().tolist() == pytest.approx([30.0, 4 * 24 + 18.5, 7 + 5 / 60])
    s = inst.settings
    assert (s.horizon_hours, s.runoff_hours, s.time_step_hours) == (120.0, 40.0, 6.0)
    assert s.unsplittable_lots is True
    assert inst.legs.loc["BAK-TBS", "min_headway_hours"] == 12.0
    assert inst.legs.loc["BAK-TBS~r", "min_headway_hours"] == 12.0  # the twin copies it
    assert inst.borders.loc["KZAZ", "capacity_teu_per_day"] == 25.0
    assert inst.nodes.loc["KZ_MNG", "handling_capacity_teu_per_day"] == 80.0
    assert inst.summary()["departures"] == 3
    assert inst.summary()["timetabled legs"] == 2


def test_defaults_when_no_time_is_given(tiny_folder: Path) -> None:
    inst = read_instance(tiny_folder)
    assert (inst.ready_hours() == 0).all()
    assert inst.cargo["due_at"].isna().all()
    assert inst.departures.empty
    assert list(inst.departures.columns) == ["leg", "day", "time", "capacity_teu", "cost"]
    s = inst.settings
    assert (s.horizon_hours, s.runoff_hours, s.time_step_hours) == (168.0, 168.0, 24.0)
    assert s.unsplittable_lots is False
    # due days as written: L1 none, L2 12 days from the week start
    assert math.isinf(inst.due_hours()[0])
    assert inst.due_hours()[1] == 12 * 24


# ---------------------------------------------------------------- containers


def test_every_container_round_trips_the_timed_fields(timed: Any, tmp_path: Path) -> None:
    original = read_instance(timed())
    expected = to_json_dict(original)
    assert len(expected["departures"]) == 3
    for name in ("t.xlsx", "t.json", "folder", "parquet"):
        fmt = "parquet" if name == "parquet" else "csv"
        again = read_instance(write_instance(original, tmp_path / name, table_format=fmt))
        assert to_json_dict(again) == expected, name
        assert np.array_equal(again.due_hours(), original.due_hours()), name
        assert again.departures["day"].tolist() == ["Tue", "Fri", "Mon"], name
    # a chain of containers stays lossless too
    chain = original
    for name in ("a.xlsx", "b.json", "c"):
        chain = read_instance(write_instance(chain, tmp_path / "chain" / name))
    assert to_json_dict(chain) == expected


def test_written_cargo_states_due_at_not_the_derived_days(timed: Any, tmp_path: Path) -> None:
    out = write_instance(read_instance(timed()), tmp_path / "out")
    with (out / "cargo.csv").open(encoding="utf-8") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    assert (rows["L1"]["ready_at"], rows["L1"]["due_at"], rows["L1"]["due_days"]) == (
        "30.0",
        "114.0",
        "",
    )
    assert (rows["L2"]["due_at"], rows["L2"]["due_days"]) == ("", "2.0")
    with (out / "departures.csv").open(encoding="utf-8") as f:
        deps = list(csv.DictReader(f))
    assert [(d["leg"], d["day"], d["time"]) for d in deps] == [
        ("MNG-BAK", "Tue", "06:00"),
        ("MNG-BAK", "Fri", "18:30"),
        ("AAU-MNG~r", "Mon", "07:05"),
    ]
    doc = json.loads(write_instance(read_instance(out), tmp_path / "t.json").read_text())
    assert doc["settings"]["unsplittable_lots"] is True
    assert doc["cargo"][0]["due_days"] is None
    assert doc["cargo"][0]["due_at"] == 114.0


def test_workbook_time_cells_and_weekday_text_are_read(timed: Any, tmp_path: Path) -> None:
    path = write_instance(read_instance(timed()), tmp_path / "t.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb["departures"]
    header = [c.value for c in ws[1]]
    ws.cell(2, header.index("time") + 1, dt.time(9, 45))  # an Excel time cell
    ws.cell(2, header.index("day") + 1, "wednesday")
    cargo = wb["cargo"]
    cargo_header = [c.value for c in cargo[1]]
    cargo.cell(5, cargo_header.index("ready_at") + 1, "Thu 23:59")  # L4
    wb.save(path)
    inst = read_instance(path)
    assert inst.departures.iloc[0][["day", "time"]].tolist() == ["Wed", "09:45"]
    assert inst.cargo.loc["L4", "ready_at"] == pytest.approx(3 * 24 + 23 + 59 / 60)


def test_json_takes_week_time_text_and_day_numbers(timed: Any, tmp_path: Path) -> None:
    path = write_instance(read_instance(timed()), tmp_path / "t.json")
    doc = json.loads(path.read_text())
    doc["cargo"][3]["ready_at"] = "THURSDAY 23:30"  # L4
    doc["cargo"][3]["due_at"] = 200
    doc["departures"][0]["day"] = 6
    doc["departures"][0]["time"] = "7:15"
    path.write_text(json.dumps(doc))
    inst = read_instance(path)
    assert inst.cargo.loc["L4", "ready_at"] == 3 * 24 + 23.5
    assert inst.cargo.loc["L4", "due_days"] == pytest.approx((200 - 95.5) / 24)
    assert inst.departures.iloc[0][["day", "time"]].tolist() == ["Sun", "07:15"]


def test_workbook_template_explains_and_lists_the_timetable(timed: Any, tmp_path: Path) -> None:
    path = write_instance(read_instance(timed()), tmp_path / "t.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb["departures"]
    comments = {c.value: c.comment.text for c in ws[1] if c.comment is not None}
    assert set(comments) == {"leg", "day", "time", "capacity_teu", "cost"}
    assert "Weekday of the departure" in comments["day"]
    assert "Required." in comments["time"]
    lists = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in ws.data_validations.dataValidation}
    assert lists["B2"] == '"Mon,Tue,Wed,Thu,Fri,Sat,Sun"'
    assert "AAU-MNG~r" in lists["A2"]  # the legs, twins included
    cargo = wb["cargo"]
    ready = next(c for c in cargo[1] if c.value == "ready_at")
    assert "Tue 06:00" in ready.comment.text
    settings = {r[0].value: r[1].value for r in wb["settings"].iter_rows(min_row=2)}
    assert settings["horizon_hours"] == 120
    assert settings["unsplittable_lots"] is True


def test_every_workbook_offers_an_empty_timetable(tiny_folder: Path, tmp_path: Path) -> None:
    inst = read_instance(tiny_folder)
    path = write_instance(inst, tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(path)["departures"]
    assert [c.value for c in ws[1]] == ["leg", "day", "time", "capacity_teu", "cost"]
    assert ws.max_row == 1
    assert "Leg the departure runs on" in ws["A1"].comment.text
    assert to_json_dict(read_instance(path)) == to_json_dict(inst)
    # a timetable typed into it is read
    ws.parent["departures"].append(["MNG-BAK", "Thu", "10:00", 24])
    ws.parent.save(path)
    assert read_instance(path).departure_hours().tolist() == [3 * 24 + 10.0]


def test_json_schema_accepts_the_timed_instance(timed: Any) -> None:
    doc = json.loads(json.dumps(to_json_dict(read_instance(timed()))))
    doc["cargo"][0]["ready_at"] = "Tue 06:00"  # text is allowed in a week time
    doc["departures"][0]["day"] = 3
    validator = jsonschema.Draft202012Validator(json_schema())
    assert [e.message for e in validator.iter_errors(doc)] == []
    doc["departures"][0]["time"] = "25:00"
    assert any("does not match" in e.message for e in validator.iter_errors(doc))


# ---------------------------------------------------------------- located problems


def test_every_time_problem_is_located(timed: Any) -> None:
    cargo = """\
id,origin,destination,teu,class,ready_at,due_at,due_days
L1,KZ_AAU,GE_TBS,40,general,Tue 06:00,Fri 18:00,3
L2,KZ_AAU,AZ_BAK,30,reefer,Tuesday morning,,
L3,KZ_MNG,GE_TBS,10,general,Fri 10:00,Mon 06:00,
L4,KZ_MNG,AZ_BAK,5,general,130,,
"""
    departures = """\
leg,day,time,capacity_teu,cost
MNG-BAK,Tue,06:00,30,1500
MNG-BAK,1,6:00,30,
NO-SUCH,Mon,07:00,20,
MNG-BAK,Funday,07:00,20,
MNG-BAK,Wed,25:00,20,
MNG-BAK,Sun,23:00,20,
"""
    legs = LEGS.replace(
        "MNG-BAK,KZ_MNG,AZ_BAK,ferry,430,20,300,,,,,,",
        "MNG-BAK,KZ_MNG,AZ_BAK,ferry,430,20,300,,50,,,,",
    ).replace(
        "AAU-MNG,KZ_AAU,KZ_MNG,rail,2000,70,500,,,,,,",
        "AAU-MNG,KZ_AAU,KZ_MNG,rail,2000,70,500,,,,,6,",
    )
    errors = errors_of(timed(cargo=cargo, departures=departures, legs=legs))
    by_where: dict[str, list[Problem]] = {}
    for p in errors:
        by_where.setdefault(p.where.split("/")[-1], []).append(p)
    assert _one(by_where["cargo.csv line 2"], "due_at").message == (
        "give due_days or due_at, not both"
    )
    p = _one(by_where["cargo.csv line 3"], "ready_at")
    assert p.value == "Tuesday morning"
    assert "weekday and time such as Tue 06:00" in p.message
    p = _one(by_where["cargo.csv line 4"], "due_at")
    assert p.message.startswith("must be after ready_at (106 h (Fri 10:00))")
    assert "174" in p.message  # Mon 06:00 of the next week, in hours
    p = _one(by_where["cargo.csv line 5"], "ready_at")  # horizon_hours is 120
    assert p.message == "must lie within the planning horizon, before horizon_hours (120 h)"
    p = _one(by_where["departures.csv line 3"], "time")  # Tue 06:00 again, as 1 and 6:00
    assert p.message.startswith("departure Tue 06:00 of leg 'MNG-BAK' is listed twice")
    assert "departures.csv line 2" in p.message
    p = _one(by_where["departures.csv line 4"], "leg")
    assert p.message.startswith("unknown leg; expected an id in legs")
    assert _one(by_where["departures.csv line 5"], "day").message == (
        "expected a weekday: Mon to Sun, or 0 (Monday) to 6"
    )
    assert _one(by_where["departures.csv line 6"], "time").value == "25:00"
    p = _one(by_where["departures.csv line 7"], "time")  # Sun 23:00 is 167 h >= 120 + 40
    assert p.message.startswith("never runs: it leaves 167 h after the week start")
    p = _one(by_where["legs.csv line 3"], "service_capacity_teu")
    assert "runs by the timetable (departures at" in p.message
    assert "departures.csv line 2" in p.message
    p = _one(by_where["legs.csv line 2"], "min_headway_hours")
    assert p.message.startswith("given for a leg without service_capacity_teu")
    assert len(errors) == 11, [str(p) for p in errors]


def test_a_twin_leg_on_the_timetable_is_reported_on_its_source_row(timed: Any) -> None:
    departures = "leg,day,time,capacity_teu\nBAK-TBS~r,Mon,08:00,40\n"
    errors = errors_of(timed(departures=departures))
    columns = sorted(p.column or "" for p in errors)
    assert columns == ["max_services", "min_headway_hours", "service_capacity_teu", "service_cost"]
    assert {p.where.split("/")[-1] for p in errors} == {"legs.csv line 4"}
    assert all("leg 'BAK-TBS~r' runs by the timetable" in p.message for p in errors)


def test_problems_are_located_in_json_and_workbook_too(timed: Any, tmp_path: Path) -> None:
    inst = read_instance(timed())
    path = write_instance(inst, tmp_path / "t.json")
    doc = json.loads(path.read_text())
    doc["cargo"][1]["due_at"] = 5.0  # L2: ready 12.5 h and due days given
    doc["departures"][2]["day"] = "Funday"
    path.write_text(json.dumps(doc))
    found = {(p.where, p.column) for p in errors_of(path)}
    assert found == {("t.json cargo[1]", "due_at"), ("t.json departures[2]", "day")}

    book = write_instance(inst, tmp_path / "t.xlsx")
    wb = openpyxl.load_workbook(book)
    ws = wb["departures"]
    ws.cell(3, [c.value for c in ws[1]].index("time") + 1, "6 pm")
    wb.save(book)
    [p] = errors_of(book)
    assert (p.where, p.column, p.value) == ("t.xlsx sheet 'departures' row 3", "time", "6 pm")


def test_time_settings_are_checked(timed: Any) -> None:
    toml = TOML.replace("horizon_hours = 120", "horizon_hours = 0").replace(
        "runoff_hours = 40", "runoff_hours = -1"
    )
    errors = errors_of(timed(toml=toml))
    assert {p.column for p in errors} == {"horizon_hours", "runoff_hours"}


# ---------------------------------------------------------------- edited instances


def test_edited_ready_time_moves_the_derived_due_days(timed: Any) -> None:
    inst = read_instance(timed())
    inst.cargo.loc["L1", "ready_at"] = 18.0
    again = validate(inst)
    assert again.cargo.loc["L1", "due_days"] == pytest.approx((114 - 18) / 24)
    assert again.due_hours()[0] == 114.0
    inst.departures.loc[0, "time"] = "30:00"
    with pytest.raises(InstanceError) as err:
        validate(inst)
    [p] = err.value.problems
    assert (p.where, p.column) == ("departures row 1", "time")


def test_eurasia_reads_without_timed_data(eurasia: Any) -> None:
    path = Path(__file__).resolve().parents[1] / "instances" / "eurasia" / "cargo.csv"
    with path.open(encoding="utf-8") as f:
        written = {r["id"]: r["due_days"] for r in csv.DictReader(f)}
    inst = eurasia
    assert inst.departures.empty
    assert (inst.ready_hours() == 0).all()
    assert inst.cargo["due_at"].isna().all()
    for lot, days in written.items():
        got = inst.cargo.loc[lot, "due_days"]
        assert (pd.isna(got) and days == "") or got == float(days)
