"""Re-planning against last period's plan: the inputs of ``define_stability``.

``Stability`` is what a caller gives ``build``: last period's routes and leg volumes (the tables of
its plan) and the weight and scope of the stability term. ``build`` maps them onto this period's
flow variables as a ``Reference``, which the ``define_stability`` block reads and the built model
keeps for the re-planning columns of the plan.

The mapping, lot by lot (lot ids recur week to week): each route of the previous plan whose legs
all exist and are usable by the lot's commodity this period is kept, scaled down when the lot
shrank. ``allocator.analysis.rolling`` maps the same routes onto a MIP start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from allocator.formulation.data import ArcData
from allocator.instance.model import ROUTE_SEPARATOR, Instance
from allocator.preprocess import Network, Preprocessed

EPS = 1e-9
SCOPES = ("lot", "leg")


@dataclass(frozen=True)
class Stability:
    """Last period's plan as the stability term needs it.

    ``routes`` has the plan's route columns ``lot``, ``legs`` (leg ids joined by ' > ') and
    ``teu``; ``legs`` the columns ``leg`` and ``flow_teu``. Moving a lot off its previous
    corridor costs ``weight`` per TEU (``lot`` scope) or per TEU of leg flow that changes
    (``leg`` scope); with ``weight`` 0 the model is unchanged and the plan is only compared.
    """

    routes: pd.DataFrame
    legs: pd.DataFrame
    weight: float = 0.0
    scope: Literal["lot", "leg"] = "lot"

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"stability scope must be one of {SCOPES}, not {self.scope!r}")


@dataclass(frozen=True)
class Reference:
    """Last period's plan on this period's model: TEU per leg (``leg_teu``), per flow variable
    (``pair_teu``), and per (lot, leg) (``lots``: columns lot, leg, prev_teu)."""

    weight: float
    scope: Literal["lot", "leg"]
    leg_teu: np.ndarray
    pair_teu: np.ndarray
    lots: pd.DataFrame


def previous_leg_flow(legs: pd.DataFrame, net: Network) -> np.ndarray:
    """Last period's TEU per leg of this network (0 for a new leg; legs that are gone drop out)."""
    flow = legs.set_index(legs["leg"].astype(str))["flow_teu"].astype(float)
    return flow.groupby(level=0).sum().reindex(net.leg_ids).fillna(0.0).to_numpy()


def pair_index(d: ArcData) -> dict[tuple[int, int], int]:
    """Flow variable of each (group, leg)."""
    pairs = zip(d.pair_group.tolist(), d.pair_leg.tolist(), strict=True)
    return {key: p for p, key in enumerate(pairs)}


def mapped_paths(
    inst: Instance, pre: Preprocessed, d: ArcData, routes: pd.DataFrame
) -> tuple[list[str], list[int], list[np.ndarray], list[float]]:
    """(lot, commodity, leg indices, TEU) of last period's ``routes`` that fit this period's
    model, scaled down where a lot shrank."""
    net = pre.net
    cargo = inst.cargo
    lot_pos = {lot: i for i, lot in enumerate(cargo.index)}
    pair_of = pair_index(d)
    kept: dict[str, list[tuple[np.ndarray, float]]] = {}
    for lot, legs_text, teu in zip(
        routes["lot"].astype(str), routes["legs"].astype(str), routes["teu"], strict=True
    ):
        if lot not in lot_pos or not float(teu) > EPS:
            continue
        k = int(pre.lot_commodity[lot_pos[lot]])
        g = int(d.com_group[k])
        ids = legs_text.split(ROUTE_SEPARATOR)
        if any(leg not in net.leg_to_idx for leg in ids):
            continue
        legs = np.array([net.leg_to_idx[leg] for leg in ids], dtype=np.int64)
        if any((g, int(a)) not in pair_of for a in legs):
            continue
        if net.leg_from[legs[0]] != d.com_origin[k] or net.leg_to[legs[-1]] != d.com_dest[k]:
            continue
        kept.setdefault(lot, []).append((legs, float(teu)))
    lots, coms, paths, amounts = [], [], [], []
    for lot, rows in kept.items():
        i = lot_pos[lot]
        routed = sum(t for _, t in rows)
        scale = min(1.0, float(cargo["teu"].iloc[i]) / routed) if routed > 0 else 0.0
        for legs, teu in rows:
            lots.append(lot)
            coms.append(int(pre.lot_commodity[i]))
            paths.append(legs)
            amounts.append(teu * scale)
    return lots, coms, paths, amounts


def reference(inst: Instance, pre: Preprocessed, d: ArcData, stability: Stability) -> Reference:
    """``stability``'s plan mapped onto the flow variables of ``d``."""
    lots, coms, paths, amounts = mapped_paths(inst, pre, d, stability.routes)
    pair_of = pair_index(d)
    pair_teu = np.zeros(d.n_pairs)
    rows = []
    for lot, k, legs, teu in zip(lots, coms, paths, amounts, strict=True):
        g = int(d.com_group[k])
        for a in legs:
            pair_teu[pair_of[(g, int(a))]] += teu
            rows.append((lot, pre.net.leg_ids[a], teu))
    by_lot = (
        pd.DataFrame(rows, columns=["lot", "leg", "prev_teu"])
        .groupby(["lot", "leg"], as_index=False)["prev_teu"]
        .sum()
    )
    return Reference(
        weight=float(stability.weight),
        scope=stability.scope,
        leg_teu=previous_leg_flow(stability.legs, pre.net),
        pair_teu=pair_teu,
        lots=by_lot,
    )
