"""Read Canad MCND instances (the ``.dow`` format of Crainic, Frangioni and Gendron) as instances.

Format (whitespace-separated integers, one record per line)::

    MULTIGEN.DAT:            (R files have a leading space)
    |N| |A| |K|
    from to unit_cost capacity fixed_cost 1 arc_id     (|A| lines)
    origin destination demand                          (|K| lines)

Mapping: nodes ``"1".."N"`` (country ``ZZ``, kind hub, coordinates 0); every arc a candidate leg
``a<i>`` with ``cost_per_teu`` = unit cost, ``capacity_teu`` = capacity, ``fixed_cost`` = fixed cost,
1 km and 0 transit hours; one class ``mcnd`` with no time value; commodities become lots ``k<i>``
with ``teu`` = demand; settings ``unserved = forbid``, CO2 price 0 and ``mip_rel_gap = 1e-6``
(reference optima are exact). The generalised cost of a TEU on a leg is then exactly the unit cost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import InstanceError, Problem
from allocator.instance.io import READERS, RawInstance, RawTable
from allocator.instance.model import Instance
from allocator.instance.validate import validate

TAG = "MULTIGEN.DAT:"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

REFERENCE_OPTIMA: dict[str, float] = {
    # c33: or-tools network_design_ilph_test.cc (known optimum); the rest were proven optimal by
    # HiGHS on the strong formulation (benchmarks/data/mcnd/README.md), not published values.
    "c33": 423848.0,
    "c35": 371475.0,
    "c36": 643036.0,
    "c41": 429398.0,
    "c42": 586077.0,
    "c43": 464509.0,
    "c44": 604198.0,
    "r01.1": 74079.0,
    "r04.7": 68291.67,
}
"""Reference optima from benchmarks/data/mcnd/README.md (r04.7 is rounded to 2 decimals there)."""

REFERENCE_INFEASIBLE = frozenset(
    f"r0{i}.{j}" for i in (1, 2, 3) for j in (7, 8, 9)
)  # even the LP relaxation is infeasible


@dataclass(frozen=True)
class Dow:
    """The numbers of one ``.dow`` file; node numbers are 1-based as in the file."""

    name: str
    n_nodes: int
    arcs: np.ndarray  # (|A|, 5) int64: from, to, unit_cost, capacity, fixed_cost
    commodities: np.ndarray  # (|K|, 3) int64: origin, destination, demand


def parse_dow(path: str | os.PathLike[str]) -> Dow:
    """Parse a ``.dow`` file, checking its header counts; raise InstanceError naming the line."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InstanceError([Problem(str(p), f"cannot be read: {exc}")]) from exc
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip()]  # file line numbers
    if not numbered or numbered[0][1].strip() != TAG:
        raise InstanceError([Problem(f"{p} line 1", f"expected the tag {TAG!r}")])

    def ints(i: int, count: int) -> list[int]:
        number = numbered[i][0] if i < len(numbered) else len(lines) + 1
        parts = numbered[i][1].split() if i < len(numbered) else []
        if len(parts) != count:
            raise InstanceError(
                [Problem(f"{p} line {number}", f"expected {count} integers, found {len(parts)}")]
            )
        try:
            values = [int(x) for x in parts]
        except ValueError as exc:
            raise InstanceError([Problem(f"{p} line {number}", f"not an integer: {exc}")]) from exc
        for v in values:
            if not INT64_MIN <= v <= INT64_MAX:
                raise InstanceError(
                    [Problem(f"{p} line {number}", f"number {v} is too large (64-bit integers)")]
                )
        return values

    n, m, k = ints(1, 3)
    if len(numbered) != 2 + m + k:
        raise InstanceError(
            [
                Problem(
                    str(p),
                    f"header says {m} arcs and {k} commodities ({2 + m + k} lines), "
                    f"file has {len(numbered)} non-blank lines",
                )
            ]
        )
    arcs = np.array([ints(2 + i, 7)[:5] for i in range(m)], dtype=np.int64).reshape(m, 5)
    com = np.array([ints(2 + m + i, 3) for i in range(k)], dtype=np.int64).reshape(k, 3)
    bad = [
        Problem(f"{p} line {numbered[2 + i][0]}", f"node {v} outside 1..{n}")
        for i, row in enumerate(arcs)
        for v in row[:2]
        if not 1 <= v <= n
    ] + [
        Problem(f"{p} line {numbered[2 + m + i][0]}", f"node {v} outside 1..{n}")
        for i, row in enumerate(com)
        for v in row[:2]
        if not 1 <= v <= n
    ]
    if bad:
        raise InstanceError(bad)
    return Dow(p.stem, n, arcs, com)


def network_tables(
    n_nodes: int,
    legs: dict[str, np.ndarray],
    lots: dict[str, np.ndarray],
    class_id: str,
) -> dict[str, pd.DataFrame]:
    """The nodes, legs, classes and cargo tables of a benchmark network with 1-based node numbers.

    ``legs`` holds ``from``, ``to`` (node numbers) and the leg columns to set (``cost_per_teu``,
    ``capacity_teu``, ``fixed_cost``), one entry per arc; ``lots`` holds ``origin``,
    ``destination`` and ``teu``. Nodes are ``"1".."N"`` (country ``ZZ``, kind hub, coordinates 0),
    legs ``a<i>`` by road of 1 km and 0 transit hours, lots ``k<i>`` of the one class
    ``class_id`` with no time value: the generalised cost of a TEU on a leg is its unit cost.
    """
    ids = [str(i) for i in range(1, n_nodes + 1)]
    nodes = pd.DataFrame(
        {"id": ids, "name": ids, "country": "ZZ", "lat": 0.0, "lon": 0.0, "kind": "hub"}
    )
    n_legs, n_lots = len(legs["from"]), len(lots["origin"])
    leg_frame = pd.DataFrame(
        {
            "id": [f"a{i + 1}" for i in range(n_legs)],
            "from": legs["from"].astype(np.int64).astype(str),
            "to": legs["to"].astype(np.int64).astype(str),
            "mode": "road",
            "distance_km": 1.0,
            "transit_hours": 0.0,
        }
        | {c: v.astype(float) for c, v in legs.items() if c not in ("from", "to")}
    )
    cargo = pd.DataFrame(
        {
            "id": [f"k{i + 1}" for i in range(n_lots)],
            "origin": lots["origin"].astype(np.int64).astype(str),
            "destination": lots["destination"].astype(np.int64).astype(str),
            "teu": lots["teu"].astype(float),
            "class": class_id,
        }
    )
    classes = pd.DataFrame({"id": [class_id], "value_per_teu_day": [0.0]})
    return {"nodes": nodes, "legs": leg_frame, "classes": classes, "cargo": cargo}


def dow_raw(path: str | os.PathLike[str]) -> RawInstance:
    """The raw tables and settings of a ``.dow`` file, ready for ``validate``."""
    d = parse_dow(path)
    p = Path(path)
    a, c = d.arcs, d.commodities
    frames = network_tables(
        d.n_nodes,
        {
            "from": a[:, 0],
            "to": a[:, 1],
            "cost_per_teu": a[:, 2],
            "capacity_teu": a[:, 3],
            "fixed_cost": a[:, 4],
        },
        {"origin": c[:, 0], "destination": c[:, 1], "teu": c[:, 2]},
        "mcnd",
    )
    tables = {
        name: RawTable(name, frame.astype(object), f"{p} ({name})", "row", 1)
        for name, frame in frames.items()
    }
    settings = {
        "name": d.name,
        "unserved": "forbid",
        "co2_price_per_t": 0.0,
        "mip_rel_gap": 1e-6,
    }
    return RawInstance(path=p, settings=settings, tables=tables, settings_source=str(p))


def read_dow(path: str | os.PathLike[str]) -> Instance:
    """Read and validate a Canad MCND ``.dow`` file as an Instance."""
    return validate(dow_raw(path))


READERS[".dow"] = dow_raw


SHOWN = 10
"""Most problems of one kind listed before the rest are counted."""


def listed_problems(p: Path, problems: list[Problem]) -> list[Problem]:
    """At most ``SHOWN`` problems of a file, and a count of the rest."""
    if len(problems) <= SHOWN:
        return problems
    return [*problems[:SHOWN], Problem(str(p), f"{len(problems) - SHOWN} more lines like these")]


def node_problems(p: Path, nodes: np.ndarray, lines: np.ndarray, n: int) -> list[Problem]:
    """Node numbers that are no integer in 1..n, by line."""
    ok = (nodes == np.round(nodes)) & (nodes >= 1) & (nodes <= n)
    rows, cols = np.nonzero(~ok)
    return [
        Problem(f"{p} line {lines[r] + 1}", f"node {nodes[r, c]:g} is no integer in 1..{n}")
        for r, c in zip(rows, cols, strict=True)
    ]
