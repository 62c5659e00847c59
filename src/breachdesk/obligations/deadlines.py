"""Deadline arithmetic: hours run on the clock (UTC), days and business days on the calendar
of the incident's time zone (so a daylight-saving change never moves a deadline's hour)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def add_hours(start: datetime, hours: int) -> datetime:
    return start + timedelta(hours=hours)


def add_days(start: datetime, days: int, zone: str) -> datetime:
    local = start.astimezone(ZoneInfo(zone))
    naive = local.replace(tzinfo=None) + timedelta(days=days)
    return naive.replace(tzinfo=ZoneInfo(zone))


def add_business_days(start: datetime, days: int, zone: str) -> datetime:
    """``days`` working days (Monday to Friday) after ``start``, same local time of day.

    Public holidays are not known here: the result can only be earlier than the true
    deadline, never later (the safe side).
    """
    local = start.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    added = 0
    while added < days:
        local += timedelta(days=1)
        if local.weekday() < 5:
            added += 1
    return local.replace(tzinfo=ZoneInfo(zone))
