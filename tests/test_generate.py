"""Synthetic instances: valid, reproducible, corridor-like, fast at scale."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from allocator.cli import main
from allocator.errors import InstanceError
from allocator.instance.generate import COUNTRIES, generate_instance
from allocator.instance.io import instance_hash, write_instance
from allocator.instance.model import Instance
from allocator.instance.validate import read_instance


def _strongly_connected(inst: Instance) -> bool:
    index = {n: k for k, n in enumerate(inst.nodes.index)}
    n = len(index)
    graph = coo_array(
        (
            np.ones(len(inst.legs)),
            (inst.legs["from"].map(index).to_numpy(), inst.legs["to"].map(index).to_numpy()),
        ),
        shape=(n, n),
    )
    count, _ = connected_components(graph, directed=True, connection="strong")
    return count == 1


def test_same_seed_same_instance() -> None:
    a = generate_instance(nodes=60, lots=120, seed=11)
    b = generate_instance(nodes=60, lots=120, seed=11)
    assert instance_hash(a) == instance_hash(b)


def test_different_seed_different_instance() -> None:
    a = generate_instance(nodes=60, lots=120, seed=11)
    b = generate_instance(nodes=60, lots=120, seed=12)
    assert instance_hash(a) != instance_hash(b)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), nodes=st.integers(5, 80), lots=st.integers(1, 200))
def test_generated_instances_are_valid(seed: int, nodes: int, lots: int) -> None:
    inst = generate_instance(nodes=nodes, lots=lots, seed=seed)  # raises on any error
    assert not any("no path" in w.message for w in inst.warnings)
    assert inst.warnings == ()
    assert len(inst.nodes) == nodes
    assert len(inst.cargo) == lots
    assert _strongly_connected(inst)
    assert (inst.cargo["origin"] != inst.cargo["destination"]).all()
    assert 3 <= inst.nodes["country"].nunique() <= 40


def test_tiny_sizes() -> None:
    inst = generate_instance(nodes=5, lots=1, seed=0)
    assert len(inst.nodes) == 5
    assert len(inst.cargo) == 1
    assert inst.nodes["country"].nunique() == 3
    assert _strongly_connected(inst)
    assert inst.warnings == ()


def test_too_few_nodes_is_refused() -> None:
    with pytest.raises(InstanceError, match="nodes must be at least 2"):
        generate_instance(nodes=1, lots=1, seed=0)


def test_corridor_features() -> None:
    inst = generate_instance(nodes=400, lots=1500, seed=5)
    nodes, legs, borders, cargo = inst.nodes, inst.legs, inst.borders, inst.cargo
    assert nodes["lon"].between(20, 125).all()
    assert nodes["lat"].between(20, 60).all()
    assert set(nodes["country"]) <= {c[0] for c in COUNTRIES}
    assert 20 <= nodes["country"].nunique() <= 30  # ~400/15
    assert set(nodes["kind"]) == {"port", "rail_terminal", "border", "hub", "city"}
    assert {"rail", "road", "sea", "ferry"} <= set(legs["mode"])
    assert legs["reverse_of"].notna().sum() == (~legs["reverse_of"].notna()).sum()
    service = legs[legs["service_capacity_teu"].notna()]
    assert len(service) > 0
    assert (service["mode"] == "ferry").all()
    assert (service["service_cost"] > 0).all()
    assert service["max_services"].notna().all()
    assert (legs["fixed_cost"] > 0).sum() >= 2  # candidate legs
    assert legs["distance_km"].isna().any()
    assert legs["cost_per_teu"].isna().any()
    assert legs["capacity_teu"].notna().any()
    assert legs["capacity_teu"].isna().any()
    modes_without_cost = set(legs.loc[legs["cost_per_teu"].isna(), "mode"])
    assert modes_without_cost <= set(inst.tariffs["mode"])
    # every land or ferry leg between two countries names the border between them
    country = nodes["country"]
    cross = (country[legs["from"]].to_numpy() != country[legs["to"]].to_numpy()) & (
        legs["mode"] != "sea"
    ).to_numpy()
    assert legs["border"][cross].notna().all()
    assert legs["border"][~cross].isna().all()
    assert borders["gauge_change"].any()
    assert not borders["gauge_change"].all()
    assert (borders.loc[borders["gauge_change"], "transshipment_cost_per_teu"] > 0).all()
    assert borders["capacity_teu"].notna().any()
    assert set(inst.classes.index) == {"general", "reefer", "dangerous", "dual_use"}
    assert set(inst.restrictions["scope"]) >= {"mode", "country", "node"}
    banned = inst.restrictions.loc[inst.restrictions["scope"] == "country", "target"].iloc[0]
    dual = cargo[cargo["class"] == "dual_use"]
    assert len(dual) > 0
    assert (country[dual["origin"]] != banned).all()
    assert (country[dual["destination"]] != banned).all()
    assert cargo["due_days"].notna().any()
    assert cargo["due_days"].isna().any()


def test_countries_are_contiguous_regions() -> None:
    """A country spans a region: its longitudes spread ~10 degrees (a random scatter of the same
    codes over the nodes spreads ~75), and western codes lie west of eastern ones."""
    inst = generate_instance(nodes=600, lots=10, seed=9)
    lon = inst.nodes.groupby("country")["lon"]
    assert (lon.max() - lon.min()).mean() < 25
    real = {c[0]: c[1] for c in COUNTRIES}
    mean = lon.mean()
    assert np.corrcoef(mean.to_numpy(), [real[c] for c in mean.index])[0, 1] > 0.8


def test_large_instance_generates_and_validates(tmp_path: Path) -> None:
    start = time.perf_counter()
    inst = generate_instance(nodes=2_000, lots=20_000, seed=2026)
    seconds = time.perf_counter() - start
    assert len(inst.nodes) == 2_000
    assert len(inst.cargo) == 20_000
    assert inst.warnings == ()
    assert _strongly_connected(inst)
    assert seconds < 60, f"generating took {seconds:.1f} s"
    again = read_instance(write_instance(inst, tmp_path / "big"))
    assert instance_hash(again) == instance_hash(inst)


def test_cli_generate_writes_a_valid_instance(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    assert main(["generate", str(out), "--nodes", "30", "--lots", "50", "--seed", "3"]) == 0
    assert (out / "instance.toml").exists()
    assert main(["validate", str(out)]) == 0
    assert instance_hash(read_instance(out)) == instance_hash(generate_instance(30, 50, 3))
