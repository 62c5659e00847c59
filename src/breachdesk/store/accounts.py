"""The SQL of the dashboard's accounts: desk users, their sessions, and the sign-in counters
(attempts per throttle key, refusals per account and minute).

Policy — hashing, throttling decisions, roles — lives in ``services/accounts.py`` and
``web/auth.py``; this module reads and writes rows, each change in one transaction. The
counters change through :func:`change_counters`, a read-modify-write that holds the rows for
the whole transaction (the write lock on SQLite, ``FOR UPDATE`` on PostgreSQL), so that
parallel sign-ins are counted one after the other and none is checked unseen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from breachdesk.store import models as m
from breachdesk.store.db import Store

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DeskUserRow:
    username: str
    password_hash: str
    role: str


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A live session: whose it is, their role now, and the session's CSRF token."""

    username: str
    role: str
    csrf: str


@dataclass(frozen=True, slots=True)
class Counter:
    """Counted attempts of one throttle key; ``last_at`` is when the last one was let in."""

    key: str
    failures: int
    last_at: float


@dataclass(frozen=True, slots=True)
class Refusals:
    """Refused sign-ins of one bucket (an account, or every unknown name) in one minute."""

    bucket: str
    minute: int
    refused: int
    throttled: int


# -- users ------------------------------------------------------------------------------------


def find_user(store: Store, username: str) -> DeskUserRow | None:
    with store.session() as session:
        row = session.execute(
            select(m.DeskUser.username, m.DeskUser.password_hash, m.DeskUser.role).where(
                m.DeskUser.username == username
            )
        ).first()
    return DeskUserRow(row[0], row[1], row[2]) if row else None


def insert_user(
    store: Store, username: str, password_hash: str, role: str, created_at: str
) -> bool:
    """Add a user; False when the name is taken."""
    with store.session() as session, session.begin():
        if session.scalars(select(m.DeskUser.id).where(m.DeskUser.username == username)).first():
            return False
        session.add(
            m.DeskUser(
                username=username, password_hash=password_hash, role=role, created_at=created_at
            )
        )
    return True


def delete_user(store: Store, username: str) -> bool:
    """Remove a user and end their sessions; False when there is no such user."""
    with store.session() as session, session.begin():
        gone = session.execute(delete(m.DeskUser).where(m.DeskUser.username == username))
        session.execute(delete(m.DeskSession).where(m.DeskSession.username == username))
    return bool(gone.rowcount)  # type: ignore[attr-defined]


def update_role(store: Store, username: str, role: str) -> bool:
    with store.session() as session, session.begin():
        done = session.execute(
            update(m.DeskUser).where(m.DeskUser.username == username).values(role=role)
        )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def update_password_hash(store: Store, username: str, password_hash: str) -> None:
    with store.session() as session, session.begin():
        session.execute(
            update(m.DeskUser)
            .where(m.DeskUser.username == username)
            .values(password_hash=password_hash)
        )


def all_users(store: Store) -> list[DeskUserRow]:
    with store.session() as session:
        rows = session.execute(
            select(m.DeskUser.username, m.DeskUser.password_hash, m.DeskUser.role).order_by(
                m.DeskUser.username
            )
        ).all()
    return [DeskUserRow(r[0], r[1], r[2]) for r in rows]


# -- sessions ---------------------------------------------------------------------------------


def insert_session(
    store: Store, token_hash: str, username: str, csrf: str, now: float, expires_at: float
) -> None:
    """Record a new session, and drop the expired ones while at it."""
    with store.session() as session, session.begin():
        session.add(
            m.DeskSession(
                token_hash=token_hash, username=username, csrf=csrf, created_at=now,
                last_seen=now, expires_at=expires_at,
            )
        )  # fmt: skip
        session.execute(delete(m.DeskSession).where(m.DeskSession.expires_at < now))


def find_session(
    store: Store, token_hash: str, now: float, idle_seconds: float
) -> SessionRow | None:
    """The live session of a token hash (an expired or idle one is deleted), its last use
    recorded at most once a minute."""
    with store.session() as session, session.begin():
        found = session.get(m.DeskSession, token_hash)
        if found is None:
            return None
        if found.expires_at < now or found.last_seen + idle_seconds < now:
            session.delete(found)
            return None
        role = session.scalars(
            select(m.DeskUser.role).where(m.DeskUser.username == found.username)
        ).first()
        if role is None:
            return None
        if now - found.last_seen > 60:
            found.last_seen = now
        return SessionRow(found.username, role, found.csrf)


def delete_session(store: Store, token_hash: str) -> None:
    with store.session() as session, session.begin():
        session.execute(delete(m.DeskSession).where(m.DeskSession.token_hash == token_hash))


# -- sign-in counters -------------------------------------------------------------------------


def _insert(store: Store) -> Any:
    return postgresql.insert if store.engine.dialect.name == "postgresql" else sqlite.insert


def change_counters(
    store: Store,
    keys: Sequence[str],
    change: Callable[[dict[str, Counter]], tuple[T, Sequence[Counter]]],
) -> T:
    """Read the counters of ``keys`` (missing ones as zero), let ``change`` decide, write the
    counters it returns — all while no other transaction can read them for a change. Returns
    what ``change`` returned first."""
    ordered = sorted(set(keys))  # one lock order everywhere: no deadlock between two sign-ins
    with store.session() as session, session.begin():
        # a write first: on SQLite it takes the database's write lock before anything is read
        session.execute(
            _insert(store)(m.SigninCounter)
            .values([{"key": k, "failures": 0, "last_at": 0.0} for k in ordered])
            .on_conflict_do_nothing()
        )
        rows = session.scalars(
            select(m.SigninCounter)
            .where(m.SigninCounter.key.in_(ordered))
            .order_by(m.SigninCounter.key)
            .with_for_update()
        ).all()
        result, changed = change({r.key: Counter(r.key, r.failures, r.last_at) for r in rows})
        _write(session, changed)
    return result


def _write(session: Session, counters: Sequence[Counter]) -> None:
    for counter in counters:
        session.execute(
            update(m.SigninCounter)
            .where(m.SigninCounter.key == counter.key)
            .values(failures=counter.failures, last_at=counter.last_at)
        )


def read_counters(store: Store, keys: Sequence[str]) -> dict[str, Counter]:
    with store.session() as session:
        rows = session.scalars(select(m.SigninCounter).where(m.SigninCounter.key.in_(keys)))
        return {r.key: Counter(r.key, r.failures, r.last_at) for r in rows}


def forget_counters(store: Store, before: float) -> int:
    """Drop the counters whose last attempt is older than ``before`` (they count as zero)."""
    with store.session() as session, session.begin():
        gone = session.execute(delete(m.SigninCounter).where(m.SigninCounter.last_at < before))
    return int(gone.rowcount)  # type: ignore[attr-defined]


def count_refusal(store: Store, bucket: str, minute: int, throttled: bool) -> None:
    """One more refused sign-in of ``bucket`` in ``minute`` (an upsert: one row per pair)."""
    extra = 1 if throttled else 0
    table = m.SigninRefusal.__table__
    statement = (
        _insert(store)(m.SigninRefusal)
        .values(bucket=bucket, minute=minute, refused=1, throttled=extra)
        .on_conflict_do_update(
            index_elements=["bucket", "minute"],
            set_={"refused": table.c.refused + 1, "throttled": table.c.throttled + extra},
        )
    )
    with store.session() as session, session.begin():
        session.execute(statement)


def take_refusals(store: Store, before_minute: int) -> list[Refusals]:
    """Remove and return the refusal counts of the minutes before ``before_minute``: whoever
    takes a row is the only one to write it to the audit log."""
    with store.session() as session, session.begin():
        rows = session.execute(
            delete(m.SigninRefusal)
            .where(m.SigninRefusal.minute < before_minute)
            .returning(
                m.SigninRefusal.bucket,
                m.SigninRefusal.minute,
                m.SigninRefusal.refused,
                m.SigninRefusal.throttled,
            )
        ).all()
    found = [Refusals(r[0], r[1], r[2], r[3]) for r in rows]
    return sorted(found, key=lambda r: (r.minute, r.bucket))
