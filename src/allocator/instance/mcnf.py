"""Read linear multicommodity flow instances (the planar and grid files of Larsson and Yuan) as instances.

Format (whitespace-separated, one record per line; the files have no suffix)::

    #Instance:                                 (line 1: a comment)
    |N| |A| |K| scale
    from to unit_cost capacity                 (|A| lines, 1-based nodes)
    origin destination demand                  (|K| lines)

The files are recognised by their first two lines (a ``#`` comment, then a line starting with a
digit), whatever their name. Mapping (``dow.network_tables``): nodes ``"1".."N"``; every arc a leg
``a<i>`` with ``cost_per_teu`` = unit cost and ``capacity_teu`` = capacity (joint over all lots);
one class ``mcnf``; commodities become lots ``k<i>`` with ``teu`` = demand × scale, no due days;
settings ``unserved = forbid`` (every commodity is routed in full) and CO2 price 0. The problem is
then the linear multicommodity min-cost flow problem: an LP, with no integer decision.

Parsing is vectorised (numpy finds lines and fields, pandas' C parser reads the numbers); problems
name the file and line.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import InstanceError, Problem
from allocator.instance.dow import listed_problems, network_tables, node_problems
from allocator.instance.io import SNIFFERS, RawInstance, RawTable
from allocator.instance.model import Instance
from allocator.instance.validate import validate

CLASS = "mcnf"

_WHITESPACE = np.frombuffer(b" \t\r\n\v\f", dtype=np.uint8)
_LOOKS_LIKE = re.compile(rb"#[^\n]*\r?\n[ \t]*\d")


@dataclass(frozen=True)
class Mcnf:
    """The numbers of one planar/grid file; node numbers are 1-based as in the file."""

    name: str
    n_nodes: int
    scale: float
    arcs: np.ndarray  # (|A|, 4) float64: from, to, unit_cost, capacity
    commodities: np.ndarray  # (|K|, 3) float64: origin, destination, demand (before scale)
    arc_lines: np.ndarray  # (|A|,) int64: file line of every arc
    commodity_lines: np.ndarray  # (|K|,) int64: file line of every commodity


def looks_like_mcnf(head: bytes) -> bool:
    """Whether the first bytes of a file are those of a planar/grid file: a ``#`` comment line,
    then a line starting with a digit (the header)."""
    return _LOOKS_LIKE.match(head) is not None


def _lines(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start and end offset and number of whitespace-separated fields of every line of ``buf``."""
    breaks = np.flatnonzero(buf == ord("\n"))
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(buf)]])
    ink = ~np.isin(buf, _WHITESPACE)
    first = ink & ~np.concatenate([[False], ink[:-1]])  # the first byte of every field
    before = np.concatenate([[0], np.cumsum(first, dtype=np.int64)])
    return starts, ends, before[ends] - before[starts]


def _numbers(data: bytes, offset: int, count: int) -> np.ndarray | None:
    """The records from byte ``offset`` on as a (count, 4) float array (NaN where a line has 3
    fields), or None when a field is not a number."""
    if count == 0:
        return np.zeros((0, 4))
    try:
        frame = pd.read_csv(
            io.BytesIO(data[offset:]),
            sep=r"\s+",
            header=None,
            names=[0, 1, 2, 3],
            dtype=np.float64,
            engine="c",
        )
    except ValueError:
        return None
    values = frame.to_numpy(dtype=np.float64)
    return values if len(values) == count else None


def parse_mcnf(path: str | os.PathLike[str]) -> Mcnf:
    """Parse a planar/grid file, checking its header counts and every record's fields; raise
    InstanceError naming the file and line."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InstanceError([Problem(str(p), f"cannot be read: {exc}")]) from exc
    if not data.startswith(b"#"):
        raise InstanceError([Problem(f"{p} line 1", "expected a comment line starting with '#'")])
    starts, ends, fields = _lines(np.frombuffer(data, dtype=np.uint8))
    filled = np.flatnonzero(fields[1:] > 0) + 1  # non-blank lines after the comment, 0-based

    if len(filled) == 0:
        raise InstanceError(
            [Problem(f"{p} line 2", "expected the header: nodes arcs commodities scale")]
        )
    h = int(filled[0])
    where = f"{p} line {h + 1}"
    parts = data[starts[h] : ends[h]].split()
    try:
        if len(parts) != 4:
            raise ValueError(f"found {len(parts)} fields")
        n, m, k = (int(x) for x in parts[:3])
        scale = float(parts[3])
    except ValueError as exc:
        raise InstanceError(
            [Problem(where, f"expected the header: nodes arcs commodities scale ({exc})")]
        ) from exc
    if n < 1 or m < 0 or k < 0 or not (np.isfinite(scale) and scale > 0):
        raise InstanceError(
            [Problem(where, "expected at least 1 node, counts >= 0 and a scale > 0")]
        )

    records = filled[1:]
    if len(records) != m + k:
        raise InstanceError(
            [
                Problem(
                    str(p),
                    f"header says {m} arcs and {k} commodities ({m + k} lines after it), "
                    f"file has {len(records)} non-blank lines after it",
                )
            ]
        )
    arc_lines, com_lines = records[:m], records[m:]
    bad = [
        Problem(f"{p} line {i + 1}", f"expected {want} numbers ({what}), found {fields[i]}")
        for lines, want, what in (
            (arc_lines, 4, "from to unit_cost capacity"),
            (com_lines, 3, "origin destination demand"),
        )
        for i in lines[fields[lines] != want]
    ]
    if bad:
        raise InstanceError(listed_problems(p, bad))

    values = _numbers(data, int(starts[records[0]]) if m + k else 0, m + k)
    if values is None:
        raise InstanceError(listed_problems(p, _not_numbers(p, data, starts, ends, records)))
    arcs, com = values[:m], values[m:, :3]
    bad = node_problems(p, arcs[:, :2], arc_lines, n) + node_problems(p, com[:, :2], com_lines, n)
    finite = np.isfinite(arcs[:, 2:]).all(axis=1)
    bad += [
        Problem(f"{p} line {i + 1}", "cost and capacity must be finite") for i in arc_lines[~finite]
    ]
    bad += [
        Problem(f"{p} line {i + 1}", "demand must be finite")
        for i in com_lines[~np.isfinite(com[:, 2])]
    ]
    if bad:
        raise InstanceError(listed_problems(p, bad))
    return Mcnf(p.stem, n, scale, arcs, com, arc_lines + 1, com_lines + 1)


def _not_numbers(
    p: Path, data: bytes, starts: np.ndarray, ends: np.ndarray, records: np.ndarray
) -> list[Problem]:
    """The fields that are not numbers, by line (only when the fast parse failed)."""
    bad = []
    for i in records:
        for text in data[starts[i] : ends[i]].split():
            try:
                float(text)
            except ValueError:
                shown = text.decode("ascii", "replace")
                bad.append(Problem(f"{p} line {i + 1}", f"not a number: {shown!r}"))
    return bad or [Problem(str(p), "the records could not be read as numbers")]


def mcnf_raw(path: str | os.PathLike[str]) -> RawInstance:
    """The raw tables and settings of a planar/grid file, ready for ``validate``; legs and lots
    are located by their file lines."""
    d = parse_mcnf(path)
    p = Path(path)
    a, c = d.arcs, d.commodities
    frames = network_tables(
        d.n_nodes,
        {"from": a[:, 0], "to": a[:, 1], "cost_per_teu": a[:, 2], "capacity_teu": a[:, 3]},
        {"origin": c[:, 0], "destination": c[:, 1], "teu": c[:, 2] * d.scale},
        CLASS,
    )
    lines = {"legs": d.arc_lines.tolist(), "cargo": d.commodity_lines.tolist()}
    tables = {
        name: RawTable(name, frame.astype(object), str(p), "line", numbers=lines[name])
        if name in lines
        else RawTable(name, frame.astype(object), f"{p} ({name})", "row", 1)
        for name, frame in frames.items()
    }
    settings = {"name": d.name, "unserved": "forbid", "co2_price_per_t": 0.0}
    return RawInstance(path=p, settings=settings, tables=tables, settings_source=str(p))


def read_mcnf(path: str | os.PathLike[str]) -> Instance:
    """Read and validate a planar/grid linear multicommodity flow file as an Instance."""
    return validate(mcnf_raw(path))


SNIFFERS.append((looks_like_mcnf, mcnf_raw))
