"""Write the timed week of the Eurasia example (2026-W47 over time), reproducibly.

    python instances/eurasia/week/make_week.py

Reads the base week next to this folder (../cargo.csv, ../legs.csv, ../borders.csv) and writes:
  cargo.csv       the 227 lots of ../cargo.csv with a ready time (ready_at) each
  legs.csv        ../legs.csv with the Caspian headways and the timetabled block trains
  borders.csv     ../borders.csv with the daily capacities of the China and Brest crossings
  departures.csv  the weekly timetable of the block trains

Ready times: every origin has loading days (the cut-offs of its terminal or port, below); a lot is
ready on one of its origin's loading days, drawn with a fixed seed, at the origin's gate hour. The
figures are explained in ../SOURCES.md ("The timed week"). Nothing here reads the clock.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BASE = HERE.parent
SEED = 2047
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# Loading days per origin country (weekday numbers, Mon = 0) and the gate hour by node kind:
# Chinese export terminals load Monday, Wednesday and Friday; Russia and Belarus Monday and
# Thursday; the EU Tuesday and Thursday; Central Asia, the Caucasus and Turkey Tuesday and
# Friday; India Wednesday and Saturday (vessel cut-offs).
LOADING_DAYS = {
    "CN": (0, 2, 4),
    "RU": (0, 3),
    "BY": (0, 3),
    "DE": (1, 3),
    "NL": (1, 3),
    "PL": (1, 3),
    "RO": (1, 3),
    "KZ": (1, 4),
    "AZ": (1, 4),
    "GE": (1, 4),
    "TR": (1, 4),
    "IN": (2, 5),
}
GATE_HOUR = {"port": 6, "rail_terminal": 8, "hub": 10, "border": 10}

# Caspian lines dispatched on demand: least hours between two sailings of one line.
HEADWAY_HOURS = {
    "KZ_AAU-AZ_ALA": 24,  # feeder, several vessels
    "KZ_KUR-AZ_ALA": 64,  # one ferry: 2 x 21 h crossing + 2 x 11 h berth cycle
    "RU_ASF-IR_BAZ": 72,  # two sailings a week
    "RU_OYA-IR_AMD": 72,
}

# Block trains by timetable: leg, weekdays, times, TEU per train, cost per train.
XIAN_TIMES = ("00:00", "02:00", "04:00", "06:00", "08:00", "10:00",
              "12:00", "14:00", "16:00", "18:00", "20:00", "22:00")  # fmt: skip
TRAINS = [
    ("CN_XIA-CN_URM", range(7), XIAN_TIMES, 82, 0),  # Xi'an westbound, every 2 h
    ("CN_DAL-RU_VRS", (0, 2, 4, 6), ("10:00",), 82, 20000),  # Dalian - Vorsino, 4 a week
]

# Daily capacities (TEU/day over both directions) of the China and Brest crossings.
BORDER_PER_DAY = {"DOS_ALS": 760, "HOR_ALT": 656, "BRE_MAL": 1170}


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows([[r.get(h, "") for h in header] for r in rows])


def write_cargo(folder: Path = HERE) -> None:
    """The base cargo with ready_at: one of the origin's loading days at its gate hour."""
    _, nodes = read_csv(BASE / "nodes.csv")
    node = {n["id"]: n for n in nodes}
    header, lots = read_csv(BASE / "cargo.csv")
    rng = np.random.default_rng(SEED)
    for lot in lots:
        origin = node[lot["origin"]]
        days = LOADING_DAYS[origin["country"]]
        day = days[int(rng.integers(len(days)))]
        lot["ready_at"] = f"{DAYS[day]} {GATE_HOUR[origin['kind']]:02d}:00"
    at = header.index("teu") + 1
    write_csv(folder / "cargo.csv", [*header[:at], "ready_at", *header[at:]], lots)


def write_legs(folder: Path = HERE) -> None:
    """Headways on the Caspian lines; the timetabled legs lose their on-demand service data and
    keep their weekly slots as capacity_teu."""
    header, legs = read_csv(BASE / "legs.csv")
    for leg in legs:
        if leg["id"] in HEADWAY_HOURS:
            leg["min_headway_hours"] = str(HEADWAY_HOURS[leg["id"]])
    for leg_id, days, times, teu, _ in TRAINS:
        leg = next(r for r in legs if r["id"] == leg_id)
        leg["capacity_teu"] = str(teu * len(days) * len(times))
        for column in ("service_capacity_teu", "service_cost", "max_services"):
            leg[column] = ""
    at = header.index("max_services") + 1
    write_csv(folder / "legs.csv", [*header[:at], "min_headway_hours", *header[at:]], legs)


def write_borders(folder: Path = HERE) -> None:
    header, borders = read_csv(BASE / "borders.csv")
    for border in borders:
        if border["id"] in BORDER_PER_DAY:
            border["capacity_teu_per_day"] = str(BORDER_PER_DAY[border["id"]])
    at = header.index("capacity_teu") + 1
    write_csv(folder / "borders.csv", [*header[:at], "capacity_teu_per_day", *header[at:]], borders)


def write_departures(folder: Path = HERE) -> None:
    rows = [
        {"leg": leg, "day": DAYS[d], "time": t, "capacity_teu": str(teu), "cost": str(cost)}
        for leg, days, times, teu, cost in TRAINS
        for d in days
        for t in times
    ]
    write_csv(folder / "departures.csv", ["leg", "day", "time", "capacity_teu", "cost"], rows)


def write_all(folder: Path = HERE) -> None:
    """Write the four tables of the timed week into ``folder``."""
    write_cargo(folder)
    write_legs(folder)
    write_borders(folder)
    write_departures(folder)


if __name__ == "__main__":
    write_all()
