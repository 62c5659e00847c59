"""The store's vendor tables and queries: reviews of each vendor, and the vendor actions
(cut, restored, reviewed) read back from the audit log. All of the vendors feature's SQL
lives here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import orjson
from sqlalchemy import Date, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from breachdesk.domain.incident import VendorCut
from breachdesk.store import models as m
from breachdesk.store.db import Store
from breachdesk.store.models import AuditEvent, Base, Instant, instant_text

VENDOR_ACTIONS = ("vendor.cut", "vendor.restored", "vendor.reviewed")


class VendorReview(Base):
    """One review of one vendor: who looked, what they found, what was decided, and when
    the vendor is to be looked at again."""

    __tablename__ = "vendor_review"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vendor: Mapped[str] = mapped_column(String(100), index=True)
    reviewed_on: Mapped[date] = mapped_column(Date)
    reviewer: Mapped[str] = mapped_column(String(200))
    findings: Mapped[str] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(String(20))
    next_review: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(Instant)


@dataclass(frozen=True)
class ReviewRow:
    id: int
    vendor: str
    reviewed_on: date
    reviewer: str
    findings: str
    decision: str
    next_review: date
    recorded_at: datetime


@dataclass(frozen=True)
class VendorEvent:
    seq: int
    at: str
    actor: str
    action: str
    payload: dict[str, object]


def _row(r: VendorReview) -> ReviewRow:
    return ReviewRow(r.id, r.vendor, r.reviewed_on, r.reviewer, r.findings, r.decision,
                     r.next_review, r.recorded_at)  # fmt: skip


def add_review(store: Store, review: ReviewRow) -> ReviewRow:
    """The review and its audit entry, in one transaction."""
    with store.write() as tx:
        row = VendorReview(
            vendor=review.vendor, reviewed_on=review.reviewed_on, reviewer=review.reviewer,
            findings=review.findings, decision=review.decision,
            next_review=review.next_review, recorded_at=review.recorded_at,
        )  # fmt: skip
        tx.session.add(row)
        tx.session.flush()
        tx.audit(
            "vendor.reviewed",
            {"id": row.id, "vendor": review.vendor, "decision": review.decision,
             "reviewed_on": review.reviewed_on.isoformat(),
             "next_review": review.next_review.isoformat(), "findings": review.findings},
            actor=review.reviewer,
        )  # fmt: skip
        return _row(row)


def record_switch(
    store: Store, vendor: str, status: str, why: str, by: str, at: datetime, file: str
) -> int:
    """A vendor cut off (or restored): the decision and the action, with their audit
    entries, in one transaction; the sequence number of the action's entry."""
    subject = f"vendor {vendor}"
    text = "cut off" if status == "cut" else "restored"
    with store.write() as tx:
        row = m.Decision(incident_id=store.incident, subject=subject, decision=text,
                         rationale=why, decided_by=by, decided_at=at)  # fmt: skip
        tx.session.add(row)
        tx.session.flush()
        tx.audit(
            "decision.recorded",
            {"id": row.id, "subject": subject, "decision": text, "rationale": why,
             "decided_at": instant_text(at)},
            actor=by,
        )  # fmt: skip
        action = "vendor.cut" if status == "cut" else "vendor.restored"
        entry = tx.audit(action, {"vendor": vendor, "why": why, "at": instant_text(at),
                                  "file": file}, actor=by)  # fmt: skip
        return entry.seq


def vendor_cuts(store: Store, company_aware: datetime | None) -> tuple[VendorCut, ...]:
    """Vendors cut off and not restored since, with the time from the company's awareness."""
    state: dict[str, VendorCut | None] = {}
    for event in vendor_events(store):
        vendor = str(event.payload.get("vendor", ""))
        if event.action == "vendor.cut":
            at = datetime.fromisoformat(str(event.payload.get("at") or event.at))
            after = at - company_aware if company_aware is not None else None
            state[vendor] = VendorCut(vendor, at, event.actor, str(event.payload.get("why", "")),
                                      after)  # fmt: skip
        elif event.action == "vendor.restored":
            state[vendor] = None
    return tuple(cut for cut in state.values() if cut is not None)


def logged_review(payload: dict[str, object], actor: str) -> dict[str, object]:
    """What a ``vendor.reviewed`` entry says the review's row holds (entries from before
    findings were logged say the rest)."""
    keys = ("vendor", "decision", "reviewed_on", "next_review", "findings")
    return {"reviewer": actor, **{k: payload[k] for k in keys if k in payload}}


def review_tables(store: Store) -> dict[int, dict[str, object]]:
    """Each review's row in the form :func:`logged_review` gives, by id."""
    with store.read() as session:
        return {
            r.id: {"reviewer": r.reviewer, "vendor": r.vendor, "decision": r.decision,
                   "reviewed_on": r.reviewed_on.isoformat(),
                   "next_review": r.next_review.isoformat(), "findings": r.findings}
            for r in session.scalars(select(VendorReview))
        }  # fmt: skip


def reviews(store: Store, vendors: Sequence[str] | None = None) -> list[ReviewRow]:
    """Every review (of ``vendors`` when given), oldest first."""
    query = select(VendorReview).order_by(VendorReview.reviewed_on, VendorReview.id)
    if vendors is not None:
        query = query.where(VendorReview.vendor.in_(list(vendors)))
    with store.read() as session:
        return [_row(r) for r in session.scalars(query)]


def latest_reviews(store: Store) -> dict[str, ReviewRow]:
    found: dict[str, ReviewRow] = {}
    for row in reviews(store):
        found[row.vendor] = row  # oldest first: the last one wins
    return found


def vendor_events(store: Store) -> list[VendorEvent]:
    """The audit log's vendor actions, in order."""
    query = select(AuditEvent).where(AuditEvent.action.in_(VENDOR_ACTIONS)).order_by(AuditEvent.seq)
    with store.read() as session:
        return [
            VendorEvent(e.seq, e.at, e.actor, e.action, orjson.loads(e.payload))
            for e in session.scalars(query)
        ]
