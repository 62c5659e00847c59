"""The append-only audit log: entries chained with a keyed HMAC, and its head kept outside
the database.

Each entry's hash is HMAC-SHA-256, under a key that lives outside the database
(``keys/audit.key`` in the workspace), over the previous entry's hash and the entry's
canonical JSON (sequence, time, actor, action, payload). Changing, removing or reordering
an entry breaks every hash after it, and someone who can write the database but not read
the key cannot compute new ones. Deleting the *last* entries leaves a chain that still
links up, so after every append the head (sequence, hash) is also written to a file beside
the store (``audit.head``), and copied into every export, evidence bundle and report:
:func:`verify_chain` compares the log against it, or against a head the caller expects.

Entries written before the log was keyed (scheme ``sha256``) still verify with plain
SHA-256; once one keyed entry follows them, none may be rewritten without the key.
Payloads carry counts, ids and hashes, never personal values.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from breachdesk.errors import InputError
from breachdesk.private import write_private
from breachdesk.store.models import AuditEvent

if TYPE_CHECKING:
    from breachdesk.store.db import Store

GENESIS = "0" * 64
KEYED = "hmac-sha256"
LEGACY = "sha256"


@dataclass(frozen=True)
class AuditKey:
    """The key the chain is signed with; it never enters the database."""

    secret: bytes

    @classmethod
    def load(cls, path: Path) -> AuditKey:
        """The key at ``path``, created (0600, folder 0700) on first use."""
        if path.exists():
            secret = path.read_bytes()
            if len(secret) < 32:
                raise InputError(f"{path}: audit key shorter than 32 bytes")
            return cls(secret)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        secret = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return cls.load(path)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secret)
        return cls(secret)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Head:
    """The last entry's sequence and hash: what a truncation or a rewrite cannot keep."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        seq, sep, digest = text.strip().partition(":")
        if not sep or not seq.isdigit() or len(digest) != 64:
            raise InputError(f"expected head {text!r}: write it as SEQUENCE:HASH (64 hex digits)")
        return cls(int(seq), digest.lower())


@dataclass(frozen=True)
class ChainCheck:
    intact: bool
    entries: int
    broken: str  # what broke, "" when intact
    head: Head | None  # the log's last entry
    notes: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[Any]:  # (intact, entries, broken), as before
        return iter((self.intact, self.entries, self.broken))


def _digest(scheme: str, key: bytes, prev: str, seq: int, at: str, actor: str,
            action: str, payload: str) -> str:  # fmt: skip
    body = prev.encode() + orjson.dumps([seq, at, actor, action, payload])
    if scheme == LEGACY:
        return hashlib.sha256(body).hexdigest()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def append(
    session: Session, store: Store, action: str, payload: dict[str, Any], actor: str
) -> AuditEntry:
    """Append one entry inside the caller's write transaction (which holds the writer lock:
    see :meth:`Store.write`), so that it commits with the change it records."""
    text = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq = last[0] + 1 if last else 1
    prev = last[1] if last else GENESIS
    digest = _digest(KEYED, store.audit_key.secret, prev, seq, at, actor, action, text)
    session.add(
        AuditEvent(
            seq=seq, incident_id=store.incident, at=at, actor=actor, action=action,
            payload=text, prev_hash=prev, hash=digest, scheme=KEYED,
        )
    )  # fmt: skip
    session.flush()
    return AuditEntry(seq, at, actor, action, payload, prev, digest)


def append_event(
    store: Store, action: str, payload: dict[str, Any], actor: str = "breachdesk"
) -> AuditEntry:
    """Append one entry in a transaction of its own (for actions that change nothing else
    in the store: an assess run, a published check, a refused sign-in)."""
    with store.write() as tx:
        return tx.audit(action, payload, actor)


def record_head(path: Path, entry: AuditEntry) -> None:
    """Write the head file; it only moves forward (two writers may finish out of order)."""
    lock = path.with_name(f".{path.name}.lock")
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        current = read_head(path)
        if current is None or current.seq < entry.seq:
            body = {"seq": entry.seq, "hash": entry.hash, "at": entry.at}
            write_private(path, orjson.dumps(body, option=orjson.OPT_SORT_KEYS) + b"\n")
    finally:
        os.close(fd)


def read_head(path: Path) -> Head | None:
    try:
        data = orjson.loads(path.read_bytes())
        return Head(int(data["seq"]), str(data["hash"]))
    except FileNotFoundError:
        return None
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise InputError(f"{path}: not a breachdesk audit head file") from None


def entry_json(entry: AuditEntry) -> bytes:
    """One entry as a line of the exported log (JSON Lines)."""
    return (
        orjson.dumps(
            {
                "seq": entry.seq,
                "at": entry.at,
                "actor": entry.actor,
                "action": entry.action,
                "payload": entry.payload,
                "prev_hash": entry.prev_hash,
                "hash": entry.hash,
            }
        )
        + b"\n"
    )


def head_json(head: Head | None) -> bytes:
    """The last line of an exported log: the head it was verified against."""
    value = {"head": {"seq": head.seq, "hash": head.hash} if head else None}
    return orjson.dumps(value) + b"\n"


def read_events(store: Store, last: int | None = None) -> Iterator[AuditEntry]:
    """Every entry in order, or only the ``last`` ones."""
    query = select(AuditEvent).order_by(AuditEvent.seq)
    if last is not None:
        with store.read() as session:
            end = session.scalar(select(func.max(AuditEvent.seq))) or 0
        query = query.where(AuditEvent.seq > end - last)
    with store.read() as session:
        for row in session.scalars(query):
            yield AuditEntry(
                row.seq, row.at, row.actor, row.action, orjson.loads(row.payload),
                row.prev_hash, row.hash,
            )  # fmt: skip


def last_head(store: Store) -> Head | None:
    with store.read() as session:
        row = session.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        ).first()
    return Head(int(row[0]), str(row[1])) if row else None


def verify_chain(store: Store, expected: Head | None = None) -> ChainCheck:
    """Check every link and hash, then the log's end against the head file (and against
    ``expected``, a head taken from an earlier export or report, when given)."""
    prev = GENESIS
    count = 0
    keyed_seen = False
    hashes: dict[int, str] = {}
    want = {h.seq for h in (expected, _file_head(store)) if h is not None}
    with store.read() as session:
        for row in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
            count += 1
            where = f"entry {row.seq}"
            if row.seq != count:
                return _broken(count, f"{where}: expected sequence {count}")
            if row.prev_hash != prev:
                return _broken(count, f"{where}: does not follow entry {row.seq - 1}")
            if row.scheme == LEGACY and keyed_seen:
                return _broken(count, f"{where}: unkeyed entry after keyed ones")
            keyed_seen = keyed_seen or row.scheme == KEYED
            digest = _digest(
                row.scheme, store.audit_key.secret, prev, row.seq, row.at, row.actor,
                row.action, row.payload,
            )  # fmt: skip
            if not hmac.compare_digest(digest, row.hash):
                return _broken(count, f"{where}: content does not match its hash")
            if row.seq in want:
                hashes[row.seq] = row.hash
            prev = row.hash
    head = Head(count, prev) if count else None
    notes: list[str] = []
    recorded = _file_head(store)
    for name, anchor in (("the head file", recorded), ("the expected head", expected)):
        if anchor is None:
            continue
        if anchor.seq > count:
            return _broken(
                count,
                f"the log ends at entry {count} but {name} records entry {anchor.seq}: "
                "entries were removed",
            )
        if hashes.get(anchor.seq) != anchor.hash:
            return _broken(count, f"entry {anchor.seq}: differs from {name} (log rewritten)")
        if name == "the head file" and anchor.seq < count:
            notes.append(
                f"{count - anchor.seq} entries after the head file's entry {anchor.seq} "
                "(a write that stopped before recording its head)"
            )
    if recorded is None and keyed_seen and store.head_path is not None:
        return _broken(count, f"{store.head_path.name} is missing: the log's end is unproven")
    return ChainCheck(True, count, "", head, tuple(notes))


def _file_head(store: Store) -> Head | None:
    return read_head(store.head_path) if store.head_path is not None else None


def _broken(count: int, why: str) -> ChainCheck:
    return ChainCheck(False, count, why, None)
