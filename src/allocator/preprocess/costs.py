"""Public wrappers around the kernels: map ids to indices, call the kernel, give arrays back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.instance.model import Instance
from allocator.instance.schema import MODES
from allocator.preprocess import kernels
from allocator.preprocess.graph import Network


@dataclass(frozen=True)
class LegData:
    """Per-leg quantities, aligned with ``Network.leg_ids``. Costs are per TEU, hours per crossing.

    ``hours`` is transit plus border dwell plus dwell at the arriving node;
    ``base_cost`` is freight + border fee (+ transshipment at a gauge change) + handling at the
    arriving node, i.e. every per-TEU cost except time value and CO2 price.
    """

    distance_km: np.ndarray
    transit_hours: np.ndarray
    freight_cost: np.ndarray
    border_cost: np.ndarray
    handling_cost: np.ndarray
    hours: np.ndarray
    co2_kg: np.ndarray

    @property
    def base_cost(self) -> np.ndarray:
        """Per-TEU cost before time value and CO2 price."""
        return self.freight_cost + self.border_cost + self.handling_cost


def _mode_factor(inst: Instance, attr: str) -> np.ndarray:
    factors = getattr(inst.settings, attr)
    return inst.legs["mode"].map({m: factors.get(m) for m in MODES}).to_numpy(dtype=float)


def leg_distances(inst: Instance, net: Network) -> np.ndarray:
    """Leg lengths in km: ``distance_km`` where given, else great-circle x the mode's circuity."""
    lat = inst.nodes["lat"].to_numpy(dtype=float)
    lon = inst.nodes["lon"].to_numpy(dtype=float)
    gc = kernels.haversine_km(
        lat[net.leg_from], lon[net.leg_from], lat[net.leg_to], lon[net.leg_to]
    )
    given = inst.legs["distance_km"].to_numpy(dtype=float)
    return np.where(np.isnan(given), gc * _mode_factor(inst, "circuity"), given)


def tariff_costs(inst: Instance, distance_km: np.ndarray) -> np.ndarray:
    """Freight per TEU from the tariffs table by mode and distance band (NaN where no band)."""
    mode_idx = {m: i for i, m in enumerate(MODES)}
    bands = inst.tariffs.sort_values(
        ["mode", "from_km"], key=lambda s: s.map(mode_idx) if s.name == "mode" else s
    )
    return kernels.tariff_cost(
        inst.legs["mode"].map(mode_idx).to_numpy(dtype=np.int64),
        distance_km,
        bands["mode"].map(mode_idx).to_numpy(dtype=np.int64),
        bands["from_km"].to_numpy(dtype=float),
        bands["to_km"].fillna(np.inf).to_numpy(dtype=float),
        bands["cost_per_teu_km"].to_numpy(dtype=float),
        bands["fixed_per_teu"].fillna(0.0).to_numpy(dtype=float),
    )


def leg_data(inst: Instance, net: Network) -> LegData:
    """Distances, per-TEU cost parts, hours and CO2 of every leg."""
    legs = inst.legs
    distance = leg_distances(inst, net)
    transit = legs["transit_hours"].to_numpy(dtype=float)
    transit = np.where(np.isnan(transit), distance / _mode_factor(inst, "speed_kmh"), transit)
    freight = legs["cost_per_teu"].to_numpy(dtype=float)
    if np.isnan(freight).any():
        freight = np.where(np.isnan(freight), tariff_costs(inst, distance), freight)
    border = inst.borders.reindex(legs["border"])
    border_cost = border["fee_per_teu"].fillna(0.0).to_numpy(dtype=float) + np.where(
        border["gauge_change"].fillna(False).to_numpy(dtype=bool),
        border["transshipment_cost_per_teu"].fillna(0.0).to_numpy(dtype=float),
        0.0,
    )
    border_dwell = border["dwell_hours"].fillna(0.0).to_numpy(dtype=float)
    arriving = inst.nodes.iloc[net.leg_to]
    handling = arriving["handling_cost_per_teu"].to_numpy(dtype=float)
    hours = transit + border_dwell + arriving["dwell_hours"].to_numpy(dtype=float)
    co2_factor = legs["co2_kg_per_teu_km"].to_numpy(dtype=float)
    co2_factor = np.where(np.isnan(co2_factor), _mode_factor(inst, "co2_kg_per_teu_km"), co2_factor)
    return LegData(distance, transit, freight, border_cost, handling, hours, co2_factor * distance)


def restriction_scopes(inst: Instance, net: Network) -> dict[str, list[np.ndarray]]:
    """Per restriction scope, the per-leg values a target is matched against (node and country
    match either end of the leg)."""
    legs = inst.legs
    country = inst.nodes["country"].to_numpy(dtype=object)
    return {
        "mode": [legs["mode"].to_numpy(dtype=object)],
        "leg": [net.leg_ids],
        "border": [legs["border"].to_numpy(dtype=object)],
        "node": [legs["from"].to_numpy(dtype=object), legs["to"].to_numpy(dtype=object)],
        "country": [country[net.leg_from], country[net.leg_to]],
    }


def allowed_matrix(inst: Instance, net: Network, class_ids: np.ndarray) -> np.ndarray:
    """``allowed[class, leg]``: False where a restriction forbids the class on the leg.

    A class is kept off a leg by its mode, its id, its border, either end node or either end's country.
    """
    per_leg = restriction_scopes(inst, net)
    allowed = np.ones((len(class_ids), net.n_legs), dtype=bool)
    row = {c: i for i, c in enumerate(class_ids)}
    for (cls, scope), rules in inst.restrictions.groupby(["class", "scope"]):
        targets = set(rules["target"])
        for attr in per_leg[str(scope)]:
            allowed[row[cls]] &= ~pd.Series(attr).isin(targets).to_numpy()
    return allowed


def cost_matrix(
    inst: Instance, data: LegData, allowed: np.ndarray, class_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Generalised cost ``C[class, leg]`` per TEU and hours ``T[class, leg]`` (inf where forbidden).

    C = freight + border fee + transshipment + handling + value_per_teu_day x hours / 24
        + co2_price_per_t x co2_kg / 1000.
    """
    value = inst.classes.loc[class_ids, "value_per_teu_day"].to_numpy(dtype=float)
    return kernels._cost_matrix(
        data.base_cost,
        data.hours,
        data.co2_kg,
        value,
        float(inst.settings.co2_price_per_t),
        allowed,
    )


def shortest_paths(
    net: Network,
    weights: np.ndarray,
    sources: np.ndarray,
    source_row: np.ndarray,
    *,
    reverse: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Shortest distances from each source node (to it, with ``reverse``) under ``weights[source_row]``.

    Returns ``dist[source, node]`` and ``pred[source, node]``, the leg entering (leaving, with
    ``reverse``) the node on a shortest path, or -1.
    """
    ptr, arcs, heads = (
        (net.in_ptr, net.in_legs, net.in_tail)
        if reverse
        else (net.out_ptr, net.out_legs, net.out_head)
    )
    return kernels._dijkstra_many(
        ptr,
        arcs,
        heads,
        np.ascontiguousarray(weights, dtype=float),
        np.asarray(sources, dtype=np.int64),
        np.asarray(source_row, dtype=np.int64),
    )
