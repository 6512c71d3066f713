"""Build small instances from Python records for hand-solved tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.errors import InstanceError, Problem
from allocator.instance.io import RawInstance, RawTable
from allocator.instance.model import Instance
from allocator.instance.validate import read_instance, validate


def build(settings: dict[str, Any] | None = None, **tables: list[dict[str, Any]]) -> Instance:
    """An Instance from records, typed and validated exactly like one read from files."""
    raw = RawInstance(
        path=Path("<test>"),
        settings={"name": "test", **(settings or {})},
        tables={
            name: RawTable(
                name, pd.DataFrame.from_records(rows).astype(object), f"test {name}", "row", 1
            )
            for name, rows in tables.items()
        },
        settings_source="test settings",
    )
    return validate(raw)


def node(
    id: str, country: str = "KZ", lat: float = 43.0, lon: float = 60.0, **kw: Any
) -> dict[str, Any]:
    """A node record with defaults."""
    return {"id": id, "name": id, "country": country, "lat": lat, "lon": lon, "kind": "hub", **kw}


def leg(
    id: str, a: str, b: str, cost: float, mode: str = "rail", hours: float = 24.0, **kw: Any
) -> dict[str, Any]:
    """A leg record with a given cost per TEU, 1 km (so CO2 is tiny) and ``hours`` transit."""
    return {
        "id": id,
        "from": a,
        "to": b,
        "mode": mode,
        "distance_km": 1.0,
        "transit_hours": hours,
        "cost_per_teu": cost,
        **kw,
    }


def ferry(
    id: str, a: str, b: str, cost: float, service_cost: float, max_services: int, teu: float = 40
) -> dict[str, Any]:
    """A ferry service leg: ``teu`` slots a departure at ``service_cost``, ``cost`` per TEU."""
    return leg(
        id,
        a,
        b,
        cost,
        mode="ferry",
        service_capacity_teu=teu,
        service_cost=service_cost,
        max_services=max_services,
    )


def border(id: str, name: str, a: str = "KZ", b: str = "AZ", **kw: Any) -> dict[str, Any]:
    """A border crossing record between countries ``a`` and ``b``."""
    return {"id": id, "name": name, "from_country": a, "to_country": b, **kw}


def lot(id: str, a: str, b: str, teu: float, cls: str = "general", **kw: Any) -> dict[str, Any]:
    """A cargo lot record."""
    return {"id": id, "origin": a, "destination": b, "teu": teu, "class": cls, **kw}


FREE_TIME = [
    {"id": "general", "value_per_teu_day": 0.0},
    {"id": "dangerous", "value_per_teu_day": 0.0},
]


def short_capacity(unserved: str = "penalty") -> Instance:
    """20 TEU A->B over one leg of 15 TEU at 100/TEU, penalty 500/TEU: 5 TEU cannot move."""
    return build(
        {"unserved": unserved},
        nodes=[node("A"), node("B")],
        legs=[leg("AB", "A", "B", 100, capacity_teu=15)],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 20, penalty_per_teu=500)],
    )


def ferry_or_road() -> Instance:
    """90 TEU A->B. Ferry F: 40 TEU a sailing, 1000 a sailing + 10/TEU; road R 50/TEU, unlimited.
    3 sailings: 3000 + 900 = 3900; 2 sailings + 10 TEU by road: 2000 + 800 + 500 = 3300;
    1 sailing: 1000 + 400 + 2500 = 3900; none: 4500. Optimum 3300 with 2 sailings (the LP
    relaxation would take 2.25 sailings: 3150)."""
    return build(
        nodes=[node("A"), node("B")],
        legs=[ferry("F", "A", "B", 10, 1000, 5), leg("R", "A", "B", 50, mode="road")],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 90)],
    )


def sea_or_rail(*cargo: dict[str, Any], **settings: Any) -> Instance:
    """A->B by sea S (100/TEU, 40 days) or by rail R (300/TEU, 10 days), carrying ``cargo``."""
    return build(
        settings or None,
        nodes=[node("A"), node("B")],
        legs=[
            leg("S", "A", "B", 100, mode="sea", hours=40 * 24),
            leg("R", "A", "B", 300, hours=10 * 24),
        ],
        classes=FREE_TIME,
        cargo=list(cargo),
    )


def problems_of(path: Path, strict: bool = False) -> list[Problem]:
    """The problems reading ``path`` raises (it must be invalid)."""
    import pytest

    with pytest.raises(InstanceError) as info:
        read_instance(path, strict=strict)
    return info.value.problems


def only_error(folder: Path, table: str, text: str) -> Problem:
    """The one error of ``folder`` after ``table`` is replaced by ``text``."""
    (folder / table).write_text(text)
    [error] = errors_of(folder)
    return error


def errors_of(path: Path, strict: bool = False) -> list[Problem]:
    """The errors among ``problems_of(path)``."""
    return [p for p in problems_of(path, strict) if p.severity == "error"]


def run_cli(
    *args: str, cwd: Path | None = None, columns: int = 80
) -> subprocess.CompletedProcess[str]:
    """``python -m allocator ARGS`` in a real process (this checkout's source first on the path,
    a terminal ``columns`` wide), with its exit code, stdout and stderr."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = os.environ | {"COLUMNS": str(columns), "PYTHONPATH": src}
    return subprocess.run(
        [sys.executable, "-m", "allocator", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def border_queue_week() -> Instance:
    """A timed instance whose border makes cargo wait overnight. Lots L1, L2, L3 (10 TEU each,
    ready Monday 00:00, due at 40, 100 and 200 h) leave A on the only run of the feeder AB
    (Mon 00:00, 12 h, 100 a run, tagged local) and reach B at 12 h. Border leg BC (5 h + 1 h
    border dwell, corridor middle) crosses KZAZ, which takes 10 TEU a day: one lot crosses at
    12 h (arrives 18), one at 24 h (arrives 30), one at 48 h (arrives 54). L1 (due 40) crosses
    on day 0 or 1 and arrives 22 or 10 h before its due time; L2 and L3 arrive at least 46 h
    before theirs, so L1 alone is near its due time. Time is worth 1 per TEU-hour: 30 x 10 (AB) + 30 x 10 (BC) + 100 (the run) + 10 x (18 + 30 + 54) = 1720."""
    return build(
        nodes=[node("A", country="KZ"), node("B", country="KZ"), node("C", country="AZ")],
        legs=[
            leg("AB", "A", "B", 10, hours=12, corridor="local"),
            leg("BC", "B", "C", 10, hours=5, border="KZAZ", corridor="middle"),
        ],
        departures=[{"leg": "AB", "day": "Mon", "time": "00:00", "capacity_teu": 30, "cost": 100}],
        borders=[border("KZAZ", "Kazakh-Azeri", capacity_teu_per_day=10, dwell_hours=1)],
        classes=[{"id": "general", "value_per_teu_day": 24.0}],
        cargo=[
            lot("L1", "A", "C", 10, due_at=40),
            lot("L2", "A", "C", 10, due_at=100),
            lot("L3", "A", "C", 10, due_at=200),
        ],
    )
