"""Planned notices in the store: adding what a plan wants, refreshing what is not sent yet,
with the plan's audit entry in the same transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import insert, select

from breachdesk.store import models as m
from breachdesk.store.db import Store
from breachdesk.store.models import NoticeStatus


@dataclass(frozen=True)
class WantedNotice:
    kind: str  # user | admin
    user_id: str
    org_id: str
    email: str
    name: str
    locale: str
    status: NoticeStatus  # planned | held
    hold_reason: str
    facts: str  # JSON


@dataclass
class PlanSummary:
    new: Counter[str] = field(default_factory=Counter)  # kind/status -> notices added
    existing: int = 0
    held: Counter[str] = field(default_factory=Counter)  # reason -> notices held


def save_plan(
    store: Store, wanted: Sequence[WantedNotice], reference: Callable[[], str]
) -> PlanSummary:
    """Insert the notices not planned yet; refresh the facts of those not sent; release a
    held or refused one that may now go. Idempotent: planning twice adds nothing."""
    summary = PlanSummary()
    now = datetime.now(UTC)
    planned, held, refused = NoticeStatus.PLANNED, NoticeStatus.HELD, NoticeStatus.REFUSED
    with store.write() as tx:
        session = tx.session
        existing = {
            (k, u, o): (i, s, f, e)
            for i, k, u, o, s, f, e in session.execute(
                select(m.Notice.id, m.Notice.kind, m.Notice.user_id, m.Notice.org_id,
                       m.Notice.status, m.Notice.facts, m.Notice.email)
            )
        }  # fmt: skip
        fresh = []
        for notice in wanted:
            found = existing.get((notice.kind, notice.user_id, notice.org_id))
            if found is not None:
                summary.existing += 1
                notice_id, status, facts, email = found
                row = None
                if status in (planned, held) and facts != notice.facts:
                    row = session.get(m.Notice, notice_id)
                    assert row is not None
                    row.facts = notice.facts  # a re-match changed what was exposed
                if status in (planned, held, refused) and email != notice.email:
                    # not sent yet: the address as the directory now writes it (a plan made
                    # before addresses were kept as written held their casefolded form)
                    row = row or session.get(m.Notice, notice_id)
                    assert row is not None
                    row.email = notice.email
                if notice.status == planned and status in (refused, held):
                    # refused by the lint: planning again gives it another pass; held:
                    # released (a decision was taken, --include-deactivated, or data fixed)
                    row = row or session.get(m.Notice, notice_id)
                    assert row is not None
                    row.status = planned
                    verb = "re-planned" if status == refused else "released"
                    summary.new[f"{notice.kind} {verb}"] += 1
                continue
            fresh.append(
                {
                    "kind": notice.kind, "user_id": notice.user_id, "org_id": notice.org_id,
                    "email": notice.email, "name": notice.name, "locale": notice.locale,
                    "status": notice.status, "hold_reason": notice.hold_reason,
                    "facts": notice.facts, "incident_id": store.incident,
                    "reference": reference(), "created_at": now,
                }
            )  # fmt: skip
            summary.new[f"{notice.kind} {notice.status}"] += 1
            if notice.status == held:
                summary.held[notice.hold_reason] += 1
        for start in range(0, len(fresh), 5000):
            session.execute(insert(m.Notice), fresh[start : start + 5000])
        tx.audit(
            "notify.planned",
            {"new": dict(summary.new), "existing": summary.existing, "held": dict(summary.held)},
        )
    return summary
