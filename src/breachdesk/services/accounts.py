"""The dashboard's accounts outside the web layer: roles, the rules for names and passwords,
argon2id hashing, managing users — and every audit entry an account action writes, kept in
this one module so that they move together into the action's transaction.

Refused sign-ins are not written one by one: they are counted per account (every unknown
name shares one bucket) and minute in the store, and :func:`flush_refusals` writes one
entry per bucket and finished minute, with the count — a flood of wrong passwords stays a
handful of entries and never pushes real events off the audit page.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from breachdesk.errors import InputError
from breachdesk.store import Store, append_event
from breachdesk.store import accounts as rows

ROLES = ("viewer", "responder", "admin")  # each may do what the ones before it may
MIN_PASSWORD = 12
UNKNOWN_ACCOUNT = "(unknown name)"  # the audit bucket of every name that is no user
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
_hasher = PasswordHasher()
# checked in place of a password hash when there is none to check (an unknown name, a
# throttled attempt), so that every answer costs one argon2 verification
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))
# each check holds 64 MiB for ~0.1 s: a burst of sign-ins waits its turn instead of taking
# the machine's memory
_SLOTS = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))


@dataclass(frozen=True, slots=True)
class DeskUser:
    username: str
    role: str


def may(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


def check_username(username: str) -> str:
    if not _USERNAME.match(username):
        raise InputError("a username is 2–64 characters: lower-case letters, digits, . _ -")
    return username


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"role {role!r}: one of {', '.join(ROLES)}")
    return role


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; with no hash (None) the same work is done
    against a hash that matches nothing, and the answer is False."""
    with _SLOTS:
        try:
            return _hasher.verify(stored or _DUMMY, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False


def rehashed(stored: str, password: str) -> str | None:
    """A new hash when ``stored`` was made with older parameters, else None."""
    return _hasher.hash(password) if _hasher.check_needs_rehash(stored) else None


def add_user(store: Store, username: str, password: str, role: str) -> None:
    check_username(username)
    check_role(role)
    if len(password) < MIN_PASSWORD:
        raise InputError(f"a password has at least {MIN_PASSWORD} characters")
    entry = ("desk.user_added", {"user": username, "role": role})
    hashed = _hasher.hash(password)
    if not rows.insert_user(store, username, hashed, role, datetime.now(UTC), entry):
        raise InputError(f"user {username} exists; use users role or users remove")


def remove_user(store: Store, username: str) -> None:
    if not rows.delete_user(store, username, ("desk.user_removed", {"user": username})):
        raise InputError(f"no user {username}")


def set_role(store: Store, username: str, role: str) -> None:
    check_role(role)
    entry = ("desk.user_role", {"user": username, "role": role})
    if not rows.update_role(store, username, role, entry):
        raise InputError(f"no user {username}")


def list_users(store: Store) -> list[DeskUser]:
    return [DeskUser(u.username, u.role) for u in rows.all_users(store)]


# -- the audit entries of signing in ----------------------------------------------------------


def signed_in(store: Store, username: str) -> None:
    """A successful sign-in: one entry."""
    append_event(store, "desk.login", {"user": username}, actor=username)


def refused(store: Store, account: str | None, at: float, throttled: bool) -> None:
    """Count one refused sign-in of ``account`` (None: a name that is no user)."""
    rows.count_refusal(store, account or UNKNOWN_ACCOUNT, int(at // 60), throttled)


def flush_refusals(store: Store, now: float) -> int:
    """Write one audit entry per account and finished minute with refused sign-ins; returns
    the number of entries written. Safe to call from several processes at once: each count
    is taken by one of them only."""

    def entry(bucket: rows.Refusals) -> rows.Entry:
        minute = datetime.fromtimestamp(bucket.minute * 60, UTC).isoformat(timespec="minutes")
        return (
            "desk.login_refused",
            {"account": bucket.bucket, "minute": minute, "refused": bucket.refused,
             "throttled": bucket.throttled},
        )  # fmt: skip

    return len(rows.take_refusals(store, int(now // 60), entry))
