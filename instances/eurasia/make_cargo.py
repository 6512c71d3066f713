"""Write the cargo of the Eurasia example and its eight weekly instances, reproducibly.

    python instances/eurasia/make_cargo.py

Writes, next to this file:
  cargo.csv                          the base week 2026-W47 (the instance in instance.toml)
  weeks/cargo-2026-Wxx.csv           one cargo file per week W45..W52 (W47 equals cargo.csv)
  weeks/legs-ferry-weather.csv       legs.csv with the Caspian departures halved (used by W49)
  weeks/borders-brest-congested.csv  borders.csv with Brest capacity halved, dwell doubled (W51)
  weeks/2026-Wxx.toml                the weekly instances, sharing ../nodes.csv, ../legs.csv, ...

Every lot belongs to a recurring customer lane; its id (e.g. XIA-DUI-G03) is the same in every
week, so plans can be compared week to week. Spot lots (SPOT-Wxx-nn) exist in one week only.
The lanes, lot counts and sizes are ASSUMPTIONS (see SOURCES.md); only the RNG seed makes them
reproducible. Nothing here reads the clock or the environment.
"""

# ruff: noqa: T201  (prints a one-line summary per week)
from __future__ import annotations

import csv
import math
import tomllib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WEEKS_DIR = HERE / "weeks"
SEED = 2026
BASE_WEEK = 47
WEEKS = range(45, 53)
WEATHER_WEEK = 49  # Caspian storms: half the ferry / feeder departures
BREST_WEEK = 51  # Brest / Malaszewicze congested: half the capacity, double the dwell
CASPIAN_PORTS = {
    "KZ_AAU",
    "KZ_KUR",
    "TM_KRW",
    "AZ_ALA",
    "RU_ASF",
    "RU_OYA",
    "RU_MCX",
    "IR_BAZ",
    "IR_AMD",
}
MIN_TEU, MAX_TEU = 2, 200

# Seasonal profile per lane group: factor of week w relative to the base week W47.
SEASON = {
    # China -> Europe: rail bookings build up towards the pre-Chinese-New-Year rush (CNY 2027 is on
    # 6 February), then drop in the Christmas week.
    "cn_eu": {45: 0.96, 46: 0.98, 47: 1.0, 48: 1.03, 49: 1.06, 50: 1.1, 51: 1.12, 52: 0.86},
    # China -> Russia / Central Asia / Caucasus: year-end stocking, mild rise into December.
    "cn_east": {45: 0.95, 46: 0.97, 47: 1.0, 48: 1.02, 49: 1.05, 50: 1.08, 51: 1.04, 52: 0.9},
    # India <-> Russia (INSTC): flat, slight rise before the New Year holidays.
    "instc": {45: 0.97, 46: 0.99, 47: 1.0, 48: 1.01, 49: 1.03, 50: 1.06, 51: 1.05, 52: 0.92},
    # Winter fruit season (citrus, persimmon from Azerbaijan / Turkey, grapes from India).
    "fruit": {45: 0.85, 46: 0.92, 47: 1.0, 48: 1.07, 49: 1.12, 50: 1.18, 51: 1.15, 52: 1.05},
    # Everything else: flat.
    "flat": dict.fromkeys(range(45, 53), 1.0),
}

# code, origin, destination, class, lots, median TEU per lot, due_days, penalty_per_teu, season
# due_days / penalty_per_teu of None mean: no limit / the settings default.
LANES: list[tuple[str, str, str, str, int, float, float | None, float | None, str]] = [
    # ---- China -> EU (rail via Dostyk/Khorgos/Zabaikalsk + Brest, Middle Corridor, or sea)
    ("XIA-DUI-G", "CN_XIA", "DE_DUI", "general", 9, 120, None, None, "cn_eu"),
    ("XIA-DUI-X", "CN_XIA", "DE_DUI", "general", 2, 30, 20, 8000, "cn_eu"),  # express, due 20 d
    ("XIA-DUI-D", "CN_XIA", "DE_DUI", "dangerous", 2, 20, None, None, "cn_eu"),
    ("XIA-MAA-G", "CN_XIA", "PL_MAA", "general", 3, 120, None, None, "cn_eu"),
    ("XIA-RTM-G", "CN_XIA", "NL_RTM", "general", 3, 95, None, None, "cn_eu"),
    ("QIN-DUI-G", "CN_QIN", "DE_DUI", "general", 3, 110, None, None, "cn_eu"),
    ("QIN-RTM-G", "CN_QIN", "NL_RTM", "general", 3, 120, None, None, "cn_eu"),
    ("SGH-RTM-G", "CN_SGH", "NL_RTM", "general", 4, 160, None, 4000, "cn_eu"),
    ("SGH-RTM-R", "CN_SGH", "NL_RTM", "reefer", 2, 20, 40, None, "cn_eu"),
    ("SGH-DUI-G", "CN_SGH", "DE_DUI", "general", 3, 110, None, None, "cn_eu"),
    ("LYG-DUI-G", "CN_LYG", "DE_DUI", "general", 3, 120, None, None, "cn_eu"),
    ("HRN-DUI-G", "CN_HRN", "DE_DUI", "general", 3, 110, None, None, "cn_eu"),
    ("XIA-CND-G", "CN_XIA", "RO_CND", "general", 2, 60, None, None, "cn_eu"),
    ("DAL-DUI-G", "CN_DAL", "DE_DUI", "general", 3, 100, None, None, "cn_eu"),
    ("HRN-MAA-G", "CN_HRN", "PL_MAA", "general", 2, 100, None, None, "cn_eu"),
    # ---- China -> Russia / Belarus (Dalian-Vorsino components; Great Stone; Kaliningrad)
    ("DAL-VRS-G", "CN_DAL", "RU_VRS", "general", 4, 100, 20, 12000, "cn_east"),  # components
    ("DAL-VRS-S", "CN_DAL", "RU_VRS", "sanctioned", 2, 20, 25, None, "cn_east"),
    ("DAL-MOW-G", "CN_DAL", "RU_MOW", "general", 2, 75, None, None, "cn_east"),
    ("HRN-MOW-G", "CN_HRN", "RU_MOW", "general", 2, 90, None, None, "cn_east"),
    ("HRN-MOW-R", "CN_HRN", "RU_MOW", "reefer", 2, 30, 14, 9000, "fruit"),
    ("HRN-MOW-S", "CN_HRN", "RU_MOW", "sanctioned", 2, 30, None, None, "cn_east"),
    ("XIA-MOW-G", "CN_XIA", "RU_MOW", "general", 3, 80, None, None, "cn_east"),
    ("XIA-MOW-S", "CN_XIA", "RU_MOW", "sanctioned", 2, 45, None, None, "cn_east"),
    ("LYG-MOW-G", "CN_LYG", "RU_MOW", "general", 2, 40, None, None, "cn_east"),
    ("XIA-MSQ-G", "CN_XIA", "BY_MSQ", "general", 2, 60, None, None, "cn_east"),
    ("XIA-MSQ-S", "CN_XIA", "BY_MSQ", "sanctioned", 2, 20, None, None, "cn_east"),
    ("XIA-KGD-G", "CN_XIA", "RU_KGD", "general", 2, 30, None, None, "cn_east"),
    ("XIA-KGD-S", "CN_XIA", "RU_KGD", "sanctioned", 2, 15, None, None, "cn_east"),
    ("SGH-LED-G", "CN_SGH", "RU_LED", "general", 2, 75, None, None, "cn_east"),
    ("SGH-LED-S", "CN_SGH", "RU_LED", "sanctioned", 2, 30, None, None, "cn_east"),
    # ---- China -> Central Asia, Caucasus, Turkey, India
    ("LYG-ALA-G", "CN_LYG", "KZ_ALA", "general", 2, 75, None, None, "cn_east"),
    ("URM-ALA-G", "CN_URM", "KZ_ALA", "general", 2, 60, None, None, "cn_east"),
    ("QIN-AAL-G", "CN_QIN", "AZ_ALA", "general", 4, 90, None, None, "cn_east"),  # SCODA -> Alat FEZ
    ("QIN-AAL-X", "CN_QIN", "AZ_ALA", "general", 2, 30, 25, None, "cn_east"),
    ("QIN-AAL-D", "CN_QIN", "AZ_ALA", "dangerous", 2, 20, None, None, "cn_east"),
    ("XIA-BAK-G", "CN_XIA", "AZ_BAK", "general", 3, 80, None, None, "cn_east"),
    ("URM-BAK-G", "CN_URM", "AZ_BAK", "general", 2, 60, None, None, "cn_east"),
    ("XIA-TBS-G", "CN_XIA", "GE_TBS", "general", 2, 75, None, None, "cn_east"),
    ("QIN-PTI-G", "CN_QIN", "GE_PTI", "general", 3, 95, None, None, "cn_east"),
    ("XIA-IST-G", "CN_XIA", "TR_IST", "general", 2, 75, None, None, "cn_east"),
    ("LYG-PTI-G", "CN_LYG", "GE_PTI", "general", 2, 75, None, None, "cn_east"),
    ("XIA-AAL-G", "CN_XIA", "AZ_ALA", "general", 2, 75, None, None, "cn_east"),
    ("LYG-IST-D", "CN_LYG", "TR_IST", "dangerous", 2, 20, None, None, "cn_east"),
    ("SGH-IST-G", "CN_SGH", "TR_IST", "general", 2, 120, None, None, "cn_east"),
    ("SGH-NSA-G", "CN_SGH", "IN_NSA", "general", 2, 150, None, None, "flat"),
    # ---- EU -> China / Central Asia / Caucasus (backhaul)
    ("DUI-XIA-G", "DE_DUI", "CN_XIA", "general", 2, 60, None, None, "flat"),
    ("RTM-SGH-G", "NL_RTM", "CN_SGH", "general", 2, 120, None, 3000, "flat"),
    ("MAA-XIA-G", "PL_MAA", "CN_XIA", "general", 2, 30, None, None, "flat"),
    ("DUI-ALA-G", "DE_DUI", "KZ_ALA", "general", 2, 30, None, None, "flat"),
    ("CND-ALA-G", "RO_CND", "KZ_ALA", "general", 2, 45, None, None, "flat"),
    ("CND-BAK-G", "RO_CND", "AZ_BAK", "general", 2, 25, None, None, "flat"),
    # ---- Russia / Belarus outbound (INSTC south, SEZ to SEZ, Kaliningrad, Central Asia)
    ("MOW-NSA-G", "RU_MOW", "IN_NSA", "general", 3, 65, None, None, "instc"),
    ("MOW-NSA-S", "RU_MOW", "IN_NSA", "sanctioned", 2, 30, None, None, "instc"),
    ("MOW-NSA-D", "RU_MOW", "IN_NSA", "dangerous", 2, 20, None, None, "instc"),
    ("LED-NSA-G", "RU_LED", "IN_NSA", "general", 2, 75, None, None, "instc"),
    ("OYA-NSA-G", "RU_OYA", "IN_NSA", "general", 2, 60, None, None, "instc"),  # SEZ Lotus
    ("ASF-NSA-G", "RU_ASF", "IN_NSA", "general", 2, 30, None, None, "instc"),
    ("MOW-OYA-G", "RU_MOW", "RU_OYA", "general", 2, 45, None, None, "flat"),  # Technopolis -> Lotus
    ("OYA-MOW-G", "RU_OYA", "RU_MOW", "general", 2, 30, None, None, "flat"),
    ("MOW-BAK-G", "RU_MOW", "AZ_BAK", "general", 2, 60, None, None, "flat"),
    ("MOW-ALA-G", "RU_MOW", "KZ_ALA", "general", 2, 60, None, None, "flat"),
    ("MOW-XIA-G", "RU_MOW", "CN_XIA", "general", 2, 60, None, None, "flat"),
    ("VRS-DAL-G", "RU_VRS", "CN_DAL", "general", 2, 20, None, None, "flat"),
    ("MOW-KGD-G", "RU_MOW", "RU_KGD", "general", 2, 60, None, None, "flat"),
    ("MOW-KGD-D", "RU_MOW", "RU_KGD", "dangerous", 2, 15, None, None, "flat"),
    ("MSQ-KGD-G", "BY_MSQ", "RU_KGD", "general", 2, 45, None, None, "flat"),  # Belarus-Kaliningrad
    ("MSQ-KGD-S", "BY_MSQ", "RU_KGD", "sanctioned", 2, 15, None, None, "flat"),
    ("KGD-MSQ-G", "RU_KGD", "BY_MSQ", "general", 2, 20, None, None, "flat"),
    ("MSQ-XIA-G", "BY_MSQ", "CN_XIA", "general", 2, 40, None, None, "flat"),  # Great Stone exports
    ("MOW-IST-G", "RU_MOW", "TR_IST", "general", 2, 30, None, None, "flat"),
    # ---- India -> Russia / Caucasus / Central Asia / Europe
    ("NSA-MOW-G", "IN_NSA", "RU_MOW", "general", 4, 75, None, None, "instc"),
    ("NSA-MOW-R", "IN_NSA", "RU_MOW", "reefer", 2, 30, 26, 9000, "fruit"),
    ("NSA-MOW-S", "IN_NSA", "RU_MOW", "sanctioned", 2, 30, None, None, "instc"),
    ("NSA-MOW-D", "IN_NSA", "RU_MOW", "dangerous", 2, 20, None, None, "instc"),
    ("NSA-LED-G", "IN_NSA", "RU_LED", "general", 2, 75, None, None, "instc"),
    ("NSA-OYA-G", "IN_NSA", "RU_OYA", "general", 2, 40, None, None, "instc"),
    ("NSA-BAK-G", "IN_NSA", "AZ_BAK", "general", 2, 30, None, None, "instc"),
    ("NSA-ALA-G", "IN_NSA", "KZ_ALA", "general", 2, 30, None, None, "instc"),
    ("NSA-TBS-G", "IN_NSA", "GE_TBS", "general", 1, 20, None, None, "instc"),
    ("NSA-RTM-G", "IN_NSA", "NL_RTM", "general", 3, 135, None, None, "flat"),
    ("NSA-DUI-G", "IN_NSA", "DE_DUI", "general", 2, 50, None, None, "flat"),
    # ---- Central Asia
    ("ALA-MOW-G", "KZ_ALA", "RU_MOW", "general", 2, 75, None, None, "flat"),
    ("ALA-MOW-R", "KZ_ALA", "RU_MOW", "reefer", 2, 15, 8, 9000, "fruit"),
    ("ALA-BAK-G", "KZ_ALA", "AZ_BAK", "general", 3, 65, None, None, "flat"),
    ("ALA-PTI-D", "KZ_ALA", "GE_PTI", "dangerous", 2, 20, None, None, "flat"),
    ("ALA-IST-G", "KZ_ALA", "TR_IST", "general", 2, 30, None, None, "flat"),
    ("ALA-DUI-G", "KZ_ALA", "DE_DUI", "general", 2, 40, None, None, "flat"),
    ("ALA-LYG-G", "KZ_ALA", "CN_LYG", "general", 2, 40, None, None, "flat"),
    ("ALA-NSA-G", "KZ_ALA", "IN_NSA", "general", 2, 30, None, None, "instc"),
    ("ALA-MSQ-S", "KZ_ALA", "BY_MSQ", "sanctioned", 1, 20, None, None, "flat"),
    # ---- Caucasus and Turkey
    ("BAK-MOW-R", "AZ_BAK", "RU_MOW", "reefer", 2, 20, 8, 9000, "fruit"),
    ("BAK-DUI-G", "AZ_BAK", "DE_DUI", "general", 2, 20, None, None, "flat"),
    ("AAL-XIA-G", "AZ_ALA", "CN_XIA", "general", 2, 45, None, None, "flat"),  # Alat FEZ -> China
    ("PTI-ALA-G", "GE_PTI", "KZ_ALA", "general", 2, 45, None, None, "flat"),
    ("TBS-MOW-G", "GE_TBS", "RU_MOW", "general", 2, 20, None, None, "flat"),
    ("PTI-XIA-G", "GE_PTI", "CN_XIA", "general", 2, 20, None, None, "flat"),
    ("IST-MOW-R", "TR_IST", "RU_MOW", "reefer", 2, 15, 14, 9000, "fruit"),
    ("IST-ALA-G", "TR_IST", "KZ_ALA", "general", 2, 60, None, None, "flat"),
    ("IST-XIA-G", "TR_IST", "CN_XIA", "general", 2, 40, None, None, "flat"),
    ("IST-BAK-G", "TR_IST", "AZ_BAK", "general", 2, 30, None, None, "flat"),
]

# Spot lots: drawn per week (except the base week) from these lanes, one-off ids.
SPOT_LANES = [
    "XIA-DUI-G",
    "QIN-RTM-G",
    "XIA-MOW-G",
    "NSA-MOW-G",
    "QIN-AAL-G",
    "ALA-BAK-G",
    "LYG-ALA-G",
    "MOW-NSA-G",
    "XIA-IST-G",
    "SGH-RTM-G",
]
DROP_PROBABILITY = 0.07  # a recurring lot skips a (non-base) week with this probability
COLUMNS = ["id", "origin", "destination", "teu", "class", "due_days", "penalty_per_teu"]


def base_lots() -> list[dict]:
    """The recurring lots with their base-week TEU (lognormal around the lane median)."""
    rng = np.random.default_rng(SEED)
    lots = []
    for code, o, d, cls, n, median, due, penalty, season in LANES:
        for k in range(1, n + 1):
            teu = float(np.clip(round(median * rng.lognormal(0.0, 0.45)), MIN_TEU, MAX_TEU))
            lots.append(
                {
                    "id": f"{code}{k:02d}",
                    "lane": code,
                    "origin": o,
                    "destination": d,
                    "teu": teu,
                    "cls": cls,
                    "due": due,
                    "penalty": penalty,
                    "season": season,
                }
            )
    return lots


def week_rows(week: int, lots: list[dict]) -> list[list]:
    """The cargo rows of one week: base lots scaled by season and noise, some dropped, spot lots added."""
    rows = []
    rng = np.random.default_rng([SEED, week])
    lanes = {lane[0]: lane for lane in LANES}
    for lot in lots:
        noise = float(np.clip(rng.normal(1.0, 0.08), 0.8, 1.2))
        dropped = rng.random() < DROP_PROBABILITY
        if week == BASE_WEEK:
            teu = lot["teu"]
        elif dropped:
            continue
        else:
            teu = float(
                np.clip(round(lot["teu"] * SEASON[lot["season"]][week] * noise), MIN_TEU, MAX_TEU)
            )
        rows.append(
            [
                lot["id"],
                lot["origin"],
                lot["destination"],
                teu,
                lot["cls"],
                lot["due"],
                lot["penalty"],
            ]
        )
    if week != BASE_WEEK:
        for j in range(1, int(rng.integers(3, 8)) + 1):
            code, o, d, cls, _, median, due, penalty, season = lanes[
                SPOT_LANES[int(rng.integers(len(SPOT_LANES)))]
            ]
            teu = float(np.clip(round(median * rng.lognormal(0.0, 0.5)), MIN_TEU, MAX_TEU))
            rows.append([f"SPOT-W{week}-{j:02d}", o, d, teu, cls, due, penalty])
    return rows


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows([[_fmt(v) for v in r] for r in rows])


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write_weather_legs() -> None:
    """legs.csv with max_services of every Caspian service leg halved (rounded down)."""
    header, rows = read_csv(HERE / "legs.csv")
    for r in rows:
        if r["service_capacity_teu"] and r["from"] in CASPIAN_PORTS and r["to"] in CASPIAN_PORTS:
            r["max_services"] = str(math.floor(int(r["max_services"]) / 2))
    write_csv(WEEKS_DIR / "legs-ferry-weather.csv", header, [[r[h] for h in header] for r in rows])


def write_brest_borders() -> None:
    """borders.csv with Brest / Malaszewicze capacity halved and dwell doubled."""
    header, rows = read_csv(HERE / "borders.csv")
    for r in rows:
        if r["id"] == "BRE_MAL":
            r["capacity_teu"] = _fmt(float(r["capacity_teu"]) / 2)
            r["dwell_hours"] = _fmt(float(r["dwell_hours"]) * 2)
    write_csv(
        WEEKS_DIR / "borders-brest-congested.csv", header, [[r[h] for h in header] for r in rows]
    )


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return repr(v)


def write_week_toml(week: int) -> None:
    base = tomllib.loads((HERE / "instance.toml").read_text(encoding="utf-8"))
    settings = dict(base["settings"])
    period = f"2026-W{week}"
    settings["name"] = f"eurasia-{period}"
    settings["period"] = period
    tables = {k: f"../{v}" for k, v in base["tables"].items()}
    tables["cargo"] = f"cargo-{period}.csv"
    note = ""
    if week == WEATHER_WEEK:
        tables["legs"] = "legs-ferry-weather.csv"
        note = "# Caspian storms: the ferry / feeder departures of every Caspian service leg are halved.\n"
    if week == BREST_WEEK:
        tables["borders"] = "borders-brest-congested.csv"
        note = "# Brest / Malaszewicze congested: capacity halved, dwell doubled.\n"
    lines = [
        f"# Eurasia example, week {period}. Written by make_cargo.py; do not edit by hand.\n",
        note,
        "[settings]\n",
    ]
    lines += [f"{k} = {_toml_value(v)}\n" for k, v in settings.items() if not isinstance(v, dict)]
    for k, v in settings.items():
        if isinstance(v, dict):
            lines.append(f"\n[settings.{k}]\n")
            lines += [f"{m} = {_toml_value(x)}\n" for m, x in v.items()]
    lines.append("\n[tables]\n")
    lines += [f'{k} = "{v}"\n' for k, v in tables.items()]
    (WEEKS_DIR / f"{period}.toml").write_text("".join(lines), encoding="utf-8")


def main() -> None:
    WEEKS_DIR.mkdir(exist_ok=True)
    lots = base_lots()
    for week in WEEKS:
        rows = week_rows(week, lots)
        write_csv(WEEKS_DIR / f"cargo-2026-W{week}.csv", COLUMNS, rows)
        if week == BASE_WEEK:
            write_csv(HERE / "cargo.csv", COLUMNS, rows)
        write_week_toml(week)
        print(f"2026-W{week}: {len(rows)} lots, {sum(r[3] for r in rows):,.0f} TEU")
    write_weather_legs()
    write_brest_borders()


if __name__ == "__main__":
    main()
