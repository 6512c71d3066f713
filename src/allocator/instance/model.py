"""The validated instance: typed, indexed tables that nothing downstream re-validates.

Index order used project-wide: ``(lot, leg)``; keyed tables are indexed by their ``id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import Problem
from allocator.instance.schema import Settings
from allocator.instance.weektime import timetable_hours

ROUTE_SEPARATOR = " > "
"""Joins the legs and nodes of a route in plan tables; validation refuses ids that contain it."""


@dataclass(frozen=True)
class Instance:
    """One planning instance.

    Keyed tables (``nodes``, ``legs``, ``borders``, ``classes``, ``cargo``) are indexed by id and
    hold the schema columns in schema order with fixed dtypes (str, float64, Int64, bool), then any
    extra columns the user kept. ``legs`` already holds the legs created by ``reverse``; their
    ``reverse_of`` column names the leg they copy (missing for legs written by the user).
    ``departures`` (the timetable) is unkeyed, one row per weekly departure, ``day`` as ``Mon`` ..
    ``Sun`` and ``time`` as ``HH:MM``. ``carried`` (unkeyed) is flow an earlier week's plan
    committed past its end: lots of that week (not rows of ``cargo``) on legs leaving at
    ``departs_at`` hours of this week's clock, which the time family keeps as fixed flow.

    Times are hours from the start of the planning week (Monday 00:00). ``cargo.ready_at`` is
    filled (default 0); for a lot given ``due_at``, ``cargo.due_days`` holds the door-to-door days
    it leaves, ``(due_at - ready_at) / 24``, so the one-period models read due days alone (the
    containers write ``due_at`` only, and re-validation derives ``due_days`` again).

    The tables are pandas frames and may be edited; ``allocator.validate(inst)`` checks an edited
    instance again (``run`` takes an Instance as it is).
    """

    settings: Settings
    nodes: pd.DataFrame
    legs: pd.DataFrame
    borders: pd.DataFrame
    classes: pd.DataFrame
    cargo: pd.DataFrame
    restrictions: pd.DataFrame
    tariffs: pd.DataFrame
    departures: pd.DataFrame
    carried: pd.DataFrame = field(default_factory=pd.DataFrame)
    source: Path | None = None
    warnings: tuple[Problem, ...] = field(default=(), compare=False)

    @property
    def name(self) -> str:
        """The instance name from settings."""
        return self.settings.name

    def ready_hours(self) -> np.ndarray:
        """Per lot (cargo order): when it is ready at its origin, hours from the week start."""
        return self.cargo["ready_at"].to_numpy(dtype=float)

    def due_hours(self) -> np.ndarray:
        """Per lot (cargo order): when it must be at its destination, hours from the week start
        (``due_at``, else ``ready_at`` + 24 × ``due_days``); inf when it has no due time."""
        cargo = self.cargo
        due_at = cargo["due_at"].to_numpy(dtype=float, na_value=np.nan)
        days = cargo["due_days"].to_numpy(dtype=float, na_value=np.nan)
        due = np.where(np.isnan(due_at), self.ready_hours() + 24.0 * days, due_at)
        return np.where(np.isnan(due), np.inf, due)

    def departure_hours(self) -> np.ndarray:
        """Per timetable row (``departures`` order): when the departure leaves in the first week,
        hours from the week start; it runs again every 168 h."""
        return timetable_hours(self.departures["day"], self.departures["time"])

    def summary(self) -> dict[str, int | float | str]:
        """Counts a planner checks first."""
        legs = self.legs
        return {
            "name": self.name,
            "period": self.settings.period,
            "nodes": len(self.nodes),
            "countries": self.nodes["country"].nunique(),
            "legs": len(legs),
            "service legs": int(legs["service_capacity_teu"].notna().sum()),
            "timetabled legs": int(self.departures["leg"].nunique()),
            "departures": len(self.departures),
            "candidate legs": int((legs["fixed_cost"] > 0).sum()),
            "borders": len(self.borders),
            "classes": len(self.classes),
            "lots": len(self.cargo),
            "TEU": float(self.cargo["teu"].sum()),
            "restrictions": len(self.restrictions),
        }
