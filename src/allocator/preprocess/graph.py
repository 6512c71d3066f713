"""Compact arrays of the leg graph: id<->index maps and CSR adjacency, built once per instance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.instance.model import Instance


@dataclass(frozen=True)
class Network:
    """The leg graph as arrays. Node and leg indices follow ``inst.nodes`` and ``inst.legs`` order.

    ``out_ptr``/``out_legs``/``out_head`` is the forward-star (CSR by tail node) and
    ``in_ptr``/``in_legs``/``in_tail`` the backward star (CSR by head node).
    """

    node_ids: np.ndarray
    leg_ids: np.ndarray
    node_to_idx: dict[str, int]
    leg_to_idx: dict[str, int]
    leg_from: np.ndarray
    leg_to: np.ndarray
    out_ptr: np.ndarray
    out_legs: np.ndarray
    out_head: np.ndarray
    in_ptr: np.ndarray
    in_legs: np.ndarray
    in_tail: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_ids)

    @property
    def n_legs(self) -> int:
        """Number of legs."""
        return len(self.leg_ids)


def csr(tail: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR pointer and the arc order grouping arcs by ``tail`` (stable)."""
    order = np.argsort(tail, kind="stable").astype(np.int64)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail, minlength=n), out=ptr[1:])
    return ptr, order


def build_network(inst: Instance) -> Network:
    """Index maps and forward/backward stars of ``inst``'s legs."""
    node_ids = inst.nodes.index.to_numpy(dtype=object)
    leg_ids = inst.legs.index.to_numpy(dtype=object)
    index = pd.Index(node_ids)
    leg_from = index.get_indexer(inst.legs["from"]).astype(np.int64)
    leg_to = index.get_indexer(inst.legs["to"]).astype(np.int64)
    return network(node_ids, leg_ids, leg_from, leg_to)


def network(
    node_ids: np.ndarray, leg_ids: np.ndarray, leg_from: np.ndarray, leg_to: np.ndarray
) -> Network:
    """A Network from ids and leg end indices: index maps plus forward and backward stars."""
    out_ptr, out_legs = csr(leg_from, len(node_ids))
    in_ptr, in_legs = csr(leg_to, len(node_ids))
    return Network(
        node_ids=node_ids,
        leg_ids=leg_ids,
        node_to_idx={n: i for i, n in enumerate(node_ids)},
        leg_to_idx={leg: i for i, leg in enumerate(leg_ids)},
        leg_from=leg_from,
        leg_to=leg_to,
        out_ptr=out_ptr,
        out_legs=out_legs,
        out_head=leg_to[out_legs],
        in_ptr=in_ptr,
        in_legs=in_legs,
        in_tail=leg_from[in_legs],
    )


def route_legs(pred: np.ndarray, net: Network, origin: int, dest: int) -> list[int]:
    """The legs from ``origin`` to ``dest`` in a shortest-path tree (``pred[node]`` = the leg
    entering it, -1 for none); [] when ``dest`` is not reached."""
    legs: list[int] = []
    node = dest
    while node != origin and pred[node] >= 0 and len(legs) <= net.n_nodes:
        legs.append(int(pred[node]))
        node = int(net.leg_from[pred[node]])
    return legs[::-1] if node == origin else []
