"""Timeline events recorded as measures (``incident event --measure``, migration
``0103_identity``): what the report for the authority lists under "measures taken or
proposed", and notices under "What we did". The raw timeline is never passed off as one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from breachdesk.store import models as m
from breachdesk.store.db import Store


def measures(store: Store) -> tuple[list[tuple[datetime, str]], bool]:
    """(when, summary) of every measure, oldest first; and whether the store can tell
    (always, since the flag exists)."""
    with store.read() as session:
        rows = session.scalars(
            select(m.TimelineEvent)
            .where(
                m.TimelineEvent.incident_id == store.incident,
                m.TimelineEvent.measure,
                m.TimelineEvent.language == "",  # translations are for notices
            )
            .order_by(m.TimelineEvent.occurred_at, m.TimelineEvent.id)
        )
        return [(e.occurred_at, e.summary) for e in rows], True
