"""Synthetic, corridor-like instances of any size, reproducible from a seed.

Nodes lie along three east-west corridor bands in a lon 20-125, lat 20-60 box and are grouped into
contiguous "countries" (the Voronoi cells of a few seed nodes) that carry real ISO codes, matched to
the seed nodes by their real position. Every node is linked by rail or road to its 2-3 nearest
neighbours, a spanning tree over the Delaunay triangulation keeps the network strongly connected,
ports get a few sea legs and ferry service legs, and a couple of candidate legs may be opened.
Legs between countries name a border crossing; a break of gauge (1520/1435 mm) means
transshipment. The tables go through :func:`allocator.instance.validate.validate`, so the result is typed
exactly like an instance read from files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree

from allocator.errors import InstanceError, Problem
from allocator.instance.io import RawInstance, RawTable
from allocator.instance.model import Instance
from allocator.instance.validate import validate

__all__ = ["COUNTRIES", "generate_instance"]

LON = (20.0, 125.0)
LAT = (20.0, 60.0)
EARTH_KM = 6371.0

# ISO code, approximate centre (lon, lat), track gauge family (mm)
COUNTRIES: tuple[tuple[str, float, float, int], ...] = (
    ("CN", 104, 35, 1435),
    ("MN", 103, 46, 1520),
    ("KR", 128, 36, 1435),
    ("VN", 106, 16, 1435),
    ("TH", 101, 15, 1435),
    ("BD", 90, 24, 1676),
    ("NP", 84, 28, 1676),
    ("RU", 85, 58, 1520),
    ("KZ", 67, 48, 1520),
    ("KG", 75, 41, 1520),
    ("TJ", 71, 39, 1520),
    ("UZ", 64, 41, 1520),
    ("TM", 59, 39, 1520),
    ("AF", 66, 34, 1520),
    ("PK", 69, 30, 1676),
    ("IN", 79, 22, 1676),
    ("IR", 53, 32, 1435),
    ("AZ", 48, 40, 1520),
    ("AM", 45, 40, 1520),
    ("GE", 43, 42, 1520),
    ("TR", 35, 39, 1435),
    ("IQ", 44, 33, 1435),
    ("SA", 45, 24, 1435),
    ("AE", 54, 24, 1435),
    ("OM", 57, 21, 1435),
    ("UA", 32, 49, 1520),
    ("BY", 28, 53, 1520),
    ("MD", 28, 47, 1520),
    ("LT", 24, 55, 1520),
    ("LV", 25, 57, 1520),
    ("EE", 26, 59, 1520),
    ("FI", 26, 62, 1520),
    ("SE", 16, 62, 1435),
    ("PL", 19, 52, 1435),
    ("RO", 25, 46, 1435),
    ("BG", 25, 43, 1435),
    ("GR", 22, 39, 1435),
    ("RS", 21, 44, 1435),
    ("HU", 19, 47, 1435),
    ("SK", 19, 49, 1435),
    ("CZ", 15, 50, 1435),
    ("AT", 14, 47, 1435),
    ("DE", 10, 51, 1435),
    ("NL", 5, 52, 1435),
    ("IT", 12, 42, 1435),
    ("FR", 2, 46, 1435),
    ("ES", -4, 40, 1668),
)
CORE = frozenset({"CN", "KZ", "RU", "BY", "PL", "DE", "NL", "TR", "GE", "AZ", "IR", "UZ", "MN"})
KINDS = ("port", "rail_terminal", "border", "hub", "city")
KIND_P = (0.14, 0.3, 0.06, 0.15, 0.35)
CLASSES = (  # id, value per TEU-day, share of lots, description
    ("general", 4.0, 0.72, "Dry general cargo"),
    ("reefer", 14.0, 0.14, "Temperature-controlled"),
    ("dangerous", 9.0, 0.09, "IMDG/RID dangerous goods"),
    ("dual_use", 11.0, 0.05, "Export-controlled goods; restricted routing"),
)
RATE = {"rail": 0.42, "road": 0.95, "sea": 0.09, "ferry": 0.55}  # currency/TEU-km
CIRCUITY = {"rail": 1.25, "road": 1.2, "sea": 1.3, "ferry": 1.15}
SPEED = {"rail": 30.0, "road": 50.0, "sea": 30.0, "ferry": 20.0}
TARIFF_BANDS = ((0.0, 500.0, 1.0), (500.0, 2000.0, 0.8), (2000.0, None, 0.65))  # from, to, x rate
CORRIDOR_LATS = (52.0, 42.0, 31.0)  # northern, middle, southern band centres


def _xyz(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lo, la = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def _great_circle_km(xyz: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    chord = np.linalg.norm(xyz[a] - xyz[b], axis=1)
    return 2.0 * EARTH_KM * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))


def _pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Undirected pairs (low, high) without self pairs or duplicates, sorted."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    if not keep.any():
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(np.column_stack([lo[keep], hi[keep]]).astype(np.int64), axis=0)


def _spanning_pairs(xyz: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Pairs of a spanning tree over all nodes (Euclidean MST over the Delaunay graph)."""
    n = len(xyz)
    if n <= 60:
        i, j = np.triu_indices(n, 1)
        cand = np.column_stack([i, j])
    else:
        from scipy.spatial import Delaunay

        tri = Delaunay(np.column_stack([lon * np.cos(np.radians(40.0)), lat])).simplices
        cand = _pairs(
            np.concatenate([tri[:, 0], tri[:, 1], tri[:, 2]]),
            np.concatenate([tri[:, 1], tri[:, 2], tri[:, 0]]),
        )
    weight = _great_circle_km(xyz, cand[:, 0], cand[:, 1]) + 1e-6
    graph = coo_array((weight, (cand[:, 0], cand[:, 1])), shape=(n, n)).tocsr()
    tree = minimum_spanning_tree(graph).tocoo()
    pairs = _pairs(tree.row, tree.col)
    # Points Delaunay left out (duplicates): link every other component to its nearest main node.
    count, label = connected_components(
        coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)), directed=False
    )
    if count > 1:
        main = np.flatnonzero(label == label[0])
        _, near = cKDTree(xyz[main]).query(xyz[label != label[0]])
        extra = np.column_stack([np.flatnonzero(label != label[0]), main[near]])
        pairs = _pairs(
            np.concatenate([pairs[:, 0], extra[:, 0]]), np.concatenate([pairs[:, 1], extra[:, 1]])
        )
    return pairs


def _ids(prefix: str, n: int, start: int = 0) -> np.ndarray:
    width = max(4, len(str(start + n)))
    numbers = pd.Series(np.arange(start + 1, start + n + 1)).astype(str).str.zfill(width)
    return (prefix + numbers).to_numpy(dtype=object)


def _nullable(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Float column with NaN (an empty cell) where ``missing``."""
    return np.where(missing, np.nan, values)


def generate_instance(nodes: int, lots: int, seed: int) -> Instance:
    """A random, valid, corridor-like instance with ``nodes`` nodes and ``lots`` cargo lots.

    The same ``seed`` always gives the same instance. The network is strongly connected, so every
    lot has a path; some legs leave ``distance_km`` or ``cost_per_teu`` empty (great-circle
    distance, tariff bands), some capacities bind, one class is restricted.
    """
    if nodes < 2:
        raise InstanceError([Problem("generate", "nodes must be at least 2", "nodes", nodes)])
    if lots < 0:
        raise InstanceError([Problem("generate", "lots must not be negative", "lots", lots)])
    rng = np.random.default_rng(seed)
    n = int(nodes)

    # ------------------------------------------------------------ nodes
    band = rng.integers(0, len(CORRIDOR_LATS), n)
    lat = np.asarray(CORRIDOR_LATS)[band] + rng.normal(0.0, 3.5, n)
    scatter = rng.random(n) < 0.3
    lat = np.where(scatter, rng.uniform(*LAT, n), lat)
    lat = np.round(np.clip(lat, *LAT), 4)
    lon = np.round(rng.uniform(*LON, n), 4)
    xyz = _xyz(lon, lat)
    tree = cKDTree(xyz)

    n_countries = min(n, int(np.clip(round(n / 15), 3, 40)))
    weight = np.array([3.0 if c[0] in CORE else 1.0 for c in COUNTRIES])
    codes = np.sort(rng.choice(len(COUNTRIES), n_countries, replace=False, p=weight / weight.sum()))
    real = np.array([COUNTRIES[c][1:3] for c in codes], dtype=float)
    centre = np.column_stack(
        [
            LON[0] + (real[:, 0] + 4.0) / 132.0 * (LON[1] - LON[0]),
            LAT[0] + (real[:, 1] - 15.0) / 47.0 * (LAT[1] - LAT[0]),
        ]
    )
    # each country's seed: a distinct node near its real centre; countries are the seeds' Voronoi
    # cells, so each is one contiguous region
    _, seeds = linear_sum_assignment(
        np.hypot(centre[:, None, 0] - lon[None, :], centre[:, None, 1] - lat[None, :])
    )
    _, owner = cKDTree(xyz[seeds]).query(xyz)
    country = np.array([COUNTRIES[c][0] for c in codes], dtype=object)[owner]
    gauge = np.array([COUNTRIES[c][3] for c in codes])[owner]
    seed_code = np.array([COUNTRIES[c][0] for c in codes], dtype=object)

    kind = np.asarray(KINDS, dtype=object)[rng.choice(len(KINDS), n, p=KIND_P)]
    if (kind == "port").sum() < 2:
        kind[rng.choice(n, 2, replace=False)] = "port"
    node_ids = (country.astype(str) + "_") + _ids("", n)

    # ------------------------------------------------------------ land legs
    k = min(4, n)
    _, near = tree.query(xyz, k=k)
    near = near.reshape(n, k)
    degree = rng.integers(2, 4, n)  # 2 or 3 nearest neighbours
    cols_ok = np.arange(1, k)[None, :] <= degree[:, None]
    src = np.repeat(np.arange(n), k - 1).reshape(n, k - 1)[cols_ok]
    knn = np.column_stack([src, near[:, 1:][cols_ok]])
    backbone = _spanning_pairs(xyz, lon, lat)
    land = _pairs(
        np.concatenate([knn[:, 0], backbone[:, 0]]), np.concatenate([knn[:, 1], backbone[:, 1]])
    )
    land_km = _great_circle_km(xyz, land[:, 0], land[:, 1])
    road = rng.random(len(land)) < np.where(land_km < 400.0, 0.55, 0.15)
    land_mode = np.where(road, "road", "rail").astype(object)

    # ------------------------------------------------------------ sea, ferry, candidate legs
    ports = np.flatnonzero(kind == "port")
    n_sea = max(1, len(ports) // 3)
    a = rng.choice(ports, n_sea)
    b = (np.searchsorted(ports, a) + 1 + rng.integers(0, len(ports) - 1, n_sea)) % len(ports)
    sea = _pairs(a, ports[b])
    port_k = min(2, len(ports))
    _, port_near = cKDTree(xyz[ports]).query(xyz[ports], k=port_k)
    n_ferry = max(1, len(ports) // 8)
    f = rng.choice(len(ports), n_ferry, replace=False)
    ferry = _pairs(ports[f], ports[port_near.reshape(len(ports), port_k)[f, port_k - 1]])
    n_cand = max(2, n // 200)
    c = rng.choice(n, n_cand)
    k2 = min(7, n)
    _, far = tree.query(xyz[c], k=k2)
    cand = _pairs(c, far.reshape(n_cand, k2)[:, k2 - 1])

    pairs = np.concatenate([land, sea, ferry, cand])
    mode = np.concatenate(
        [land_mode, ["sea"] * len(sea), ["ferry"] * len(ferry), ["rail"] * len(cand)]
    ).astype(object)
    is_ferry = mode == "ferry"
    is_cand = np.arange(len(pairs)) >= len(pairs) - len(cand)
    m = len(pairs)
    flip = rng.random(m) < 0.5  # direction of the written leg; reverse=true adds the other one
    frm = np.where(flip, pairs[:, 1], pairs[:, 0])
    to = np.where(flip, pairs[:, 0], pairs[:, 1])
    gc_km = _great_circle_km(xyz, frm, to)
    circuity = np.array([CIRCUITY[x] for x in mode])
    distance = np.round(gc_km * circuity * rng.uniform(0.97, 1.08, m), 1)
    rate = np.array([RATE[x] for x in mode])
    cost = np.round(distance * rate * rng.uniform(0.85, 1.2, m) + rng.uniform(20, 120, m), 2)

    # ------------------------------------------------------------ borders
    cf, ct = country[frm], country[to]
    crossing = (cf != ct) & (mode != "sea")
    lo_c = np.where(cf < ct, cf, ct)
    hi_c = np.where(cf < ct, ct, cf)
    border = np.where(crossing, lo_c.astype(str) + "-" + hi_c.astype(str), None).astype(object)
    border_ids, first = np.unique(border[crossing].astype(str), return_index=True)
    nb = len(border_ids)
    crossing_rows = np.flatnonzero(crossing)[first]
    gauge_change = gauge[frm[crossing_rows]] != gauge[to[crossing_rows]]
    total_teu_guess = max(lots, 1) * 22.0
    border_cap = np.round(total_teu_guess / max(nb, 1) * rng.uniform(0.4, 2.5, nb))
    borders = pd.DataFrame(
        {
            "id": border_ids,
            "name": [f"{x.replace('-', '/')} crossing" for x in border_ids],
            "from_country": lo_c[crossing_rows],
            "to_country": hi_c[crossing_rows],
            "capacity_teu": _nullable(border_cap, rng.random(nb) < 0.4),
            "dwell_hours": np.round(rng.uniform(4, 48, nb), 1),
            "fee_per_teu": np.round(rng.uniform(0, 60, nb), 2),
            "gauge_change": gauge_change,
            "transshipment_cost_per_teu": np.where(
                gauge_change, np.round(rng.uniform(40, 140, nb), 2), 0.0
            ),
        }
    )
    # endpoints of border legs become border stations now and then (ports stay ports)
    station = np.unique(np.concatenate([frm[crossing], to[crossing]]))
    station = station[(kind[station] != "port") & (rng.random(len(station)) < 0.5)]
    kind[station] = "border"

    # ------------------------------------------------------------ legs table
    mean_flow = total_teu_guess * max(np.sqrt(n), 2.0) / max(m, 1)
    no_distance = (rng.random(m) < 0.3) & ~is_cand
    no_cost = rng.random(m) < 0.3
    given_hours = rng.random(m) < 0.3
    speed = np.array([SPEED[x] for x in mode])
    service_cap = rng.choice([40.0, 60.0, 90.0, 150.0], m)
    lat_mid = (lat[frm] + lat[to]) / 2.0
    corridor = np.where(lat_mid > 47.0, "northern", np.where(lat_mid > 36.5, "middle", "southern"))
    corridor = np.where(mode == "sea", "sea", np.where(is_ferry, "caspian", corridor)).astype(
        object
    )
    legs = pd.DataFrame(
        {
            "id": np.concatenate(
                [
                    _ids("RL", len(land)),
                    _ids("SE", len(sea), len(land)),
                    _ids("FE", len(ferry), len(land) + len(sea)),
                    _ids("CX", len(cand), len(land) + len(sea) + len(ferry)),
                ]
            ),
            "from": node_ids[frm],
            "to": node_ids[to],
            "mode": mode,
            "distance_km": _nullable(distance, no_distance),
            "transit_hours": _nullable(
                np.round(gc_km * circuity / speed * rng.uniform(0.9, 1.4, m), 1), ~given_hours
            ),
            "cost_per_teu": _nullable(cost, no_cost),
            "capacity_teu": _nullable(
                np.round(mean_flow * rng.uniform(0.3, 3.0, m)), rng.random(m) >= 0.25
            ),
            "service_capacity_teu": _nullable(service_cap, ~is_ferry),
            "service_cost": np.where(
                is_ferry, np.round(service_cap * rng.uniform(60, 160, m)), 0.0
            ),
            "max_services": _nullable(rng.integers(2, 15, m).astype(float), ~is_ferry),
            "fixed_cost": np.where(is_cand, np.round(rng.uniform(2e4, 2e5, m), -2), 0.0),
            "border": border,
            "co2_kg_per_teu_km": _nullable(
                np.round(rng.uniform(0.1, 1.0, m), 3), rng.random(m) >= 0.05
            ),
            "corridor": corridor,
            "reverse": True,
        }
    )

    # ------------------------------------------------------------ classes, restrictions
    classes = pd.DataFrame(
        {
            "id": [c[0] for c in CLASSES],
            "value_per_teu_day": [c[1] for c in CLASSES],
            "description": [c[3] for c in CLASSES],
        }
    )
    banned_country = str(rng.choice(seed_code))
    restrictions = [
        ("dangerous", "mode", "ferry", "No dangerous goods on passenger ferries"),
        ("reefer", "node", str(node_ids[rng.integers(n)]), "No reefer plugs"),
        ("dual_use", "country", banned_country, "Export controls"),
    ]
    if nb:
        restrictions.append(
            ("dual_use", "border", str(rng.choice(border_ids)), "No licence for this crossing")
        )
    restrictions.append(("dangerous", "leg", str(legs["id"].iloc[rng.integers(m)]) + "~r", ""))

    # ------------------------------------------------------------ cargo
    east = (lon - LON[0]) / (LON[1] - LON[0])
    p_origin = (0.25 + east**2) / (0.25 + east**2).sum()  # mostly east to west
    p_dest = (0.25 + (1 - east) ** 2) / (0.25 + (1 - east) ** 2).sum()
    origin = rng.choice(n, lots, p=p_origin)
    dest = rng.choice(n, lots, p=p_dest)
    klass = rng.choice(len(CLASSES), lots, p=[c[2] for c in CLASSES])
    allowed = np.flatnonzero(country != banned_country)
    dual = np.flatnonzero(klass == len(CLASSES) - 1)
    if len(allowed) >= 2:  # dual-use lots start and end outside the banned country
        origin[dual] = rng.choice(allowed, len(dual))
        dest[dual] = rng.choice(allowed, len(dual))
        same = dual[origin[dual] == dest[dual]]
        pos = np.searchsorted(allowed, dest[same])
        dest[same] = allowed[
            (pos + 1 + rng.integers(0, len(allowed) - 1, len(same))) % len(allowed)
        ]
    else:
        klass[dual] = 0
    same = origin == dest
    dest[same] = (dest[same] + 1 + rng.integers(0, n - 1, same.sum())) % n
    # dual-use lots keep their allowed endpoints: the shift above only touches non-dual lots
    teu = np.round(rng.lognormal(2.6, 0.8, lots).clip(1, 400))
    cargo = pd.DataFrame(
        {
            "id": _ids("LOT", lots),
            "origin": node_ids[origin],
            "destination": node_ids[dest],
            "teu": teu,
            "class": np.asarray([c[0] for c in CLASSES], dtype=object)[klass],
            "due_days": _nullable(np.round(rng.uniform(12, 45, lots)), rng.random(lots) >= 0.3),
            "penalty_per_teu": _nullable(
                np.round(rng.uniform(3000, 20000, lots), -2), rng.random(lots) >= 0.1
            ),
        }
    )

    # ------------------------------------------------------------ nodes table, tariffs
    hub = np.isin(kind, ("port", "hub", "border"))
    nodes_df = pd.DataFrame(
        {
            "id": node_ids,
            "name": [
                f"{c} {k.replace('_', ' ')} {i + 1}"
                for i, (c, k) in enumerate(zip(country, kind, strict=True))
            ],
            "country": country,
            "lat": lat,
            "lon": lon,
            "kind": kind,
            "handling_cost_per_teu": np.round(rng.uniform(5, 45, n), 2),
            "handling_capacity_teu": _nullable(
                np.round(total_teu_guess / n * rng.uniform(2, 8, n)), ~hub | (rng.random(n) >= 0.3)
            ),
            "dwell_hours": np.where(hub, np.round(rng.uniform(6, 36, n), 1), 0.0),
        }
    )
    tariffs = pd.DataFrame(
        [
            {
                "mode": mode_name,
                "from_km": lo,
                "to_km": hi,
                "cost_per_teu_km": round(rate_km * factor, 4),
                "fixed_per_teu": 40.0 + 30.0 * band_no,
            }
            for mode_name, rate_km in RATE.items()
            for band_no, (lo, hi, factor) in enumerate(TARIFF_BANDS)
        ]
    )

    tables = {
        "nodes": nodes_df,
        "legs": legs,
        "borders": borders,
        "classes": classes,
        "cargo": cargo,
        "restrictions": pd.DataFrame(restrictions, columns=["class", "scope", "target", "reason"]),
        "tariffs": tariffs,
    }
    settings = {
        "name": f"generated-n{n}-k{lots}-s{seed}",
        "currency": "USD",
        "period": "2026-W01",
        "unserved": "penalty",
        "default_penalty_per_teu": 10_000.0,
        "co2_price_per_t": 80.0,
    }
    raw = RawInstance(
        path=Path("<generated>"),
        settings=settings,
        tables={
            name: RawTable(name, frame, f"generated {name}", "row", 1)
            for name, frame in tables.items()
        },
        settings_source="generated settings",
    )
    return validate(raw)
