"""The validated instance: typed, indexed tables that nothing downstream re-validates.

Index order used project-wide: ``(lot, leg)``; keyed tables are indexed by their ``id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from allocator.errors import Problem
from allocator.instance.schema import Settings

ROUTE_SEPARATOR = " > "
"""Joins the legs and nodes of a route in plan tables; validation refuses ids that contain it."""


@dataclass(frozen=True)
class Instance:
    """One planning instance.

    Keyed tables (``nodes``, ``legs``, ``borders``, ``classes``, ``cargo``) are indexed by id and
    hold the schema columns in schema order with fixed dtypes (str, float64, Int64, bool), then any
    extra columns the user kept. ``legs`` already holds the legs created by ``reverse``; their
    ``reverse_of`` column names the leg they copy (missing for legs written by the user).

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
    source: Path | None = None
    warnings: tuple[Problem, ...] = field(default=(), compare=False)

    @property
    def name(self) -> str:
        """The instance name from settings."""
        return self.settings.name

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
            "candidate legs": int((legs["fixed_cost"] > 0).sum()),
            "borders": len(self.borders),
            "classes": len(self.classes),
            "lots": len(self.cargo),
            "TEU": float(self.cargo["teu"].sum()),
            "restrictions": len(self.restrictions),
        }
