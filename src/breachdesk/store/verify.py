"""The SQL the public notice check's publication needs: the sent notices' codes, addresses
and sent times (read once, hashed at once, never written anywhere in the clear)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from breachdesk.store import models as m
from breachdesk.store.db import Store


@dataclass(frozen=True, slots=True)
class SentNotice:
    reference: str
    email: str
    sent_at: str


def sent_notices(store: Store) -> list[SentNotice]:
    with store.session() as session:
        rows = session.execute(
            select(m.Notice.reference, m.Notice.email, m.Notice.sent_at).where(
                m.Notice.status == "sent"
            )
        ).all()
    return [SentNotice(r[0], r[1], r[2] or "") for r in rows]
