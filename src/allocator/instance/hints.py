"""Did-you-mean suggestions shared by instance validation and scenario files."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CUTOFF = 0.6  # difflib similarity for a suggestion
NEAR = 0.05  # candidates this close to the best one are offered too ...
ALSO = 0.8  # ... when they are at least this similar
MAX_OFFERED = 3


def close_matches(value: str, candidates: Iterable[str], cutoff: float = CUTOFF) -> list[str]:
    """The candidates most similar to ``value``: difflib's best, plus any other about as similar
    and similar enough (``AZ_AL``: ``AZ_ALA`` and ``AZ_YAL``), most similar first."""
    text = str(value)
    pool = sorted({str(c) for c in candidates})
    found = difflib.get_close_matches(text, pool, n=MAX_OFFERED, cutoff=cutoff)
    if not found:
        return []
    score = {c: difflib.SequenceMatcher(None, text, c).ratio() for c in found}
    best = score[found[0]]
    keep = [found[0]] + [c for c in found[1:] if score[c] >= max(ALSO, best - NEAR)]
    return sorted(keep, key=lambda c: (-score[c], c))


def did_you_mean(value: str, candidates: Iterable[str], cutoff: float = CUTOFF) -> str:
    """`` (did you mean 'a' or 'b'?)`` for the close candidates, or an empty string."""
    found = [f"'{c}'" for c in close_matches(value, candidates, cutoff)]
    if not found:
        return ""
    text = found[0] if len(found) == 1 else ", ".join(found[:-1]) + " or " + found[-1]
    return f" (did you mean {text}?)"
