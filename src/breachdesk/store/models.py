"""Tables of the store. Later features add theirs here and by an Alembic migration.

Every instant is stored one way: :class:`Instant`, fixed-width ISO 8601 text in UTC with
microseconds (``2026-11-20T16:05:00.000000Z``), so that the same comparisons and sorts work
on SQLite and PostgreSQL and a reader sees the time without conversion. (The audit log's
``at`` is the same text, produced once and then hashed.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Dialect, Enum, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # "no time set" where a column may not be empty


def instant_text(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("a naive datetime has no place in the store")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Instant(TypeDecorator[datetime]):
    """An aware datetime stored as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (27 characters)."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else instant_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


class NoticeStatus(StrEnum):
    """Where a notice is: planned → queued → sent | failed; or held (a person decides) or
    refused (the lint said no)."""

    PLANNED = "planned"
    HELD = "held"
    REFUSED = "refused"
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


def _values(kind: type[StrEnum]) -> list[str]:
    return [member.value for member in kind]


class Base(DeclarativeBase):
    pass


class Incident(Base):
    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(Instant)
    # added by 0002
    vendor: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    dataset_arrived_at: Mapped[datetime | None] = mapped_column(Instant, nullable=True)
    official_domains: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    sender: Mapped[str] = mapped_column(String(320), default="")
    # added by 0103_identity: the company's identity, and facts notices state
    company: Mapped[str] = mapped_column(String(200), default="")
    controller: Mapped[str] = mapped_column(Text, default="")
    dpo: Mapped[str] = mapped_column(Text, default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    verify_url: Mapped[str] = mapped_column(Text, default="")
    vendor_incident_start: Mapped[datetime | None] = mapped_column(Instant, nullable=True)
    vendor_incident_end: Mapped[datetime | None] = mapped_column(Instant, nullable=True)
    own_systems_breached: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class Awareness(Base):
    """When one party (the company, the vendor, …) became aware of the breach."""

    __tablename__ = "awareness"
    __table_args__ = (UniqueConstraint("incident_id", "party"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(Integer)
    party: Mapped[str] = mapped_column(String(100))
    aware_at: Mapped[datetime] = mapped_column(Instant)


class TimelineEvent(Base):
    __tablename__ = "timeline_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(Instant)
    summary: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    # added by 0103_identity: a measure taken (notices list these under "What we did")
    measure: Mapped[bool] = mapped_column(Boolean, default=False)
    # added by 0105: a measure's language ("" = the company's own words, stated everywhere
    # no text of the notice's language is recorded)
    language: Mapped[str] = mapped_column(String(16), default="")


class Task(Base):
    __tablename__ = "task"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime | None] = mapped_column(Instant, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(Instant)
    closed_at: Mapped[datetime | None] = mapped_column(Instant, nullable=True)


class Decision(Base):
    __tablename__ = "decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(Text)
    rationale: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(Instant)


class AuditEvent(Base):
    """One entry of the append-only log; ``hash`` chains it to the entry before."""

    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    incident_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # added by 0006: hmac-sha256 (keyed), or sha256 for entries written before
    scheme: Mapped[str] = mapped_column(String(20), default="hmac-sha256")


class Notice(Base):
    """One planned message: to an affected user, or to an admin about one organization."""

    __tablename__ = "notice"
    __table_args__ = (
        UniqueConstraint("kind", "user_id", "org_id"),
        Index("ix_notice_status_due", "status", "not_before"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))  # user | admin
    user_id: Mapped[str] = mapped_column(String(200))  # the recipient
    org_id: Mapped[str] = mapped_column(String(200), default="")  # for admin notices
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(
        Text, default=""
    )  # as the directory gives it; checked when composed
    locale: Mapped[str] = mapped_column(String(35), default="")
    status: Mapped[NoticeStatus] = mapped_column(
        Enum(NoticeStatus, native_enum=False, length=20, values_callable=_values)
    )
    hold_reason: Mapped[str] = mapped_column(String(200), default="")
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    facts: Mapped[str] = mapped_column(Text, default="{}")  # JSON: counts and categories only
    created_at: Mapped[datetime] = mapped_column(Instant)
    # added by 0004: the outbox. A notice is leased by one worker until lease_until (EPOCH
    # when not leased); not_before delays a retry; message_id is fixed per notice, so a
    # resend after a crash carries the same one.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(Instant, default=EPOCH)
    lease_owner: Mapped[str] = mapped_column(String(120), default="")
    lease_until: Mapped[datetime] = mapped_column(Instant, default=EPOCH)
    batch_id: Mapped[str] = mapped_column(String(40), default="")
    message_id: Mapped[str] = mapped_column(String(255), default="")
    template_version: Mapped[str] = mapped_column(String(40), default="")
    body_hash: Mapped[str] = mapped_column(String(64), default="")
    sent_at: Mapped[datetime | None] = mapped_column(Instant, nullable=True)
    last_reply: Mapped[str] = mapped_column(Text, default="")


class DeliveryAttempt(Base):
    """One try at handing one notice to the SMTP server, whatever came of it."""

    __tablename__ = "delivery_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(Integer, index=True)
    batch_id: Mapped[str] = mapped_column(String(40))
    worker: Mapped[str] = mapped_column(String(120))
    attempted_at: Mapped[datetime] = mapped_column(Instant)
    outcome: Mapped[str] = mapped_column(String(20))  # sent | retry | failed
    smtp_code: Mapped[int] = mapped_column(Integer)  # 0 when no reply came (connection lost)
    smtp_reply: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(255))
    body_hash: Mapped[str] = mapped_column(String(64))
    template_version: Mapped[str] = mapped_column(String(40))


class DeskUser(Base):
    """A person who may open the dashboard: viewer, responder or admin."""

    __tablename__ = "desk_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    role: Mapped[str] = mapped_column(String(20))  # viewer | responder | admin
    created_at: Mapped[datetime] = mapped_column(Instant)


class DeskSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "desk_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Instant)
    last_seen: Mapped[datetime] = mapped_column(Instant)
    expires_at: Mapped[datetime] = mapped_column(Instant)


class SigninCounter(Base):
    """Counted sign-in attempts of one throttle key: an account (``account:NAME``, or
    ``account:?`` for every unknown name) or a client address (``client:HASH``). Every
    attempt counts as a failure when it is let through; a success takes it back."""

    __tablename__ = "signin_counter"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(Instant, default=EPOCH, index=True)


class SigninRefusal(Base):
    """Refused sign-ins of one account (or of every unknown name) in one minute, counted
    here until the minute is over and then written to the audit log as one entry."""

    __tablename__ = "signin_refusal"

    bucket: Mapped[str] = mapped_column(String(64), primary_key=True)
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)  # epoch seconds // 60
    refused: Mapped[int] = mapped_column(Integer, default=0)
    throttled: Mapped[int] = mapped_column(Integer, default=0)


class Duty(Base):
    """Where one regime's duty stands: open, in_progress, done or not_required (added by
    0102_duties). A regime without a row is where its assessment puts it."""

    __tablename__ = "duty"
    __table_args__ = (UniqueConstraint("incident_id", "rule"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str] = mapped_column(String(200), default="")
    rationale: Mapped[str] = mapped_column(Text, default="")
    delay_reason: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(Instant)


class DutyFiling(Base):
    """One filing made for a duty: the notification, then follow-ups (GDPR Art. 33(4): the
    information may be given in phases) and a final report."""

    __tablename__ = "duty_filing"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(100), index=True)
    phase: Mapped[str] = mapped_column(String(20))  # notification | follow_up | final
    filed_at: Mapped[datetime] = mapped_column(Instant)
    channel: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(Instant)
