"""Tables of the store. Later features add theirs here and by an Alembic migration."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Incident(Base):
    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # added by 0002; times are ISO 8601 text in UTC, the same on SQLite and PostgreSQL
    vendor: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    dataset_arrived_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    official_domains: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    sender: Mapped[str] = mapped_column(String(320), default="")


class Awareness(Base):
    """When one party (the company, the vendor, …) became aware of the breach."""

    __tablename__ = "awareness"
    __table_args__ = (UniqueConstraint("incident_id", "party"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(Integer)
    party: Mapped[str] = mapped_column(String(100))
    aware_at: Mapped[str] = mapped_column(String(40))


class TimelineEvent(Base):
    __tablename__ = "timeline_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))


class Task(Base):
    __tablename__ = "task"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[str] = mapped_column(String(40))
    closed_at: Mapped[str | None] = mapped_column(String(40), nullable=True)


class Decision(Base):
    __tablename__ = "decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(Text)
    rationale: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[str] = mapped_column(String(40))


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
    # planned | held | refused (by lint) | queued | sent | failed
    status: Mapped[str] = mapped_column(String(20))
    hold_reason: Mapped[str] = mapped_column(String(200), default="")
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    facts: Mapped[str] = mapped_column(Text, default="{}")  # JSON: counts and categories only
    created_at: Mapped[str] = mapped_column(String(40))
    # added by 0004: the outbox. A notice is leased by one worker until lease_until (epoch
    # seconds); not_before delays a retry; message_id is fixed per notice, so a resend after
    # a crash carries the same one.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[float] = mapped_column(Float, default=0.0)
    lease_owner: Mapped[str] = mapped_column(String(120), default="")
    lease_until: Mapped[float] = mapped_column(Float, default=0.0)
    batch_id: Mapped[str] = mapped_column(String(40), default="")
    message_id: Mapped[str] = mapped_column(String(255), default="")
    template_version: Mapped[str] = mapped_column(String(40), default="")
    body_hash: Mapped[str] = mapped_column(String(64), default="")
    sent_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    last_reply: Mapped[str] = mapped_column(Text, default="")


class DeliveryAttempt(Base):
    """One try at handing one notice to the SMTP server, whatever came of it."""

    __tablename__ = "delivery_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(Integer, index=True)
    batch_id: Mapped[str] = mapped_column(String(40))
    worker: Mapped[str] = mapped_column(String(120))
    attempted_at: Mapped[str] = mapped_column(String(40))
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
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[str] = mapped_column(String(40))


class DeskSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "desk_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)


class SigninCounter(Base):
    """Counted sign-in attempts of one throttle key: an account (``account:NAME``, or
    ``account:?`` for every unknown name) or a client address (``client:HASH``). Every
    attempt counts as a failure when it is let through; a success takes it back."""

    __tablename__ = "signin_counter"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[float] = mapped_column(Float, default=0.0, index=True)  # epoch seconds


class SigninRefusal(Base):
    """Refused sign-ins of one account (or of every unknown name) in one minute, counted
    here until the minute is over and then written to the audit log as one entry."""

    __tablename__ = "signin_refusal"

    bucket: Mapped[str] = mapped_column(String(64), primary_key=True)
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)  # epoch seconds // 60
    refused: Mapped[int] = mapped_column(Integer, default=0)
    throttled: Mapped[int] = mapped_column(Integer, default=0)
