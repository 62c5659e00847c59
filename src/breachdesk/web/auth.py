"""Dashboard users and sessions: argon2id password hashes, lockout after repeated failures,
server-side sessions (the cookie carries a random token, the store only its SHA-256), a CSRF
token per session, and the three roles."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from breachdesk.errors import InputError
from breachdesk.store import Store
from breachdesk.store import models as m

ROLES = ("viewer", "responder", "admin")  # each may do what the ones before it may
MAX_FAILURES = 5
LOCKOUT_SECONDS = 15 * 60
SESSION_SECONDS = 8 * 3600
IDLE_SECONDS = 30 * 60
MIN_PASSWORD = 12
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
_hasher = PasswordHasher()
# verified when the user is unknown, so both answers take the time of one argon2 check
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


def may(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_username(username: str) -> str:
    if not _USERNAME.match(username):
        raise InputError("a username is 2–64 characters: lower-case letters, digits, . _ -")
    return username


def add_user(store: Store, username: str, password: str, role: str) -> None:
    check_username(username)
    if role not in ROLES:
        raise InputError(f"role {role!r}: one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise InputError(f"a password has at least {MIN_PASSWORD} characters")
    with store.session() as session, session.begin():
        if session.scalars(select(m.DeskUser).where(m.DeskUser.username == username)).first():
            raise InputError(f"user {username} exists; use users role or users remove")
        session.add(
            m.DeskUser(
                username=username, password_hash=_hasher.hash(password), role=role,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
        )  # fmt: skip


def remove_user(store: Store, username: str) -> None:
    with store.session() as session, session.begin():
        gone = session.execute(delete(m.DeskUser).where(m.DeskUser.username == username))
        if not gone.rowcount:  # type: ignore[attr-defined]
            raise InputError(f"no user {username}")
        session.execute(delete(m.DeskSession).where(m.DeskSession.username == username))
    forget_sessions()


def set_role(store: Store, username: str, role: str) -> None:
    if role not in ROLES:
        raise InputError(f"role {role!r}: one of {', '.join(ROLES)}")
    with store.session() as session, session.begin():
        user = session.scalars(select(m.DeskUser).where(m.DeskUser.username == username)).first()
        if user is None:
            raise InputError(f"no user {username}")
        user.role = role
    forget_sessions()


def list_users(store: Store) -> list[tuple[str, str, bool]]:
    now = time.time()
    with store.session() as session:
        return [
            (u.username, u.role, u.locked_until > now)
            for u in session.scalars(select(m.DeskUser).order_by(m.DeskUser.username))
        ]


@dataclass(frozen=True)
class Login:
    ok: bool
    reason: str  # "", "wrong", "locked"
    token: str = ""


def login(store: Store, username: str, password: str) -> Login:
    """Check a password; five failures lock the account for fifteen minutes."""
    now = time.time()
    with store.session() as session, session.begin():
        user = session.scalars(select(m.DeskUser).where(m.DeskUser.username == username)).first()
        if user is None:
            _verify(_DUMMY, password)
            return Login(False, "wrong")
        if user.locked_until > now:
            return Login(False, "locked")
        if not _verify(user.password_hash, password):
            user.failed_logins += 1
            if user.failed_logins >= MAX_FAILURES:
                user.locked_until, user.failed_logins = now + LOCKOUT_SECONDS, 0
                return Login(False, "locked")
            return Login(False, "wrong")
        user.failed_logins = 0
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        token = secrets.token_urlsafe(32)
        session.add(
            m.DeskSession(
                token_hash=_token_hash(token), username=username,
                csrf=secrets.token_urlsafe(32), created_at=now, last_seen=now,
                expires_at=now + SESSION_SECONDS,
            )
        )  # fmt: skip
        session.execute(delete(m.DeskSession).where(m.DeskSession.expires_at < now))
    return Login(True, "", token)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Who:
    username: str
    role: str
    csrf: str


_RECENT_SECONDS = 2.0  # a checked session is trusted this long without asking the store
_recent: dict[str, tuple[Who, float]] = {}
_recent_lock = threading.Lock()


def forget_sessions() -> None:
    """Drop the short-lived cache of checked sessions (after a logout or a user change)."""
    with _recent_lock:
        _recent.clear()


def current(store: Store, token: str | None) -> Who | None:
    """The signed-in user of a session token, or None (unknown, expired, idle too long)."""
    if not token or len(token) > 100:
        return None
    key = _token_hash(token)
    with _recent_lock:
        hit = _recent.get(key)
    if hit is not None and hit[1] > time.monotonic():
        return hit[0]
    who = _lookup(store, key)
    with _recent_lock:
        if who is None:
            _recent.pop(key, None)
        else:
            if len(_recent) > 10_000:
                _recent.clear()
            _recent[key] = (who, time.monotonic() + _RECENT_SECONDS)
    return who


def _lookup(store: Store, key: str) -> Who | None:
    now = time.time()
    with store.session() as session, session.begin():
        found = session.get(m.DeskSession, key)
        if found is None:
            return None
        if found.expires_at < now or found.last_seen + IDLE_SECONDS < now:
            session.delete(found)
            return None
        user = session.scalars(
            select(m.DeskUser).where(m.DeskUser.username == found.username)
        ).first()
        if user is None:
            return None
        if now - found.last_seen > 60:
            found.last_seen = now
        return Who(user.username, user.role, found.csrf)


def logout(store: Store, token: str | None) -> None:
    forget_sessions()
    if token:
        with store.session() as session, session.begin():
            session.execute(
                delete(m.DeskSession).where(m.DeskSession.token_hash == _token_hash(token))
            )


def csrf_ok(who: Who, sent: str | None) -> bool:
    return bool(sent) and secrets.compare_digest(who.csrf, sent or "")
