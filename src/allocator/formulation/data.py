"""The index sets and coefficients a formulation is built from, as flat numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from allocator.instance.model import Instance
from allocator.preprocess import Preprocessed
from allocator.preprocess.paths import PathSet


@dataclass(frozen=True)
class ArcData:
    """Arrays of the arc formulation.

    A *flow group* ``g`` owns flow variables: one commodity each, or with ``aggregate='origin'``
    every commodity of one origin and class. Flow variable ``p`` is group ``pair_group[p]`` on leg
    ``pair_leg[p]`` at cost ``pair_cost[p]`` per TEU. Commodity ``k`` belongs to group ``com_group[k]``.
    """

    pair_group: np.ndarray
    pair_leg: np.ndarray
    pair_cost: np.ndarray
    group_teu: np.ndarray
    com_group: np.ndarray
    com_teu: np.ndarray
    com_penalty: np.ndarray
    com_origin: np.ndarray
    com_dest: np.ndarray
    leg_capacity: np.ndarray  # inf where unlimited
    leg_service_capacity: np.ndarray  # nan where not a service leg
    leg_service_cost: np.ndarray
    leg_max_services: np.ndarray  # inf where unlimited
    leg_fixed_cost: np.ndarray
    leg_border: np.ndarray  # border index or -1
    border_capacity: np.ndarray
    node_capacity: np.ndarray
    forbid_unserved: bool
    integer_teu: bool
    # per leg, for the trade-off blocks (define_co2_limit, define_days_limit; allocator.analysis.pareto)
    leg_co2_kg: np.ndarray = field(default_factory=lambda: np.zeros(0))  # kg CO2 per TEU
    leg_hours: np.ndarray = field(default_factory=lambda: np.zeros(0))  # hours per TEU crossing

    @property
    def n_pairs(self) -> int:
        """Number of flow variables."""
        return len(self.pair_leg)

    @property
    def service_legs(self) -> np.ndarray:
        """Indices of legs run by departures."""
        return np.flatnonzero(~np.isnan(self.leg_service_capacity))

    @property
    def candidate_legs(self) -> np.ndarray:
        """Indices of legs the plan may open at their fixed cost."""
        return np.flatnonzero(self.leg_fixed_cost > 0)

    def pairs_by(self, key: np.ndarray, n: int) -> list[list[int]]:
        """Flow-variable indices grouped by ``key[p]`` in ``0..n-1`` (negative keys dropped)."""
        order = np.argsort(key, kind="stable")
        bounds = np.searchsorted(key[order], np.arange(n + 1)).tolist()
        flat = order.tolist()
        return [flat[bounds[i] : bounds[i + 1]] for i in range(n)]

    @cached_property
    def pairs_by_leg(self) -> list[list[int]]:
        """Flow-variable indices of each leg."""
        return self.pairs_by(self.pair_leg, len(self.leg_capacity))


@dataclass(frozen=True)
class PathData:
    """Paths and their link to (commodity, leg) pairs: path ``p`` uses pairs
    ``path_pairs[paths.ptr[p]:paths.ptr[p+1]]``; pair ``i`` is on paths ``pair_paths[pair_ptr[i]:pair_ptr[i+1]]``."""

    paths: PathSet
    path_pairs: np.ndarray
    pair_ptr: np.ndarray
    pair_paths: np.ndarray


def arc_data(
    inst: Instance, pre: Preprocessed, *, aggregate: str = "none", integer_teu: bool = False
) -> ArcData:
    """Flow groups, flow variables and capacities of the arc formulation."""
    com = pre.commodities
    com_k, legs = pre.pairs()
    if aggregate == "origin":
        key = com["class_idx"].to_numpy() * pre.net.n_nodes + com["origin_idx"].to_numpy()
        _, com_group = np.unique(key, return_inverse=True)
        pair = np.unique(np.stack([com_group[com_k], legs]), axis=1)
        pair_group, pair_leg = pair[0], pair[1]
    elif aggregate == "none":
        com_group = np.arange(len(com))
        pair_group, pair_leg = com_k, legs
    else:
        raise ValueError(f"aggregate must be 'none' or 'origin', not {aggregate!r}")
    group_class = np.zeros(com_group.max() + 1 if len(com) else 0, dtype=np.int64)
    group_class[com_group] = com["class_idx"].to_numpy()
    teu = com["teu"].to_numpy(dtype=float)
    ls = inst.legs
    border_idx = pd.Index(inst.borders.index).get_indexer(ls["border"])
    return ArcData(
        pair_group=pair_group.astype(np.int64),
        pair_leg=pair_leg.astype(np.int64),
        pair_cost=pre.cost[group_class[pair_group], pair_leg],
        group_teu=np.bincount(com_group, weights=teu, minlength=len(group_class)),
        com_group=com_group.astype(np.int64),
        com_teu=teu,
        com_penalty=com["penalty_per_teu"].to_numpy(dtype=float),
        com_origin=com["origin_idx"].to_numpy(),
        com_dest=com["dest_idx"].to_numpy(),
        leg_capacity=ls["capacity_teu"].fillna(np.inf).to_numpy(dtype=float),
        leg_service_capacity=ls["service_capacity_teu"].to_numpy(dtype=float),
        leg_service_cost=ls["service_cost"].fillna(0.0).to_numpy(dtype=float),
        leg_max_services=ls["max_services"].astype("float64").fillna(np.inf).to_numpy(dtype=float),
        leg_fixed_cost=ls["fixed_cost"].fillna(0.0).to_numpy(dtype=float),
        leg_border=border_idx.astype(np.int64),
        border_capacity=inst.borders["capacity_teu"].fillna(np.inf).to_numpy(dtype=float),
        node_capacity=inst.nodes["handling_capacity_teu"].fillna(np.inf).to_numpy(dtype=float),
        forbid_unserved=inst.settings.unserved == "forbid",
        integer_teu=integer_teu,
        leg_co2_kg=pre.legs.co2_kg,
        leg_hours=pre.legs.hours,
    )
