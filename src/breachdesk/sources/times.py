"""Event times as seconds since the epoch, in the unit each reader declares.

``epoch``: a number of seconds or milliseconds (Mixpanel's ``time``; a value past 1e11 is
milliseconds); ``micros``: microseconds, as a number or a decimal string (GA4's
``event_timestamp``, an INT64 the BigQuery JSON export writes as a string); ``iso``: ISO 8601
text, UTC when no offset is given (Segment's ``timestamp``, Amplitude's ``event_time``
``2024-05-01 12:00:00.123000``, PostHog's ``timestamp``). A value that is none of these is
left out of the event window, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class TimeUnit(StrEnum):
    EPOCH = "epoch"
    MICROS = "micros"
    ISO = "iso"


def bounds(values: Iterable[Any], unit: TimeUnit) -> tuple[float, float] | None:
    """The first and last time among ``values``, in seconds, or None if none is a time."""
    if unit is TimeUnit.EPOCH:
        stamps = [v for v in values if v.__class__ is int or v.__class__ is float]
        if not stamps:
            return None
        seconds = [s for s in stamps if s <= 1e11]
        millis = [s for s in stamps if s > 1e11]
        low = [float(min(seconds))] if seconds else []
        high = [float(max(seconds))] if seconds else []
        if millis:
            low.append(min(millis) / 1000)
            high.append(max(millis) / 1000)
        return min(low), max(high)
    found = [s for s in map(_seconds[unit], set(_hashable(values))) if s is not None]
    return (min(found), max(found)) if found else None


def _hashable(values: Iterable[Any]) -> Iterable[Any]:
    return (v for v in values if v.__class__ in (str, int, float))


def _micros(value: Any) -> float | None:
    if value.__class__ is str:
        if not value.isdigit():
            return None
        value = int(value)
    if value.__class__ in (int, float):
        return float(value) / 1e6
    return None


def _iso(value: Any) -> float | None:
    if value.__class__ is not str or len(value) < 10:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


_seconds = {TimeUnit.MICROS: _micros, TimeUnit.ISO: _iso}
