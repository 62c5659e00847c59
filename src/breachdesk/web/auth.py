"""Signing in to the dashboard: the throttling policy, sessions and CSRF tokens.

Throttling. Every attempt is counted — atomically, before its password is checked — against
its account (every unknown name shares one key) and its client address (an IPv6 client by
its /64). Past a few free failures a key waits a delay that doubles with each failure and is
capped: short for an account (so that an attacker elsewhere holds its owner back by a minute
at most), long for a client address (so that the attacker's own tries slow to a trickle). An
attempt while either key waits is refused without looking at the account's hash: it does
the same work as any other (one argon2 check, against a hash that matches nothing) and gets
the same answer as an unknown name or a wrong password, so that nothing tells the three
apart — not even a correct password. A success resets its account and takes back its own
count on the client. Nobody can lock an account: the delays are the whole penalty.

Sessions. The cookie carries a random token; the store keeps only its SHA-256. A checked
session is trusted for two seconds without asking the store again.

CSRF. Every session has its token, sent back by every form. Before a session exists the
sign-in form is protected by a signed double-submit token: a random nonce in a cookie, and
in the form an HMAC of it (with the time it was issued) under a key derived from the
workspace's key — the same in every worker process.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import threading
import time
import weakref
from dataclasses import dataclass

import anyio
import anyio.to_thread

from breachdesk.services import accounts
from breachdesk.services.accounts import ROLES, may
from breachdesk.store import Store
from breachdesk.store import accounts as rows
from breachdesk.store.accounts import Counter

__all__ = ["ROLES", "LoginForms", "SignIn", "Throttle", "Who", "may"]

SESSION_SECONDS = 8 * 3600
IDLE_SECONDS = 30 * 60
REFUSED = (
    "Sign-in refused: wrong username or password, or too many attempts. "
    "Wait a minute before trying again."
)


@dataclass(frozen=True)
class Throttle:
    """How long a key waits after its failures (seconds)."""

    free: int = 5  # failures before the first delay, per key
    base: float = 1.0  # the first delay; each further failure doubles it
    account_cap: float = 60.0  # the longest an account's owner can be held back
    client_cap: float = 900.0  # the longest one client address waits
    forget: float = 3600.0  # failures this old count for nothing

    def failures(self, counter: Counter, now: float) -> int:
        return 0 if now - counter.last_at > self.forget else counter.failures

    def wait(self, counter: Counter, now: float) -> float:
        """Seconds ``counter``'s key must still wait before its next attempt is checked."""
        n = self.failures(counter, now)
        if n < self.free:
            return 0.0
        cap = self.account_cap if counter.key.startswith("account:") else self.client_cap
        delay = min(cap, self.base * 2.0 ** min(n - self.free, 40))
        return max(0.0, counter.last_at + delay - now)


def client_key(address: str) -> str:
    """The throttle key of a client address: its SHA-256 (no address is stored), an IPv6
    address by its /64, which one subscriber usually holds whole."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        net = address[:100]
    else:
        net = str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)
    return "client:" + hashlib.sha256(net.encode()).hexdigest()[:40]


def _account_key(account: str | None) -> str:
    return f"account:{account or '?'}"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: ``token`` is the new session's, when ``ok``. Why one was
    refused is deliberately not said."""

    ok: bool
    token: str = ""


def sign_in(store: Store, username: str, password: str, client: str, throttle: Throttle) -> SignIn:
    now = time.time()
    user = rows.find_user(store, username)
    account = user.username if user else None
    keys = [_account_key(account), client_key(client)]

    def admit(counters: dict[str, Counter]) -> tuple[bool, list[Counter]]:
        if any(throttle.wait(c, now) > 0 for c in counters.values()):
            return False, []  # a refused attempt changes nothing: it cannot prolong a delay
        # counted as a failure now, before the check, so that parallel tries see it
        return True, [Counter(c.key, throttle.failures(c, now) + 1, now)
                      for c in counters.values()]  # fmt: skip

    admitted = rows.change_counters(store, keys, admit)
    checked = user.password_hash if user is not None and admitted else None
    if not accounts.verify_password(checked, password) or user is None:
        accounts.refused(store, account, now, throttled=not admitted)
        return SignIn(False)

    def settle(counters: dict[str, Counter]) -> tuple[None, list[Counter]]:
        account_counter, client_counter = counters[keys[0]], counters[keys[1]]
        return None, [
            Counter(account_counter.key, 0, account_counter.last_at),
            Counter(client_counter.key, max(0, client_counter.failures - 1),
                    client_counter.last_at),
        ]  # fmt: skip

    rows.change_counters(store, keys, settle)
    fresh = accounts.rehashed(user.password_hash, password)
    if fresh is not None:
        rows.update_password_hash(store, user.username, fresh)
    token = secrets.token_urlsafe(32)
    rows.insert_session(store, _token_hash(token), user.username, secrets.token_urlsafe(32),
                        now, now + SESSION_SECONDS)  # fmt: skip
    accounts.signed_in(store, user.username)
    return SignIn(True, token)


_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


async def sign_in_queued(
    store: Store, username: str, password: str, client: str, throttle: Throttle
) -> SignIn:
    """:func:`sign_in` on a few threads of its own (one per core): a burst of sign-ins waits
    here, as cheap coroutines, instead of taking the threads every dashboard page is served
    from — a flood of bogus sign-ins slows sign-ins, not the pages of those signed in."""
    loop = asyncio.get_running_loop()
    queue = _queues.get(loop)
    if queue is None:
        queue = _queues[loop] = anyio.CapacityLimiter(max(1, os.cpu_count() or 1))
    call = functools.partial(sign_in, store, username, password, client, throttle)
    return await anyio.to_thread.run_sync(call, limiter=queue)


def housekeeping(store: Store, throttle: Throttle, now: float | None = None) -> int:
    """Write the refused sign-ins of the minutes finished by ``now`` to the audit log and
    forget counters nobody used for a long time; returns the audit entries written."""
    now = time.time() if now is None else now
    rows.forget_counters(store, now - throttle.forget)
    return accounts.flush_refusals(store, now)


# -- sessions ---------------------------------------------------------------------------------


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
    found = rows.find_session(store, key, time.time(), IDLE_SECONDS)
    who = Who(found.username, found.role, found.csrf) if found else None
    with _recent_lock:
        if who is None:
            _recent.pop(key, None)
        else:
            if len(_recent) > 10_000:
                _recent.clear()
            _recent[key] = (who, time.monotonic() + _RECENT_SECONDS)
    return who


def logout(store: Store, token: str | None) -> None:
    forget_sessions()
    if token:
        rows.delete_session(store, _token_hash(token))


def csrf_ok(who: Who, sent: str | None) -> bool:
    return bool(sent) and secrets.compare_digest(who.csrf, sent or "")


# -- the sign-in form's CSRF token, before any session ----------------------------------------

_NONCE = re.compile(r"^[A-Za-z0-9_-]{43}$")


class LoginForms:
    """Signed double-submit tokens for the sign-in form: the nonce lives in a cookie, the
    form carries ``issued.HMAC(key, nonce.issued)``; a POST must bring both, matching, and
    issued at most ``max_age`` seconds ago."""

    def __init__(self, workspace_key: bytes, max_age: float = 2 * 3600) -> None:
        self.key = hmac.new(workspace_key, b"breachdesk sign-in form", hashlib.sha256).digest()
        self.max_age = max_age

    def nonce(self, cookie: str | None) -> str:
        """The browser's nonce if it sent a well-formed one, else a new one."""
        return cookie if cookie and _NONCE.match(cookie) else secrets.token_urlsafe(32)

    def _mac(self, nonce: str, issued: int) -> str:
        return hmac.new(self.key, f"{nonce}.{issued}".encode(), hashlib.sha256).hexdigest()

    def token(self, nonce: str) -> str:
        issued = int(time.time())
        return f"{issued}.{self._mac(nonce, issued)}"

    def check(self, cookie: str | None, sent: str | None) -> bool:
        if not cookie or not sent or not _NONCE.match(cookie):
            return False
        issued_text, _, mac = sent.partition(".")
        if not issued_text.isdigit() or len(issued_text) > 12:
            return False
        issued = int(issued_text)
        if not 0 <= time.time() - issued <= self.max_age:
            return False
        return secrets.compare_digest(mac, self._mac(cookie, issued))
