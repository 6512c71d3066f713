"""CSV table files as desktop programs write them: encoding, delimiter, decimal comma, field counts.

Rules (docs/format.md, "How files are read"):

- Encoding: UTF-8 with or without BOM, UTF-16 with BOM; otherwise the single-byte encodings
  Windows-1250, Windows-1252 and Latin-1. When these read the file differently, the reading
  whose non-ASCII characters are all letters wins, then charset-normalizer's verdict when it
  is clear-cut; otherwise the file is ambiguous and an error says how to save it.
- Delimiter: comma, semicolon or tab, whichever splits a header line into schema column names
  (then: whichever splits the first lines into more than one field, consistently).
- Decimal comma: only in semicolon- or tab-separated files, decided per file from the number
  columns (``12,5`` and ``1.234,5``); a file mixing ``12,5`` and ``0.25``, or holding only
  ``1.234``-like numbers, is ambiguous.
- Every data row has exactly the header's number of fields (trailing empty fields excepted).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

from allocator.errors import InstanceError, Problem

SAVE_HINT = "save it as CSV UTF-8 (comma delimited)"
DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}
_SINGLE_BYTE = {"cp1250": "Windows-1250", "cp1252": "Windows-1252", "latin_1": "Latin-1"}
HEADER_SEARCH = 10  # lines searched for the header when line 1 holds no column name

DECIMAL_COMMA = re.compile(r"[+-]?(\d+|[1-9]\d{0,2}(\.\d{3})+),\d+")
_DECIMAL_POINT = re.compile(r"[+-]?(\d*\.\d+|\d+\.)([eE][+-]?\d+)?")
_GROUPED = re.compile(r"[+-]?[1-9]\d{0,2}(\.\d{3})+")  # 1.234: thousands or a decimal point


@dataclass
class CsvText:
    """A decoded, split CSV table: header, rows padded to the header's width, their line numbers."""

    header: list[str]
    rows: list[list[str]]
    numbers: list[int]
    encoding: str
    delimiter: str
    decimal: str
    problems: list[Problem] = field(default_factory=list)
    broken: set[int] = field(default_factory=set)  # rows whose field count was reported


def _fail(where: str, message: str) -> InstanceError:
    return InstanceError([Problem(where, message)])


def _line_of(data: bytes | str, pos: int) -> int:
    return data[:pos].count(b"\n" if isinstance(data, bytes) else "\n") + 1


def decode(data: bytes, shown: str) -> tuple[str, str]:
    """The text of a table file and the name of its encoding; raise InstanceError naming the file."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError as exc:
            raise _fail(shown, f"starts as UTF-16 but is not: {exc.reason}; {SAVE_HINT}") from exc
    if data.startswith(b"PK\x03\x04"):
        raise _fail(shown, f"is an Excel workbook or another zip file, not CSV; {SAVE_HINT}")
    if b"\x00" in data:
        line = _line_of(data, data.index(b"\x00"))
        raise _fail(f"{shown} line {line}", f"is not a text file (binary content); {SAVE_HINT}")
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "UTF-8"
        except UnicodeDecodeError as exc:
            line = _line_of(data, exc.start)
            raise _fail(
                f"{shown} line {line}",
                f"starts with a UTF-8 byte-order mark but byte 0x{data[exc.start]:02x} is not "
                f"UTF-8; {SAVE_HINT}",
            ) from exc
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    return _single_byte(data, shown)


def _single_byte(data: bytes, shown: str) -> tuple[str, str]:
    readings: dict[str, str] = {}
    for enc in _SINGLE_BYTE:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if any(unicodedata.category(c) == "Cc" and c not in "\t\r\n" for c in text):
            continue  # C1 control characters: not this encoding
        if text not in readings.values():
            readings[enc] = text
    if not readings:
        raise _fail(shown, f"is neither UTF-8 nor Windows-1250/1252 nor Latin-1 text; {SAVE_HINT}")
    if len(readings) > 1:  # a reading with symbols inside words (Ma³aszewicze) is wrong
        odd = {e: sum(ord(c) > 127 and not c.isalpha() for c in t) for e, t in readings.items()}
        readings = {e: t for e, t in readings.items() if odd[e] == min(odd.values())}
    if len(readings) > 1:
        from charset_normalizer import from_bytes

        ranked = list(from_bytes(data, cp_isolation=list(readings)))
        if len(ranked) >= 2:
            a, b = ranked[0], ranked[1]
            if b.chaos - a.chaos > 0.02 or a.coherence - b.coherence > 0.05:
                readings = {a.encoding: readings[a.encoding]} if a.encoding in readings else {}
        elif len(ranked) == 1 and ranked[0].encoding in readings:
            readings = {ranked[0].encoding: readings[ranked[0].encoding]}
    if len(readings) == 1:
        [(enc, text)] = readings.items()
        return text, _SINGLE_BYTE[enc]
    (e1, t1), (e2, t2) = list(readings.items())[:2]
    pos = next(i for i, (x, y) in enumerate(zip(t1, t2, strict=False)) if x != y)
    start = max(t1.rfind(c, 0, pos) for c in ' ,;\t\n"') + 1
    end = min([i for i in (t1.find(c, pos) for c in ' ,;\t\r\n"') if i >= 0] or [len(t1)])
    raise _fail(
        f"{shown} line {_line_of(t1, pos)}",
        f"is not UTF-8, and its encoding is ambiguous: '{t1[start:end]}' in {_SINGLE_BYTE[e1]} "
        f"or '{t2[start:end]}' in {_SINGLE_BYTE[e2]}; {SAVE_HINT}",
    )


def _split(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter, skipinitialspace=True), [])
    except csv.Error:
        return [line]


def _matches(cells: list[str], columns: Collection[str]) -> int:
    return sum(c.strip().casefold() in columns for c in cells)


def sniff_delimiter(text: str, columns: Collection[str], shown: str) -> str:
    """The delimiter of ``text`` (``columns``: the table's schema column names, case-folded)."""
    lines = [ln for ln in text.splitlines() if ln.strip()][:20]
    if not lines:
        return ","
    score = {
        d: max(_matches(_split(ln, d), columns) for ln in lines[:HEADER_SEARCH]) for d in DELIMITERS
    }
    best = max(score.values())
    if best > 0 and list(score.values()).count(best) == 1:
        return max(score, key=lambda d: score[d])
    tied = [d for d in DELIMITERS if score[d] == best]
    widths = {d: [len(_split(ln, d)) for ln in lines] for d in tied}
    split = [d for d in tied if max(widths[d]) > 1]
    if not split:
        return ","
    if len(split) == 1:
        return split[0]
    consistent = {
        d: Counter(widths[d]).most_common(1)[0][1] for d in split
    }  # lines with the usual width
    top = max(consistent.values())
    winners = [d for d in split if consistent[d] == top]
    if len(winners) == 1:
        return winners[0]
    names = " or ".join(_DELIMITER_NAMES[d] for d in winners)
    raise _fail(shown, f"cannot tell whether the fields are separated by {names}; {SAVE_HINT}")


def _decimal(rows: list[list[str]], numbers: list[int], numeric: list[int], shown: str) -> str:
    """',' when the number columns use a decimal comma, else '.'; raise when ambiguous."""
    comma = point = grouped = None
    for row, line in zip(rows, numbers, strict=True):
        for j in numeric:
            cell = row[j].strip()
            if comma is None and DECIMAL_COMMA.fullmatch(cell):
                comma = (line, cell)
            elif _GROUPED.fullmatch(cell):
                grouped = grouped or (line, cell)
            elif point is None and _DECIMAL_POINT.fullmatch(cell):
                point = (line, cell)
    if comma and point:
        raise _fail(
            shown,
            f"mixes decimal commas (line {comma[0]}: '{comma[1]}') and decimal points "
            f"(line {point[0]}: '{point[1]}'); {SAVE_HINT}",
        )
    if comma:
        return ","
    if grouped and not point:
        raise _fail(
            f"{shown} line {grouped[0]}",
            f"'{grouped[1]}' may be a decimal or a thousands separator; {SAVE_HINT}",
        )
    return "."


def _with_point(cell: str) -> str:
    text = cell.strip()
    if DECIMAL_COMMA.fullmatch(text) or _GROUPED.fullmatch(text):
        return text.replace(".", "").replace(",", ".")
    return cell


def header_index(rows: list[list[str]], columns: Collection[str]) -> int:
    """Index of the header among the first rows: row 0 unless it names no schema column and a
    later row does."""
    if not columns or not rows or _matches(rows[0], columns) > 0:
        return 0
    for k, row in enumerate(rows[1:HEADER_SEARCH], start=1):
        if _matches(row, columns) >= 2:
            return k
    return 0


def title_problem(where: str, word: str, first: list[object], header_number: int) -> Problem:
    """The one problem of a table whose header is below a title row."""
    shown = ", ".join(repr(str(c).strip()) for c in first if str(c or "").strip()) or "nothing"
    return Problem(
        where,
        f"the header is expected in {word} 1, but {word} 1 holds {shown} and the column names "
        f"are in {word} {header_number}; delete the {word}s above the header",
    )


def read_csv_text(
    data: bytes, shown: str, columns: Collection[str], numeric: Collection[str]
) -> CsvText:
    """Decode and split one CSV table file.

    ``columns`` are the table's schema column names and ``numeric`` its number columns (both
    case-folded; empty for an unknown table). Raise InstanceError naming the file when it cannot
    be read at all; row-level problems come back in ``CsvText.problems``.
    """
    text, encoding = decode(data, shown)
    if not text.strip():
        raise _fail(shown, "is empty; expected a header line with the column names")
    delimiter = sniff_delimiter(text, columns, shown)
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True, strict=True
    )
    records: list[tuple[int, list[str]]] = []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise _fail(f"{shown} line {start}", f"is not valid CSV: {exc}; {SAVE_HINT}") from exc
        if "".join(row).strip():  # blank lines and rows of empty fields are skipped
            records.append((start, row))
    if not records:
        raise _fail(shown, "is empty; expected a header line with the column names")
    k = header_index([r for _, r in records], columns)
    problems = []
    if k > 0:
        problems.append(title_problem(f"{shown} line 1", "line", records[0][1], records[k][0]))
    header = records[k][1]
    width = len(header)
    rows: list[list[str]] = []
    numbers: list[int] = []
    broken: set[int] = set()
    # a header without any column name of the table is reported once, by validate; its rows'
    # field counts would be noise
    count_fields = not columns or _matches(header, columns) > 0
    for line, row in records[k + 1 :]:
        if len(row) > width and not any(c.strip() for c in row[width:]):
            row = row[:width]  # trailing empty fields (Excel writes them for stray cells)
        if len(row) != width and count_fields:
            broken.add(len(rows))
            problems.append(
                Problem(
                    f"{shown} line {line}",
                    f"{len(row)} fields, the header has {width}"
                    + ("; a value or its delimiter is missing" if len(row) < width else ""),
                )
            )
        row = (row + [""] * width)[:width]
        rows.append(row)
        numbers.append(line)
    decimal = "."
    if delimiter != ",":
        positions = [j for j, h in enumerate(header) if h.strip().casefold() in numeric]
        decimal = _decimal(rows, numbers, positions, shown)
        if decimal == ",":
            for row in rows:
                for j in positions:
                    row[j] = _with_point(row[j])
    return CsvText(header, rows, numbers, encoding, delimiter, decimal, problems, broken)
