"""Times of the planning week: hours from Monday 00:00, weekdays and clock times as planners write them.

A *week time* is a number of hours from the start of the week, or a weekday and a 24-hour clock
time (``Tue 06:00``, ``tue 6:00``, ``Tuesday 06:00``; Mon is day 0), which reads as
``day × 24 + hours + minutes / 60``. Text always names a time inside the first week; a time later
than that is written in hours (``174`` is the Monday after the week, 06:00).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
"""Weekday names as written back, Monday (day 0) first."""
HOURS_PER_WEEK = 168.0

_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NUMBER = {d.casefold(): k for k, d in enumerate(WEEKDAYS)} | {
    d: k for k, d in enumerate(_FULL)
}
_CLOCK = re.compile(r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::00)?")
_WEEKTIME = re.compile(r"(?P<day>[A-Za-z]+)\.?\s+(?P<clock>\S+)")


def weekday_number(value: Any) -> int | None:
    """The day number (Mon 0 .. Sun 6) of a weekday name (any case, short or full) or of a
    whole number 0..6; None when ``value`` is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip().casefold().rstrip(".")
        if text in _DAY_NUMBER:
            return _DAY_NUMBER[text]
        if not text.isdigit():
            return None
        value = int(text)
    if isinstance(value, int | float) and float(value).is_integer() and 0 <= value <= 6:
        return int(value)
    return None


def clock_minutes(value: Any) -> int | None:
    """Minutes after midnight of a clock time ``HH:MM`` (00:00 to 23:59; ``HH:MM:00`` and Excel
    time cells are taken too); None when ``value`` is no such time."""
    if isinstance(value, dt.datetime):
        return None  # a date, not a time of day
    if isinstance(value, dt.time):
        if value.second or value.microsecond:
            return None
        return value.hour * 60 + value.minute
    if not isinstance(value, str):
        return None
    m = _CLOCK.fullmatch(value.strip())
    if m is None:
        return None
    hours, minutes = int(m["h"]), int(m["m"])
    if hours > 23 or minutes > 59:
        return None
    return hours * 60 + minutes


def clock_text(minutes: int) -> str:
    """``HH:MM`` of a number of minutes after midnight."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def weektime_hours(text: str) -> float | None:
    """Hours from the start of the week of a weekday and time (``Tue 06:00`` is 30.0); None when
    ``text`` is not of that form."""
    m = _WEEKTIME.fullmatch(text.strip())
    if m is None:
        return None
    day, minutes = weekday_number(m["day"]), clock_minutes(m["clock"])
    if day is None or minutes is None:
        return None
    return day * 24.0 + minutes / 60.0


def weektime_text(hours: float) -> str:
    """A time inside the week as a weekday and time (``Tue 06:00``), to the minute."""
    minutes = round(hours * 60)
    day, rest = divmod(minutes, 24 * 60)
    return f"{WEEKDAYS[int(day) % 7]} {clock_text(int(rest))}"


def timetable_hours(days: Iterable[Any], times: Iterable[Any]) -> np.ndarray:
    """Hours from the week start of departures given as weekday (``Tue``) and clock time
    (``06:00``), as typed instances hold them; NaN where either is missing or unreadable."""
    out = []
    for day, time in zip(days, times, strict=True):
        d = weekday_number(day) if isinstance(day, str) else None
        m = clock_minutes(time) if isinstance(time, str) else None
        out.append(np.nan if d is None or m is None else d * 24.0 + m / 60.0)
    return np.array(out, dtype=float)
