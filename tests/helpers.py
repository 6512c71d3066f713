"""Build small instances from Python records for hand-solved tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from allocator.instance import Instance
from allocator.io import RawInstance, RawTable
from allocator.validate import validate


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
