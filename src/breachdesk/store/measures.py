"""Timeline events recorded as measures (``incident event --measure``): what the report for
the authority lists under "measures taken or proposed". Until the store has the flag (a
later migration adds it), no event is a measure: the raw timeline is never passed off as
one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from breachdesk.store import models as m
from breachdesk.store.db import Store

_FLAGS = ("measure", "is_measure")


def measures(store: Store) -> tuple[list[tuple[datetime, str]], bool]:
    """(when, summary) of every measure, oldest first; and whether the store can tell."""
    flag = next((getattr(m.TimelineEvent, n) for n in _FLAGS if hasattr(m.TimelineEvent, n)), None)
    if flag is None:
        return [], False
    with store.read() as session:
        rows = session.scalars(
            select(m.TimelineEvent)
            .where(m.TimelineEvent.incident_id == store.incident, flag.is_(True))
            .order_by(m.TimelineEvent.occurred_at)
        )
        return [(e.occurred_at, e.summary) for e in rows], True
