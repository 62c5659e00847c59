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
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from breachdesk.store import models as m
from breachdesk.store.db import Store
from breachdesk.store.models import EPOCH

T = TypeVar("T")


def _at(seconds: float) -> datetime:
    """Epoch seconds (the clock this module's callers count in) as a stored instant."""
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else EPOCH


def _seconds(at: datetime) -> float:
    return at.timestamp() if at > EPOCH else 0.0


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


Entry = tuple[str, dict[str, Any]]  # an audit entry (action, payload) for the same transaction


def insert_user(
    store: Store, username: str, password_hash: str, role: str, created_at: datetime,
    entry: Entry,
) -> bool:  # fmt: skip
    """Add a user, with its audit entry; False when the name is taken."""
    with store.write() as tx:
        session = tx.session
        if session.scalars(select(m.DeskUser.id).where(m.DeskUser.username == username)).first():
            return False
        session.add(
            m.DeskUser(
                username=username, password_hash=password_hash, role=role, created_at=created_at
            )
        )
        tx.audit(*entry)
    return True


def delete_user(store: Store, username: str, entry: Entry) -> bool:
    """Remove a user and end their sessions, with its audit entry; False when there is no
    such user."""
    with store.write() as tx:
        session = tx.session
        gone = session.execute(delete(m.DeskUser).where(m.DeskUser.username == username))
        session.execute(delete(m.DeskSession).where(m.DeskSession.username == username))
        if gone.rowcount:  # type: ignore[attr-defined]
            tx.audit(*entry)
    return bool(gone.rowcount)  # type: ignore[attr-defined]


def update_role(store: Store, username: str, role: str, entry: Entry) -> bool:
    with store.write() as tx:
        session = tx.session
        done = session.execute(
            update(m.DeskUser).where(m.DeskUser.username == username).values(role=role)
        )
        if done.rowcount:  # type: ignore[attr-defined]
            tx.audit(*entry)
    return bool(done.rowcount)  # type: ignore[attr-defined]


def update_password_hash(store: Store, username: str, password_hash: str) -> None:
    with store.write() as tx:
        session = tx.session
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
    with store.write() as tx:
        session = tx.session
        session.add(
            m.DeskSession(
                token_hash=token_hash, username=username, csrf=csrf, created_at=_at(now),
                last_seen=_at(now), expires_at=_at(expires_at),
            )
        )  # fmt: skip
        session.execute(delete(m.DeskSession).where(m.DeskSession.expires_at < _at(now)))


def find_session(
    store: Store, token_hash: str, now: float, idle_seconds: float
) -> SessionRow | None:
    """The live session of a token hash (an expired or idle one is deleted), its last use
    recorded at most once a minute."""
    with store.write() as tx:
        session = tx.session
        found = session.get(m.DeskSession, token_hash)
        if found is None:
            return None
        last_seen = _seconds(found.last_seen)
        if _seconds(found.expires_at) < now or last_seen + idle_seconds < now:
            session.delete(found)
            return None
        role = session.scalars(
            select(m.DeskUser.role).where(m.DeskUser.username == found.username)
        ).first()
        if role is None:
            return None
        if now - last_seen > 60:
            found.last_seen = _at(now)
        return SessionRow(found.username, role, found.csrf)


def delete_session(store: Store, token_hash: str) -> None:
    with store.write() as tx:
        session = tx.session
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
    with store.write() as tx:
        session = tx.session
        # a write first: on SQLite it takes the database's write lock before anything is read
        session.execute(
            _insert(store)(m.SigninCounter)
            .values([{"key": k, "failures": 0, "last_at": EPOCH} for k in ordered])
            .on_conflict_do_nothing()
        )
        rows = session.scalars(
            select(m.SigninCounter)
            .where(m.SigninCounter.key.in_(ordered))
            .order_by(m.SigninCounter.key)
            .with_for_update()
        ).all()
        result, changed = change(
            {r.key: Counter(r.key, r.failures, _seconds(r.last_at)) for r in rows}
        )
        _write(session, changed)
    return result


def _write(session: Session, counters: Sequence[Counter]) -> None:
    for counter in counters:
        session.execute(
            update(m.SigninCounter)
            .where(m.SigninCounter.key == counter.key)
            .values(failures=counter.failures, last_at=_at(counter.last_at))
        )


def read_counters(store: Store, keys: Sequence[str]) -> dict[str, Counter]:
    with store.session() as session:
        rows = session.scalars(select(m.SigninCounter).where(m.SigninCounter.key.in_(keys)))
        return {r.key: Counter(r.key, r.failures, _seconds(r.last_at)) for r in rows}


def forget_counters(store: Store, before: float) -> int:
    """Drop the counters whose last attempt is older than ``before`` (they count as zero)."""
    with store.write() as tx:
        session = tx.session
        gone = session.execute(delete(m.SigninCounter).where(m.SigninCounter.last_at < _at(before)))
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
    with store.write() as tx:
        session = tx.session
        session.execute(statement)


def take_refusals(
    store: Store, before_minute: int, entry: Callable[[Refusals], Entry]
) -> list[Refusals]:
    """Remove the refusal counts of the minutes before ``before_minute`` and write each one's
    audit entry in the same transaction: a count is taken, and logged, exactly once."""
    with store.write() as tx:
        session = tx.session
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
        found = sorted(
            (Refusals(r[0], r[1], r[2], r[3]) for r in rows), key=lambda r: (r.minute, r.bucket)
        )
        for refusals in found:
            tx.audit(*entry(refusals))
    return found
