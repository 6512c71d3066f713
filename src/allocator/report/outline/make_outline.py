"""Make ``outline.json`` (the report map's country outline) from Natural Earth's 1:110m countries.

Input: the ``naturalearth_lowres`` shapefile shipped inside the geopandas 0.14.4 wheel
(Natural Earth "Admin 0 - Countries" 1:110m, public domain)::

    pip download geopandas==0.14.4 --no-deps -d /tmp/ne
    cd /tmp/ne && unzip -o geopandas-0.14.4-py3-none-any.whl 'geopandas/datasets/*'
    python src/allocator/report/outline/make_outline.py \
        /tmp/ne/geopandas/datasets/naturalearth_lowres/naturalearth_lowres.shp

The shapefile (.shp polygons, .dbf attributes) is read by hand with ``struct``, so the script needs
nothing beyond the standard library and pycountry (a dependency of allocator). Every ring is clipped
to ``BBOX`` (Sutherland-Hodgman), rounded to ``DECIMALS`` decimal degrees, and stripped of repeated
and collinear points and of rings smaller than ``MIN_AREA`` square degrees.
"""

from __future__ import annotations

import argparse
import json
import struct
from pathlib import Path

import pycountry

BBOX = (
    -25.0,
    -5.0,
    145.0,
    75.0,
)  # lon_min, lat_min, lon_max, lat_max: the Eurasia example, generous
DECIMALS = 2
MIN_AREA = 0.05  # square degrees; drops specks of islands
OUT = Path(__file__).with_name("outline.json")
# countries whose ISO_A3 is "-99" in Natural Earth (N. Cyprus, Somaliland keep no code)
ISO2_BY_NAME = {"Kosovo": "XK"}

Ring = list[tuple[float, float]]


def read_dbf(path: Path) -> list[dict[str, str]]:
    """The attribute rows of a dBase III file, as text."""
    data = path.read_bytes()
    n_records, header_len, record_len = struct.unpack("<IHH", data[4:12])
    fields = []
    pos = 32
    while data[pos] != 0x0D:
        name = data[pos : pos + 11].split(b"\0")[0].decode("ascii")
        fields.append((name, data[pos + 16]))
        pos += 32
    rows = []
    for r in range(n_records):
        start = header_len + r * record_len + 1  # one deletion-flag byte
        row = {}
        for name, length in fields:
            row[name] = data[start : start + length].decode("utf-8", "replace").strip()
            start += length
        rows.append(row)
    return rows


def read_shp(path: Path) -> list[list[Ring]]:
    """Each record's rings (lon, lat) of a polygon shapefile."""
    data = path.read_bytes()
    pos = 100  # after the file header
    shapes: list[list[Ring]] = []
    while pos < len(data):
        _, words = struct.unpack(">ii", data[pos : pos + 8])
        content = data[pos + 8 : pos + 8 + 2 * words]
        pos += 8 + 2 * words
        kind = struct.unpack("<i", content[:4])[0]
        if kind == 0:  # null shape
            shapes.append([])
            continue
        if kind != 5:
            raise ValueError(f"{path}: shape type {kind} is not a polygon")
        n_parts, n_points = struct.unpack("<ii", content[36:44])
        parts = list(struct.unpack(f"<{n_parts}i", content[44 : 44 + 4 * n_parts]))
        xy = struct.unpack(f"<{2 * n_points}d", content[44 + 4 * n_parts :][: 16 * n_points])
        points = list(zip(xy[0::2], xy[1::2], strict=True))
        bounds = [*parts, n_points]
        shapes.append([points[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
    return shapes


def clip(ring: Ring, box: tuple[float, float, float, float]) -> Ring:
    """Sutherland-Hodgman: the part of a closed ring inside an axis-parallel box."""
    x0, y0, x1, y1 = box
    edges = [
        (lambda p: p[0] >= x0, lambda p, q: _at_x(p, q, x0)),
        (lambda p: p[0] <= x1, lambda p, q: _at_x(p, q, x1)),
        (lambda p: p[1] >= y0, lambda p, q: _at_y(p, q, y0)),
        (lambda p: p[1] <= y1, lambda p, q: _at_y(p, q, y1)),
    ]
    out = ring
    for inside, cut in edges:
        if not out:
            break
        points, out = out, []
        prev = points[-1]
        for cur in points:
            if inside(cur):
                if not inside(prev):
                    out.append(cut(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(cut(prev, cur))
            prev = cur
    return out


def _at_x(p: tuple[float, float], q: tuple[float, float], x: float) -> tuple[float, float]:
    t = (x - p[0]) / (q[0] - p[0])
    return x, p[1] + t * (q[1] - p[1])


def _at_y(p: tuple[float, float], q: tuple[float, float], y: float) -> tuple[float, float]:
    t = (y - p[1]) / (q[1] - p[1])
    return p[0] + t * (q[0] - p[0]), y


def area(ring: Ring) -> float:
    """Unsigned shoelace area in square degrees."""
    return abs(
        sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1], strict=True)) / 2
    )


def simplify(ring: Ring) -> Ring:
    """Round, then drop repeated points and points on a straight line with their neighbours."""
    rounded: Ring = []
    for x, y in ring:
        p = (round(x, DECIMALS), round(y, DECIMALS))
        if not rounded or p != rounded[-1]:
            rounded.append(p)
    if len(rounded) > 1 and rounded[0] == rounded[-1]:
        rounded.pop()  # closing point: SVG's Z closes the ring
    out: Ring = []
    n = len(rounded)
    for i, (x, y) in enumerate(rounded):
        (ax, ay), (bx, by) = rounded[i - 1], rounded[(i + 1) % n]
        if (bx - ax) * (y - ay) - (by - ay) * (x - ax) != 0 or n <= 3:
            out.append((x, y))
    return out


def iso2(row: dict[str, str]) -> str:
    """ISO 3166-1 alpha-2 code of a Natural Earth row ('' when it has none)."""
    a3 = row.get("iso_a3", "")
    country = pycountry.countries.get(alpha_3=a3) if a3 and a3 != "-99" else None
    return country.alpha_2 if country else ISO2_BY_NAME.get(row.get("name", ""), "")


def make(shp: Path) -> dict[str, object]:
    """The outline document of the countries that reach into ``BBOX``."""
    rows = read_dbf(shp.with_suffix(".dbf"))
    shapes = read_shp(shp)
    countries = []
    for row, rings in zip(rows, shapes, strict=True):
        kept = []
        for ring in rings:
            part = simplify(clip(ring, BBOX))
            if len(part) >= 3 and area(part) >= MIN_AREA:
                kept.append([c for p in part for c in p])
        if kept:
            countries.append({"iso2": iso2(row), "name": row.get("name", ""), "rings": kept})
    countries.sort(key=lambda c: str(c["name"]))
    return {
        "source": "Natural Earth 1:110m Admin 0 - Countries, as naturalearth_lowres in geopandas 0.14.4",
        "licence": "public domain (Natural Earth terms of use)",
        "bbox": list(BBOX),
        "decimals": DECIMALS,
        "format": "rings are flat [lon, lat, lon, lat, ...] lists, closed implicitly",
        "countries": countries,
    }


def main() -> None:
    """Command line: make_outline.py SHP [--out outline.json]."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shp", type=Path, help="naturalearth_lowres.shp")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    doc = make(args.shp)
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
