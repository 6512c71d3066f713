"""Read the timed Canad instances (continuous-time service network design, CTSND) as timed instances.

Format (comma-separated text, one record per line; ``benchmarks/data/ctsnd/README.md``)::

    NODES,|N|
    id,name,x,y                                                        (|N| lines, ids 1..N)
    ARCS,|A|
    id,from,to,var_cost,fixed_cost,capacity,travel_periods,travel_min,travel_min   (|A| lines)
    COMMODITIES,|K|
    id,origin,destination,quantity,release,due,release_min,due_min     (|K| lines)
    horizon=H

The files are recognised by their first line (``NODES,<count>``), whatever their name. Times are
minutes. Mapping (``dow.network_tables``): nodes ``"1".."N"``; arc ``i`` (0-based) becomes leg
``a<i+1>``, dispatched on demand: ``transit_hours`` = travel minutes / 60, ``cost_per_teu`` =
var_cost, ``service_capacity_teu`` = capacity, ``service_cost`` = fixed_cost, no limit on the
number of departures; commodity ``i`` becomes lot ``k<i+1>`` of the one class ``ctsnd`` (no time
value: waiting is free) with ``teu`` = quantity, ``ready_at`` = release_min / 60 and ``due_at`` =
due_min / 60. Settings: ``unserved = forbid``, ``unsplittable_lots = true`` (one path per
commodity), ``horizon_hours`` = the latest due time and ``runoff_hours = 0``. The file's
``horizon=`` line is not the end of the time axis in these files (the README's note) and is
only checked to be a number.

``list_instances`` lists a benchmark folder with the instance classes; ``select`` takes the
benchmark tiers from it (quick, standard, all).

Parsing is vectorised (numpy finds lines and fields, pandas' C parser reads the numbers);
problems name the file and line, and validation locates legs and lots by their file lines.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import InstanceError, Problem
from allocator.instance.dow import listed_problems, network_tables, node_problems
from allocator.instance.io import SNIFFERS, RawInstance, RawTable
from allocator.instance.model import Instance
from allocator.instance.validate import validate

CLASS = "ctsnd"

BLOCKS: tuple[tuple[str, int, str], ...] = (
    ("NODES", 4, "id,name,x,y"),
    ("ARCS", 9, "id,from,to,var_cost,fixed_cost,capacity,travel_periods,travel_min,travel_min"),
    ("COMMODITIES", 8, "id,origin,destination,quantity,release,due,release_min,due_min"),
)
"""Each block: its header word, the fields of its records and their names."""

_LOOKS_LIKE = re.compile(rb"\s*NODES,\d+\s*\r?\n")
_BLOCK = re.compile(r"(?P<word>[A-Z]+),(?P<count>\d+)")
_HORIZON = re.compile(r"horizon=(?P<value>[-+.\deE]+)")
_NAME = re.compile(
    r"(?P<base>c\d+)_(?P<release>\.?\d+(?:\.\d*)?)_(?P<slack>\.?\d+(?:\.\d*)?)_(?P<seed>\d+)"
)


@dataclass(frozen=True)
class Ctsnd:
    """The numbers of one CTSND file; node numbers are 1-based as in the file, times minutes."""

    name: str
    n_nodes: int
    arcs: np.ndarray  # (|A|, 6) float64: from, to, var_cost, fixed_cost, capacity, travel_min
    commodities: np.ndarray  # (|K|, 5) float64: origin, destination, quantity, release, due
    arc_lines: np.ndarray  # (|A|,) int64: file line of every arc
    commodity_lines: np.ndarray  # (|K|,) int64: file line of every commodity
    horizon_min: float  # the file's ``horizon=`` value (not the end of the time axis)


@dataclass(frozen=True)
class CtsndName:
    """What an instance's name ``cNN_R_S_K`` says (README, Names)."""

    base: str  # the Canad C instance, e.g. c33 (network, costs, capacities, commodities)
    release_factor: float  # R: spread of release times
    slack_factor: float  # S: deadline slack
    seed: int  # K: random seed


@dataclass(frozen=True)
class CtsndInstance:
    """One instance file of the benchmark with its name's attributes and its class."""

    name: str
    path: Path
    attributes: CtsndName
    klass: str  # HC/HF, HC/LF, LC/HF or LC/LF: high/low cost ratio x high/low flexibility


def looks_like_ctsnd(head: bytes) -> bool:
    """Whether the first bytes of a file are those of a CTSND file: ``NODES,<count>`` first."""
    return _LOOKS_LIKE.match(head) is not None


def parse_name(name: str) -> CtsndName:
    """The attributes of an instance name ``cNN_R_S_K`` (``c33_.1111_.25_1``, ``.txt`` allowed);
    ValueError when the name is not of that form."""
    m = _NAME.fullmatch(Path(name).name.removesuffix(".txt"))
    if m is None:
        raise ValueError(f"{name!r} is not a CTSND instance name cNN_R_S_K (e.g. c33_.1111_.25_1)")
    return CtsndName(m["base"], float(m["release"]), float(m["slack"]), int(m["seed"]))


def list_instances(folder: str | os.PathLike[str]) -> list[CtsndInstance]:
    """The instances of a CTSND folder (``instances/*.txt`` and ``classes.csv``, as shipped in
    ``benchmarks/data/ctsnd``) in name order, each with its class; InstanceError names an
    instance file without a class, or a class row without its file."""
    root = Path(folder)
    with (root / "classes.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    rows = [{k: (v or "").strip() for k, v in r.items()} for r in rows]  # cells may be padded
    klass = {r["instance"]: r["class"] for r in rows}
    files = {p.stem: p for p in sorted((root / "instances").glob("*.txt"))}
    problems = [
        Problem(str(path), "has no class in classes.csv")
        for stem, path in files.items()
        if stem not in klass
    ] + [
        Problem(f"{root / 'classes.csv'} line {i + 2}", f"no file instances/{r['instance']}.txt")
        for i, r in enumerate(rows)
        if r["instance"] not in files
    ]
    if problems:
        raise InstanceError(problems)
    return [CtsndInstance(s, p, parse_name(s), klass[s]) for s, p in files.items()]


TIERS = ("quick", "standard", "all")
"""The CTSND benchmark tiers of ``select``, smallest first."""

QUICK_PER_CLASS = 2
"""Instances of every class in the quick tier."""


def shipped_folder() -> Path:
    """The CTSND data of this checkout (``benchmarks/data/ctsnd``; not part of an installed
    package)."""
    return Path(__file__).resolve().parents[3] / "benchmarks" / "data" / "ctsnd"


def select(instances: Sequence[CtsndInstance], tier: str) -> list[CtsndInstance]:
    """The instances of a benchmark tier, in name order.

    * ``all``: every instance.
    * ``standard``: one instance per base network. The bases are taken in number order (c33 first,
      k = 0, 1, ...); base k gets the k-th (release factor, slack factor) pair of the cycle of all
      pairs found (release factor fastest: (.1111, .25), (.1666, .25), (.3333, .25), (.1111, .5),
      ...) and the seed ``1 + (k // pairs) % seeds`` (its instance with the smallest seed
      when that one is missing). Every base, both deadline factors and all three release factors
      appear; the classes are those of the chosen instances.
    * ``quick``: for every class, the first ``QUICK_PER_CLASS`` standard instances of that class
      in base order (the smallest networks come first).

    ValueError for another tier.
    """
    if tier not in TIERS:
        raise ValueError(f"unknown CTSND tier {tier!r}; expected one of {', '.join(TIERS)}")
    ordered = sorted(instances, key=lambda i: i.name)
    if tier == "all":
        return ordered
    pairs = sorted({(i.attributes.slack_factor, i.attributes.release_factor) for i in ordered})
    seeds = sorted({i.attributes.seed for i in ordered})
    bases = sorted({i.attributes.base for i in ordered}, key=lambda b: int(b[1:]))
    chosen = []
    for k, base in enumerate(bases):
        slack, release = pairs[k % len(pairs)]
        seed = seeds[(k // len(pairs)) % len(seeds)]
        mine = [i for i in ordered if i.attributes.base == base]
        fits = [
            i
            for i in mine
            if (i.attributes.release_factor, i.attributes.slack_factor) == (release, slack)
        ]
        if fits:
            chosen.append(next((i for i in fits if i.attributes.seed == seed), fits[0]))
        else:  # this base lacks the pair: its first instance
            chosen.append(mine[0])
    if tier == "quick":
        taken: dict[str, int] = {}
        quick = []
        for i in chosen:
            if taken.get(i.klass, 0) < QUICK_PER_CLASS:
                taken[i.klass] = taken.get(i.klass, 0) + 1
                quick.append(i)
        chosen = quick
    return sorted(chosen, key=lambda i: i.name)


def _lines(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Start and end offset, number of comma-separated fields and blankness of every line."""
    breaks = np.flatnonzero(buf == ord("\n"))
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(buf)]])
    commas = np.concatenate([[0], np.cumsum(buf == ord(","), dtype=np.int64)])
    ink = np.concatenate([[0], np.cumsum(buf > ord(" "), dtype=np.int64)])
    blank = ink[ends] == ink[starts]
    return starts, ends, commas[ends] - commas[starts] + 1, blank


def _records(
    data: bytes, start: int, end: int, columns: list[int], count: int
) -> np.ndarray | None:
    """Columns ``columns`` of the records in ``data[start:end]`` as a (count, len(columns)) float
    array, or None when a field there is not a number (or the count differs)."""
    if count == 0:
        return np.zeros((0, len(columns)))
    try:
        frame = pd.read_csv(
            io.BytesIO(data[start:end]),
            header=None,
            usecols=columns,
            dtype=np.float64,
            engine="c",
            skip_blank_lines=True,
        )
    except ValueError:
        return None
    values = frame[columns].to_numpy(dtype=np.float64)
    return values if len(values) == count and np.isfinite(values).all() else None


def parse_ctsnd(path: str | os.PathLike[str]) -> Ctsnd:
    """Parse a CTSND file, checking its block headers, counts and every record's fields; raise
    InstanceError naming the file and line."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InstanceError([Problem(str(p), f"cannot be read: {exc}")]) from exc
    starts, ends, fields, blank = _lines(np.frombuffer(data, dtype=np.uint8))
    filled = np.flatnonzero(~blank)  # 0-based numbers of the non-blank lines

    def text(i: int) -> str:
        return data[starts[i] : ends[i]].decode("ascii", "replace").strip()

    def marker(i: int) -> bool:  # a block header or the horizon line
        line = text(i)
        return _BLOCK.fullmatch(line) is not None or line.startswith("horizon=")

    k = 0  # position in ``filled``
    blocks: dict[str, np.ndarray] = {}  # word -> file lines (0-based) of its records
    for word, width, names in BLOCKS:
        if k >= len(filled):
            raise InstanceError([Problem(f"{p} line {len(starts)}", f"expected '{word},<count>'")])
        h = int(filled[k])
        m = _BLOCK.fullmatch(text(h))
        if m is None or m["word"] != word:
            raise InstanceError(
                [Problem(f"{p} line {h + 1}", f"expected '{word},<count>', found {text(h)!r}")]
            )
        count = int(m["count"])
        lines = filled[k + 1 : k + 1 + count]
        found = next((j for j, i in enumerate(lines) if marker(int(i))), len(lines))
        if found < count:
            raise InstanceError(
                [Problem(f"{p} line {h + 1}", f"says {count} records, the block has {found}")]
            )
        after = k + 1 + count
        if after < len(filled) and not marker(int(filled[after])):
            i = int(filled[after])
            raise InstanceError(
                [
                    Problem(
                        f"{p} line {i + 1}",
                        f"a record after the {count} that line {h + 1} announces",
                    )
                ]
            )
        bad = [
            Problem(
                f"{p} line {i + 1}",
                f"expected {width} comma-separated fields ({names}), found {fields[i]}",
            )
            for i in lines[fields[lines] != width]
        ]
        if bad:
            raise InstanceError(listed_problems(p, bad))
        blocks[word] = lines
        k = after

    rest = [int(i) for i in filled[k:]]
    horizon = np.nan
    if rest:
        m = _HORIZON.fullmatch(text(rest[0]))
        if m is None or len(rest) > 1:
            i = rest[0] if m is None else rest[1]
            raise InstanceError(
                [
                    Problem(
                        f"{p} line {i + 1}", f"expected 'horizon=<minutes>' last, found {text(i)!r}"
                    )
                ]
            )
        horizon = float(m["value"])

    node_lines, arc_lines, com_lines = blocks["NODES"], blocks["ARCS"], blocks["COMMODITIES"]
    n = len(node_lines)
    columns = {"NODES": [0], "ARCS": [1, 2, 3, 4, 5, 7], "COMMODITIES": [1, 2, 3, 6, 7]}
    values: dict[str, np.ndarray] = {}
    for word, lines in (("NODES", node_lines), ("ARCS", arc_lines), ("COMMODITIES", com_lines)):
        start = int(starts[lines[0]]) if len(lines) else 0
        end = int(ends[lines[-1]]) if len(lines) else 0
        got = _records(data, start, end, columns[word], len(lines))
        if got is None:
            raise InstanceError(
                listed_problems(p, _not_numbers(p, data, starts, ends, lines, columns[word]))
            )
        values[word] = got

    ids = values["NODES"][:, 0]
    bad = [
        Problem(
            f"{p} line {node_lines[j] + 1}",
            f"node id {ids[j]:g}; expected {j + 1} (ids 1..{n} in order)",
        )
        for j in np.flatnonzero(ids != np.arange(1, n + 1))
    ]
    arcs, com = values["ARCS"], values["COMMODITIES"]
    bad += node_problems(p, arcs[:, :2], arc_lines, n) + node_problems(p, com[:, :2], com_lines, n)
    if bad:
        raise InstanceError(listed_problems(p, bad))
    return Ctsnd(p.stem, n, arcs, com, arc_lines + 1, com_lines + 1, horizon)


def _not_numbers(
    p: Path,
    data: bytes,
    starts: np.ndarray,
    ends: np.ndarray,
    lines: np.ndarray,
    columns: list[int],
) -> list[Problem]:
    """The fields that are not finite numbers, by line (only when the fast parse failed)."""
    bad = []
    for i in lines:
        parts = data[starts[i] : ends[i]].split(b",")
        for j in columns:
            shown = parts[j].strip().decode("ascii", "replace")
            try:
                ok = np.isfinite(float(shown))
            except ValueError:
                ok = False
            if not ok:
                bad.append(
                    Problem(f"{p} line {i + 1}", f"field {j + 1} is not a number: {shown!r}")
                )
    return bad or [Problem(str(p), "the records could not be read as numbers")]


def ctsnd_raw(path: str | os.PathLike[str]) -> RawInstance:
    """The raw tables and settings of a CTSND file, ready for ``validate``; legs and lots are
    located by their file lines."""
    d = parse_ctsnd(path)
    p = Path(path)
    a, c = d.arcs, d.commodities
    frames = network_tables(
        d.n_nodes,
        {
            "from": a[:, 0],
            "to": a[:, 1],
            "transit_hours": a[:, 5] / 60.0,
            "cost_per_teu": a[:, 2],
            "service_capacity_teu": a[:, 4],
            "service_cost": a[:, 3],
        },
        {"origin": c[:, 0], "destination": c[:, 1], "teu": c[:, 2]},
        CLASS,
    )
    frames["cargo"]["ready_at"] = c[:, 3] / 60.0
    frames["cargo"]["due_at"] = c[:, 4] / 60.0
    lines = {"legs": d.arc_lines.tolist(), "cargo": d.commodity_lines.tolist()}
    tables = {
        name: RawTable(name, frame.astype(object), str(p), "line", numbers=lines[name])
        if name in lines
        else RawTable(name, frame.astype(object), f"{p} ({name})", "row", 1)
        for name, frame in frames.items()
    }
    due = c[:, 4] / 60.0
    settings = {
        "name": d.name,
        "unserved": "forbid",
        "unsplittable_lots": True,
        "co2_price_per_t": 0.0,
        "horizon_hours": float(due.max()) if len(due) else 1.0,
        "runoff_hours": 0.0,
    }
    return RawInstance(path=p, settings=settings, tables=tables, settings_source=str(p))


def read_ctsnd(path: str | os.PathLike[str]) -> Instance:
    """Read and validate a CTSND file as an Instance."""
    return validate(ctsnd_raw(path))


SNIFFERS.append((looks_like_ctsnd, ctsnd_raw))
