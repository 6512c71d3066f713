"""The report's network map: legs at real coordinates over an offline country outline, as inline SVG.

Projection: equirectangular with the longitude scaled by cos(mid latitude), fitted to the extent of
the nodes and of the drawn leg geometry. Because it is affine in (lon, -lat), the country outline is
embedded once per page (``outline_defs``) and every map places it with one SVG transform.

Sea and ferry legs whose straight line would cross land are drawn along approximate sea lanes
(Suez, Malacca, the Danish straits, ...): shortest path over a small graph of hand-placed sea
waypoints, each edge weighted by its length times (1 + ``LAND_PENALTY`` x the share of it over land
in a rasterised copy of the outline). The lanes are schematic, the leg's cost and time are not.
"""

from __future__ import annotations

import heapq
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib.resources import files
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from allocator.instance.model import Instance
from allocator.results import BINDING

EPS = 1e-6
WIDTH = 1000.0  # SVG user units of a map
PAD = 14.0
MAX_LEG_WIDTH = 11.0
MIN_LEG_WIDTH = 1.4
GRID_RES = 0.25  # degrees per land-grid cell
LAND_PENALTY = 30.0
ROUTE_IF_LAND = 0.15  # route a sea leg along the lanes when this share of its line is land
LABELS = (
    40  # node labels tried on the overview (the detail map tries them all); overlaps are dropped
)
KEY_KINDS = ("port", "hub")  # labelled first, busiest first; then the other nodes, busiest first
LABEL_CHAR = 7.0  # width of a character of a 12 px label, in map units (generous)
LABEL_HEIGHT = 15.0

CORRIDOR_COLOURS = {
    "northern": "#3b6fb6",
    "middle": "#e08a2c",
    "instc": "#3f9a5b",
    "sea": "#2a9ab3",
    "local": "#8c8c8c",
}
OTHER_COLOURS = ("#8e5ea2", "#c4566b", "#6b8e23", "#b8860b", "#4b6584", "#a0522d")
REVERSE_SUFFIX = "~r"  # a leg created by ``reverse``: the opposite direction of the leg it names

# utilisation bins: (upper bound, colour, legend text); binding at results.BINDING
UTIL_BINS: tuple[tuple[float, str, str], ...] = (
    (0.5, "#4575b4", "< 50 %"),
    (0.8, "#5aae61", "50–80 %"),
    (0.95, "#f1a340", "80–95 %"),
    (BINDING, "#e7602a", "95–99.9 %"),
    (math.inf, "#b2182b", "binding (≥ 99.9 %)"),
)
NO_LIMIT = "#5d6d7e"  # used legs without a capacity
GAIN, LOSS = "#1a9850", "#d73027"  # difference maps: legs carrying more / less than the first run
UNUSED = "#b4bac2"

# approximate sea lanes (lon, lat): every point lies at sea in the 1:110m outline
WAYPOINTS: dict[str, tuple[float, float]] = {
    "Yellow Sea": (123.5, 35.0),
    "East China Sea": (123.5, 29.5),
    "Taiwan Strait": (119.8, 24.0),
    "South China Sea N": (115.0, 19.0),
    "South China Sea S": (109.0, 8.0),
    "Singapore Strait": (104.5, 1.0),
    "Malacca Strait S": (101.2, 2.2),
    "Malacca Strait N": (99.0, 4.6),
    "Great Channel": (95.0, 6.5),
    "Dondra Head": (80.6, 5.0),
    "Arabian Sea": (66.0, 14.0),
    "Gulf of Oman": (58.8, 24.2),
    "Hormuz": (56.5, 26.5),
    "Middle Caspian": (50.0, 42.0),
    "South Caspian": (50.8, 39.0),
    "Gulf of Aden": (47.0, 12.5),
    "Bab-el-Mandeb": (43.4, 12.6),
    "Red Sea": (38.0, 21.0),
    "Gulf of Suez": (33.7, 27.6),
    "Port Said": (32.3, 31.8),
    "Eastern Mediterranean": (27.0, 33.8),
    "Aegean": (25.3, 37.5),
    "Dardanelles": (26.2, 40.0),
    "Marmara": (28.0, 40.8),
    "Bosporus": (29.2, 41.4),
    "Malta": (14.5, 35.5),
    "Strait of Sicily": (9.5, 37.8),
    "Alboran": (-3.0, 36.0),
    "Gibraltar": (-6.0, 35.9),
    "Cape St Vincent": (-9.8, 36.8),
    "Finisterre": (-10.3, 43.3),
    "Ushant": (-5.8, 48.6),
    "Dover": (1.6, 51.0),
    "North Sea": (4.0, 53.5),
    "Skagerrak": (8.5, 57.8),
    "Kattegat": (11.5, 57.0),
    "Oresund": (12.6, 55.85),
    "Bornholm": (15.5, 55.0),
    "Central Baltic": (19.0, 57.0),
    "Gulf of Finland": (24.0, 59.8),
}

Point = tuple[float, float]


# ---------------------------------------------------------------- outline


@cache
def load_outline() -> dict[str, Any]:
    """The packaged country outline (see ``allocator/report/outline/README.md``)."""
    text = files("allocator.report.outline").joinpath("outline.json").read_text(encoding="utf-8")
    outline: dict[str, Any] = json.loads(text)
    return outline


def _ring_d(ring: list[float]) -> str:
    pairs = (f"{ring[i]:g},{-ring[i + 1]:g}" for i in range(0, len(ring), 2))
    return "M" + " ".join(pairs) + "Z"


@cache
def outline_defs() -> str:
    """A zero-size SVG holding the outline in (lon, -lat) units: ``#outline`` and ``#ol-XX``."""
    paths = []
    for c in load_outline()["countries"]:
        d = "".join(_ring_d(r) for r in c["rings"])
        ident = f' id="ol-{escape(c["iso2"])}"' if c["iso2"] else ""
        paths.append(
            f'<path{ident} d="{d}" vector-effect="non-scaling-stroke">'
            f"<title>{escape(c['name'])}</title></path>"
        )
    return (
        '<svg class="defs" width="0" height="0" aria-hidden="true"><defs><g id="outline">'
        + "".join(paths)
        + "</g></defs></svg>"
    )


@cache
def _land_grid() -> tuple[np.ndarray, float, float]:
    """Land cells of the outline on a GRID_RES raster: (mask[row, col], lon0, lat0)."""
    lon0, lat0, lon1, lat1 = load_outline()["bbox"]
    cols, rows = round((lon1 - lon0) / GRID_RES), round((lat1 - lat0) / GRID_RES)
    yc = lat0 + (np.arange(rows) + 0.5) * GRID_RES
    toggles = np.zeros((rows, cols + 1), dtype=np.int64)
    for c in load_outline()["countries"]:
        for ring in c["rings"]:
            xy = np.asarray(ring, dtype=float).reshape(-1, 2)
            x1, y1 = xy[:, 0], xy[:, 1]
            x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
            crosses = (y1[:, None] <= yc[None, :]) != (y2[:, None] <= yc[None, :])
            e, r = np.nonzero(crosses)
            xc = x1[e] + (yc[r] - y1[e]) * (x2[e] - x1[e]) / (y2[e] - y1[e])
            col = np.clip(np.ceil((xc - lon0) / GRID_RES - 0.5), 0, cols).astype(np.int64)
            np.add.at(toggles, (r, col), 1)
    land = (np.cumsum(toggles, axis=1)[:, :cols] % 2).astype(bool)  # even-odd fill
    return land, lon0, lat0


def land_share(a: Point, b: Point) -> float:
    """Share of the segment a-b (ends excluded) over land; 0 outside the outline's box."""
    land, lon0, lat0 = _land_grid()
    n = max(8, int(math.hypot(b[0] - a[0], b[1] - a[1]) / GRID_RES))
    t = np.linspace(0.08, 0.92, n)
    col = np.floor((a[0] + t * (b[0] - a[0]) - lon0) / GRID_RES).astype(np.int64)
    row = np.floor((a[1] + t * (b[1] - a[1]) - lat0) / GRID_RES).astype(np.int64)
    inside = (row >= 0) & (row < land.shape[0]) & (col >= 0) & (col < land.shape[1])
    hits = land[row[inside], col[inside]]
    return float(hits.sum() / n)


def _length(a: Point, b: Point) -> float:
    k = math.cos(math.radians((a[1] + b[1]) / 2))
    return math.hypot((b[0] - a[0]) * k, b[1] - a[1])


def _cost(a: Point, b: Point) -> float:
    return _length(a, b) * (1.0 + LAND_PENALTY * land_share(a, b))


@cache
def _lane_costs() -> np.ndarray:
    pts = list(WAYPOINTS.values())
    n = len(pts)
    cost = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            cost[i, j] = cost[j, i] = _cost(pts[i], pts[j])
    return cost


@cache
def sea_route(a: Point, b: Point) -> tuple[Point, ...]:
    """The points of a sea leg from a to b: straight unless it would cross land."""
    if land_share(a, b) <= ROUTE_IF_LAND:
        return (a, b)
    pts = [a, b, *WAYPOINTS.values()]
    n, lanes = len(pts), _lane_costs()

    def cost(i: int, j: int) -> float:
        if i >= 2 and j >= 2:
            return float(lanes[i - 2, j - 2])
        return _cost(pts[i], pts[j])

    dist, pred = {0: 0.0}, {}
    heap = [(0.0, 0)]
    while heap:
        d, u = heapq.heappop(heap)
        if u == 1:
            break
        if d > dist[u]:
            continue
        for v in range(1, n):
            nd = d + cost(u, v)
            if v != u and nd < dist.get(v, math.inf):
                dist[v], pred[v] = nd, u
                heapq.heappush(heap, (nd, v))
    path, node = [1], 1
    while node != 0:
        node = pred[node]
        path.append(node)
    return tuple(pts[i] for i in reversed(path))


# ---------------------------------------------------------------- projection


@dataclass(frozen=True)
class Projection:
    """Equirectangular: x = (lon - lon0) * kx * scale + PAD, y = (lat1 - lat) * scale + PAD."""

    lon0: float
    lat1: float
    kx: float
    scale: float
    width: float
    height: float

    def xy(self, p: Point) -> Point:
        """Map units of a (lon, lat) point."""
        return (
            (p[0] - self.lon0) * self.kx * self.scale + PAD,
            (self.lat1 - p[1]) * self.scale + PAD,
        )

    def matrix(self) -> str:
        """The SVG transform taking (lon, -lat) to map units."""
        a, d = self.kx * self.scale, self.scale
        e, f = -self.lon0 * a + PAD, self.lat1 * d + PAD
        return f"matrix({a:.5f} 0 0 {d:.5f} {e:.3f} {f:.3f})"


def fit(
    points: list[Point],
    width: float = WIDTH,
    aspect: tuple[float, float] = (0.45, 0.75),
    margin: float = 1.08,
) -> Projection:
    """The projection showing every point (spans times ``margin``), height within ``aspect`` x width."""
    lons = np.array([p[0] for p in points])
    lats = np.array([p[1] for p in points])
    lo0, lo1 = float(lons.min()), float(lons.max())
    la0, la1 = float(lats.min()), float(lats.max())
    kx = math.cos(math.radians((la0 + la1) / 2))
    span_x = max((lo1 - lo0) * kx, 2.0) * margin
    span_y = max(la1 - la0, 2.0) * margin
    inner_w = width - 2 * PAD
    lo_h, hi_h = aspect[0] * width - 2 * PAD, aspect[1] * width - 2 * PAD
    scale = min(inner_w / span_x, hi_h / span_y)
    height = min(max(span_y * scale, lo_h), hi_h)
    # centre the points in the frame
    cx, cy = (lo0 + lo1) / 2, (la0 + la1) / 2
    lon0 = cx - inner_w / 2 / (kx * scale)
    lat1 = cy + height / 2 / scale
    return Projection(lon0, lat1, kx, scale, width, height + 2 * PAD)


# ---------------------------------------------------------------- drawing


def util_colour(utilisation: float) -> str:
    """Colour of a used leg or border by its utilisation (NaN: no capacity limit)."""
    if not math.isfinite(utilisation):
        return NO_LIMIT
    return next(colour for bound, colour, _ in UTIL_BINS if utilisation < bound)


def corridor_colour(corridor: str, i: int = 0) -> str:
    """Colour of a corridor (the bar chart's and the map's); others by their position ``i``."""
    return CORRIDOR_COLOURS.get(corridor, OTHER_COLOURS[i % len(OTHER_COLOURS)])


def leg_corridor(tag: object) -> str:
    """The corridor a leg is drawn in: its tag, ``local`` when it has none."""
    return tag.strip() if isinstance(tag, str) and tag.strip() else "local"


def leg_label(
    leg: str, mode: object, corridor: object, a: str, b: str, names: Mapping[str, str]
) -> str:
    """What a leg is, for its hover: id, mode, corridor (and the leg it reverses), and its two
    nodes by name and id."""
    reverse = (
        f", reverse of {leg.removesuffix(REVERSE_SUFFIX)}" if leg.endswith(REVERSE_SUFFIX) else ""
    )
    tag = corridor if isinstance(corridor, str) and corridor else "no corridor"
    return f"{leg} ({mode}, {tag}{reverse}): {names.get(a, a)} ({a}) → {names.get(b, b)} ({b})"


def leg_state(utilisation: float, capacity_teu: object, service_slots_teu: object) -> str:
    """A used leg's utilisation of its capacity (the lower of ``capacity_teu`` and the slots of
    the departures it runs), or "no capacity limit"."""
    if not math.isfinite(utilisation):
        return "no capacity limit"
    limit = float(np.fmin(_float(capacity_teu), _float(service_slots_teu)))
    return f"utilisation {utilisation:.0%} of {_num(limit)} TEU"


def node_label(node: str, place: Mapping[str, object] | pd.Series) -> str:
    """What a node is, for its hover: name, id, kind and country."""
    return f"{place['name']} ({node}; {place['kind']}, {place['country']})"


def node_teu(
    src: Iterable[object], dst: Iterable[object], teu: Iterable[float]
) -> dict[str, float]:
    """TEU through each node: half the TEU of the legs that start or end there."""
    through: dict[str, float] = defaultdict(float)
    for a, b, f in zip(src, dst, teu, strict=True):
        through[str(a)] += f / 2
        through[str(b)] += f / 2
    return through


Box = tuple[float, float, float, float]


def place_label(
    x: float, y: float, text: str, placed: list[Box], width: float, height: float
) -> tuple[float, float, str] | None:
    """Where the label of a node at (x, y) goes: (text x, text y, anchor) right, left, above or
    below the node, the first whose box stays inside the map and clear of ``placed`` (the box is
    appended); None when every place collides."""
    w = LABEL_CHAR * len(text) + 2
    h = LABEL_HEIGHT
    candidates = (
        (x + 6, y - 4, "start", (x + 5, y - 4 - h + 3, x + 5 + w, y - 4 + 4)),
        (x - 6, y - 4, "end", (x - 5 - w, y - 4 - h + 3, x - 5, y - 4 + 4)),
        (x, y - 8, "middle", (x - w / 2, y - 8 - h + 3, x + w / 2, y - 8 + 4)),
        (x, y + 16, "middle", (x - w / 2, y + 16 - h + 3, x + w / 2, y + 16 + 4)),
    )
    for tx, ty, anchor, box in candidates:
        if box[0] < 2 or box[2] > width - 2 or box[1] < 2 or box[3] > height - 2:
            continue
        if all(b[2] < box[0] or b[0] > box[2] or b[3] < box[1] or b[1] > box[3] for b in placed):
            placed.append(box)
            return tx, ty, anchor
    return None


def leg_width(teu: float, max_teu: float) -> float:
    """Stroke width of a leg carrying ``teu``: proportional, the busiest ``MAX_LEG_WIDTH``."""
    return max(MIN_LEG_WIDTH, MAX_LEG_WIDTH * teu / max_teu)


def _float(v: Any) -> float:
    """A table cell as a float; NaN for missing or non-numbers."""
    try:
        return float(v) if v is not None and not pd.isna(v) else math.nan
    except (TypeError, ValueError):
        return math.nan


def _num(v: float, fmt: str = ",.0f") -> str:
    return "–" if v is None or not math.isfinite(v) else format(v, fmt)


def _offset(points: list[Point], d: float) -> list[Point]:
    """The polyline moved ``d`` units to the right of its direction of travel."""
    if d == 0 or len(points) < 2:
        return points
    normals = []
    for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        normals.append((-(y2 - y1) / length, (x2 - x1) / length))
    out = []
    for i, (x, y) in enumerate(points):
        ns = normals[max(0, i - 1) : i + 1]
        nx, ny = sum(n[0] for n in ns) / len(ns), sum(n[1] for n in ns) / len(ns)
        norm = math.hypot(nx, ny) or 1.0
        out.append((x - d * nx / norm, y - d * ny / norm))
    return out


def _path_d(points: list[Point]) -> str:
    """A polyline with rounded corners (quadratic curves through the segment midpoints)."""
    f = "{:.1f},{:.1f}".format
    if len(points) == 2:
        return f"M{f(*points[0])}L{f(*points[1])}"
    parts = [f"M{f(*points[0])}"]
    for i in range(1, len(points) - 1):
        (x0, y0), (x1, y1), (x2, y2) = points[i - 1], points[i], points[i + 1]
        start = ((x0 + x1) / 2, (y0 + y1) / 2) if i > 1 else (x0, y0)
        parts.append(f"L{f(*start)}Q{f(x1, y1)} {f((x1 + x2) / 2, (y1 + y2) / 2)}")
    parts.append(f"L{f(*points[-1])}")
    return "".join(parts)


def _midpoint(points: list[Point]) -> Point:
    """The point halfway along a polyline."""
    lengths = [
        math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(points, points[1:], strict=False)
    ]
    half = sum(lengths) / 2
    for (a, b), length in zip(zip(points, points[1:], strict=False), lengths, strict=True):
        if half <= length and length > 0:
            t = half / length
            return (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
        half -= length
    return points[-1]


def leg_geometry(legs: pd.DataFrame, coords: dict[str, Point]) -> dict[str, tuple[Point, ...]]:
    """(lon, lat) points of every leg whose two nodes have coordinates."""
    out = {}
    for leg, a, b, mode in legs[["leg", "from", "to", "mode"]].itertuples(index=False):
        if a in coords and b in coords:
            pa, pb = coords[a], coords[b]
            out[str(leg)] = sea_route(pa, pb) if mode in ("sea", "ferry") else (pa, pb)
    return out


def detail_window(inst: Instance) -> tuple[float, float, float, float] | None:
    """(lon0, lat0, lon1, lat1) around the densest cluster of nodes, worth a zoomed map, or None.

    The cluster: the nodes in a window a quarter of the nodes' width (half as high, in projected
    units) centred on the node that sees the most nodes inside it; it is worth drawing when it
    holds at least ``max(6, 20 %)`` of the nodes. The result is the cluster's extent plus a margin.
    """
    lon = inst.nodes["lon"].to_numpy(dtype=float)
    lat = inst.nodes["lat"].to_numpy(dtype=float)
    if len(lon) < 6:
        return None
    kx = math.cos(math.radians((lat.min() + lat.max()) / 2))
    x = lon * kx
    w = (x.max() - x.min()) / 4
    h = w / 2
    if w <= 0:
        return None
    inside = (np.abs(x[:, None] - x[None, :]) <= w / 2) & (
        np.abs(lat[:, None] - lat[None, :]) <= h / 2
    )
    counts = inside.sum(axis=1)
    best = int(np.argmax(counts))
    if counts[best] < max(6, 0.2 * len(lon)):
        return None
    members = inside[best]
    lo0, lo1 = float(lon[members].min()), float(lon[members].max())
    la0, la1 = float(lat[members].min()), float(lat[members].max())
    mx, my = 0.06 * (lo1 - lo0) + 0.5, 0.06 * (la1 - la0) + 0.5
    return (lo0 - mx, la0 - my, lo1 + mx, la1 + my)


def render_map(
    plan_legs: pd.DataFrame,
    borders: pd.DataFrame,
    inst: Instance,
    uid: str,
    *,
    window: tuple[float, float, float, float] | None = None,
    frame: tuple[float, float, float, float] | None = None,
    change: str = "",
) -> str:
    """The map SVG of one plan: ``plan_legs`` / ``borders`` are the Plan's tables.

    Without ``window`` the overview, fitted to the nodes and the drawn legs (``frame``: a window
    to outline on it); with ``window`` (lon0, lat0, lon1, lat1) a zoomed detail map of it. With
    ``change`` (the name of the run compared against), ``flow_teu`` holds each leg's difference
    to that run: legs are drawn by its size, in ``GAIN`` or ``LOSS``, and borders are left out.
    """
    nodes = inst.nodes
    coords = {
        str(i): (float(lon), float(lat))
        for i, lon, lat in zip(nodes.index, nodes["lon"], nodes["lat"], strict=True)
    }
    geometry = leg_geometry(plan_legs, coords)
    if window is None:
        proj = fit(list(coords.values()) + [p for g in geometry.values() for p in g])
        ident, cls, n_labels = f"{uid}-map", "map", LABELS
    else:
        corners = [(window[0], window[1]), (window[2], window[3])]
        proj = fit(corners, aspect=(0.45, 0.62), margin=1.0)
        ident, cls, n_labels = f"{uid}-detail", "map detail", len(coords)
    legs = plan_legs[plan_legs["leg"].astype(str).isin(geometry)]
    signed = legs["flow_teu"].to_numpy(dtype=float)
    flow = np.abs(signed) if change else signed
    used = flow > EPS
    max_teu = float(flow[used].max()) if used.any() else 1.0
    pairs_used = {(a, b) for a, b, u in zip(legs["from"], legs["to"], used, strict=True) if u}

    out = [
        f'<svg class="{cls}" id="{ident}" viewBox="0 0 {proj.width:.0f} {proj.height:.0f}" '
        f'role="img" aria-label="Network map">',
        f'<rect class="sea" width="{proj.width:.0f}" height="{proj.height:.0f}"/>',
        f'<g class="outline" transform="{proj.matrix()}">',
        '<use href="#outline" class="land"/>',
    ]
    defined = {c["iso2"] for c in load_outline()["countries"] if c["iso2"]}
    for country in sorted(set(nodes["country"].astype(str)) & defined):
        out.append(f'<use href="#ol-{escape(country)}" class="host"/>')
    out.append("</g>")

    rows = legs.rename(columns={"from": "src", "to": "dst"}).assign(is_used=used, signed=signed)
    names = {str(k): str(v) for k, v in nodes["name"].items()}
    corridors = corridor_order(plan_legs)
    unused_svg, used_svg = [], []
    for r in rows.sort_values("flow_teu", ascending=False).itertuples(index=False):
        leg, a, b = str(r.leg), str(r.src), str(r.dst)
        pts = [proj.xy(p) for p in geometry[leg]]
        label = leg_label(leg, r.mode, r.corridor, a, b, names)
        if not r.is_used:
            unused_svg.append(
                f'<path class="leg unused" data-leg="{escape(leg)}" d="{_path_d(pts)}">'
                f"<title>{escape(label)}: unused</title></path>"
            )
            continue
        w = leg_width(abs(_float(r.flow_teu)), max_teu)
        if (b, a) in pairs_used:  # both directions carry cargo: keep them side by side
            pts = _offset(pts, w / 2 + 0.6)
        if change:
            d = float(r.signed)
            used_svg.append(
                f'<path class="leg used {"gain" if d > 0 else "loss"}" data-leg="{escape(leg)}" '
                f'd="{_path_d(pts)}" stroke="{GAIN if d > 0 else LOSS}" stroke-width="{w:.2f}">'
                f"<title>{escape(label)}: {d:+,.0f} TEU against {escape(change)}</title></path>"
            )
            continue
        util = _float(r.utilisation)
        state = leg_state(util, r.capacity_teu, r.service_slots_teu)
        used_svg.append(
            f'<path class="leg used" data-leg="{escape(leg)}" d="{_path_d(pts)}" '
            f'stroke="{util_colour(util)}" stroke-width="{w:.2f}" '
            f'style="--corridor:{corridors[leg_corridor(r.corridor)]}">'
            f"<title>{escape(label)}: {_num(_float(r.flow_teu))} TEU, {escape(state)}</title></path>"
        )
    out += ['<g class="legs-unused">', *unused_svg, "</g>"]
    out += ['<g class="legs-used">', *reversed(used_svg), "</g>"]  # thin on top of thick

    if frame is not None:
        (x0, y0), (x1, y1) = proj.xy((frame[0], frame[3])), proj.xy((frame[2], frame[1]))
        out.append(
            f'<rect class="frame" x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" '
            f'height="{y1 - y0:.1f}"><title>area of the detail map</title></rect>'
        )
    out.append('<g class="borders">')
    marked = legs.iloc[:0] if change else legs  # a difference map shows no border markers
    # one marker per border and pair of nodes, halfway along the first leg drawn between them
    crossings: dict[str, dict[frozenset[str], str]] = defaultdict(dict)
    for leg, a, b, border in marked[["leg", "from", "to", "border"]].itertuples(index=False):
        if isinstance(border, str) and border:
            crossings[border].setdefault(frozenset((str(a), str(b))), str(leg))
    info = {str(r["border"]): r for r in borders.to_dict("records")} if not borders.empty else {}
    for border in sorted(crossings):
        row = info.get(border, {})
        name = str(row.get("name", border))
        load, cap = _float(row.get("load_teu")), _float(row.get("capacity_teu"))
        util = load / cap if math.isfinite(cap) and cap > 0 else math.nan
        if not load > EPS:
            colour = UNUSED
            text = "unused"
        else:
            colour = util_colour(util)
            text = f"{_num(load)} TEU" + (
                f" of {_num(cap)} TEU ({util:.0%})"
                if math.isfinite(util)
                else ", no capacity limit"
            )
        out.append(f'<g class="border" data-border="{escape(border)}">')
        out.append(f"<title>Border {escape(border)} {escape(name)}: {escape(text)}</title>")
        for leg in sorted(crossings[border].values()):
            x, y = _midpoint([proj.xy(p) for p in geometry[leg]])
            out.append(
                f'<rect x="{x - 4.5:.1f}" y="{y - 4.5:.1f}" width="9" height="9" '
                f'transform="rotate(45 {x:.1f} {y:.1f})" fill="{colour}"/>'
            )
        out.append("</g>")
    out.append("</g>")

    # nodes, the busiest labelled
    through = node_teu(legs["from"], legs["to"], flow)
    out.append('<g class="nodes">')
    for node, place in nodes.iterrows():
        x, y = proj.xy(coords[str(node)])
        teu = through.get(str(node), 0.0)
        cls = "node used" if teu > EPS else "node"
        text = node_label(str(node), place) + f": {_num(teu)} TEU"
        out.append(
            f'<circle class="{cls}" cx="{x:.1f}" cy="{y:.1f}" r="{3.2 if teu > EPS else 2.2}">'
            f"<title>{escape(text)} {'changed' if change else 'through'}</title></circle>"
        )
    out.append("</g>")
    out.append('<g class="labels">')
    # ports and hubs first, then the other nodes, busiest first within each; the overview leaves
    # the nodes inside the detail frame to the detail map; a label that collides with one already
    # placed is left out
    kind = {str(k): str(v) for k, v in nodes["kind"].items()}

    def inside(node: str) -> bool:
        lon, lat = coords[node]
        return frame is not None and frame[0] <= lon <= frame[2] and frame[1] <= lat <= frame[3]

    order = sorted(
        (n for n in coords if not inside(n)),
        key=lambda n: (kind.get(n) not in KEY_KINDS, -through.get(n, 0.0), n),
    )
    placed: list[Box] = []
    for node in order[:n_labels]:
        x, y = proj.xy(coords[node])
        text = names[node].split(" (")[0].split(" / ")[0]
        spot = place_label(x, y, text, placed, proj.width, proj.height)
        if spot is not None:
            tx, ty, anchor = spot
            out.append(
                f'<text x="{tx:.1f}" y="{ty:.1f}" text-anchor="{anchor}" data-node="{escape(node)}">'
                f"{escape(text)}</text>"
            )
    out.append("</g></svg>")
    return "".join(out)


def corridor_order(plan_legs: pd.DataFrame) -> dict[str, str]:
    """Colour of every corridor a leg of the plan is tagged with (``local`` for untagged legs),
    the named corridors first."""
    tags = sorted({leg_corridor(t) for t in plan_legs["corridor"]} if len(plan_legs) else set())
    tags.sort(key=lambda t: (t not in CORRIDOR_COLOURS, t))
    others = [t for t in tags if t not in CORRIDOR_COLOURS]
    return {t: corridor_colour(t, others.index(t) if t in others else 0) for t in tags}


def legend(max_teu: float, corridors: dict[str, str] | None = None) -> str:
    """The HTML legend under a map: utilisation colours, and the corridors' (``corridor_order``)
    for the corridor mode; each shown in its own mode (report.css)."""

    def swatch(colour: str, w: float = 6.0) -> str:
        return (
            f'<svg width="28" height="12" aria-hidden="true"><line x1="2" y1="6" x2="26" y2="6" '
            f'stroke="{colour}" stroke-width="{w:.1f}" stroke-linecap="round"/></svg>'
        )

    items = [f'<span class="util">{swatch(c)} {escape(t)}</span>' for _, c, t in UTIL_BINS]
    items.append(f'<span class="util">{swatch(NO_LIMIT)} no capacity limit</span>')
    items += [
        f'<span class="corridor">{swatch(c)} {escape(t)}</span>'
        for t, c in (corridors or {}).items()
    ]
    items.append(f"<span>{swatch(UNUSED, 1.4)} unused</span>")
    for share in (1.0, 0.5, 0.1):
        w = max(MIN_LEG_WIDTH, MAX_LEG_WIDTH * share)
        items.append(f"<span>{swatch('#555', w)} {_num(max_teu * share)} TEU</span>")
    items.append(
        '<span><svg width="16" height="14" aria-hidden="true"><rect x="4" y="3" width="8" height="8" '
        'transform="rotate(45 8 7)" fill="#777" stroke="#fff"/></svg> border crossing</span>'
    )
    items.append(
        f"<span>{REVERSE_SUFFIX} after a leg id: the same leg in the opposite direction</span>"
    )
    return '<div class="legend">' + "".join(items) + "</div>"


# ---------------------------------------------------------------- the interactive map


class MapLeg(TypedDict):
    """A leg with flow on the interactive map: its line as [lat, lon] points, stroke width and
    hover lines."""

    leg: str
    corridor: str
    points: list[list[float]]
    weight: float
    text: list[str]


class MapNode(TypedDict):
    """A node on the interactive map, with its hover lines."""

    id: str
    lat: float
    lon: float
    used: bool
    text: list[str]


class MapCorridor(TypedDict):
    """A corridor of the interactive map's layer control, with its colour."""

    name: str
    colour: str


class InteractiveMap(TypedDict):
    """The data the page's map script (``templates/map.js``) draws one plan's Leaflet map from."""

    corridors: list[MapCorridor]
    legs: list[MapLeg]
    nodes: list[MapNode]
    hosts: list[str]  # iso2 of the countries with nodes, shaded
    bounds: list[list[float]]  # [[south, west], [north, east]]


@cache
def outline_geojson() -> dict[str, Any]:
    """The packaged outline as a GeoJSON FeatureCollection: one MultiPolygon per country (each
    ring its own polygon; drawn with the even-odd rule, as the SVG map)."""
    features = [
        {
            "type": "Feature",
            "properties": {"iso2": c["iso2"], "name": c["name"]},
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [
                    [[[r[i], r[i + 1]] for i in range(0, len(r), 2)] + [[r[0], r[1]]]]
                    for r in c["rings"]
                ],
            },
        }
        for c in load_outline()["countries"]
    ]
    return {"type": "FeatureCollection", "features": features}


def interactive_map(plan_legs: pd.DataFrame, inst: Instance) -> InteractiveMap:
    """The interactive map of one plan: the legs with flow along the lines of the SVG overview
    (sea legs along the sea lanes), as wide as there and coloured by corridor
    (``corridor_order``), and every node; hover texts name the nodes beside their ids."""
    nodes = inst.nodes
    coords = {
        str(i): (float(lon), float(lat))
        for i, lon, lat in zip(nodes.index, nodes["lon"], nodes["lat"], strict=True)
    }
    names = {str(k): str(v) for k, v in nodes["name"].items()}
    geometry = leg_geometry(plan_legs, coords)
    legs = plan_legs[plan_legs["leg"].astype(str).isin(geometry)]
    flow = legs["flow_teu"].to_numpy(dtype=float)
    used = legs[flow > EPS].sort_values("flow_teu", ascending=False)
    max_teu = float(flow.max()) if (flow > EPS).any() else 1.0
    colours = corridor_order(plan_legs)
    drawn: list[MapLeg] = []
    for r in used.rename(columns={"from": "src", "to": "dst"}).itertuples(index=False):
        leg, teu = str(r.leg), _float(r.flow_teu)
        state = leg_state(_float(r.utilisation), r.capacity_teu, r.service_slots_teu)
        drawn.append(
            {
                "leg": leg,
                "corridor": leg_corridor(r.corridor),
                "points": [[round(lat, 3), round(lon, 3)] for lon, lat in geometry[leg]],
                "weight": round(leg_width(teu, max_teu), 2),
                "text": [
                    leg_label(leg, r.mode, r.corridor, str(r.src), str(r.dst), names),
                    f"{_num(teu)} TEU, {state}",
                ],
            }
        )
    through = node_teu(used["from"], used["to"], used["flow_teu"].to_numpy(dtype=float))
    points = list(coords.values()) + [p for leg in used["leg"] for p in geometry[str(leg)]]
    lon0, lon1 = min(p[0] for p in points), max(p[0] for p in points)
    lat0, lat1 = min(p[1] for p in points), max(p[1] for p in points)
    grow_lon, grow_lat = max(0.0, 2.0 - (lon1 - lon0)) / 2, max(0.0, 2.0 - (lat1 - lat0)) / 2
    defined = {c["iso2"] for c in load_outline()["countries"] if c["iso2"]}
    return {
        "corridors": [
            {"name": t, "colour": c}
            for t, c in colours.items()
            if any(leg["corridor"] == t for leg in drawn)
        ],
        "legs": drawn,
        "nodes": [
            {
                "id": str(node),
                "lat": coords[str(node)][1],
                "lon": coords[str(node)][0],
                "used": bool(through.get(str(node), 0.0) > EPS),
                "text": [
                    node_label(str(node), place),
                    f"{_num(through.get(str(node), 0.0))} TEU through",
                ],
            }
            for node, place in nodes.iterrows()
        ],
        "hosts": sorted(set(nodes["country"].astype(str)) & defined),
        "bounds": [  # at least 2 degrees each way, as the SVG map
            [lat0 - grow_lat, lon0 - grow_lon],
            [lat1 + grow_lat, lon1 + grow_lon],
        ],
    }
