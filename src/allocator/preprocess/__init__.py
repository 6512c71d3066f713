"""Preprocessing: leg graph, cost matrices, shortest paths and pruning, before any model is built."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.instance.model import ROUTE_SEPARATOR, Instance
from allocator.preprocess import kernels
from allocator.preprocess.costs import (
    LegData,
    allowed_matrix,
    cost_matrix,
    leg_data,
    shortest_paths,
)
from allocator.preprocess.graph import Network, build_network

__all__ = ["LegData", "Network", "Preprocessed", "preprocess"]

logger = logging.getLogger(__name__)

COMMODITY_KEYS = ["origin", "destination", "class", "due_days", "penalty_per_teu"]


@dataclass(frozen=True)
class Preprocessed:
    """Arrays the formulations are built from.

    Lots with the same origin, destination, class, due days and penalty are merged into one
    *commodity* (``commodities`` row ``k``; ``lot_commodity`` maps each lot to it). The legs
    commodity ``k`` may use are ``usable_legs[usable_ptr[k]:usable_ptr[k + 1]]``: allowed for its
    class, on some origin-destination path that fits its due days, and (unless every TEU must
    move) on one whose generalised cost does not exceed the penalty of leaving a TEU unmoved.
    """

    net: Network
    legs: LegData
    class_ids: np.ndarray
    allowed: np.ndarray
    cost: np.ndarray
    time: np.ndarray
    commodities: pd.DataFrame
    lot_commodity: np.ndarray
    usable_ptr: np.ndarray
    usable_legs: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict)
    pruned: bool = True  # False: usable legs not computed (``preprocess(prune=False)``)

    @property
    def n_flow_vars(self) -> int:
        """Number of (commodity, leg) flow variables after pruning."""
        return int(self.usable_ptr[-1])

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(commodity, leg) index arrays of every usable pair, sorted by commodity."""
        counts = np.diff(self.usable_ptr)
        return np.repeat(np.arange(len(counts)), counts), self.usable_legs


def commodities_of(inst: Instance, *, merge: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    """Group lots into commodities (identical origin, destination, class, due days, penalty)."""
    cargo = inst.cargo.assign(
        penalty_per_teu=inst.cargo["penalty_per_teu"].fillna(inst.settings.default_penalty_per_teu),
        due_days=inst.cargo["due_days"].fillna(np.inf),
        lot=inst.cargo.index,
    )
    if not merge:
        com = cargo.reset_index(drop=True)[[*COMMODITY_KEYS, "teu"]]
        com["lots"] = [(lot,) for lot in cargo["lot"]]
        return com, np.arange(len(cargo))
    grouped = cargo.groupby(COMMODITY_KEYS, sort=False, dropna=False)
    com = grouped.agg(teu=("teu", "sum"), lots=("lot", tuple)).reset_index()
    return com, grouped.ngroup().to_numpy()


def preprocess(inst: Instance, *, merge: bool = True, prune: bool = True) -> Preprocessed:
    """Build the arrays: network, leg data, C and T, commodities, shortest paths and usable legs.

    ``prune=False`` skips the usable legs (no (commodity, leg) pair is listed): what path-based
    methods need, whose columns come from shortest paths, and the only way at scale, where the
    pairs number hundreds of millions.
    """
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    net = build_network(inst)
    class_ids = inst.classes.index.to_numpy(dtype=object)
    data = leg_data(inst, net)
    allowed = allowed_matrix(inst, net, class_ids)
    cost, hours = cost_matrix(inst, data, allowed, class_ids)
    seconds["costs"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    com, lot_com = commodities_of(inst, merge=merge)
    class_row = {c: i for i, c in enumerate(class_ids)}
    com["origin_idx"] = com["origin"].map(net.node_to_idx).astype(np.int64)
    com["dest_idx"] = com["destination"].map(net.node_to_idx).astype(np.int64)
    com["class_idx"] = com["class"].map(class_row).astype(np.int64)

    fwd_key = com["class_idx"] * net.n_nodes + com["origin_idx"]
    bwd_key = com["class_idx"] * net.n_nodes + com["dest_idx"]
    fwd_src, fwd_row = np.unique(fwd_key.to_numpy(), return_inverse=True)
    fwd_t, _ = shortest_paths(net, hours, fwd_src % net.n_nodes, fwd_src // net.n_nodes)
    fwd_c, fwd_pred = shortest_paths(net, cost, fwd_src % net.n_nodes, fwd_src // net.n_nodes)
    seconds["shortest_paths"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    dest = com["dest_idx"].to_numpy()
    com["cheapest_cost"] = fwd_c[fwd_row, dest]
    com["fastest_days"] = fwd_t[fwd_row, dest] / 24.0
    com["cheapest_route"] = [
        _route(fwd_pred[r], net, int(o), int(d))
        for r, o, d in zip(fwd_row, com["origin_idx"], dest, strict=True)
    ]
    com["status"] = np.select(
        [~np.isfinite(com["cheapest_cost"]), com["fastest_days"] > com["due_days"]],
        ["no_route", "no_route_within_due"],
        "ok",
    )
    del fwd_pred
    if not prune:
        ptr, usable = np.zeros(len(com) + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
        seconds["prune"] = time.perf_counter() - t0
        return Preprocessed(
            net, data, class_ids, allowed, cost, hours, com, lot_com, ptr, usable, seconds, False
        )
    bwd_src, bwd_row = np.unique(bwd_key.to_numpy(), return_inverse=True)
    bwd_t, _ = shortest_paths(
        net, hours, bwd_src % net.n_nodes, bwd_src // net.n_nodes, reverse=True
    )
    bwd_c, _ = shortest_paths(
        net, cost, bwd_src % net.n_nodes, bwd_src // net.n_nodes, reverse=True
    )
    forbid = inst.settings.unserved == "forbid"
    penalty = com["penalty_per_teu"].to_numpy(dtype=float)
    limit = np.full(len(com), np.inf) if forbid else penalty * (1 + 1e-9)
    ptr, usable = kernels.usable_legs(
        fwd_t,
        bwd_t,
        fwd_c,
        bwd_c,
        fwd_row.astype(np.int64),
        bwd_row.astype(np.int64),
        com["class_idx"].to_numpy(),
        com["origin_idx"].to_numpy(),
        dest,
        (com["due_days"] * 24.0).to_numpy(dtype=float),
        limit,
        net.leg_from,
        net.leg_to,
        hours,
        cost,
    )
    seconds["prune"] = time.perf_counter() - t0
    logger.info("preprocess: %d commodities, %d flow variables", len(com), ptr[-1])
    return Preprocessed(
        net, data, class_ids, allowed, cost, hours, com, lot_com, ptr, usable, seconds
    )


def _route(pred: np.ndarray, net: Network, origin: int, dest: int) -> str:
    """Leg ids of the shortest path ending at ``dest``, joined by ' > ' ('' when unreachable)."""
    legs = []
    node = dest
    while node != origin and pred[node] >= 0 and len(legs) <= net.n_nodes:
        legs.append(pred[node])
        node = net.leg_from[pred[node]]
    return ROUTE_SEPARATOR.join(net.leg_ids[legs[::-1]]) if node == origin else ""
