"""Instance settings: a pydantic model whose field descriptions are the documentation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MODES: tuple[str, ...] = ("rail", "road", "sea", "ferry", "river")
MAX_MAGNITUDE = 1e9
"""Largest quantity, cost, distance or time an instance may hold (the ``max`` of the schema's
number columns): far above any real value, and small enough that sums of products over many
lots and legs stay well inside what double precision and HiGHS (infinity 1e20) handle."""


class ModeFactors(BaseModel):
    """One number per transport mode."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rail: float = Field(ge=0, le=MAX_MAGNITUDE)
    road: float = Field(ge=0, le=MAX_MAGNITUDE)
    sea: float = Field(ge=0, le=MAX_MAGNITUDE)
    ferry: float = Field(ge=0, le=MAX_MAGNITUDE)
    river: float = Field(ge=0, le=MAX_MAGNITUDE)

    def get(self, mode: str) -> float:
        """The factor of ``mode``."""
        return float(getattr(self, mode))


def _factors(**values: float) -> ModeFactors:
    return ModeFactors(**values)


class Settings(BaseModel):
    """Settings of one instance (planning period, costs, defaults per mode, solver defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str = Field(min_length=1)
    """Instance name, shown in plans and reports."""
    currency: str = "USD"
    """Currency of every cost in the instance."""
    period: str = ""
    """Planning period the cargo belongs to, e.g. 2026-W47; capacities are per period."""
    unserved: Literal["penalty", "forbid"] = "penalty"
    """penalty: a lot may stay unmoved at its penalty; forbid: every TEU must move or the plan is infeasible."""
    default_penalty_per_teu: float = Field(default=10_000.0, ge=0, le=MAX_MAGNITUDE)
    """Cost of leaving one TEU unmoved, for lots without penalty_per_teu (currency/TEU)."""
    co2_price_per_t: float = Field(default=0.0, ge=0, le=MAX_MAGNITUDE)
    """Price of one tonne of CO2 added to the generalised cost (currency/t)."""
    circuity: ModeFactors = _factors(rail=1.25, road=1.2, sea=1.3, ferry=1.15, river=1.4)
    """Route length over great-circle distance per mode, for legs without distance_km (-)."""
    co2_kg_per_teu_km: ModeFactors = _factors(
        rail=0.316, road=1.263, sea=0.154, ferry=0.514, river=0.3
    )
    """CO2 per TEU-km per mode, for legs without co2_kg_per_teu_km (kg/TEU-km)."""
    speed_kmh: ModeFactors = _factors(rail=30.0, road=50.0, sea=30.0, ferry=20.0, river=12.0)
    """Average speed per mode, for legs without transit_hours (km/h)."""
    time_limit_s: float = Field(default=60.0, gt=0)
    """Solver time limit (s)."""
    mip_rel_gap: float = Field(default=1e-4, ge=0)
    """Relative MIP gap at which the solver stops (-)."""
    threads: int = Field(default=0, ge=0)
    """Solver threads; 0 lets HiGHS choose."""
    time_step_hours: float = Field(default=24.0, gt=0, le=MAX_MAGNITUDE)
    """Step at which timed plans report flows and queues over time (h)."""
    horizon_hours: float = Field(default=168.0, gt=0, le=MAX_MAGNITUDE)
    """Length of the planning week, from Monday 00:00: lots are ready and departures run within it (h)."""
    runoff_hours: float = Field(default=168.0, ge=0, le=MAX_MAGNITUDE)
    """Time after the horizon in which cargo already under way may still travel and arrive (h); waiting is valued at each class's value_per_teu_day, as time in transit is."""
    unsplittable_lots: bool = False
    """true: every lot travels as a whole on one route; false: a lot may be split over routes."""
